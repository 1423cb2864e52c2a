"""30-day momentum: hold the crypto assets that rose over the lookback, equally, the rest in cash."""

import numpy as np

from prometheus_sim.portfolio import Action, OrderBatch, orders_for_target_weights
from prometheus_sim.snapshot import SnapshotBatch


class Momentum:
    name = "momentum"
    decision_every_days = 7  # the loop asks every 7 days; None would ask once, at the first step

    def __init__(self, lookback: int = 30, share: float = 0.6):
        self.lookback, self.share = lookback, share

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        close = snapshots.history.close  # (users, t + 1, assets): every close up to t, none after
        back = min(self.lookback * snapshots.steps_per_day, close.shape[1] - 1)
        rising = close[:, -1, :] > close[:, -1 - back, :]
        crypto = np.array([kind == "crypto" for kind in snapshots.book.kinds])
        pick = rising & crypto
        n = pick.sum(axis=1, keepdims=True)
        target = np.where(pick, self.share / np.maximum(n, 1), 0.0)
        target[:, snapshots.book.cash_index] = 1.0 - target.sum(axis=1)  # the rest in the cash stablecoin
        sell, buy = orders_for_target_weights(snapshots.holdings, snapshots.prices, target, snapshots.book.cash_index)
        orders = OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
        orders.sell_fraction[:], orders.buy_fraction[:] = sell, buy
        orders.action[(sell > 0).any(axis=1) | (buy > 0).any(axis=1)] = Action.REBALANCE
        return orders
