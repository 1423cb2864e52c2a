"""Environment and training speed of the RL part, figures measured in one run.

1. One ``PortfolioEnv`` stepped in a Python loop (random actions; resets counted).
2. ``gymnasium.vector.SyncVectorEnv`` of N of them (N = 16 and 256 by default).
3. Double-DQN training throughput (env steps/s, 16 envs, learning on every vector step).

The batched Numba environment and its torch twin are not built yet, so the issue's targets (>= 10
million env-steps/s at 4,096 envs, >= 100x the SyncVectorEnv figure) are reported as not measured.
Weekly decisions over ``default``. Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_rl.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import gymnasium as gym
import numpy as np

from prometheus_sim.market import Market
from prometheus_sim.rl.env import PortfolioEnv
from prometheus_sim.scenario import load_scenario

TARGET_BATCHED_STEPS_PER_S = 10e6


def single_env(market: Market, steps: int) -> float:
    env = PortfolioEnv(market=market)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(int(rng.integers(7)))
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - t0)


def sync_vector(market: Market, n: int, steps: int) -> float:
    envs = gym.vector.SyncVectorEnv([lambda: PortfolioEnv(market=market) for _ in range(n)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)  # fmt: skip
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.integers(0, 7, n))
    rate = steps * n / (time.perf_counter() - t0)
    envs.close()
    return rate


def training(steps: int) -> float:
    from prometheus_sim.rl.dqn import DQNArgs, train_dqn

    with tempfile.TemporaryDirectory() as tmp:
        args = DQNArgs(scenarios=("scenarios/default.yaml",), seeds=tuple(range(16)), total_steps=steps, num_envs=16,
                       learning_starts=500, tracking_uri=f"sqlite:///{tmp}/mlflow.db")  # fmt: skip
        t0 = time.perf_counter()
        train_dqn(args)
        return steps / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 2 if args.quick else 3
    market = Market.simulate(load_scenario("scenarios/default.yaml"), n_paths=32)
    single = statistics.median(single_env(market, 2_000 if args.quick else 5_000) for _ in range(repeats))
    print(f"one PortfolioEnv, Python loop: {single:,.0f} env-steps/s")
    for n in (16, 256):
        rate = statistics.median(sync_vector(market, n, 40 if n == 256 else 200) for _ in range(repeats))
        print(f"SyncVectorEnv x {n}: {rate:,.0f} env-steps/s ({rate / single:.2f}x one env)")
    train = training(10_000 if args.quick else 30_000)
    print(f"Double-DQN training, 16 envs (CPU): {train:,.0f} env-steps/s, including the learner's updates")
    print(f"batched Numba env at 4,096 envs: NOT MEASURED (not built yet; target >= {TARGET_BATCHED_STEPS_PER_S:,.0f}/s "
          "and >= 100x SyncVectorEnv)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
