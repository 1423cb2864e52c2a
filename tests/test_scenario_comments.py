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
