"""Which of a training run's checkpoints to register: each scored on held-out seeds as ``policy evaluate`` scores.

Why: the guide's reward ranks holding cash first (README, RL), so a Double DQN trained on it drifts,
from one checkpoint to the next, between policies that trade and policies that sit in cash or sell
every week, and which one a run happens to end on is luck that a CPU's floating-point rounding changes
(README, Determinism). Measured on 2026-12-04 (the README's command with ``--seed 1 --checkpoints 10``,
on a host where that run ends holding cash): the ten checkpoints' (40,000 to 400,000 steps) mean Sharpe
on validation seeds 900-931 of ``default`` was 0.095, 0.008, 0.416, 0.008, 0.725, 0.826, 0.204, 0.186,
0.008, 0.008 (60/40 0.742), and on the unseen evaluation seeds 1000-1099 0.013, 0.008, 0.303, 0.008,
0.516, 0.557, 0.123, 0.141, 0.022, 0.008 (60/40 0.501): the same order at the top, and the run's
last checkpoint, the one registered until then, among the worst. So the trainer can backtest the
greedy policy of every checkpoint on the training scenarios (the sweep's default risk profiles, the
run's costs) for seeds used neither in training nor in the evaluation, and register the one with the
highest mean Sharpe there.

What this is and is not: model selection on a validation set by the score the acceptance criterion
uses (Sharpe), not a change of the reward the network learns, nor of how a policy is evaluated; the
evaluation seeds stay unseen (``policy evaluate`` refuses the validation seeds as it refuses the
training ones), and the policy's metadata keeps every checkpoint's score and which one was chosen.

The strategy that decides by a network and the venue come from the caller (:class:`PolicyWiring`): the
core imports neither ``strategies`` nor ``adapters``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from prometheus_sim.backtest import first_grid_day
from prometheus_sim.metrics import ACTION_SHARE_COLUMNS, metric_interval, path_metrics
from prometheus_sim.portfolio import CostModel
from prometheus_sim.strategy_spec import StrategySpec
from prometheus_sim.sweep import SweepConfig, backtest_scored, daily_policy_rate

SELECTION_METRIC = "sharpe"
REFERENCE_STRATEGY = "sixty_forty"  # the baseline the acceptance row compares the policy with


@dataclass(frozen=True)
class PolicyWiring:
    """What scoring a checkpoint needs and the core does not import, handed in by the CLI (or a test).

    ``policy(network)`` builds a strategy deciding by ``network`` (a ``QNetwork`` carrying the run's
    ``meta``); ``adapter(market, config, profiles)`` the venue (``sweep.Wiring.adapter``);
    ``reference(spec)``, when given, builds the baseline scored beside the checkpoints (60/40).
    """

    policy: Callable[[Any], Any]
    adapter: Callable[..., Any]
    reference: Callable[[StrategySpec], Any] | None = None


@dataclass(frozen=True)
class CheckpointScore:
    """One checkpoint's mean Sharpe over the validation paths, its 95 % interval, and its most frequent action."""

    step: int
    sharpe: float
    low: float
    high: float
    top_action: str
    top_share: float


@dataclass(frozen=True)
class Selection:
    """Every checkpoint's score, the one chosen, and the reference baseline's score on the same paths."""

    seeds: tuple[int, ...]
    scores: tuple[CheckpointScore, ...]
    chosen: int
    reference: float | None
    seconds: float

    @property
    def best(self) -> CheckpointScore:
        return self.scores[self.chosen]

    def as_meta(self) -> dict:
        """What the registered policy's metadata records (JSON-ready)."""
        return {
            "metric": f"mean {SELECTION_METRIC} over the validation paths (backtest, greedy policy)",
            "seeds": list(self.seeds),
            "scores": [{k: _finite_or_none(v) for k, v in asdict(s).items()} for s in self.scores],
            "chosen_step": self.best.step,
            "reference": {REFERENCE_STRATEGY: _finite_or_none(self.reference)},
            "seconds": round(self.seconds, 2),
        }


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN: a float that is not finite is recorded as None (a single seed has no interval)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def choose(scores: list[CheckpointScore] | tuple[CheckpointScore, ...]) -> int:
    """Index of the highest mean Sharpe (a tie goes to the later checkpoint; NaN never wins, all NaN: the last)."""
    best = len(scores) - 1
    for k, s in enumerate(scores):
        if math.isfinite(s.sharpe) and (not math.isfinite(scores[best].sharpe) or s.sharpe >= scores[best].sharpe):
            best = k
    return best


def select_checkpoint(
    networks: list[tuple[int, Any]],
    scenarios: tuple[str, ...],
    seeds: tuple[int, ...],
    wiring: PolicyWiring,
    costs: CostModel | None = None,
    horizon_days: int | None = None,
) -> Selection:
    """Score each ``(env steps, network)`` on ``seeds`` of ``scenarios`` (all paths pooled) and choose one.

    The markets are simulated once; every network is backtested on the same paths, with the same risk
    profiles and costs, as ``policy evaluate`` backtests a registered policy. A backtest that fails is an
    error naming the checkpoint (a policy that cannot run must not be registered by default).
    """
    from prometheus_sim.market import Market

    started = time.perf_counter()
    if not networks:
        raise ValueError("checkpoints: at least one to choose from (checkpoints >= 1)")
    first = wiring.policy(networks[0][1])  # the reference first decides when the policy does (as policy evaluate)
    first_day = first_grid_day(getattr(first, "first_decision_day", 0), getattr(first, "decision_every_days", 1))
    config = SweepConfig(scenarios=scenarios, seeds=seeds, strategies=(StrategySpec.of("dqn"),),
                         costs=costs or CostModel(), horizon_days=horizon_days, first_decision_day=first_day)  # fmt: skip
    markets = [Market.simulate(spec, seeds=seeds) for spec in config.load_scenarios().values()]

    def sharpes(strategy) -> tuple[np.ndarray, np.ndarray]:
        frames = [path_metrics(backtest_scored(strategy, m, config, wiring.adapter), daily_policy_rate(m))
                  for m in markets]  # fmt: skip
        sharpe = np.concatenate([f[SELECTION_METRIC].to_numpy() for f in frames])
        shares = np.concatenate([f[list(ACTION_SHARE_COLUMNS)].to_numpy() for f in frames])
        return sharpe, shares

    scores = []
    for step, network in networks:
        try:
            sharpe, shares = sharpes(wiring.policy(network))
        except Exception as exc:
            raise ValueError(f"checkpoint at step {step}: its validation backtest failed: {exc}") from exc
        # one seed's cells in several scenarios share their random numbers (path 0 of the same Philox key): one
        # cluster, or the interval `policy train` prints is too narrow (1.9x over 3 scenarios: review of 2026-12-05)
        mean, low, high = metric_interval(sharpe, SELECTION_METRIC, clusters=np.tile(np.asarray(seeds), len(markets)))
        share = np.nanmean(shares, axis=0) if np.isfinite(shares).any() else np.zeros(len(ACTION_SHARE_COLUMNS))
        top = int(np.argmax(share))
        scores.append(CheckpointScore(step=int(step), sharpe=float(mean), low=float(low), high=float(high),
                                      top_action=ACTION_SHARE_COLUMNS[top].removeprefix("share_"),
                                      top_share=float(share[top])))  # fmt: skip
    reference = None
    if wiring.reference is not None:
        baseline = sharpes(wiring.reference(StrategySpec.of(REFERENCE_STRATEGY)))[0]
        reference = float(metric_interval(baseline, SELECTION_METRIC)[0])
    return Selection(seeds=tuple(int(s) for s in seeds), scores=tuple(scores), chosen=choose(scores),
                     reference=reference, seconds=time.perf_counter() - started)  # fmt: skip


__all__ = ["CheckpointScore", "PolicyWiring", "Selection", "choose", "select_checkpoint"]
