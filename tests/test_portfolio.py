"""Actions, orders, the accounting kernel and the reward."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prometheus_sim.portfolio import (
    Action,
    AssetBook,
    InvalidRecommendation,
    OrderBatch,
    RebalanceRules,
    Recommendation,
    RiskProfile,
    RiskProfiles,
    Trade,
    plan_actions,
)
from prometheus_sim.portfolio.nb import (
    WINDOW_DAYS,
    execute_orders_nb,
    new_state,
    portfolio_obs_row_nb,
    reward_nb,
    trailing_stats_row_nb,
)  # fmt: skip

BOOK = AssetBook.from_kinds(("BTC", "ETH", "USDC", "BOND"), ("crypto", "crypto", "stable", "bond"))
PRICES = np.array([[50_000.0, 2_500.0, 1.0, 100.0]])


def _fill(holdings, orders, prices=PRICES, fee=0.0, slip=0.0, impact=0.0, volume=None):
    h = holdings.astype(float).copy()
    fees = np.zeros(len(h))
    notional = np.zeros(len(h))
    vol = np.full_like(h, 1e12) if volume is None else volume
    basis = h * prices
    execute_orders_nb(h, basis, BOOK.cash_index, prices, vol, orders.sell_fraction, orders.buy_fraction, fee, slip,
                      impact, fees, notional)  # fmt: skip
    return h, fees, notional


def _value(h, prices=PRICES):
    return (h * prices).sum(axis=1)


def _history(n_days: int = 40) -> np.ndarray:
    """Closes (7, n_days, 4) where ETH swings more than BTC and the bond barely moves; cash at 1."""
    rng = np.random.default_rng(3)
    vol = np.array([0.02, 0.06, 0.0, 0.002])
    steps = rng.normal(0.0, vol, size=(n_days, 4))
    close = PRICES[0] * np.exp(np.cumsum(steps, axis=0))
    return np.repeat(close[None], 7, axis=0)


def test_planning_refuses_shapes_that_do_not_match_the_book():
    """The planner's kernel runs without bounds checks: holdings one column short of the book read the next
    user's row and wrote past the last one's orders, silently (review, 2026-12-05). Each shape is named."""
    close = _history()
    t = close.shape[1] - 1
    holdings = np.array([[1.0, 10.0, 20_000.0, 100.0]] * 2)
    with pytest.raises(ValueError, match="holdings: 3 columns for a book of 4 assets"):
        plan_actions(np.array([6, 6]), holdings[:, :3], close[:2, :, :3], t, BOOK, np.full(2, 0.5))
    with pytest.raises(ValueError, match=r"close: shape \(\d+, \d+, 3\) does not hold step"):
        plan_actions(np.array([6, 6]), holdings, close[:2, :, :3], t, BOOK, np.full(2, 0.5))
    with pytest.raises(ValueError, match="close: .* does not hold step"):
        plan_actions(np.array([6, 6]), holdings, close[:2], close.shape[1], BOOK, np.full(2, 0.5))
    with pytest.raises(ValueError, match="close: .* does not hold step"):
        plan_actions(np.array([6, 6]), holdings, close[:1], t, BOOK, np.full(2, 0.5))
    with pytest.raises(ValueError, match=r"actions: expected one per user \(2\), got shape \(3,\)"):
        plan_actions(np.array([6, 6, 6]), holdings, close[:2], t, BOOK, np.full(2, 0.5))
    assert plan_actions(np.array([6, 6]), holdings, close[:2], t, BOOK, np.full(2, 0.5)).sell_fraction.shape == (2, 4)


def test_the_seven_actions_map_to_documented_orders():
    holdings = np.array([[1.0, 10.0, 20_000.0, 100.0]] * 7)
    close = _history()
    t = close.shape[1] - 1
    prices = close[:, t]
    orders = plan_actions(np.arange(7), holdings, close, t, BOOK, np.full(7, 0.5))
    assert not orders.buy_fraction[0].any() and not orders.sell_fraction[0].any()  # HOLD
    # CONSERVATIVE: 30 % of cash to the least volatile defensive asset (the bond), 20 % to the calmest crypto
    np.testing.assert_allclose(orders.buy_fraction[1], [0.20, 0, 0, 0.30])
    np.testing.assert_allclose(orders.buy_fraction[2], [0.5 / 3, 0.5 / 3, 0, 0.5 / 3])  # MODERATE: every non-cash
    np.testing.assert_allclose(orders.buy_fraction[3], [0, 0.5, 0, 0])  # AGGRESSIVE: the most volatile crypto
    for row in (1, 2, 3):
        assert not orders.sell_fraction[row].any()
    np.testing.assert_allclose(orders.sell_fraction[4], [0.25, 0.25, 0, 0])  # two most volatile holdings: ETH, BTC
    np.testing.assert_allclose(orders.sell_fraction[5], [0.5, 0.5, 0, 0.5])  # SELL_MAJOR: half of every holding
    # REBALANCE: 0.2 + 0.6 x 0.5 = 50 % in the crypto basket, equally split; the rest cash; the bond sold
    after, _, _ = _fill(holdings[6:7], _slice(orders, 6), prices[6:7])
    w = after * prices[6] / _value(after, prices[6:7])[:, None]
    np.testing.assert_allclose(w[0], [0.25, 0.25, 0.5, 0.0], atol=1e-12)
    orders.validate(BOOK)


def test_volatility_ranks_use_only_closes_up_to_the_decision():
    close = _history()
    holdings = np.array([[1.0, 10.0, 20_000.0, 100.0]])
    t = 30
    base = plan_actions(np.array([Action.SELL_PARTIAL]), holdings, close[:1], t, BOOK, np.array([0.5]))
    future = close[:1].copy()
    future[:, t + 1 :, 3] *= np.linspace(1, 50, close.shape[1] - t - 1)  # the bond goes wild after t
    again = plan_actions(np.array([Action.SELL_PARTIAL]), holdings, future, t, BOOK, np.array([0.5]))
    np.testing.assert_array_equal(base.sell_fraction, again.sell_fraction)
    # before two daily returns exist, assets rank by kind: crypto most volatile, first column first
    early = plan_actions(np.array([Action.BUY_AGGRESSIVE]), holdings, close[:1], 1, BOOK, np.array([0.5]))
    np.testing.assert_allclose(early.buy_fraction[0], [0.5, 0, 0, 0])


def _slice(orders, row):
    return OrderBatch(orders.action[row : row + 1], orders.sell_fraction[row : row + 1],
                      orders.buy_fraction[row : row + 1], orders.confidence[row : row + 1])  # fmt: skip


def test_buy_spends_cash_with_fees_on_notional_and_sell_returns_net():
    h = np.array([[0.0, 0.0, 10_000.0, 0.0]])
    buy = OrderBatch.hold(1, 4)
    buy.buy_fraction[0, 0] = 0.5
    after, fees, notional = _fill(h, buy, fee=0.001)
    units = 5_000 / (50_000 * 1.001)
    assert after[0, 0] == pytest.approx(units, rel=1e-14)
    assert after[0, 2] == pytest.approx(5_000, rel=1e-14)
    assert fees[0] == pytest.approx(units * 50_000 * 0.001, rel=1e-12)
    assert notional[0] == pytest.approx(units * 50_000, rel=1e-12)
    sell = OrderBatch.hold(1, 4)
    sell.sell_fraction[0, 0] = 1.0
    back, fees2, _ = _fill(after, sell, fee=0.001)
    assert back[0, 0] == 0.0
    assert back[0, 2] == pytest.approx(5_000 + units * 50_000 * 0.999, rel=1e-12)


def test_slippage_grows_with_size_relative_to_volume():
    h = np.array([[0.0, 0.0, 1e9, 0.0], [0.0, 0.0, 1e9, 0.0]])
    orders = OrderBatch.hold(2, 4)
    orders.buy_fraction[0, 0] = 0.001  # small order
    orders.buy_fraction[1, 0] = 0.5  # large order
    volume = np.full((2, 4), 1000.0)
    prices = np.repeat(PRICES, 2, axis=0)
    after, _, notional = _fill(h, orders, prices=prices, slip=0.0005, impact=0.1, volume=volume)
    avg_px = notional / after[:, 0]
    assert avg_px[0] > 50_000 and avg_px[1] > avg_px[0] * 1.001


def _slow_reference(h, cash, px, vol, sell, buy, fee, slip, impact):
    """Obvious Python version of the kernel, written from the module docstring."""
    h = h.copy()
    fees = notional = 0.0
    for a in range(len(h)):
        if a != cash and sell[a] > 0 and h[a] > 0:
            units = h[a] * sell[a]
            fill = px[a] * (1 - min(slip + impact * units / vol[a], 0.5))
            h[a] -= units
            h[cash] += units * fill * (1 - fee) / px[cash]
            fees += units * fill * fee
            notional += units * fill
    available = h[cash]
    for a in range(len(h)):
        if a != cash and buy[a] > 0:
            spend_units = min(available * buy[a], h[cash])
            spend = spend_units * px[cash]
            fill = px[a] * (1 + min(slip + impact * (spend / px[a]) / vol[a], 0.5))
            units = spend / (1 + fee) / fill
            h[a] += units
            h[cash] -= spend_units
            fees += spend - spend / (1 + fee)
            notional += spend / (1 + fee)
    return h, fees, notional


fractions = st.lists(st.floats(0, 1), min_size=4, max_size=4)


@settings(max_examples=150, deadline=None)
@given(
    holdings=st.lists(st.floats(0, 1e4), min_size=4, max_size=4),
    sell=fractions,
    buy=fractions,
    fee=st.floats(0, 0.01),
    slip=st.floats(0, 0.01),
    impact=st.floats(0, 1),
    cash_px=st.floats(0.8, 1.2),
)
def test_kernel_matches_reference_and_conserves_value(holdings, sell, buy, fee, slip, impact, cash_px):
    h = np.array([holdings])
    sell_a, buy_a = np.array([sell]), np.array([buy])
    sell_a[0, 2] = buy_a[0, 2] = 0.0
    both = (sell_a > 0) & (buy_a > 0)
    buy_a[both] = 0.0
    if buy_a.sum() > 1:
        buy_a /= buy_a.sum()
    orders = OrderBatch(np.zeros(1, np.int8), sell_a, buy_a, np.ones(1))
    px = PRICES.copy()
    px[0, 2] = cash_px
    vol = np.full((1, 4), 5e3)
    after, fees, notional = _fill(h, orders, prices=px, fee=fee, slip=slip, impact=impact, volume=vol)
    ref_h, ref_fees, ref_notional = _slow_reference(h[0], 2, px[0], vol[0], sell_a[0], buy_a[0], fee, slip, impact)
    np.testing.assert_allclose(after[0], ref_h, rtol=1e-10, atol=1e-9)
    assert fees[0] == pytest.approx(ref_fees, rel=1e-9, abs=1e-9)
    assert notional[0] == pytest.approx(ref_notional, rel=1e-9, abs=1e-9)
    assert np.all(after >= -1e-9)
    # value is conserved up to fees and slippage: never created
    assert _value(after, px)[0] <= _value(h, px)[0] * (1 + 1e-12) + 1e-9
    if slip == 0 and impact == 0:
        assert _value(after, px)[0] == pytest.approx(_value(h, px)[0] - fees[0], rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("rec", "message"),
    [
        (Recommendation(Action.BUY_MODERATE, (Trade("BTC", "buy", 70), Trade("ETH", "buy", 40))), "over 100 %"),
        (Recommendation(Action.BUY_MODERATE, (Trade("DOGE", "buy", 10),)), "trades[0].asset: unknown asset 'DOGE'"),
        (Recommendation(Action.SELL_PARTIAL, (Trade("BTC", "sell", float("nan")),)), "trades[0].percentage"),
        (Recommendation(Action.SELL_PARTIAL, (Trade("BTC", "sell", 140),)), "in (0, 100], got 140"),
        (Recommendation(Action.BUY_MODERATE, (Trade("USDC", "buy", 10),)), "cash asset"),
        (Recommendation(Action.BUY_MODERATE, (Trade("BTC", "hodl", 10),)), "trades[0].side"),
        (Recommendation(Action.HOLD, (), confidence=1.5), "confidence"),
        (Recommendation(Action.REBALANCE, (Trade("BTC", "buy", 10), Trade("BTC", "sell", 10))), "both bought and sold"),
        (Recommendation(Action.HOLD, (), confidence="high"), "confidence must be a number"),
        (Recommendation(Action.BUY_MODERATE, (("BTC", "buy", 10),)), "trades[0]: expected a Trade"),
        (Recommendation(Action.BUY_MODERATE, None), "trades must be a tuple"),
        (Recommendation(Action.BUY_MODERATE, (Trade("BTC", "buy", True),)), "trades[0].percentage"),
        (Recommendation(9, ()), "action 9 is not an Action"),
        (Recommendation(Action.HOLD, (Trade("BTC", "buy", 10),)), "action HOLD contradicts its trades (it buys)"),
        (Recommendation(Action.BUY_MODERATE, (Trade("BTC", "sell", 10),)), "BUY_MODERATE contradicts its trades"),
        (Recommendation(Action.SELL_MAJOR, (Trade("BTC", "buy", 10),)), "SELL_MAJOR contradicts its trades"),
    ],
)
def test_invalid_recommendations_are_named(rec, message):
    with pytest.raises(InvalidRecommendation) as info:
        OrderBatch.from_recommendations([Recommendation(Action.HOLD), rec], BOOK, step=12)
    assert "path 1, step 12" in str(info.value)
    assert message in str(info.value)


def test_recommendation_encodes_for_the_chain():
    rec = Recommendation(Action.REBALANCE, (Trade("BTC", "sell", 12.5), Trade("ETH", "buy", 100)), confidence=0.8731)
    legs, conf = rec.encode_for_chain({"BTC": "0xB", "ETH": "0xE"})
    assert legs == [("0xB", 1, 1250), ("0xE", 0, 10_000)]
    assert conf == 8731
    with pytest.raises(KeyError, match="SOL"):
        Recommendation(Action.BUY_MODERATE, (Trade("SOL", "buy", 5),)).encode_for_chain({})


def test_orders_round_trip_through_recommendations():
    holdings = np.array([[1.0, 10.0, 20_000.0, 100.0]])
    orders = plan_actions(np.array([Action.REBALANCE]), holdings, PRICES[:, None, :], 0, BOOK, np.array([0.5]))
    again = OrderBatch.from_recommendations([orders.recommendation(0, BOOK)], BOOK)
    np.testing.assert_allclose(again.sell_fraction, orders.sell_fraction, rtol=1e-15)
    np.testing.assert_allclose(again.buy_fraction, orders.buy_fraction, rtol=1e-15)


def test_guide_example_reward_is_positive():
    """100,000 -> 105,000, volatility 0.2 -> 0.15, Sharpe 1.5 -> 1.8, risk 0.5, 24 months: reward > 0."""
    r = reward_nb(105_000 / 100_000 - 1, 0.15, 0.5, 24.0, 1.8)
    assert r > 0
    assert r == pytest.approx(100 * 0.05 - 10 * 0.15 * 0.5 + 0.01 * 1.8, rel=1e-12)


def test_reward_terms_are_the_guides():
    assert reward_nb(0.0, 0.2, 0.0, 24.0, 0.0) == pytest.approx(-2.0)  # 10 x vol x (1 - risk)
    assert reward_nb(0.0, 0.2, 1.0, 24.0, 0.0) == pytest.approx(0.0)
    assert reward_nb(0.0, 0.05, 1.0, 12.0, 0.0) == pytest.approx(0.1)  # within 12 months, calm: +0.1
    assert reward_nb(0.0, 0.15, 1.0, 6.0, 0.0) == pytest.approx(-0.1)  # within 12 months, volatile: -0.1
    assert reward_nb(0.0, 0.05, 1.0, 12.5, 0.0) == pytest.approx(0.0)  # further away: no stability term
    assert reward_nb(0.0, 0.0, 1.0, 24.0, 2.0) == pytest.approx(0.02)  # 0.01 x Sharpe, not clipped


def test_risk_profile_checks_its_fields():
    assert RebalanceRules().risky_weight(1.0) == pytest.approx(0.8)
    assert math.isclose(float(RebalanceRules().risky_weight(0.5)), 0.5)
    for field, bad in (
        ("risk_tolerance", 1.2),
        ("time_to_goal", 0),
        ("time_to_goal", 2.5),
        ("investment_amount", 0.0),
        ("monthly_contribution", -1.0),
        ("risk_tolerance", float("nan")),
    ):
        with pytest.raises(ValueError, match=field):
            RiskProfile(**{field: bad})
    with pytest.raises(ValueError, match=r"profiles\[1\]\.risk_tolerance"):
        RiskProfiles(np.array([0.5, 2.0]), np.array([24, 24]), np.array([1.0, 1.0]), np.array([0.0, 0.0]))


def test_inflation_tilts_the_auto_rebalance_target_within_its_cap():
    rules = RebalanceRules()
    w = rules.target_weights(BOOK, np.array([0.5, 0.5, 0.5]), np.array([0.0, 0.06, 0.5]))
    np.testing.assert_allclose(w[:, :2].sum(axis=1), [0.5, 0.54, 0.6])  # +4 points; capped at +10
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert rules.allows_rebalance(np.array([5, 9]), now=10, steps_per_day=1).tolist() == [True, True]
    # a decision at `now` fills at now + 1: two days after a fill at 9 is a fill at 11, decided at 10
    two = RebalanceRules(cooldown_days=2)
    assert two.allows_rebalance(np.array([9, 9]), now=9, steps_per_day=1).tolist() == [False, False]
    assert two.allows_rebalance(np.array([9]), now=10, steps_per_day=1).tolist() == [True]


def test_numpy_scalars_are_accepted_as_percentages():
    rec = Recommendation(Action.BUY_MODERATE, (Trade("BTC", "buy", np.float32(10)),), confidence=np.float64(0.5))
    batch = OrderBatch.from_recommendations([rec], BOOK)
    assert batch.buy_fraction[0, 0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: setattr(b, "buy_fraction", np.zeros((1, 4))), "buy_fraction has shape (1, 4), expected (3, 4)"),
        (lambda b: setattr(b, "sell_fraction", np.zeros((3, 5))), "sell_fraction has shape (3, 5)"),
        (lambda b: setattr(b, "action", np.zeros(3)), "action has dtype float64"),
        (lambda b: setattr(b, "confidence", [1.0, 1.0, 1.0]), "confidence must be a numpy array"),
    ],
)
def test_order_batches_of_the_wrong_shape_never_reach_the_kernel(mangle, message):
    batch = OrderBatch.hold(3, 4)
    mangle(batch)
    with pytest.raises(InvalidRecommendation, match=message.replace("(", r"\(").replace(")", r"\)")):
        batch.validate(BOOK, step=4, n_paths=3)


def test_cost_basis_is_what_was_paid_so_unrealized_pnl_starts_at_minus_the_fees():
    h = np.array([[0.0, 0.0, 10_000.0, 0.0]])
    basis = h * PRICES  # cash deposited at face value
    orders = OrderBatch.hold(1, 4)
    orders.buy_fraction[0, :2] = [0.3, 0.2]
    fees, notional = np.zeros(1), np.zeros(1)
    execute_orders_nb(h, basis, BOOK.cash_index, PRICES, np.full((1, 4), 1e12), orders.sell_fraction,
                      orders.buy_fraction, 0.001, 0.0, 0.0, fees, notional)  # fmt: skip
    np.testing.assert_allclose(basis[0], [3_000.0, 2_000.0, 5_000.0, 0.0])  # spend, fee included; cash left
    assert (h * PRICES - basis).sum() == pytest.approx(-fees[0], rel=1e-12)
    # selling 40 % of BTC keeps 60 % of its basis; the cash received enters at face value
    sell = OrderBatch.hold(1, 4)
    sell.sell_fraction[0, 0] = 0.4
    execute_orders_nb(h, basis, BOOK.cash_index, PRICES * [[1.1, 1, 1, 1]], np.full((1, 4), 1e12),
                      sell.sell_fraction, sell.buy_fraction, 0.0, 0.0, 0.0, fees, notional)  # fmt: skip
    assert basis[0, 0] == pytest.approx(1_800.0)
    assert basis[0, 2] == pytest.approx(5_000.0 + 0.4 * 3_000.0 / 1.001 * 1.1)


@pytest.mark.parametrize("n_assets", [1, 2, 5, 8, 9, 12])
def test_top_allocations_are_the_weights_sorted_descending(n_assets):
    """o[4:14] is ``-np.sort(-weights)[:10]`` and zeros after: the sorting network (up to 8 assets, ties,
    zeros) and the insertion sort (more) alike."""
    rng = np.random.default_rng(n_assets)
    for trial in range(300):
        w = rng.choice([0.0, 0.1, 0.25, 0.5], size=n_assets) if trial % 2 else rng.uniform(0.0, 1.0, n_assets)
        o = np.zeros(23)
        portfolio_obs_row_nb(o, 1.0, 0.0, 0.0, 0.0, w, 0.5, 10.0, 0.0)
        expected = np.zeros(10)
        top = -np.sort(-w)[:10]
        expected[: top.size] = top
        np.testing.assert_array_equal(o[4:14], expected)


def test_trailing_stats_are_the_sample_statistics_of_the_filled_window():
    """Volatility and Sharpe over the ring's filled days, at every fill (one pass, eight sums at a time, then a tail;
    the deviations are taken from the first day's return)."""
    rng = np.random.default_rng(5)
    state = new_state(np.ones(1), np.ones(1), 2, 0)
    # a crash as the day the deviations are taken from; a large mean with a tiny spread, where the textbook
    # one-pass formula (sum of squares minus n mean^2) loses about 1e-5 of the variance to cancellation
    for mean, spread, first in ((0.001, 0.02, None), (0.001, 0.02, -0.5), (0.05, 1e-7, None)):
        state.ring[0] = rng.normal(mean, spread, WINDOW_DAYS)
        if first is not None:
            state.ring[0, 0] = first
        for pushed in range(WINDOW_DAYS + 6):
            state.ring_n[0] = pushed
            vol, sharpe = trailing_stats_row_nb(state, 0)
            window = state.ring[0, : min(pushed, WINDOW_DAYS)]
            if window.size < 2:
                assert (vol, sharpe) == (0.0, 0.0)
                continue
            sd = window.std(ddof=1)
            assert vol == pytest.approx(sd * math.sqrt(365.0), rel=1e-12)
            assert sharpe == pytest.approx(window.mean() / sd * math.sqrt(365.0), rel=1e-12)
    # flat windows (a price growing by the same share every day, computed day by day as the kernel does):
    # no volatility, and a Sharpe of 0 rather than the mean over rounding noise
    for growth in (0.01, 1e-4, 1e-5, 0.0):
        prices = 100.0 * np.cumprod(np.full(WINDOW_DAYS + 1, 1.0 + growth))
        state.ring[0] = prices[1:] / prices[:-1] - 1.0
        assert trailing_stats_row_nb(state, 0) == (0.0, 0.0), growth
    state.ring[0, 3] = np.nan
    assert trailing_stats_row_nb(state, 0) == (0.0, 0.0)
    state.ring[0] = rng.normal(0.0, 1e-6, WINDOW_DAYS)  # tiny but real moves keep their volatility
    assert trailing_stats_row_nb(state, 0)[0] == pytest.approx(state.ring[0].std(ddof=1) * math.sqrt(365.0), rel=1e-9)


def test_target_weights_that_are_not_weights_are_refused_naming_the_entry():
    """A NaN, a short, a weight above 1, a leveraged row or a wrong shape used to become silent orders (a NaN
    bought and sold nothing; a row summing to 2 was scaled to what the cash buys)."""
    from prometheus_sim.portfolio import orders_for_target_weights

    holdings = np.array([[1.0, 100.0, 0.0], [0.5, 0.0, 10.0]])
    prices = np.array([[100.0, 1.0, 10.0], [100.0, 1.0, 10.0]])
    sell, buy = orders_for_target_weights(holdings, prices, np.array([0.5, 0.25, 0.25]), 1)
    # row 0: 200 in all, BTC at its 100 target, 50 of cash buys asset 2; row 1: 150, asset 2 sells 62.5 of its 100,
    # which buys the 25 BTC is short
    assert sell.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.625]] and buy.tolist() == [[0.0, 0.0, 0.5], [0.4, 0.0, 0.0]]
    # rounding of a weight computed as 1 - sum(others) passes, and so do float32 weights (a network's softmax)
    orders_for_target_weights(holdings, prices, np.array([0.7, 0.1 + 1e-12, 0.2]), 1)
    weights32 = np.float32([0.2, 0.2, 0.2, 0.4, 0.0])
    assert weights32.sum(dtype=np.float64) > 1.0
    orders_for_target_weights(np.ones((1, 5)), np.ones((1, 5)), weights32, 4)
    for target, words in (
        (np.array([0.5, np.nan, 0.5]), r"target\[0, 1\] is nan; weights must be finite numbers in \[0, 1\]"),
        (np.array([[0.5, 0.5, 0.0], [1.2, -0.2, 0.0]]), r"target\[1, 0\] is 1.2"),
        (np.array([-0.1, 0.6, 0.5]), r"target\[0, 0\] is -0.1"),
        (np.array([[0.5, 0.5, 0.0], [0.9, 0.0, 0.9]]), r"row 1 sums to 1.8; a row sums to at most 1"),
        (np.array([0.5, 0.5]), r"shape \(2,\) does not fit the holdings' \(2, 3\)"),
    ):
        with pytest.raises(ValueError, match=words):
            orders_for_target_weights(holdings, prices, target, 1)


def test_the_cost_models_slippage_bound_is_the_venues_cap():
    """CostModel refuses slippage at or above the venue's cap (review of 2026-12-05, session 24): the bound lives
    in the Numba-free model module and must equal the kernel's."""
    from prometheus_sim.portfolio import nb
    from prometheus_sim.portfolio.model import MAX_SLIPPAGE_BPS, CostModel

    assert MAX_SLIPPAGE_BPS == nb.MAX_SLIPPAGE * 1e4
    assert CostModel(slippage_bps=MAX_SLIPPAGE_BPS - 1).slippage_bps == 4999
    with pytest.raises(ValueError, match="slippage_bps: must be < 5000"):
        CostModel(slippage_bps=MAX_SLIPPAGE_BPS)
