"""Orders: recommendations for many users packed as arrays, checked before any kernel sees them.

:class:`OrderBatch` is what a strategy's ``decide_batch`` returns and what a venue executes.
:func:`plan_actions` turns action codes into orders with the step kernel's planner (for
strategies that only choose an action, such as the DQN); :func:`orders_for_target_weights`
does the same for target weights (the baselines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prometheus_sim.portfolio.model import (
    BUY_ACTIONS,
    SELL_ACTIONS,
    Action,
    AssetBook,
    InvalidRecommendation,
    Recommendation,
    Trade,
    _is_number,
)
from prometheus_sim.portfolio.nb import plan_actions_nb, target_orders_nb


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
        self._check_labels(book, fail)
        conf = self.confidence
        bad = ~np.isfinite(conf) | (conf < 0) | (conf > 1)
        if bad.any():
            p = np.flatnonzero(bad)[0]
            fail(p, f"confidence must be in [0, 1], got {conf[p]}")
        if ((self.action < 0) | (self.action > max(Action))).any():
            p = np.flatnonzero((self.action < 0) | (self.action > max(Action)))[0]
            fail(p, f"action code {self.action[p]} is not an Action")

    def _check_labels(self, book: AssetBook, fail) -> None:
        """A label must not contradict its trades: HOLD trades nothing, a BUY sells nothing, a SELL buys nothing."""
        sells = (self.sell_fraction > 0).any(axis=1)
        buys = (self.buy_fraction > 0).any(axis=1)
        action = self.action
        is_buy = (action >= min(BUY_ACTIONS)) & (action <= max(BUY_ACTIONS))  # the codes are contiguous
        is_sell = (action >= min(SELL_ACTIONS)) & (action <= max(SELL_ACTIONS))
        bad = ((action == Action.HOLD) & (sells | buys)) | (is_buy & sells) | (is_sell & buys)
        if bad.any():
            p = np.flatnonzero(bad)[0]
            what = " and ".join(w for w, x in (("sells", sells[p]), ("buys", buys[p])) if x)
            fail(p, f"action {Action(int(action[p])).name} contradicts its trades (it {what}); "
                    "the trades execute and the label is what is counted, so they must agree")  # fmt: skip

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


def plan_actions(
    actions: np.ndarray,
    holdings: np.ndarray,
    close: np.ndarray,
    t: int,
    book: AssetBook,
    risky_weight: np.ndarray,
    steps_per_day: int = 1,
    confidence: np.ndarray | None = None,
) -> OrderBatch:
    """Turn an :class:`Action` per user into orders with the step kernel's planner.

    Parameters
    ----------
    actions : ndarray of shape (n,)
    holdings : ndarray of shape (n, A), units held now
    close : ndarray of shape (n, >= t + 1, A), the closes each user's decision may see (row i is user i)
    t : the decision step; volatility ranks use closes up to t only
    risky_weight : ndarray of shape (n,), the REBALANCE target's crypto share per user
    """
    actions = np.asarray(actions)
    n, n_assets = holdings.shape
    # the kernel does not check its inputs (it runs without bounds checks): a holdings row one column short
    # of the book read the next user's holdings and wrote past the last row's orders (review, 2026-12-05)
    if n_assets != len(book.kind_codes):
        raise ValueError(f"holdings: {n_assets} columns for a book of {len(book.kind_codes)} assets")
    if close.ndim != 3 or close.shape[0] < n or close.shape[2] != n_assets or not 0 <= t < close.shape[1]:
        raise ValueError(f"close: shape {close.shape} does not hold step {t} of {n} users' {n_assets} assets "
                         "(expected (n, >= t + 1, A))")  # fmt: skip
    if actions.shape != (n,):
        raise ValueError(f"actions: expected one per user ({n}), got shape {actions.shape}")
    try:
        codes = np.array([Action(int(a)) for a in actions], dtype=np.int64)
    except ValueError as exc:
        raise InvalidRecommendation(f"actions: {exc}") from None
    batch = OrderBatch.hold(n, n_assets)
    batch.action[:] = codes
    if confidence is not None:
        batch.confidence[:] = confidence
    plan_actions_nb(
        close, np.arange(n, dtype=np.int64), np.full(n, t, dtype=np.int64), steps_per_day, codes,
        np.ascontiguousarray(holdings, dtype=float), book.kind_codes, book.cash_index,
        np.broadcast_to(np.asarray(risky_weight, dtype=float), (n,)).copy(),
        batch.sell_fraction, batch.buy_fraction,
    )  # fmt: skip
    return batch


def orders_for_target_weights(
    holdings: np.ndarray, prices: np.ndarray, target: np.ndarray, cash_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sell and buy fractions that move each portfolio to ``target`` weights (before costs).

    Overweight assets sell the excess; the cash after those sells is spent on underweight assets
    in proportion to their shortfall. ``target`` has shape (n_assets,) or (n, n_assets): finite weights
    in [0, 1] whose rows sum to at most 1 (the rest stays in cash), checked here, since a NaN, a negative
    (a short) or a leveraged row would otherwise become silent orders (a NaN sells nothing and buys
    nothing; a row summing to 2 is scaled down to whatever the cash buys). ``TOLERANCE`` allows the
    rounding of weights computed as ``1 - sum(others)`` and of float32 weights.
    """
    holdings = np.ascontiguousarray(holdings, dtype=float)
    sell = np.zeros_like(holdings)
    buy = np.zeros_like(holdings)
    target = np.asarray(target, dtype=float)
    try:
        target = np.ascontiguousarray(np.broadcast_to(target, holdings.shape))
    except ValueError:
        raise ValueError(f"target weights: shape {target.shape} does not fit the holdings' {holdings.shape} "
                         "(one weight per asset, or one row per user)") from None  # fmt: skip
    _check_target(target)
    target_orders_nb(holdings, np.ascontiguousarray(prices, dtype=float), target, cash_index, sell, buy)
    return sell, buy


TOLERANCE = 1e-6  # on each weight's [0, 1] and on a row's sum: float32 weights (a network's softmax) sum to 1 +- 1e-7


def _check_target(target: np.ndarray) -> None:
    """Refuse, naming the first offending entry, weights that are not finite, below 0, above 1, or sum above 1."""
    bad = ~np.isfinite(target) | (target < -TOLERANCE) | (target > 1.0 + TOLERANCE)
    if bad.any():
        user, asset = np.argwhere(bad)[0]
        raise ValueError(f"target weights: target[{user}, {asset}] is {float(target[user, asset])!r}; weights must be "
                         "finite numbers in [0, 1] (no shorts, no leverage)")  # fmt: skip
    sums = target.sum(axis=1)
    over = sums > 1.0 + TOLERANCE
    if over.any():
        user = int(np.flatnonzero(over)[0])
        raise ValueError(f"target weights: row {user} sums to {float(sums[user])!r}; a row sums to at most 1 (the rest "
                         "stays in cash; more would need leverage)")  # fmt: skip


__all__ = ["OrderBatch", "orders_for_target_weights", "plan_actions"]
