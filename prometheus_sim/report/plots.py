"""The report's per-scenario plots: equity and drawdown bands over seeds, one line per strategy.

Each strategy is drawn as the median over the plotted seeds with a shaded 5-95 % band, so a
reader sees both the typical path and how widely seeds disagree. Matplotlib is imported inside
the functions: importing :mod:`prometheus_sim` must stay light.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

BAND = (5.0, 95.0)
FIGSIZE = (9.0, 4.5)
DPI = 100


def equity_bands(equity: pd.DataFrame, initial_value: float) -> pd.DataFrame:
    """Median and 5-95 % band over seeds (columns) of equity / ``initial_value``.

    Dividing by the initial value (not the first close) keeps day 0's move visible and puts every
    strategy on the same 1.0 start.
    """
    return _bands(equity.to_numpy(dtype=float) / float(initial_value), equity.index)


def drawdown_bands(equity: pd.DataFrame) -> pd.DataFrame:
    """Median and 5-95 % band over seeds of the drawdown curve 1 - equity / running peak.

    Like the ``max_drawdown`` metric (a positive fraction), per day instead of the max; the
    curve's running peak starts at the first close, the metric's at the initial value.
    """
    values = equity.to_numpy(dtype=float)
    peak = np.maximum.accumulate(values, axis=0)
    return _bands(1.0 - values / peak, equity.index)


def _bands(values: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Quantiles across columns (seeds) for each row (day)."""
    lo, med, hi = np.percentile(values, [BAND[0], 50.0, BAND[1]], axis=1)
    return pd.DataFrame({"low": lo, "median": med, "high": hi}, index=index)


PALETTE = [f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")]
LINE_STYLES = ("-", "--", ":", "-.")


def strategy_colours(strategies: list[str]) -> dict[str, str]:
    """A fixed colour per strategy (sorted order), so the same strategy looks alike in every plot. A cost sweep's
    cells (``name [fees ...]``) share their strategy's colour and differ by line style (:func:`strategy_styles`): one
    colour per cell repeated after ten, and a 12-line legend showed two strategies in one colour (review of
    2026-12-05, session 19)."""
    bases = sorted({s.split(" [")[0] for s in strategies})
    return {s: PALETTE[bases.index(s.split(" [")[0]) % len(PALETTE)] for s in strategies}


def strategy_styles(strategies: list[str]) -> dict[str, str]:
    """A line style per cost setting of a cost sweep (in sorted order), the same for every strategy; solid otherwise.
    Past ten strategies the colours repeat, and the styles tell those apart too."""
    costs = sorted({s.partition(" [")[2] for s in strategies})
    bases = sorted({s.split(" [")[0] for s in strategies})
    out = {}
    for s in strategies:
        k = costs.index(s.partition(" [")[2]) + bases.index(s.split(" [")[0]) // len(PALETTE)
        out[s] = LINE_STYLES[k % len(LINE_STYLES)]
    return out


def plot_equity(curves: Mapping[str, pd.DataFrame], initial_value: float, title: str, out_file: str | Path,
                every: list[str] | None = None) -> Path:  # fmt: skip
    """Equity / initial value per strategy (median and 5-95 % band over seeds) -> PNG file. ``every``: all the run's
    strategies, which fix the colours (default: those in ``curves``)."""
    bands = {name: equity_bands(frame, initial_value) for name, frame in curves.items()}
    return _plot_bands(bands, title, "growth of 1, time-weighted (log scale)", out_file, percent=False, baseline=1.0,
                       log=True, every=every, seeds={n: f.shape[1] for n, f in curves.items()})  # fmt: skip


def plot_drawdown(curves: Mapping[str, pd.DataFrame], title: str, out_file: str | Path,
                  every: list[str] | None = None) -> Path:  # fmt: skip
    """Drawdown per strategy (median and 5-95 % band over seeds), drawn downwards -> PNG file."""
    bands = {name: -drawdown_bands(frame) for name, frame in curves.items()}
    return _plot_bands(bands, title, "drawdown from running peak", out_file, percent=True, baseline=0.0, every=every,
                       seeds={n: f.shape[1] for n, f in curves.items()})  # fmt: skip


def _plot_bands(
    bands: Mapping[str, pd.DataFrame],
    title: str,
    ylabel: str,
    out_file: str | Path,
    *,
    percent: bool,
    baseline: float,
    log: bool = False,
    every: list[str] | None = None,
    seeds: Mapping[str, int] | None = None,
) -> Path:
    """Draw each strategy's median line over its shaded band; save without a version stamp."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    # colours and styles from every strategy of the run: from this plot's alone, a strategy whose cells failed on one
    # scenario shifted the others' colours between that scenario's plots and the rest (review of 2026-12-05)
    palette_of = sorted(set(every or []) | set(bands))
    colours, styles = strategy_colours(palette_of), strategy_styles(palette_of)
    counts = dict(seeds or {})
    uneven = len(set(counts.values())) > 1  # a line over fewer seeds than the others says so in the legend
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    ax.axhline(baseline, color="black", lw=0.8, alpha=0.6)
    for name in sorted(bands):
        b = bands[name]
        ax.fill_between(b.index, b["low"], b["high"], color=colours[name], alpha=0.10, lw=0)
        for edge in ("low", "high"):  # edges keep overlapping bands tellable apart
            ax.plot(b.index, b[edge], color=colours[name], lw=0.5, ls=styles[name], alpha=0.5)
        over = f", {counts[name]} seeds" if uneven and name in counts else ""
        ax.plot(b.index, b["median"], color=colours[name], lw=1.6, ls=styles[name], label=f"{name} (median{over})")
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    # growth compounds: a log axis keeps a 5-95 % band of 0.5x..8x readable
    if log and all((b[["low", "median", "high"]].to_numpy() > 0).all() for b in bands.values()):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, title=f"shaded: {BAND[0]:.0f}-{BAND[1]:.0f} % of seeds", title_fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, metadata={"Software": None})
    plt.close(fig)
    return out
