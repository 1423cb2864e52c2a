"""The Adapter port: where snapshots come from and where recommendations go.

Two sides implement it: :class:`adapters.sim.SimAdapter` (backtests, fills against a simulated
market) and, later, ``adapters.chain.ChainAdapter`` (reads VaultManager, writes PolicyEngine).
The backtest loop only talks to this port, so a strategy never knows which side it runs on.
Users are path indices in simulation and vault owners live.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from prometheus_sim.backtest import BacktestResult
from prometheus_sim.portfolio import OrderBatch, Recommendation
from prometheus_sim.snapshot import Snapshot, SnapshotBatch


@runtime_checkable
class Adapter(Protocol):
    #: Decision steps available to the loop (0 .. n_steps - 2: each order fills at the next step).
    n_steps: int

    def snapshot(self, user: int, t: int) -> Snapshot:
        """What ``user``'s strategy may see at step t."""
        ...

    def submit(self, user: int, rec: Recommendation) -> None:
        """Execute (or, live, send) one recommendation for ``user`` at the current step."""
        ...

    def can_rebalance(self, user: int) -> bool:
        """Whether ``user``'s vault may trade now (cool-down since its last trade)."""
        ...

    def auto_rebalance(self, user: int, inflation: float) -> Recommendation | None:
        """Rebalance ``user`` to their risk target, adjusted for ``inflation``; None if not allowed."""
        ...

    def snapshot_batch(self, t: int) -> SnapshotBatch:
        """Every user's snapshot at step t at once (Python runs once per step, not per user)."""
        ...

    def submit_batch(self, t: int, orders: OrderBatch) -> None:
        """Every user's orders decided at step t."""
        ...

    def finish(self) -> None:
        """The clock has run out: settle what is pending (mark equity, close journals)."""
        ...

    def result(self, strategy: str) -> BacktestResult:
        """What the run produced for every user."""
        ...
