"""Each shipped scenario's `# check...:` comment lines are what the engine produces: its figures cannot drift silently."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prometheus_sim.market import Market
from prometheus_sim.scenario import load_scenario
from tests.conftest import SCENARIOS

TOLERANCE_POINTS = 1.0


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_comment_figures_hold(path):
    lines = [line for line in path.read_text().splitlines() if line.startswith("# check:")]
    assert len(lines) == 1, f"{path.name}: one '# check:' line expected"
    expected = {a: float(v) for a, v in re.findall(r"([A-Z]+) ([+-]\d+\.\d)", lines[0])}
    spec = load_scenario(path)
    m = Market.simulate(spec, n_paths=200)
    medians = np.median(m.close[:, -1, :] / m.close[:, 0, :] - 1, axis=0) * 100
    got = dict(zip(m.assets, medians, strict=True))
    assert set(expected) == set(got)
    off = {a: (expected[a], round(float(got[a]), 1)) for a in got if abs(got[a] - expected[a]) > TOLERANCE_POINTS}
    assert not off, f"{path.name}: comment vs engine (median final return, %): {off}"


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_comment_vols_hold(path):
    from prometheus_sim.facts import stylised_facts

    lines = [line for line in path.read_text().splitlines() if line.startswith("# check-vol:")]
    assert len(lines) == 1, f"{path.name}: one '# check-vol:' line expected"
    expected = {a: float(v) for a, v in re.findall(r"([A-Z]+) (\d+\.\d\d)", lines[0])}
    facts = stylised_facts(Market.simulate(load_scenario(path), n_paths=200))["median"]
    off = {a: (v, round(float(facts[(a, "annual_vol")]), 3)) for a, v in expected.items()
           if abs(facts[(a, "annual_vol")] - v) > 0.02}  # fmt: skip
    assert expected and not off, f"{path.name}: comment vs engine (median annual vol): {off}"


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_comment_real_data_counts_hold(path):
    """`# check-facts:` says how many of the real figures of each window `facts compare` puts inside the band."""
    from prometheus_sim.facts_compare import compare, window_days
    from prometheus_sim.real import SHIPPED_DATA, read_closes

    lines = [line for line in path.read_text().splitlines() if line.startswith("# check-facts")]
    assert len(lines) == 1, f"{path.name}: one '# check-facts' line expected (how the scenario relates to real data)"
    claims = re.findall(r"(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d) (\d+)/(\d+)", lines[0])
    assert claims, lines[0]
    spec = load_scenario(path)
    closes = read_closes(sorted(SHIPPED_DATA.glob("*.csv")))
    for start, end, inside, total in claims:  # as `facts compare` runs it: paths as long as the window at least
        days = max(spec.horizon_days, window_days(closes, spec.asset_names, start, end))
        table = compare(Market.simulate(spec.with_horizon(days), n_paths=300), closes, start, end)
        got = (int(table["inside"].sum()), len(table))
        assert got == (int(inside), int(total)), f"{path.name} {start}..{end}: comment {inside}/{total}, now {got}"


def _final_ratio(m: Market, a: int) -> np.ndarray:
    return m.close[:, -1, a] / m.close[:, 0, a]


def _variance_ratio_10(m: Market, a: int) -> float:
    """Median over paths of var(10-day log return) / (10 var(daily log return)): below 1 is mean reversion."""
    r = np.diff(np.log(m.close[:, :, a]), axis=1)
    r10 = np.lib.stride_tricks.sliding_window_view(r, 10, axis=1).sum(axis=-1)
    return float(np.median(r10.var(axis=1) / (10.0 * r.var(axis=1))))


def _active_outside_shocks(m: Market, spec, signal: str) -> float:
    """Share of path-days a signal is in effect outside the 14 days from each dated shock's day."""
    g = list(m.truth.signal_names).index(signal)
    quiet = np.ones(m.n_steps, dtype=bool)
    for shock in spec.shocks:
        quiet[shock.day * m.steps_per_day : (shock.day + 14) * m.steps_per_day] = False
    return float(m.truth.signal_active[:, quiet, g].mean())


def _signal_effect(m: Market, signal: str) -> float:
    """Mean daily log return of the crypto basket (equal weight) on days the signal is in effect, less on
    the other days: the plain in-window comparison a scorer would make."""
    g = list(m.truth.signal_names).index(signal)
    active = m.truth.signal_active[:, 1:, g].astype(bool)
    crypto = [a for a, kind in enumerate(m.asset_kinds) if kind == "crypto"]
    r = np.diff(np.log(m.close[:, :, crypto]), axis=1).mean(axis=2)
    return float(r[active].mean() - r[~active].mean())


# per asset: (statistic, tolerance as (absolute, relative): the larger of the two applies)
ASSET_STATS = {
    "q05": (lambda m, f, a, n: float(np.percentile(_final_ratio(m, a), 5)), (0.02, 0.15)),  # close[last] / close[0]
    "q95": (lambda m, f, a, n: float(np.percentile(_final_ratio(m, a), 95)), (0.02, 0.15)),
    "below": (lambda m, f, a, n: float(np.mean(_final_ratio(m, a) < 1.0)), (0.05, 0.0)),  # share of paths
    "mdd": (lambda m, f, a, n: float(f[(n, "max_drawdown")]), (0.03, 0.0)),  # median maximum drawdown
    "kurt": (lambda m, f, a, n: float(f[(n, "excess_kurtosis")]), (0.3, 0.2)),  # median excess kurtosis
    "vr10": (lambda m, f, a, n: _variance_ratio_10(m, a), (0.05, 0.0)),
}


STATED = [p for p in sorted(SCENARIOS.glob("*.yaml")) if "\n# check-stats:" in p.read_text()]


def test_the_scenarios_that_state_such_figures_check_them():
    stated = {"crypto_winter", "default", "rate_hike_shock", "sideways_chop", "stablecoin_depeg", "whale_dump"}
    assert {p.stem for p in STATED} == stated


@pytest.mark.parametrize("path", STATED, ids=lambda p: p.stem)
def test_the_comment_stats_hold(path):
    """`# check-stats:` holds the other figures a scenario's comment states, as ``SUBJECT STAT VALUE`` items:
    an asset with one of ``ASSET_STATS``, ``regime flips`` (a year, within 10 %), a signal's
    ``active_outside`` (share of days in effect away from the dated shocks, within 25 %) or its ``effect``
    (:func:`_signal_effect`, within 10 % or 0.0003). 200 paths, the seed."""
    from prometheus_sim.facts import stylised_facts

    lines = [line for line in path.read_text().splitlines() if line.startswith("# check-stats:")]
    assert len(lines) == 1, f"{path.name}: one '# check-stats:' line expected"
    items = [item.split() for item in lines[0].removeprefix("# check-stats:").split(",")]
    spec = load_scenario(path)
    m = Market.simulate(spec, n_paths=200)
    facts = stylised_facts(m)["median"]
    off = {}
    for subject, stat, value in items:
        expected = float(value)
        if subject == "regime" and stat == "flips":
            got, (absolute, relative) = (np.diff(m.truth.regime, axis=1) != 0).sum(axis=1).mean() * 365.0 / (
                m.n_steps / m.steps_per_day - 1), (0.0, 0.1)  # fmt: skip
        elif stat == "active_outside":
            got, (absolute, relative) = _active_outside_shocks(m, spec, subject), (0.0, 0.25)
        elif stat == "effect":
            got, (absolute, relative) = _signal_effect(m, subject), (0.0003, 0.1)
        else:
            fn, (absolute, relative) = ASSET_STATS[stat]
            got = fn(m, facts, m.assets.index(subject), subject)
        if abs(got - expected) > max(absolute, relative * abs(expected)):
            off[f"{subject} {stat}"] = (expected, round(float(got), 4))
    assert items and not off, f"{path.name}: comment vs engine: {off}"


# ---------------------------------------------------------------- what happens on a shock's own days


def _series(m: Market, subject: str, asset: int | None) -> np.ndarray:
    """(paths, days) daily series of ``subject``: an asset's close, ``vol:ASSET`` its volume, an on-chain or
    macro column, or ``dumped`` (the close of ``asset``, the one a whale dump hits)."""
    from prometheus_sim.scenario import MACRO_COLUMNS, ONCHAIN_COLUMNS

    if subject == "dumped":
        x = m.close[:, :, asset]
    elif subject.startswith("vol:"):
        x = m.volume[:, :, m.assets.index(subject[4:])]
    elif subject in ONCHAIN_COLUMNS:
        x = m.onchain[:, :, ONCHAIN_COLUMNS.index(subject)]
    elif subject in MACRO_COLUMNS:
        x = m.macro[:, :, MACRO_COLUMNS.index(subject)]
    else:
        x = m.close[:, :, m.assets.index(subject)]
    return x[:, m.steps_per_day - 1 :: m.steps_per_day]  # each day's last step


def day_figure(m: Market, subject: str, measure: str, days: str, origin: int = 0, asset: int | None = None) -> float:
    """One figure over paths: the median (``q05``/``q95``: that percentile) of the series at a day
    (``level``), or between two days ``a..b`` (``ratio`` x[b] / x[a], ``logret`` its log, ``change`` x[b] -
    x[a]). Signed days (``+1``, ``-1``) count from ``origin``; ``last`` is the final day."""
    x = _series(m, subject, asset)
    last = x.shape[1] - 1
    at = [last if d == "last" else origin + int(d) if d[0] in "+-" else int(d) for d in days.split("..")]
    if measure in ("level", "q05", "q95"):
        (day,) = at
        v = x[:, day]
    else:
        a, b = at
        v = {"ratio": x[:, b] / x[:, a], "logret": np.log(x[:, b] / x[:, a]), "change": x[:, b] - x[:, a]}[measure]
    return float(np.percentile(v, {"q05": 5.0, "q95": 95.0}.get(measure, 50.0)))


def _links_off(spec, names: list[str]):
    """The scenario with the named signals' strength set to 0: the counterfactual a comment compares with."""
    from prometheus_sim.scenario import ScenarioSpec

    data = spec.model_dump(mode="python")
    unknown = set(names) - {s["name"] for s in data["signals"]}
    assert not unknown, f"off=: no signal named {sorted(unknown)}"
    for sig in data["signals"]:
        if sig["name"] in names:
            sig["strength"] = 0.0
    return ScenarioSpec.from_dict(data)


def _within(got: float, stated: str) -> bool:
    """``lo..hi`` inclusive, or a number held to one unit of its last stated digit (0.889: +-0.001)."""
    if ".." in stated:
        lo, hi = (float(v) for v in stated.split(".."))
        return lo <= got <= hi
    unit = 10.0 ** -len(stated.split(".")[1]) if "." in stated else 1.0
    return abs(got - float(stated)) <= unit + 1e-12


def shock_day_figures(path) -> list[tuple[str, str, list[float]]]:
    """Each `# check-days:` item of a scenario, its stated value and the engine's figures (200 paths, the seed).

    Items are ``[off=SIGNAL+SIGNAL] SUBJECT MEASURE DAYS VALUE`` (:func:`day_figure`); signed days apply to
    every whale dump of the scenario, one figure per dump (``dumped`` is the asset each one hits);
    ``off=`` reruns the scenario with those signals' strength at 0."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("# check-days:")]
    assert len(lines) == 1, f"{path.name}: one '# check-days:' line expected"
    spec = load_scenario(path)
    markets: dict[tuple[str, ...], Market] = {}
    out = []
    for item in lines[0].removeprefix("# check-days:").split(","):
        words = item.split()
        off = tuple(sorted(words.pop(0)[4:].split("+"))) if words[0].startswith("off=") else ()
        subject, measure, days, stated = words
        if off not in markets:
            markets[off] = Market.simulate(_links_off(spec, list(off)) if off else spec, n_paths=200)
        m = markets[off]
        if days[0] in "+-":
            dumps = [s for s in spec.shocks if s.type == "whale_dump"]
            assert dumps, f"{path.name}: {item.strip()}: signed days count from whale dumps; the scenario has none"
            got = [day_figure(m, subject, measure, days, s.day, m.assets.index(s.asset)) for s in dumps]
        else:
            got = [day_figure(m, subject, measure, days)]
        out.append((item.strip(), stated, got))
    return out


DATED = [p for p in sorted(SCENARIOS.glob("*.yaml")) if "\n# check-days:" in p.read_text()]


def test_the_scenarios_with_dated_shocks_check_their_days():
    assert {p.stem for p in DATED} == {"crypto_winter", "rate_hike_shock", "stablecoin_depeg", "whale_dump"}


@pytest.mark.parametrize("path", DATED, ids=lambda p: p.stem)
def test_the_comment_shock_days_hold(path):
    """`# check-days:` holds what the comment says happens on and after a shock's days (:func:`shock_day_figures`)."""
    off = {item: [round(g, 4) for g in got] for item, stated, got in shock_day_figures(path)
           if not all(_within(g, stated) for g in got)}  # fmt: skip
    assert not off, f"{path.name}: comment vs engine: {off}"


def test_a_stated_figure_is_held_to_its_last_digit():
    assert _within(0.8893, "0.889") and not _within(0.8915, "0.889")
    assert _within(23.58, "23.6") and not _within(23.8, "23.6")
    assert _within(-0.0944, "-0.133..-0.086") and not _within(-0.08, "-0.133..-0.086")
