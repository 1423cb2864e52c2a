"""The DQN: the guide's network, a short run that learns, the strategy seeing what the env showed,
clear errors, and the CLI."""

from __future__ import annotations

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


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_envs: must be >= 1, got 0"):
        DQNArgs(scenarios=("x",), seeds=(1,), num_envs=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device on this machine"):
            check_device("cuda")
    with pytest.raises(ValueError, match="cpu or cuda"):
        check_device("tpu")
    res = CliRunner().invoke(main, ["policy", "train", "default", "--num-envs", "0"])
    assert res.exit_code == 2 and "num_envs: must be >= 1" in res.output


def test_the_strategy_sees_what_the_env_showed(tiny_dqn):
    """A policy acts in a backtest on the very observation it was trained on (same step, same user)."""
    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(300), n_paths=2)
    profile = RiskProfile(risk_tolerance=0.3, time_to_goal=48)
    env = PortfolioEnv(market=market, episode_days=70)
    obs, _ = env.reset(seed=0, options={"path": 1, "start": 90, "profile": profile})
    profiles = goal_dated_from(RiskProfiles.of(profile, 1), 90, market.steps_per_day)
    adapter = SimAdapter(market.rows(slice(1, 2)), profiles=profiles, start=90)
    strategy = DQNStrategy()
    np.testing.assert_allclose(strategy.observations(adapter.snapshot(90))[0], obs, rtol=1e-6, atol=1e-6)


def test_a_short_run_registers_a_policy_that_backtests(tmp_path, mlflow_store, tiny_dqn):
    assert tiny_dqn.history and np.isfinite(tiny_dqn.history[-1]["steps_per_s"])
    assert abs(sum(tiny_dqn.meta["training_action_share"]) - 1.0) < 1e-9
    runner = CliRunner()
    res = runner.invoke(main, ["backtest", "default", "--strategy", "dqn,hold", "--seeds", "1-3", "--horizon-days", "120",
                               "--out", str(tmp_path / "bt"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["policy", "train", "default", "--seeds", "0-3", "--steps", "256", "--num-envs", "4",
                               "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "64"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "registered prometheus-dqn version" in res.output


def test_policy_evaluate_sweeps_the_baselines_and_says_what_the_policy_did(tmp_path, tiny_dqn):
    runner = CliRunner()
    res = runner.invoke(main, ["policy", "evaluate", "default", "--seeds", "100-102", "--horizon-days", "120",
                               "--fees-bps", "0,25", "--workers", "1", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "policy actions: hold" in res.output and "sharpe" in res.output
    import pandas as pd

    from prometheus_sim.metrics import ACTION_SHARE_COLUMNS

    m = pd.read_parquet(tmp_path / "pe" / "metrics.parquet")
    assert {"dqn", "hold", "buy_and_hold", "equal_weight", "sixty_forty"} == {s.split(" [")[0] for s in m["strategy"]}
    assert len(m) == 5 * 2 * 3
    np.testing.assert_allclose(m[list(ACTION_SHARE_COLUMNS)].sum(axis=1), 1.0)
    res = runner.invoke(main, ["report", str(tmp_path / "pe")])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "pe" / "report.md").read_text()
    assert "## RL training" in report and "## What the strategies did" in report
    assert (tmp_path / "pe" / "plots" / "rl_training.png").stat().st_size > 1000
    assert (tmp_path / "pe" / "plots" / "equity_default.png").exists()  # a cost sweep's curves are drawn too
    res = runner.invoke(main, ["policy", "evaluate", "default", "--seeds", "0-2", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "were used in training" in res.output


def test_a_policy_fed_the_future_learns_to_use_it(mlflow_store):
    """The learning loop works: with next week's returns in the observation (a test-only flag), a short
    run beats both hold and buy-and-hold by a wide margin in the guide's reward (measured: +9.6 per
    episode against -0.8 and -15.3). If it could not, training would be broken, not the market."""
    from prometheus_sim.rl.dqn import train_dqn

    args = DQNArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(8)), total_steps=12000, num_envs=8,
                   horizon_days=500, episode_days=91, learning_starts=500, leak_future=True, seed=1,
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
