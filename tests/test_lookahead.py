"""The lookahead check catches the leaky canary and passes every registered strategy."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from adapters.sim import SimAdapter
from prometheus_sim.cli import main
from prometheus_sim.lookahead import check_lookahead
from prometheus_sim.market import Market
from strategies import registry


@pytest.fixture(scope="module")
def market(default_spec):
    return Market.simulate(default_spec.with_overrides(horizon_days=200), seed=8, n_paths=5)


def test_the_canary_is_caught_with_its_step_and_output(market):
    report = check_lookahead("strategies.canary:LeakyCanary", market, SimAdapter, registry.build, n_checks=8)
    assert not report.passed
    first = report.findings[0]
    assert first.kind == "decision" and first.name in ("action", "buy_fraction")
    assert first.step in report.steps_checked
    assert "differs when data after the step is removed" in str(first)


@pytest.mark.parametrize(
    "cheater", ["tests.cheaters:GcPeeker", "tests.cheaters:ClassCache", "tests.cheaters:TruthPeeker"]
)
def test_side_doors_are_closed(cheater, market):
    """gc.get_objects() and a class-level cache filled by the full run both reached the future when cuts ran in-process;
    the truth at t (hidden state, not the future) reached through gc passed while the cut carried it."""
    report = check_lookahead(cheater, market, SimAdapter, registry.build, n_checks=6)
    assert not report.passed
    assert "decision" in {f.kind for f in report.findings}
    assert len({f.step for f in report.findings}) >= 4  # most checked steps, not a fluke


def test_a_strategy_that_fails_without_the_hidden_state_is_a_finding(market):
    """It decides on the full run and raises on the cut: what was removed mattered (exit 2 before, not a finding)."""
    report = check_lookahead("tests.cheaters:NaiveTruthPeeker", market, SimAdapter, registry.build, n_checks=3)
    assert not report.passed and {f.kind for f in report.findings} == {"failure"}
    assert "fails when data after the step (and the simulator's hidden state) is removed" in str(report.findings[0])
    assert "AttributeError" in str(report.findings[0])


def test_every_step_checks_every_decision(market):
    short = market.head(40)
    report = check_lookahead("equal_weight", short, SimAdapter, registry.build, every_step=True)
    assert report.passed and report.steps_checked == list(range(0, 39, 30)) == [0, 30]
    daily = check_lookahead("strategies.canary:LeakyCanary", short, SimAdapter, registry.build, every_step=True)
    assert daily.steps_checked == list(range(39)) and not daily.passed


def test_the_canary_is_never_registered():
    assert "canary" not in registry.names()


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_strategy_passes(name, market, tiny_forecaster, tiny_dqn):
    report = check_lookahead(name, market, SimAdapter, registry.build, n_checks=10)
    assert report.passed, [str(f) for f in report.findings]
    assert report.steps_checked


def test_lookahead_command_exit_codes():
    runner = CliRunner()
    bad = runner.invoke(main, ["lookahead", "canary", "default", "--horizon-days", "60", "--checks", "4"])
    assert bad.exit_code == 1 and "LOOKAHEAD step" in bad.output
    good = runner.invoke(main, ["lookahead", "sixty_forty", "default", "--horizon-days", "120"])
    assert good.exit_code == 0, good.output
    assert "no lookahead" in good.output
    # what a pass covers, said (a strategy leaking only in larger batches or later days passed the defaults unsaid)
    assert "covered: 4 path(s) decided together, 120 days;" in good.output, good.output
    unknown = runner.invoke(main, ["lookahead", "yolo", "default"])
    assert unknown.exit_code == 2 and "unknown strategy 'yolo'" in unknown.output


def test_lookahead_on_a_scenario_without_cash_is_a_bad_input(tmp_path):
    import yaml

    from tests.conftest import minimal_dict

    data = minimal_dict()
    data["assets"] = data["assets"][:2]
    f = tmp_path / "nocash.yaml"
    f.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["lookahead", "equal_weight", str(f), "--horizon-days", "30"])
    assert result.exit_code == 2 and "needs a stablecoin" in result.output


def test_lookahead_of_a_strategy_that_fails_is_a_bad_input_naming_it(tmp_path, monkeypatch):
    """A strategy that raises, or returns no OrderBatch, stops the check with exit 2 and its name and problem: the
    traceback it gave ended in exit 1, which reads as lookahead found."""
    import sys

    (tmp_path / "failing_strats.py").write_text(
        "from strategies.baselines import EqualWeightRebalance\n\n"
        "class Raises(EqualWeightRebalance):\n"
        "    name = 'raises'\n\n"
        "    def decide_batch(self, snapshots):\n"
        "        raise RuntimeError('boom in decide_batch')\n\n"
        "class ReturnsNone(EqualWeightRebalance):\n"
        "    name = 'returns_none'\n\n"
        "    def decide_batch(self, snapshots):\n"
        "        return None\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "failing_strats", raising=False)
    for cls, words in [("Raises", "RuntimeError: boom in decide_batch"),
                       ("ReturnsNone", "returns_none.decide_batch returned NoneType at step 0: it must return an "
                                       "OrderBatch")]:  # fmt: skip
        res = CliRunner().invoke(main, ["lookahead", f"failing_strats:{cls}", "default", "--horizon-days", "40",
                                        "--paths", "2", "--checks", "2"])  # fmt: skip
        assert res.exit_code == 2, res.output
        assert f"error: the lookahead check of failing_strats:{cls} stopped: " in res.output and words in res.output


def test_the_command_simulates_at_a_seed_a_strategy_cannot_reproduce():
    """A strategy that re-simulates the public scenario at its own seed read the future off its copy in every run,
    and passed; the command now draws the market's seed (printed, and repeated by --seed)."""
    from prometheus_sim.scenario import load_scenario
    from tests.cheaters import Resimulator
    from tests.conftest import SCENARIOS

    runner = CliRunner()
    runs = [runner.invoke(main, ["lookahead", "tests.cheaters:Resimulator", "default", "--horizon-days", "60",
                                 "--checks", "2"]) for _ in range(2)]  # fmt: skip
    seeds = [int(re.search(r"seed (\d+) \(drawn; --seed \1 repeats this check\)", r.output).group(1)) for r in runs]
    spec = load_scenario(SCENARIOS / "default.yaml").with_horizon(60)
    assert all(r.exit_code == 0 for r in runs) and len(set(seeds)) == 2 and spec.seed not in seeds, seeds
    drawn = Market.simulate(spec, seed=seeds[0], n_paths=4)
    assert Resimulator._copy_of(np.asarray(drawn.close[:, :30])) is None  # nothing to read the future off
    at_own_seed = Market.simulate(spec, seed=spec.seed, n_paths=4)
    assert Resimulator._copy_of(np.asarray(at_own_seed.close[:, :30])) is not None  # the hole the draw closes
    repeat = runner.invoke(main, ["lookahead", "sixty_forty", "default", "--horizon-days", "60", "--checks", "2",
                                  "--seed", str(seeds[0])])  # fmt: skip
    assert repeat.exit_code == 0 and "drawn" not in repeat.output, repeat.output


def test_a_monthly_contribution_depends_on_no_later_step(default_spec):
    """A contribution landing at a month's last close was decided by whether another step followed: a market cut
    after that day (the check's cut) held no deposit there, and equal_weight failed the check falsely (review of
    2026-12-05). It is read from the step's own date now; at four steps a day too."""
    import functools

    from prometheus_sim.portfolio import RiskProfile
    from prometheus_sim.portfolio.rules import contribution_steps

    market = Market.simulate(default_spec.with_horizon(70), seed=3, n_paths=2)
    paying = functools.partial(SimAdapter, profiles=RiskProfile(monthly_contribution=500.0))
    assert check_lookahead("equal_weight", market, paying, registry.build, every_step=True).passed
    lands = contribution_steps(market.calendar)
    assert np.flatnonzero(lands).tolist() == [30, 59] and contribution_steps(market.calendar[:31])[30]
    three_hourly = pd.date_range(market.calendar[0], periods=8 * 40, freq="3h")  # 8 steps a day from Jan 1
    assert np.flatnonzero(contribution_steps(three_hourly, 8)).tolist() == [31 * 8 - 1]


def test_lookahead_on_a_saved_market_takes_paths_and_refuses_a_seed(tmp_path):
    """A saved market's --paths and --seed were dropped without a word (covered: 20 paths with --paths 4), and a
    strategy parameter's error ended in "(and 'canary')" (review of the CLI, session 25)."""
    from click.testing import CliRunner

    from prometheus_sim.cli import main
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    Market.simulate(load_scenario(SCENARIOS / "sideways_chop.yaml").with_horizon(120), n_paths=6).save(tmp_path / "m")
    runner = CliRunner()
    res = runner.invoke(main, ["lookahead", "equal_weight", str(tmp_path / "m"), "--paths", "2", "--checks", "2"])
    assert res.exit_code == 0 and "covered: 2 path(s)" in res.output, res.output
    res = runner.invoke(main, ["lookahead", "equal_weight", str(tmp_path / "m"), "--checks", "2"])
    assert res.exit_code == 0 and "covered: 6 path(s)" in res.output, res.output
    res = runner.invoke(main, ["lookahead", "equal_weight", str(tmp_path / "m"), "--seed", "3"])
    assert res.exit_code == 2 and "--seed: " in res.output and "leave --seed out" in res.output, res.output
    res = runner.invoke(main, ["lookahead", "equal_weight", str(tmp_path / "m"), "--paths", "7"])
    assert res.exit_code == 2 and "--paths 7: " in res.output and "holds 6 path(s)" in res.output, res.output
    res = runner.invoke(main, ["lookahead", "sixty_forty", "sideways_chop", "--strategy-param", "risky_share=2"])
    assert res.exit_code == 2 and "risky_share" in res.output and "canary" not in res.output, res.output
