"""The Strategy protocol: ``decide(snapshot) -> Recommendation``, batched as ``decide_batch``.

A strategy is a plain object. It sees a :class:`~prometheus_sim.snapshot.Snapshot` (data up to
the decision step, never the market's truth) and never knows which adapter executes it: the same
object runs in a backtest and, later, live against a chain.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from prometheus_sim.portfolio import OrderBatch, Recommendation
from prometheus_sim.snapshot import Snapshot, SnapshotBatch


@runtime_checkable
class Strategy(Protocol):
    """What the backtest loop and the live runner call."""

    name: str
    #: Days between decisions; ``None`` decides once, at the first step.
    decision_every_days: int | None

    def decide(self, snapshot: Snapshot) -> Recommendation: ...

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch: ...


class BaseStrategy:
    """Default ``decide_batch``: call ``decide`` per path and pack the results (checked).

    Fast strategies override ``decide_batch`` with array code and implement ``decide`` on top of
    it, so the two can never disagree.
    """

    name = "base"
    decision_every_days: int | None = 1

    def decide(self, snapshot: Snapshot) -> Recommendation:
        raise NotImplementedError(f"{type(self).__name__} must implement decide() or decide_batch()")

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        recs = [self.decide(snapshots.path(p)) for p in range(snapshots.n_paths)]
        return OrderBatch.from_recommendations(recs, snapshots.book, step=snapshots.step)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every={self.decision_every_days})"


class BatchStrategy(BaseStrategy):
    """A strategy written on arrays: ``decide`` is path p of ``decide_batch``."""

    def decide(self, snapshot: Snapshot) -> Recommendation:
        orders = self.decide_batch(snapshot.batch)
        return orders.recommendation(snapshot.index, snapshot.book)
