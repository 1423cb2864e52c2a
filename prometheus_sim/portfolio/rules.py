"""Rebalancing rules: the REBALANCE target, the inflation tilt and the cool-down.

They belong to the portfolio model, not to a venue: the simulated adapter and the live chain's
``PolicyEngine`` both follow these numbers (the live issue's mock contract mirrors the cool-down,
held to it by a parity test). A venue only reports whether it allows a rebalance now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prometheus_sim.portfolio.model import AssetBook


@dataclass(frozen=True, kw_only=True)
class RebalanceRules:
    """The numbers behind REBALANCE and the guide's ``autoRebalance(user, inflation)``.

    * Target: ``min_risky + risky_span x risk_tolerance`` of the value in the crypto basket, split
      equally (20 % to 80 % by default), the rest in the cash stablecoin; other assets are sold.
    * Inflation tilt (auto-rebalance only): cash loses real value when inflation runs hot, so the
      crypto share rises by ``inflation - inflation_target`` (never below 0), capped at
      ``inflation_tilt_cap``.
    * Cool-down: a user may be auto-rebalanced once ``cooldown_days`` have passed since their
      last fill.
    """

    min_risky: float = 0.2
    risky_span: float = 0.6
    inflation_target: float = 0.02
    inflation_tilt_cap: float = 0.10
    cooldown_days: int = 1

    def __post_init__(self) -> None:
        for name in ("min_risky", "risky_span", "inflation_tilt_cap"):
            value = getattr(self, name)
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {value}")
        if self.min_risky + self.risky_span > 1.0:
            raise ValueError(f"min_risky + risky_span: must be <= 1, got {self.min_risky + self.risky_span}")
        if not math.isfinite(self.inflation_target):
            raise ValueError(f"inflation_target: must be finite, got {self.inflation_target}")
        if not isinstance(self.cooldown_days, int) or self.cooldown_days < 0:
            raise ValueError(f"cooldown_days: must be an integer >= 0, got {self.cooldown_days!r}")

    def risky_weight(self, risk_tolerance: np.ndarray | float, inflation: np.ndarray | float | None = None):
        """Share of the value in the crypto basket; with ``inflation``, tilted as described above."""
        w = self.min_risky + self.risky_span * np.asarray(risk_tolerance, dtype=float)
        if inflation is not None:
            w = w + np.clip(np.asarray(inflation, dtype=float) - self.inflation_target, 0.0, self.inflation_tilt_cap)
        return np.minimum(w, 1.0)

    def target_weights(
        self, book: AssetBook, risk_tolerance: np.ndarray, inflation: np.ndarray | None = None
    ) -> np.ndarray:
        """Target weights, shape (n_users, n_assets): the basket share split equally, the rest cash.

        With no crypto asset in the market the whole value goes to cash.
        """
        risky = self.risky_weight(np.atleast_1d(risk_tolerance), inflation)
        target = np.zeros((risky.shape[0], len(book.names)))
        if book.risky:
            target[:, list(book.risky)] = (risky / len(book.risky))[:, None]
        target[:, book.cash_index] = 1.0 - target.sum(axis=1)
        return target

    def allows_rebalance(self, last_fill_step: np.ndarray, now: int, steps_per_day: int) -> np.ndarray:
        """Shape (n_users,): whether the cool-down since each user's last fill will have passed when an order decided
        at the close of ``now`` fills, at the next open (step ``now + 1``).

        As the PolicyEngine rules at execution (``block.timestamp >= lastTrade + cooldown``): fills ``cooldown_days``
        apart are allowed. Until 2026-12-05 the decision step was compared, so every fill came a bar later than the
        cool-down asked (a 30-day cool-down with monthly rebalancing blocked every other month; review)."""
        return (now + 1 - np.asarray(last_fill_step)) >= self.cooldown_days * steps_per_day


def contribution_steps(calendar, steps_per_day: int = 1) -> np.ndarray:
    """Shape (n_steps,) bool: where a monthly contribution lands, at the close of each calendar month's last step (the
    next month's money, there for the decision at that close to spend).

    ``calendar`` is a DatetimeIndex of the steps' start times, ``steps_per_day`` their rate: a step is its month's
    last when the next step would start in another month. Read from the step alone, never from whether a next step
    exists: a market cut after a month's last day (the lookahead check's cut) then holds the same deposit there as
    the whole market (a first version, which asked the next step, failed the check falsely; review of 2026-12-05).
    The start holds the investment amount.
    """
    months = calendar.year * 12 + calendar.month
    following = calendar + pd.Timedelta(days=1) / int(steps_per_day)
    return np.asarray((following.year * 12 + following.month) != months, dtype=np.bool_)


__all__ = ["RebalanceRules", "contribution_steps"]
