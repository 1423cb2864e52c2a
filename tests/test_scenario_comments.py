"""Each shipped scenario's `# check:` comment is what the engine produces: its figures cannot drift silently."""

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
    from prometheus_sim.facts_compare import compare
    from prometheus_sim.real import SHIPPED_DATA, read_closes

    lines = [line for line in path.read_text().splitlines() if line.startswith("# check-facts")]
    assert len(lines) == 1, f"{path.name}: one '# check-facts' line expected (how the scenario relates to real data)"
    claims = re.findall(r"(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d) (\d+)/(\d+)", lines[0])
    assert claims, lines[0]
    market = Market.simulate(load_scenario(path), n_paths=300)
    closes = read_closes(sorted(SHIPPED_DATA.glob("*.csv")))
    for start, end, inside, total in claims:
        table = compare(market, closes, start, end)
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
    assert {p.stem for p in STATED} == {"crypto_winter", "default", "sideways_chop", "stablecoin_depeg", "whale_dump"}


@pytest.mark.parametrize("path", STATED, ids=lambda p: p.stem)
def test_the_comment_stats_hold(path):
    """`# check-stats:` holds the other figures a scenario's comment states, as ``SUBJECT STAT VALUE`` items:
    an asset with one of ``ASSET_STATS``, ``regime flips`` (a year, within 10 %), or a signal's
    ``active_outside`` (share of days in effect away from the dated shocks, within 25 %). 200 paths, the seed."""
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
        else:
            fn, (absolute, relative) = ASSET_STATS[stat]
            got = fn(m, facts, m.assets.index(subject), subject)
        if abs(got - expected) > max(absolute, relative * abs(expected)):
            off[f"{subject} {stat}"] = (expected, round(float(got), 4))
    assert items and not off, f"{path.name}: comment vs engine: {off}"
