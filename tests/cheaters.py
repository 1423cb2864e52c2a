"""Strategies that cheat through side doors, for the lookahead tests (importable by a worker process).

Each buys the crypto assets that will rise over the next step, when it can find the future.
"""

from __future__ import annotations

import gc

import numpy as np

from prometheus_sim.portfolio import Action, OrderBatch
from prometheus_sim.snapshot import SnapshotBatch
from strategies.base import BatchStrategy
from strategies.canary import buy_the_risers, reachable_close


class GcPeeker(BatchStrategy):
    """Finds the longest market among every live object (``gc.get_objects()``), once per run."""

    name = "gc_peeker"
    decision_every_days = 1

    def __init__(self) -> None:
        self.found: np.ndarray | None = None

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        if self.found is None:
            seen = snapshots.history.close
            for obj in gc.get_objects():
                close = getattr(obj, "close", None) if type(obj).__name__ == "Market" else None
                if isinstance(close, np.ndarray) and close.shape[0] == seen.shape[0]:
                    if self.found is None or close.shape[1] > self.found.shape[1]:
                        self.found = close
        return buy_the_risers(snapshots, self.found)


class ClassCache(BatchStrategy):
    """Remembers the longest close history it ever saw on its class, across instances and runs."""

    name = "class_cache"
    decision_every_days = 1
    memory: dict[int, np.ndarray] = {}

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        full = reachable_close(snapshots.history.close)
        key = full.shape[0]
        if key not in ClassCache.memory or ClassCache.memory[key].shape[1] < full.shape[1]:
            ClassCache.memory[key] = np.array(full)
        return buy_the_risers(snapshots, ClassCache.memory[key])


class RareLeak(BatchStrategy):
    """Peeks only before large moves: buys BTC when tomorrow's close is more than 5 % above today's."""

    name = "rare_leak"
    decision_every_days = 1

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        full = reachable_close(snapshots.history.close)
        batch = OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
        t = snapshots.step
        if full.shape[1] > t + 1:
            jump = full[:, t + 1, 0] > full[:, t, 0] * 1.05
            batch.buy_fraction[jump, 0] = 0.5
            batch.action[jump] = Action.BUY_AGGRESSIVE
        return batch


class Resimulator(BatchStrategy):
    """Simulates each shipped scenario at its own seed and keeps the copy whose closes match its history: the
    future read off a deterministic, public simulator (found by a review of 2026-12-05)."""

    name = "resimulator"
    decision_every_days = 1

    def __init__(self) -> None:
        self.future: np.ndarray | None = None
        self.looked = False

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        if not self.looked:  # once a run: the first decision's history identifies the path
            self.looked = True
            self.future = self._copy_of(np.asarray(snapshots.history.close))
        return buy_the_risers(snapshots, self.future)

    @staticmethod
    def _copy_of(seen: np.ndarray) -> np.ndarray | None:
        from prometheus_sim.market import Market
        from prometheus_sim.scenario import load_scenario
        from tests.conftest import SCENARIOS

        for path in sorted(SCENARIOS.glob("*.yaml")):
            spec = load_scenario(path)
            if len(spec.assets) != seen.shape[2]:
                continue
            copy = Market.simulate(spec.with_horizon(max(spec.horizon_days, 400)), seed=spec.seed,
                                   n_paths=seen.shape[0]).close  # fmt: skip
            if copy.shape[1] >= seen.shape[1] and np.array_equal(copy[:, : seen.shape[1]], seen):
                return np.array(copy)
        return None


class TruthPeeker(BatchStrategy):
    """Never reads past t: holds the crypto assets whose hidden conditional drift (``Market.truth``) is positive at t,
    found through ``gc``. A cut that kept the truth up to t passed it (review of 2026-12-05)."""

    name = "truth_peeker"
    decision_every_days = 1

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        t = snapshots.step
        for obj in gc.get_objects():
            truth = getattr(obj, "truth", None) if type(obj).__name__ == "Market" else None
            if truth is not None and truth.drift.shape[0] == snapshots.n_users and truth.drift.shape[1] > t:
                drift = np.array(truth.drift[:, t, :])
                drift[:, snapshots.book.cash_index] = -np.inf
                best = drift.argmax(axis=1)
                rows = np.flatnonzero(drift[np.arange(len(best)), best] > 0.0)
                batch = OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
                batch.buy_fraction[rows, best[rows]] = 0.5  # half the cash into the asset the truth favours most
                batch.action[rows] = Action.BUY_AGGRESSIVE
                return batch
        return OrderBatch.hold(snapshots.n_users, len(snapshots.assets))


class NaiveTruthPeeker(BatchStrategy):
    """Reads ``Market.truth.drift`` at t through ``gc`` without a guard: on the lookahead's cut (no truth) it raises,
    which stopped the check as bad input (exit 2) instead of flagging it (review of 2026-12-05)."""

    name = "naive_truth_peeker"
    decision_every_days = 1

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        t = snapshots.step
        markets = [o for o in gc.get_objects() if type(o).__name__ == "Market" and o.n_paths == snapshots.n_users
                   and o.n_steps > t]  # fmt: skip
        drift = np.array(markets[0].truth.drift[:, t, :])  # an AttributeError where the truth is gone
        drift[:, snapshots.book.cash_index] = -np.inf
        batch = OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
        rows = np.flatnonzero(drift.max(axis=1) > 0.0)
        batch.buy_fraction[rows, drift.argmax(axis=1)[rows]] = 0.5
        batch.action[rows] = Action.BUY_AGGRESSIVE
        return batch


class SelfTerminating(BatchStrategy):
    """Not a cheat: sends its own process SIGTERM at its tenth decision, as an operator's kill would land mid-decision
    (the sweep test checks the sweep stops, not records the signal as this strategy's failure)."""

    name = "self_terminating"
    decision_every_days = 1

    def __init__(self) -> None:
        self.decisions = 0

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        import os
        import signal

        self.decisions += 1
        if self.decisions == 10:
            os.kill(os.getpid(), signal.SIGTERM)
        return OrderBatch.hold(*snapshots.holdings.shape)
