"""What a strategy may see at step t, and nothing after t.

A :class:`SnapshotBatch` holds the portfolios of many paths at one decision step plus a
:class:`MarketHistory` whose arrays end at t (views, so building one costs nothing). It never
carries ``Market.truth``. A strategy that digs past these views (for example through a numpy
view's ``.base``) is cheating; :mod:`prometheus_sim.lookahead` catches that by re-running with the
data physically cut at t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from prometheus_sim.blocks import MarketBlocks
from prometheus_sim.portfolio import AssetBook, RiskProfile


@dataclass(frozen=True)
class MarketHistory:
    """Observable market data up to and including step t: :class:`MarketBlocks` cut at t + 1.

    ``open`` .. ``macro`` are the blocks' arrays shaped (paths, t + 1, ...); on-chain and macro
    columns are also reachable by name (:meth:`onchain_column`, :meth:`macro_column`), so a
    strategy never depends on column positions.
    """

    blocks: MarketBlocks
    calendar: pd.DatetimeIndex

    open = property(lambda self: self.blocks.open)
    high = property(lambda self: self.blocks.high)
    low = property(lambda self: self.blocks.low)
    close = property(lambda self: self.blocks.close)
    volume = property(lambda self: self.blocks.volume)
    onchain = property(lambda self: self.blocks.onchain)
    macro = property(lambda self: self.blocks.macro)

    def onchain_column(self, name: str) -> np.ndarray:
        """E.g. ``"whale_transactions"``: shape (paths, t + 1)."""
        return self.blocks.column("onchain", name)

    def macro_column(self, name: str) -> np.ndarray:
        """E.g. ``"inflation_rate"``: shape (paths, t + 1)."""
        return self.blocks.column("macro", name)

    def row(self, p: int) -> MarketHistory:
        return MarketHistory(self.blocks.rows(slice(p, p + 1)), self.calendar)


@dataclass(frozen=True)
class SnapshotBatch:
    """Portfolios of many paths at decision step ``step``.

    Attributes
    ----------
    holdings : ndarray of shape (n_paths, n_assets), units held (cash in the stablecoin)
    prices : ndarray of shape (n_paths, n_assets), the last close (step t)
    value : ndarray of shape (n_paths,), holdings marked at ``prices``
    """

    step: int
    timestamp: pd.Timestamp
    book: AssetBook
    kinds: tuple[str, ...]
    holdings: np.ndarray
    prices: np.ndarray
    value: np.ndarray
    risk_profile: RiskProfile
    history: MarketHistory
    steps_per_day: int

    @property
    def n_paths(self) -> int:
        return self.holdings.shape[0]

    @property
    def assets(self) -> tuple[str, ...]:
        return self.book.names

    @property
    def weights(self) -> np.ndarray:
        """Value weights, shape (n_paths, n_assets)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(self.holdings * self.prices / self.value[:, None])

    def path(self, p: int) -> Snapshot:
        """The snapshot of one path, for strategies that decide one portfolio at a time."""
        return Snapshot(batch=self, index=p)


@dataclass(frozen=True)
class Snapshot:
    """One path's view of a :class:`SnapshotBatch` (what ``Strategy.decide`` receives)."""

    batch: SnapshotBatch
    index: int

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
        return self.batch.risk_profile

    @property
    def history(self) -> MarketHistory:
        """This path's history, arrays shaped (1, t + 1, ...)."""
        return self.batch.history.row(self.index)
