"""The two ports the one loop talks to: a venue (:class:`Adapter`) and a decision maker (:class:`Strategy`).

They live in the core so that :func:`prometheus_sim.backtest.run` is typed without importing
``adapters`` or ``strategies`` (imports point one way: those packages import the core, never the
reverse). ``adapters.base`` and ``strategies.base`` re-export them.

An adapter is shaped by what a live chain can do honestly:

* batch calls at its heart: a snapshot of the users it serves, submit their orders, close;
* users are opaque ids (a path index in simulation, a vault owner's address live);
* the clock owns time: the loop says which step it is, the adapter never decides how long a run is;
* ``submit`` returns :class:`Receipts`: what was done or, in a dry run, what would be sent;
* the loop, not the adapter, records what a run produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from prometheus_sim.portfolio import OrderBatch, Recommendation
from prometheus_sim.snapshot import Snapshot, SnapshotBatch

# Receipt status codes, one per user and submission.
NOTHING, FILLED, DRY_RUN, SENT, REFUSED = 0, 1, 2, 3, 4
STATUS_NAMES = ("nothing to do", "filled", "dry run", "sent", "refused")


@dataclass(frozen=True)
class Receipts:
    """What a venue did with one step's orders, per user (row i is ``users[i]``).

    Attributes
    ----------
    step : the decision step the orders were decided at
    users : ndarray of shape (n_users,)
    status : ndarray of shape (n_users,), int8 codes: ``NOTHING``, ``FILLED``, ``DRY_RUN``, ``SENT``, ``REFUSED``
    fill_step : the step whose open the orders filled at (``None`` when not known, e.g. live)
    fees, notional : ndarray of shape (n_users,), this submission's fees and traded notional (0 when unknown)
    holdings_before, holdings_after : ndarray of shape (n_users, n_assets), units just before and
        after the fill (NaN when not known, e.g. in a dry run); what the win rate is scored from
    detail : per user, what a live venue reports (transaction hash, dry-run text, idempotency key); empty in simulation
    """

    step: int
    users: np.ndarray
    status: np.ndarray
    fill_step: int | None
    fees: np.ndarray
    notional: np.ndarray
    holdings_before: np.ndarray
    holdings_after: np.ndarray
    detail: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        codes, n = np.unique(self.status, return_counts=True)
        return {STATUS_NAMES[int(c)]: int(k) for c, k in zip(codes, n, strict=True)}


@runtime_checkable
class Adapter(Protocol):
    """A venue: where snapshots come from and where orders go."""

    #: The users this adapter serves, opaque ids; row i of every snapshot and receipt is ``users[i]``.
    users: np.ndarray

    def snapshot(self, t: int) -> SnapshotBatch:
        """Every served user's state at the close of step t (time never moves back)."""
        ...

    def submit(self, t: int, orders: OrderBatch) -> Receipts:
        """Execute (or, live, send or describe) the orders decided at the close of t."""
        ...

    def close(self) -> None:
        """The run is over: release what the venue holds (connections, journals)."""
        ...


@runtime_checkable
class Strategy(Protocol):
    """What the loop calls: ``decide_batch`` on a snapshot of many users (``decide`` for one)."""

    name: str
    #: Days between decisions; ``None`` decides once, at the first step.
    decision_every_days: int | None

    def decide(self, snapshot: Snapshot) -> Recommendation: ...

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch: ...


__all__ = ["Adapter", "Receipts", "Strategy", "STATUS_NAMES", "NOTHING", "FILLED", "DRY_RUN", "SENT", "REFUSED"]
