"""Reinforcement learning on the backtest's own accounting: a Gymnasium environment over the step kernel.

Importing this package registers ``PrometheusPortfolio-v0``, so
``gymnasium.make("prometheus_sim.rl:PrometheusPortfolio-v0", scenario="default")`` works with no
other import; ``import prometheus_sim`` itself never loads gymnasium or torch.
"""

from __future__ import annotations

import gymnasium

ENV_ID = "PrometheusPortfolio-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="prometheus_sim.rl.env:PortfolioEnv")

__all__ = ["ENV_ID"]
