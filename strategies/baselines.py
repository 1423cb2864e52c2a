"""Honest baselines every model is scored against.

* ``hold``: never trades (keeps the starting cash). Its recommendations are all HOLD.
* ``buy_and_hold``: at the first step, buys each user's REBALANCE target (the portfolio model's
  ``RebalanceRules``: ``0.2 + 0.6 x risk_tolerance`` of the value in the crypto basket, equally
  split; the rest stays in cash) and never trades again.
* ``equal_weight``: every ``period_days``, rebalances to 1/N of the value in each asset, the
  stablecoin included.
* ``sixty_forty``: every ``period_days``, rebalances to 60 % in the crypto basket (equally split)
  and 40 % in the stablecoin.
* ``auto_rebalance``: the guide's ``autoRebalance(user, inflation)`` as a strategy: every
  ``period_days``, users whose venue allows a rebalance (the cool-down) move to their target
  tilted by the latest inflation print (``RebalanceRules``); others hold.
"""

from __future__ import annotations

import numpy as np

from prometheus_sim.portfolio import Action, OrderBatch, orders_for_target_weights
from prometheus_sim.snapshot import SnapshotBatch
from strategies.base import BatchStrategy


def _check_period(period_days: int) -> int:
    if not isinstance(period_days, int) or period_days < 1:
        raise ValueError(f"period_days: must be an integer >= 1, got {period_days!r}")
    return period_days


class HoldStrategy(BatchStrategy):
    name = "hold"

    def __init__(self, period_days: int = 30):
        self.decision_every_days = _check_period(period_days)

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        return OrderBatch.hold(snapshots.n_users, len(snapshots.assets))


class TargetWeightStrategy(BatchStrategy):
    """Rebalance to fixed target weights (what the baselines share)."""

    def target(self, snapshots: SnapshotBatch) -> np.ndarray:
        """Target weights, shape (n_assets,) or (n_users, n_assets)."""
        raise NotImplementedError

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        n_users, n_assets = snapshots.holdings.shape
        sells, buys = orders_for_target_weights(
            snapshots.holdings, snapshots.prices, self.target(snapshots), snapshots.book.cash_index
        )
        batch = OrderBatch.hold(n_users, n_assets)
        batch.sell_fraction[:] = sells
        batch.buy_fraction[:] = buys
        trades = (sells > 0).any(axis=1) | (buys > 0).any(axis=1)
        batch.action[trades] = Action.REBALANCE
        return batch


class BuyAndHold(TargetWeightStrategy):
    name = "buy_and_hold"
    decision_every_days = None

    def target(self, snapshots: SnapshotBatch) -> np.ndarray:
        return snapshots.rules.target_weights(snapshots.book, snapshots.profiles.risk_tolerance)


class EqualWeightRebalance(TargetWeightStrategy):
    name = "equal_weight"

    def __init__(self, period_days: int = 30):
        self.decision_every_days = _check_period(period_days)

    def target(self, snapshots: SnapshotBatch) -> np.ndarray:
        n = len(snapshots.assets)
        return np.full(n, 1.0 / n)


class SixtyForty(TargetWeightStrategy):
    name = "sixty_forty"

    def __init__(self, period_days: int = 30, risky_share: float = 0.6):
        _check_period(period_days)
        if not 0.0 <= risky_share <= 1.0:
            raise ValueError(f"risky_share: must be in [0, 1], got {risky_share}")
        self.decision_every_days = period_days
        self.risky_share = risky_share

    def target(self, snapshots: SnapshotBatch) -> np.ndarray:
        return _basket_target(snapshots, self.risky_share)


class AutoRebalance(TargetWeightStrategy):
    name = "auto_rebalance"

    def __init__(self, period_days: int = 30):
        self.decision_every_days = _check_period(period_days)

    def target(self, snapshots: SnapshotBatch) -> np.ndarray:
        inflation = snapshots.history.macro_column("inflation_rate")[:, -1]
        return snapshots.rules.target_weights(snapshots.book, snapshots.profiles.risk_tolerance, inflation)

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        batch = super().decide_batch(snapshots)
        blocked = ~snapshots.can_rebalance
        batch.sell_fraction[blocked] = 0.0
        batch.buy_fraction[blocked] = 0.0
        batch.action[blocked] = 0
        return batch


def _basket_target(snapshots: SnapshotBatch, risky_share: float) -> np.ndarray:
    """``risky_share`` split equally over the crypto basket, the rest in cash (all cash if no crypto)."""
    book = snapshots.book
    w = np.zeros(len(book.names))
    if book.risky:
        w[list(book.risky)] = risky_share / len(book.risky)
    w[book.cash_index] = 1.0 - w.sum()
    return w
