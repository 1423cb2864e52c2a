"""Reinforcement learning on the backtest's own accounting: a Gymnasium environment over the step kernel.

Importing this package registers ``PrometheusPortfolio-v0``, so
``gymnasium.make("prometheus_sim.rl:PrometheusPortfolio-v0", scenario="default")`` works with no
other import; ``import prometheus_sim`` itself never loads gymnasium or torch. Its vector entry point is
the batched env: ``gymnasium.make_vec(ENV_ID, num_envs=4096)`` builds one
:class:`~prometheus_sim.rl.vector.PortfolioVectorEnv` (one market pool, one Numba call a step), and
``vectorization_mode="sync"`` or ``"async"`` Gymnasium's own vector envs of single envs (each with a
market of its own).
"""

from __future__ import annotations

import gymnasium

ENV_ID = "PrometheusPortfolio-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="prometheus_sim.rl.env:PortfolioEnv",
        vector_entry_point="prometheus_sim.rl.vector:PortfolioVectorEnv",
    )

__all__ = ["ENV_ID"]
