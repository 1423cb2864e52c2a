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


class LeakyCanary(BatchStrategy):
    name = "canary"
    decision_every_days = 1

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        t = snapshots.step
        seen = snapshots.history.close
        owner = seen
        while isinstance(owner.base, np.ndarray):  # walk the views down to the array under them
            owner = owner.base
        n_paths, _, n_assets = seen.shape
        fits = owner.size > seen.size and owner.size % (n_paths * n_assets) == 0
        full = owner.reshape(n_paths, -1, n_assets) if fits else seen
        batch = OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
        if full.shape[1] > t + 1:  # the future is reachable: peek at it
            rising = full[:, t + 1, :] > full[:, t, :]
            risky = np.zeros(len(snapshots.assets), dtype=bool)
            risky[list(snapshots.book.risky)] = True
            pick = rising & risky[None, :]
            n = pick.sum(axis=1)
            has = n > 0
            batch.buy_fraction[has] = pick[has] / n[has, None] * 0.5
            batch.action[has] = Action.BUY_AGGRESSIVE
        return batch
