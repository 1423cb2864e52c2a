"""The portfolio model, split by job in the manner of vectorbt's ``nb`` modules.

* :mod:`~prometheus_sim.portfolio.model`: actions, risk profiles, portfolio state, trades,
  recommendations and their chain encoding.
* :mod:`~prometheus_sim.portfolio.rules`: the rebalancing rules (target, inflation tilt, cool-down).
* :mod:`~prometheus_sim.portfolio.orders`: order batches, their validation and planning.
* :mod:`~prometheus_sim.portfolio.nb`: the Numba step kernel (plan, fill, mark, state, reward).
"""

from __future__ import annotations

from prometheus_sim.portfolio.model import (
    Action,
    AssetBook,
    CostModel,
    InvalidRecommendation,
    PortfolioState,
    Recommendation,
    RiskProfile,
    RiskProfiles,
    Trade,
)
from prometheus_sim.portfolio.orders import OrderBatch, orders_for_target_weights, plan_actions
from prometheus_sim.portfolio.rules import RebalanceRules

__all__ = [
    "Action", "AssetBook", "CostModel", "InvalidRecommendation", "OrderBatch", "PortfolioState", "RebalanceRules",
    "Recommendation", "RiskProfile", "RiskProfiles", "Trade", "orders_for_target_weights", "plan_actions",
]  # fmt: skip
