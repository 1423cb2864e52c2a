"""Real daily bars from files, checked so that a malformed file is an error that names file, row and column.

A file is CSV or Parquet with a ``date`` column (or a Parquet file's date index; ISO ``YYYY-MM-DD``, one row per
calendar day, ascending, no duplicates, no gaps) and ``open, high, low, close`` (positive, ``low <= open, close
<= high``); ``volume`` is optional (positive when present: a day without trading is not a day of these markets). Nothing is filled in silently: a
missing day is an error, not an interpolation. ``data/crypto_daily/`` ships the project's copy of
real BTC, ETH, SOL, USDT and USDC bars (sources in its ``SOURCES.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
SHIPPED_DATA = Path(__file__).resolve().parent.parent / "data" / "crypto_daily"


class RealDataError(ValueError):
    """A real-data file that cannot be used; the message names file, row (1-based, header = row 1) and column."""


def _row(i: int) -> str:
    return f"row {i + 2}"  # +1 for 1-based, +1 for the header line


def _load(p: Path, label: str) -> pd.DataFrame:
    """A CSV (every cell as text) or Parquet file's rows, as stored; ``label`` names the file in errors."""
    try:
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        raw = pd.read_csv(p, dtype=str, keep_default_na=False)
        # the header as written: pandas renames a repeated name ('close', 'close.1'), which then passed the
        # repeated-column check and kept the first close without a word (review of 2026-12-05, session 24)
        header = pd.read_csv(p, dtype=str, keep_default_na=False, header=None, nrows=1).iloc[0].tolist()
        if len(header) == raw.shape[1]:
            raw.columns = header
        return raw
    except FileNotFoundError:
        raise RealDataError(f"{label}: no such file") from None
    except (OSError, ValueError) as exc:
        raise RealDataError(f"{label}: cannot be read ({exc})") from None


def _read_table(p: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """The file's raw rows with lower-cased column names; a missing file or column is named."""
    raw = _load(p, str(p))
    if isinstance(raw.index, pd.DatetimeIndex) and "date" not in [str(c).strip().lower() for c in raw.columns]:
        # a Parquet file's date index (``df.to_parquet()`` of a yfinance-style frame), as read_close_history takes it
        raw = raw.rename_axis("date").reset_index()
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    twice = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    if twice:  # 'Close' and 'close' in one file: which is the close?
        raise RealDataError(f"{p}: column(s) {twice} given more than once (names are read without case or spaces)")
    missing = [c for c in ("date", *required) if c not in raw.columns]
    if missing:
        raise RealDataError(f"{p}: missing column(s) {missing}; found {list(raw.columns)}")
    if raw.empty:
        raise RealDataError(f"{p}: no rows")
    return raw


def _dated_frame(raw: pd.DataFrame, p: Path) -> pd.DataFrame:
    """The rows' calendar days. A Parquet file may store timestamps: one with a time zone or a time of day is
    refused, as a CSV's text must be a bare date. Kept, a bar stamped 23:59:59 sat a day ahead of another file's
    bar dated at midnight (the gap check counts whole days), and zones made tracebacks downstream (review)."""
    try:
        dates = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    except (TypeError, ValueError) as exc:  # mixed zones in one column
        raise RealDataError(f"{p}: column date: not calendar dates ({exc})") from None
    if dates.dt.tz is not None:
        raise RealDataError(f"{p}: column date: dates carry a time zone ({dates.dt.tz}); daily bars are dated by "
                            "calendar day: store the dates without one")  # fmt: skip
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        raise RealDataError(f"{p}: {_row(bad[0])}, column date: {raw['date'].iloc[bad[0]]!r} is not a YYYY-MM-DD date")
    timed = np.flatnonzero((dates != dates.dt.normalize()).to_numpy())
    if timed.size:
        raise RealDataError(f"{p}: {_row(timed[0])}, column date: {dates.iloc[timed[0]]} has a time of day; daily "
                            "bars are dated by calendar day (00:00)")  # fmt: skip
    return pd.DataFrame(index=pd.DatetimeIndex(dates, name="date"))


#: Bounds of a yearly rate given as a fraction (``_numeric``'s ``floor``): the policy rate, and inflation (deflation
#: allowed), as the simulator writes them (0.0525 a year, not 5.25).
RATE_BOUNDS = {"rate in [0, 1]": 0.0, "rate in [-1, 1]": -1.0}


def _numeric(raw: pd.DataFrame, col: str, p: Path, floor: str | None, rates_in: str = "fraction") -> np.ndarray:
    """Column ``col`` as finite floats; ``floor`` is ``"> 0"``, ``">= 0"``, a key of :data:`RATE_BOUNDS` or None (any
    finite value). ``rates_in="percent"``: a rate column is written in percent (FRED's 5.33) and divided by 100."""
    values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise RealDataError(f"{p}: {_row(bad[0])}, column {col}: {raw[col].iloc[bad[0]]!r} is not a finite number")
    if floor in RATE_BOUNDS:  # a rate as a fraction a year: FRED's percent (5.33) read as 533 % a year (review)
        scale = 100.0 if rates_in == "percent" else 1.0
        low = RATE_BOUNDS[floor]
        out = np.flatnonzero((values < low * scale) | (values > scale))
        if out.size:
            unit = (f"in percent in [{low * scale:g}, {scale:g}] (--rates-in percent)" if scale != 1.0 else
                    f"as a fraction in [{low:g}, 1] (0.0533 for 5.33 %; a file in percent: --rates-in percent)")  # fmt: skip
            raise RealDataError(f"{p}: {_row(out[0])}, column {col}: {values[out[0]]:g} must be a yearly rate {unit}")
        values = values / scale
    elif floor is not None:
        floor_bad = np.flatnonzero(values < 0) if floor == ">= 0" else np.flatnonzero(values <= 0)
        if floor_bad.size:
            raise RealDataError(f"{p}: {_row(floor_bad[0])}, column {col}: {values[floor_bad[0]]:g} must be {floor}")
    return values


def read_daily_bars(path: str | Path) -> pd.DataFrame:
    """One asset's daily bars: a frame with a daily ``DatetimeIndex`` named ``date``, columns open..volume."""
    p = Path(path)
    raw = _read_table(p, PRICE_COLUMNS)
    frame = _dated_frame(raw, p)
    for col in (*PRICE_COLUMNS, "volume"):
        if col in raw.columns:
            # a volume of 0 (how exports write a missing day) made the next open's fill pay the 50 % slippage cap on a
            # flat market (review of 2026-12-05, session 19): refused by name, as a made-up volume would be
            frame[col] = _numeric(raw, col, p, "> 0")
    inconsistent = np.flatnonzero(
        (frame["low"] > frame[["open", "close"]].min(axis=1)) | (frame["high"] < frame[["open", "close"]].max(axis=1))
        | (frame["low"] > frame["high"])
    )  # fmt: skip
    if inconsistent.size:
        i = inconsistent[0]
        r = frame.iloc[i]
        which = "high" if r["high"] < max(r["open"], r["close"], r["low"]) else "low"
        raise RealDataError(
            f"{p}: {_row(i)}, column {which}: low {r['low']:g} <= open {r['open']:g}, close {r['close']:g} "
            f"<= high {r['high']:g} does not hold"
        )
    check_daily_dates(frame.index, p)
    return frame


def check_daily_dates(dates: pd.DatetimeIndex, p: Path) -> None:
    """One row per calendar day, ascending, no duplicates, no gaps; else a :class:`RealDataError` naming the row."""

    row = _row
    step = np.diff(dates.values).astype("timedelta64[D]").astype(int)
    dup = np.flatnonzero(step == 0)
    if dup.size:
        raise RealDataError(f"{p}: {row(dup[0] + 1)}, column date: {dates[dup[0] + 1].date()} appears twice")
    back = np.flatnonzero(step < 0)
    if back.size:
        raise RealDataError(f"{p}: {row(back[0] + 1)}, column date: dates must ascend ({dates[back[0] + 1].date()})")
    gap = np.flatnonzero(step > 1)
    if gap.size:
        i = gap[0]
        raise RealDataError(
            f"{p}: {row(i + 1)}, column date: {step[i] - 1} day(s) missing between {dates[i].date()} and "
            f"{dates[i + 1].date()} (no silent fill)"
        )


def read_daily_series(path: str | Path, known: tuple[str, ...], floors: dict[str, str],
                      rates_in: str = "fraction") -> pd.DataFrame:  # fmt: skip
    """A file of market-wide daily series (on-chain or macro): ``date`` and any subset of ``known``.

    Columns outside ``known`` are refused by name (a typo would otherwise drop data silently);
    ``floors`` gives the bound a column must respect (``"> 0"``, ``">= 0"``, a rate's range). Dates are checked like
    bars (one row per calendar day, no gaps). ``rates_in``: the rate columns' unit, ``"fraction"`` (0.0533) or
    ``"percent"`` (5.33, FRED's), returned as fractions either way.
    """
    p = Path(path)
    raw = _read_table(p, ())
    unknown = [c for c in raw.columns if c != "date" and c not in known]
    if unknown:
        raise RealDataError(f"{p}: unknown column(s) {unknown}; this file may hold {list(known)}")
    present = [c for c in known if c in raw.columns]
    if not present:
        raise RealDataError(f"{p}: no data column; expected some of {list(known)}")
    frame = _dated_frame(raw, p)
    for col in present:
        frame[col] = _numeric(raw, col, p, floors.get(col), rates_in)
    check_daily_dates(frame.index, p)
    return frame


def read_close_history(path: str | Path, assets: list[str]) -> pd.DataFrame:
    """A warm-start history file: a ``date`` column (or a Parquet file's date index) and a close column per asset
    (names as given, case kept), checked as bar files are: calendar days, one a day, ascending, no gap, closes
    finite and > 0. Read unchecked until 2026-12-05: descending dates put the 'latest' bar first, and duplicated
    or missing days went into a live run's history (review)."""
    p = Path(path)
    raw = _load(p, f"history file {p}")
    if "date" not in raw.columns and isinstance(raw.index, pd.DatetimeIndex):  # a Parquet file's date index
        raw = raw.rename_axis("date").reset_index()
    missing = [c for c in ("date", *assets) if c not in raw.columns]
    if missing:
        raise RealDataError(f"history file {p}: no column for {missing}; found {list(raw.columns)}")
    if raw.empty:
        raise RealDataError(f"history file {p}: no rows")
    frame = _dated_frame(raw, p)
    for asset in assets:
        frame[asset] = _numeric(raw, asset, p, "> 0")
    check_daily_dates(frame.index, p)
    return frame


def assets_of(paths: list[Path]) -> list[str]:
    """Each file's asset, its name without the suffix; two files of one asset are refused (kept, the last silently
    replaced the first: ``facts compare`` and ``scenarios fit`` reported ETH's prices as BTC's; review)."""
    assets = [p.stem for p in paths]
    dupes = sorted({a for a in assets if assets.count(a) > 1})
    if dupes:
        raise RealDataError(f"asset(s) {dupes} given by more than one file: {[str(p) for p in paths]}")
    return assets


def read_closes(paths: list[str | Path]) -> pd.DataFrame:
    """Daily closes of several files, one column per asset (the file's stem), outer-joined on the date.

    Assets that start later are NaN before their first bar (each fact uses the dates its asset or
    pair has, as ``FACTS.md`` does).
    """
    files = [Path(p) for p in paths]
    closes = {asset: read_daily_bars(p)["close"] for asset, p in zip(assets_of(files), files, strict=True)}
    if not closes:
        raise RealDataError("no files given")
    return pd.DataFrame(closes).sort_index()


__all__ = [
    "RealDataError",
    "SHIPPED_DATA",
    "assets_of",
    "check_daily_dates",
    "read_closes",
    "read_daily_bars",
    "read_daily_series",
]
