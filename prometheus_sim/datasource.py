"""``DataSource``: market history for live mode and the inference API, one interface for every origin.

A live venue (a chain's price oracle) gives one number per asset per step: the latest price. The
strategies want bars. A :class:`HistorySource` is warm-started from a saved market (a run
directory, one of its paths) or a CSV/Parquet file of daily closes, and extended by what the venue
reads each step (:meth:`HistorySource.append`).

How an appended bar is formed, since the chain gives only a close: ``open`` is the previous bar's
close, ``high``/``low`` the larger/smaller of that open and the close. Volume, on-chain and macro
data are not on the chain: they are listed in ``absent`` for the whole live history (the
warm-start's values are not mixed with gaps), so a strategy that reads them gets a
:class:`~prometheus_sim.blocks.MissingDataError` at its first decision instead of a wrong one.
:meth:`HistorySource.require` lets a caller check that before anything is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from prometheus_sim.blocks import (
    MACRO_COLUMNS,
    ONCHAIN_COLUMNS,
    MarketBlocks,
    MissingDataError,
    absent_message,
    is_absent,
)
from prometheus_sim.portfolio import AssetBook
from prometheus_sim.snapshot import MarketHistory

LIVE_ABSENT = ("volume", "onchain", "macro")


@runtime_checkable
class DataSource(Protocol):
    """Where market history comes from: every bar known now, ending with the latest.

    Implemented by :class:`HistorySource` (grown by a live venue's reads) and by the inference API's
    ``MarketFeed`` (a run directory revealed one day per interval).
    """

    assets: tuple[str, ...]
    asset_kinds: tuple[str, ...]
    steps_per_day: int

    def history(self) -> MarketHistory:
        """Every bar known so far (one path), ending with the latest."""
        ...


@runtime_checkable
class GrowingSource(DataSource, Protocol):
    """A :class:`DataSource` a venue extends, one bar at a time (the live chain's oracle rounds)."""

    def append(self, timestamp: pd.Timestamp, close: np.ndarray) -> None:
        """Record the venue's latest prices as the next bar."""
        ...


class HistorySource:
    """A growing one-path history (see the module docstring)."""

    def __init__(
        self,
        assets: tuple[str, ...] | list[str],
        asset_kinds: tuple[str, ...] | list[str],
        calendar: pd.DatetimeIndex,
        close: np.ndarray,
        steps_per_day: int = 1,
        absent: tuple[str, ...] = LIVE_ABSENT,
        asset_sizes: tuple[float, ...] | list[float] | None = None,
    ):
        close = np.asarray(close, dtype=float)
        if close.ndim != 2 or close.shape[1] != len(assets):
            raise ValueError(f"close: expected shape (steps, {len(assets)}), got {close.shape}")
        if len(calendar) != close.shape[0]:
            raise ValueError(f"calendar: {len(calendar)} timestamps for {close.shape[0]} bars")
        if close.size and (not np.isfinite(close).all() or (close <= 0).any()):
            raise ValueError("close: every warm-start price must be finite and > 0")
        self.assets = tuple(assets)
        self.asset_kinds = tuple(asset_kinds)
        # which crypto assets a policy's observation features (largest first): a simulated market's sizes, kept from
        # the market a live run warm-starts from (without them the columns' order chose: DOGE in SOL's slots)
        self.asset_sizes = None if asset_sizes is None else tuple(float(x) for x in asset_sizes)
        self.steps_per_day = int(steps_per_day)
        self.absent = tuple(absent)
        self._calendar = list(pd.DatetimeIndex(calendar))
        self._close = [row for row in close]

    @classmethod
    def from_market(cls, market, path: int = 0, until: int | None = None) -> HistorySource:
        """Warm-start from a :class:`~prometheus_sim.market.Market` (a run directory loads to one): its closes up to ``until``."""
        if not 0 <= path < market.n_paths:
            raise ValueError(f"path: {path} is not a path of market {market.name!r} ({market.n_paths} paths)")
        if until is not None and not 0 <= until < market.n_steps:  # 99999 took every bar and -5 dropped the last four,
            # silently, where from_file refuses a row past its end (review of 2026-12-05, session 24)
            raise ValueError(
                f"history_until: {until} is not a step of market {market.name!r} (0..{market.n_steps - 1})"
            )
        end = market.n_steps if until is None else until + 1
        return cls(market.assets, market.asset_kinds, market.calendar[:end], market.close[path, :end],
                   market.steps_per_day, asset_sizes=market.asset_sizes)  # fmt: skip

    @classmethod
    def from_run_dir(cls, directory: str | Path, path: int = 0, until: int | None = None) -> HistorySource:
        from prometheus_sim.market import Market

        return cls.from_market(Market.load(directory), path, until)

    @classmethod
    def from_file(cls, file: str | Path, asset_kinds: dict[str, str], until: int | None = None) -> HistorySource:
        """Daily closes from CSV or Parquet: a date column (or index) and one column per asset, checked as real bar
        files are (:func:`~prometheus_sim.real.read_close_history`; a :class:`~prometheus_sim.real.RealDataError`,
        a ValueError, names file, row and column); its rows up to ``until`` (as a run directory's bars)."""
        from prometheus_sim.real import read_close_history

        assets = list(asset_kinds)
        frame = read_close_history(file, assets)
        if until is not None:
            if until >= len(frame):
                raise ValueError(f"history_until: {until} is past the file's last row ({len(frame) - 1})")
            frame = frame.iloc[: until + 1]
        return cls(assets, [asset_kinds[a] for a in assets], frame.index, frame[assets].to_numpy(dtype=float))

    def book(self) -> AssetBook:
        """The book of this history's columns, with the sizes that order the featured crypto assets."""
        return AssetBook.from_kinds(list(self.assets), list(self.asset_kinds), self.asset_sizes)

    # ------------------------------------------------------------ the port

    def history(self) -> MarketHistory:
        close = np.array(self._close)[None]
        opens = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
        blocks = MarketBlocks(
            open=opens, high=np.maximum(opens, close), low=np.minimum(opens, close), close=close,
            volume=np.full_like(close, np.nan), onchain=np.full(close.shape[:2] + (len(ONCHAIN_COLUMNS),), np.nan),
            macro=np.full(close.shape[:2] + (len(MACRO_COLUMNS),), np.nan),
        )  # fmt: skip
        return MarketHistory(blocks, pd.DatetimeIndex(self._calendar), self.absent)

    def append(self, timestamp: pd.Timestamp, close: np.ndarray) -> None:
        close = np.asarray(close, dtype=float)
        if close.shape != (len(self.assets),):
            raise ValueError(f"close: expected {len(self.assets)} prices, got shape {close.shape}")
        if not np.isfinite(close).all() or (close <= 0).any():
            raise ValueError(f"close: every price must be finite and > 0, got {close.tolist()}")
        timestamp = pd.Timestamp(timestamp)
        if self._calendar and timestamp <= self._calendar[-1]:
            raise ValueError(f"timestamp {timestamp} is not after the last bar's ({self._calendar[-1]})")
        self._calendar.append(timestamp)
        self._close.append(close)

    @property
    def n_steps(self) -> int:
        return len(self._close)

    def require(self, block: str, name: str | None = None) -> None:
        """A clear error now when the source lacks what a strategy reads (not a wrong decision later)."""
        if is_absent(block, name, self.absent):
            raise MissingDataError(absent_message(block, name, self.absent) + " (the chain gives closes only)")


__all__ = ["DataSource", "GrowingSource", "HistorySource", "LIVE_ABSENT"]
