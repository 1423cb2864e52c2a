"""The DQN: the guide's network, a short run that learns, the strategy seeing what the env showed,
clear errors, and the CLI."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from adapters.sim import SimAdapter
from prometheus_sim.cli import main
from prometheus_sim.market import Market
from prometheus_sim.portfolio import RiskProfile, RiskProfiles
from prometheus_sim.rl.dqn import DQNArgs, QNetwork, check_device
from prometheus_sim.rl.env import PortfolioEnv, goal_dated_from
from prometheus_sim.scenario import load_scenario
from strategies.dqn import DQNStrategy
from tests.conftest import SCENARIOS


def test_the_guides_network():
    net = QNetwork(50)
    layers = list(net.net)
    linear = [m for m in layers if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(50, 256), (256, 256), (256, 128), (128, 7)]
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in layers) == 2
    assert net(torch.zeros(3, 50)).shape == (3, 7)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="num_envs: must be >= 1, got 0"):
        DQNArgs(scenarios=("x",), seeds=(1,), num_envs=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device on this machine"):
            check_device("cuda")
    with pytest.raises(ValueError, match="cpu or cuda"):
        check_device("tpu")
    with pytest.raises(ValueError, match=r"'cuda:abc': cpu or cuda\[:n\]"):
        check_device("cuda:abc")
    res = CliRunner().invoke(main, ["policy", "train", "default", "--num-envs", "0"])
    assert res.exit_code == 2 and "Invalid value for '--num-envs': 0 is not in the range x>=1" in res.output, res.output
    # the option the user typed is named, not the field behind it
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "5-2"])
    assert res.exit_code == 2 and "error: --seeds '5-2': seed range '5-2' is empty" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--episode-days", "30", "--period-days", "100"])
    assert res.exit_code == 2 and "error: --episode-days: must be at least" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--env-dtype", "float64"])  # on cpu: the Numba env
    assert res.exit_code == 2 and "error: --env-dtype: sets the torch twin's arithmetic" in res.output, res.output
    # the same refusals through the CLI, before any market is simulated or model loaded
    res = CliRunner().invoke(main, ["policy", "train", "no_such_scenario"])
    assert res.exit_code == 2 and "neither a file nor a shipped scenario" in res.output, res.output
    if not torch.cuda.is_available():
        res = CliRunner().invoke(main, ["policy", "train", "default", "--device", "cuda"])
        assert res.exit_code == 2 and "no CUDA device on this machine" in res.output, res.output
    # arguments with which no update, or not the asked-for checkpoints, could be made are refused up front
    base = {"scenarios": ("x",), "seeds": (1,), "num_envs": 256, "total_steps": 200_000}
    for change, words in (({"learning_starts": 150_000}, r"more than the replay buffer holds \(buffer_size 100000\)"),
                          ({"total_steps": 1000, "learning_starts": 999}, "not below the 768 env steps trained"),
                          ({"total_steps": 1024, "learning_starts": 10, "checkpoints": 5},
                           r"checkpoints: at most one per vector step \(4 in this run\)"),
                          ({"seed": 2**64}, r"seed: must be in 0..2\*\*63 - 1"),
                          ({"buffer_size": 128, "learning_starts": 10}, r"buffer_size: 128 holds less than one vector step"),
                          ({"tracking_uri": "file:///tmp/runs"}, "for a local store write sqlite:////tmp/runs/mlflow.db"),
                          ({"tracking_uri": "garbage://x"}, "needs a database or server URI"),
                          # the Python API's types (review of 2026-12-04: each failed deep in training or misread)
                          ({"checkpoints": 1.5}, "checkpoints: an integer, got 1.5"),
                          ({"cpu_threads": 1.5}, "cpu_threads: an integer or None, got 1.5"),
                          ({"num_envs": True}, "num_envs: an integer, got True"),
                          ({"total_steps": 2e5}, "total_steps: an integer, got 200000.0"),
                          ({"scenarios": "default"}, "scenarios: a tuple of scenario names or files, got 'default'"),
                          ({"seeds": (0, 0)}, "seeds: a seed is given twice"),
                          ({"seeds": (True,)}, "seeds: integers >= 0, got True"),
                          ({"learning_starts": -5}, "learning_starts: must be >= 0, got -5"),
                          ({"seeds": 5}, "seeds: a tuple of integers, got 5"),
                          ({"select_seeds": 900}, "select_seeds: a tuple of integers, got 900"),  # review, session 24
                          ({"select_seeds": np.array([900, 901])}, r"select_seeds: a tuple of integers, got array"),
                          ({"replay_ratio": "0.25"}, "replay_ratio: a number"),
                          ({"replay_ratio": True}, "replay_ratio: a number")):  # fmt: skip
        with pytest.raises(ValueError, match=words):
            DQNArgs(**{**base, **change})
    res = CliRunner().invoke(main, ["policy", "train", "default", "--tracking-uri", "/tmp/plain/folder"])
    assert res.exit_code == 2 and "write sqlite:////tmp/plain/folder/mlflow.db" in res.output, res.output
    assert "error: --tracking-uri '/tmp/plain/folder'" in res.output, res.output  # the option, not the field
    missing = tmp_path / "no" / "such" / "mlflow.db"  # evaluation reads a registry: none is created for it
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--tracking-uri", f"sqlite:///{missing}",
                                    "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and f"no registry at {missing} (the file does not exist)" in res.output, res.output
    assert not (tmp_path / "no").exists()
    res = CliRunner().invoke(main, ["policy", "train", "default", "--num-envs", "200000"])
    assert res.exit_code == 2 and "error: --num-envs 200000: more envs than the replay buffer's 100,000" in res.output
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--tracking-uri", "/tmp/plain/folder", "--out",
                                    "/tmp/never-written"])  # fmt: skip
    assert res.exit_code == 2 and "error: --tracking-uri '/tmp/plain/folder'" in res.output, res.output


def test_a_model_that_is_missing_or_not_a_policy_is_a_clear_error(tmp_path, tiny_dqn, mlflow_store):
    """backtest and policy evaluate name the model and say what is wrong: no traceback."""
    import mlflow
    import mlflow.pyfunc

    from prometheus_sim import registry

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[str], params=None) -> list[str]:
            return model_input

    registry.configure(mlflow_store)
    with mlflow.start_run(experiment_id=registry.experiment("not-torch", mlflow_store)):
        mlflow.pyfunc.log_model(name="model", python_model=Constant(), registered_model_name="not-torch")
    runner = CliRunner()
    for model, words in (("no-such-model", "no-such-model"), ("not-torch", "not-torch/1 is not a PyTorch model")):
        res = runner.invoke(main, ["backtest", "default", "--strategy", "dqn", "--strategy-param", f"model={model}",
                                   "--seeds", "1", "--out", str(tmp_path / "bt")])  # fmt: skip
        assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output, res.output
        res = runner.invoke(main, ["policy", "evaluate", "default", "--model", model, "--seeds", "100",
                                   "--out", str(tmp_path / "pe")])  # fmt: skip
        assert res.exit_code == 2 and words in res.output, res.output
    res = runner.invoke(main, ["policy", "evaluate", "default", "--real", "--real-from", "notadate", "--seeds", "100",
                               "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and "--real-from: 'notadate' is not a date" in res.output, res.output
    # what pandas reads as a day but is none, or not one in the markets' calendars (tracebacks, review of 2026-12-04)
    for text in ("", "NaT", "today", "20240101", "2024-01-01T00:00+05:00", "\uff12\uff10\uff12\uff14-01-01"):
        res = runner.invoke(main, ["policy", "evaluate", "default", "--real", "--real-from", text, "--seeds", "100",
                                   "--out", str(tmp_path / "rf")])  # fmt: skip
        assert res.exit_code == 2 and f"--real-from: {text!r} is not a date (YYYY-MM-DD)" in res.output, res.output


@pytest.mark.parametrize("steps_per_day", [1, 4])
def test_the_strategy_sees_what_the_env_showed(tiny_dqn, steps_per_day):
    """A policy acts in a backtest on the very observation it was trained on (same step, same user; at four
    steps a day, at a day's close, where episodes start and decisions fall)."""
    spec = load_scenario(SCENARIOS / "default.yaml").with_overrides(horizon_days=300, steps_per_day=steps_per_day)
    market = Market.simulate(spec, n_paths=2)
    profile = RiskProfile(risk_tolerance=0.3, time_to_goal=48)
    env = PortfolioEnv(market=market, episode_days=70)
    start = env.start_step(90)
    obs, _ = env.reset(seed=0, options={"path": 1, "start": start, "profile": profile})
    profiles = goal_dated_from(RiskProfiles.of(profile, 1), start, market.steps_per_day)
    adapter = SimAdapter(market.rows(slice(1, 2)), profiles=profiles, start=start)
    strategy = DQNStrategy()
    np.testing.assert_allclose(strategy.observations(adapter.snapshot(start))[0], obs, rtol=1e-6, atol=1e-6)


def test_the_strategy_holds_until_the_features_have_warmed_up(tiny_dqn):
    """Training episodes start after the 33-day warm-up: before it, the strategy holds whatever the network
    would say (a network that always values sell_major highest shows it), and after it the network decides."""
    import copy

    from prometheus_sim.features import WARMUP_DAYS
    from prometheus_sim.portfolio import Action

    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(120), n_paths=1)
    strategy = DQNStrategy()
    strategy.model = copy.deepcopy(strategy.model)  # edited below: no other test may see it
    with torch.no_grad():
        strategy.model.net[-1].weight.zero_()
        strategy.model.net[-1].bias.copy_(torch.arange(7) == int(Action.SELL_MAJOR))
    adapter = SimAdapter(market)
    assert strategy.decide_batch(adapter.snapshot(WARMUP_DAYS - 1)).action.tolist() == [int(Action.HOLD)]
    assert strategy.decide_batch(adapter.snapshot(WARMUP_DAYS)).action.tolist() == [int(Action.SELL_MAJOR)]


def test_the_strategy_refuses_a_market_whose_featured_assets_it_never_saw(tmp_path, tiny_dqn):
    """The observation reads the market's three largest crypto assets by position: a policy trained where they
    were BTC, ETH, SOL must not read another asset's data (or zeros) in SOL's slot without being told to."""
    import yaml

    from prometheus_sim.scenario import ScenarioSpec

    assert tiny_dqn.meta["featured_assets"] == {"default": ["BTC", "ETH", "SOL"]}
    raw = yaml.safe_load((SCENARIOS / "default.yaml").read_text().replace("SOL", "AVAX"))  # SOL under another name
    market = Market.simulate(ScenarioSpec.from_dict(raw).with_horizon(120), n_paths=1)
    snapshot = SimAdapter(market).snapshot(60)
    with pytest.raises(ValueError, match=r"default: BTC, ETH, SOL\]; this market's are BTC, ETH, AVAX"):
        DQNStrategy().decide_batch(snapshot)
    with pytest.raises(ValueError, match="allow_other_assets: true or false"):
        DQNStrategy(allow_other_assets="yes")
    # policy evaluate refuses it before any worker starts, naming the file, and evaluates it when told to
    avax = tmp_path / "avax.yaml"
    avax.write_text((SCENARIOS / "default.yaml").read_text().replace("SOL", "AVAX"))
    args = ["policy", "evaluate", str(avax), "--seeds", "100", "--horizon-days", "120", "--workers", "1"]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "refused")])
    assert res.exit_code == 2 and f"{avax}: policy prometheus-dqn/" in res.output, res.output
    assert "this market's are BTC, ETH, AVAX" in res.output and not (tmp_path / "refused" / "metrics.parquet").exists()
    res = CliRunner().invoke(main, [*args, "--allow-other-assets", "--out", str(tmp_path / "told")])
    assert res.exit_code == 0 and (tmp_path / "told" / "metrics.parquet").exists(), res.output
    relaxed = DQNStrategy(allow_other_assets=True)
    assert relaxed.decide_batch(snapshot).action.shape == (1,)
    same = SimAdapter(Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(120), n_paths=1))
    assert DQNStrategy().decide_batch(same.snapshot(60)).action.shape == (1,)
    # a monthly contribution is an observation slot no training episode ever filled (all had none): refused
    saving = RiskProfile(monthly_contribution=500.0)
    paying = SimAdapter(Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(120), n_paths=1),
                        profiles=saving)  # fmt: skip
    with pytest.raises(ValueError, match=r"trained without monthly contributions .* \(monthly_contribution 500\)"):
        DQNStrategy().decide_batch(paying.snapshot(60))


def test_a_short_run_registers_a_policy_that_backtests(tmp_path, mlflow_store, tiny_dqn):
    import mlflow.pytorch
    from mlflow import MlflowClient

    assert tiny_dqn.history and np.isfinite(tiny_dqn.history[-1]["steps_per_s"])
    assert abs(sum(tiny_dqn.meta["training_action_share"]) - 1.0) < 1e-9
    greedy = np.array(tiny_dqn.meta["greedy_action_share"]) * 12 * 4  # the last tenth: 12 of 128 steps, 4 envs
    assert abs(greedy.sum() - 48) < 1e-9 and np.allclose(greedy, greedy.round())
    assert tiny_dqn.meta["torch_threads"] == 1  # DQNArgs.cpu_threads' default: part of what a seed repeats
    # five checkpoints along the run (128 vector steps of 4 envs), the last the registered policy's weights
    saved = [a.path for a in MlflowClient(mlflow_store).list_artifacts(tiny_dqn.run_id, "checkpoints")]
    assert saved == [f"checkpoints/step_{s:010d}" for s in (100, 204, 304, 408, 512)], saved
    net = QNetwork(tiny_dqn.meta["obs_dim"])
    net.load_state_dict(mlflow.pytorch.load_state_dict(f"runs:/{tiny_dqn.run_id}/{saved[-1]}"))
    for mine, theirs in zip(net.state_dict().values(), tiny_dqn.model.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)
    runner = CliRunner()
    res = runner.invoke(main, ["backtest", "default", "--strategy", "dqn,hold", "--seeds", "100-102", "--horizon-days",
                               "120", "--out", str(tmp_path / "bt"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    # the run loads the version @latest names when it starts, in every cell (each cell resolved it again)
    from prometheus_sim.registry import resolve
    from prometheus_sim.strategy_spec import StrategySpec
    from strategies.registry import pinned

    name, version = resolve("prometheus-dqn@latest")
    assert dict(pinned("dqn").params)["model"] == f"{name}@{version}" and pinned("hold") == StrategySpec.of("hold")
    assert f'"model": "{name}@{version}"' in (tmp_path / "bt" / "sweep.json").read_text()
    # its training seeds are refused, as policy evaluate refuses them (an in-sample backtest passed the acceptance
    # row "RL policy Sharpe" as if on unseen seeds: found by a review)
    res = runner.invoke(main, ["backtest", "default", "--strategy", "dqn,hold", "--seeds", "1-3", "--horizon-days", "120",
                               "--out", str(tmp_path / "bt_in"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and "--seeds [1, 2, 3]: dqn trained or was chosen on these seeds (in-sample in " \
        "default" in res.output, res.output  # fmt: skip
    assert not (tmp_path / "bt_in").exists()
    # another scenario at those seeds draws the training paths' shocks (the random numbers are keyed by seed and
    # path, not by scenario): whale_dump at training seeds ran as unseen (review of 2026-12-05, session 19)
    res = runner.invoke(main, ["backtest", "whale_dump", "--strategy", "dqn,hold", "--seeds", "3-5", "--horizon-days",
                               "120", "--out", str(tmp_path / "bt_wd"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and "--seeds [3]: dqn trained or was chosen on these seeds (in-sample in whale_dump" \
        in res.output, res.output  # fmt: skip
    assert not (tmp_path / "bt_wd").exists()
    res = runner.invoke(main, ["policy", "train", "default", "--seeds", "0-3", "--steps", "256", "--num-envs", "4",
                               "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "64"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "registered prometheus-dqn version" in res.output


def test_policy_evaluate_sweeps_the_baselines_and_says_what_the_policy_did(tmp_path, tiny_dqn):
    """One scenario x 2 unseen seeds, the real series from a date and a fee grid: the sweep, policy_eval.json,
    and a report whose policy section agrees with the sweep's metrics."""
    import json

    import pandas as pd

    from prometheus_sim.metrics import ACTION_SHARE_COLUMNS, mean_interval
    from prometheus_sim.metrics import sharpe as sharpe_of
    from prometheus_sim.report.builder import fmt_interval
    from prometheus_sim.report.one_path import returns_from_growth, sharpe_difference_interval, sharpe_interval

    runner = CliRunner()
    out = tmp_path / "pe"
    res = runner.invoke(main, ["policy", "evaluate", "default", "--seeds", "100-101", "--horizon-days", "120",
                               "--fees-bps", "0,25", "--real", "--real-from", "2023-09-01", "--workers", "1",
                               "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "policy actions: hold" in res.output and "sharpe" in res.output
    # the warm-up's 35 days come before the cut, so the policy decides from the cut on (it restarted there)
    assert "real market real: 2023-07-28..2023-11-24 (120 days): the days from 2023-09-01 on" in res.output
    assert "the policy decides 12 time(s), from 2023-09-01" in res.output
    # default was set to match real days 2020-01-01..2023-12-31 (its calibrated_to): these are not out of time
    assert "NOT out of time" in res.output and "(--real-from 2024-01-01)" in res.output
    assert "cost sweep default: 0 bps" in res.output and "cost sweep real: 0 bps" in res.output
    context = json.loads((out / "policy_eval.json").read_text())
    assert context["real"][0]["window"] == ["2023-07-28", "2023-11-24"] and context["real"][0]["days"] == 120
    assert context["real"][0]["out_of_time"] is False and context["real"][0]["decides_from"] == "2023-09-01"
    assert context["trained_on"] == {"scenarios": ["default"], "seeds": "0-3"} and context["seeds"] == "100-101"

    m = pd.read_parquet(out / "metrics.parquet")
    assert {"dqn", "hold", "buy_and_hold", "equal_weight", "sixty_forty"} == {s.split(" [")[0] for s in m["strategy"]}
    assert len(m) == 5 * 2 * (2 + 1) and (m["scenario"] == "real").sum() == 5 * 2  # the real market: one row
    np.testing.assert_allclose(m[list(ACTION_SHARE_COLUMNS)].sum(axis=1), 1.0)

    res = runner.invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    report = (out / "report.md").read_text()
    for heading in ("## RL training", "## What the strategies did", "## Policy evaluation", "### Cost sweep",
                    "### Sharpe: real beside simulated", "### The policy against each baseline"):  # fmt: skip
        assert heading in report, heading
    assert (out / "plots" / "rl_training.png").stat().st_size > 1000
    assert (out / "plots" / "equity_default.png").exists()  # a cost sweep's curves are drawn too
    assert (out / "plots" / "equity_real.png").exists()  # and the real market's (its rows are not seeds)

    pe = json.loads((out / "report.json").read_text())["policy"]
    assert pe["reference_costs"]["fees_bps"] == 25.0  # the default 10 bps did not run: the most expensive setting
    assert [s["scenario"] for s in pe["sources"]] == ["default", "real"]
    assert [s["trained_on"] for s in pe["sources"]] == [True, False]

    def daily(strategy):  # the real market's saved curve at the reference 25 bps
        name = m[(m["scenario"] == "real") & (m["fees_bps"] == 25.0)
                 & (m["strategy"].str.split(" [", regex=False).str[0] == strategy)]["strategy"].iloc[0]  # fmt: skip
        return returns_from_growth(pd.read_parquet(out / "equity" / f"real__{name}.parquet").iloc[:, 0].to_numpy())

    def sharpe(scenario, strategy, fees):
        rows = m[(m["scenario"] == scenario) & (m["strategy"].str.split(" [", regex=False).str[0] == strategy)
                 & (m["fees_bps"] == fees)]  # fmt: skip
        return rows.sort_values("seed")["sharpe"].to_numpy()

    assert len(pe["comparisons"]) == 2 * 4
    for c in pe["comparisons"]:
        policy, base = sharpe(c["scenario"], "dqn", 25.0), sharpe(c["scenario"], c["baseline"], 25.0)
        if c["scenario"] == "default":
            want_p, want_b = mean_interval(policy), mean_interval(base)
        else:  # one path: the stationary bootstrap over its 120 days, from the saved equity curves
            r_p, r_b = daily("dqn"), daily(c["baseline"])
            assert sharpe_of(r_p) == pytest.approx(policy[0], rel=1e-9) and len(r_p) == 120
            want_p, want_b = (policy[0], *sharpe_interval(r_p)), (base[0], *sharpe_interval(r_b))
            want_d = sharpe_difference_interval(r_p, r_b)
            assert (c["difference"]["low"], c["difference"]["high"]) == pytest.approx(want_d, rel=1e-12)
            assert c["difference"]["over"] == "days" and c["difference"]["days"] == 120
        got_p = (c["policy"]["mean"], c["policy"]["low"], c["policy"]["high"])
        got_b = (c["baseline_sharpe"]["mean"], c["baseline_sharpe"]["low"], c["baseline_sharpe"]["high"])
        np.testing.assert_allclose(got_p, want_p, rtol=1e-12)
        np.testing.assert_allclose(got_b, want_b, rtol=1e-12)
        assert c["difference"]["mean"] == pytest.approx(float(np.mean(policy - base)), rel=1e-12, abs=1e-15)
        if c["scenario"] == "default":  # two common seeds: the paired difference decides
            _, d_low, d_high = mean_interval(policy - base)
            want = "above" if d_low > 0 else "below" if d_high < 0 else "overlapping"
        else:  # one path: the paired difference over its days
            want = "above" if want_d[0] > 0 else "below" if want_d[1] < 0 else "overlapping"
        assert c["verdict"] == want
        assert fmt_interval(*want_p) in report and fmt_interval(*want_b) in report
    for row in pe["cost_sweep"]:
        assert [lv["fees_bps"] for lv in row["levels"]] == [0.0, 25.0]
        for lv in row["levels"]:
            means = {s: sharpe(row["scenario"], s, lv["fees_bps"]).mean() for s in pe["strategies"]}
            assert lv["policy_sharpe"] == pytest.approx(means["dqn"], rel=1e-12)
            assert lv["rank"] == 1 + sum(v > means["dqn"] for v in means.values())
        ranks = {lv["rank"] for lv in row["levels"]}
        assert (row["holds"].startswith("does not hold")) == (len(ranks) > 1)
        assert row["holds"] in report
    rl = next(c for c in json.loads((out / "report.json").read_text())["acceptance"]["criteria"]
              if c["name"] == "RL policy Sharpe in backtests")  # fmt: skip
    assert "scored at fees 25 bps" in rl["note"]  # a cost sweep's RL row is measured
    # the real window overlaps default's calibration window (not out of time): left out of the row, and said (it was
    # pooled with the unseen seeds, and one such cell turned a negative mean positive)
    assert rl["cells"] == 2 and "left out: real market(s) real, whose days overlap" in rl["note"]
    assert "| real | real, one path, 2023-07-28..2023-11-24 (120 days) | no | NO: its days overlap" in report
    before = {f: (out / f).read_bytes() for f in ("report.md", "report.html", "report.json")}
    assert runner.invoke(main, ["report", str(out)]).exit_code == 0
    assert before == {f: (out / f).read_bytes() for f in ("report.md", "report.html", "report.json")}

    res = runner.invoke(main, ["policy", "evaluate", "default", "--seeds", "0-2", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "were used in training" in res.output
    res = runner.invoke(
        main, ["policy", "evaluate", "default", "--real-from", "2023-10-01", "--out", str(tmp_path / "y")]
    )
    assert res.exit_code == 2 and "--real-from: there is no real market to cut" in res.output, res.output


def test_policy_evaluate_tells_training_data_from_unseen_data(tmp_path, tiny_dqn, monkeypatch):
    """A saved simulated market holding a training path is refused (in-sample), one of unseen seeds runs and is
    called simulated, not real; a same-named scenario with other parameters is not "trained on"; real days are
    out of time only after the training scenarios' calibration window; a refused run writes nothing."""
    import json
    from pathlib import Path

    import pandas as pd

    from prometheus_sim.real import SHIPPED_DATA

    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    # tiny_dqn trained on default's seeds 0-3: path 0 of seed 2 is a training path, path 1 of it and seed 50 are not;
    # so is path 0 of seed 2 of any scenario (the random numbers are keyed by seed and path, not by scenario)
    for scenario, seed, out in (("default", 2, "train2"), ("default", 50, "unseen50"), ("whale_dump", 2, "wd2")):
        res = runner.invoke(main, ["simulate", scenario, "--seed", str(seed), "--paths", "2", "--no-plots",
                                   "--no-progress", "--out", out])  # fmt: skip
        assert res.exit_code == 0, res.output
    for saved in ("train2", "wd2"):
        res = runner.invoke(main, ["policy", "evaluate", saved, "--workers", "1", "--horizon-days", "60", "--out", "a"])
        assert res.exit_code == 2 and "in-sample" in res.output and "path 0 of seed(s) [2]" in res.output, res.output
        assert not Path("a").exists()
    # backtest refuses it too (it ran, and acceptance scored it), and a renamed copy of the training scenario
    res = runner.invoke(main, ["backtest", "train2", "--strategy", "dqn,hold", "--out", "bt_saved", "--no-progress"])
    assert res.exit_code == 2 and "row(s) [0] of this saved market are paths dqn trained" in res.output, res.output
    res = runner.invoke(main, ["backtest", "wd2", "--strategy", "dqn,hold", "--out", "bt_wd2", "--no-progress"])
    assert res.exit_code == 2 and "row(s) [0] of this saved market are paths dqn trained" in res.output, res.output
    copy = Path("default_copy.yaml")
    copy.write_text((SCENARIOS / "default.yaml").read_text().replace("name: default", "name: default_copy"))
    res = runner.invoke(main, ["backtest", str(copy), "--strategy", "dqn,hold", "--seeds", "2", "--horizon-days", "60",
                               "--out", "bt_copy", "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and "in-sample in default_copy" in res.output, res.output
    assert not Path("bt_saved").exists() and not Path("bt_copy").exists()

    default4 = Path("default4.yaml")
    default4.write_text((SCENARIOS / "default.yaml").read_text().replace("steps_per_day: 1", "steps_per_day: 4")
                        .replace("name: default", "name: default4"))  # fmt: skip
    res = runner.invoke(main, ["policy", "evaluate", "unseen50", str(default4), "--seeds", "100", "--horizon-days",
                               "60", "--workers", "1", "--out", "b"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "simulated market default: " in res.output and "a saved simulated market of 2 path(s)" in res.output
    assert "real market" not in res.output and "no seeded scenario" not in res.output
    assert runner.invoke(main, ["report", "b"]).exit_code == 0
    pe = json.loads(Path("b/report.json").read_text())["policy"]
    data = {s["scenario"]: (s["kind"], s["data"], s["trained_on"]) for s in pe["sources"]}
    assert data["default"][0] == "simulated" and "a saved market of 2 path(s)" in data["default"][1]
    assert data["default"][2] is True  # the training scenario, none of its training paths
    assert data["default4"][2] is False  # default at four steps a day: another scenario

    # --real with --real-from keeps the minimum a saved real market has: the warm-up and one decision period
    res = runner.invoke(main, ["policy", "evaluate", "--real", "--real-from", "2024-02-10", "--workers", "1",
                               "--out", "c"])  # fmt: skip
    assert res.exit_code == 2 and "has 39 days from 2024-01-06 (the cut, less the 35 days before it" in res.output
    assert "fewer than 42: the policy's first decision is on day 35" in res.output, res.output
    assert not Path("c").exists()
    # a date outside the data: before it, the whole history was evaluated without a word (review of 2026-12-04)
    for date, words in (("1900-01-01", "before the days of market 'real' (2020-04-10..2024-02-13); leave --real-from"),
                        ("2099-01-01", "after the days of market 'real' (2020-04-10..2024-02-13)")):  # fmt: skip
        res = runner.invoke(main, ["policy", "evaluate", "--real", "--real-from", date, "--workers", "1", "--out", "c"])
        assert res.exit_code == 2 and f"--real-from {date}: {words}" in res.output, res.output
        assert not Path("c").exists()
    d = ["policy", "evaluate", "default", "--seeds", "100", "--real", "--horizon-days", "60", "--workers", "1",
         "--out", "d"]  # fmt: skip
    res = runner.invoke(main, [*d, "--real-from", "2024-01-01"])
    assert res.exit_code == 0, res.output
    assert "all before these: out of time" in res.output and "NOT out of time" not in res.output
    assert "the policy decides 4 time(s), from 2024-01-01" in res.output and "too few decisions to judge" in res.output
    assert "1 scenarios x 1 unseen seeds, 1 real market(s) (mean" in res.output
    assert "(one path: no interval over paths)" in res.output and "nan" not in res.output  # one seed, one real path
    # the baselines first decide when the policy does: on the cut market they traded from day 0 while the policy
    # sat 35 days in cash, and a Sharpe of the cash weeks was set beside theirs
    assert "every strategy first decides on day 35 of each market" in res.output
    assert json.loads(Path("d/policy_eval.json").read_text())["first_decision_day"] == 35
    equity = pd.read_parquet("d/equity/real__equal_weight.parquet")
    # in cash (a stablecoin: it moves a little) through day 35's close; the first fill is at day 36's open
    assert (equity.iloc[:36] - 1.0).abs().max().max() < 1e-3 < (equity.iloc[36:] - 1.0).abs().max().max()
    saved = Path("d/markets/real/manifest.json").read_bytes()
    res = runner.invoke(main, [*d, "--real-from", "2023-11-01"])
    assert res.exit_code == 2 and "holds another market" in res.output, res.output
    assert Path("d/markets/real/manifest.json").read_bytes() == saved  # a refused run leaves the saved market

    # a saved market too short for the policy is refused up front (it was found by its failed cell, after the run)
    assert runner.invoke(main, ["market", "import", *map(str, sorted(SHIPPED_DATA.glob("*.csv"))), "--from",
                                "2024-01-10", "--name", "short", "--out", "short"]).exit_code == 0  # fmt: skip
    res = runner.invoke(main, ["policy", "evaluate", "short", "--workers", "1", "--out", "f"])
    assert res.exit_code == 2 and "short: market 'short' has 35 days, fewer than 42" in res.output, res.output
    assert not Path("f").exists()

    # costs that would print alike, and a bad fee, are refused before anything is written
    for fees, words in (
        ("10,10.000001", "--fees-bps 10,10.000001: fees 10.0 and 10.000001 bps (slippage, impact alike) both print as"),
        ("10,10", "--fees-bps 10,10: a cost setting is given twice"),
        ("-5", "--fees-bps -5: fees_bps"),
    ):
        res = runner.invoke(main, ["policy", "evaluate", "--real", "--fees-bps", fees, "--out", "e"])
        assert res.exit_code == 2 and words in res.output, res.output
        assert not Path("e").exists()


def test_policy_evaluate_flags_a_collapsed_policy(tmp_path, mlflow_store, tiny_dqn):
    """A policy whose every decision is one action (here: a network that always values sell_major highest) is
    flagged by name, whatever it scores."""
    import copy

    import mlflow.pytorch

    from prometheus_sim import registry
    from prometheus_sim.portfolio import Action

    collapsed = copy.deepcopy(tiny_dqn.model)
    with torch.no_grad():
        collapsed.net[-1].weight.zero_()
        collapsed.net[-1].bias.copy_(torch.arange(7) == int(Action.SELL_MAJOR))
    uri = registry.configure(mlflow_store)
    with mlflow.start_run(experiment_id=registry.experiment("collapsed", uri)):  # artifacts beside the store
        mlflow.pytorch.log_model(collapsed, name="model", serialization_format="pickle",
                                 pip_requirements=["torch==2.13.0"], registered_model_name="collapsed-dqn")  # fmt: skip
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", "collapsed-dqn@latest", "--seeds",
                                    "100-101", "--horizon-days", "120", "--workers", "1", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 0, res.output
    # 12 weekly decisions after the features' warm-up (days 35..112), all sell_major. Before the policy's first
    # decision moved past the warm-up, the 5 weekly holds before it counted as the policy's: 71 %, not flagged
    assert "FLAG: 100% of the policy's decisions are sell_major: a collapsed policy" in res.output, res.output
    assert "policy actions: hold 0.0%" in res.output, res.output


def test_a_model_parameter_that_is_not_a_name_is_refused_plainly(tmp_path, mlflow_store, tiny_dqn):
    """``model=3`` (YAML reads it as a number) once crashed with AttributeError in the registry lookup."""
    from prometheus_sim.registry import resolve

    for model in ("3", "null", "@1"):
        res = CliRunner().invoke(main, ["backtest", "default", "--strategy", "dqn", "--strategy-param",
                                        f"model={model}", "--seeds", "1000", "--out", str(tmp_path / "b")])  # fmt: skip
        assert res.exit_code == 2, res.output
        assert "model: must be a registered name, name@version, name@latest or name@alias, got" in res.output
    name, version = tiny_dqn.name, tiny_dqn.version
    assert resolve(f"{name}@0{version}", mlflow_store) == (name, version)  # one version, one identity


def test_a_horizon_with_no_policy_decision_is_refused_not_passed(tmp_path, mlflow_store, tiny_dqn):
    """The policy first decides after its warm-up (day 35 at weekly decisions): a 20-day lookahead check once
    'passed' having checked 0 of 0 decisions, and a 20-day evaluation scored hold under the policy's name."""
    ref = f"{tiny_dqn.name}@{tiny_dqn.version}"
    res = CliRunner().invoke(main, ["lookahead", "dqn", "default", "--strategy-param", f"model={ref}",
                                    "--horizon-days", "20", "--paths", "1", "--checks", "2"])  # fmt: skip
    assert res.exit_code == 2 and "made no decision in 20 days, so nothing was checked" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", ref, "--seeds", "100",
                                    "--horizon-days", "20", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and "--horizon-days 20: fewer than 42 days" in res.output, res.output
    assert not (tmp_path / "pe").exists()
    # a scenario file that short: every cell failed, then a KeyError on the empty scores (review of 2026-12-04)
    short = tmp_path / "short36.yaml"
    short.write_text((SCENARIOS / "default.yaml").read_text().replace("horizon_days: 1095", "horizon_days: 36"))
    res = CliRunner().invoke(main, ["policy", "evaluate", str(short), "--model", ref, "--seeds", "100",
                                    "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and f"{short}: its 36 days are fewer than 42" in res.output, res.output
    assert not (tmp_path / "pe").exists()


def test_policy_evaluate_refuses_a_policy_whose_observation_it_cannot_build(tmp_path, mlflow_store, tiny_dqn):
    """The test-only oracle (leak_future: 53 values) or another size: each dqn cell failed in its worker after the
    baselines had run, and the evaluation printed NaN action shares (review of 2026-12-04)."""
    import copy

    import mlflow.pytorch

    from prometheus_sim import registry

    uri = registry.configure(mlflow_store)
    for name, change in (("oracle-dqn", {"obs_dim": 53, "leak": True}), ("wide-dqn", {"obs_dim": 60, "leak": False})):
        model = copy.deepcopy(tiny_dqn.model)
        model.meta = {**model.meta, "obs_dim": change["obs_dim"],
                      "args": {**model.meta["args"], "leak_future": change["leak"]}}  # fmt: skip
        with mlflow.start_run(experiment_id=registry.experiment(name, uri)):
            mlflow.pytorch.log_model(model, name="model", serialization_format="pickle",
                                     pip_requirements=["torch==2.13.0"], registered_model_name=name)  # fmt: skip
        res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", f"{name}@latest", "--seeds", "100",
                                        "--horizon-days", "60", "--out", str(tmp_path / name)])  # fmt: skip
        assert res.exit_code == 2, res.output
        words = ("was trained with the next period's returns in its observation" if change["leak"]
                 else "takes observations of 60 values; this version's environment builds 50")  # fmt: skip
        assert words in res.output, res.output
        assert not (tmp_path / name).exists()


def test_policy_evaluate_refuses_a_model_the_registry_lacks(tmp_path, mlflow_store):
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", "no-such-policy@latest",
                                    "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and "no-such-policy" in res.output and "not in the registry" in res.output, res.output
    assert not (tmp_path / "pe").exists()


def test_policy_evaluate_refuses_a_model_that_is_not_a_policy(tmp_path, mlflow_store):
    """Any registered PyTorch model resolves; one without the policy's metadata is refused before the sweep
    (it used to fail in every worker, leaving a half-written OUT and NaN action shares)."""
    import mlflow.pytorch

    from prometheus_sim import registry

    uri = registry.configure(mlflow_store)
    with mlflow.start_run(experiment_id=registry.experiment("not-a-policy", uri)):  # artifacts beside the store
        mlflow.pytorch.log_model(torch.nn.Linear(3, 7), name="model", serialization_format="pickle",
                                 pip_requirements=["torch==2.13.0"], registered_model_name="not-a-policy")  # fmt: skip
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", "not-a-policy@latest", "--seeds",
                                    "1000-1001", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "--model not-a-policy@latest: not-a-policy/1 is not a prometheus DQN policy" in res.output
    assert not (tmp_path / "pe").exists()


def test_policy_evaluate_cuts_a_saved_real_market_at_a_date(tmp_path, tiny_dqn):
    """A saved real market given by directory, evaluated only from --real-from on; nothing else swept."""
    import json

    from prometheus_sim.real import SHIPPED_DATA

    runner = CliRunner()
    files = [str(p) for p in sorted(SHIPPED_DATA.glob("*.csv"))]
    res = runner.invoke(main, ["market", "import", *files, "--from", "2023-01-01", "--to", "2023-12-31",
                               "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["policy", "evaluate", str(tmp_path / "r"), "--real-from", "2023-10-01",
                               "--workers", "1", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 0, res.output
    real = json.loads((tmp_path / "pe" / "policy_eval.json").read_text())["real"]
    # the 35 days before the cut are the features' warm-up: the policy decides from the cut on
    assert real == [{"name": "real", "path": str(tmp_path / "pe" / "markets" / "real"), "days": 127, "paths": 1,
                     "kind": "real", "training_scenario": None, "window": ["2023-08-27", "2023-12-31"],
                     "basis": real[0]["basis"], "decides_from": "2023-10-01", "decisions": 13,
                     "out_of_time": False}]  # fmt: skip
    assert "NOT out of time" in real[0]["basis"]  # default was set to match real days through 2023-12-31
    assert Market.load(tmp_path / "pe" / "markets" / "real").calendar[0] == np.datetime64("2023-08-27")
    # 39 days with the warm-up's: the policy's first decision (day 35) could not fill and count
    res = runner.invoke(main, ["policy", "evaluate", str(tmp_path / "r"), "--real-from", "2023-12-28",
                               "--out", str(tmp_path / "short")])  # fmt: skip
    assert res.exit_code == 2 and "has 39 days from 2023-11-23" in res.output and "fewer than 42" in res.output
    # --real's market and a saved one both named real: with --real-from the second cut was skipped, then refused as
    # a path the user never typed; without it the first was saved first; both left it on disk (reviews, 2026-12-04)
    for cut in (["--real-from", "2023-10-01"], []):
        res = runner.invoke(main, ["policy", "evaluate", str(tmp_path / "r"), "--real", *cut,
                                   "--out", str(tmp_path / "both")])  # fmt: skip
        assert res.exit_code == 2, res.output
        assert f"markets named 'real' are given twice (--real and {tmp_path / 'r'};" in res.output, res.output
        assert not (tmp_path / "both").exists()


def test_a_policy_fed_the_future_learns_to_use_it(mlflow_store):
    """The learning loop works: with next week's returns in the observation (a test-only flag), a short
    run beats both hold and buy-and-hold by a wide margin in the guide's reward. If it could not, training
    would be broken, not the market. Measured (2026-12-05, package 0.3.0, observation version 1) per episode,
    training seeds 0-4: +12.3, +15.7, +16.6, +20.1, +16.7 against hold -0.9 and buy-and-hold -17.4 (with RSI on
    0-100, version 0: +17.0, +2.0, +15.2, +13.8, +16.8, seed 1 short of the margin); seed 0 is taken."""
    from prometheus_sim.rl.dqn import train_dqn

    args = DQNArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(8)), total_steps=12000, num_envs=8,
                   horizon_days=500, episode_days=91, learning_starts=500, leak_future=True, seed=0,
                   tracking_uri=mlflow_store, register_as="leaky-dqn")  # fmt: skip
    q = train_dqn(args).model
    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(500), seeds=range(100, 108))
    env = PortfolioEnv(market=market, episode_days=91, leak_future=True)

    def mean_return(policy) -> float:
        totals = []
        for ep in range(40):
            obs, _ = env.reset(seed=ep)
            total, k, done = 0.0, 0, False
            while not done:
                obs, r, term, trunc, _ = env.step(policy(obs, k))
                total, k, done = total + r, k + 1, term or trunc
            totals.append(total)
        return float(np.mean(totals))

    with torch.no_grad():
        learned = mean_return(lambda o, k: int(q(torch.as_tensor(o)[None]).argmax()))
    hold = mean_return(lambda o, k: 0)
    buy_and_hold = mean_return(lambda o, k: 6 if k == 0 else 0)
    assert learned > max(hold, buy_and_hold) + 4.0, (learned, hold, buy_and_hold)


def test_the_trainer_runs_on_the_torch_twin(mlflow_store, tiny_dqn):
    """``env_backend="torch"``: env, replay and network on the training device (CPU here). Same args as
    ``tiny_dqn`` (the Numba env). In float64 the twin repeats the Numba run: the same episodes, losses and actions.
    In float32 (what a GPU runs) it follows the Numba run until a greedy action sits within float32 rounding of a
    tie and flips (2026-12-05, after the GARCH change: returns 1e-6 apart for 40 updates, then apart; the
    shares of actions up to 0.15 apart), so there the run is held to what must hold whatever the rounding."""
    from prometheus_sim.rl.dqn import train_dqn

    threads = torch.get_num_threads()
    kwargs = dict(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(4)), total_steps=512, num_envs=4,
                  horizon_days=300, episode_days=70, learning_starts=64, tracking_uri=mlflow_store,
                  env_backend="torch")  # fmt: skip
    exact = train_dqn(DQNArgs(**kwargs, env_dtype="float64", register_as="torch-twin-dqn-64"))
    assert torch.get_num_threads() == threads  # cpu_threads is restored
    assert exact.meta["env_backend"] == "torch" and tiny_dqn.meta["env_backend"] == "numba"
    assert exact.meta["args"]["env_dtype"] == "float64"
    for row, numba_row in zip(exact.history, tiny_dqn.history, strict=True):
        for key in ("updates", "episode_return", "loss"):
            assert row.get(key) == pytest.approx(numba_row.get(key), rel=1e-9, nan_ok=True), (key, row, numba_row)
    assert exact.meta["training_action_share"] == tiny_dqn.meta["training_action_share"]

    run = train_dqn(DQNArgs(**kwargs, register_as="torch-twin-dqn"))
    last, numba_last = run.history[-1], tiny_dqn.history[-1]
    assert last["updates"] == numba_last["updates"] == (512 // 4 - 15)  # one per vector step once 64 are stored
    assert np.isfinite(last["episode_return"]) and np.isfinite(last["loss"])
    assert sum(run.meta["training_action_share"]) == pytest.approx(1.0)
    first = run.history[2]  # the first row with a loss: three updates in, no greedy action has had room to flip
    assert first["loss"] == pytest.approx(tiny_dqn.history[2]["loss"], rel=1e-4)


def test_the_replay_ratio_sets_the_gradient_updates(mlflow_store):
    assert DQNArgs(scenarios=("x",), seeds=(1,), num_envs=16).updates_per_env_step == 1 / 16
    assert DQNArgs(scenarios=("x",), seeds=(1,), num_envs=16, train_every=4).updates_per_env_step == 1 / 64
    assert DQNArgs(scenarios=("x",), seeds=(1,), num_envs=16, replay_ratio=0.125).updates_per_env_step == 0.125
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "0-3", "--steps", "256", "--num-envs", "4",
                                    "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "64",
                                    "--replay-ratio", "0.5", "--env-backend", "torch"])  # fmt: skip
    assert res.exit_code == 0, res.output
    # 64 vector steps; 64 transitions are stored after the 16th: 2 updates on each of the last 49
    assert "98 gradient updates at 0.5 per env step, torch env" in res.output


def test_a_cuda_index_beyond_the_machines_devices_is_refused(monkeypatch):
    """On a machine with two GPUs (torch's answers stood in: this one has none), cuda:1 is taken, cuda:7 is not."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1") == "cuda:1" and check_device("cuda") == "cuda"
    with pytest.raises(ValueError, match=r"--device cuda:7: this machine has 2 CUDA device\(s\), cuda:0..cuda:1"):
        check_device("cuda:7")


def test_bad_training_settings_are_refused():
    with pytest.raises(ValueError, match="env_backend: numba or torch, got 'jax'"):
        DQNArgs(scenarios=("x",), seeds=(1,), env_backend="jax")
    with pytest.raises(ValueError, match="env_dtype: float32 or float64, got 'float16'"):
        DQNArgs(scenarios=("x",), seeds=(1,), env_backend="torch", env_dtype="float16")
    with pytest.raises(ValueError, match="env_dtype: sets the torch twin's arithmetic; this run steps the Numba env"):
        DQNArgs(scenarios=("x",), seeds=(1,), env_dtype="float64")  # cpu: the Numba env unless told otherwise
    with pytest.raises(
        ValueError,
        match=r"replay_ratio: gradient updates per env step, must be in \(0, 64\] \(the guide.s way is 1\), got 0",
    ):
        DQNArgs(scenarios=("x",), seeds=(1,), replay_ratio=0.0)
    with pytest.raises(ValueError, match="replay_ratio and train_every: give one of them, not both"):
        DQNArgs(scenarios=("x",), seeds=(1,), replay_ratio=0.1, train_every=2)
    with pytest.raises(ValueError, match="cpu_threads: must be >= 1 or None, got 0"):
        DQNArgs(scenarios=("x",), seeds=(1,), cpu_threads=0)
    with pytest.raises(ValueError, match="checkpoints: must be >= 0, got -1"):
        DQNArgs(scenarios=("x",), seeds=(1,), checkpoints=-1)
    with pytest.raises(ValueError, match=r"seed: must be in 0..2\*\*63 - 1 .*, got -1"):
        DQNArgs(scenarios=("x",), seeds=(1,), seed=-1)
    with pytest.raises(
        ValueError, match=r"learning_starts: 5000 is not below the 4096 env steps trained \(total_steps"
    ):
        DQNArgs(scenarios=("x",), seeds=(1,), total_steps=4096, learning_starts=5000)
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seed", "-1"])
    assert res.exit_code == 2 and "Invalid value for '--seed': -1 is not in the range" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--env-backend", "jax"])
    assert res.exit_code == 2 and "Invalid value for '--env-backend'" in res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--replay-ratio", "-1"])
    assert res.exit_code == 2 and "--replay-ratio: gradient updates per env step, must be in (0, 64]" in res.output


def test_a_scenario_without_a_stablecoin_is_named(tmp_path):
    """A portfolio holds cash in a stablecoin; the refusal said "the scenario has none" without saying which
    (review of 2026-12-04). Refused before any market is simulated."""
    crypto = tmp_path / "crypto_only.yaml"
    crypto.write_text(yaml_without_stables((SCENARIOS / "default.yaml").read_text()))
    res = CliRunner().invoke(main, ["policy", "train", str(crypto), "--steps", "64", "--num-envs", "4",
                                    "--learning-starts", "8", "--checkpoints", "0"])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert f"error: scenarios: {crypto} has no stablecoin, and a portfolio needs one" in res.output, res.output


def yaml_without_stables(text: str) -> str:
    """``default.yaml`` with its stablecoin's kind turned to crypto: a scenario a portfolio cannot hold cash in."""
    import yaml

    data = yaml.safe_load(text)
    for asset in data["assets"]:
        if asset["kind"] == "stable":
            asset["kind"] = "crypto"
            asset["process"] = {"type": "gbm"}
    data["name"] = "crypto_only"
    return yaml.safe_dump(data)


def test_a_policy_trained_on_another_observation_version_is_refused(tiny_dqn):
    """rsi_14 enters the observation on 0-1 since observation version 1 (it was 0-100 beside returns of ~0.01); a
    policy that recorded no version (0) or another one is refused by the strategy and by policy evaluate's check,
    not fed inputs on scales it never saw. A fresh policy records this version and its RSI slots hold 0-1."""
    import copy

    from prometheus_sim.cli import _policy_observation_fits
    from prometheus_sim.portfolio.nb import OBS_SIZE
    from prometheus_sim.rl.env import OBSERVATION_VERSION, RECENT_FEATURES, PortfolioEnv
    from strategies.dqn import DQNStrategy

    assert tiny_dqn.meta["observation_version"] == OBSERVATION_VERSION == 1
    DQNStrategy.from_network(tiny_dqn.model)  # this version's policy is taken
    for meta in ({k: v for k, v in tiny_dqn.meta.items() if k != "observation_version"},
                 {**tiny_dqn.meta, "observation_version": 7}):  # fmt: skip
        old = copy.deepcopy(tiny_dqn.model)
        old.meta = meta
        said = f"was trained on observation version {meta.get('observation_version', 0)}"
        with pytest.raises(ValueError, match=said + r" \(0: rsi_14 on 0-100\); this package builds version 1"):
            DQNStrategy.from_network(old)
        with pytest.raises(ValueError, match="--model m: p/1 " + said):
            _policy_observation_fits(meta, "m", "p/1")
    env = PortfolioEnv(scenario="default", n_paths=4)
    rsi = [OBS_SIZE + k * len(RECENT_FEATURES) + RECENT_FEATURES.index("rsi_14") for k in range(3)]
    seen = np.array([env.reset(seed=s)[0][rsi] for s in range(20)])
    assert (seen >= 0.0).all() and (seen <= 1.0).all() and seen.std() > 0.01, seen


def _register_linear(uri: str, name: str, meta: dict | None = None):
    """A PyTorch model registered under ``name`` (a Linear, with ``meta`` as its policy metadata if given)."""
    import mlflow.pytorch

    from prometheus_sim import registry

    net = torch.nn.Linear(3, 7)
    if meta is not None:
        net.meta = meta
    with mlflow.start_run(experiment_id=registry.experiment(name, registry.configure(uri))):
        return mlflow.pytorch.log_model(net, name="model", serialization_format="pickle",
                                        pip_requirements=["torch==2.13.0"], registered_model_name=name)  # fmt: skip


def test_a_damaged_model_file_or_policy_metadata_is_a_clear_error(tmp_path, mlflow_store):
    """A model file cut short under the store was torch's 'PytorchStreamReader failed reading zip archive'
    traceback, a policy whose metadata says period_days 0 a ZeroDivisionError (review of 2026-12-05)."""
    from pathlib import Path

    info = _register_linear(mlflow_store, "cut-short")
    store = Path(mlflow_store.removeprefix("sqlite:///")).parent
    (file,) = [p for p in store.rglob("model.pth") if info.model_id in str(p)]
    file.write_bytes(file.read_bytes()[:100])
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", "cut-short@latest", "--seeds",
                                    "1000", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "cut-short/1: its model files are damaged or missing" in res.output, res.output
    meta = {"kind": "prometheus-dqn", "period_days": 0, "observation_version": 1, "obs_dim": 50}
    _register_linear(mlflow_store, "period-zero", meta)
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model", "period-zero@latest", "--seeds",
                                    "1000", "--out", str(tmp_path / "pe2")])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "period-zero/1 has metadata whose period_days is 0, not the whole number of days" in res.output, res.output


def test_a_store_that_is_not_sqlite_and_args_out_of_range_are_refused_first(tmp_path):
    """A file of text as the SQLite store was SQLAlchemy's 'file is not a database' after the markets were built;
    NumPy integers in DQNArgs reached torch's manual_seed; replay_ratio 1e308 overflowed (review of 2026-12-05)."""
    junk = tmp_path / "junk.db"
    junk.write_text("garbage")
    base = {"scenarios": ("default",), "seeds": (0, 1), "total_steps": 4096, "num_envs": 4, "learning_starts": 64}
    with pytest.raises(ValueError, match=r"junk.db is not an SQLite database"):
        DQNArgs(**base, tracking_uri=f"sqlite:///{junk}")
    with pytest.raises(ValueError, match=r"replay_ratio: gradient updates per env step, must be in \(0, 64"):
        DQNArgs(**base, replay_ratio=1e308)
    args = DQNArgs(**{**base, "seeds": (np.int64(0), np.int64(1)), "num_envs": np.int64(4)}, seed=np.int64(3))
    assert type(args.seed) is int and type(args.num_envs) is int and all(type(s) is int for s in args.seeds)


def test_a_plain_backtest_of_the_policy_on_a_real_market_is_scored_as_policy_evaluate_scores_it(tmp_path, tiny_dqn):
    """``backtest`` with dqn on a real market whose days the policy's training scenario was set to match counted that
    market in acceptance as unseen data, and the report called it "simulated, 1 seeds" with no interval (review of
    2026-12-05): the backtest now records the markets as ``policy evaluate`` does."""
    import json

    from prometheus_sim.acceptance import evaluate
    from prometheus_sim.real import SHIPPED_DATA
    from prometheus_sim.report.builder import policy_evaluation, read_policy_context
    from prometheus_sim.sweep import load_sweep

    runner = CliRunner()
    files = [str(p) for p in sorted(SHIPPED_DATA.glob("*.csv"))]
    res = runner.invoke(main, ["market", "import", *files, "--from", "2023-01-01", "--to", "2023-12-31",
                               "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["backtest", str(tmp_path / "r"), "default", "--strategy", "dqn,hold", "--seeds",
                               "1000-1001", "--horizon-days", "200", "--out", str(tmp_path / "bt")])  # fmt: skip
    assert res.exit_code == 0, res.output
    real = read_policy_context(tmp_path / "bt")["real"]
    assert [(r["name"], r["kind"], r["out_of_time"]) for r in real] == [("real", "real", False)], real
    _, metrics, failures = load_sweep(tmp_path / "bt")
    pe = policy_evaluation(metrics, read_policy_context(tmp_path / "bt"), tmp_path / "bt")
    row = next(s for s in pe["sources"] if s["scenario"] == "real")
    assert row["kind"] == "real" and row["data"].startswith("real, one path"), row
    rl = next(c for c in evaluate(tmp_path / "bt").criteria if c.name == "RL policy Sharpe in backtests")
    assert "left out: real market(s) real" in rl.note and rl.cells == 2, (rl.note, rl.cells)  # the two seeds only
    assert json.loads((tmp_path / "bt" / "policy_eval.json").read_text())["written_by"] == "backtest"
    # a run that decides later than the policy's own first day (--first-decision-day): the record counted the
    # policy's decisions from its own day (24 from day 35 of a run deciding from day 150; review of the CLI, session 25)
    res = runner.invoke(main, ["backtest", str(tmp_path / "r"), "--strategy", "dqn,hold", "--horizon-days", "200",
                               "--first-decision-day", "150", "--out", str(tmp_path / "late")])  # fmt: skip
    assert res.exit_code == 0, res.output
    context = read_policy_context(tmp_path / "late")
    late = context["real"][0]
    from prometheus_sim.market import Market
    from prometheus_sim.report.builder import policy_blocks, render_markdown
    from prometheus_sim.rl.dqn import DQNArgs

    period = DQNArgs.__dataclass_fields__["period_days"].default  # tiny_dqn's
    market = Market.load(tmp_path / "r")
    assert context["first_decision_day"] == 150 and context["policy_first_day"] < 150
    assert late["decides_from"] == str(market.calendar[150].date()), late
    assert late["decisions"] == len(range(150, 199, period)) < 10, late  # the last day decides nothing
    assert "and the run's later first decision day" in late["basis"] and "too few decisions" in late["basis"]
    _, metrics, _ = load_sweep(tmp_path / "late")
    md = render_markdown(policy_blocks({"policy": policy_evaluation(metrics, context, tmp_path / "late")}))
    assert f"the run's first decision day; the policy's own would be day {context['policy_first_day']}" in md


def test_a_registry_server_that_is_down_is_named_at_once(tmp_path, monkeypatch, mlflow_store):
    """MLflow's client retried an http store that was down for 4 min 7 s before it said so (review of 2026-12-05)."""
    import socket
    import time

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)  # restored after, whatever the commands set

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again below: nothing listens there
    uri = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    for command in (["policy", "evaluate", "default", "--seeds", "1000", "--out", str(tmp_path / "pe")],
                    ["policy", "train", "default", "--seeds", "0-1", "--steps", "64", "--num-envs", "4"]):  # fmt: skip
        res = CliRunner().invoke(main, [*command, "--tracking-uri", uri])
        assert res.exit_code == 2, res.output
        assert f"--tracking-uri '{uri}': no MLflow server answers at 127.0.0.1:{port}" in res.output, res.output
    assert time.perf_counter() - started < 30
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_store  # refused before the command points MLflow anywhere


def test_a_torch_device_object_is_checked_as_its_name():
    assert check_device(torch.device("cpu")) == "cpu"


def test_the_registrys_credentials_are_not_saved_with_the_policy(mlflow_store):
    """policy train logged --tracking-uri http://alice:s3cretPW@host as a run parameter (anyone who opens the MLflow
    UI sees those) and saved it in the model's metadata (review of 2026-12-05, session 24). A query is treated as a
    credential too (postgresql's ?password=), which a SQLite store lets this test use without a server."""
    from mlflow.tracking import MlflowClient

    from prometheus_sim.rl.dqn import DQNArgs, train_dqn

    uri = f"{mlflow_store}?timeout=20"
    args = DQNArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=(0, 1), total_steps=128, num_envs=4,
                   horizon_days=300, episode_days=70, learning_starts=64, checkpoints=0, tracking_uri=uri,
                   register_as="credentials-check")  # fmt: skip
    trained = train_dqn(args)
    assert MlflowClient(uri).get_run(trained.run_id).data.params["tracking_uri"] == f"{mlflow_store}?***"
    assert trained.meta["args"]["tracking_uri"] == f"{mlflow_store}?***"


def test_a_policy_is_not_registered_where_forecasters_are(mlflow_store):
    """policy train --register-as prometheus-forecaster made the forecasters' latest version a policy: every default
    forecaster reference failed until a new one was trained (review of 2026-12-05, session 24). A name that holds
    policies is refused to a forecaster too (the registered model's tag says what it holds)."""
    from prometheus_sim.forecast.train import TrainArgs, train
    from prometheus_sim.registry import FORECASTER_NAME, KIND_TAG
    from prometheus_sim.rl.dqn import DQNArgs, train_dqn

    small = dict(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=(0, 1), total_steps=128, num_envs=4,
                 horizon_days=300, episode_days=70, learning_starts=64, checkpoints=0, tracking_uri=mlflow_store)  # fmt: skip
    with pytest.raises(ValueError, match=f"register_as: '{FORECASTER_NAME}' is where prometheus-forecaster models"):
        train_dqn(DQNArgs(**small, register_as=FORECASTER_NAME))
    train_dqn(DQNArgs(**small, register_as="a-policy"))
    from mlflow.tracking import MlflowClient

    assert MlflowClient(mlflow_store).get_registered_model("a-policy").tags[KIND_TAG] == "prometheus-dqn"
    args = TrainArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=(0, 1, 2), epochs=1, horizon_days=300,
                     hidden_dim=16, lstm_layers=1, transformer_layers=1, nhead=4, tracking_uri=mlflow_store,
                     register_as="a-policy")  # fmt: skip
    with pytest.raises(ValueError, match="register_as: 'a-policy' in the registry at .* holds prometheus-dqn models"):
        train(args)


def test_evaluate_refuses_a_network_whose_input_is_not_its_observation(tiny_dqn, mlflow_store, tmp_path):
    """A network of 49 inputs registered with metadata saying 50: every dqn cell failed in its worker after the
    baselines ran, and the evaluation printed 'hold nan%, ...' (review of 2026-12-05, session 24)."""
    import mlflow

    from prometheus_sim.registry import experiment
    from prometheus_sim.rl.dqn import QNetwork

    bad = QNetwork(tiny_dqn.meta["obs_dim"] - 1)
    bad.meta = dict(tiny_dqn.meta)
    mlflow.set_tracking_uri(mlflow_store)
    with mlflow.start_run(experiment_id=experiment("mismatched-net", mlflow_store)):  # artifacts beside the store
        info = mlflow.pytorch.log_model(bad, name="model", serialization_format="pickle",
                                        registered_model_name="mismatched-net")  # fmt: skip
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model",
                                    f"mismatched-net@{info.registered_model_version}", "--seeds", "1000-1001",
                                    "--horizon-days", "60", "--out", str(tmp_path / "ev")])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "network takes 49 inputs, its metadata says observations of 50 values" in res.output, res.output
    assert not (tmp_path / "ev" / "metrics.parquet").exists()
