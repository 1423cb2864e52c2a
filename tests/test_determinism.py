"""Same scenario + seed -> same bytes: across runs, thread counts, batch splits and horizons."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from prometheus_sim.market import Market
from prometheus_sim.scenario import ONCHAIN_COLUMNS, ScenarioSpec
from tests.conftest import ROOT, SCENARIOS

_CHILD = """
import json, sys
from prometheus_sim.market import Market
from prometheus_sim.scenario import load_scenario
import numba
spec = load_scenario(sys.argv[1]).with_overrides(horizon_days=120)
m = Market.simulate(spec, seed=2024, n_paths=150)
print(json.dumps({"threads": numba.get_num_threads(), "digests": m.array_digests()}))
"""


def _digests_in_subprocess(threads: int) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(SCENARIOS / "default.yaml")],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_identical_bytes_with_one_and_two_threads_in_separate_processes():
    one = _digests_in_subprocess(1)
    two = _digests_in_subprocess(2)
    assert one["threads"] == 1 and two["threads"] == 2
    assert one["digests"] == two["digests"]


def test_same_seed_same_bytes_other_seed_other_bytes(default_spec):
    spec = default_spec.with_overrides(horizon_days=90)
    a = Market.simulate(spec, seed=5, n_paths=20)
    b = Market.simulate(spec, seed=5, n_paths=20)
    c = Market.simulate(spec, seed=6, n_paths=20)
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()
    assert not np.array_equal(a.close, c.close)


def test_path_alone_equals_the_same_path_inside_a_batch_of_1000(default_spec):
    spec = default_spec.with_overrides(horizon_days=40)
    batch = Market.simulate(spec, seed=99, n_paths=1000)
    for k in (0, 1, 517, 999):
        alone = Market.simulate(spec, seed=99, path_ids=[k])
        for name, arr in alone.named_arrays().items():
            np.testing.assert_array_equal(arr[0], batch.named_arrays()[name][k], err_msg=f"{name} path {k}")


def test_a_longer_horizon_leaves_the_common_prefix_untouched(default_spec):
    """No step depends on later steps: extending the horizon changes nothing before it."""
    short = Market.simulate(default_spec.with_overrides(horizon_days=200), seed=3, n_paths=16)
    long = Market.simulate(default_spec.with_overrides(horizon_days=260), seed=3, n_paths=16)
    for name, arr in short.named_arrays().items():
        np.testing.assert_array_equal(arr, long.named_arrays()[name][:, :200], err_msg=name)


def test_a_horizon_cut_on_a_dated_shock_keeps_its_effect_that_day():
    """``with_horizon`` (the CLI's --horizon-days) cutting at a whale dump's day + 1: the dump is kept, so
    the cut market is the full one's first days; it used to be dropped, and with it that day's whales."""
    from prometheus_sim.scenario import load_scenario

    spec = load_scenario(SCENARIOS / "whale_dump.yaml")
    full = Market.simulate(spec.with_horizon(60), seed=5, n_paths=3)
    for cut in (40, 41, 42):  # the first dump is dated day 40: its whales act that day, its price move on 41
        short = Market.simulate(spec.with_horizon(cut), seed=5, n_paths=3)
        for name, arr in short.named_arrays().items():
            np.testing.assert_array_equal(arr, full.named_arrays()[name][:, :cut], err_msg=f"{name} cut at {cut}")
    whales = full.onchain[:, :, ONCHAIN_COLUMNS.index("whale_transactions")]
    assert whales[:, 40].mean() > 3 * whales[:, 30:39].mean()


def test_seed_defaults_to_the_scenario_seed(mini_spec: ScenarioSpec):
    a = Market.simulate(mini_spec, n_paths=3)
    b = Market.simulate(mini_spec, seed=mini_spec.seed, n_paths=3)
    assert a.seed == mini_spec.seed and a.digest() == b.digest()


def test_a_batch_over_seeds_equals_each_seed_simulated_alone(default_spec):
    spec = default_spec.with_overrides(horizon_days=30)
    batch = Market.simulate(spec, seeds=[1000, 1001, 1199])
    assert batch.seed is None and list(batch.seeds) == [1000, 1001, 1199]
    for row, seed in enumerate((1000, 1001, 1199)):
        alone = Market.simulate(spec, seed=seed, n_paths=1)
        for name, arr in alone.named_arrays().items():
            np.testing.assert_array_equal(arr[0], batch.named_arrays()[name][row], err_msg=f"{name} seed {seed}")


GOLDEN_EXTRA = ROOT / "tests" / "data" / "golden_every_process_24.yaml"


def golden_markets():
    """(name, market) of what the golden digests pin: every shipped scenario over its whole horizon (2 paths: every
    dated shock and signal acts; a 30-day cut, the pin until 2026-12-04, had none) and a scenario of every process,
    shock and a firing signal at 24 steps a day (``tests/data``)."""
    from prometheus_sim.scenario import load_scenario

    for path in [*sorted(SCENARIOS.glob("*.yaml")), GOLDEN_EXTRA]:
        yield path.stem, Market.simulate(load_scenario(path), n_paths=2)


def test_shipped_scenarios_give_the_golden_bytes_on_any_machine():
    """A SHA-256 per shipped scenario and the every-process one (:func:`golden_markets`), committed: the same bytes
    here, in CI and elsewhere. Regenerate tests/golden_digests.json only when the engine or a scenario changes on
    purpose (``python -c "from tests.test_determinism import write_golden; write_golden()"``)."""
    golden = json.loads((ROOT / "tests" / "golden_digests.json").read_text())
    assert set(golden) == {p.stem for p in SCENARIOS.glob("*.yaml")} | {GOLDEN_EXTRA.stem}
    for name, market in golden_markets():
        assert market.digest() == golden[name], name


def write_golden() -> None:
    digests = {name: market.digest() for name, market in golden_markets()}
    (ROOT / "tests" / "golden_digests.json").write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")


def test_the_order_shocks_are_listed_in_changes_nothing():
    """Shocks apply by day, then by content: two overlapping depegs (listed first, the later one's fast recovery was
    overwritten by the earlier one's slow one: USDC stuck at 0.82 against 0.996) and overlapping crashes (their vol
    multipliers' products round by the order they are taken in) give the same bytes in either order."""
    spec = ScenarioSpec.from_dict({
        "name": "order", "horizon_days": 60, "assets": [
            {"name": "BTC", "kind": "crypto", "start_price": 100.0, "drift": 0.0, "vol": 0.5},
            {"name": "USDC", "kind": "stable", "start_price": 1.0, "drift": 0.0, "vol": 0.02,
             "process": {"type": "peg", "peg": {"kappa": 500}}}],
        "shocks": [
            {"type": "depeg", "day": 10, "asset": "USDC", "depth": 0.1, "recovery_half_life_days": 100,
             "recovery_days": 40},
            {"type": "depeg", "day": 12, "asset": "USDC", "depth": 0.1, "recovery_half_life_days": 0.5,
             "recovery_days": 3},
            {"type": "crash", "day": 20, "size": -0.1, "vol_mult": 10.0, "duration_days": 20},
            {"type": "crash", "day": 20, "size": -0.1, "vol_mult": 10.0, "duration_days": 20},
            {"type": "crash", "day": 25, "size": 0.0, "vol_mult": 0.1, "duration_days": 5}],
    })  # fmt: skip
    listed = Market.simulate(spec, n_paths=8, seed=3)
    reverse = Market.simulate(spec.model_copy(update={"shocks": spec.shocks[::-1]}), n_paths=8, seed=3)
    assert listed.array_digests() == reverse.array_digests()
    usdc = np.median(listed.close[:, 13:20, 1], axis=0)
    assert (usdc > 0.97).all(), usdc  # the later, fast depeg's recovery holds from its own day
