"""What a strategy may see at step t, and nothing after t.

A :class:`SnapshotBatch` holds the portfolios of many users at one decision step: their
holdings, risk profiles and the guide's portfolio state, whether the venue allows a rebalance now,
and a :class:`MarketHistory` whose arrays end at t (views, so building one costs nothing). It
never carries ``Market.truth``. A strategy that digs past these views (for example through a numpy
view's ``.base``) is cheating; :mod:`prometheus_sim.lookahead` catches that by re-running with the
data physically cut at t.

Users are opaque ids (a path index in simulation, a vault owner's address live); row i of every
array is ``users[i]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prometheus_sim.blocks import MarketBlocks, MissingDataError, absent_message, is_absent
from prometheus_sim.portfolio import AssetBook, OrderBatch, PortfolioState, RebalanceRules, RiskProfile, RiskProfiles
from prometheus_sim.portfolio.model import PortfolioStates
from prometheus_sim.portfolio.orders import plan_actions


@dataclass(frozen=True)
class MarketHistory:
    """Observable market data up to and including step t: :class:`MarketBlocks` cut at t + 1.

    ``open`` .. ``macro`` are the blocks' arrays shaped (paths, t + 1, ...); on-chain and macro
    columns are also reachable by name (:meth:`onchain_column`, :meth:`macro_column`), so a
    strategy never depends on column positions. ``absent`` lists what the market lacks (a real
    market built from files without on-chain or macro data): reading it raises
    :class:`~prometheus_sim.blocks.MissingDataError` instead of handing out filler.
    """

    blocks: MarketBlocks
    calendar: pd.DatetimeIndex
    absent: tuple[str, ...] = ()

    open = property(lambda self: self.blocks.open)
    high = property(lambda self: self.blocks.high)
    low = property(lambda self: self.blocks.low)
    close = property(lambda self: self.blocks.close)
    volume = property(lambda self: self._block("volume"))
    onchain = property(lambda self: self._block("onchain"))
    macro = property(lambda self: self._block("macro"))

    def _block(self, block: str) -> np.ndarray:
        if is_absent(block, None, self.absent):
            raise MissingDataError(absent_message(block, None, self.absent))
        return getattr(self.blocks, block)

    def _column(self, block: str, name: str) -> np.ndarray:
        if is_absent(block, name, self.absent):
            raise MissingDataError(absent_message(block, name, self.absent))
        return self.blocks.column(block, name)

    def has(self, block: str, name: str | None = None) -> bool:
        """Whether this market has ``block`` (or its column ``name``)."""
        return not is_absent(block, name, self.absent)

    def onchain_column(self, name: str) -> np.ndarray:
        """E.g. ``"whale_transactions"``: shape (paths, t + 1)."""
        return self._column("onchain", name)

    def macro_column(self, name: str) -> np.ndarray:
        """E.g. ``"inflation_rate"``: shape (paths, t + 1)."""
        return self._column("macro", name)

    def row(self, p: int) -> MarketHistory:
        return MarketHistory(self.blocks.rows(slice(p, p + 1)), self.calendar, self.absent)


@dataclass(frozen=True)
class Marks:
    """Valuations the venue made since the previous snapshot: the closes in between, this one included.

    Attributes
    ----------
    steps : ndarray of shape (k,)
    timestamps : ndarray of shape (k,), datetime64 start time of each step
    equity : ndarray of shape (n_users, k), value at each close
    deposits : ndarray of shape (n_users, k), contributions that landed at each step's close (value; a month's last);
        None when no user contributes
    """

    steps: np.ndarray
    timestamps: np.ndarray
    equity: np.ndarray
    deposits: np.ndarray | None


@dataclass(frozen=True)
class SnapshotBatch:
    """The portfolios of many users at decision step ``step`` (the close of t).

    Attributes
    ----------
    users : ndarray of shape (n_users,), opaque ids
    holdings : ndarray of shape (n_users, n_assets), units held (cash in the stablecoin)
    prices : ndarray of shape (n_users, n_assets), the last close (step t)
    value : ndarray of shape (n_users,), the guide's total_value: holdings marked at ``prices``
    profiles : RiskProfiles, one per user
    state : PortfolioStates, the guide's portfolio state per user
    can_rebalance : ndarray of shape (n_users,), whether the venue allows a rebalance now
    reward : ndarray of shape (n_users,), the guide's reward of the period since the previous
        decision (NaN before the first)
    marks : Marks, the venue's valuations since the previous snapshot
    """

    step: int
    timestamp: pd.Timestamp
    users: np.ndarray
    book: AssetBook
    holdings: np.ndarray
    prices: np.ndarray
    value: np.ndarray
    profiles: RiskProfiles
    state: PortfolioStates
    can_rebalance: np.ndarray
    reward: np.ndarray
    history: MarketHistory
    steps_per_day: int
    rules: RebalanceRules
    marks: Marks

    def __post_init__(self) -> None:
        # The strategy gets its own read-only copy of the ids. A venue addresses users by its own array
        # (market rows in a simulation, vault owners live). A strategy that wrote to that array sent
        # the kernel to rows outside the market (garbage scores, or a segfault at 10**9), and live it
        # could redirect recommendations.
        users = np.array(self.users, copy=True)
        users.flags.writeable = False
        object.__setattr__(self, "users", users)

    @property
    def n_users(self) -> int:
        return self.holdings.shape[0]

    @property
    def assets(self) -> tuple[str, ...]:
        return self.book.names

    @property
    def weights(self) -> np.ndarray:
        """Value weights (the guide's asset_allocation), shape (n_users, n_assets)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(self.holdings * self.prices / self.value[:, None])

    def plan(self, actions: np.ndarray, confidence: np.ndarray | None = None) -> OrderBatch:
        """Orders for one :class:`~prometheus_sim.portfolio.Action` per user, planned by the step kernel."""
        return plan_actions(
            actions, self.holdings, self.history.close, self.step, self.book,
            self.rules.risky_weight(self.profiles.risk_tolerance), self.steps_per_day, confidence,
        )  # fmt: skip

    def observation(self) -> np.ndarray:
        """The guide's 32-value DQN state per user, shape (n_users, 32) (:func:`~prometheus_sim.portfolio.nb.observation_nb`).

        BTC and ETH stand for the market's two largest crypto assets (``book.featured``: BTC and ETH
        by name, then by declared size; zeros where it has fewer); ``time_to_goal`` counts down from
        the profile's months.
        """
        from prometheus_sim.portfolio import nb

        n = self.n_users
        kind = self.book.kind_codes
        pair = self.book.featured_columns(2)
        out = np.empty((n, nb.OBS_SIZE))
        nb.observation_nb(
            self.history.close, np.arange(n, dtype=np.int64), self.step, self.steps_per_day, kind, pair,
            np.ascontiguousarray(self.value, dtype=float), self.state.unrealized_pnl, self.state.volatility_30d,
            self.state.sharpe_ratio, self.state.regime, np.ascontiguousarray(self.weights),
            self.profiles.risk_tolerance, self.profiles.time_to_goal, self.profiles.monthly_contribution, out,
        )  # fmt: skip
        return out

    def user(self, i: int) -> Snapshot:
        """Row i's snapshot, for strategies that decide one portfolio at a time."""
        return Snapshot(batch=self, index=i)


@dataclass(frozen=True)
class Snapshot:
    """One user's view of a :class:`SnapshotBatch` (what ``Strategy.decide`` receives)."""

    batch: SnapshotBatch
    index: int

    @property
    def user(self):
        return self.batch.users[self.index]

    @property
    def step(self) -> int:
        return self.batch.step

    @property
    def timestamp(self) -> pd.Timestamp:
        return self.batch.timestamp

    @property
    def book(self) -> AssetBook:
        return self.batch.book

    @property
    def assets(self) -> tuple[str, ...]:
        return self.batch.book.names

    @property
    def holdings(self) -> np.ndarray:
        """Shape (n_assets,)."""
        return self.batch.holdings[self.index]

    @property
    def prices(self) -> np.ndarray:
        return self.batch.prices[self.index]

    @property
    def value(self) -> float:
        return float(self.batch.value[self.index])

    @property
    def weights(self) -> np.ndarray:
        return self.batch.weights[self.index]

    @property
    def risk_profile(self) -> RiskProfile:
        return self.batch.profiles.profile(self.index)

    @property
    def can_rebalance(self) -> bool:
        return bool(self.batch.can_rebalance[self.index])

    @property
    def portfolio_state(self) -> PortfolioState:
        """The guide's PortfolioState (total value, allocation, PnL, volatility, Sharpe, regime)."""
        allocation = dict(zip(self.assets, map(float, self.weights), strict=True))
        return self.batch.state.state(self.index, self.value, allocation)

    @property
    def history(self) -> MarketHistory:
        """This user's history, arrays shaped (1, t + 1, ...)."""
        return self.batch.history.row(self.index)
