"""The guide's reward of the baselines on ``default``, at daily and weekly decisions: per decision, and
per episode as the RL environment has them.

Shows the reward's scale: if all-cash (``hold``) scored best, a policy trained on it would learn to
sit in cash. The reward of a decision is the guide's, over the period until the next decision
(``prometheus_sim.portfolio.nb.reward_nb``), as recorded by the loop. An episode is the RL
environment's (``PortfolioEnv``'s defaults): the books open in cash at the close of a start day after
the features' warm-up, a risk profile drawn as the env draws it (risk tolerance uniform in [0, 1], 6 to
120 months to the goal), 182 days of decisions; its reward is the sum over its decisions, reported as
the mean over paths x starts with its standard error. ``sixty_forty`` keeps its monthly rebalance;
``hold`` never trades (cash); ``buy_and_hold`` buys the profile's target weights at the first decision.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/reward_scale.py [--paths 200] [--seed 7] [--episode-paths 100]
"""

from __future__ import annotations

import argparse

import numpy as np

from adapters.sim import SimAdapter, backtest
from prometheus_sim.features import WARMUP_DAYS
from prometheus_sim.market import Market
from prometheus_sim.portfolio import RiskProfile, RiskProfiles
from prometheus_sim.rl.env import goal_dated_from
from prometheus_sim.scenario import load_scenario
from strategies.baselines import BuyAndHold, HoldStrategy, SixtyForty


class EveryPeriod:
    """Wraps a baseline so the loop decides (and records a reward) every ``days`` days."""

    def __init__(self, inner, days: int):
        self.inner, self.name, self.decision_every_days = inner, inner.name, days
        self._first = True

    def decide(self, snapshot):
        return self.inner.decide(snapshot)

    def decide_batch(self, snapshots):
        from prometheus_sim.portfolio import OrderBatch

        if self.inner.decision_every_days is None and not self._first:  # buy-and-hold: buy once, then hold
            return OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
        self._first = False
        if self.inner.decision_every_days not in (None, self.decision_every_days) and snapshots.step % (
            self.inner.decision_every_days * snapshots.steps_per_day
        ):
            return OrderBatch.hold(snapshots.n_users, len(snapshots.assets))
        return self.inner.decide_batch(snapshots)


EPISODE_DAYS = 182


def episode_rewards(make, market: Market, days: int, rng: np.random.Generator) -> np.ndarray:
    """The summed reward of every (path, start) episode, starts every 182 days from the warm-up on, each
    stepped as ``PortfolioEnv.step`` steps (the venue's snapshot reward after each period)."""
    sums = []
    for start in range(WARMUP_DAYS, market.n_steps - EPISODE_DAYS, EPISODE_DAYS):
        profiles = RiskProfiles.of([RiskProfile(risk_tolerance=float(r), time_to_goal=int(m))
                                    for r, m in zip(rng.uniform(0.0, 1.0, market.n_paths),
                                                    rng.integers(6, 121, market.n_paths), strict=True)], market.n_paths)  # fmt: skip
        adapter = SimAdapter(market, profiles=goal_dated_from(profiles, start, market.steps_per_day), start=start)
        strategy, t, end = EveryPeriod(make(), days), start, start + EPISODE_DAYS
        snap, total = adapter.snapshot(start), np.zeros(market.n_paths)
        while t < end:
            adapter.submit(t, strategy.decide_batch(snap))
            t = min(t + days, end)
            snap = adapter.snapshot(t)
            total += snap.reward
        sums.append(total)
    return np.concatenate(sums)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--episode-paths", type=int, default=100)
    args = p.parse_args()
    market = Market.simulate(load_scenario("scenarios/default.yaml"), seed=args.seed, n_paths=args.paths)
    print(f"default, {args.paths} paths, seed {args.seed}: mean guide reward per decision (median over paths)")
    print(f"{'strategy':14s} {'daily':>10s} {'weekly':>10s}")
    for make in (HoldStrategy, BuyAndHold, SixtyForty):
        row = []
        for days in (1, 7):
            result = backtest(EveryPeriod(make(), days), market)
            per_path = np.nanmean(result.rewards, axis=1)
            row.append(float(np.median(per_path)))
        print(f"{make().name:14s} {row[0]:10.4f} {row[1]:10.4f}")
    episodes = market.rows(slice(0, args.episode_paths))
    print(f"\nper {EPISODE_DAYS}-day episode, as PortfolioEnv's (mean +- standard error over paths x starts)")
    print(f"{'strategy':14s} {'daily':>16s} {'weekly':>16s}")
    for make in (HoldStrategy, BuyAndHold, SixtyForty):
        cells = []
        for days in (1, 7):
            sums = episode_rewards(make, episodes, days, np.random.default_rng(args.seed))
            cells.append(f"{sums.mean():8.2f} +- {sums.std(ddof=1) / np.sqrt(len(sums)):5.2f}")
        print(f"{make().name:14s} {cells[0]:>16s} {cells[1]:>16s}  ({len(sums)} episodes)")


if __name__ == "__main__":
    main()
