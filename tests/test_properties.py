"""Hypothesis: any valid spec simulates sane data; any invalid one gives a ScenarioError, never a crash."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from prometheus_sim.market import Market
from prometheus_sim.scenario import ScenarioError, ScenarioSpec
from tests.conftest import minimal_dict

KINDS = ["crypto", "stable", "equity", "bond"]


@st.composite
def processes(draw):
    kind = draw(st.sampled_from(["gbm", "merton", "garch", "garch_jump", "peg"]))
    proc: dict = {"type": kind}
    if kind in ("garch", "garch_jump"):
        alpha = draw(st.floats(0.0, 0.3))
        proc["garch"] = {"alpha": alpha, "beta": draw(st.floats(0.0, 0.98 - alpha))}
    if kind in ("merton", "garch_jump"):
        proc["jumps"] = {
            "intensity": draw(st.floats(0.0, 50.0)),
            "mean": draw(st.floats(-0.3, 0.3)),
            "std": draw(st.floats(0.0, 0.3)),
        }
    if kind == "peg":
        proc["peg"] = {"kappa": draw(st.floats(0.5, 50_000.0))}
    return proc


@st.composite
def valid_specs(draw):
    n = draw(st.integers(1, 4))
    names = [f"A{i}" for i in range(n)]
    assets = []
    for name in names:
        assets.append(
            {
                "name": name,
                "kind": draw(st.sampled_from(KINDS)),
                "start_price": draw(st.floats(1e-4, 1e6)),
                "drift": draw(st.floats(-1.0, 1.0)),
                "vol": draw(st.floats(0.001, 1.5)),
                "process": draw(processes()),
                "volume": {"daily_usd": draw(st.floats(1.0, 1e10)), "abs_return_sensitivity": draw(st.floats(0, 5))},
            }
        )
    # a random positive-definite correlation from random factor loadings
    loadings = np.array(draw(st.lists(st.floats(-0.9, 0.9), min_size=n, max_size=n)))
    corr = {}
    for i in range(n):
        for j in range(i + 1, n):
            rho = float(loadings[i] * loadings[j])
            if abs(rho) > 1e-6:
                corr[f"{names[i]}/{names[j]}"] = rho
    horizon = draw(st.integers(2, 40))
    data = {
        "name": "prop",
        "seed": draw(st.integers(0, 2**64 - 1)),
        "horizon_days": horizon,
        "steps_per_day": draw(st.sampled_from([1, 2, 4, 24])),
        "substeps": draw(st.integers(2, 6)),
        "assets": assets,
        "correlation": corr,
        "onchain": {"driver": draw(st.sampled_from(names)), "whale_tx_per_day": draw(st.floats(0.01, 5000.0))},
    }
    if draw(st.booleans()):
        p = draw(st.floats(0.0, 1.0))
        q = draw(st.floats(0.0, 1.0))
        data["regimes"] = {
            "states": [
                {"name": "a"},
                {"name": "b", "drift_mult": draw(st.floats(-3, 3)), "vol_mult": draw(st.floats(0.2, 3))},
            ],
            "transition": [[1 - p, p], [q, 1 - q]],
            "initial": "a",
        }
    shocks = []
    if draw(st.booleans()):
        shocks.append({"type": "crash", "day": draw(st.integers(0, horizon - 1)), "size": draw(st.floats(-1.0, 0.5)),
                       "assets": [draw(st.sampled_from(names))], "vol_mult": draw(st.floats(0.5, 4))})  # fmt: skip
    if draw(st.booleans()):
        shocks.append(
            {"type": "rate_hike", "day": draw(st.integers(0, horizon - 1)), "bps": draw(st.floats(-200, 200))}
        )
    if draw(st.booleans()):
        shocks.append({"type": "whale_dump", "day": draw(st.integers(0, horizon - 2)), "asset": names[0]})
    data["shocks"] = shocks
    if draw(st.booleans()):
        data["signals"] = [
            {
                "name": "s",
                "source": draw(st.sampled_from(["exchange_inflow", "whale_transactions", "fed_rate", "dxy_index"])),
                "transform": draw(st.sampled_from(["zscore", "change"])),
                "threshold": draw(st.sampled_from([-2.0, 1.5, 0.001])),
                # above 1 day: a z-score needs an EWMA span of more than one observation (one a day)
                "window_days": draw(st.floats(1, 30, exclude_min=True)),
                "lag_days": draw(st.integers(1, 5)),
                "duration_days": draw(st.integers(1, 10)),
                "effect": draw(st.sampled_from(["drift", "vol"])),
                "strength": draw(st.floats(-0.5, 1.0)),
                "assets": [names[-1]],
            }
        ]
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs())
def test_valid_specs_simulate_sane_data(data):
    spec = ScenarioSpec.from_dict(data)
    m = Market.simulate(spec, n_paths=2)
    for arr in (m.open, m.high, m.low, m.close):
        assert np.all(np.isfinite(arr)) and np.all(arr > 0)
    assert np.all(m.low <= m.open) and np.all(m.low <= m.close)
    assert np.all(m.high >= m.open) and np.all(m.high >= m.close)
    assert np.all(np.isfinite(m.volume)) and np.all(m.volume >= 0)
    counts = m.onchain[:, :, :2]
    assert np.all(counts >= 0) and np.all(counts == np.floor(counts))
    assert np.all(np.isfinite(m.onchain)) and np.all(m.onchain[:, :, 2:] >= 0)
    assert np.all(np.isfinite(m.macro)) and np.all(m.macro[:, :, 1] >= 0) and np.all(m.macro[:, :, 2] > 0)
    assert np.all(m.truth.jumps >= 0)


@st.composite
def extreme_specs(draw):
    """Stacked crashes and dumps up to the schema's -3, GARCH persistence near 1, slow de-peg recoveries, wild
    regimes, horizons of years: what a validator that bounds each field alone lets through (a review of 2026-12-05
    found crashes held at the band through GARCH's memory of them, and a slow re-peg freeing a stablecoin)."""
    horizon = draw(st.integers(30, 3650))
    alpha = draw(st.floats(0.01, 0.3))
    beta = draw(st.one_of(st.just(0.9999 - alpha), st.floats(0.0, 0.9999 - alpha)))  # the edge is drawn often
    assets = [
        {"name": "G", "kind": "crypto", "start_price": 100.0, "drift": draw(st.floats(-1.0, 1.0)),
         "vol": draw(st.floats(0.01, 1.5)), "process": {"type": "garch", "garch": {"alpha": alpha, "beta": beta}}},
        {"name": "S", "kind": "stable", "start_price": 1.0, "drift": 0.0, "vol": draw(st.floats(0.001, 5.0)),
         "regime_exposure": draw(st.floats(0.0, 1.0)),
         "process": {"type": "peg", "peg": {"kappa": draw(st.floats(0.5, 1e5))}}},
    ]  # fmt: skip
    shocks = []
    size = st.one_of(st.just(-3.0), st.floats(-3.0, 0.5))
    for _ in range(draw(st.integers(0, 12))):
        shocks.append({"type": "crash", "day": draw(st.integers(0, horizon - 1)), "size": draw(size),
                       "assets": [draw(st.sampled_from(["G", "S"]))],
                       "vol_mult": draw(st.one_of(st.just(1.0), st.floats(0.5, 10.0))),
                       "duration_days": draw(st.integers(1, 400))})  # fmt: skip
    for _ in range(draw(st.integers(0, 4))):
        shocks.append({"type": "whale_dump", "day": draw(st.integers(0, horizon - 2)), "asset": "G",
                       "size": draw(st.one_of(st.just(-3.0), st.floats(-3.0, 0.0)))})  # fmt: skip
    if draw(st.booleans()):
        shocks.append({"type": "depeg", "day": draw(st.integers(0, horizon - 1)), "asset": "S",
                       "depth": draw(st.floats(0.01, 0.9)), "recovery_half_life_days": draw(st.one_of(st.just(3650.0), st.floats(0.5, 4000.0))),
                       "recovery_days": draw(st.integers(1, 4000))})  # fmt: skip
    data = {"name": "extreme", "seed": draw(st.integers(0, 2**32)), "horizon_days": horizon,
            "steps_per_day": draw(st.sampled_from([1, 4])), "assets": assets, "shocks": shocks,
            "onchain": {"driver": "G"}}  # fmt: skip
    if draw(st.booleans()):
        data["regimes"] = {"states": [{"name": "wild", "vol_mult": draw(st.floats(0.2, 10.0)),
                                       "drift_mult": draw(st.floats(-3.0, 3.0))}],
                           "transition": [[1.0]], "initial": "wild"}  # fmt: skip
    return data


# the review's two cases (2026-12-05), which validated and then sat at the band: random draws rarely stack enough
_CRASHES_ON_A_PERSISTENT_GARCH = {
    "name": "garch_crash", "seed": 1, "horizon_days": 3650,
    "assets": [{"name": "BTC", "kind": "crypto", "start_price": 100.0, "drift": 0.0, "vol": 0.3,
                "process": {"type": "garch", "garch": {"alpha": 0.05, "beta": 0.9499}}}],
    "shocks": [{"type": "crash", "day": 10 + 365 * k, "size": -3.0} for k in range(10)],
}  # fmt: skip
_A_SLOW_REPEG = {
    "name": "slow_repeg", "seed": 2, "horizon_days": 3650,
    "assets": [{"name": "BTC", "kind": "crypto", "start_price": 100.0, "drift": 0.0, "vol": 0.3},
               {"name": "USDX", "kind": "stable", "start_price": 1.0, "drift": 0.0, "vol": 5.0, "regime_exposure": 1.0,
                "process": {"type": "peg", "peg": {"kappa": 100000.0}}}],
    "regimes": {"states": [{"name": "wild", "vol_mult": 10.0}], "transition": [[1.0]], "initial": "wild"},
    "shocks": [{"type": "depeg", "day": 0, "asset": "USDX", "depth": 0.5, "recovery_half_life_days": 3650,
                "recovery_days": 3650}],
}  # fmt: skip

# a GARCH asset at 1,440 steps a day, its variance raised by a crash and multiplied by a second one: a step's std
# cap of 0.5 (not 0.5 a day) ran it at a daily std near 19, and its drag held it at the band within days
_A_RAISED_GARCH_AT_MINUTE_STEPS = {
    "name": "minute_garch", "seed": 1, "horizon_days": 30, "steps_per_day": 1440,
    "assets": [{"name": "BTC", "kind": "crypto", "start_price": 100.0, "drift": 0.0, "vol": 0.5,
                "process": {"type": "garch", "garch": {"alpha": 0.25, "beta": 0.73}}}],
    "shocks": [{"type": "crash", "day": 0, "size": -2.0},
               {"type": "crash", "day": 1, "size": 0.0, "vol_mult": 7.0, "duration_days": 29}],
}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_specs())
@example(_CRASHES_ON_A_PERSISTENT_GARCH)
@example(_A_SLOW_REPEG)
@example(_A_RAISED_GARCH_AT_MINUTE_STEPS)
def test_a_valid_spec_never_holds_prices_at_the_band(data):
    """Finite and positive is not enough: the kernel clamps log prices to start +/- LOG_PRICE_BAND, so a spec that
    validates must keep them off that band (at the band, prices are finite and meaningless)."""
    from prometheus_sim.generators.price import LOG_PRICE_BAND

    try:
        spec = ScenarioSpec.from_dict(data)
    except ScenarioError as exc:
        assert exc.errors and all(isinstance(p, str) and m for p, m in exc.errors)
        return
    m = Market.simulate(spec, n_paths=8)
    start = np.array([a.start_price for a in spec.assets])
    for arr in (m.low, m.high, m.close):
        assert np.all(np.abs(np.log(arr / start)) < LOG_PRICE_BAND - 1.0), data


_BAD_VALUES = st.one_of(
    st.just(-1.0), st.just(0.0), st.just(float("nan")), st.just(float("inf")), st.just(1e300),
    st.just("x"), st.just(None), st.just([]), st.just({}), st.just(True), st.integers(-10**20, 10**20),
)  # fmt: skip
_FIELDS = [
    ("assets", 0, "vol"), ("assets", 0, "drift"), ("assets", 1, "start_price"), ("assets", 1, "kind"),
    ("assets", 2, "process"), ("horizon_days",), ("steps_per_day",), ("substeps",),
    ("seed",), ("start_date",), ("correlation",), ("regimes",), ("shocks",), ("signals",), ("onchain",),
    ("macro",), ("assets",), ("name",),
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(_FIELDS), value=_BAD_VALUES)
def test_invalid_values_give_a_scenario_error_naming_the_field(field, value):
    data = minimal_dict()
    target = data
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    try:
        spec = ScenarioSpec.from_dict(data)
    except ScenarioError as exc:
        assert exc.errors
        # the whole path (assets[0].vol), not its first key: any error under assets passed (review of the tests,
        # session 25)
        named = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in field).lstrip(".")
        assert any(path == named or path.startswith((named + ".", named + "[")) for path, _ in exc.errors), (
            named,
            exc.errors,
        )
        return
    # a few values are legitimately valid (e.g. seed 0, a huge positive horizon is not): then it must simulate
    Market.simulate(spec.with_overrides(horizon_days=min(spec.horizon_days, 30)), n_paths=1)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(minimal_dict()) + ["regimes", "shocks", "signals", "junk"]), _JSONISH))
def test_arbitrary_documents_never_crash_validation(doc):
    try:
        ScenarioSpec.from_dict(doc)
    except ScenarioError as exc:
        assert all(isinstance(p, str) and isinstance(m, str) for p, m in exc.errors)
