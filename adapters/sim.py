"""SimAdapter: executes recommendations against a simulated :class:`~prometheus_sim.market.Market`.

* Orders decided at step t (seeing the close of t) fill at the **open of t + 1**, never at the
  close the decision saw, through the one accounting kernel
  (:func:`prometheus_sim.portfolio.execute_orders_nb`): fees in bps of notional, slippage that
  grows with size relative to the decision bar's volume, no negative holdings, cash in the
  stablecoin.
* Equity is marked at every close; holdings are constant between fills, so marking is one
  kernel call per decision over the steps since the last one.
* Win rate bookkeeping: for each non-HOLD recommendation the adapter compares, ``win_horizon_days``
  after the decision, the value of the traded portfolio with the value the untouched portfolio
  would have had (HOLD from the same state). This uses future closes and lives here, in the
  simulator, never in a snapshot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prometheus_sim.backtest import BacktestResult
from prometheus_sim.market import Market
from prometheus_sim.portfolio import (
    Action,
    AssetBook,
    OrderBatch,
    Recommendation,
    RiskProfile,
    execute_orders_nb,
    mark_to_market_nb,
    orders_for_target_weights,
)
from prometheus_sim.snapshot import MarketHistory, Snapshot, SnapshotBatch

WIN_UNSCORED = -1


@dataclass(frozen=True, kw_only=True)
class CostModel:
    """Trading costs. ``impact`` is the extra slippage per unit of participation (units / volume)."""

    fees_bps: float = 10.0
    slippage_bps: float = 1.0
    impact: float = 0.1

    def __post_init__(self) -> None:
        for name in ("fees_bps", "slippage_bps", "impact"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be a finite number >= 0, got {value}")
        if self.fees_bps >= 10_000:
            raise ValueError(f"fees_bps: must be < 10000, got {self.fees_bps}")


class SimAdapter:
    """The simulated side of the Adapter port, batched over the market's paths."""

    def __init__(
        self,
        market: Market,
        costs: CostModel | None = None,
        risk_profile: RiskProfile | None = None,
        initial_value: float = 100_000.0,
        win_horizon_days: int = 7,
        cooldown_days: int = 1,
    ):
        if not initial_value > 0 or not math.isfinite(initial_value):
            raise ValueError(f"initial_value: must be > 0, got {initial_value}")
        if win_horizon_days < 1:
            raise ValueError(f"win_horizon_days: must be >= 1, got {win_horizon_days}")
        self.market = market
        self.costs = costs or CostModel()
        self.risk_profile = risk_profile or RiskProfile()
        self.book = AssetBook.from_kinds(market.assets, [a.kind for a in market.spec.assets])
        self.kinds = tuple(a.kind for a in market.spec.assets)
        self.initial_value = float(initial_value)
        self.win_horizon_steps = win_horizon_days * market.spec.steps_per_day
        self.cooldown_steps = cooldown_days * market.spec.steps_per_day
        self.n_steps = market.n_steps
        n_paths, n_assets = market.n_paths, len(market.assets)
        self.holdings = np.zeros((n_paths, n_assets))
        self.holdings[:, self.book.cash_index] = self.initial_value / market.open[:, 0, self.book.cash_index]
        self.equity = np.full((n_paths, market.n_steps), np.nan)
        self.fees = np.zeros(n_paths)
        self.notional = np.zeros(n_paths)
        self.last_trade_step = np.full(n_paths, -(10**9), dtype=np.int64)
        self.decision_steps: list[int] = []
        self.actions: list[np.ndarray] = []
        self.wins: list[np.ndarray] = []
        self._marked = 0
        self._pending_step = -1
        self._now = 0  # the last step a snapshot was taken at: where per-user calls act

    # ------------------------------------------------------------ snapshots

    def history(self, t: int) -> MarketHistory:
        return MarketHistory(self.market.blocks.head(t + 1), self.market.calendar[: t + 1])

    def snapshot_batch(self, t: int) -> SnapshotBatch:
        """Every path's snapshot at step t; t may not go back before a step already submitted."""
        if not 0 <= t < self.market.n_steps:
            raise ValueError(f"step {t} out of range for {self.market.n_steps} steps")
        if t < self._pending_step:
            raise ValueError(f"step {t} is before step {self._pending_step}, whose orders are already filled")
        self._now = t
        prices = self.market.close[:, t, :]
        holdings = self.holdings.copy()
        return SnapshotBatch(
            step=t,
            timestamp=self.market.calendar[t],
            book=self.book,
            kinds=self.kinds,
            holdings=holdings,
            prices=prices,
            value=(holdings * prices).sum(axis=1),
            risk_profile=self.risk_profile,
            history=self.history(t),
            steps_per_day=self.market.spec.steps_per_day,
        )

    def snapshot(self, user: int, t: int) -> Snapshot:
        return self.snapshot_batch(t).path(self._check_user(user))

    # ------------------------------------------------------------ orders

    def submit_batch(self, t: int, orders: OrderBatch) -> None:
        """Fill ``orders`` (decided at step t) at the open of t + 1 and book the results."""
        self._check_step(t)
        if t < self._pending_step:
            raise ValueError(f"step {t} is before the last submitted step {self._pending_step}")
        orders.validate(self.book, step=t, n_paths=self.market.n_paths)
        m, fill = self.market, t + 1
        self._mark_until(fill)
        before = self.holdings.copy()
        execute_orders_nb(
            self.holdings, self.book.cash_index, m.open[:, fill, :], m.volume[:, t, :],
            orders.sell_fraction, orders.buy_fraction,
            self.costs.fees_bps / 1e4, self.costs.slippage_bps / 1e4, self.costs.impact,
            self.fees, self.notional,
        )  # fmt: skip
        traded = np.any(self.holdings != before, axis=1)
        self.last_trade_step[traded] = t
        self.decision_steps.append(t)
        self.actions.append(np.asarray(orders.action, dtype=np.int8).copy())
        self.wins.append(self._score(t, orders.action, before))
        self._pending_step = t

    def submit(self, user: int, rec: Recommendation) -> None:
        """Submit one user's recommendation at the last snapshotted step (others hold).

        Each call is booked as its own decision (a column of ``actions`` where the other users
        HOLD); batch callers should use :meth:`submit_batch` once per step.
        """
        p = self._check_user(user)
        t = self._now
        orders = OrderBatch.hold(self.market.n_paths, len(self.book.names))
        single = OrderBatch.from_recommendations([rec], self.book, step=t)
        orders.action[p] = single.action[0]
        orders.sell_fraction[p] = single.sell_fraction[0]
        orders.buy_fraction[p] = single.buy_fraction[0]
        orders.confidence[p] = single.confidence[0]
        self.submit_batch(t, orders)

    def can_rebalance(self, user: int) -> bool:
        p = self._check_user(user)
        return bool(self._now - self.last_trade_step[p] >= self.cooldown_steps)

    def auto_rebalance(self, user: int, inflation: float) -> Recommendation | None:
        """Rebalance to the risk target; inflation above 2 % moves up to 10 points from cash to risk.

        Cash loses real value when inflation runs hot, so the risky share is raised by the
        excess over a 2 % target (capped at 10 points). Returns the recommendation submitted, or
        None inside the cool-down.
        """
        if not math.isfinite(inflation):
            raise ValueError(f"inflation: must be finite, got {inflation}")
        p = self._check_user(user)
        if not self.can_rebalance(p):
            return None
        t = self._now
        risky_weight = min(1.0, self.risk_profile.risky_weight + min(0.10, max(0.0, inflation - 0.02)))
        target = np.zeros(len(self.book.names))
        target[list(self.book.risky)] = risky_weight / max(len(self.book.risky), 1)
        target[self.book.cash_index] = 1.0 - target.sum()
        prices = self.market.close[p : p + 1, t, :]
        sells, buys = orders_for_target_weights(self.holdings[p : p + 1], prices, target, self.book.cash_index)
        orders = OrderBatch.hold(1, len(self.book.names))
        orders.action[0] = Action.REBALANCE
        orders.sell_fraction[0], orders.buy_fraction[0] = sells[0], buys[0]
        rec = orders.recommendation(0, self.book)
        self.submit(p, rec)
        return rec

    # ------------------------------------------------------------ results

    def finish(self) -> None:
        """Mark equity through the last step."""
        self._mark_until(self.market.n_steps)

    def result(self, strategy: str) -> BacktestResult:
        """Everything the run produced, for every path (call after :meth:`finish`)."""
        m = self.market
        n_paths = m.n_paths
        actions = np.stack(self.actions, axis=1) if self.actions else np.zeros((n_paths, 0), np.int8)
        wins = np.stack(self.wins, axis=1) if self.wins else np.zeros((n_paths, 0), np.int8)
        return BacktestResult(
            strategy=strategy,
            scenario=m.spec.name,
            seeds=m.seeds.copy(),
            calendar=m.calendar,
            steps_per_day=m.spec.steps_per_day,
            initial_value=self.initial_value,
            equity=self.equity,
            fees=self.fees.copy(),
            notional=self.notional.copy(),
            decision_steps=np.asarray(self.decision_steps, dtype=np.int64),
            actions=actions,
            wins=wins,
        )

    def _mark_until(self, stop: int) -> None:
        if stop > self._marked:
            mark_to_market_nb(self.holdings, self.market.close, self._marked, stop, self.equity)
            self._marked = stop

    def _score(self, t: int, actions: np.ndarray, before: np.ndarray) -> np.ndarray:
        horizon = t + self.win_horizon_steps
        wins = np.full(len(actions), WIN_UNSCORED, dtype=np.int8)
        if horizon >= self.market.n_steps:
            return wins
        px = self.market.close[:, horizon, :]
        traded_value = (self.holdings * px).sum(axis=1)
        held_value = (before * px).sum(axis=1)
        scored = (np.asarray(actions) != Action.HOLD) & np.any(self.holdings != before, axis=1)
        wins[scored] = (traded_value[scored] > held_value[scored]).astype(np.int8)
        return wins

    def _check_step(self, t: int) -> None:
        if not 0 <= t < self.market.n_steps - 1:
            raise ValueError(f"step {t} out of range: decisions run 0..{self.market.n_steps - 2} (fills at t + 1)")

    def _check_user(self, user: int) -> int:
        if not 0 <= int(user) < self.market.n_paths:
            raise ValueError(f"user {user} out of range for {self.market.n_paths} paths")
        return int(user)
