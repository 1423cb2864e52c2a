"""Each process against its textbook moments or a slow reference; shocks land where dated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prometheus_sim.generators.engine import prices_from_logs_nb
from prometheus_sim.generators.price import correlate_substeps_nb, garch_update_nb
from prometheus_sim.market import Market
from prometheus_sim.scenario import ScenarioSpec
from tests.conftest import minimal_dict

DT = 1 / 365


def _one_asset(process: dict, drift=0.3, vol=0.6, days=365, **extra) -> ScenarioSpec:
    data = {
        "name": "one", "seed": 1, "horizon_days": days,
        "assets": [{"name": "BTC", "kind": "crypto", "start_price": 100.0, "drift": drift, "vol": vol,
                    "process": process}],
    }  # fmt: skip
    data.update(extra)
    return ScenarioSpec.from_dict(data)


def test_correlation_kernel_matches_numpy():
    rng = np.random.default_rng(1)
    a, s = 4, 3
    m = rng.normal(size=(a, a))
    chol = np.linalg.cholesky(m @ m.T + a * np.eye(a))
    z = rng.normal(size=a * s + 5)
    out = np.empty(a * s)
    correlate_substeps_nb(z, 5, chol, out, a, s)
    np.testing.assert_allclose(out.reshape(s, a), (chol @ z[5:].reshape(s, a).T).T, rtol=1e-13)


def test_bars_from_logs_keep_the_ordering_even_when_extremes_are_the_endpoints():
    """Log open, high, low, close (and volume noise) to prices: low <= open, close <= high always."""
    lo_, hi_ = math.log(100.0), math.log(101.0)
    logs = np.array([[lo_, hi_, lo_, hi_], [hi_, math.log(102.0), math.log(99.0), lo_]])  # open, high, low, close
    open_, high, low, close = (logs[:, c].copy() for c in range(4))
    volume = np.array([0.0, 0.1])
    prices_from_logs_nb(open_, high, low, close, volume, np.array([1000.0, 1000.0]), 0, 2)
    assert low[0] == open_[0] == pytest.approx(100.0) and high[0] == close[0] == pytest.approx(101.0)
    assert (
        low[1] == pytest.approx(99.0) and high[1] == pytest.approx(102.0) and low[1] <= close[1] <= open_[1] <= high[1]
    )
    np.testing.assert_allclose(volume, [1000.0 / 101.0, 1000.0 / 100.0 * math.exp(0.1)], rtol=1e-15)


def test_gbm_log_returns_have_the_textbook_mean_and_std():
    spec = _one_asset({"type": "gbm"})
    m = Market.simulate(spec, n_paths=400)
    r = np.diff(np.log(m.close[:, :, 0]), axis=1)
    n = r.size
    assert r.mean() == pytest.approx((0.3 - 0.5 * 0.36) * DT, abs=5 * 0.6 * math.sqrt(DT) / math.sqrt(n))
    assert r.std() == pytest.approx(0.6 * math.sqrt(DT), rel=0.01)
    np.testing.assert_allclose(m.truth.drift, (0.3 - 0.18) * DT, rtol=1e-12)
    np.testing.assert_allclose(m.truth.vol, 0.6 * math.sqrt(DT), rtol=1e-12)


def test_merton_jumps_arrive_at_their_rate_and_leave_the_mean_return_alone():
    spec = _one_asset({"type": "merton", "jumps": {"intensity": 20, "mean": -0.05, "std": 0.08}}, drift=0.2)
    m = Market.simulate(spec, n_paths=600)
    jumps = m.truth.jumps[:, :, 0]
    assert jumps.mean() == pytest.approx(20 * DT, rel=0.05)
    simple = m.close[:, 1:, 0] / m.close[:, :-1, 0] - 1.0
    assert simple.mean() == pytest.approx(0.2 * DT, abs=4 * simple.std() / math.sqrt(simple.size))
    r = np.diff(np.log(m.close[:, :, 0]), axis=1)
    with_jump = jumps[:, 1:] > 0
    assert r[with_jump].std() > 2 * r[~with_jump].std()


def test_garch_variance_follows_its_recursion_exactly():
    alpha, beta, vol = 0.1, 0.85, 0.6
    spec = _one_asset({"type": "garch", "garch": {"alpha": alpha, "beta": beta}}, vol=vol, days=200)
    m = Market.simulate(spec, n_paths=5)
    sd = m.truth.vol[:, :, 0]
    drift = m.truth.drift[:, :, 0]
    log_close = np.log(m.close[:, :, 0])
    omega = vol**2 * DT * (1 - alpha - beta)
    for p in range(5):
        prev = math.log(100.0)
        for t in range(199):
            eps = log_close[p, t] - prev - drift[p, t]  # the step's whole surprise feeds the variance (no regime here)
            h_next = garch_update_nb(sd[p, t] ** 2, eps, omega, alpha, beta, 0.25)
            assert sd[p, t + 1] ** 2 == pytest.approx(h_next, rel=1e-6)
            prev = log_close[p, t]


def test_garch_long_run_vol_matches_the_spec():
    spec = _one_asset({"type": "garch", "garch": {"alpha": 0.08, "beta": 0.9}}, vol=0.7, days=2000)
    m = Market.simulate(spec, n_paths=100)
    r = np.diff(np.log(m.close[:, :, 0]), axis=1)
    assert r.std() * math.sqrt(365) == pytest.approx(0.7, rel=0.05)


def test_regimes_occupy_their_stationary_shares_and_scale_vol():
    regimes = {
        "states": [{"name": "bull", "drift_mult": 1.0, "vol_mult": 1.0}, {"name": "bear", "drift_mult": -1.0, "vol_mult": 2.0}],
        "transition": [[0.98, 0.02], [0.06, 0.94]],
        "initial": "bull",
    }  # fmt: skip
    spec = _one_asset({"type": "gbm"}, days=1000, regimes=regimes)
    m = Market.simulate(spec, n_paths=200)
    reg = m.truth.regime
    assert (reg[:, 200:] == 1).mean() == pytest.approx(0.02 / 0.08, abs=0.02)
    moved = (reg[:, :-1] == 0) & (reg[:, 1:] == 1)
    assert moved.sum() / (reg[:, :-1] == 0).sum() == pytest.approx(0.02, rel=0.05)
    sd = m.truth.vol[:, :, 0]
    np.testing.assert_allclose(sd[reg == 1], 2 * 0.6 * math.sqrt(DT), rtol=1e-12)


def test_peg_stays_near_one_with_the_ou_stationary_spread():
    spec = ScenarioSpec.from_dict(minimal_dict(horizon_days=400))
    m = Market.simulate(spec, n_paths=100)
    usdc = np.log(m.close[:, 100:, 2])
    assert abs(usdc.mean()) < 1e-4
    assert usdc.std() == pytest.approx(0.02 / math.sqrt(2 * 500), rel=0.05)


def test_dated_shocks_land_on_their_day():
    shocks = [
        {"type": "crash", "day": 30, "size": -0.4, "vol_mult": 2.0, "duration_days": 10},
        {"type": "depeg", "day": 60, "asset": "USDC", "depth": 0.12, "recovery_half_life_days": 3, "recovery_days": 40},
        {"type": "rate_hike", "day": 50, "bps": 75},
        {"type": "whale_dump", "day": 80, "asset": "ETH", "size": -0.1, "whale_mult": 6, "inflow_mult": 5},
    ]
    spec = ScenarioSpec.from_dict(minimal_dict(horizon_days=120, shocks=shocks))
    m = Market.simulate(spec, n_paths=300)
    r = np.diff(np.log(m.close), axis=1)  # r[:, t-1] is the return of step t
    assert np.median(r[:, 29, 0]) == pytest.approx(-0.4, abs=0.03)
    assert np.median(r[:, 29, 1]) == pytest.approx(-0.4, abs=0.04)
    assert m.truth.vol[:, 30:40, 0].mean() == pytest.approx(2 * m.truth.vol[:, 45:, 0].mean(), rel=0.02)
    usdc = m.close[:, :, 2]
    assert np.median(m.low[:, 60, 2]) == pytest.approx(0.88, abs=0.003)
    # log price decays with the 3-day half-life: 15.75 days after the drop (close of day 75)
    assert np.median(usdc[:, 75]) == pytest.approx(math.exp(math.log(0.88) * 0.5 ** (15.75 / 3)), abs=0.002)
    rate = m.macro[:, :, 1]
    np.testing.assert_allclose(rate[:, 50] - rate[:, 49], 0.0075, atol=1e-12)
    whales = m.onchain[:, :, 0]
    assert whales[:, 80:82].mean() / whales[:, 90:].mean() == pytest.approx(6, rel=0.15)
    inflow = m.onchain[:, :, 2]
    assert np.median(inflow[:, 80]) / np.median(inflow[:, 90:]) == pytest.approx(5, rel=0.15)
    assert np.median(r[:, 80, 1]) == pytest.approx(-0.1, abs=0.03)  # impact the day after the dump
    np.testing.assert_array_equal(m.truth.shock_jump[30, :2], [-0.4, -0.4])


def test_macro_series_behave():
    spec = ScenarioSpec.from_dict(minimal_dict(horizon_days=730))
    m = Market.simulate(spec, n_paths=50)
    infl, rate, dxy = m.macro[:, :, 0], m.macro[:, :, 1], m.macro[:, :, 2]
    changes = np.diff(infl, axis=1) != 0
    days_changed = np.flatnonzero(changes.any(axis=0)) + 1
    assert all(m.calendar[d].day == 1 for d in days_changed)  # inflation moves on month starts only
    steps = np.diff(rate, axis=1)
    assert np.all(rate >= 0)
    np.testing.assert_allclose(np.abs(steps[steps != 0]), 0.0025, atol=1e-12)
    assert np.all(dxy > 0) and 60 < np.median(dxy[:, -1]) < 160
    r_btc = np.diff(np.log(m.close[:, :, 0]), axis=1).ravel()
    r_dxy = np.diff(np.log(dxy), axis=1).ravel()
    assert np.corrcoef(r_btc, r_dxy)[0, 1] < -0.1


def test_the_kernel_refuses_working_memory_made_for_other_inputs():
    """The step loop runs without bounds checks, so a work area sized for another scenario must be refused up front."""
    from prometheus_sim.generators import TRUTH_FIELDS, TruthArrays, build_inputs, from_named, layout
    from prometheus_sim.generators.engine import path_work, simulate_rows_nb
    from prometheus_sim.rng import seed_key

    small = _one_asset({"type": "gbm"}, days=10)
    other = build_inputs(ScenarioSpec.from_dict(minimal_dict()).with_horizon(10))  # more assets than `small`
    inp = build_inputs(small)
    arrays = from_named({k: np.zeros(shape, dtype) for k, (shape, dtype) in layout(1, inp.n_steps, 1, 0).items()})
    truth = TruthArrays(*(getattr(arrays, name) for name in TRUTH_FIELDS))
    keys = np.array([seed_key(1)], dtype=np.uint64).reshape(1, 2)
    with pytest.raises(ValueError, match="work: not made by path_work"):
        simulate_rows_nb(0, 1, keys, np.arange(1), inp, arrays.blocks, truth, path_work(other))
    simulate_rows_nb(0, 1, keys, np.arange(1), inp, arrays.blocks, truth, path_work(inp))  # its own: fine
    assert np.all(arrays.blocks.close[0] > 0)


def test_each_simulator_kernel_compiles_once_per_run():
    """No Numba literal or layout variants: a second compiled copy of any simulator function is seconds of cold compile.

    Runs in a fresh interpreter (other tests call some of these functions directly, with other types):
    every shipped scenario is generated, then every dispatcher of the simulator's modules must hold at
    most one compiled signature. A Python int passed from one kernel to another is typed as a literal
    and compiles a copy per value (the stream ids once made five copies of the normal sampler).
    """
    import subprocess
    import sys

    from tests.conftest import ROOT

    probe = """
import sys, numba, numpy as np
from pathlib import Path
from prometheus_sim.generators import generate
from prometheus_sim.scenario import load_scenario
for path in sorted(Path("scenarios").glob("*.yaml")):
    generate(load_scenario(path).with_horizon(40), 1, np.arange(2))
mods = [m for n, m in sorted(sys.modules.items()) if n.startswith(("prometheus_sim.generators", "prometheus_sim.rng",
                                                                    "prometheus_sim.fastexp"))]
for m in mods:
    for name, f in vars(m).items():
        if isinstance(f, numba.core.registry.CPUDispatcher) and f.py_func.__module__ == m.__name__ and len(f.overloads) > 1:
            print(f"{m.__name__}.{name}: {[str(s) for s in f.overloads]}")
print("checked", len(mods))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("checked ") and int(lines[-1].split()[1]) >= 8, done.stdout
    assert lines[:-1] == [], "compiled more than once:\n" + "\n".join(lines[:-1])
