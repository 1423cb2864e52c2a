"""Bad or odd input to the RL surface, from an adversarial review: each once hung, crashed deep inside, or passed
silently. Each is now refused naming the field, or handled."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from prometheus_sim.market import Market
from prometheus_sim.portfolio import CostModel, RiskProfile
from prometheus_sim.rl.dqn import DQNArgs
from prometheus_sim.rl.env import PortfolioEnv
from prometheus_sim.rl.vector import PooledVectorEnv, PortfolioVectorEnv
from prometheus_sim.scenario import ScenarioSpec, load_scenario
from prometheus_sim.sweep import parse_seeds
from tests.conftest import SCENARIOS, minimal_dict


def test_a_seed_range_with_a_digit_too_many_is_refused_before_it_is_built():
    """``1000-100000000000`` built a set of 1e11 seeds (minutes and gigabytes) before anything was checked."""
    with pytest.raises(ValueError, match=r"seed range '1000-100000000000' holds 99,999,999,001 seeds; at most"):
        parse_seeds("1000-100000000000")
    assert len(parse_seeds("0-999999")) == 1_000_000


def test_a_folder_named_like_a_shipped_scenario_does_not_hide_it(tmp_path, monkeypatch):
    from prometheus_sim.cli import _is_market_dir

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()  # a run's output, say
    assert not _is_market_dir("default")
    env = PortfolioEnv(scenario="default", n_paths=1, horizon_days=400)
    assert env.market.spec.name == "default"
    (tmp_path / "mine").mkdir()  # a folder named like no scenario stays a (broken) saved market, named as such
    assert _is_market_dir("mine")


def test_the_torch_twin_steps_a_market_of_cash_alone():
    """BUY_MODERATE split the cash share over (assets - 1) = 0 assets: a ZeroDivisionError the Numba env never hit."""
    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    data = minimal_dict(horizon_days=200, correlation={})
    data["assets"] = [a for a in data["assets"] if a["name"] == "USDC"]
    market = Market.simulate(ScenarioSpec.from_dict(data), n_paths=2)
    vec = PortfolioVectorEnv(3, market=market, episode_days=35)
    twin = TorchPortfolioVectorEnv(3, vec.pool, device="cpu", dtype=torch.float64)
    vec.reset(seed=1)
    twin.reset(seed=1)
    actions = np.array([2, 2, 2])  # buy_moderate
    _, r_nb, _, _, _ = vec.step(actions)
    _, r_t, _, _ = twin.step(torch.as_tensor(actions))
    np.testing.assert_allclose(r_t.numpy(), r_nb, rtol=1e-12, atol=1e-12)


def test_env_arguments_and_reset_options_are_checked_where_given():
    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(200), n_paths=2)
    for bad in ({"fees_bps": 5}, 0):  # a dict failed at the first step; 0 silently became the default costs
        with pytest.raises(ValueError, match="costs: a CostModel"):
            PortfolioVectorEnv(2, market=market, costs=bad)
    with pytest.raises(ValueError, match="num_envs: at most 16,777,216"):
        PortfolioVectorEnv(10**9, market=market)
    with pytest.raises(ValueError, match=r"market: given with n_paths, seed, horizon_days, which build a market"):
        PortfolioEnv(market=market, horizon_days=50, n_paths=0, seed=3)  # all three were ignored without a word
    for bad in ("no", 1, None):  # "no" from a config file was truthy: next period's returns leaked into the state
        with pytest.raises(ValueError, match="leak_future: true or false"):
            PortfolioEnv(market=market, leak_future=bad)
    with pytest.raises(ValueError, match="market: a prometheus_sim.market.Market, got str"):
        PortfolioEnv(market="default")
    # a pool fixes the market, period, episode, costs and observation: other settings beside it were ignored
    pool = PortfolioVectorEnv(2, market=market, episode_days=35).pool
    assert PortfolioVectorEnv(3, pool=pool).pool is pool
    with pytest.raises(ValueError, match="pool: given with scenario, period_days, costs, leak_future, which"):
        PortfolioVectorEnv(2, pool=pool, scenario="crypto_winter", period_days=1, costs=CostModel(), leak_future=True)
    env = PortfolioEnv(market=market, episode_days=35)
    with pytest.raises(ValueError, match="options: a dict"):
        env.reset(options="abc")
    # start 0 is the venue's whole run from the first open, as a backtest starts (the env's docstring says so); any
    # other start opens the book in cash at that close
    profile = RiskProfile(risk_tolerance=0.5, time_to_goal=60, investment_amount=100_000.0)
    _, info = env.reset(options={"start": 1, "profile": profile})
    assert info["value"] == pytest.approx(100_000.0, rel=1e-12)


def test_a_pool_of_vector_envs_closes_its_parts_and_counts_all_envs_in_errors():
    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(200), n_paths=2)
    pooled = PooledVectorEnv([PortfolioVectorEnv(2, market=market, episode_days=35),
                              PortfolioVectorEnv(3, market=market, episode_days=35)])  # fmt: skip
    pooled.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions: expected 5 integers, got shape \(5,\) of float64"):
        pooled.step(np.zeros(5))
    pooled.close()
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        pooled.step(np.zeros(5, dtype=np.int64))


def test_training_settings_that_cannot_train_are_refused():
    base = {"scenarios": ("x",), "seeds": (1,)}
    for change, words in (({"batch_size": 0}, "batch_size: an integer >= 1"), ({"gamma": -1.0}, r"gamma: a number in \[0"),
                          ({"tau": 5.0}, r"tau: a number in \(0, 1\]"), ({"eps_start": 3.0}, "eps_start"),
                          ({"eps_start": 0.05, "eps_end": 0.5}, r"eps_end: 0.5 is above eps_start \(0.05\)"),
                          ({"lr": float("nan")}, "lr: a number"), ({"lr": -1.0}, "lr: a number"),
                          ({"period_days": 7.5}, "period_days: an integer >= 1"),
                          ({"num_envs": 200_000, "total_steps": 400_000}, "use at most 100000 envs"),
                          ({"scenarios": (str(SCENARIOS / "default.yaml"), "scenarios/../scenarios/default.yaml")},
                           "name one scenario more than once")):  # fmt: skip
        with pytest.raises(ValueError, match=words):
            DQNArgs(**{**base, **change})


def test_settings_found_only_after_training_or_deep_in_mlflow_are_refused_up_front(tmp_path, monkeypatch):
    """A registered name MLflow refuses failed after the whole run; exploration_fraction=True ran as 1; a relative
    SQLite store failed after the markets were simulated, a folder as SQLAlchemy's error, a number as an
    AttributeError; reading a registry that is not there created an empty one (review of 2026-12-05, session 19)."""
    from prometheus_sim.registry import RegistryError, check_store, resolve

    base = {"scenarios": ("x",), "seeds": (1,)}
    for change, words in (({"register_as": "bad name/x"}, "register_as: a registered model's name"),
                          ({"register_as": ""}, "register_as"), ({"exploration_fraction": True}, "exploration_fraction"),
                          ({"exploration_fraction": "0.3"}, "exploration_fraction"), ({"device": 5}, "device"),
                          ({"batch_size": 10**9}, "more than the replay buffer holds"),
                          ({"tracking_uri": 5}, "tracking_uri: a store URI is text")):  # fmt: skip
        with pytest.raises(ValueError, match=words):
            DQNArgs(**{**base, **change})
    monkeypatch.chdir(tmp_path)
    assert check_store("sqlite:///mlflow.db", "--tracking-uri") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ValueError, match="is a folder; give the database file in it"):
        check_store(f"sqlite:///{tmp_path}", "--tracking-uri")
    with pytest.raises(RegistryError, match="no registry at .*none.db \\(the file does not exist\\)"):
        resolve("prometheus-dqn@latest", f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()


def test_make_vec_passes_what_gymnasium_passes_a_vector_entry_point():
    import gymnasium as gym

    from prometheus_sim.rl import ENV_ID

    envs = gym.make_vec(ENV_ID, num_envs=2, render_mode=None, n_paths=2, horizon_days=400)
    assert envs.num_envs == 2
    envs.close()
    with pytest.raises(ValueError, match="max_episode_steps: an episode lasts episode_days"):
        gym.make_vec(ENV_ID, num_envs=2, max_episode_steps=1, n_paths=2, horizon_days=400)


def test_a_deleted_experiment_is_named_not_a_traceback(tmp_path):
    import mlflow

    from prometheus_sim.registry import configure, experiment

    try:
        uri = configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
        mlflow.delete_experiment(experiment("prometheus-dqn", uri))  # tidied away in MLflow's UI
        with pytest.raises(ValueError, match="experiment 'prometheus-dqn' in the store at .* is deleted; restore it"):
            experiment("prometheus-dqn", uri)
    finally:  # the session's store (MLFLOW_TRACKING_URI, which configure leaves as it was) for the tests after this
        configure()


def test_register_as_names_the_model_and_leaves_latest_of_the_default_name_alone(tmp_path, mlflow_store, tiny_dqn):
    from click.testing import CliRunner

    from prometheus_sim.cli import main
    from prometheus_sim.registry import RegistryError, resolve

    with pytest.raises(RegistryError):  # a read of another store does not make it the process's default
        resolve("prometheus-dqn@latest", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_store
    before = resolve("prometheus-dqn@latest")
    runner = CliRunner()
    for command in (
        ["policy", "train", "default", "--seeds", "0-3"],
        ["forecast", "train", "default", "--seeds", "0-5"],
    ):
        res = runner.invoke(main, [*command, "--register-as", "team/x"])
        assert res.exit_code == 2 and "--register-as: a registered model's name" in res.output, res.output
    res = runner.invoke(main, ["policy", "train", "default", "--seeds", "0-3", "--steps", "128", "--num-envs", "4",
                               "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "32",
                               "--checkpoints", "1", "--register-as", "team-policy"])  # fmt: skip
    assert res.exit_code == 0 and "registered team-policy version 1" in res.output, res.output
    assert resolve("prometheus-dqn@latest") == before and resolve("team-policy@latest") == ("team-policy", "1")


def test_an_env_whose_tables_cannot_fit_is_refused_before_they_are_built(monkeypatch):
    """The features and the batched env's tables are several times a market's closes: a pool of a market that fit in
    memory could not fit them, and the process was killed part-way; now refused up front, as a simulation is."""
    import prometheus_sim.memory as memory
    from prometheus_sim.memory import OutputsTooLarge
    from prometheus_sim.rl.env import tables_nbytes

    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(300), n_paths=2)
    envs = PortfolioVectorEnv(4, market=market, episode_days=70)
    built = envs.pool.key.nbytes + envs.pool.mobs.nbytes + envs.pool.recent.nbytes + envs.pool.template._recent.nbytes
    assert built < tables_nbytes(market) < 40 * built  # an estimate above what is kept, of its order
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: tables_nbytes(market) - 1)
    with pytest.raises(OutputsTooLarge, match=r"the env of market 'default' \(2 paths x 300 steps\) needs .* for its "
                       "features and tables"):  # fmt: skip
        PortfolioEnv(market=market, episode_days=70)
