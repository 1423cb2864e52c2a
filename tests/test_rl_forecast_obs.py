"""Forecasts as observation features (issue 12): the forecaster's predicted return and calibrated band per featured
crypto asset, equal to what the predictor answers, blind to the future, the same in the single, batched and torch
envs and in the ``dqn`` strategy, pinned to the forecaster's version, and refused on seeds the forecaster has seen."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from adapters.sim import SimAdapter
from prometheus_sim.cli import main
from prometheus_sim.features import WARMUP_DAYS
from prometheus_sim.forecast.predictor import PricePredictor
from prometheus_sim.market import Market
from prometheus_sim.portfolio import RiskProfile, RiskProfiles
from prometheus_sim.rl.env import PortfolioEnv, goal_dated_from
from prometheus_sim.rl.forecast_obs import FORECAST_FEATURES, ForecastInputs, policy_first_day
from prometheus_sim.rl.provenance import seen_seeds
from prometheus_sim.rl.vector import PortfolioVectorEnv
from prometheus_sim.scenario import load_scenario
from tests.conftest import SCENARIOS
from tests.test_rl_env import moved_after

PROFILE = RiskProfile(risk_tolerance=0.6, time_to_goal=48, investment_amount=100_000.0)
BASE_OBS = 50  # the guide's 32 values and the recent features of three crypto assets


@pytest.fixture(scope="module")
def market() -> Market:
    """default (seed 7, which the tiny forecaster never saw: it trained on seeds 0-5), 300 days, 3 paths."""
    return Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(300), n_paths=3)


@pytest.fixture(scope="module")
def forecaster(tiny_forecaster) -> str:
    return f"{tiny_forecaster.name}@{tiny_forecaster.version}"


def test_the_columns_are_the_predictors_own_answer_at_the_decision_day(market, forecaster):
    env = PortfolioEnv(market=market, episode_days=70, forecaster=forecaster)
    n_extra = 3 * len(FORECAST_FEATURES)
    assert env.observation_space.shape == (BASE_OBS + n_extra,)
    predictor = PricePredictor.load(forecaster)
    assert env._first_day == WARMUP_DAYS + predictor.window - 1  # the forecaster's first whole window
    day = 150
    obs, _ = env.reset(seed=0, options={"path": 1, "start": env.start_step(day), "profile": PROFILE})
    columns = obs[-n_extra:].reshape(3, 2)
    for slot, asset in enumerate(("BTC", "ETH", "SOL")):  # default's featured crypto assets, largest first
        answer = predictor.predict(market, asset, path=1, day=day)
        mu = np.log(answer["predictions"][-1] / answer["last_close"])
        half = np.log(answer["upper"][-1] / answer["predictions"][-1])  # the 0.8 band's half-width at the horizon
        np.testing.assert_allclose(columns[slot], [mu, half], rtol=1e-5, atol=1e-7)
    assert np.all(columns[:, 1] > 0) and np.any(columns[:, 0] != 0)
    # before the first whole window the table holds zeros, and no episode is drawn to start there
    assert np.all(env._recent[:, : env._first_day, BASE_OBS - 32 :] == 0)
    starts = [env.reset(seed=s)[1]["step"] for s in range(30)]
    assert min(starts) >= env.start_step(env._first_day)


def test_the_forecast_columns_ignore_the_future(market, forecaster):
    t = 140
    moved = moved_after(market, t)
    opts = {"path": 2, "start": t, "profile": PROFILE}
    o1, _ = PortfolioEnv(market=market, episode_days=70, forecaster=forecaster).reset(seed=0, options=opts)
    o2, _ = PortfolioEnv(market=moved, episode_days=70, forecaster=forecaster).reset(seed=0, options=opts)
    np.testing.assert_array_equal(o1, o2)
    # and the day after does move them: the comparison above compared live columns
    o3, _ = PortfolioEnv(market=moved_after(market, t - 1), episode_days=70, forecaster=forecaster).reset(
        seed=0, options=opts
    )
    assert not np.array_equal(o1[BASE_OBS:], o3[BASE_OBS:])


def test_the_batched_and_torch_envs_read_the_same_columns(market, forecaster):
    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    single = PortfolioEnv(market=market, episode_days=70, forecaster=forecaster)
    envs = PortfolioVectorEnv(8, market=market, episode_days=70, forecaster=forecaster)
    np.testing.assert_array_equal(envs.pool.recent, single._recent.astype(np.float32))
    obs, info = envs.reset(seed=3)
    twin = TorchPortfolioVectorEnv(8, envs.pool, dtype=__import__("torch").float64)
    tobs = twin.reset(seed=3).numpy()
    np.testing.assert_allclose(tobs, obs, rtol=1e-6, atol=1e-6)
    for k in range(8):  # each batched env's columns are the single env's at its start
        o, _ = single.reset(options={"path": int(info["path"][k]), "start": int(info["step"][k]), "profile": PROFILE})
        np.testing.assert_allclose(obs[k, BASE_OBS:], o[BASE_OBS:], rtol=1e-6)
    actions = np.arange(8) % 7
    after, *_ = envs.step(actions)
    assert np.all(np.isfinite(after)) and after.shape == (8, BASE_OBS + 6)


def test_seeds_the_forecaster_has_seen_are_refused(forecaster, tiny_forecaster):
    from prometheus_sim.rl.dqn import DQNArgs, make_envs

    seen = sorted(int(s) for s in tiny_forecaster.meta["seeds"])
    assert seen == list(range(6))
    spec = load_scenario(SCENARIOS / "whale_dump.yaml").with_horizon(300)  # another scenario at a seen seed: in-sample
    with pytest.raises(ValueError, match=r"market: \[3\] are seeds forecaster prometheus-forecaster@\d+ trained"):
        PortfolioEnv(market=Market.simulate(spec, seeds=[3, 40]), episode_days=70, forecaster=forecaster)
    args = DQNArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=(4, 5, 6, 7), total_steps=64, num_envs=4,
                   horizon_days=300, episode_days=70, learning_starts=16, forecaster=forecaster)  # fmt: skip
    with pytest.raises(ValueError, match=r"seeds: \[4, 5\] are seeds forecaster"):
        make_envs(args)
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "5-9", "--steps", "64", "--num-envs", "4",
                                    "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "16",
                                    "--forecaster", forecaster])  # fmt: skip
    assert res.exit_code == 2 and "--seeds: [5] are seeds forecaster" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "10-13", "--steps", "64", "--num-envs",
                                    "4", "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "16",
                                    "--forecaster", forecaster,
                                    "--forecast-level", "0.55"])  # fmt: skip
    assert res.exit_code == 2 and "level 0.55: calibrated levels are" in res.output, res.output
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "10-13", "--steps", "64", "--num-envs",
                                    "4", "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "16", "--forecaster",
                                    "no-such-forecaster@1"])  # fmt: skip
    assert res.exit_code == 2 and "no-such-forecaster" in res.output and "Traceback" not in res.output, res.output


def test_a_featured_asset_the_forecaster_never_learned_is_refused(forecaster):
    import yaml

    from prometheus_sim.scenario import ScenarioSpec

    raw = yaml.safe_load((SCENARIOS / "default.yaml").read_text().replace("SOL", "DOGE"))  # SOL under another name
    spec = ScenarioSpec.from_dict(raw).with_horizon(300)
    with pytest.raises(ValueError, match=r"\['DOGE'\] are not among the assets it was trained on"):
        PortfolioEnv(market=Market.simulate(spec, seed=40, n_paths=1), episode_days=70, forecaster=forecaster)


@pytest.fixture(scope="module")
def forecast_policy(forecaster, mlflow_store):
    """A tiny policy observing the tiny forecaster, registered under its own name (``prometheus-dqn@latest`` is
    left to the other tests' policy)."""
    from prometheus_sim.rl.dqn import DQNArgs, train_dqn

    args = DQNArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=(10, 11, 12, 13), total_steps=256, num_envs=4,
                   horizon_days=300, episode_days=70, learning_starts=64, tracking_uri=mlflow_store,
                   forecaster=forecaster, register_as="dqn-with-forecasts", checkpoints=1)  # fmt: skip
    return train_dqn(args)


def test_a_policy_records_its_pinned_forecaster_and_the_strategy_rebuilds_its_observation(
    market, forecaster, forecast_policy
):
    from strategies.dqn import DQNStrategy

    meta = forecast_policy.meta
    assert meta["obs_dim"] == BASE_OBS + 6
    record = meta["forecast"]
    assert record["model"] == forecaster and record["level"] == 0.8 and record["seeds"] == list(range(6))
    assert policy_first_day(meta) == record["first_day"] == WARMUP_DAYS + 29
    assert set(range(6)) <= seen_seeds(meta)  # every in-sample check counts the forecaster's seeds as seen
    strategy = DQNStrategy(model=f"dqn-with-forecasts@{forecast_policy.version}")
    assert strategy.forecast.reference == forecaster and strategy.first_decision_day == record["first_day"]
    env = PortfolioEnv(market=market, episode_days=70, forecaster=forecaster)
    for day in (record["first_day"], 150):
        start = env.start_step(day)
        obs, _ = env.reset(seed=0, options={"path": 2, "start": start, "profile": PROFILE})
        profiles = goal_dated_from(RiskProfiles.of(PROFILE, 1), start, market.steps_per_day)
        adapter = SimAdapter(market.rows(slice(2, 3)), profiles=profiles, start=start)
        np.testing.assert_allclose(strategy.observations(adapter.snapshot(start))[0], obs, rtol=1e-5, atol=1e-6)
    # before the forecaster's first whole window the policy holds, whatever its network says
    adapter = SimAdapter(market.rows(slice(0, 1)))
    assert strategy.decide_batch(adapter.snapshot(record["first_day"] - 1)).action.tolist() == [0]


def test_policy_evaluate_refuses_seeds_the_forecaster_saw(tmp_path, forecast_policy):
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model",
                                    f"dqn-with-forecasts@{forecast_policy.version}", "--seeds", "2-3", "--horizon-days",
                                    "200", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and "were seen by the forecaster whose predictions this policy observes" in res.output, (
        res.output
    )
    res = CliRunner().invoke(main, ["backtest", "whale_dump", "--strategy", "dqn", "--strategy-param",
                                    f"model=dqn-with-forecasts@{forecast_policy.version}", "--seeds", "5-6",
                                    "--horizon-days", "200", "--out", str(tmp_path / "bt"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and "--seeds [5]: dqn's forecaster (prometheus-forecaster@" in res.output, res.output
    assert ") trained or was chosen on these seeds (in-sample in whale_dump" in res.output


def test_a_forecast_policy_is_evaluated_on_unseen_seeds(tmp_path, forecast_policy):
    import pandas as pd

    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--model",
                                    f"dqn-with-forecasts@{forecast_policy.version}", "--seeds", "300-301",
                                    "--horizon-days", "200", "--workers", "1", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 0, res.output
    metrics = pd.read_parquet(tmp_path / "pe" / "metrics.parquet")
    dqn = metrics[metrics["strategy"] == "dqn"]
    assert len(dqn) == 2 and set(metrics["strategy"]) >= {"dqn", "sixty_forty"}
    assert (
        dqn["total_return"].notna().all()
        and abs(dqn[[c for c in dqn if c.startswith("share_")]].sum(axis=1) - 1).max() < 1e-9
    )
    assert "after its forecaster's first whole window" in res.output
    res = CliRunner().invoke(main, ["report", str(tmp_path / "pe")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "pe" / "report.md").read_text()
    assert (
        "it observes forecaster prometheus-forecaster@" in text and "after its forecaster's first whole window" in text
    )


def test_an_uncalibrated_level_or_a_model_that_is_no_forecaster_is_named(forecaster, tiny_dqn):
    with pytest.raises(ValueError, match="level 0.42: calibrated levels are"):
        ForecastInputs.load(forecaster, 0.42)
    with pytest.raises(ValueError, match="forecast_level: a calibrated band level"):
        ForecastInputs.load(forecaster, True)
    with pytest.raises(ValueError, match="is not a prometheus forecaster"):
        ForecastInputs.load(f"{tiny_dqn.name}@{tiny_dqn.version}")


def test_a_forecast_policy_passes_the_lookahead_check(market, forecast_policy):
    """Its decisions at each checked step are the same on a market cut there (no future, no hidden state)."""
    from prometheus_sim.lookahead import check_lookahead
    from prometheus_sim.strategy_spec import StrategySpec
    from strategies import registry

    spec = StrategySpec("dqn", (("model", f"dqn-with-forecasts@{forecast_policy.version}"),))
    report = check_lookahead(spec, market.head(200), SimAdapter, registry.build, n_checks=4)
    assert report.passed, [str(f) for f in report.findings]
    assert len(report.steps_checked) == 4 and min(report.steps_checked) >= forecast_policy.meta["forecast"]["first_day"]


def test_real_days_in_the_forecasters_calibration_window_are_not_out_of_time():
    """A policy trained on a scenario fitted to 2020-2023 that observes a forecaster of a scenario fitted to 2024 has
    seen 2024's statistics through its inputs: 2024 is not out of time for it, 2025 is."""
    import datetime as dt

    from prometheus_sim.rl.provenance import out_of_time, time_basis

    meta = {"scenario_digests": {"fitted": "d1"}, "calibrated_to": {"fitted": ["2020-01-01", "2023-12-31"]},
            "forecast": {"scenario_digests": {"later": "d2"}, "calibrated_to": {"later": ["2024-01-01", "2024-12-31"]}}}  # fmt: skip
    assert out_of_time(meta, dt.date(2024, 6, 1)) is False
    assert out_of_time(meta, dt.date(2025, 1, 1)) is True
    assert out_of_time({**meta, "forecast": {}}, dt.date(2024, 6, 1)) is True
    assert "only days after 2024-12-31 are out of time" in time_basis(meta, dt.date(2024, 6, 1), cut=True)
    unknown = {**meta, "forecast": {"scenario_digests": {"later": "d2"}, "calibrated_to": {}}}
    assert out_of_time(unknown, dt.date(2025, 1, 1)) is None


def test_a_policy_for_real_markets_needs_a_forecaster_that_reads_what_they_have(tmp_path, forecast_policy):
    """The tiny forecaster reads on-chain and macro data, which the shipped real series lack: refused up front,
    naming the block, not cell by cell after the baselines ran (review of 2026-12-05, session 21)."""
    res = CliRunner().invoke(main, ["policy", "evaluate", "default", "--real", "--model",
                                    f"dqn-with-forecasts@{forecast_policy.version}", "--seeds", "300",
                                    "--horizon-days", "200", "--workers", "1", "--out", str(tmp_path / "pe")])  # fmt: skip
    assert res.exit_code == 2 and "which reads what this market lacks" in res.output, res.output
    assert (
        "forecast train ... --no onchain --no macro" in res.output
        and not (tmp_path / "pe" / "metrics.parquet").exists()
    )


def test_a_forecast_level_without_a_forecaster_is_refused(market):
    from prometheus_sim.rl.dqn import DQNArgs

    with pytest.raises(ValueError, match="forecast_level: sets how the forecast columns are made, and no forecaster"):
        PortfolioEnv(market=market, episode_days=70, forecast_level=0.9)
    with pytest.raises(ValueError, match="tracking_uri: sets how the forecast columns are made, and no forecaster"):
        PortfolioEnv(market=market, episode_days=70, tracking_uri="sqlite:////tmp/x.db")
    with pytest.raises(ValueError, match="forecast_level: sets the forecast columns' band, and no forecaster"):
        DQNArgs(scenarios=("default",), seeds=(1,), forecast_level=0.9)
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "10-13", "--forecast-level", "0.9"])
    assert res.exit_code == 2 and "--forecast-level: sets the forecast columns' band" in res.output, res.output


def test_a_long_forecaster_window_gives_the_strategy_the_columns_the_env_trained_on(mlflow_store, forecast_policy):
    """A 340-day window reaches back past the recent features' 365 days of history: the strategy computed zeros
    where the env showed forecasts, and its slow statistics (MACD) restarted inside the window (review of
    2026-12-05, session 21). Compared after day 365, where the cut matters."""
    from prometheus_sim.forecast.train import TrainArgs, train
    from prometheus_sim.rl.dqn import QNetwork
    from strategies.dqn import DQNStrategy

    long = train(TrainArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(6)), epochs=1, window=340,
                           horizon_days=1000, split_frac=0.4, hidden_dim=8, lstm_layers=1, transformer_layers=1,
                           nhead=2, batch_size=64, max_windows_per_epoch=200, tracking_uri=mlflow_store,
                           register_as="fc-long-window"))  # fmt: skip
    reference = f"{long.name}@{long.version}"
    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(600), seed=40, n_paths=1)
    env = PortfolioEnv(market=market, episode_days=70, forecaster=reference)
    assert env._first_day == WARMUP_DAYS + 339
    network = QNetwork(BASE_OBS + 6)
    network.meta = {**forecast_policy.meta, "forecast": env.forecast.record()}
    strategy = DQNStrategy.from_network(network)
    for day in (env._first_day, 420, 520):
        start = env.start_step(day)
        obs, _ = env.reset(seed=0, options={"path": 0, "start": start, "profile": PROFILE})
        assert np.any(obs[BASE_OBS:] != 0)
        profiles = goal_dated_from(RiskProfiles.of(PROFILE, 1), start, market.steps_per_day)
        adapter = SimAdapter(market, profiles=profiles, start=start)
        np.testing.assert_allclose(strategy.observations(adapter.snapshot(start))[0], obs, rtol=1e-5, atol=1e-6)


def test_policy_train_with_a_forecaster_says_what_the_policy_observes(forecaster):
    res = CliRunner().invoke(main, ["policy", "train", "default", "--seeds", "20-23", "--steps", "128", "--num-envs", "4",
                                    "--horizon-days", "300", "--episode-days", "70", "--learning-starts", "32",
                                    "--checkpoints", "1", "--forecaster", forecaster, "--forecast-level", "0.95",
                                    "--register-as", "cli-forecast-policy"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"the policy observes forecaster {forecaster} (predicted return and 0.95 band per featured crypto asset; " \
        f"56 values); its episodes start at the forecaster's first whole window, day {WARMUP_DAYS + 29}, and in a " \
        "backtest it first decides on day 63" in res.output, res.output  # fmt: skip
    assert "registered cli-forecast-policy version 1" in res.output


def test_the_stores_named_are_the_ones_used_with_no_default_store(tmp_path, monkeypatch, mlflow_store, forecaster,
                                                                  forecast_policy):  # fmt: skip
    """With MLFLOW_TRACKING_URI unset, a forecaster and a policy are read from the stores named, and a backtest of the
    policy records its store for the report (it recorded the project's default store, and the report lost the
    training curve; review of 2026-12-05, session 21)."""
    import json

    import prometheus_sim.registry as registry

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setattr(registry, "DEFAULT_STORE", tmp_path / ".mlflow")  # a default store would be made here
    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(300), seed=40, n_paths=1)
    env = PortfolioEnv(market=market, episode_days=70, forecaster=forecaster, tracking_uri=mlflow_store)
    assert env.observation_space.shape == (BASE_OBS + 6,)
    runner = CliRunner()
    Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(200), seed=300, n_paths=1).save(
        tmp_path / "sim"
    )
    res = runner.invoke(main, ["backtest", str(tmp_path / "sim"), "--strategy", "dqn", "--strategy-param",
                               f"model=dqn-with-forecasts@{forecast_policy.version}", "--strategy-param",
                               f"tracking_uri={mlflow_store}", "--workers", "1", "--out", str(tmp_path / "bt"),
                               "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "bt" / "policy_eval.json").read_text())["tracking_uri"] == mlflow_store
    assert not (tmp_path / ".mlflow").exists()


def test_a_market_lacking_what_the_forecaster_reads_is_refused_by_the_strategy(forecast_policy):
    """In the API and a replay it failed at every decision as a KeyError (an HTTP 500, a traceback)."""
    from strategies.dqn import DQNStrategy

    strategy = DQNStrategy(model=f"dqn-with-forecasts@{forecast_policy.version}")
    strategy.check_blocks(())
    with pytest.raises(ValueError, match="which reads what this market lacks: .*onchain.* forecast train ... --no "
                       "onchain --no macro"):  # fmt: skip
        strategy.check_blocks(("onchain", "macro"))
    with pytest.raises(ValueError, match=r"forecast train \.\.\. --no volume --no onchain --no macro\)"):
        strategy.check_blocks(("volume", "onchain", "macro"))  # a chain's snapshots: closes only
