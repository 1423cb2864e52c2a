"""Strategies: plain objects that turn a Snapshot into a Recommendation.

They import from ``prometheus_sim`` and never from ``adapters``. Registered names (see
:mod:`strategies.registry`): ``hold``, ``buy_and_hold``, ``equal_weight``, ``sixty_forty``,
``auto_rebalance`` (see :mod:`strategies.baselines`).
"""

from __future__ import annotations

from strategies import registry
from strategies.base import BaseStrategy, BatchStrategy, Strategy
from strategies.baselines import AutoRebalance, BuyAndHold, EqualWeightRebalance, HoldStrategy, SixtyForty

__all__ = [
    "AutoRebalance", "BaseStrategy", "BatchStrategy", "Strategy", "HoldStrategy", "BuyAndHold",
    "EqualWeightRebalance", "SixtyForty", "registry",
]  # fmt: skip
