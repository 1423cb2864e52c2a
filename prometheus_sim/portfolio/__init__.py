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

#: What the portfolio model's words mean, printed in every report beside the metrics' definitions.
DEFINITIONS: dict[str, str] = {
    "actions": "BUY_CONSERVATIVE spends 50 % of cash: 30 points on the least volatile defensive asset "
    "(bond, equity or another stablecoin; with none they stay in the cash stablecoin) and 20 on the least "
    "volatile crypto; BUY_MODERATE 50 % of cash equally over every non-cash asset; BUY_AGGRESSIVE 50 % of "
    "cash on the most volatile crypto; SELL_PARTIAL 25 % of the two most volatile holdings; SELL_MAJOR 50 % "
    "of every non-cash holding; REBALANCE to the profile's target (0.2 + 0.6 x risk_tolerance in the crypto "
    "basket, the rest cash). Volatility ranks use trailing 30-day closes up to the decision only (by kind "
    "before two daily returns exist). A recommendation's trades execute; its action is the label counted.",
    "profiles": "risk_tolerance in [0, 1]; time_to_goal in months, counting down; investment_amount is the "
    "starting value; monthly_contribution lands in cash at the close of each month's last step.",
    "portfolio_state": "volatility_30d and sharpe_ratio are annualised over the trailing 30 daily time-weighted "
    "returns (both 0 before two days, and for a window of equal returns); unrealized_pnl is value minus "
    "average cost; market_regime is bull / bear when the crypto assets' 30-day growth (their geometric "
    "mean) is above +5 % / below -5 %, else sideways (sideways before 30 days); "
    "never read from the simulator's truth.",
    "reward": "the guide's: 100 x the period's time-weighted return - 10 x volatility_30d x (1 - risk_tolerance) "
    "+ 0.01 x sharpe_ratio, plus 0.1 (volatility_30d < 0.1) or -0.1 (otherwise) when time_to_goal <= 12 months.",
}

__all__ = [
    "DEFINITIONS",
    "Action", "AssetBook", "CostModel", "InvalidRecommendation", "OrderBatch", "PortfolioState", "RebalanceRules",
    "Recommendation", "RiskProfile", "RiskProfiles", "Trade", "orders_for_target_weights", "plan_actions",
]  # fmt: skip
