"""The lookahead check: does a strategy's decision at step t depend on anything after t?

For a sample of decision steps t (or every one), the strategy is rebuilt from its spec in a
**worker process that has never held data after t** and run through the ordinary loop on a copy of
the market physically cut after t (``Market.observable_head(t + 1)``: the truth, scenario and seeds removed
too, so a strategy reading the simulator's hidden state at t decides differently and is caught as well; one that
fails without what was removed, and decides with it, is a finding too), up to its decision at t. The worker
takes the cuts in increasing t, so whatever it remembers between them (class attributes, module
caches, files it wrote) holds data up to the current t at most. Only when every cut has run does
the full, uncut run happen (in this process), recording what the strategy saw and decided at
every step. Any difference in the inputs or the decision at a checked t is a lookahead, reported
with its step, paths and the input or output that changed.

Threat model. Closed: every ordinary Python route to the future (attributes and ``.base`` of the
snapshot's views, ``gc.get_objects()``, class or module caches, files written during the check's own runs),
because the process that decides at t on a cut never had the later data, and the full run cannot
leave anything for cuts that have already finished. Out of scope: a strategy that reads or writes
raw memory through ``ctypes``, talks to another process it started itself, or reads what was stored
outside Python before the check began (files or servers filled by an earlier run on the same data:
only an operating-system sandbox closes those).

What sampling can and cannot catch: a leak used at a fraction f of decisions is found with
probability about ``1 - (1 - f) ** k`` with k checked steps; a leak that acts only before rare,
large moves (f of a few percent) is likely to slip through 12 checks. ``every_step=True`` (the CLI's
``--all-steps``) checks every decision: slower (a cut per decision), and misses nothing *at the batch size and
horizon checked*. A strategy whose use of the future depends on how many users it decides for at once, or that
starts only after the days checked, is not covered beyond them (a review's strategy that peeked only when deciding
for more than four users passed the CLI's defaults of 4 paths and 365 days, and ran leaking in a sweep's tasks of
25 seeds): check at the sweep's batch size and the scenario's horizon (``--paths 25 --horizon-days ...``).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

from prometheus_sim.backtest import DecisionClock
from prometheus_sim.market import Market
from prometheus_sim.portfolio import OrderBatch
from prometheus_sim.ports import Adapter, Strategy, as_strategy, decide_orders
from prometheus_sim.snapshot import SnapshotBatch
from prometheus_sim.strategy_spec import StrategySpec

ORDER_FIELDS = ("action", "sell_fraction", "buy_fraction", "confidence")
STATE_FIELDS = ("unrealized_pnl", "volatility_30d", "sharpe_ratio", "regime")


@dataclass(frozen=True)
class Finding:
    step: int
    kind: str  # "input", "decision", or "failure" (it fails on the cut and decides on the full run)
    name: str  # e.g. "history.close" or "buy_fraction"
    paths: tuple[int, ...]

    def __str__(self) -> str:
        shown = ", ".join(map(str, self.paths[:5])) + (" ..." if len(self.paths) > 5 else "")
        if self.kind == "failure":
            return (f"step {self.step}: the strategy fails when data after the step (and the simulator's hidden state) "
                    f"is removed, and decides when it is there: {self.name} (paths {shown})")  # fmt: skip
        return (
            f"step {self.step}: {self.kind} '{self.name}' differs when data after the step is removed (paths {shown})"
        )


@dataclass
class LookaheadReport:
    strategy: str
    scenario: str
    steps_checked: list[int]
    n_decisions: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings


def _snapshot_inputs(s: SnapshotBatch) -> dict[str, np.ndarray]:
    history = {f"history.{name}": arr for name, arr in s.history.blocks._asdict().items()}
    state = {f"state.{name}": getattr(s.state, name) for name in STATE_FIELDS}
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


def _run_recording(
    strategy: Strategy, market: Market, adapter_factory: Callable[[Market], Adapter], stop_at: int | None
) -> dict[int, _Record]:
    """The backtest loop, recording inputs and orders; decides (without filling) at ``stop_at``."""
    adapter = adapter_factory(market)
    records: dict[int, _Record] = {}
    n_clock = market.n_steps + (1 if stop_at is not None else 0)  # a cut at t still decides at t
    for t in DecisionClock.for_strategy(strategy, n_clock, market.steps_per_day):
        if stop_at is not None and t > stop_at:
            break
        snap = adapter.snapshot(t)
        orders: OrderBatch = decide_orders(strategy, snap)
        records[t] = _Record(
            inputs={k: _row_digests(v) for k, v in _snapshot_inputs(snap).items()},
            orders={k: np.array(getattr(orders, k), copy=True) for k in ORDER_FIELDS},
        )
        if stop_at is not None and t == stop_at:
            break
        adapter.submit(t, orders)
    adapter.close()
    return records


def _decide_on_cut(
    spec: StrategySpec, build: Callable[[StrategySpec], Strategy], cut: Market, adapter_factory, t: int
) -> _Record | None:
    """Runs in the worker: a fresh strategy on the market cut after t, up to its decision at t."""
    return _run_recording(as_strategy(build(spec)), cut, adapter_factory, stop_at=t).get(t)


def decision_steps(strategy: Strategy, market: Market) -> list[int]:
    return list(DecisionClock.for_strategy(strategy, market.n_steps, market.steps_per_day))


def check_lookahead(
    spec: StrategySpec | str,
    market: Market,
    adapter_factory: Callable[[Market], Adapter],
    build: Callable[[StrategySpec], Strategy],
    n_checks: int = 12,
    every_step: bool = False,
) -> LookaheadReport:
    """Check the strategy named by ``spec`` on ``market`` (see the module docstring).

    ``build(spec)`` makes a fresh strategy (``strategies.registry.build``) and ``adapter_factory``
    a venue (``adapters.sim.SimAdapter``); both are handed in (the core imports neither) and must be
    picklable, since the cut runs happen in a worker process. ``n_checks`` decision steps spread
    over the run are checked, or every one with ``every_step``.
    """
    spec = StrategySpec.of(spec)
    probe = as_strategy(build(spec))  # only to read its schedule and name; it never decides
    name = getattr(probe, "name", spec.label)
    steps = decision_steps(probe, market)
    del probe
    report = LookaheadReport(name, market.name, [], n_decisions=len(steps))
    if not steps:
        return report
    if every_step:
        picks = steps
    else:
        picks = sorted({steps[int(round(i))] for i in np.linspace(0, len(steps) - 1, min(n_checks, len(steps)))})
    report.steps_checked = picks
    cut_records: dict[int, _Record | None] = {}
    cut_failures: dict[int, str] = {}
    # spawn: the worker starts empty (no copy of this process's memory, which holds the full market)
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as worker:
        for t in picks:  # increasing t: the worker never holds data after the cut it decides on
            job = worker.submit(_decide_on_cut, spec, build, market.observable_head(t + 1), adapter_factory, t)
            try:
                cut_records[t] = job.result()
            except BrokenProcessPool:
                raise
            except Exception as exc:  # judged after the full run: a failure there too is the strategy's own error
                cut_failures[t] = f"{type(exc).__name__}: {exc}"[:300]
    full = _run_recording(as_strategy(build(spec)), market, adapter_factory, stop_at=None)
    for t in picks:
        if t in cut_failures:  # it decided at t on the full run (which raised otherwise): what the cut lacks mattered
            # a truth reader without a guard stopped the check as bad input (exit 2), not as a lookahead (review)
            report.findings.append(Finding(t, "failure", cut_failures[t], tuple(range(market.n_paths))))
            continue
        cut = cut_records[t]
        if cut is None:
            report.findings.append(Finding(t, "decision", "no decision at this step", tuple(range(market.n_paths))))
            continue
        a = full[t]
        for key, digests in a.inputs.items():
            diff = tuple(p for p, (x, y) in enumerate(zip(digests, cut.inputs[key], strict=True)) if x != y)
            if diff:
                report.findings.append(Finding(t, "input", key, diff))
        for key in ORDER_FIELDS:
            x, y = a.orders[key], cut.orders[key]
            rows = x.reshape(len(x), -1) != y.reshape(len(y), -1)
            diff = tuple(int(p) for p in np.flatnonzero(rows.any(axis=1)))
            if diff:
                report.findings.append(Finding(t, "decision", key, diff))
    return report


__all__ = ["Finding", "LookaheadReport", "check_lookahead", "decision_steps"]
