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
