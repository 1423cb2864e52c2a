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
    #: Optional (0 when absent): days of history needed before the first decision. The clock's first
    #: decision is then the first of its grid (day 0, every, 2 x every...) at or after this day.

    def decide(self, snapshot: Snapshot) -> Recommendation: ...

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch: ...


class PerUserStrategy:
    """Runs an object that only has ``decide(snapshot) -> Recommendation`` as a full :class:`Strategy`.

    ``decide_batch`` calls ``decide`` for each user and packs the answers (checked);
    ``name`` and ``decision_every_days`` come from the object when it has them (class name, daily).
    """

    def __init__(self, inner: object):
        self.inner = inner
        self.name = str(getattr(inner, "name", type(inner).__name__))
        self.decision_every_days = getattr(inner, "decision_every_days", 1)
        self.first_decision_day = getattr(inner, "first_decision_day", 0)

    def decide(self, snapshot: Snapshot) -> Recommendation:
        return self.inner.decide(snapshot)

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        recs = [self.inner.decide(snapshots.user(i)) for i in range(snapshots.n_users)]
        return OrderBatch.from_recommendations(recs, snapshots.book, step=snapshots.step)

    def __repr__(self) -> str:
        return f"PerUserStrategy({self.inner!r})"


def decide_orders(strategy: Strategy, snapshots: SnapshotBatch) -> OrderBatch:
    """``strategy.decide_batch(snapshots)``, checked to be an :class:`OrderBatch`: the backtest loop and the
    lookahead check both ask through here, so a strategy returning None, a dict or one Recommendation hears
    that, not an AttributeError from inside the loop."""
    orders = strategy.decide_batch(snapshots)
    if not isinstance(orders, OrderBatch):
        raise TypeError(f"{getattr(strategy, 'name', type(strategy).__name__)}.decide_batch returned "
                        f"{type(orders).__name__} at step {snapshots.step}: it must return an OrderBatch "
                        "(snapshots.plan(actions) or OrderBatch.hold(n_users, n_assets) make one)")  # fmt: skip
    return orders


def as_strategy(obj: object) -> Strategy:
    """``obj`` itself when it has ``decide_batch``; wrapped when it has only ``decide``; else a clear error."""
    if callable(getattr(obj, "decide_batch", None)):
        strategy = obj
    elif callable(getattr(obj, "decide", None)):
        strategy = PerUserStrategy(obj)
    else:
        raise TypeError(
            f"{type(obj).__name__} is not a strategy: it needs decide(snapshot) -> Recommendation "
            "or decide_batch(snapshots) -> OrderBatch"
        )
    every = getattr(strategy, "decision_every_days", 1)
    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise TypeError(f"{type(obj).__name__}.decision_every_days: must be an integer >= 1 or None, got {every!r}")
    if not hasattr(strategy, "decision_every_days"):
        strategy.decision_every_days = 1
    first = getattr(strategy, "first_decision_day", 0)
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise TypeError(f"{type(obj).__name__}.first_decision_day: must be an integer >= 0, got {first!r}")
    return strategy  # type: ignore[return-value]


__all__ = [
    "Adapter",
    "PerUserStrategy",
    "Receipts",
    "Strategy",
    "as_strategy",
    "decide_orders",
    "STATUS_NAMES",
    "NOTHING",
    "FILLED",
    "DRY_RUN",
    "SENT",
    "REFUSED",
]
