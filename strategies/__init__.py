"""Strategies: plain objects that turn a Snapshot into a Recommendation.

They import from ``prometheus_sim`` and never from ``adapters``. Registered names:
``hold``, ``buy_and_hold``, ``equal_weight``, ``sixty_forty`` (see :mod:`strategies.baselines`).
"""

from __future__ import annotations

from strategies import registry
from strategies.base import BaseStrategy, BatchStrategy, Strategy
from strategies.baselines import BuyAndHold, EqualWeightRebalance, HoldStrategy, SixtyForty

registry.register("hold")(HoldStrategy)
registry.register("buy_and_hold")(BuyAndHold)
registry.register("equal_weight")(EqualWeightRebalance)
registry.register("sixty_forty")(SixtyForty)

__all__ = [
    "BaseStrategy", "BatchStrategy", "Strategy", "HoldStrategy", "BuyAndHold", "EqualWeightRebalance",
    "SixtyForty", "registry",
]  # fmt: skip
