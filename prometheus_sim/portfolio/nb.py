"""The step kernel and its pieces: plan -> fill -> mark -> state -> reward, on rows of users at once.

Pure ``@njit`` functions on NumPy arrays (vectorbt's ``nb`` style): ``*_row_nb`` does one user,
the batch form loops over rows. :class:`adapters.sim.SimAdapter` calls :func:`step_nb` for every
submission and :func:`advance_nb` to move time on; the RL environment calls :func:`step_nb` with
action codes (``planned``) and a decision period, so a policy trains in the world it is tested in.

Every row ``i`` is a user reading market row ``rows[i]``; rows may sit at different steps (a
vectorised RL environment resets rows independently).

Timing (one decision): the decision sees the close of step t. At the open of t + 1 the orders fill
(the bar's first intraday trade, never the close the decision saw), with slippage measured against
the volume of bar t. Every later close is marked. A monthly contribution lands in cash at the close of
each month's last step, after that close is marked: the decision at that close sees it and the next
open's fill spends it. (Until 2026-12-05 it landed at the month's first open, where that step's orders
also filled: the deposit was invested, but the return counted it as arriving at the close, so its
open-to-close gain was booked as a gain of the old capital, and the orders, sized on the snapshot's
cash, left a target-weight strategy over on cash on contribution days; review.) Fees are ``fee_rate`` of
the traded notional, paid in cash: a buy that spends S buys ``S / (price x (1 + fee))`` units; a sell of N units returns
``N x price x (1 - fee)``. Slippage moves the fill price against the trade by
``slippage + impact x (units / volume)``, capped at ``MAX_SLIPPAGE``.

Returns are time-weighted: a step's growth is ``(value_close - deposit) / value_before``, with
``value_close`` after the deposit that landed at that close (counted at its value there), so
contributions never count as gains (a flat market with contributions has zero return), exactly.
:func:`prometheus_sim.metrics.twr_returns` computes the same from a run's recorded equity and deposits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

MAX_SLIPPAGE = 0.5
WINDOW_DAYS = 30  # trailing window of the portfolio's volatility and Sharpe, and of asset ranks
# A window's daily standard deviation at or below this (times |mean| when that is above 1) is rounding, not
# volatility: a day's return is its growth - 1, so returns that are all the same still differ by about 1e-16;
# the calmest real portfolio (cash in a stablecoin) moves about 1e-4 a day
FLAT_SD = 1e-12
DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = 365.0 / 12.0
REGIME_THRESHOLD = 0.05  # 30-day crypto basket return beyond +-5 %: bull / bear

# Action codes (mirror prometheus_sim.portfolio.model.Action; Numba reads ints).
HOLD, BUY_CONSERVATIVE, BUY_MODERATE, BUY_AGGRESSIVE, SELL_PARTIAL, SELL_MAJOR, REBALANCE = range(7)
KIND_STABLE, KIND_BOND, KIND_EQUITY, KIND_CRYPTO = range(4)
SIDEWAYS, BULL, BEAR = 0, 1, 2

BUY_CASH_SHARE = 0.5
CONSERVATIVE_DEFENSIVE, CONSERVATIVE_CRYPTO = 0.30, 0.20
SELL_PARTIAL_SHARE, SELL_PARTIAL_COUNT = 0.25, 2
SELL_MAJOR_SHARE = 0.5


class BookState(NamedTuple):
    """Per-user books and the trailing statistics the guide's ``PortfolioState`` needs.

    Attributes
    ----------
    holdings : (n, A) units held, cash in the stablecoin
    basis : (n, A) average cost of each holding, in value (what was paid, fees included)
    fees, notional : (n,) fees paid and notional traded so far
    last_fill : (n,) int64 step of the last fill (very negative before any)
    marked : (n,) int64 last step marked (-1 before the first close)
    value : (n,) value at the last marked close (the initial amount before the first)
    twr : (n,) time-weighted growth index, 1.0 at the start
    twr_mark : (n,) ``twr`` at the last decision (the reward's period starts there)
    day_growth : (n,) growth of the unfinished day
    ring : (n, WINDOW_DAYS) trailing daily time-weighted returns (a ring buffer)
    ring_n : (n,) int64 daily returns pushed so far
    contributed : (n,) deposits so far, the initial amount included
    """

    holdings: np.ndarray
    basis: np.ndarray
    fees: np.ndarray
    notional: np.ndarray
    last_fill: np.ndarray
    marked: np.ndarray
    value: np.ndarray
    twr: np.ndarray
    twr_mark: np.ndarray
    day_growth: np.ndarray
    ring: np.ndarray
    ring_n: np.ndarray
    contributed: np.ndarray


def new_state(amount: np.ndarray, cash_price: np.ndarray, n_assets: int, cash_index: int) -> BookState:
    """Books of users who deposited ``amount`` in cash at ``cash_price`` (the first open), before any close."""
    n = len(amount)
    holdings = np.zeros((n, n_assets))
    holdings[:, cash_index] = amount / cash_price
    basis = np.zeros((n, n_assets))
    basis[:, cash_index] = amount
    return BookState(
        holdings=holdings, basis=basis, fees=np.zeros(n), notional=np.zeros(n),
        last_fill=np.full(n, -(10**9), dtype=np.int64), marked=np.full(n, -1, dtype=np.int64),
        value=np.asarray(amount, dtype=float).copy(), twr=np.ones(n), twr_mark=np.ones(n), day_growth=np.ones(n),
        ring=np.zeros((n, WINDOW_DAYS)), ring_n=np.zeros(n, dtype=np.int64), contributed=np.asarray(amount, float).copy(),
    )  # fmt: skip


# ---------------------------------------------------------------- fills


@njit(cache=True, error_model="numpy", inline="always")
def fill_row_nb(holdings, basis, cash_index, price, ref_volume, sell, buy, fee_rate, slippage, impact, n_assets):
    """Fill one user's orders in place; return (fees, notional). Sells first, then buys.

    ``holdings``, ``basis``, ``price``, ``ref_volume``, ``sell``, ``buy`` have shape (A,), and
    ``n_assets`` is A: a caller that knows it at compile time (the batched RL env, see
    :func:`prometheus_sim.rl.vector.vector_step_kernel`) passes a constant, so every asset loop of
    the row functions unrolls. No holding can go negative and cash is never borrowed.
    """
    cash_px = price[cash_index]
    fees = 0.0
    notional_sum = 0.0
    for a in range(n_assets):
        f = sell[a]
        if f <= 0.0 or a == cash_index:
            continue
        f = min(f, 1.0)
        units = holdings[a] * f
        if units <= 0.0:
            continue
        slip = min(slippage + impact * units / max(ref_volume[a], 1e-12), MAX_SLIPPAGE)
        px = price[a] * (1.0 - slip)
        notional = units * px
        fee = notional * fee_rate
        holdings[a] -= units
        basis[a] *= 1.0 - f
        holdings[cash_index] += (notional - fee) / cash_px
        basis[cash_index] += notional - fee
        fees += fee
        notional_sum += notional
    cash_units = holdings[cash_index]
    # buying leaves the average cost of each remaining cash unit unchanged
    cash_unit_cost = basis[cash_index] / cash_units if cash_units > 0.0 else 0.0
    bought = False
    for a in range(n_assets):
        f = buy[a]
        if f <= 0.0 or a == cash_index:
            continue
        spend_units = min(cash_units * min(f, 1.0), holdings[cash_index])
        if spend_units <= 0.0:
            continue
        spend = spend_units * cash_px
        # first guess of size for the impact term, then the exact split of spend into notional + fee
        rough_units = spend / price[a]
        slip = min(slippage + impact * rough_units / max(ref_volume[a], 1e-12), MAX_SLIPPAGE)
        px = price[a] * (1.0 + slip)
        notional = spend / (1.0 + fee_rate)
        holdings[a] += notional / px
        basis[a] += spend
        bought = True
        holdings[cash_index] -= spend_units
        fees += spend - notional
        notional_sum += notional
    if bought:
        basis[cash_index] = cash_unit_cost * holdings[cash_index]
    return fees, notional_sum


@njit(cache=True, error_model="numpy")
def execute_orders_nb(
    holdings, basis, cash_index, fill_price, ref_volume, sell_fraction, buy_fraction,
    fee_rate, slippage, impact, fees_out, notional_out,
):  # fmt: skip
    """Fill one step's orders for every row, in place (fees and notional are *added* to the outs).

    Parameters
    ----------
    holdings, basis : ndarray of shape (n, A), updated in place
    fill_price, ref_volume, sell_fraction, buy_fraction : ndarray of shape (n, A)
    fees_out, notional_out : ndarray of shape (n,)
    """
    for p in range(holdings.shape[0]):
        fee, notional = fill_row_nb(
            holdings[p], basis[p], cash_index, fill_price[p], ref_volume[p], sell_fraction[p], buy_fraction[p],
            fee_rate, slippage, impact, holdings.shape[1],
        )  # fmt: skip
        fees_out[p] += fee
        notional_out[p] += notional


# ---------------------------------------------------------------- what a decision at t may know


@njit(cache=True, error_model="numpy")
def trailing_vol_row_nb(close, p, t, steps_per_day, out):
    """Annualised std of the last ``WINDOW_DAYS`` daily log returns ending at close t; return how many.

    ``out`` has shape (A,). Uses closes t, t - steps_per_day, ... only (never after t). With
    fewer than two returns, ``out`` is left untouched and the count is returned.
    """
    n_ret = min(WINDOW_DAYS, t // steps_per_day)
    if n_ret < 2:
        return n_ret
    for a in range(close.shape[2]):
        s1 = 0.0
        s2 = 0.0
        for k in range(n_ret):
            s = t - k * steps_per_day
            r = math.log(close[p, s, a] / close[p, s - steps_per_day, a])
            s1 += r
            s2 += r * r
        mean = s1 / n_ret
        var = max(s2 / n_ret - mean * mean, 0.0) * n_ret / (n_ret - 1)
        out[a] = math.sqrt(var * DAYS_PER_YEAR)
    return n_ret


@njit(cache=True, error_model="numpy")
def rank_key_row_nb(close, p, t, steps_per_day, kind, out):
    """The planner's volatility ranks: trailing vol, or the kind order before two daily returns exist."""
    if trailing_vol_row_nb(close, p, t, steps_per_day, out) < 2:
        for a in range(kind.shape[0]):
            out[a] = kind[a]


@njit(cache=True, error_model="numpy")
def regime_row_nb(close, p, t, steps_per_day, kind):
    """Market regime at close t from observable closes: the crypto assets' 30-day growth, their geometric mean.

    ``exp(mean of the log returns) - 1``, not the equal-weight basket's return (BTC +40 % and ETH -25 % give +2.5 %,
    the basket +7.5 %): documented as the basket's until a review of 2026-12-05; kept, as trained policies read it.
    Above +5 % bull, below -5 % bear, else (and before 30 days exist, or with no crypto) sideways.
    """
    back = WINDOW_DAYS * steps_per_day
    if t < back:
        return SIDEWAYS
    total = 0.0
    n = 0
    for a in range(kind.shape[0]):
        if kind[a] == KIND_CRYPTO:
            total += math.log(close[p, t, a] / close[p, t - back, a])
            n += 1
    if n == 0:
        return SIDEWAYS
    r = math.exp(total / n) - 1.0
    if r > REGIME_THRESHOLD:
        return BULL
    if r < -REGIME_THRESHOLD:
        return BEAR
    return SIDEWAYS


# ---------------------------------------------------------------- plan: action code -> orders


@njit(cache=True, error_model="numpy")
def target_orders_row_nb(holdings, price, target, cash_index, sell, buy, n_assets):
    """Sell and buy fractions that move one portfolio to ``target`` weights (before costs).

    Overweight assets sell the excess; the cash after those sells is spent on underweight assets
    in proportion to their shortfall (scaled down if they would need more than all of it). ``n_assets``
    is A (see :func:`fill_row_nb`).
    """
    total = 0.0
    for a in range(n_assets):
        total += holdings[a] * price[a]
    cash_after = holdings[cash_index] * price[cash_index]
    for a in range(n_assets):
        sell[a] = 0.0
        buy[a] = 0.0
        if a == cash_index:
            continue
        value = holdings[a] * price[a]
        excess = value - target[a] * total
        if excess > 0.0 and value > 0.0:
            sell[a] = min(excess / value, 1.0)
            cash_after += excess
    if cash_after <= 0.0:
        return
    spend = 0.0
    for a in range(n_assets):
        if a == cash_index:
            continue
        shortfall = target[a] * total - holdings[a] * price[a]
        if shortfall > 0.0:
            buy[a] = min(shortfall / cash_after, 1.0)
            spend += buy[a]
    if spend > 1.0:
        for a in range(n_assets):
            buy[a] /= spend


@njit(cache=True, error_model="numpy")
def target_orders_nb(holdings, prices, target, cash_index, sell_out, buy_out):
    """:func:`target_orders_row_nb` for every row; ``target`` has shape (n, A)."""
    for p in range(holdings.shape[0]):
        target_orders_row_nb(holdings[p], prices[p], target[p], cash_index, sell_out[p], buy_out[p], holdings.shape[1])


@njit(cache=True, error_model="numpy", inline="always")
def plan_row_nb(action, holdings, price, key, kind, cash_index, risky_weight, sell, buy, target):
    """Turn one action code into sell and buy fractions (see ``Action``'s docstring for each).

    ``target`` is (A,) scratch for the rebalance's weights: nothing on the step path allocates, so the
    batched RL env can run it without reference counting (see ``rl.vector.step_envs_nb``). ``kind`` is
    the assets' kind codes: an array, or a tuple whose length is a compile-time constant (see
    :func:`fill_row_nb`), so A is ``len(kind)``.
    """
    n_assets = len(kind)
    for a in range(n_assets):
        sell[a] = 0.0
        buy[a] = 0.0
    if action == BUY_CONSERVATIVE:
        defensive = -1
        calm = -1
        for a in range(n_assets):
            if a == cash_index:
                continue
            if kind[a] == KIND_CRYPTO:
                if calm < 0 or key[a] < key[calm]:
                    calm = a
            elif defensive < 0 or key[a] < key[defensive]:
                defensive = a
        if defensive >= 0:
            buy[defensive] = CONSERVATIVE_DEFENSIVE
        if calm >= 0:
            buy[calm] = CONSERVATIVE_CRYPTO
    elif action == BUY_MODERATE:
        n = n_assets - 1
        for a in range(n_assets):
            if a != cash_index:
                buy[a] = BUY_CASH_SHARE / n
    elif action == BUY_AGGRESSIVE:
        wild = -1
        for a in range(n_assets):
            if a != cash_index and kind[a] == KIND_CRYPTO and (wild < 0 or key[a] > key[wild]):
                wild = a
        if wild >= 0:
            buy[wild] = BUY_CASH_SHARE
    elif action == SELL_PARTIAL:
        for _ in range(SELL_PARTIAL_COUNT):
            pick = -1
            for a in range(n_assets):
                if a != cash_index and holdings[a] > 0.0 and sell[a] == 0.0 and (pick < 0 or key[a] > key[pick]):
                    pick = a
            if pick >= 0:
                sell[pick] = SELL_PARTIAL_SHARE
    elif action == SELL_MAJOR:
        for a in range(n_assets):
            if a != cash_index and holdings[a] > 0.0:
                sell[a] = SELL_MAJOR_SHARE
    elif action == REBALANCE:
        n_crypto = 0
        for a in range(n_assets):
            if kind[a] == KIND_CRYPTO:
                n_crypto += 1
        for a in range(n_assets):
            target[a] = risky_weight / n_crypto if kind[a] == KIND_CRYPTO else 0.0
        target[cash_index] = 1.0 - (risky_weight if n_crypto > 0 else 0.0)
        target_orders_row_nb(holdings, price, target, cash_index, sell, buy, n_assets)


@njit(cache=True, error_model="numpy")
def plan_actions_nb(close, rows, t, steps_per_day, actions, holdings, kind, cash_index, risky_weight, sell, buy):
    """Plan every row's action at its step ``t[i]`` from closes up to then; fills ``sell`` and ``buy``."""
    key = np.empty(kind.shape[0])
    target = np.empty(kind.shape[0])
    for i in range(actions.shape[0]):
        p = rows[i]
        rank_key_row_nb(close, p, t[i], steps_per_day, kind, key)
        plan_row_nb(actions[i], holdings[i], close[p, t[i]], key, kind, cash_index, risky_weight[i], sell[i], buy[i],
                    target)  # fmt: skip


# ---------------------------------------------------------------- mark, state and reward


@njit(cache=True, error_model="numpy", inline="always")
def advance_row_nb(
    blocks, p, i, t_to, state, cash_index, deposit_step, contribution, steps_per_day,
    fill_at, sell, buy, fee_rate, slippage, impact, marks_from, marks, deposits, pre_fill, n_assets,
):  # fmt: skip
    """Move user i (market row p) from its last marked close to close ``t_to``.

    On each step s: at ``s == fill_at`` the orders fill at the open (volume of bar s - 1); the close
    is marked; a scheduled contribution (``deposit_step[s]``: the month's last step) lands in cash at
    that close; the time-weighted growth is booked. For steps inside the window of ``marks``'s
    columns, ``marks[i, s - marks_from]`` gets the value at close s (the deposit in it) and
    ``deposits[i, ...]`` (when it has columns) the deposit's value at that close. ``pre_fill`` (A,)
    gets the holdings just before the fill. ``n_assets`` is A (see :func:`fill_row_nb`).
    """
    open_, close, volume = blocks.open, blocks.close, blocks.volume
    h = state.holdings[i]
    # the per-step state lives in locals and is written back once (the hot loop of every backtest)
    value = state.value[i]
    twr = state.twr[i]
    day_growth = state.day_growth[i]
    ring_n = state.ring_n[i]
    start = state.marked[i] + 1
    for s in range(start, t_to + 1):
        before = value
        deposit = 0.0
        if s == fill_at:
            for a in range(n_assets):  # loops, not slice assignments: this is every backtest's hot path
                pre_fill[a] = h[a]
            fee, notional = fill_row_nb(
                h, state.basis[i], cash_index, open_[p, s], volume[p, s - 1], sell, buy, fee_rate, slippage, impact,
                n_assets,
            )  # fmt: skip
            if notional > 0.0:
                state.last_fill[i] = s
            state.fees[i] += fee
            state.notional[i] += notional
        value = 0.0
        for a in range(n_assets):
            value += h[a] * close[p, s, a]
        if deposit_step[s] and contribution > 0.0:  # at the close, after it is marked: never a gain
            units = contribution / close[p, s, cash_index]
            h[cash_index] += units
            state.basis[i, cash_index] += contribution
            state.contributed[i] += contribution
            deposit = units * close[p, s, cash_index]
            value += deposit
        growth = (value - deposit) / before if before > 0.0 else 1.0
        twr *= growth
        day_growth *= growth
        if steps_per_day == 1 or s % steps_per_day == steps_per_day - 1:  # a day's last close
            state.ring[i, ring_n % WINDOW_DAYS] = day_growth - 1.0
            ring_n += 1
            day_growth = 1.0
        col = s - marks_from
        if 0 <= col < marks.shape[1]:  # steps outside the window are not recorded
            marks[i, col] = value
            if col < deposits.shape[1]:
                deposits[i, col] = deposit
    if t_to >= start:
        state.value[i] = value
        state.twr[i] = twr
        state.day_growth[i] = day_growth
        state.ring_n[i] = ring_n
        state.marked[i] = t_to


@njit(cache=True, error_model="numpy", inline="always")
def trailing_stats_row_nb(state, i):
    """(volatility_30d, sharpe_ratio) of user i: annualised, over up to 30 trailing daily returns."""
    n = min(state.ring_n[i], WINDOW_DAYS)
    if n < 2:
        return 0.0, 0.0
    ring = state.ring
    # One pass over the deviations from one of the window's own returns (the shifted-data formula: exact
    # for a flat window; the deviations are of the size of the spread, so it loses a digit or two at most,
    # when that return is an outlier, where the textbook one-pass formula can lose them all), in
    # eight running sums side by side: one dependent chain of adds would make the CPU wait, and eight
    # independent ones fill a vector register. This runs for every env at every step: two passes with
    # four sums took 35-50 ns an env-step (measured by removing them), this one runs within noise of no
    # statistics at all (4,096 envs, one thread, CPU time). The result differs from the two-pass
    # formula's only in rounding (a few parts in 1e13 at worst).
    shift = ring[i, 0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 0.0
    full = n - n % 8
    for k in range(0, full, 8):
        d0 = ring[i, k] - shift
        d1 = ring[i, k + 1] - shift
        d2 = ring[i, k + 2] - shift
        d3 = ring[i, k + 3] - shift
        d4 = ring[i, k + 4] - shift
        d5 = ring[i, k + 5] - shift
        d6 = ring[i, k + 6] - shift
        d7 = ring[i, k + 7] - shift
        s0 += d0
        s1 += d1
        s2 += d2
        s3 += d3
        s4 += d4
        s5 += d5
        s6 += d6
        s7 += d7
        q0 += d0 * d0
        q1 += d1 * d1
        q2 += d2 * d2
        q3 += d3 * d3
        q4 += d4 * d4
        q5 += d5 * d5
        q6 += d6 * d6
        q7 += d7 * d7
    for k in range(full, n):
        d = ring[i, k] - shift
        s0 += d
        q0 += d * d
    sum_d = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    sum_q = ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
    mean_d = sum_d / n
    mean = shift + mean_d
    sd = math.sqrt(max((sum_q - sum_d * mean_d) / (n - 1), 0.0))
    if not sd > FLAT_SD * max(abs(mean), 1.0):
        # every return the same (a flat window) leaves only rounding in the deviations: no volatility, and a
        # Sharpe of 0, as for a window of zeros, rather than mean / 1e-16 (1e12 and more, which reached the
        # reward); a NaN return gives 0 too, as in the torch twin
        return 0.0, 0.0
    vol = sd * math.sqrt(DAYS_PER_YEAR)
    sharpe = mean / sd * math.sqrt(DAYS_PER_YEAR)
    return vol, sharpe


@njit(cache=True, error_model="numpy", inline="always")
def reward_nb(period_return, volatility_30d, risk_tolerance, months_to_goal, sharpe_ratio):
    """The guide's reward.

    ``100 x return - 10 x volatility_30d x (1 - risk_tolerance) + stability + 0.01 x sharpe_ratio``,
    where stability is +0.1 when ``months_to_goal <= 12`` and ``volatility_30d < 0.1``, -0.1 when
    ``months_to_goal <= 12`` otherwise, and 0 further from the goal. ``period_return`` is the
    portfolio's time-weighted return over the decision period; volatility and Sharpe are annualised.
    """
    r = 100.0 * period_return - 10.0 * volatility_30d * (1.0 - risk_tolerance) + 0.01 * sharpe_ratio
    if months_to_goal <= 12.0:
        r += 0.1 if volatility_30d < 0.1 else -0.1
    return r


@njit(cache=True, error_model="numpy", inline="always")
def months_to_goal_nb(time_to_goal, step, steps_per_day):
    """Months left at ``step``: the profile's months at the start, counting down, never below 0."""
    return max(time_to_goal - (step / steps_per_day) / DAYS_PER_MONTH, 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def period_reward_row_nb(state, i, risk_tolerance, time_to_goal, steps_per_day):
    """The guide's reward of user i's period since its last decision, at its last marked close."""
    vol, sharpe = trailing_stats_row_nb(state, i)
    return period_reward_stats_row_nb(state, i, vol, sharpe, risk_tolerance, time_to_goal, steps_per_day)


@njit(cache=True, error_model="numpy", inline="always")
def period_reward_stats_row_nb(state, i, vol, sharpe, risk_tolerance, time_to_goal, steps_per_day):
    """:func:`period_reward_row_nb` given user i's :func:`trailing_stats_row_nb` (a caller that needs them too)."""
    months = months_to_goal_nb(time_to_goal, state.marked[i], steps_per_day)
    return reward_nb(state.twr[i] / state.twr_mark[i] - 1.0, vol, risk_tolerance, months, sharpe)


@njit(cache=True, error_model="numpy")
def period_rewards_nb(state, risk_tolerance, time_to_goal, steps_per_day, out):
    """The guide's reward of every row's period since its last decision, at its last marked close."""
    for i in range(out.shape[0]):
        out[i] = period_reward_row_nb(state, i, risk_tolerance[i], time_to_goal[i], steps_per_day)


@njit(cache=True, error_model="numpy")
def advance_nb(blocks, rows, t_to, state, cash_index, deposit_step, contribution, steps_per_day,
               marks_from, marks, deposits):  # fmt: skip
    """Move every row to close ``t_to`` with no orders (time passing between decisions)."""
    nothing = np.zeros(state.holdings.shape[1])
    for i in range(rows.shape[0]):
        advance_row_nb(
            blocks, rows[i], i, t_to, state, cash_index, deposit_step, contribution[i], steps_per_day,
            -1, nothing, nothing, 0.0, 0.0, 0.0, marks_from, marks, deposits, nothing, nothing.shape[0],
        )  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def step_row_nb(
    blocks, p, i, t, t_to, action, planned, sell, buy, key, kind, cash_index, risky_weight,
    fee_rate, slippage, impact, deposit_step, contribution, steps_per_day, state, marks_from, marks, deposits, pre_fill,
):  # fmt: skip
    """One decision of user i (market row p): plan -> fill -> mark; return (fees, notional) of the step.

    ``key`` is the planner's volatility ranks at close t (:func:`rank_key_row_nb`); ``sell``/``buy``/
    ``pre_fill`` are row i's (A,) views; A is ``len(kind)`` (a constant where ``kind`` is a tuple, see
    :func:`plan_row_nb`). :func:`step_nb` and the batched RL environment both step users through here, so
    there is one copy of the rules.
    """
    n_assets = len(kind)
    if state.marked[i] < t:  # no fill on the way (fill_at -1): the orders and pre_fill are not touched
        advance_row_nb(
            blocks, p, i, t, state, cash_index, deposit_step, contribution, steps_per_day,
            -1, sell, buy, 0.0, 0.0, 0.0, marks_from, marks, deposits, pre_fill, n_assets,
        )  # fmt: skip
    if planned:  # pre_fill is the planner's scratch until it is written just below
        plan_row_nb(action, state.holdings[i], blocks.close[p, t], key, kind, cash_index, risky_weight, sell, buy,
                    pre_fill)  # fmt: skip
    for a in range(n_assets):
        pre_fill[a] = state.holdings[i, a]
    state.twr_mark[i] = state.twr[i]
    fees0 = state.fees[i]
    notional0 = state.notional[i]
    advance_row_nb(
        blocks, p, i, t_to, state, cash_index, deposit_step, contribution, steps_per_day,
        t + 1, sell, buy, fee_rate, slippage, impact, marks_from, marks, deposits, pre_fill, n_assets,
    )  # fmt: skip
    return state.fees[i] - fees0, state.notional[i] - notional0


@njit(cache=True, error_model="numpy")
def step_nb(
    blocks, rows, t, t_to, actions, planned, sell, buy, kind, cash_index, risky_weight,
    fee_rate, slippage, impact, deposit_step, contribution, steps_per_day, risk_tolerance, time_to_goal,
    state, fees_out, notional_out, reward_out, marks_from, marks, deposits, pre_fill,
):  # fmt: skip
    """One decision per row: plan -> fill -> mark -> state -> reward.

    Row i decides at close ``t[i]`` (its books are first brought to that close), plans its action
    into ``sell[i]``/``buy[i]`` when ``planned[i]`` (otherwise those are the orders), fills them at
    the open of ``t[i] + 1``, marks every close through ``t_to[i]`` (> ``t[i]``), and writes the
    guide's reward for the period into ``reward_out[i]`` (skipped when ``reward_out`` is empty: a
    venue that scores rewards over whole decision periods, not per fill); this step's fees and notional go to
    ``fees_out``/``notional_out``, and the holdings just before the fill to ``pre_fill[i]``.
    """
    if pre_fill.shape[1] != kind.shape[0] or sell.shape[1] != kind.shape[0] or buy.shape[1] != kind.shape[0]:
        raise ValueError("step_nb: sell, buy and pre_fill need one column per asset (the row functions do not check)")
    key = np.empty(kind.shape[0])
    for i in range(rows.shape[0]):
        p = rows[i]
        if planned[i]:
            rank_key_row_nb(blocks.close, p, t[i], steps_per_day, kind, key)
        fees_out[i], notional_out[i] = step_row_nb(
            blocks, p, i, t[i], t_to[i], actions[i], planned[i], sell[i], buy[i], key, kind, cash_index,
            risky_weight[i], fee_rate, slippage, impact, deposit_step, contribution[i], steps_per_day, state,
            marks_from, marks, deposits, pre_fill[i],
        )  # fmt: skip
        if reward_out.shape[0] > 0:
            reward_out[i] = period_reward_row_nb(state, i, risk_tolerance[i], time_to_goal[i], steps_per_day)


@njit(cache=True, error_model="numpy")
def portfolio_state_nb(blocks, rows, state, kind, steps_per_day, unrealized_out, vol_out, sharpe_out, regime_out):
    """The guide's PortfolioState numbers for every row at its last marked close."""
    for i in range(rows.shape[0]):
        p = rows[i]
        s = state.marked[i]
        pnl = 0.0
        for a in range(kind.shape[0]):
            pnl += state.holdings[i, a] * blocks.close[p, s, a] - state.basis[i, a]
        unrealized_out[i] = pnl
        vol_out[i], sharpe_out[i] = trailing_stats_row_nb(state, i)
        regime_out[i] = regime_row_nb(blocks.close, p, s, steps_per_day, kind)


# ---------------------------------------------------------------- the guide's 32-value state

OBS_SIZE = 32
OBS_TOP_ALLOCATIONS = 10
FEAR_GREED_DEFAULT = 50.0


@njit(cache=True, error_model="numpy")
def observation_nb(
    close, rows, t, steps_per_day, kind, crypto_pair, value, unrealized, vol30, sharpe, regime, weights,
    risk_tolerance, time_to_goal, monthly_contribution, out,
):  # fmt: skip
    """The guide's DQN state, 32 floats per row, from what a snapshot at close ``t`` holds.

    ``[total_value / 1e6, unrealized_pnl / total_value, volatility_30d, sharpe_ratio,
    top 10 allocations (descending, zero-padded), risk_tolerance, time_to_goal / 120,
    monthly_contribution / 1e4, return_7d of crypto_pair[0], return_7d of crypto_pair[1],
    market_volatility, fear_greed / 100, bull flag, bear flag, zeros to 32]``.

    ``crypto_pair`` holds the two asset columns standing for BTC and ETH (-1 where the market has
    fewer crypto assets: that return is 0). ``market_volatility`` is the mean trailing 30-day
    annualised volatility of the crypto assets (0 before two daily returns exist). The fear-greed
    index is not derived from data: it stays at the guide's default, 50. ``time_to_goal`` counts
    down (:func:`months_to_goal_nb`). Closes after ``t`` are never read.
    """
    vols = np.zeros(kind.shape[0])
    for i in range(rows.shape[0]):
        o = out[i]
        o[:] = 0.0
        portfolio_obs_row_nb(o, value[i], unrealized[i], vol30[i], sharpe[i], weights[i], risk_tolerance[i],
                             months_to_goal_nb(time_to_goal[i], t, steps_per_day), monthly_contribution[i])  # fmt: skip
        market_obs_row_nb(close, rows[i], t, steps_per_day, kind, crypto_pair, regime[i], vols, o)


@njit(cache=True, error_model="numpy", inline="always")
def portfolio_obs_row_nb(o, value, unrealized, vol30, sharpe, weights, risk_tolerance, months_to_goal, contribution):
    """The user's part of the state, ``o[0:17]`` (``o`` zeroed by the caller): see :func:`observation_nb`.

    The top allocations are exactly ``-np.sort(-weights)[:10]``, zeros after (no allocation: the
    batched RL environment calls this for every env at every step): up to eight assets through a
    sorting network (:func:`_top8_nb`), more by insertion.
    """
    o[0] = value / 1e6
    o[1] = unrealized / value if value > 0.0 else 0.0
    o[2] = vol30
    o[3] = sharpe
    n_weights = weights.shape[0]
    if n_weights <= 8 <= OBS_TOP_ALLOCATIONS:
        _top8_nb(weights, n_weights, o)
    else:
        _top_insertion_nb(weights, o)
    o[14] = risk_tolerance
    o[15] = months_to_goal / 120.0
    o[16] = contribution / 1e4


@njit(cache=True, error_model="numpy", inline="always")
def _ce(a, b):
    """A sorting network's compare-exchange: (larger, smaller), as selects."""
    return (a if a >= b else b), (b if a >= b else a)


@njit(cache=True, error_model="numpy", inline="always")
def _top8_nb(weights, n, o):
    """``o[4:4 + n]`` = the n <= 8 ``weights`` in descending order, by the 19-comparator sorting network for 8.

    The insertion sort branched on every comparison, and with each env's own mix of holdings those
    branches were unpredictable: the sort cost about 20 ns an env-step. The network has no data-
    dependent branch (padding is -inf, which sorts last): about 15 ns an env-step less (4,096 envs,
    one thread, CPU time, 3 of 4 interleaved rounds; the fourth even). Equal weights are equal
    numbers, so the order among ties cannot show. The weights must be finite (both callers map NaN
    and infinities to 0): a NaN would break the network's order and let a -inf pad through.
    """
    w0 = weights[0] if n > 0 else -np.inf
    w1 = weights[1] if n > 1 else -np.inf
    w2 = weights[2] if n > 2 else -np.inf
    w3 = weights[3] if n > 3 else -np.inf
    w4 = weights[4] if n > 4 else -np.inf
    w5 = weights[5] if n > 5 else -np.inf
    w6 = weights[6] if n > 6 else -np.inf
    w7 = weights[7] if n > 7 else -np.inf
    w0, w2 = _ce(w0, w2)
    w1, w3 = _ce(w1, w3)
    w4, w6 = _ce(w4, w6)
    w5, w7 = _ce(w5, w7)
    w0, w4 = _ce(w0, w4)
    w1, w5 = _ce(w1, w5)
    w2, w6 = _ce(w2, w6)
    w3, w7 = _ce(w3, w7)
    w0, w1 = _ce(w0, w1)
    w2, w3 = _ce(w2, w3)
    w4, w5 = _ce(w4, w5)
    w6, w7 = _ce(w6, w7)
    w2, w4 = _ce(w2, w4)
    w3, w5 = _ce(w3, w5)
    w1, w4 = _ce(w1, w4)
    w3, w6 = _ce(w3, w6)
    w1, w2 = _ce(w1, w2)
    w3, w4 = _ce(w3, w4)
    w5, w6 = _ce(w5, w6)
    # one store per weight: a loop over a tuple of them, indexed at run time, measured slower (192-270
    # against 165-177 ns an env-step, six interleaved rounds)
    if n > 0:
        o[4] = w0
    if n > 1:
        o[5] = w1
    if n > 2:
        o[6] = w2
    if n > 3:
        o[7] = w3
    if n > 4:
        o[8] = w4
    if n > 5:
        o[9] = w5
    if n > 6:
        o[10] = w6
    if n > 7:
        o[11] = w7


@njit(cache=True, error_model="numpy", inline="always")
def _top_insertion_nb(weights, o):
    """``o[4:14]``: the ten largest ``weights`` in descending order, kept sorted by insertion (any count)."""
    n_top = min(OBS_TOP_ALLOCATIONS, weights.shape[0])
    filled = 0
    for a in range(weights.shape[0]):
        w = weights[a]
        if filled == n_top and w <= o[4 + n_top - 1]:
            continue
        k = filled if filled < n_top else n_top - 1
        while k > 0 and o[4 + k - 1] < w:
            o[4 + k] = o[4 + k - 1]
            k -= 1
        o[4 + k] = w
        if filled < n_top:
            filled += 1


@njit(cache=True, error_model="numpy")
def market_obs_row_nb(close, p, t, steps_per_day, kind, crypto_pair, regime, vols, o):
    """The market's part of the state at close t, ``o[17:23]``; reads no close after t. ``vols`` is (A,) scratch."""
    back = 7 * steps_per_day
    for j in range(2):
        a = crypto_pair[j]
        if a >= 0 and t >= back:
            o[17 + j] = close[p, t, a] / close[p, t - back, a] - 1.0
    n_crypto = 0
    total = 0.0
    if trailing_vol_row_nb(close, p, t, steps_per_day, vols) >= 2:
        for a in range(kind.shape[0]):
            if kind[a] == KIND_CRYPTO:
                total += vols[a]
                n_crypto += 1
    o[19] = total / n_crypto if n_crypto > 0 else 0.0
    o[20] = FEAR_GREED_DEFAULT / 100.0
    o[21] = 1.0 if regime == BULL else 0.0
    o[22] = 1.0 if regime == BEAR else 0.0
