"""Shared fixtures: small scenario builders so tests stay fast and readable."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from prometheus_sim.scenario import ScenarioSpec, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".cache" / "matplotlib"))


def minimal_dict(**overrides) -> dict:
    """A small valid scenario as a plain dict: two crypto assets and a stablecoin."""
    data = {
        "name": "mini",
        "seed": 11,
        "horizon_days": 60,
        "assets": [
            {"name": "BTC", "kind": "crypto", "start_price": 30000.0, "drift": 0.2, "vol": 0.6},
            {"name": "ETH", "kind": "crypto", "start_price": 2000.0, "drift": 0.3, "vol": 0.8},
            {
                "name": "USDC",
                "kind": "stable",
                "start_price": 1.0,
                "drift": 0.0,
                "vol": 0.02,
                "process": {"type": "peg", "peg": {"kappa": 500.0}},
            },
        ],
        "correlation": {"BTC/ETH": 0.7},
    }
    data.update(overrides)
    return copy.deepcopy(data)


@pytest.fixture
def mini_dict() -> dict:
    return minimal_dict()


@pytest.fixture
def mini_spec() -> ScenarioSpec:
    return ScenarioSpec.from_dict(minimal_dict())


@pytest.fixture(scope="session")
def default_spec() -> ScenarioSpec:
    return load_scenario(SCENARIOS / "default.yaml")


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory) -> str:
    """Every test's MLflow store is a temporary SQLite file: tests never touch the project's .mlflow/."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri  # spawned workers (sweeps, the lookahead check) inherit it
    return uri


@pytest.fixture(scope="session")
def tiny_forecaster(mlflow_store):
    """A tiny registered prometheus-forecaster, so strategies built by name (``forecast``) can load it."""
    from prometheus_sim.forecast.train import TrainArgs, train

    args = TrainArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(6)), epochs=1, horizon_days=300,
                     hidden_dim=16, lstm_layers=1, transformer_layers=1, nhead=4, batch_size=128,
                     max_windows_per_epoch=1000, tracking_uri=mlflow_store)  # fmt: skip
    return train(args)


@pytest.fixture(scope="session")
def tiny_dqn(mlflow_store):
    """A tiny registered prometheus-dqn policy, so strategies built by name (``dqn``) can load it."""
    from prometheus_sim.rl.dqn import DQNArgs, train_dqn

    args = DQNArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(4)), total_steps=512, num_envs=4,
                   horizon_days=300, episode_days=70, learning_starts=64, tracking_uri=mlflow_store)  # fmt: skip
    return train_dqn(args)
