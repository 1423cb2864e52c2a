"""Choosing the checkpoint to register on held-out seeds: the best one is registered, its score is the one a
sweep gives the registered policy, the seeds are kept apart from training and evaluation, and the CLI says it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from prometheus_sim.cli import main, policy_wiring
from prometheus_sim.rl.dqn import DQNArgs, train_dqn
from prometheus_sim.rl.select import CheckpointScore, choose
from tests.conftest import SCENARIOS

TINY = {"scenarios": (str(SCENARIOS / "default.yaml"),), "seeds": tuple(range(4)), "total_steps": 512, "num_envs": 4,
        "horizon_days": 300, "episode_days": 70, "learning_starts": 64}  # fmt: skip


def _score(step: int, sharpe: float) -> CheckpointScore:
    return CheckpointScore(step=step, sharpe=sharpe, low=sharpe - 1, high=sharpe + 1, top_action="hold", top_share=0.5)


def test_the_highest_mean_sharpe_is_chosen_ties_to_the_later_and_nan_never():
    assert choose([_score(1, 0.2), _score(2, 0.7), _score(3, 0.1)]) == 1
    assert choose([_score(1, 0.5), _score(2, 0.5)]) == 1  # the later of equals (more training behind it)
    assert choose([_score(1, math.nan), _score(2, -0.3), _score(3, math.nan)]) == 1
    assert choose([_score(1, math.nan), _score(2, math.nan)]) == 1  # nothing scored: the last, as without selection


def test_selection_registers_the_best_checkpoint_scored_as_a_sweep_scores_it(mlflow_store, tmp_path):
    import json

    import mlflow.pytorch
    from mlflow import MlflowClient

    from adapters.sim import sweep_adapter
    from prometheus_sim.metrics import metric_interval
    from prometheus_sim.strategy_spec import StrategySpec
    from prometheus_sim.sweep import SweepConfig, Wiring, plan_tasks, run_task
    from strategies.registry import build, describe

    args = DQNArgs(**TINY, select_seeds=(10, 11, 12), tracking_uri=mlflow_store, register_as="selected-dqn")
    result = train_dqn(args, policy_wiring())
    sel = result.meta["selection"]
    steps = [s["step"] for s in sel["scores"]]
    assert steps == [100, 204, 304, 408, 512] and sel["seeds"] == [10, 11, 12]
    sharpes = [s["sharpe"] for s in sel["scores"]]
    assert sel["chosen_step"] == steps[int(np.nanargmax(sharpes))], sel
    assert len(set(sharpes)) > 1, "every checkpoint scored the same: the scores cannot tell them apart"
    assert isinstance(sel["reference"]["sixty_forty"], float)
    # the action shares recorded for the run are the last network's; the registered one is named apart (review)
    assert (result.meta["action_shares_of_step"], result.meta["registered_step"]) == (512, sel["chosen_step"])
    # the registered weights are the chosen checkpoint's, as logged in the run's artifacts
    logged = mlflow.pytorch.load_state_dict(f"runs:/{result.run_id}/checkpoints/step_{sel['chosen_step']:010d}")
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(tensor, logged[name]), name
    client = MlflowClient(mlflow_store)
    assert client.get_run(result.run_id).data.tags["chosen_checkpoint"] == f"checkpoints/step_{sel['chosen_step']:010d}"
    history = client.get_metric_history(result.run_id, "validation_sharpe")
    logged_scores = sorted((m.step, m.value) for m in history)
    assert [step for step, _ in logged_scores] == steps
    assert [value for _, value in logged_scores] == pytest.approx(sharpes, rel=1e-12)
    # the chosen score is what a sweep of the registered policy on those seeds gives (as policy evaluate runs it)
    config = SweepConfig(scenarios=args.scenarios, seeds=(10, 11, 12), horizon_days=300,
                         strategies=(StrategySpec("dqn", (("model", f"selected-dqn@{result.version}"),)),))  # fmt: skip
    wiring = Wiring(strategy=build, describe=describe, adapter=sweep_adapter)
    rows = [run_task(task, config, wiring)["rows"] for task in plan_tasks(config)]
    swept = np.concatenate([r["sharpe"].to_numpy() for r in rows])
    chosen = next(s for s in sel["scores"] if s["step"] == sel["chosen_step"])
    assert metric_interval(swept, "sharpe") == pytest.approx((chosen["sharpe"], chosen["low"], chosen["high"]),
                                                             rel=1e-12)  # fmt: skip
    # policy evaluate says how the policy was chosen, and the report repeats it
    out = tmp_path / "pe"
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", f"selected-dqn@{result.version}",
                                    "--seeds", "30-31", "--horizon-days", "120", "--workers", "1", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    context = json.loads((out / "policy_eval.json").read_text())
    assert context["selected_on"] == {"seeds": "10-12", "step": sel["chosen_step"], "sharpe": chosen["sharpe"],
                                      "checkpoints": 5}  # fmt: skip
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 0
    html = (out / "report.html").read_text()
    assert (
        f"checkpoint at step {sel['chosen_step']:,}, chosen among 5 by its mean Sharpe on held-out seeds 10-12" in html
    )
    # the training curve says which network was registered (its end is the run's last, another one) and that its
    # returns include exploration; the store comes from policy_eval.json, as `policy evaluate` recorded it
    assert context["tracking_uri"] == mlflow_store
    rl = json.loads((out / "report.json").read_text())["rl"]
    assert [c["chosen_step"] for c in rl] == [sel["chosen_step"]] and rl[0]["points"]
    md = (out / "report.md").read_text()
    assert f"The registered policy is the run's checkpoint at step {sel['chosen_step']:,} (dashed line)" in md
    assert "with exploration's random actions among them" in md
    # ... and a saved simulated market holding a path it was chosen on, as it refuses one holding a training path
    sim = tmp_path / "sim11"
    res = CliRunner().invoke(main, ["simulate", "default", "--seed", "11", "--paths", "2", "--no-plots", "--no-progress",
                                    "--out", str(sim)])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["policy", "evaluate", str(sim), "--model", f"selected-dqn@{result.version}",
                                    "--horizon-days", "120", "--out", str(tmp_path / "unused")])  # fmt: skip
    assert res.exit_code == 2 and "are path 0 of seed(s) [11], which the policy trained on or was chosen on" in (
        res.output), res.output  # fmt: skip
    # policy evaluate refuses the validation seeds as it refuses the training ones
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", f"selected-dqn@{result.version}",
                                    "--seeds", "12-20", "--horizon-days", "120", "--out", "unused"])  # fmt: skip
    assert res.exit_code == 2 and "[12]... chose this policy among its checkpoints" in res.output, res.output


def test_a_checkpoint_before_the_first_update_is_no_candidate(mlflow_store):
    """With learning_starts 256 the step-128 checkpoint is the initial network: it was scored, chosen and registered
    (1.025 on the validation seeds), past the trainer's own guard against registering an untrained network (found
    by a review). The run's update count is the one DQNArgs predicts, and a ratio that makes none is refused first."""
    args = DQNArgs(**{**TINY, "learning_starts": 256}, checkpoints=4, select_seeds=(10, 11), tracking_uri=mlflow_store,
                   register_as="late-dqn")  # fmt: skip
    result = train_dqn(args, policy_wiring())
    assert [s["step"] for s in result.meta["selection"]["scores"]] == [256, 384, 512]
    assert result.history[-1]["updates"] == args.expected_updates() == 65
    with pytest.raises(ValueError, match=r"replay ratio 0.001 makes no gradient update in the 256 env steps"):
        DQNArgs(**{**TINY, "total_steps": 256}, replay_ratio=0.001)


def test_selection_settings_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match=r"select_seeds: \[2, 3\] are also training seeds"):
        DQNArgs(**TINY, select_seeds=(2, 3, 9))
    for seeds, words in (
        ((-1,), r"integers in \[0, 2\*\*64\), got -1"),
        (("10",), "got '10'"),
        ((10, 10), "a seed is given twice"),
    ):
        with pytest.raises(ValueError, match=words):  # refused before training, not after it
            DQNArgs(**TINY, select_seeds=seeds)
    with pytest.raises(ValueError, match="checkpoints must be >= 1"):
        DQNArgs(**TINY, select_seeds=(9,), checkpoints=0)
    with pytest.raises(ValueError, match="needs a PolicyWiring"):
        train_dqn(DQNArgs(**TINY, select_seeds=(9,)))
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "0-3", "--select-seeds", "3-5"])
    assert res.exit_code == 2 and "error: --select-seeds: [3] are also training seeds" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--select-seeds", "x"])
    assert res.exit_code == 2 and "--select-seeds 'x': seed 'x' is not an integer" in res.output, res.output


def test_policy_train_prints_each_checkpoints_score_and_the_registered_one(mlflow_store):
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "0-3", "--steps", "256", "--num-envs", "4",
                                    "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "64",
                                    "--checkpoints", "2", "--select-seeds", "20"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 checkpoints backtested on validation seeds 20 in" in res.output, res.output
    assert "[n/a, n/a]" in res.output, res.output  # one seed: a mean, no interval (it once crashed after registering)
    assert res.output.count("<- registered") == 1 and "60/40 on the same paths:" in res.output, res.output
