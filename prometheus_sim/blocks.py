"""The market's observable blocks, defined once: a named tuple of arrays shaped ``(paths, steps, ...)``.

Every part that moves market data (the generator's output, :class:`~prometheus_sim.market.Market`,
save/load, a snapshot's history, the lookahead check) iterates :class:`MarketBlocks` by its fields
instead of listing the seven blocks by hand, so a new series is one edit here, and cutting the
data at step t is one method (:meth:`MarketBlocks.head`) that cannot forget a block.

It is a ``NamedTuple`` so that Numba kernels take it whole (a tuple of arrays of one type).

Visibility of each block at step t (what a decision at the close of t may see):

* ``open, high, low, close, volume``: the whole bar of step t.
* ``onchain``: the step's totals (whale transactions, active addresses, exchange flows).
* ``macro``: the value in effect during step t. There is no publication lag: the simulator's
  inflation *is* the month's print, set on the first step of the month, and the policy rate
  moves at meetings, so both are known at that step's close (``tests/test_blocks.py`` checks that
  a snapshot at t shows macro row t and nothing later).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from prometheus_sim.scenario import MACRO_COLUMNS, OHLCV_COLUMNS, ONCHAIN_COLUMNS

#: Column names of the blocks that are not per asset.
BLOCK_COLUMNS: dict[str, tuple[str, ...]] = {"onchain": ONCHAIN_COLUMNS, "macro": MACRO_COLUMNS}
#: Blocks with one column per asset.
PER_ASSET_BLOCKS: tuple[str, ...] = OHLCV_COLUMNS


class MissingDataError(KeyError):
    """A block or column this market does not have (a real market built from files without it).

    Absent data is NaN in the raw arrays, never zeros, and asking for it by name raises this, so a
    strategy that needs on-chain or macro data fails with a clear message instead of reading filler.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing data"


def absent_message(block: str, name: str | None, absent: tuple[str, ...]) -> str:
    """Why ``block`` (or its column ``name``) cannot be read, listing everything the market lacks."""
    what = f"{block} column {name!r}" if name else f"the {block} block"
    return (
        f"{what} is absent from this market (it was built from files without it; absent: {', '.join(absent)}). "
        "A strategy that needs it cannot run on this market."
    )


def is_absent(block: str, name: str | None, absent: tuple[str, ...]) -> bool:
    """Whether ``block`` (whole, when ``name`` is None) or its column ``name`` is listed in ``absent``.

    ``absent`` holds block names (``"macro"``: the whole block) and ``"block.column"`` entries.
    """
    if block in absent:
        return True
    if name is None:
        return False
    return f"{block}.{name}" in absent


class MarketBlocks(NamedTuple):
    """The observable market.

    Attributes
    ----------
    open, high, low, close, volume : ndarray of shape (paths, steps, assets)
    onchain : ndarray of shape (paths, steps, 4), columns ``ONCHAIN_COLUMNS``
    macro : ndarray of shape (paths, steps, 3), columns ``MACRO_COLUMNS``
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    onchain: np.ndarray
    macro: np.ndarray

    @classmethod
    def empty(cls, n_paths: int, n_steps: int, n_assets: int) -> MarketBlocks:
        """Uninitialised blocks of the right shapes (what a generator fills)."""
        return cls(**{name: np.empty(_shape(name, n_paths, n_steps, n_assets)) for name in cls._fields})

    @property
    def n_paths(self) -> int:
        return self.close.shape[0]

    @property
    def n_steps(self) -> int:
        return self.close.shape[1]

    @property
    def n_assets(self) -> int:
        return self.close.shape[2]

    def head(self, n_steps: int) -> MarketBlocks:
        """Views of the first ``n_steps`` steps of every block (a snapshot at t uses ``head(t + 1)``)."""
        return MarketBlocks(*(arr[:, :n_steps] for arr in self))

    def copy_head(self, n_steps: int) -> MarketBlocks:
        """Copies of the first ``n_steps`` steps: physically cut, so no view can reach past them."""
        return MarketBlocks(*(np.ascontiguousarray(arr[:, :n_steps]).copy() for arr in self))

    def rows(self, rows: slice | np.ndarray) -> MarketBlocks:
        """The given paths of every block."""
        return MarketBlocks(*(arr[rows] for arr in self))

    def freeze(self) -> MarketBlocks:
        """Make every array read-only (in place) and return self: no one downstream may edit the market."""
        for arr in self:
            arr.flags.writeable = False
        return self

    def column(self, block: str, name: str) -> np.ndarray:
        """One named column of ``onchain`` or ``macro``: shape (paths, steps)."""
        if block not in BLOCK_COLUMNS:
            raise KeyError(f"block {block!r} has no named columns; those that do: {list(BLOCK_COLUMNS)}")
        columns = BLOCK_COLUMNS[block]
        if name not in columns:
            raise KeyError(f"unknown {block} column {name!r}; known: {list(columns)}")
        return getattr(self, block)[:, :, columns.index(name)]


def _shape(name: str, n_paths: int, n_steps: int, n_assets: int) -> tuple[int, int, int]:
    width = len(BLOCK_COLUMNS[name]) if name in BLOCK_COLUMNS else n_assets
    return (n_paths, n_steps, width)


__all__ = ["BLOCK_COLUMNS", "PER_ASSET_BLOCKS", "MarketBlocks"]
