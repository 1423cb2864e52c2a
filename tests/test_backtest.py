"""The one loop and the SimAdapter: fills at the next open, marking, batching, win rate, errors."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import Adapter
from adapters.sim import SimAdapter, SimConfig, backtest
from prometheus_sim.backtest import DecisionClock, run
from prometheus_sim.market import Market
from prometheus_sim.portfolio import (
    Action,
    CostModel,
    InvalidRecommendation,
    OrderBatch,
    RebalanceRules,
    Recommendation,
    Trade,
)
from strategies import registry
from strategies.base import BaseStrategy, Strategy
from strategies.baselines import EqualWeightRebalance, HoldStrategy


@pytest.fixture(scope="module")
def market(default_spec):
    return Market.simulate(default_spec.with_overrides(horizon_days=150), seed=21, n_paths=6)


class OneShot(BaseStrategy):
    """Buys 50 % of cash worth of BTC at step 3, per path, through decide()."""

    name = "one_shot"
    decision_every_days = 1

    def decide(self, snapshot):
        if snapshot.step == 3:
            return Recommendation(Action.BUY_AGGRESSIVE, (Trade("BTC", "buy", 50.0),), confidence=0.7)
        return Recommendation(Action.HOLD)


def test_adapter_and_strategies_satisfy_their_ports(market, tiny_forecaster, tiny_dqn):
    assert isinstance(SimAdapter(market), Adapter)
    for name in registry.names():
        assert isinstance(registry.create(name), Strategy)


def test_orders_fill_at_the_next_open_not_the_close_they_saw(market):
    costs = CostModel(fees_bps=0, slippage_bps=0, impact=0)
    result = backtest(OneShot(), market, SimConfig(costs=costs))
    cash0 = 100_000 / market.open[:, 0, 3]
    units = cash0 * 0.5 * market.open[:, 4, 3] / market.open[:, 4, 0]
    # equity at close 4 = BTC units x close + remaining cash x USDC close
    expected = units * market.close[:, 4, 0] + cash0 * 0.5 * market.close[:, 4, 3]
    np.testing.assert_allclose(result.equity[:, 4], expected, rtol=1e-12)
    # before the fill, equity is the cash marked at the USDC close
    np.testing.assert_allclose(result.equity[:, 3], cash0 * market.close[:, 3, 3], rtol=1e-12)
    # the fill price is a price the decision could not see
    assert (market.open[:, 4, 0] != market.close[:, 3, 0]).all()
    wrong = units * market.open[:, 4, 0] / market.close[:, 3, 0]  # had it filled at the close it saw
    assert not np.allclose(wrong * market.close[:, 4, 0] + cash0 * 0.5 * market.close[:, 4, 3], result.equity[:, 4])
    assert result.action_counts() == {"HOLD": 6 * (len(result.decision_steps) - 1), "BUY_AGGRESSIVE": 6}


def test_equity_is_holdings_marked_at_every_close(market):
    adapter = SimAdapter(market, SimConfig(costs=CostModel(fees_bps=10)))
    strategy = EqualWeightRebalance(period_days=20)
    holdings_by_step, marks = {}, []
    for t in DecisionClock.for_strategy(strategy, market.n_steps):
        snap = adapter.snapshot(t)
        marks.append(snap.marks)
        receipts = adapter.submit(t, strategy.decide_batch(snap))
        holdings_by_step[t + 1] = receipts.holdings_after
    marks.append(adapter.snapshot(market.n_steps - 1).marks)
    equity = np.concatenate([m.equity for m in marks], axis=1)
    assert np.array_equal(np.concatenate([m.steps for m in marks]), np.arange(market.n_steps))
    h = np.zeros_like(adapter.state.holdings)
    h[:, 3] = 100_000 / market.open[:, 0, 3]  # all cash until the first fill
    for s in range(market.n_steps):
        h = holdings_by_step.get(s, h)
        np.testing.assert_allclose(equity[:, s], (h * market.close[:, s]).sum(axis=1), rtol=1e-12)


def test_batched_run_equals_path_by_path(market):
    batched = backtest(EqualWeightRebalance(15), market)
    for p in range(market.n_paths):
        single = Market.simulate(market.spec, seed=21, path_ids=[p])
        alone = backtest(EqualWeightRebalance(15), single)
        np.testing.assert_array_equal(alone.equity[0], batched.equity[p])
        assert alone.fees[0] == batched.fees[p]


def test_decide_and_decide_batch_agree(market, tiny_forecaster, tiny_dqn):
    adapter = SimAdapter(market)
    adapter.submit(0, EqualWeightRebalance().decide_batch(adapter.snapshot(0)))
    # from all cash (step 0) and from a drifted mixed portfolio (step 90: sells and buys)
    for snap in (SimAdapter(market).snapshot(0), adapter.snapshot(90)):
        for name in registry.names():
            strategy = registry.create(name)
            batch = strategy.decide_batch(snap)
            # a neural model in float32 may differ in its last bits between batch sizes
            rtol = getattr(strategy, "batch_rtol", 1e-15)
            for p in range(market.n_paths):
                one = OrderBatch.from_recommendations([strategy.decide(snap.user(p))], snap.book)
                np.testing.assert_allclose(one.buy_fraction[0], batch.buy_fraction[p], rtol=rtol, atol=rtol * 1e-3)
                np.testing.assert_allclose(one.sell_fraction[0], batch.sell_fraction[p], rtol=rtol, atol=rtol * 1e-3)
    assert (EqualWeightRebalance().decide_batch(snap).sell_fraction > 0).any()


def test_snapshots_cannot_change_the_market(market):
    snap = SimAdapter(market).snapshot(10)
    with pytest.raises(ValueError, match="read-only"):
        snap.history.close[:, -1, :] *= 1.5
    with pytest.raises(ValueError, match="read-only"):
        snap.prices[0, 0] = 1.0


def test_forecast_decides_first_when_it_has_a_full_window(market, tiny_forecaster):
    """Like dqn, forecast's first decision is its first full window: its warm-up holds were counted as decisions
    (52.9 % hold at 120 days, 9 of 17 decisions warm-up), baselines aligned to it were not, and a market too short
    for one decision recorded hold's figures as forecast's (review of 2026-12-05)."""
    from prometheus_sim.features import WARMUP_DAYS

    strategy = registry.create("forecast", period_days=7)
    assert strategy.first_decision_day == WARMUP_DAYS + strategy.predictor.window - 1
    result = backtest(strategy, market)
    assert result.decision_steps[0] >= strategy.first_decision_day
    assert result.decision_steps[0] - strategy.first_decision_day < 7  # the first day of the grid from it


def test_baselines_handle_a_market_without_crypto(tiny_forecaster, tiny_dqn):
    from prometheus_sim.scenario import ScenarioSpec

    spec = ScenarioSpec.from_dict(
        {
            "name": "bonds",
            "horizon_days": 40,
            "assets": [
                {"name": "BOND", "kind": "bond", "start_price": 100, "drift": 0.03, "vol": 0.05},
                {
                    "name": "USDC",
                    "kind": "stable",
                    "start_price": 1,
                    "drift": 0,
                    "vol": 0.01,
                    "process": {"type": "peg", "peg": {"kappa": 300}},
                },
            ],
        }  # fmt: skip
    )
    m = Market.simulate(spec, n_paths=2)
    with pytest.raises(ValueError, match="this market's are none"):  # no crypto where the policy saw BTC, ETH, SOL
        backtest(registry.create("dqn"), m)
    for name in registry.names():
        params = {"allow_other_assets": True} if name == "dqn" else {}
        result = backtest(registry.create(name, **params), m)
        assert result.equity.shape == (2, m.n_steps)
        assert np.isfinite(result.equity).all()


def test_a_market_without_a_stablecoin_is_refused_clearly(mini_dict):
    from prometheus_sim.scenario import ScenarioSpec

    mini_dict["assets"] = mini_dict["assets"][:2]
    m = Market.simulate(ScenarioSpec.from_dict(mini_dict), n_paths=1)
    with pytest.raises(ValueError, match="needs a stablecoin"):
        SimAdapter(m)


def test_strategy_parameters_are_checked():
    for factory in (HoldStrategy, EqualWeightRebalance):
        with pytest.raises(ValueError, match="period_days"):
            factory(period_days=0)


def test_win_is_traded_value_beating_hold_from_the_same_state(market):
    result = backtest(OneShot(), market, win_horizon_days=7)
    d = list(result.decision_steps).index(3)
    fee = 10 / 1e4
    # half the cash went into BTC at the open of step 4 (fee 10 bps, slippage ~1 bp); the other
    # half is the same in both worlds, so the trade wins when BTC beat USDC over steps 4..10
    btc_gain = market.close[:, 10, 0] / market.open[:, 4, 0]
    usdc_gain = market.close[:, 10, 3] / market.open[:, 4, 3]
    expected_win = btc_gain * (1 - fee) * (1 - 0.0001) > usdc_gain * 1.0001
    clear = np.abs(btc_gain / usdc_gain - 1) > 0.01  # away from the cost boundary
    np.testing.assert_array_equal(result.wins[clear, d], expected_win[clear].astype(np.int8))
    assert (result.wins[:, [i for i in range(len(result.decision_steps)) if i != d]] == -1).all()


def test_hold_keeps_the_cash(market):
    result = backtest(HoldStrategy(), market)
    cash0 = 100_000 / market.open[:, 0, 3]
    np.testing.assert_allclose(result.equity, cash0[:, None] * market.close[:, :, 3], rtol=1e-12)
    assert (result.wins == -1).all() and result.fees.sum() == 0


class Broken(BaseStrategy):
    name = "broken"
    decision_every_days = 10

    def decide(self, snapshot):
        if snapshot.step == 20 and snapshot.batch is not None:
            return Recommendation(Action.BUY_MODERATE, (Trade("BTC", "buy", 150.0),))
        return Recommendation(Action.HOLD)


def test_invalid_recommendation_stops_with_a_named_error(market):
    with pytest.raises(InvalidRecommendation, match=r"path 0, step 20: trades\[0\].percentage"):
        backtest(Broken(), market)


def test_the_venue_keeps_time_moving_forward_and_answers_with_receipts(market):
    adapter = SimAdapter(market, SimConfig(rules=RebalanceRules(cooldown_days=5)))
    snap = adapter.snapshot(0)
    assert snap.holdings.shape == (6, 5) and list(snap.users) == list(range(6))
    assert snap.value[2] == pytest.approx(100_000 * market.close[2, 0, 3] / market.open[2, 0, 3])
    assert snap.can_rebalance.all() and np.isnan(snap.reward).all()
    orders = OrderBatch.hold(6, 5)
    orders.action[2] = Action.BUY_AGGRESSIVE
    orders.buy_fraction[2, 0] = 0.5
    receipts = adapter.submit(0, orders)
    assert receipts.fill_step == 1 and receipts.counts() == {"nothing to do": 5, "filled": 1}
    assert receipts.fees[2] > 0 and receipts.holdings_after[2, 0] > 0 and receipts.holdings_before[2, 0] == 0
    with pytest.raises(ValueError, match="submit once per snapshot"):
        adapter.submit(0, OrderBatch.hold(6, 5))
    with pytest.raises(ValueError, match="in the past"):
        adapter.snapshot(0)
    later = adapter.snapshot(3)
    assert list(later.marks.steps) == [1, 2, 3]
    assert not later.can_rebalance[2] and later.can_rebalance[[0, 1, 3, 4, 5]].all()  # cool-down since its fill
    assert np.isfinite(later.reward).all()
    assert later.user(2).portfolio_state.market_regime in ("bull", "bear", "sideways")
    # a decision at t fills at t + 1: allowed once that fill is cooldown_days (5) after the last (step 1), as the
    # PolicyEngine rules at execution; the decision step was compared until 2026-12-05, a bar late (review)
    assert not adapter.snapshot(4).can_rebalance[2]  # it would fill at 5, four days after
    assert adapter.snapshot(5).can_rebalance[2]  # it would fill at 6, five days after
    adapter.close()
    with pytest.raises(ValueError, match="closed"):
        adapter.snapshot(7)
    end = SimAdapter(market)
    end.snapshot(market.n_steps - 1)
    with pytest.raises(ValueError, match="decisions run"):
        end.submit(market.n_steps - 1, OrderBatch.hold(6, 5))


def test_cost_model_rejects_bad_values():
    with pytest.raises(ValueError, match="fees_bps"):
        CostModel(fees_bps=-1)
    with pytest.raises(ValueError, match="impact"):
        CostModel(impact=float("nan"))


def test_clock_decides_before_the_last_step():
    assert list(DecisionClock(10, every=3)) == [0, 3, 6]
    assert list(DecisionClock(10, every=None)) == [0]
    assert list(DecisionClock(1, every=1)) == []


def test_a_clock_can_hold_every_strategy_to_one_first_decision_day():
    """policy evaluate's baselines first decide when the policy does (day 35), each on its own grid from there."""

    class Monthly:
        decision_every_days = 30

    class WarmedUpWeekly:
        decision_every_days = 7
        first_decision_day = 33

    assert list(DecisionClock.for_strategy(Monthly(), 100))[:2] == [0, 30]
    assert list(DecisionClock.for_strategy(Monthly(), 100, not_before_day=35)) == [35, 65, 95]
    assert list(DecisionClock.for_strategy(WarmedUpWeekly(), 50, not_before_day=35)) == [35, 42]
    assert list(DecisionClock.for_strategy(Monthly(), 800, steps_per_day=4, not_before_day=35))[:2] == [143, 263]


def test_run_accepts_any_clock(market):
    adapter = SimAdapter(market)
    result = run(EqualWeightRebalance(), adapter, [0, 7, 50])
    assert list(result.decision_steps) == [0, 7, 50]
    assert result.equity.shape == (6, 52) and np.isfinite(result.equity).all()  # marked through the last fill


def test_decisions_fall_on_a_days_close():
    """At several steps a day a strategy decides at each day's last step, where the day's bar and the features
    of whole days are complete (as the RL env's decisions do); daily, from step 0."""

    class Weekly:
        decision_every_days = 7

    assert list(DecisionClock.for_strategy(Weekly(), 4 * 30, 4)) == [3, 31, 59, 87, 115]
    assert list(DecisionClock.for_strategy(Weekly(), 30, 1)) == [0, 7, 14, 21, 28]


def test_a_strategy_cannot_move_the_venues_users_through_its_snapshot(market):
    """A snapshot's ``users`` is the strategy's own read-only copy: writing to the venue's array once sent the step
    kernel to market rows outside the market (garbage scores, a segfault at 10**9), and live it is the array the
    chain adapter submits to."""

    class MovesUsers(EqualWeightRebalance):
        def decide_batch(self, snapshots):
            snapshots.users.flags.writeable = True  # a copy that owns its data can be made writable again...
            snapshots.users[:] = 10**9  # ... and written, without reaching the venue
            return super().decide_batch(snapshots)

    adapter = SimAdapter(market)
    snap = adapter.snapshot(0)
    with pytest.raises(ValueError, match="read-only"):
        snap.users[0] = 5
    moved = backtest(MovesUsers(), market)
    plain = backtest(EqualWeightRebalance(), market)
    np.testing.assert_array_equal(moved.users, np.arange(market.n_paths))
    np.testing.assert_array_equal(moved.equity, plain.equity)


def test_a_strategy_that_returns_no_order_batch_is_told_so(market):
    """None (or a dict, or one Recommendation) from decide_batch: a TypeError naming the strategy, the step and what to
    return, not an AttributeError from inside the loop."""

    class ReturnsNone(EqualWeightRebalance):
        name = "returns_none"

        def decide_batch(self, snapshots):
            return None

    with pytest.raises(TypeError, match=r"^returns_none\.decide_batch returned NoneType at step 0: it must return an "
                                        r"OrderBatch \(snapshots\.plan\(actions\)"):  # fmt: skip
        backtest(ReturnsNone(), market)


@pytest.mark.parametrize(("attr", "value"), [("decision_every_days", 0), ("decision_every_days", "7"),
                                             ("first_decision_day", "5")])  # fmt: skip
def test_the_python_api_checks_a_strategys_clock_attributes_first(market, attr, value):
    """adapters.sim.backtest built the clock before the strategy's checks: 0 days was a ZeroDivisionError."""
    strategy = EqualWeightRebalance()
    setattr(strategy, attr, value)
    with pytest.raises(TypeError, match=rf"^EqualWeightRebalance\.{attr}: must be an integer"):
        backtest(strategy, market)


def test_a_fill_is_scored_without_the_contribution_landing_at_its_close():
    """On a flat market with fees every trade loses; the holdings 'after the fill' held the month's contribution that
    lands at that close, so every fill on a month's last step scored as a win (review of 2026-12-05, session 19). A
    market's prices must be finite and positive, and a real bar file's volume above 0 (a 0 made the next fill pay the
    slippage cap)."""
    import pandas as pd

    from prometheus_sim.blocks import MarketBlocks
    from prometheus_sim.portfolio import Action, CostModel, OrderBatch, RiskProfile
    from strategies.base import BatchStrategy

    flat = np.array([[[1.0, 100.0, 10.0]] * 70])
    blocks = MarketBlocks(flat, flat, flat, flat, np.full(flat.shape, 1e6), np.ones((1, 70, 4)),
                          np.tile([0.05, 0.02, 100.0], (1, 70, 1)))  # fmt: skip
    calendar = pd.date_range("2024-01-01", periods=70, freq="D")
    market = Market.from_bars("flat", ["USDC", "BTC", "ETH"], ["stable", "crypto", "crypto"], calendar, blocks,
                              {"kind": "test"})  # fmt: skip

    class BuyOnePercent(BatchStrategy):
        name, decision_every_days = "buy_1pct_daily", 1

        def decide_batch(self, s):
            orders = OrderBatch.hold(s.n_users, 3)
            orders.action[:] = Action.BUY_MODERATE
            orders.buy_fraction[:, 1] = 0.01
            return orders

    result = backtest(BuyOnePercent(), market, SimConfig(costs=CostModel(fees_bps=10, slippage_bps=0, impact=0)),
                      RiskProfile(investment_amount=10_000, monthly_contribution=500))  # fmt: skip
    wins = result.wins[0]
    assert (wins == 0).sum() > 60 and not (wins == 1).any(), np.flatnonzero(wins == 1)
    nan = flat.copy()
    nan[0, 5, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"blocks.open: nan at path 0, step 5 .* asset ETH: every price must be finite"
    ):
        Market.from_bars("nan", ["USDC", "BTC", "ETH"], ["stable", "crypto", "crypto"], calendar,
                         blocks._replace(open=nan), {"kind": "test"})  # fmt: skip
    # volume too: a NaN made NaN equity and a 0 paid the 50 % slippage cap, silently (review, session 24); the cash
    # stablecoin never trades, so its volume may be 0
    volume = np.asarray(blocks.volume)
    for a, value in ((2, np.nan), (1, 0.0), (0, -1.0)):
        bad = volume.copy()
        bad[0, 5, a] = value
        with pytest.raises(ValueError, match=rf"blocks.volume: {value!r} at path 0, step 5 .* every volume must be"):
            Market.from_bars("vol", ["USDC", "BTC", "ETH"], ["stable", "crypto", "crypto"], calendar,
                             blocks._replace(volume=bad), {"kind": "test"})  # fmt: skip
    cash_idle = volume.copy()
    cash_idle[:, :, 0] = 0.0
    Market.from_bars("idle", ["USDC", "BTC", "ETH"], ["stable", "crypto", "crypto"], calendar,
                     blocks._replace(volume=cash_idle), {"kind": "test"})  # fmt: skip
    # a market that states no volume (a chain's closes): accepted as such, and refused by the simulated venue
    closes_only = Market.from_bars("chain", ["USDC", "BTC", "ETH"], ["stable", "crypto", "crypto"], calendar,
                                   blocks._replace(volume=np.full_like(volume, np.nan)), {"kind": "test"},
                                   ("volume",))  # fmt: skip
    with pytest.raises(ValueError, match="market 'chain' states no volume"):
        SimAdapter(closes_only)
