"""A market's blocks written to Parquet a few paths at a time, so saving costs little memory beyond the arrays.

``Market.save`` used to build every file's table in full (an index column per row, a copy of each
per-path block's columns) before writing any: saving 1,000 paths of ``default`` (364 MiB of arrays)
held 338 MiB more at its peak. Here each file is written one row group at a time, a group being the
rows of a few whole paths (about ``ROWS_PER_GROUP`` rows), so what a save holds beyond the arrays is
one group's index columns and copies. The rows, columns and their order are the same as before;
only the row groups are smaller (readers do not see them).

Dictionary encoding is kept for the columns that repeat (path, timestamp, asset, counts, regimes)
and left off the floating-point ones: prices and volumes hardly ever repeat, so their dictionaries
overflowed and were dropped page by page after being built. Writing 300 paths of ``default``'s
OHLCV with zstd: 0.91 -> 0.33 s, 68.7 -> 60.5 MiB.

``Market.save`` writes every file under a temporary name and renames them all only when every one
is complete: a save that fails midway leaves the market it was replacing as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

ROWS_PER_GROUP = 1 << 18  # 262,144 rows a group: 15-20 MiB of an OHLCV group (pyarrow writes 1 << 20 by default)
COMPRESSION = "zstd"

Columns = Callable[[int, int], dict]
"""``columns(p0, p1)``: the table's columns for paths ``p0..p1 - 1``, as NumPy or Arrow arrays, in file order."""


def paths_per_group(rows_per_path: int) -> int:
    """Whole paths in one row group: about ``ROWS_PER_GROUP`` rows, at least one path."""
    return max(1, ROWS_PER_GROUP // max(rows_per_path, 1))


def write_by_paths(file: Path, n_paths: int, rows_per_path: int, columns: Columns) -> None:
    """Write ``columns`` for every path to ``file``, one row group per :func:`paths_per_group` paths.

    ``Market.save`` passes a temporary name and renames every file only when all are written, so a save
    that fails midway leaves the market it was replacing as it was (its files and manifest agree).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    step = paths_per_group(rows_per_path)
    writer = None
    try:
        for p0 in range(0, max(n_paths, 1), step):  # a market of no paths still gets its (empty) table
            group = columns(p0, min(p0 + step, n_paths))
            table = pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in group.items()})
            if writer is None:
                coded = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
                writer = pq.ParquetWriter(file, table.schema, compression=COMPRESSION, use_dictionary=coded)
            if table.num_rows:
                writer.write_table(table, row_group_size=table.num_rows)
            del group, table
    finally:
        if writer is not None:
            writer.close()


class GroupIndex:
    """The index columns of a group of whole paths (path, timestamp, and asset when per asset), built once
    for the largest group and sliced for a smaller last one.

    ``seeds`` (one per path) adds a ``seed`` column after ``path``: a market made from a batch of seeds holds path
    0 of each, so its path numbers repeat and only (seed, path) names a row (review, session 23: a two-seed save
    had 25 duplicate (path, timestamp, asset) keys)."""

    def __init__(self, calendar: np.ndarray, path_ids: np.ndarray, assets: list[str] | None, group_paths: int,
                 seeds: np.ndarray | None = None):  # fmt: skip
        import pyarrow as pa

        self.path_ids = path_ids
        self.seeds = seeds
        self.width = 1 if assets is None else len(assets)
        self.rows_per_path = len(calendar) * self.width
        per_path = np.repeat(calendar.astype("datetime64[ns]"), self.width)
        self.timestamp = np.tile(per_path, group_paths)
        self.asset = None
        if assets is not None:
            codes = np.tile(np.arange(self.width, dtype=np.int32), len(calendar) * group_paths)
            self.asset = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(assets, type=pa.string()))

    def columns(self, p0: int, p1: int) -> dict:
        rows = (p1 - p0) * self.rows_per_path
        out = {"path": np.repeat(self.path_ids[p0:p1], self.rows_per_path)}
        if self.seeds is not None:
            out["seed"] = np.repeat(self.seeds[p0:p1], self.rows_per_path)
        out["timestamp"] = self.timestamp[:rows]
        if self.asset is not None:
            out["asset"] = self.asset.slice(0, rows)
        return out


def row_groups(file: Path, columns: list[str], shape: tuple[int, ...], rows: int):
    """Yield ``(first row, {column: values})`` for each row group of ``file``, the columns decoded together.

    ``shape`` is the manifest's shape of what the columns fill and ``rows`` the rows that takes: a column
    missing, or a file with another number of rows (one that does not match its manifest), is named.
    """
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(file)
    names = parquet.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"{file}: no column {missing[0]!r} (has {sorted(names)})")
    if parquet.metadata.num_rows != rows:
        raise ValueError(f"{file}: {parquet.metadata.num_rows} rows, but the manifest's shape {tuple(shape)} "
                         f"for {columns[0]!r} needs {rows}")  # fmt: skip
    at = 0
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group, columns=columns)
        yield at, {c: table.column(c).to_numpy() for c in columns}
        at += table.num_rows


def read_arrays(file: Path, arena, arrays: dict[str, str]) -> None:
    """Fill whole arrays of ``arena`` (file column -> array name, arrays of one shape; the file's rows are
    their elements in C order), a row group at a time, written into the arena's file
    (``Arena.write_elements``), not through its mapping."""
    targets = {column: arena.arrays[name] for column, name in arrays.items()}
    shapes = {t.shape for t in targets.values()}
    if len(shapes) != 1:
        raise ValueError(f"read_arrays: the arrays of one file share a shape, got {sorted(shapes)}")
    shape = shapes.pop()
    for at, values in row_groups(file, list(arrays), shape, int(np.prod(shape, dtype=np.int64))):
        for column, name in arrays.items():
            arena.write_elements(name, at, values[column].astype(targets[column].dtype, copy=False))


def read_block(file: Path, columns: list[str], shape: tuple[int, ...], dtype) -> np.ndarray:
    """A ``(paths, steps, len(columns))`` array from one file column each (an on-chain or macro block,
    the signal windows): assembled here, then handed to the arena in one write."""
    if len(columns) != shape[-1]:
        raise ValueError(f"{file}: the manifest's shape {tuple(shape)} has {shape[-1]} columns, "
                         f"but {len(columns)} are named ({columns})")  # fmt: skip
    block = np.empty(shape, dtype)
    if not columns:
        return block
    flat = block.reshape(-1, shape[-1])
    for at, values in row_groups(file, columns, shape[:2], shape[0] * shape[1]):
        for k, column in enumerate(columns):
            flat[at : at + len(values[column]), k] = values[column]
    return block


__all__ = [
    "COMPRESSION",
    "ROWS_PER_GROUP",
    "GroupIndex",
    "paths_per_group",
    "read_arrays",
    "read_block",
    "row_groups",
    "write_by_paths",
]
