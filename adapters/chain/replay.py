"""``live replay``: feed a journal's recorded snapshots to the strategy again and compare its orders.

The history is rebuilt from the journal alone (the warm start and every bar read), the snapshots
from what was read on chain (holdings, profiles, state). A strategy that is deterministic and
sees only its snapshot gives the same orders, to 1e-12; any difference is reported by step, user
and field.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adapters.chain.adapter import broadcast_history, live_batch
from adapters.chain.journal import read_journal
from prometheus_sim.datasource import HistorySource
from prometheus_sim.portfolio import RebalanceRules, RiskProfiles
from prometheus_sim.portfolio.model import PortfolioStates
from prometheus_sim.snapshot import Marks


@dataclass(frozen=True)
class ReplayReport:
    decisions: int
    mismatches: list[str]
    runs: int = 1

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.decisions > 0


def live_runs(lines: list[dict]) -> list[list[dict]]:
    """The journal's live runs, each from its ``start`` line to the next: every ``live`` run appends to the config's
    one journal. ``live auto-rebalance`` runs (their start line names the ``call``) are not strategy runs and are left
    out (one in the file made replay a KeyError traceback)."""
    starts = [i for i, x in enumerate(lines) if x["kind"] == "start"] + [len(lines)]
    runs = [lines[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
    return [run for run in runs if "call" not in run[0] and "warm_start" in run[0]]


def replay(journal_path, strategy, rtol: float = 1e-12) -> ReplayReport:
    """Every live run in the journal, replayed: ``strategy`` is a strategy for all of them, or a function of a run's
    recorded strategy spec (``{"name", "params"}`` or None) giving the strategy for that run. Only the last run was
    replayed until 2026-12-05 (session 19): a tampered earlier run passed (review)."""
    runs = live_runs(read_journal(journal_path))
    if not runs:
        raise ValueError(f"journal {journal_path}: no live run's start line (not a live run's journal)")
    decisions, mismatches = 0, []
    for k, run in enumerate(runs, 1):
        chosen = strategy if hasattr(strategy, "decide_batch") else strategy(run[0].get("strategy"))
        label = f"run {k} of {len(runs)}, " if len(runs) > 1 else ""
        with lines_of_the_shape_expected(journal_path, k):
            n, found = _replay_run(journal_path, run, chosen, rtol, label)
        decisions += n
        mismatches += found
    return ReplayReport(decisions, mismatches, len(runs))


def _replay_run(journal_path, lines: list[dict], strategy, rtol: float, label: str) -> tuple[int, list[str]]:
    start = lines[0]
    warm = start["warm_start"]
    source = HistorySource(
        start["assets"],
        start["asset_kinds"],
        pd.DatetimeIndex(warm["calendar"]),
        np.array(warm["close"]).reshape(-1, len(start["assets"])),
        start["steps_per_day"],
        tuple(warm["absent"]),
        start.get("asset_sizes"),
    )  # fmt: skip (journals before 2026-12-04: none)
    book = source.book()
    rules = RebalanceRules(**start["rules"])
    users = np.array(start["users"], dtype=object)
    mismatches: list[str] = []
    decisions = 0
    snap = None
    undecided = None  # a snapshot whose orders line has not come yet
    for line in lines[1:]:
        kind = line["kind"]
        if kind == "bar":
            source.append(pd.Timestamp(line["timestamp"]), np.array(line["close"]))
        elif kind == "snapshot":
            if undecided is not None:  # every decision writes its orders line, a hold too: one went missing
                mismatches.append(f"{label}step {undecided}: a snapshot with no orders line before the next "
                                  "snapshot (a decision's record is missing)")  # fmt: skip
            t = line["step"]
            undecided = t
            hist = broadcast_history(source.history(), t, len(users))
            profiles = RiskProfiles(*(np.array(c) for c in zip(*line["profiles"], strict=True)))
            states = PortfolioStates(np.array(line["unrealized"]), np.array(line["volatility_30d"]),
                                     np.array(line["sharpe"]), np.array(line["regime"], dtype=np.int64))  # fmt: skip
            value = np.array(line["value"])
            marks = Marks(np.array([t]), hist.calendar[-1:].values, value[:, None], None)
            snap = live_batch(t, users, book, np.array(line["holdings"]), value, profiles, states,
                              np.array(line["can_rebalance"]), hist, start["steps_per_day"], rules, marks)  # fmt: skip
        elif kind == "orders":
            if snap is None or snap.step != line["step"]:
                raise ValueError(f"journal {journal_path}: {label}orders for step {line['step']} without its snapshot")
            undecided = None
            orders = strategy.decide_batch(snap)
            decisions += 1
            for name, got, want in (("action", orders.action, line["action"]), ("sell", orders.sell_fraction, line["sell"]),
                                    ("buy", orders.buy_fraction, line["buy"]),
                                    ("confidence", orders.confidence, line["confidence"])):  # fmt: skip
                got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
                bad = ~np.isclose(got, want, rtol=rtol, atol=1e-15)
                for idx in zip(*np.nonzero(bad), strict=True):
                    mismatches.append(f"{label}step {line['step']}, user {users[idx[0]]}: {name}{list(idx[1:])} "
                                      f"recorded {want[idx]!r}, replayed {got[idx]!r}")  # fmt: skip
    # a run's last snapshot may have no orders line (the loop marks the books once more after its last decision), but
    # not one its decision sent transactions for: only a snapshot followed by another was reported, so a run killed
    # between its sends and their record replayed as "same recommendations" (review, session 23)
    sent = [x for x in lines if x["kind"] in ("sending", "transaction") and x.get("step") == undecided]
    if undecided is not None and sent:
        mismatches.append(f"{label}step {undecided}: the last snapshot has no orders line, but its decision sent "
                          f"{len(sent)} transaction line(s): a decision's record is missing")  # fmt: skip
    return decisions, mismatches


@contextmanager
def lines_of_the_shape_expected(journal_path, run: int):
    """A journal line lacking a field, or holding one of another type, is named (a KeyError or TypeError traceback
    before; review of live mode, session 25): written by hand, or by another version of this tool."""
    try:
        yield
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"journal {journal_path}, run {run}: a line is not as this tool writes it "
                         f"({type(exc).__name__}: {exc})") from None  # fmt: skip


def score_journal(journal_path, run: int | None = None) -> tuple[pd.DataFrame, str]:
    """A live run scored from its journal alone: each vault's value at every snapshot (the chain's, after
    execution, so live equity moved), deposits set apart, the time-weighted return and the worst fall; with a
    line saying which run was scored. ``run`` counts the journal's live runs from 1; by default the last one
    (every run appends to one journal: a dry run after an executed run hid it with no way to score the executed
    one; review of live mode, session 25)."""
    runs = live_runs(read_journal(journal_path))
    if not runs:
        raise ValueError(f"journal {journal_path}: no live run's start line (not a live run's journal)")
    k = len(runs) if run is None else run
    if not 1 <= k <= len(runs):
        raise ValueError(f"run: {run} is not a run of journal {journal_path}, which holds {len(runs)} live run(s)")
    start = runs[k - 1][0]
    with lines_of_the_shape_expected(journal_path, k):
        when = f", started at {pd.Timestamp(start['time'], unit='s'):%Y-%m-%d %H:%M:%S} UTC" if "time" in start else ""
        name = f", strategy {start['strategy']['name']}" if isinstance(start.get("strategy"), dict) else ""
        what = f"run {k} of {len(runs)} ({'executed' if start.get('execute') else 'dry run'}{when}{name})"
        return _score_run(journal_path, runs[k - 1], what), what


def _score_run(journal_path, run: list[dict], what: str) -> pd.DataFrame:
    from prometheus_sim import metrics

    snaps = [x for x in run if x["kind"] == "snapshot"]
    if len(snaps) < 2:
        raise ValueError(f"journal {journal_path}: {what} has {len(snaps)} snapshot(s); scoring needs two or more "
                         "(--run picks another run)")  # fmt: skip
    users = run[0]["users"]
    value = np.array([x["value"] for x in snaps]).T  # (users, snapshots)
    deposited = np.array([x["deposited"] for x in snaps]).T
    growth = (value[:, 1:] - np.diff(deposited, axis=1)) / value[:, :-1]
    index = np.concatenate([np.ones((len(users), 1)), np.cumprod(growth, axis=1)], axis=1)
    fees = {u: 0.0 for u in users}
    for x in run:
        if x["kind"] == "receipt" and x.get("status") == 1:
            fees[x["user"]] += x.get("event", {}).get("fees", 0) / 1e18
    return pd.DataFrame({
        "user": users, "first_step": snaps[0]["step"], "last_step": snaps[-1]["step"], "snapshots": len(snaps),
        "value_start": value[:, 0], "value_end": value[:, -1], "twr": index[:, -1] - 1.0,
        "max_drawdown": metrics.max_drawdown(index), "fees": [fees[u] for u in users],
    })  # fmt: skip


__all__ = ["ReplayReport", "live_runs", "replay", "score_journal"]
