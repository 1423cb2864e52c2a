"""The one step kernel: parity with the loop, time-weighted returns, and the port proved by a second venue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimAdapter, SimConfig, backtest
from prometheus_sim.backtest import DecisionClock, run
from prometheus_sim.blocks import MarketBlocks
from prometheus_sim.market import Market
from prometheus_sim.metrics import path_metrics
from prometheus_sim.portfolio import Action, AssetBook, OrderBatch, RiskProfile, RiskProfiles, nb
from prometheus_sim.portfolio.rules import contribution_steps
from prometheus_sim.ports import FILLED, NOTHING, Adapter, Receipts
from prometheus_sim.snapshot import MarketHistory, Marks, SnapshotBatch
from strategies.base import BatchStrategy
from strategies.baselines import BuyAndHold, HoldStrategy, SixtyForty


class FixedActions(BatchStrategy):
    """Plays a table of action codes (one row per decision), planned by the step kernel's planner."""

    name = "fixed_actions"
    decision_every_days = 1

    def __init__(self, table: np.ndarray):
        self.table = table

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        return snapshots.plan(self.table[snapshots.step])


@pytest.fixture(scope="module")
def market(default_spec):
    return Market.simulate(default_spec.with_horizon(120), seed=8, n_paths=5)


def test_the_kernel_alone_and_the_loop_give_the_same_equity(market):
    rng = np.random.default_rng(0)
    table = rng.integers(0, 7, size=(market.n_steps, market.n_paths))
    profiles = RiskProfiles.of(RiskProfile(risk_tolerance=0.3, monthly_contribution=500.0), market.n_paths)
    config = SimConfig()
    result = run(FixedActions(table), SimAdapter(market, config, profiles), DecisionClock(market.n_steps, every=1))

    book = AssetBook.from_kinds(market.assets, [a.kind for a in market.spec.assets])
    n, n_assets, n_steps = market.n_paths, len(market.assets), market.n_steps
    state = nb.new_state(
        profiles.investment_amount.copy(), market.open[:, 0, book.cash_index], n_assets, book.cash_index
    )
    equity, deposits = np.full((n, n_steps), np.nan), np.zeros((n, n_steps))
    rows = np.arange(n)
    risky = config.rules.risky_weight(profiles.risk_tolerance)
    c = config.costs
    for t in range(n_steps - 1):
        sell, buy = np.zeros((n, n_assets)), np.zeros((n, n_assets))
        nb.step_nb(
            market.blocks, rows, np.full(n, t), np.full(n, t + 1), table[t].astype(np.int64), np.ones(n, np.bool_),
            sell, buy, book.kind_codes, book.cash_index, risky, c.fees_bps / 1e4, c.slippage_bps / 1e4, c.impact,
            contribution_steps(market.calendar), profiles.monthly_contribution, 1, profiles.risk_tolerance,
            profiles.time_to_goal, state, np.zeros(n), np.zeros(n), np.zeros(n), 0, equity, deposits,
            np.zeros((n, n_assets)),
        )  # fmt: skip
    np.testing.assert_allclose(result.equity, equity, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(result.deposits, deposits)
    narrow = np.zeros((n, n_assets - 1))  # the row functions index by asset without bounds checks
    with pytest.raises(ValueError, match="one column per asset"):
        nb.step_nb(
            market.blocks, rows, np.full(n, 0), np.full(n, 1), table[0].astype(np.int64), np.ones(n, np.bool_),
            sell, buy, book.kind_codes, book.cash_index, risky, c.fees_bps / 1e4, c.slippage_bps / 1e4, c.impact,
            contribution_steps(market.calendar), profiles.monthly_contribution, 1, profiles.risk_tolerance,
            profiles.time_to_goal, state, np.zeros(n), np.zeros(n), np.zeros(n), 0, equity, deposits, narrow,
        )  # fmt: skip
    assert deposits.sum() > 0 and len(np.unique(table)) == 7
    np.testing.assert_array_equal(result.actions, table[:-1].T)


def _flat_market(n_days: int = 200) -> Market:
    """Every price constant (the cash stablecoin at exactly 1): nothing can gain or lose but fees."""
    assets = ["BTC", "USDC"]
    px = np.array([30_000.0, 1.0])
    shape = (2, n_days, 2)
    price = np.broadcast_to(px, shape).copy()
    blocks = MarketBlocks(price, price, price, price, np.full(shape, 1e6), np.full((2, n_days, 4), np.nan),
                          np.full((2, n_days, 3), np.nan))  # fmt: skip
    return Market.from_bars("flat", assets, ["crypto", "stable"], pd.date_range("2024-01-01", periods=n_days, freq="D"),
                            blocks, {"kind": "constant prices, built in the test"}, ("onchain", "macro"))  # fmt: skip


def test_contributions_are_never_counted_as_gains():
    market = _flat_market()
    profile = RiskProfile(monthly_contribution=2_000.0)
    result = backtest(HoldStrategy(), market, profiles=profile)
    assert result.deposits.sum(axis=1).tolist() == [12_000.0, 12_000.0]  # six month ends (Jan-Jun)
    assert result.equity[0, -1] == pytest.approx(112_000.0)
    m = path_metrics(result)
    assert np.abs(m["total_return"]).max() < 1e-12 and np.abs(m["max_drawdown"]).max() < 1e-12
    # a traded portfolio loses exactly its fees, however much is deposited
    traded = backtest(SixtyForty(period_days=30), market, profiles=profile)
    fees = traded.fees / (100_000.0 + traded.deposits.sum(axis=1))
    assert (path_metrics(traded)["total_return"] < 0).all()
    assert path_metrics(traded)["fees_paid"].to_numpy() == pytest.approx(fees)


class AllCashIntoBtc(BatchStrategy):
    """Every day, every unit of cash into BTC: what a dollar-cost-averaging user does with each contribution."""

    name = "all_cash_into_btc"
    decision_every_days = 1

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        orders = OrderBatch.hold(*snapshots.holdings.shape)
        orders.buy_fraction[:, snapshots.book.names.index("BTC")] = 1.0
        orders.action[:] = Action.BUY_AGGRESSIVE
        return orders


def test_an_invested_contribution_adds_no_return_of_its_own(market):
    """The time-weighted return, re-derived from the holdings by the definition (growth between flows, a flow at the
    moment it lands): a contribution lands at a month's last close, the decision there spends it at the next open.
    It landed at the open the orders filled at until 2026-12-05 and was counted as arriving at the close, so its
    first day's gain went to the old capital: 2 to 6 points a day with 1,000 a month on 1,000 (review)."""
    from prometheus_sim.portfolio import CostModel

    profile = RiskProfile(investment_amount=1_000.0, monthly_contribution=1_000.0)
    result = backtest(AllCashIntoBtc(), market, SimConfig(costs=CostModel(fees_bps=0, slippage_bps=0, impact=0)),
                      profiles=profile)  # fmt: skip
    o, c = market.blocks.open, market.blocks.close
    cash, btc = market.assets.index("USDC"), market.assets.index("BTC")
    lands = contribution_steps(market.calendar)
    assert lands.sum() == 3 and result.deposits.sum(axis=1) == pytest.approx(3_000.0)
    for p in range(market.n_paths):
        units = np.zeros(len(market.assets))
        units[cash] = 1_000.0 / o[p, 0, cash]  # the investment: all cash before the first open
        after, growth = 1_000.0, 1.0
        for s in range(market.n_steps):
            if s >= 1:  # the decision at s - 1 fills at this open, at no cost
                units[btc] += units[cash] * o[p, s, cash] / o[p, s, btc]
                units[cash] = 0.0
            before_flow = units @ c[p, s]
            growth *= before_flow / after
            if lands[s]:
                units[cash] += 1_000.0 / c[p, s, cash]
            after = units @ c[p, s]
        assert result.equity[p, -1] == pytest.approx(after, rel=1e-12)
        assert path_metrics(result)["total_return"].iloc[p] == pytest.approx(growth - 1.0, rel=1e-10, abs=1e-12)


class InMemoryVenue:
    """A venue double: holds balances and prices that the test sets, fills at those prices with no costs.

    It implements the Adapter port with nothing from the simulator, to show a second side can.
    Users are addresses.
    """

    def __init__(self, users: list[str], assets: tuple[str, ...], kinds: tuple[str, ...], cash: float):
        self.users = np.array(users, dtype=object)
        self.book = AssetBook.from_kinds(assets, kinds)
        self.balances = np.zeros((len(users), len(assets)))
        self.balances[:, self.book.cash_index] = cash
        self.prices = np.ones(len(assets))
        self.history: list[np.ndarray] = []
        self.sent: list[str] = []
        self.profiles = RiskProfiles.of(RiskProfile(investment_amount=cash), len(users))
        self._last = -1

    def snapshot(self, t: int) -> SnapshotBatch:
        n, n_assets = self.balances.shape
        self.history.append(self.prices.copy())
        close = np.broadcast_to(np.array(self.history)[None], (n, len(self.history), n_assets))
        blocks = MarketBlocks(close, close, close, close, np.ones_like(close), np.zeros((n, len(self.history), 4)),
                              np.zeros((n, len(self.history), 3)))  # fmt: skip
        steps = np.arange(self._last + 1, t + 1)
        value = self.balances @ self.prices
        self._last = t
        return SnapshotBatch(
            step=t, timestamp=pd.Timestamp("2025-01-01") + pd.Timedelta(days=t), users=self.users, book=self.book,
            holdings=self.balances.copy(), prices=np.tile(self.prices, (n, 1)), value=value, profiles=self.profiles,
            state=nb_states(n), can_rebalance=np.ones(n, bool), reward=np.full(n, np.nan),
            history=MarketHistory(blocks, pd.date_range("2025-01-01", periods=len(self.history))), steps_per_day=1,
            rules=SimConfig().rules,
            marks=Marks(steps, pd.date_range("2025-01-01", periods=t + 1).values[steps],
                        np.repeat(value[:, None], len(steps), axis=1), np.zeros((n, len(steps)))),
        )  # fmt: skip

    def submit(self, t: int, orders: OrderBatch) -> Receipts:
        orders.validate(self.book, step=t, n_paths=len(self.users))
        before = self.balances.copy()
        for i in range(len(self.users)):
            cash = self.book.cash_index
            for a in range(len(self.prices)):
                units = self.balances[i, a] * orders.sell_fraction[i, a]
                self.balances[i, a] -= units
                self.balances[i, cash] += units * self.prices[a]
            spendable = self.balances[i, cash]
            for a in range(len(self.prices)):
                spend = spendable * orders.buy_fraction[i, a]
                self.balances[i, cash] -= spend
                self.balances[i, a] += spend / self.prices[a]
            self.sent.append(f"{self.users[i]}@{t}: {orders.recommendation(i, self.book)}")
        traded = np.any(self.balances != before, axis=1)
        status = np.where(traded, FILLED, NOTHING).astype(np.int8)
        return Receipts(t, self.users, status, None, np.zeros(len(traded)), np.zeros(len(traded)), before,
                        self.balances.copy(), tuple(self.sent[-len(self.users):]))  # fmt: skip

    def close(self) -> None:
        self.sent.append("closed")


def nb_states(n: int):
    from prometheus_sim.portfolio.model import PortfolioStates

    return PortfolioStates(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64))


def test_a_second_venue_runs_the_same_strategy_through_the_same_loop():
    venue = InMemoryVenue(["0xA11CE", "0xB0B"], ("ETH", "USDC"), ("crypto", "stable"), cash=1_000.0)
    assert isinstance(venue, Adapter)
    venue.prices = np.array([2_000.0, 1.0])

    class Clock:
        last_step = 3

        def __iter__(self):
            yield 0
            venue.prices = np.array([3_000.0, 1.0])  # the test moves the market between decisions

    result = run(BuyAndHold(), venue, Clock())
    # buy-and-hold's target for risk 0.5: 50 % in the crypto basket, bought at 2,000
    np.testing.assert_allclose(venue.balances[:, 0], 0.25)
    np.testing.assert_allclose(result.equity[:, -1], 500.0 + 0.25 * 3_000.0)
    assert list(result.users) == ["0xA11CE", "0xB0B"] and result.action_counts() == {"REBALANCE": 2}
    assert venue.sent[-1] == "closed" and "0xB0B@0" in venue.sent[1]
    scored = result.scored(np.broadcast_to(np.array([[2_000.0, 1.0]] * 4)[None], (2, 4, 2)), 2)
    assert (scored.wins == 0).all()  # flat after the buy: the trade does not beat holding cash
    assert result.rewards.shape == (2, 1) and np.isnan(result.rewards).all()  # this venue reports no reward


def test_mean_reward_per_decision_is_recorded(market):
    result = backtest(SixtyForty(period_days=7), market)
    assert result.rewards.shape == result.actions.shape
    assert np.isfinite(result.rewards[:, :-1]).all()
    assert Action.REBALANCE in np.unique(result.actions)


def test_the_guides_32_value_state(market):
    adapter = SimAdapter(market, profiles=RiskProfile(risk_tolerance=0.3, time_to_goal=36, monthly_contribution=500.0))
    snap = adapter.snapshot(0)
    adapter.submit(0, snap.plan(np.full(market.n_paths, Action.BUY_MODERATE)))
    t = 60
    snap = adapter.snapshot(t)
    obs = snap.observation()
    assert obs.shape == (market.n_paths, 32) and np.isfinite(obs).all()
    np.testing.assert_allclose(obs[:, 0], snap.value / 1e6)
    np.testing.assert_allclose(obs[:, 1], snap.state.unrealized_pnl / snap.value)
    np.testing.assert_allclose(obs[:, 2], snap.state.volatility_30d)
    np.testing.assert_allclose(obs[:, 3], snap.state.sharpe_ratio)
    np.testing.assert_allclose(obs[:, 4 : 4 + len(market.assets)], -np.sort(-snap.weights, axis=1))
    assert (obs[:, 4 + len(market.assets) : 14] == 0).all()
    np.testing.assert_allclose(obs[:, 14:17], [[0.3, (36 - t / (365 / 12)) / 120, 0.05]] * market.n_paths)
    btc, eth = market.assets.index("BTC"), market.assets.index("ETH")
    np.testing.assert_allclose(obs[:, 17], market.close[:, t, btc] / market.close[:, t - 7, btc] - 1)
    np.testing.assert_allclose(obs[:, 18], market.close[:, t, eth] / market.close[:, t - 7, eth] - 1)
    assert (obs[:, 19] > 0).all() and (obs[:, 20] == 0.5).all()
    np.testing.assert_array_equal(obs[:, 21], snap.state.regime == 1)
    np.testing.assert_array_equal(obs[:, 22], snap.state.regime == 2)
    assert (obs[:, 23:] == 0).all()
    assert (snap.state.volatility_30d > 0).all() and (snap.state.unrealized_pnl != 0).all()
