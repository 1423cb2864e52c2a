"""A deliberately leaky strategy: proof that the lookahead check catches cheating.

It walks the history view's ``.base`` chain down to the full close array and buys whatever rises
over the next step. Never registered, never in sweeps: ``prometheus-sim lookahead canary`` and the
tests use it to show the check flags it.
"""

from __future__ import annotations

import numpy as np

from prometheus_sim.portfolio import Action, OrderBatch
from prometheus_sim.snapshot import SnapshotBatch
from strategies.base import BatchStrategy


def reachable_close(seen: np.ndarray) -> np.ndarray:
    """The longest close array reachable from a history view by walking its ``.base`` chain."""
    owner = seen
    while isinstance(owner.base, np.ndarray):  # walk the views down to the array under them
        owner = owner.base
    n_paths, _, n_assets = seen.shape
    fits = owner.size > seen.size and owner.size % (n_paths * n_assets) == 0
    return owner.reshape(n_paths, -1, n_assets) if fits else seen


def buy_the_risers(snapshots: SnapshotBatch, future_close: np.ndarray | None) -> OrderBatch:
    """Half the cash into the crypto assets that rise over the next step, when ``future_close`` shows it."""
    batch = OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
    t = snapshots.step
    if future_close is None or future_close.shape[1] <= t + 1:
        return batch
    rising = future_close[:, t + 1, :] > future_close[:, t, :]
    risky = np.zeros(len(snapshots.assets), dtype=bool)
    risky[list(snapshots.book.risky)] = True
    pick = rising & risky[None, :]
    n = pick.sum(axis=1)
    has = n > 0
    batch.buy_fraction[has] = pick[has] / n[has, None] * 0.5
    batch.action[has] = Action.BUY_AGGRESSIVE
    return batch


class LeakyCanary(BatchStrategy):
    name = "canary"
    decision_every_days = 1

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        return buy_the_risers(snapshots, reachable_close(snapshots.history.close))
