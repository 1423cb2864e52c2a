"""Environment and training speed of the RL part, figures measured in one run.

1. One ``PortfolioEnv`` stepped in a Python loop (random actions; resets counted).
2. ``gymnasium.vector.SyncVectorEnv`` of N of them (N = 16 and 256 by default).
3. The batched Numba environment (``PortfolioVectorEnv``) at 256 and 4,096 envs, at 1 thread and
   at every thread, through its Gymnasium ``step`` (observation copies and autoresets included).
4. The torch twin (``TorchPortfolioVectorEnv``) at 4,096 envs on ``--device`` (float32 and float64).
5. Double-DQN training throughput (env steps/s, 16 envs, learning on every vector step).

Targets (the RL issue): batched >= 10 million env-steps/s at 4,096 envs and >= 100x SyncVectorEnv.
Weekly decisions over ``default`` (a pool of 32 ten-year paths). Run::

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


def batched(market: Market, n: int, steps: int, threads: int) -> float:
    import numba

    from prometheus_sim.rl.vector import PortfolioVectorEnv

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        env = PortfolioVectorEnv(n, market=market)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        actions = [rng.integers(0, 7, n) for _ in range(steps)]
        env.step(actions[0])
        t0 = time.perf_counter()
        for a in actions:
            env.step(a)
        return steps * n / (time.perf_counter() - t0)
    finally:
        numba.set_num_threads(before)


def torch_twin(market: Market, n: int, steps: int, device: str, dtype) -> float:
    import torch

    from prometheus_sim.rl.vector import EnvPool
    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    env = TorchPortfolioVectorEnv(n, EnvPool.build(PortfolioEnv(market=market)), device=device, dtype=dtype)
    env.reset(seed=0)
    g = torch.Generator(device="cpu").manual_seed(0)
    actions = [torch.randint(0, 7, (n,), generator=g).to(device) for _ in range(steps)]
    env.step(actions[0])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * n / (time.perf_counter() - t0)


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
    parser.add_argument("--device", default="cpu", help="Where the torch twin runs (cpu or cuda).")
    args = parser.parse_args()
    repeats = 2 if args.quick else 3
    market = Market.simulate(load_scenario("scenarios/default.yaml"), n_paths=32)
    single = statistics.median(single_env(market, 2_000 if args.quick else 5_000) for _ in range(repeats))
    print(f"one PortfolioEnv, Python loop: {single:,.0f} env-steps/s")
    for n in (16, 256):
        rate = statistics.median(sync_vector(market, n, 40 if n == 256 else 200) for _ in range(repeats))
        print(f"SyncVectorEnv x {n}: {rate:,.0f} env-steps/s ({rate / single:.2f}x one env)")
    import numba

    top = numba.config.NUMBA_NUM_THREADS
    for n in (256, 4096):
        for threads in sorted({1, top}):
            b = statistics.median(batched(market, n, 200 if n == 256 else 40, threads) for _ in range(repeats))
            print(f"batched Numba env x {n}, {threads} thread(s): {b:,.0f} env-steps/s ({b / rate:,.0f}x SyncVectorEnv "
                  f"x 256, {b / single:,.0f}x one env)")  # fmt: skip
    verdict = "met" if b >= TARGET_BATCHED_STEPS_PER_S and b >= 100 * rate else "MISSED"
    print(
        f"target >= {TARGET_BATCHED_STEPS_PER_S:,.0f}/s at 4,096 envs and >= 100x SyncVectorEnv: {verdict} "
        f"({b / TARGET_BATCHED_STEPS_PER_S:.2f} of the absolute target, {b / rate:,.0f}x)"
    )
    import torch

    for dtype in (torch.float32, torch.float64):
        tw = statistics.median(torch_twin(market, 4096, 10, args.device, dtype) for _ in range(repeats))
        print(f"torch twin x 4096 on {args.device} ({str(dtype).split('.')[-1]}): {tw:,.0f} env-steps/s "
              f"({tw / b:.2f}x the batched Numba env)")  # fmt: skip
    train = training(10_000 if args.quick else 30_000)
    print(f"Double-DQN training, 16 envs (CPU): {train:,.0f} env-steps/s, including the learner's updates")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
