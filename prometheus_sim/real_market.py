"""A :class:`~prometheus_sim.market.Market` from real daily files: one path, no truth.

What a user backtests on when the question is "what would this have done on the real market":
the same strategies, venue, sweep, lookahead check and report as on a simulated market.

Rules (stated here once, printed by ``prometheus-sim market import`` and kept in the manifest):

* **Bars**: one file per asset (CSV or Parquet, named after the asset: ``BTC.csv`` is ``BTC``) with
  ``date, open, high, low, close, volume``, checked by :func:`prometheus_sim.real.read_daily_bars`.
  ``volume`` is required here: the simulated venue's fills read the previous bar's volume for
  market impact, and a made-up volume would be a silent fill. The market holds volume in units of
  the asset (as the simulator does); ``volume_in="quote"`` (the default: Yahoo-style exports, the
  shipped ``data/crypto_daily``, give USD volume) divides each bar's volume by its close,
  ``"units"`` takes it as it is.
* **Calendar**: the days every asset file has. Each file is gap-free, so that is one run of days
  from the latest first date to the earliest last date (with BTC, ETH, SOL, USDT and USDC:
  SOL's first day, 2020-04-10, to 2024-02-13). ``start``/``end`` narrow it further. Nothing is
  forward-filled or back-filled.
* **On-chain and macro** (optional): a file each with ``date`` and any subset of the block's
  columns (``ONCHAIN_COLUMNS``, ``MACRO_COLUMNS``); it must cover every day of the calendar (a
  missing day is an error naming the date). A block or column that no file gives is *absent*:
  NaN in the arrays (never zeros) and listed in ``Market.absent``; reading it by name raises
  :class:`~prometheus_sim.blocks.MissingDataError`.
* **Kinds**: an asset named like a stablecoin (USDT, USDC, DAI, ...) is ``stable`` (the venue
  holds cash in one), anything else ``crypto``; ``kinds`` overrides either.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from prometheus_sim.blocks import BLOCK_COLUMNS, MarketBlocks
from prometheus_sim.market import Market
from prometheus_sim.real import RealDataError, assets_of, read_daily_bars, read_daily_series
from prometheus_sim.scenario import MACRO_COLUMNS, ONCHAIN_COLUMNS

STABLECOIN_NAMES = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "FDUSD", "PYUSD", "GUSD", "FRAX", "LUSD"})
ASSET_KINDS = ("crypto", "stable", "equity", "bond")
VOLUME_UNITS = ("quote", "units")
RATE_UNITS = ("fraction", "percent")
CALENDAR_RULE = (
    "the days every asset file has (latest first date .. earliest last date; each file is gap-free), "
    "narrowed by --from/--to; nothing filled"
)
#: Bounds each on-chain / macro column must respect (others: any finite value).
SERIES_FLOORS = {
    "whale_transactions": ">= 0",
    "active_addresses": ">= 0",
    "exchange_inflow": ">= 0",
    "exchange_outflow": ">= 0",
    "inflation_rate": "rate in [-1, 1]",  # yearly rates as fractions, as the simulator's (0.0525, not 5.25)
    "fed_rate": "rate in [0, 1]",
    "dxy_index": "> 0",
}


def default_kind(asset: str) -> str:
    """``stable`` for a stablecoin's ticker, else ``crypto``; a quote suffix is ignored (``USDT-USD``, as Yahoo names
    the files, was fitted as a crypto asset with GARCH alpha 0.999: review of 2026-12-05)."""
    return "stable" if asset.upper().split("-")[0] in STABLECOIN_NAMES else "crypto"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_day(text: str | None, option: str) -> pd.Timestamp | None:
    """``text`` as a day, or a RealDataError naming ``option`` (the flag the user typed)."""
    if text is None:
        return None
    # YYYY-MM-DD only: pandas also reads "today", "now", "2024", "20240101", "" and "NaT" (no date: tracebacks
    # later) and times with a zone (which the markets' naive calendars cannot be compared with), review of 2026-12-04
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):  # ASCII digits: \d takes other scripts' too
        raise RealDataError(f"{option}: {text!r} is not a date (YYYY-MM-DD)")
    try:
        return pd.Timestamp(text.strip())
    except ValueError:
        raise RealDataError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def import_market(
    files: list[str | Path],
    *,
    onchain: str | Path | None = None,
    macro: str | Path | None = None,
    start: str | None = None,
    end: str | None = None,
    kinds: dict[str, str] | None = None,
    name: str = "real",
    volume_in: str = "quote",
    rates_in: str = "fraction",
) -> Market:
    """Build a one-path real market from bar files (see the module's rules); errors name file, row and column.

    ``rates_in``: the macro file's ``inflation_rate`` and ``fed_rate`` unit, ``"fraction"`` (0.0533, as the simulator
    writes them) or ``"percent"`` (5.33, FRED's). The bounds check catches percent read as a fraction only above 1 %:
    FRED's 0.05-0.33 of 2020-2022 pass as 5-33 % a year (review of 2026-12-05, session 24), so say the unit."""
    paths = [Path(f) for f in files]
    if not paths:
        raise RealDataError("no bar files given")
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", name):
        # it names result files (a backtest's cells, its plots): 'a/b' ended a finished sweep in a traceback (review)
        raise RealDataError(f"name: {name!r} must be a letter or digit, then up to 63 letters, digits, '_', '.' or '-' "
                            "(it names result files: no '/')")  # fmt: skip
    if volume_in not in VOLUME_UNITS:
        raise RealDataError(f"volume_in: {volume_in!r} is not one of {list(VOLUME_UNITS)}")
    if rates_in not in RATE_UNITS:
        raise RealDataError(f"rates_in: {rates_in!r} is not one of {list(RATE_UNITS)}")
    assets = assets_of(paths)
    kinds = dict(kinds or {})
    unknown = sorted(set(kinds) - set(assets))
    if unknown:
        raise RealDataError(f"kinds: {unknown} are not among the assets {assets}")
    bad_kind = {a: k for a, k in kinds.items() if k not in ASSET_KINDS}
    if bad_kind:
        raise RealDataError(f"kinds: {bad_kind} not in {list(ASSET_KINDS)}")

    bars = {}
    for p in paths:
        frame = read_daily_bars(p)
        if "volume" not in frame.columns:
            raise RealDataError(
                f"{p}: missing column 'volume': the venue's fills read the previous bar's volume for market impact"
            )
        if volume_in == "quote":
            frame["volume"] = frame["volume"] / frame["close"]
        bars[p.stem] = frame
    first = max(f.index[0] for f in bars.values())
    last = min(f.index[-1] for f in bars.values())
    lo, hi = parse_day(start, "--from"), parse_day(end, "--to")
    first = max(first, lo) if lo is not None else first
    last = min(last, hi) if hi is not None else last
    if last - first < pd.Timedelta(days=1):
        spans = {a: f"{f.index[0].date()}..{f.index[-1].date()}" for a, f in bars.items()}
        raise RealDataError(f"the files share fewer than 2 days in the window {start or ''}..{end or ''}: {spans}")
    calendar = pd.date_range(first, last, freq="D")
    n_steps = len(calendar)

    per_asset = {
        col: np.stack([bars[a][col].loc[first:last].to_numpy() for a in assets], axis=-1)[None]
        for col in ("open", "high", "low", "close", "volume")
    }
    absent: list[str] = []
    block_arrays = {}
    sources = {}
    for block, file, columns in (("onchain", onchain, ONCHAIN_COLUMNS), ("macro", macro, MACRO_COLUMNS)):
        arr = np.full((1, n_steps, len(columns)), np.nan)
        if file is None:
            absent.append(block)
        else:
            fp = Path(file)
            series = read_daily_series(fp, columns, SERIES_FLOORS, rates_in if block == "macro" else "fraction")
            missing_days = calendar.difference(series.index)
            if len(missing_days):
                raise RealDataError(
                    f"{fp}: column date: {len(missing_days)} day(s) of the market's calendar missing, first "
                    f"{missing_days[0].date()} (calendar {first.date()}..{last.date()}; no silent fill)"
                )
            for c, col in enumerate(columns):
                if col in series.columns:
                    arr[0, :, c] = series[col].loc[first:last].to_numpy()
                else:
                    absent.append(f"{block}.{col}")
            sources[block] = {"file": str(fp), "sha256": _sha256(fp), "columns": list(series.columns),
                              **({"rates_in": rates_in} if block == "macro" else {})}  # fmt: skip
        block_arrays[block] = arr
    assert set(block_arrays) == set(BLOCK_COLUMNS)
    blocks = MarketBlocks(**{k: np.ascontiguousarray(v) for k, v in per_asset.items()}, **block_arrays)
    source = {
        "kind": "real daily files",
        "bars": [
            {"asset": a, "file": str(p), "sha256": _sha256(p), "first": str(bars[a].index[0].date()),
             "last": str(bars[a].index[-1].date())}
            for a, p in zip(assets, paths, strict=True)
        ],
        **sources,
        "calendar_rule": CALENDAR_RULE,
        "volume_in": volume_in,
        "window": [str(first.date()), str(last.date())],
    }  # fmt: skip
    asset_kinds = [kinds.get(a, default_kind(a)) for a in assets]
    return Market.from_bars(name, assets, asset_kinds, calendar, blocks, source, tuple(absent))


__all__ = [
    "RATE_UNITS",
    "VOLUME_UNITS",
    "ASSET_KINDS",
    "CALENDAR_RULE",
    "STABLECOIN_NAMES",
    "default_kind",
    "import_market",
    "parse_day",
]
