"""SimAdapter: the simulated venue, batched over a :class:`~prometheus_sim.market.Market`'s paths.

Each user is a path row of the market. The venue keeps every user's books (holdings, cost basis,
fees, trailing returns) in a :class:`~prometheus_sim.portfolio.nb.BookState` and moves them with
the one step kernel (:func:`~prometheus_sim.portfolio.nb.step_nb`), the same one the RL
environment steps: orders decided at the close of t fill at the **open of t + 1** with slippage
against the volume of bar t; every close is marked, and a monthly contribution lands at a month's
last close, which the decision there sees. Marks are handed to the loop in the next snapshot; the venue keeps no run record.

It allows a rebalance when the portfolio model's cool-down (:class:`RebalanceRules`) has passed
since the user's last fill; that is all a venue says about rebalancing rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prometheus_sim.backtest import BacktestResult, DecisionClock, run
from prometheus_sim.market import Market
from prometheus_sim.portfolio import AssetBook, CostModel, OrderBatch, RebalanceRules, RiskProfile, RiskProfiles, nb
from prometheus_sim.portfolio.model import PortfolioStates
from prometheus_sim.portfolio.rules import contribution_steps
from prometheus_sim.ports import FILLED, NOTHING, Receipts, Strategy, as_strategy
from prometheus_sim.snapshot import MarketHistory, Marks, SnapshotBatch


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """The simulated venue's settings: trading costs and the rebalancing rules it enforces."""

    costs: CostModel = field(default_factory=CostModel)
    rules: RebalanceRules = field(default_factory=RebalanceRules)

    def __post_init__(self) -> None:
        if not isinstance(self.costs, CostModel):
            raise ValueError(f"costs: expected a CostModel, got {type(self.costs).__name__}")
        if not isinstance(self.rules, RebalanceRules):
            raise ValueError(f"rules: expected RebalanceRules, got {type(self.rules).__name__}")


class SimAdapter:
    """The simulated side of the Adapter port."""

    def __init__(
        self,
        market: Market,
        config: SimConfig | None = None,
        profiles: RiskProfile | RiskProfiles | list[RiskProfile] | None = None,
        *,
        start: int = 0,
    ):
        """``start`` opens the books later than the market's first step: the deposit lands in cash at
        the close of ``start`` and nothing before it is marked (an RL episode starting mid-market)."""
        if not isinstance(start, (int, np.integer)) or not (start == 0 or 0 < start < market.n_steps - 1):
            raise ValueError(f"start: must be 0 or a step in 1..{market.n_steps - 2}, got {start!r}")
        if "volume" in market.absent:  # a fill's impact divides by the bar's volume: NaN equity, silently
            raise ValueError(f"market {market.name!r} states no volume (absent: {', '.join(market.absent)}), which the "
                             "simulated venue's fills need for market impact")  # fmt: skip
        self.market = market
        self.config = config or SimConfig()
        self.users = np.arange(market.n_paths, dtype=np.int64)
        self.profiles = RiskProfiles.of(profiles or RiskProfile(), market.n_paths)
        self.book = AssetBook.from_kinds(market.assets, market.asset_kinds, market.asset_sizes)
        self.steps_per_day = market.steps_per_day
        self.n_steps = market.n_steps
        self._kind = self.book.kind_codes
        self._deposit_step = contribution_steps(market.calendar, market.steps_per_day)
        self._rows = np.ascontiguousarray(self.users)
        cash = self.book.cash_index
        amount = np.asarray(self.profiles.investment_amount, dtype=float)
        if start == 0:  # the run's first deposit lands at the first open
            self.state = nb.new_state(amount, market.open[:, 0, cash], len(self.book.names), cash)
        else:
            self.state = nb.new_state(amount, market.close[:, start, cash], len(self.book.names), cash)
            self.state.marked[:] = start
        self._start = int(start)
        self._now = -1  # the last snapshotted step
        self._decided = -1  # the last step orders were submitted for
        self._pending: list[Marks] = []
        self._contributes = bool((self.profiles.monthly_contribution > 0).any())
        self._times = market.calendar.values
        self._closed = False

    # ------------------------------------------------------------ the port

    def snapshot(self, t: int) -> SnapshotBatch:
        """Every user at the close of t: the books are moved there first (pending fills, contributions, marks)."""
        self._check_open()
        if not 0 <= t < self.n_steps:
            raise ValueError(f"step {t} out of range for {self.n_steps} steps")
        if t < max(self._now, self._start) or t <= self._decided:
            raise ValueError(f"step {t} is in the past: the venue is at step "
                             f"{max(self._now, self._decided + 1, self._start)}")  # fmt: skip
        marks = self._advance(t)
        if self._now < 0 and t > self._start:
            self._start_statistics(t)
        self._now = t
        n = len(self.users)
        reward = np.full(n, np.nan)
        if self._decided >= 0:
            nb.period_rewards_nb(self.state, self.profiles.risk_tolerance, self.profiles.time_to_goal,
                                 self.steps_per_day, reward)  # fmt: skip
        states = PortfolioStates(np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=np.int64))
        nb.portfolio_state_nb(self.market.blocks, self._rows, self.state, self._kind, self.steps_per_day,
                              states.unrealized_pnl, states.volatility_30d, states.sharpe_ratio, states.regime)  # fmt: skip
        holdings = self.state.holdings.copy()
        prices = self.market.close[:, t, :]
        return SnapshotBatch(
            step=t,
            timestamp=self.market.calendar[t],
            users=self.users,
            book=self.book,
            holdings=holdings,
            prices=prices,
            value=(holdings * prices).sum(axis=1),
            profiles=self.profiles,
            state=states,
            can_rebalance=self.config.rules.allows_rebalance(self.state.last_fill, t, self.steps_per_day),
            reward=reward,
            history=MarketHistory(self.market.blocks.head(t + 1), self.market.calendar[: t + 1], self.market.absent),
            steps_per_day=self.steps_per_day,
            rules=self.config.rules,
            marks=marks,
        )

    def submit(self, t: int, orders: OrderBatch) -> Receipts:
        """Fill ``orders`` (decided at the close of t, the last snapshot) at the open of t + 1."""
        self._check_open()
        if t != self._now or t <= self._decided:
            raise ValueError(f"orders for step {t}: submit once per snapshot, for its step (the last was {self._now})")
        if not t < self.n_steps - 1:
            raise ValueError(f"step {t} out of range: decisions run 0..{self.n_steps - 2} (fills at t + 1)")
        n, n_assets = len(self.users), len(self.book.names)
        orders.validate(self.book, step=t, n_paths=n)
        costs = self.config.costs
        before = np.empty((n, n_assets))
        fees, notional = np.zeros(n), np.zeros(n)
        marks, deposits = np.empty((n, 1)), np.empty((n, 1 if self._contributes else 0))
        nb.step_nb(
            self.market.blocks, self._rows, np.full(n, t, dtype=np.int64), np.full(n, t + 1, dtype=np.int64),
            orders.action.astype(np.int64), np.zeros(n, dtype=np.bool_),
            np.ascontiguousarray(orders.sell_fraction, dtype=float), np.ascontiguousarray(orders.buy_fraction, dtype=float),
            self._kind, self.book.cash_index, np.zeros(n),
            costs.fees_bps / 1e4, costs.slippage_bps / 1e4, costs.impact,
            self._deposit_step, self.profiles.monthly_contribution, self.steps_per_day,
            self.profiles.risk_tolerance, self.profiles.time_to_goal,
            self.state, fees, notional, np.empty(0), t + 1, marks, deposits, before,
        )  # fmt: skip
        self._decided = t
        self._pending.append(Marks(np.array([t + 1]), self._times[t + 1 : t + 2], marks, self._deposits(deposits)))
        after = self.state.holdings.copy()
        if self._contributes and self._deposit_step[t + 1]:
            # the month's contribution landed at close t + 1, after the fill: not what the fill did. Kept in, every
            # trade filled on a month's last step scored as a win whatever the market did (review, session 19)
            cash = self.book.cash_index
            after[:, cash] -= self.profiles.monthly_contribution / self.market.blocks.close[self._rows, t + 1, cash]
        status = np.where(notional > 0, FILLED, NOTHING).astype(np.int8)
        return Receipts(t, self.users, status, t + 1, fees, notional, before, after)

    def close(self) -> None:
        self._closed = True

    # ------------------------------------------------------------ internals

    def _advance(self, t: int) -> Marks:
        start = int(self.state.marked.max()) + 1 if len(self.users) else t + 1
        n = len(self.users)
        k = max(t + 1 - start, 0)
        equity, deposits = np.empty((n, k)), np.empty((n, k if self._contributes else 0))
        if k:
            nb.advance_nb(self.market.blocks, self._rows, t, self.state, self.book.cash_index, self._deposit_step,
                          self.profiles.monthly_contribution, self.steps_per_day, start, equity, deposits)  # fmt: skip
        now = Marks(np.arange(start, t + 1), self._times[start : t + 1], equity, self._deposits(deposits))
        parts = [*self._pending, now]
        self._pending = []
        parts = [p for p in parts if len(p.steps)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return Marks(np.zeros(0, np.int64), self._times[:0], np.empty((n, 0)), self._deposits(np.empty((n, 0))))
        steps = np.concatenate([p.steps for p in parts])
        equity = np.concatenate([p.equity for p in parts], axis=1)
        deposits = np.concatenate([p.deposits for p in parts], axis=1) if self._contributes else None
        return Marks(steps, self._times[steps], equity, deposits)

    def _start_statistics(self, t: int) -> None:
        """The portfolio's statistics start at the venue's first snapshot, at the close of ``t``: the 30-day window of
        daily returns behind its volatility and Sharpe is emptied and the cost basis behind its unrealised P&L set
        to the books' value there, as a Gymnasium episode opening at that close has them (``start``).

        Why: a strategy that first looks at day 35 (``dqn``, after its features' warm-up, or any strategy aligned
        to it) saw 35 days of its cash stablecoin's noise there, a volatility and a Sharpe the policy never saw in
        training, where every episode opens with an empty window: at the second decision a Sharpe of 3.1 against
        the env's 6.8 for the same book, and 2 of 12 greedy actions changed (review of 2026-12-04). The equity
        curve is untouched: only the state a strategy reads, and the rewards built on it.
        """
        closes = self.market.close[self._rows, t, :]
        self.state.ring[:] = 0.0
        self.state.ring_n[:] = 0
        self.state.day_growth[:] = 1.0
        self.state.basis[:] = self.state.holdings * closes

    def _deposits(self, arr: np.ndarray) -> np.ndarray | None:
        return arr if self._contributes else None

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("this SimAdapter is closed; make a new one for another run")


def backtest(
    strategy: Strategy,
    market: Market,
    config: SimConfig | None = None,
    profiles: RiskProfile | RiskProfiles | list[RiskProfile] | None = None,
    win_horizon_days: int = 7,
) -> BacktestResult:
    """Convenience: a fresh :class:`SimAdapter`, the strategy's own clock, wins scored after the run."""
    if not isinstance(win_horizon_days, int) or win_horizon_days < 1:
        raise ValueError(f"win_horizon_days: must be an integer >= 1, got {win_horizon_days!r}")
    strategy = as_strategy(strategy)  # its checks first: the clock divides by decision_every_days
    adapter = SimAdapter(market, config, profiles)
    result = run(strategy, adapter, DecisionClock.for_strategy(strategy, market.n_steps, market.steps_per_day))
    result = result.scored(market.close, win_horizon_days * market.steps_per_day)
    from dataclasses import replace

    return replace(result, scenario=market.name, seeds=market.seeds.copy())


def sweep_adapter(market: Market, config, profiles: RiskProfiles) -> SimAdapter:
    """The venue a sweep task runs on (``prometheus_sim.sweep.Wiring.adapter``): costs and rules from the sweep's config."""
    return SimAdapter(market, SimConfig(costs=config.costs, rules=config.rules), profiles)


__all__ = ["CostModel", "SimAdapter", "SimConfig", "backtest", "sweep_adapter"]
