"""The one loop: ``run(strategy, adapter, clock) -> BacktestResult``.

For each decision step of the clock: ``adapter.snapshot(t)`` -> ``strategy.decide_batch`` ->
``adapter.submit(t, orders)``. Python runs once per decision step for all users at once; the
venue marks equity between decisions in a kernel and hands its valuations over in the next
snapshot. What a run produced (equity, deposits, actions, fees, rewards, receipts' fills) is kept
here, by the loop, as columnar arrays; the win rate is scored afterwards from what was recorded
(:func:`score_wins`), so a live run can be scored from its journal later. Live mode reuses this
loop with another adapter and a clock that follows the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from prometheus_sim.portfolio import Action, OrderBatch
from prometheus_sim.ports import FILLED, Adapter, Receipts, Strategy, as_strategy, decide_orders
from prometheus_sim.snapshot import SnapshotBatch

WIN_UNSCORED = -1


def first_grid_day(first_day: int, every_days: int | None) -> int:
    """The first day of a decision grid (day 0, every, 2 x every...) at or after ``first_day``: where a strategy
    with ``first_decision_day`` first decides (``every_days`` None: a single decision, on ``first_day``)."""
    return first_day if every_days is None else -(-first_day // every_days) * every_days


@dataclass(frozen=True)
class DecisionClock:
    """Decision steps ``start, start + every, ...`` before the last step (orders fill at t + 1).

    ``every=None`` decides once, at ``start``. After the last decision the loop observes the
    venue once more at ``last_step`` so the run is marked to its end.
    """

    n_steps: int
    every: int | None
    start: int = 0

    def __iter__(self) -> Iterator[int]:
        last = self.n_steps - 2
        if self.start > last:
            return iter(())
        if self.every is None:
            return iter((self.start,))
        return iter(range(self.start, last + 1, self.every))

    @property
    def last_step(self) -> int:
        return self.n_steps - 1

    @classmethod
    def for_strategy(
        cls, strategy: Strategy, n_steps: int, steps_per_day: int = 1, not_before_day: int = 0
    ) -> DecisionClock:
        """Every ``decision_every_days`` days at a day's close (its last step when a day has several), from the
        first day's: where a day's bar, and the features of whole days, are complete, as in the RL env.

        A strategy with ``first_decision_day`` (days of history it needs, e.g. the DQN policy's feature
        warm-up) first decides at the first day of that same grid at or after it: before it, no decision is
        made, so none is counted as the strategy's (a policy's action shares were a sixth warm-up holds).

        ``not_before_day`` holds every strategy of a comparison to one first decision day (``policy evaluate``:
        the policy's), its own grid then running from there, so all are scored on the same days in the market."""
        every = getattr(strategy, "decision_every_days", 1)
        first_day = max(first_grid_day(getattr(strategy, "first_decision_day", 0), every), not_before_day)
        return cls(n_steps=n_steps, every=None if every is None else every * steps_per_day,
                   start=first_day * steps_per_day + steps_per_day - 1)  # fmt: skip


@dataclass(frozen=True)
class Fills:
    """Each (decision, user) whose orders changed the holdings: what the win rate is scored from.

    Attributes
    ----------
    decision : ndarray of shape (k,), index into ``decision_steps``
    row : ndarray of shape (k,), the user's row
    before, after : ndarray of shape (k, n_assets), units just before and after the fill
    """

    decision: np.ndarray
    row: np.ndarray
    before: np.ndarray
    after: np.ndarray


@dataclass(frozen=True)
class BacktestResult:
    """What one run produced, for every user.

    Attributes
    ----------
    users : ndarray of shape (n_users,), opaque ids
    calendar : DatetimeIndex of the marked steps
    initial_value : ndarray of shape (n_users,), the value before the first open
    equity : ndarray of shape (n_users, n_steps), portfolio value at each close
    deposits : ndarray of shape (n_users, n_steps), contributions that landed at each step's close (a month's last)
    fees, notional : ndarray of shape (n_users,), fees paid and notional traded
    decision_steps : ndarray of shape (n_decisions,)
    actions : ndarray of shape (n_users, n_decisions), :class:`Action` codes (the labels)
    rewards : ndarray of shape (n_users, n_decisions), the guide's reward of each decision's period
        (until the next decision or the end; NaN when no close followed)
    fills : Fills
    wins : ndarray of shape (n_users, n_decisions) or None until scored: 1 win, 0 loss, -1 not scored
    scenario, seeds : what the caller says the users are (a scenario and a seed per row), for reports
    """

    strategy: str
    users: np.ndarray
    calendar: pd.DatetimeIndex
    steps_per_day: int
    initial_value: np.ndarray
    equity: np.ndarray
    deposits: np.ndarray
    fees: np.ndarray
    notional: np.ndarray
    decision_steps: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    fills: Fills
    wins: np.ndarray | None = None
    scenario: str = ""
    seeds: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return self.equity.shape[0]

    def daily_equity(self) -> np.ndarray:
        """Equity at each day's last close: shape (n_users, n_days)."""
        spd = self.steps_per_day
        return self.equity[:, spd - 1 :: spd]

    def daily_deposits(self) -> np.ndarray:
        """Contributions per day, summed over the day's steps: shape (n_users, n_days)."""
        spd = self.steps_per_day
        n_days = self.equity.shape[1] // spd
        return self.deposits[:, : n_days * spd].reshape(self.n_users, n_days, spd).sum(axis=2)

    def action_counts(self) -> dict[str, int]:
        codes, counts = np.unique(self.actions, return_counts=True)
        return {Action(int(c)).name: int(n) for c, n in zip(codes, counts, strict=True)}

    def scored(self, close: np.ndarray, horizon_steps: int) -> BacktestResult:
        """A copy with ``wins`` scored against ``close`` (n_users, n_steps, n_assets); see :func:`score_wins`."""
        return replace(self, wins=score_wins(self, close, horizon_steps))


def score_wins(result: BacktestResult, close: np.ndarray, horizon_steps: int) -> np.ndarray:
    """Win (1), loss (0) or not scored (-1) for every (user, decision).

    A non-HOLD decision whose orders changed the holdings wins when, ``horizon_steps`` after the
    decision step, the holdings right after its fill are worth more than the holdings right
    before it (doing nothing from the same state), both marked at that close; fees and slippage
    are in the "after" holdings. HOLD, decisions that traded nothing and decisions too close to
    the end are not scored. Uses closes after the decision: scoring only, never a snapshot.

    Parameters
    ----------
    close : ndarray of shape (n_users, n_steps, n_assets), row i the market user i traded in
    """
    n_users, n_decisions = result.actions.shape
    wins = np.full((n_users, n_decisions), WIN_UNSCORED, dtype=np.int8)
    f = result.fills
    if not len(f.decision):
        return wins
    at = result.decision_steps[f.decision] + horizon_steps
    label = result.actions[f.row, f.decision]
    ok = (at < close.shape[1]) & (label != Action.HOLD)
    rows, decisions, at = f.row[ok], f.decision[ok], at[ok]
    px = close[rows, at]
    traded = (f.after[ok] * px).sum(axis=1)
    held = (f.before[ok] * px).sum(axis=1)
    wins[rows, decisions] = (traded > held).astype(np.int8)
    return wins


class RunRecorder:
    """Collects what the loop sees: the venue's marks, each decision's labels, receipts and rewards."""

    def __init__(self, users: np.ndarray, n_steps: int | None = None):
        self.users = np.asarray(users)
        self.steps_per_day = 1
        self.n_steps = n_steps
        # with a known length, marks are written in place (no second copy of the equity curve)
        self._equity = np.full((len(self.users), n_steps), np.nan) if n_steps is not None else None
        self._deposits: np.ndarray | None = None
        self._times = np.full(n_steps or 0, np.datetime64("NaT"), dtype="datetime64[ns]")
        self._seen = np.zeros(n_steps or 0, dtype=bool)
        self._marks: list = []
        self._decisions: list[int] = []
        self._actions: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []
        self._fees = np.zeros(len(self.users))
        self._notional = np.zeros(len(self.users))
        self._fills: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._initial: np.ndarray | None = None

    def observe(self, snap: SnapshotBatch) -> None:
        """Keep the venue's valuations since the last snapshot and close the previous decision's period."""
        if self._initial is None:
            self._initial = snap.profiles.investment_amount.copy()
            self.steps_per_day = snap.steps_per_day
        m = snap.marks
        if not len(m.steps):
            pass
        elif self._equity is None:
            self._marks.append(m)
        else:
            if m.steps[-1] >= self.n_steps or self._seen[m.steps].any():
                raise ValueError(f"the venue marked steps {m.steps[0]}..{m.steps[-1]} twice or past the clock's end")
            self._seen[m.steps] = True
            self._equity[:, m.steps] = m.equity
            self._times[m.steps] = m.timestamps
            if m.deposits is not None:
                if self._deposits is None:
                    self._deposits = np.zeros_like(self._equity)
                self._deposits[:, m.steps] = m.deposits
        if len(self._rewards) < len(self._decisions):
            self._rewards.append(np.asarray(snap.reward, dtype=float).copy())

    def record(self, snap: SnapshotBatch, orders: OrderBatch, receipts: Receipts) -> None:
        self._decisions.append(snap.step)
        self._actions.append(np.asarray(orders.action, dtype=np.int8).copy())
        self._fees += receipts.fees
        self._notional += receipts.notional
        filled = np.flatnonzero(
            (receipts.status == FILLED) & np.any(receipts.holdings_after != receipts.holdings_before, axis=1)
        )
        if filled.size:
            d = len(self._decisions) - 1
            self._fills.append((d, filled, receipts.holdings_before[filled], receipts.holdings_after[filled]))

    def result(self, strategy: str) -> BacktestResult:
        n = len(self.users)
        if self._equity is not None:
            marked = int(self._seen.sum())
            if not self._seen[:marked].all():
                raise ValueError("the venue's marks do not cover every step from 0 once")
            equity, times = self._equity[:, :marked], self._times[:marked]
            deposits = self._deposits[:, :marked] if self._deposits is not None else np.zeros((n, marked))
        elif self._marks:
            equity = np.concatenate([m.equity for m in self._marks], axis=1)
            parts = [m.deposits if m.deposits is not None else np.zeros(m.equity.shape) for m in self._marks]
            deposits = np.concatenate(parts, axis=1)
            times = np.concatenate([m.timestamps for m in self._marks])
            steps = np.concatenate([m.steps for m in self._marks])
            if not np.array_equal(steps, np.arange(len(steps))):
                raise ValueError("the venue's marks do not cover every step from 0 once, in order")
        else:
            equity, deposits, times = np.zeros((n, 0)), np.zeros((n, 0)), np.zeros(0, "datetime64[ns]")
        calendar = pd.DatetimeIndex(times)
        rewards = list(self._rewards) + [np.full(n, np.nan)] * (len(self._decisions) - len(self._rewards))
        n_assets = self._fills[0][2].shape[1] if self._fills else 0

        def stack(parts: list[np.ndarray], dtype, empty_shape) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(empty_shape, dtype)

        fills = Fills(
            decision=stack([np.full(len(r), d) for d, r, _, _ in self._fills], np.int64, (0,)),
            row=stack([r for _, r, _, _ in self._fills], np.int64, (0,)),
            before=stack([b for _, _, b, _ in self._fills], float, (0, n_assets)),
            after=stack([a for _, _, _, a in self._fills], float, (0, n_assets)),
        )
        return BacktestResult(
            strategy=strategy,
            users=self.users,
            calendar=calendar,
            steps_per_day=self.steps_per_day,
            initial_value=self._initial if self._initial is not None else np.zeros(n),
            equity=equity,
            deposits=deposits,
            fees=self._fees.copy(),
            notional=self._notional.copy(),
            decision_steps=np.asarray(self._decisions, dtype=np.int64),
            actions=np.stack(self._actions, axis=1) if self._actions else np.zeros((n, 0), np.int8),
            rewards=np.stack(rewards, axis=1) if rewards else np.zeros((n, 0)),
            fills=fills,
        )


def run(strategy: Strategy, adapter: Adapter, clock: Iterable[int]) -> BacktestResult:
    """Run ``strategy`` through ``adapter`` at every step of ``clock``; return what was recorded.

    Only the Adapter port is used (``snapshot``, ``submit``, ``close``), so the same loop drives a
    simulated market or a chain. After the last decision the venue is observed once more, at the
    clock's ``last_step`` (or, for a plain iterable of steps, the step after the last decision), so
    the run is marked to its end.
    """
    strategy = as_strategy(strategy)
    end = getattr(clock, "last_step", None)
    recorder = RunRecorder(adapter.users, None if end is None else end + 1)
    last_seen = None
    try:
        for t in clock:
            snap = adapter.snapshot(t)
            recorder.observe(snap)
            orders = decide_orders(strategy, snap)
            recorder.record(snap, orders, adapter.submit(t, orders))
            last_seen = t
        if end is None and last_seen is not None:
            end = last_seen + 1  # a plain iterable: mark through the last decision's fill
        if end is not None and (last_seen is None or end > last_seen):
            recorder.observe(adapter.snapshot(end))
    finally:
        adapter.close()
    return recorder.result(getattr(strategy, "name", type(strategy).__name__))


__all__ = ["BacktestResult", "DecisionClock", "Fills", "RunRecorder", "first_grid_day", "run", "score_wins"]
