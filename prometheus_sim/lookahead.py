"""The lookahead check: does a strategy's decision at step t depend on anything after t?

Run the backtest once on the full market and record, at every decision step, what the strategy
saw (its snapshot) and what it decided. Then, for a sample of decision steps t, re-run the same
loop on a copy of the market *physically cut* after t (``Market.head(t + 1)``) and compare. Any
difference in the inputs or in the decision is a lookahead, reported with its step, path and the
input or output that changed. A strategy that peeks through a view's ``.base`` or any other side
door sees a shorter array in the re-run, so it decides differently and is caught.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from prometheus_sim.backtest import DecisionClock
from prometheus_sim.market import Market
from prometheus_sim.portfolio import OrderBatch
from prometheus_sim.ports import Adapter, Strategy
from prometheus_sim.snapshot import SnapshotBatch

ORDER_FIELDS = ("action", "sell_fraction", "buy_fraction", "confidence")


@dataclass(frozen=True)
class Finding:
    step: int
    kind: str  # "input" or "decision"
    name: str  # e.g. "history.close" or "buy_fraction"
    paths: tuple[int, ...]

    def __str__(self) -> str:
        shown = ", ".join(map(str, self.paths[:5])) + (" ..." if len(self.paths) > 5 else "")
        return (
            f"step {self.step}: {self.kind} '{self.name}' differs when data after the step is removed (paths {shown})"
        )


@dataclass
class LookaheadReport:
    strategy: str
    scenario: str
    steps_checked: list[int]
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings


def _snapshot_inputs(s: SnapshotBatch) -> dict[str, np.ndarray]:
    history = {f"history.{name}": arr for name, arr in s.history.blocks._asdict().items()}
    state = {
        f"state.{name}": getattr(s.state, name)
        for name in ("unrealized_pnl", "volatility_30d", "sharpe_ratio", "regime")
    }
    return {
        "holdings": s.holdings, "prices": s.prices, "value": s.value, "can_rebalance": s.can_rebalance,
        "reward": s.reward, **state, **history,
    }  # fmt: skip


def _row_digests(arr: np.ndarray) -> list[str]:
    return [hashlib.sha256(np.ascontiguousarray(row).tobytes()).hexdigest() for row in arr]


@dataclass
class _Record:
    inputs: dict[str, list[str]]
    orders: dict[str, np.ndarray]


def _run_recording(strategy, market: Market, adapter_factory, stop_at: int | None) -> dict[int, _Record]:
    """The backtest loop, recording inputs and orders; decides (without filling) at ``stop_at``."""
    adapter = adapter_factory(market)
    records: dict[int, _Record] = {}
    for t in DecisionClock.for_strategy(strategy, market.n_steps + (1 if stop_at is not None else 0),
                                        market.steps_per_day):  # fmt: skip
        if stop_at is not None and t > stop_at:
            break
        snap = adapter.snapshot(t)
        orders: OrderBatch = strategy.decide_batch(snap)
        records[t] = _Record(
            inputs={k: _row_digests(v) for k, v in _snapshot_inputs(snap).items()},
            orders={k: np.array(getattr(orders, k), copy=True) for k in ORDER_FIELDS},
        )
        if stop_at is not None and t == stop_at:
            break
        adapter.submit(t, orders)
    return records


def check_lookahead(
    strategy_factory: Callable[[], Strategy],
    market: Market,
    adapter_factory: Callable[[Market], Adapter],
    n_checks: int = 12,
) -> LookaheadReport:
    """Check a strategy on ``market`` at ``n_checks`` decision steps spread over the run.

    ``adapter_factory(market)`` builds the venue (e.g. ``adapters.sim.SimAdapter``): the core
    never imports adapters, the caller hands one in.
    """
    strategy = strategy_factory()
    full = _run_recording(strategy, market, adapter_factory, stop_at=None)
    steps = sorted(full)
    if not steps:
        return LookaheadReport(getattr(strategy, "name", "?"), market.spec.name, [])
    picks = sorted({steps[int(round(i))] for i in np.linspace(0, len(steps) - 1, min(n_checks, len(steps)))})
    report = LookaheadReport(getattr(strategy, "name", type(strategy).__name__), market.spec.name, picks)
    for t in picks:
        cut = _run_recording(strategy_factory(), market.head(t + 1), adapter_factory, stop_at=t)
        if t not in cut:
            report.findings.append(Finding(t, "decision", "no decision at this step", tuple(range(market.n_paths))))
            continue
        a, b = full[t], cut[t]
        for name, digests in a.inputs.items():
            diff = tuple(p for p, (x, y) in enumerate(zip(digests, b.inputs[name], strict=True)) if x != y)
            if diff:
                report.findings.append(Finding(t, "input", name, diff))
        for name in ORDER_FIELDS:
            x, y = a.orders[name], b.orders[name]
            rows = x.reshape(len(x), -1) != y.reshape(len(y), -1)
            diff = tuple(int(p) for p in np.flatnonzero(rows.any(axis=1)))
            if diff:
                report.findings.append(Finding(t, "decision", name, diff))
    return report
