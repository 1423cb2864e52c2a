"""Strategy base classes. The protocol itself (``decide(snapshot) -> Recommendation``, batched as
``decide_batch``) is :class:`prometheus_sim.ports.Strategy`, re-exported here.

A strategy is a plain object. It sees a :class:`~prometheus_sim.snapshot.Snapshot` (data up to
the decision step, never the market's truth) and never knows which adapter executes it: the same
object runs in a backtest and, later, live against a chain.
"""

from __future__ import annotations

from prometheus_sim.portfolio import OrderBatch, Recommendation
from prometheus_sim.ports import Strategy
from prometheus_sim.snapshot import Snapshot, SnapshotBatch


class BaseStrategy:
    """Default ``decide_batch``: call ``decide`` per user and pack the results (checked).

    Fast strategies override ``decide_batch`` with array code and implement ``decide`` on top of
    it, so the two can never disagree.
    """

    name = "base"
    decision_every_days: int | None = 1

    def decide(self, snapshot: Snapshot) -> Recommendation:
        raise NotImplementedError(f"{type(self).__name__} must implement decide() or decide_batch()")

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        recs = [self.decide(snapshots.user(i)) for i in range(snapshots.n_users)]
        return OrderBatch.from_recommendations(recs, snapshots.book, step=snapshots.step)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every={self.decision_every_days})"


class BatchStrategy(BaseStrategy):
    """A strategy written on arrays: ``decide`` is row i of ``decide_batch``."""

    def decide(self, snapshot: Snapshot) -> Recommendation:
        orders = self.decide_batch(snapshot.batch)
        return orders.recommendation(snapshot.index, snapshot.book)


__all__ = ["BaseStrategy", "BatchStrategy", "Strategy"]
