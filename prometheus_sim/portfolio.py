"""Portfolio model: actions, risk profile, trades, recommendations, reward, and the accounting kernel.

The accounting kernel (:func:`execute_orders_nb`) is the one place where fills, fees, slippage,
holdings and cash are computed. :class:`adapters.sim.SimAdapter` uses it for backtests and the RL
environment will use it for training, so a policy is trained in the same world it is tested in.

Conventions
-----------
* Holdings are units of every asset, the stablecoin (the *cash asset*) included: cash is held in
  the stablecoin, so a depeg really does cost the portfolio.
* A ``Trade`` says ``side`` and ``percentage``. A **sell** sells ``percentage`` % of the units held
  of that asset. A **buy** spends ``percentage`` % of the cash available *after the same
  recommendation's sells are filled*; that is what lets one recommendation rebalance.
* Fees are ``fees_bps`` of the traded notional (units x fill price), paid in cash: a buy that
  spends S buys ``S / (price x (1 + fee))`` units; a sell of N units returns ``N x price x (1 - fee)``.
* Slippage moves the fill price against the trade by ``slippage_bps + impact x (units / volume)``
  (capped at ``MAX_SLIPPAGE``), where ``volume`` is the decision bar's volume: it grows with the
  trade's size relative to what the market trades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

import numpy as np
from numba import njit

MAX_SLIPPAGE = 0.5


class Action(IntEnum):
    """The seven discrete decisions (the DQN's action space). What each one trades:

    * ``HOLD``: nothing.
    * ``BUY_CONSERVATIVE`` / ``BUY_MODERATE`` / ``BUY_AGGRESSIVE``: spend 10 / 25 / 50 % of the
      cash on the risky basket (the crypto assets), split equally.
    * ``SELL_PARTIAL`` / ``SELL_MAJOR``: sell 25 / 60 % of every risky holding into cash.
    * ``REBALANCE``: move to the risk profile's target: ``RiskProfile.risky_weight`` of the
      portfolio in the risky basket, split equally, the rest in cash; other assets (a bond) sold.
    """

    HOLD = 0
    BUY_CONSERVATIVE = 1
    BUY_MODERATE = 2
    BUY_AGGRESSIVE = 3
    SELL_PARTIAL = 4
    SELL_MAJOR = 5
    REBALANCE = 6


BUY_CASH_FRACTION = {Action.BUY_CONSERVATIVE: 0.10, Action.BUY_MODERATE: 0.25, Action.BUY_AGGRESSIVE: 0.50}
SELL_HOLDING_FRACTION = {Action.SELL_PARTIAL: 0.25, Action.SELL_MAJOR: 0.60}


@dataclass(frozen=True, kw_only=True)
class RiskProfile:
    """A user's appetite for risk and the time to their goal.

    ``risk_tolerance`` 0 means capital preservation, 1 maximum growth. The REBALANCE target puts
    ``0.2 + 0.6 x risk_tolerance`` of the portfolio in the risky basket (20 % to 80 %).
    """

    risk_tolerance: float = 0.5
    goal_days: int = 365

    def __post_init__(self) -> None:
        if not (0.0 <= self.risk_tolerance <= 1.0) or math.isnan(self.risk_tolerance):
            raise ValueError(f"risk_tolerance: must be in [0, 1], got {self.risk_tolerance}")
        if self.goal_days < 1:
            raise ValueError(f"goal_days: must be >= 1, got {self.goal_days}")

    @property
    def risky_weight(self) -> float:
        return 0.2 + 0.6 * self.risk_tolerance


@dataclass(frozen=True)
class Trade:
    """One leg of a recommendation: ``percentage`` in (0, 100] (see the module docstring)."""

    asset: str
    side: Literal["buy", "sell"]
    percentage: float


@dataclass(frozen=True)
class Recommendation:
    """What a strategy recommends for one portfolio at one step."""

    action: Action
    trades: tuple[Trade, ...] = ()
    confidence: float = 1.0
    reason: str = field(default="", compare=False)

    def encode_for_chain(self, addresses: dict[str, str]) -> tuple[list[tuple[str, int, int]], int]:
        """The PolicyEngine's encoding: ``tuple(address,uint8,uint256)[]`` and confidence in bps.

        Side is 0 for buy and 1 for sell; percentages are basis points (100 % = 10,000).
        """
        legs = []
        for trade in self.trades:
            if trade.asset not in addresses:
                raise KeyError(f"no chain address for asset {trade.asset!r}")
            legs.append((addresses[trade.asset], 0 if trade.side == "buy" else 1, round(trade.percentage * 100)))
        return legs, round(self.confidence * 10_000)


@dataclass(frozen=True)
class AssetBook:
    """Which columns are the cash asset and the risky basket; shared by planning and checking."""

    names: tuple[str, ...]
    cash_index: int
    risky: tuple[int, ...]

    @classmethod
    def from_kinds(cls, names: list[str], kinds: list[str]) -> AssetBook:
        stables = [i for i, k in enumerate(kinds) if k == "stable"]
        if not stables:
            raise ValueError("a portfolio needs a stablecoin to hold cash in; the scenario has none")
        risky = tuple(i for i, k in enumerate(kinds) if k == "crypto")
        return cls(names=tuple(names), cash_index=stables[0], risky=risky)


class InvalidRecommendation(ValueError):
    """A strategy returned something that cannot be executed; the message names the item."""


@dataclass
class OrderBatch:
    """Recommendations for many portfolios at one step, as arrays the kernel reads.

    Attributes
    ----------
    action : ndarray of shape (n_paths,), int8 codes of :class:`Action`
    sell_fraction : ndarray of shape (n_paths, n_assets), fraction of each holding to sell
    buy_fraction : ndarray of shape (n_paths, n_assets), fraction of post-sell cash to spend
    confidence : ndarray of shape (n_paths,)
    """

    action: np.ndarray
    sell_fraction: np.ndarray
    buy_fraction: np.ndarray
    confidence: np.ndarray

    @classmethod
    def hold(cls, n_paths: int, n_assets: int) -> OrderBatch:
        return cls(
            action=np.zeros(n_paths, dtype=np.int8),
            sell_fraction=np.zeros((n_paths, n_assets)),
            buy_fraction=np.zeros((n_paths, n_assets)),
            confidence=np.ones(n_paths),
        )

    @classmethod
    def from_recommendations(cls, recs: list[Recommendation], book: AssetBook, step: int = -1) -> OrderBatch:
        """Pack per-path recommendations, checking each; errors name the path, trade and value."""
        n_assets = len(book.names)
        batch = cls.hold(len(recs), n_assets)
        index = {name: i for i, name in enumerate(book.names)}
        for p, rec in enumerate(recs):
            where = f"path {p}" + (f", step {step}" if step >= 0 else "")
            if not isinstance(rec, Recommendation):
                raise InvalidRecommendation(f"{where}: expected a Recommendation, got {type(rec).__name__}")
            try:
                batch.action[p] = Action(rec.action)
            except (ValueError, TypeError):
                raise InvalidRecommendation(f"{where}: action {rec.action!r} is not an Action") from None
            if not _is_number(rec.confidence):
                raise InvalidRecommendation(f"{where}: confidence must be a number in [0, 1], got {rec.confidence!r}")
            batch.confidence[p] = rec.confidence
            if not isinstance(rec.trades, (tuple, list)):
                raise InvalidRecommendation(
                    f"{where}: trades must be a tuple of Trade, got {type(rec.trades).__name__}"
                )
            for j, trade in enumerate(rec.trades):
                item = f"{where}: trades[{j}]"
                if not isinstance(trade, Trade):
                    raise InvalidRecommendation(f"{item}: expected a Trade, got {type(trade).__name__}")
                if trade.asset not in index:
                    raise InvalidRecommendation(
                        f"{item}.asset: unknown asset {trade.asset!r}; known: {list(book.names)}"
                    )
                a = index[trade.asset]
                pct = trade.percentage
                if not _is_number(pct) or not math.isfinite(pct) or not 0.0 < pct <= 100.0:
                    raise InvalidRecommendation(f"{item}.percentage: must be a number in (0, 100], got {pct!r}")
                if trade.side == "sell":
                    batch.sell_fraction[p, a] += pct / 100.0
                elif trade.side == "buy":
                    batch.buy_fraction[p, a] += pct / 100.0
                else:
                    raise InvalidRecommendation(f"{item}.side: must be 'buy' or 'sell', got {trade.side!r}")
        batch.validate(book, step)
        return batch

    def _check_shapes(self, n_assets: int, n_paths: int | None, at: str) -> None:
        """The kernel trusts shapes and dtypes blindly, so they are checked here, first."""
        n = len(self.action) if n_paths is None else n_paths
        wanted = {
            "action": ((n,), np.integer),
            "confidence": ((n,), np.floating),
            "sell_fraction": ((n, n_assets), np.floating),
            "buy_fraction": ((n, n_assets), np.floating),
        }
        for name, (shape, kind) in wanted.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray):
                raise InvalidRecommendation(f"orders{at}: {name} must be a numpy array, got {type(arr).__name__}")
            if arr.shape != shape:
                raise InvalidRecommendation(f"orders{at}: {name} has shape {arr.shape}, expected {shape}")
            if not np.issubdtype(arr.dtype, kind):
                raise InvalidRecommendation(f"orders{at}: {name} has dtype {arr.dtype}, expected {kind.__name__}")

    def validate(self, book: AssetBook, step: int = -1, n_paths: int | None = None) -> None:
        """Check shapes, then every path; raise :class:`InvalidRecommendation` naming the first bad item."""
        at = f", step {step}" if step >= 0 else ""

        def fail(p: int, what: str) -> None:
            raise InvalidRecommendation(f"path {int(p)}{at}: {what}")

        names = book.names
        self._check_shapes(len(names), n_paths, at)
        for label, arr in (("sell", self.sell_fraction), ("buy", self.buy_fraction)):
            bad = ~np.isfinite(arr)
            if bad.any():
                p, a = np.argwhere(bad)[0]
                fail(p, f"{label} of {names[a]} is {arr[p, a]}")
            bad = (arr < 0) | (arr > 1.0 + 1e-12)
            if bad.any():
                p, a = np.argwhere(bad)[0]
                fail(p, f"{label} of {names[a]} is {arr[p, a] * 100:g} %, must be within [0, 100] %")
        if (self.sell_fraction[:, book.cash_index] > 0).any() or (self.buy_fraction[:, book.cash_index] > 0).any():
            p = np.flatnonzero((self.sell_fraction[:, book.cash_index] + self.buy_fraction[:, book.cash_index]) > 0)[0]
            fail(p, f"{names[book.cash_index]} is the cash asset: it cannot be bought or sold")
        total = self.buy_fraction.sum(axis=1)
        if (total > 1.0 + 1e-9).any():
            p = np.flatnonzero(total > 1.0 + 1e-9)[0]
            fail(p, f"buys add up to {total[p] * 100:g} % of cash, over 100 %")
        both = (self.sell_fraction > 0) & (self.buy_fraction > 0)
        if both.any():
            p, a = np.argwhere(both)[0]
            fail(p, f"{names[a]} is both bought and sold")
        conf = self.confidence
        bad = ~np.isfinite(conf) | (conf < 0) | (conf > 1)
        if bad.any():
            p = np.flatnonzero(bad)[0]
            fail(p, f"confidence must be in [0, 1], got {conf[p]}")
        if ((self.action < 0) | (self.action > max(Action))).any():
            p = np.flatnonzero((self.action < 0) | (self.action > max(Action)))[0]
            fail(p, f"action code {self.action[p]} is not an Action")

    def recommendation(self, p: int, book: AssetBook) -> Recommendation:
        """Path p's orders as a :class:`Recommendation` (for logs and the chain)."""
        trades = []
        for a, name in enumerate(book.names):
            if self.sell_fraction[p, a] > 0:
                trades.append(Trade(name, "sell", float(self.sell_fraction[p, a] * 100)))
        for a, name in enumerate(book.names):
            if self.buy_fraction[p, a] > 0:
                trades.append(Trade(name, "buy", float(self.buy_fraction[p, a] * 100)))
        return Recommendation(Action(int(self.action[p])), tuple(trades), float(self.confidence[p]))


def _is_number(x: object) -> bool:
    """A real number, numpy scalars included; booleans are not percentages."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


# ---------------------------------------------------------------- actions -> orders


def plan_actions(
    actions: np.ndarray,
    holdings: np.ndarray,
    prices: np.ndarray,
    book: AssetBook,
    profile: RiskProfile,
    confidence: np.ndarray | None = None,
) -> OrderBatch:
    """Turn an :class:`Action` per path into concrete orders (see :class:`Action` for each).

    Parameters
    ----------
    actions : ndarray of shape (n_paths,)
    holdings : ndarray of shape (n_paths, n_assets), units held now
    prices : ndarray of shape (n_paths, n_assets), the prices the decision sees (last close)
    """
    actions = np.asarray(actions)
    n_paths, n_assets = holdings.shape
    batch = OrderBatch.hold(n_paths, n_assets)
    batch.action[:] = actions
    if confidence is not None:
        batch.confidence[:] = confidence
    risky = list(book.risky)
    if not risky:
        return batch
    share = 1.0 / len(risky)
    for action, frac in BUY_CASH_FRACTION.items():
        rows = actions == action
        batch.buy_fraction[np.ix_(rows, risky)] = frac * share
    for action, frac in SELL_HOLDING_FRACTION.items():
        rows = actions == action
        held = holdings[:, risky] > 0
        batch.sell_fraction[np.ix_(rows, risky)] = np.where(held[rows], frac, 0.0)
    rows = np.flatnonzero(actions == Action.REBALANCE)
    if rows.size:
        target = np.zeros(n_assets)
        target[risky] = profile.risky_weight * share
        target[book.cash_index] = 1.0 - profile.risky_weight
        sells, buys = orders_for_target_weights(holdings[rows], prices[rows], target, book.cash_index)
        batch.sell_fraction[rows] = sells
        batch.buy_fraction[rows] = buys
    return batch


def orders_for_target_weights(
    holdings: np.ndarray, prices: np.ndarray, target: np.ndarray, cash_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sell and buy fractions that move each portfolio to ``target`` weights (before costs).

    Overweight assets sell the excess; the cash after those sells is spent on underweight assets
    in proportion to their shortfall. ``target`` has shape (n_assets,) or (n_paths, n_assets).
    """
    value = holdings * prices
    total = value.sum(axis=1, keepdims=True)
    want = np.broadcast_to(target, value.shape) * total
    excess = value - want
    sell = np.zeros_like(value)
    over = (excess > 0) & (value > 0)
    sell[over] = excess[over] / value[over]
    sell[:, cash_index] = 0.0
    shortfall = np.clip(want - value, 0.0, None)
    shortfall[:, cash_index] = 0.0
    cash_after = value[:, cash_index] + (excess.clip(0.0, None) * (np.arange(value.shape[1]) != cash_index)).sum(axis=1)
    buy = np.zeros_like(value)
    ok = cash_after > 0
    buy[ok] = np.minimum(shortfall[ok] / cash_after[ok, None], 1.0)
    spend = buy.sum(axis=1)
    scale = np.where(spend > 1.0, 1.0 / np.maximum(spend, 1e-300), 1.0)
    buy *= scale[:, None]
    return np.clip(sell, 0.0, 1.0), buy


# ---------------------------------------------------------------- the accounting kernel


@njit(cache=True, error_model="numpy")
def execute_orders_nb(
    holdings, cash_index, fill_price, ref_volume, sell_fraction, buy_fraction,
    fee_rate, slippage, impact, fees_out, notional_out,
):  # fmt: skip
    """Fill one step's orders for every path, in place.

    Parameters
    ----------
    holdings : ndarray of shape (n_paths, n_assets), units; updated in place
    cash_index : int, the column of the cash asset (a stablecoin)
    fill_price : ndarray of shape (n_paths, n_assets), the price orders fill at before slippage
    ref_volume : ndarray of shape (n_paths, n_assets), units traded in the reference bar
    sell_fraction, buy_fraction : ndarray of shape (n_paths, n_assets)
    fee_rate, slippage, impact : float, fee and base slippage as fractions, impact per participation
    fees_out, notional_out : ndarray of shape (n_paths,), fees paid and notional traded are *added*

    Sells fill first, then buys spend their share of the cash the sells left. No holding can go
    negative and cash is never borrowed.
    """
    n_paths, n_assets = holdings.shape
    for p in range(n_paths):
        cash_px = fill_price[p, cash_index]
        for a in range(n_assets):
            f = sell_fraction[p, a]
            if f <= 0.0 or a == cash_index:
                continue
            units = holdings[p, a] * min(f, 1.0)
            if units <= 0.0:
                continue
            slip = min(slippage + impact * units / max(ref_volume[p, a], 1e-12), MAX_SLIPPAGE)
            px = fill_price[p, a] * (1.0 - slip)
            notional = units * px
            fee = notional * fee_rate
            holdings[p, a] -= units
            holdings[p, cash_index] += (notional - fee) / cash_px
            fees_out[p] += fee
            notional_out[p] += notional
        cash_units = holdings[p, cash_index]
        for a in range(n_assets):
            f = buy_fraction[p, a]
            if f <= 0.0 or a == cash_index:
                continue
            spend_units = min(cash_units * min(f, 1.0), holdings[p, cash_index])
            if spend_units <= 0.0:
                continue
            spend = spend_units * cash_px
            # first guess of size for the impact term, then the exact split of spend into notional + fee
            rough_units = spend / fill_price[p, a]
            slip = min(slippage + impact * rough_units / max(ref_volume[p, a], 1e-12), MAX_SLIPPAGE)
            px = fill_price[p, a] * (1.0 + slip)
            notional = spend / (1.0 + fee_rate)
            units = notional / px
            holdings[p, a] += units
            holdings[p, cash_index] -= spend_units
            fees_out[p] += spend - notional
            notional_out[p] += notional


@njit(cache=True, error_model="numpy")
def mark_to_market_nb(holdings, close, start, stop, out):
    """``out[p, s] = sum_a holdings[p, a] * close[p, s, a]`` for s in [start, stop)."""
    n_paths, n_assets = holdings.shape
    for p in range(n_paths):
        for s in range(start, stop):
            v = 0.0
            for a in range(n_assets):
                v += holdings[p, a] * close[p, s, a]
            out[p, s] = v


# ---------------------------------------------------------------- the reward


REWARD_STABILITY_WINDOW_DAYS = 30
REWARD_STABILITY_BONUS = 2.0
REWARD_SHARPE_WEIGHT = 0.5


def reward(
    prev_value: float,
    value: float,
    volatility: float,
    risk_tolerance: float,
    days_to_goal: float,
    sharpe: float,
) -> float:
    """The seed's reward for one step of a rebalancing policy.

    ``return x 100`` (a 1 % gain scores 1), minus a volatility penalty ``volatility x 100 x
    (1 - risk_tolerance)`` (``volatility`` is the recent std of per-step returns: the less risk the
    user accepts, the more it costs), plus a stability bonus within ``REWARD_STABILITY_WINDOW_DAYS``
    of the goal date that shrinks with volatility (near the goal, keeping what was earned
    matters), plus ``REWARD_SHARPE_WEIGHT x sharpe`` (the recent annualised Sharpe, clipped to
    [-3, 3] so one lucky streak cannot dominate).
    """
    if prev_value <= 0 or not math.isfinite(prev_value) or not math.isfinite(value):
        raise ValueError(f"values must be positive and finite, got {prev_value} -> {value}")
    ret = value / prev_value - 1.0
    r = ret * 100.0
    r -= volatility * 100.0 * (1.0 - risk_tolerance)
    if days_to_goal <= REWARD_STABILITY_WINDOW_DAYS:
        closeness = 1.0 - max(days_to_goal, 0.0) / REWARD_STABILITY_WINDOW_DAYS
        r += REWARD_STABILITY_BONUS * closeness * max(0.0, 1.0 - volatility * 10.0)
    r += REWARD_SHARPE_WEIGHT * max(-3.0, min(3.0, sharpe))
    return r
