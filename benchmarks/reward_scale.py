"""Mean guide reward per decision of the baselines on ``default``, at daily and weekly decisions.

Shows the reward's scale: if all-cash (``hold``) scored best, a policy trained on it would learn to
sit in cash. The reward of a decision is the guide's, over the period until the next decision
(``prometheus_sim.portfolio.nb.reward_nb``), as recorded by the loop.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/reward_scale.py [--paths 200] [--seed 7]
"""

from __future__ import annotations

import argparse

import numpy as np

from adapters.sim import backtest
from prometheus_sim.market import Market
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
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


if __name__ == "__main__":
    main()
