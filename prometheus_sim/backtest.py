"""The one loop: ``run(strategy, adapter, clock) -> BacktestResult``.

For each decision step of the clock: ``adapter.snapshot_batch(t)`` -> ``strategy.decide_batch``
-> ``adapter.submit_batch(t, orders)``. Python runs once per decision step for all paths at once;
between decisions the adapter marks equity in a kernel. Live mode reuses this loop with another
adapter and a wall-clock clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prometheus_sim.portfolio import Action


@dataclass(frozen=True)
class DecisionClock:
    """Decision steps ``start, start + every, ...`` before the last step (orders fill at t + 1).

    ``every=None`` decides once, at ``start``.
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

    @classmethod
    def for_strategy(cls, strategy, n_steps: int, steps_per_day: int = 1) -> DecisionClock:
        every = strategy.decision_every_days
        return cls(n_steps=n_steps, every=None if every is None else every * steps_per_day)


@dataclass
class BacktestResult:
    """What one backtest produced, for every path.

    Attributes
    ----------
    equity : ndarray of shape (n_paths, n_steps), portfolio value at each close
    fees, notional : ndarray of shape (n_paths,), fees paid and notional traded
    decision_steps : ndarray of shape (n_decisions,)
    actions : ndarray of shape (n_paths, n_decisions), :class:`Action` codes
    wins : ndarray of shape (n_paths, n_decisions), 1 win, 0 loss, -1 not scored (HOLD, or too late)
    """

    strategy: str
    scenario: str
    seeds: np.ndarray
    calendar: pd.DatetimeIndex
    steps_per_day: int
    initial_value: float
    equity: np.ndarray
    fees: np.ndarray
    notional: np.ndarray
    decision_steps: np.ndarray
    actions: np.ndarray
    wins: np.ndarray

    @property
    def n_paths(self) -> int:
        return self.equity.shape[0]

    def daily_equity(self) -> np.ndarray:
        """Equity at each day's last close: shape (n_paths, n_days)."""
        spd = self.steps_per_day
        return self.equity[:, spd - 1 :: spd]

    def action_counts(self) -> dict[str, int]:
        codes, counts = np.unique(self.actions, return_counts=True)
        return {Action(int(c)).name: int(n) for c, n in zip(codes, counts, strict=True)}


def run(strategy, adapter, clock: Iterable[int]) -> BacktestResult:
    """Run ``strategy`` through ``adapter`` at every step of ``clock``; return the result.

    Only the Adapter port is used (``snapshot_batch``, ``submit_batch``, ``finish``, ``result``),
    so the same loop drives a simulated market or a chain.
    """
    for t in clock:
        snapshots = adapter.snapshot_batch(t)
        orders = strategy.decide_batch(snapshots)
        adapter.submit_batch(t, orders)
    adapter.finish()
    return adapter.result(getattr(strategy, "name", type(strategy).__name__))


def backtest(strategy, market, **adapter_options) -> BacktestResult:
    """Convenience: a fresh :class:`adapters.sim.SimAdapter` and the strategy's own clock."""
    from adapters.sim import SimAdapter

    adapter = SimAdapter(market, **adapter_options)
    clock = DecisionClock.for_strategy(strategy, market.n_steps, market.spec.steps_per_day)
    return run(strategy, adapter, clock)
