"""Stylised facts of simulated prices, per asset and path, summarised over paths.

These are the checks a quant runs on real crypto data before trusting a simulator: fat tails
(excess kurtosis), volatility clustering (autocorrelation of squared returns), realistic annual
volatility, cross-asset correlation and drawdowns. All are computed on *daily* log returns.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from prometheus_sim.market import Market

ACF_LAGS = 10
FACTS_MIN_DAYS = ACF_LAGS + 3
"""Days below which some facts cannot be computed (the lag-10 autocorrelations need 12 returns; a shorter market's
facts are NaN where they cannot be, and say so, rather than NumPy's warnings)."""
QUANTILES = {"median": 0.5, "p05": 0.05, "p95": 0.95}


def daily_closes(market: Market) -> np.ndarray:
    """Closes at each day's last step: ndarray of shape (paths, days, assets)."""
    spd = market.steps_per_day
    return market.close[:, spd - 1 :: spd, :]


def daily_log_returns(market: Market) -> np.ndarray:
    """ndarray of shape (paths, days - 1, assets)."""
    return log_returns(daily_closes(market))


def log_returns(closes: np.ndarray) -> np.ndarray:
    """Log returns along axis 1: (paths, n, ...) -> (paths, n - 1, ...)."""
    return np.diff(np.log(closes), axis=1)


def excess_kurtosis(returns: np.ndarray) -> np.ndarray:
    """Excess kurtosis along axis 1. returns : ndarray of shape (paths, n, ...)."""
    centred = returns - returns.mean(axis=1, keepdims=True)
    var = (centred**2).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (centred**4).mean(axis=1) / var**2 - 3.0


def squared_return_acf(returns: np.ndarray, lags: int = ACF_LAGS) -> np.ndarray:
    """Autocorrelation of squared returns at lags 1..lags: shape (paths, lags, ...)."""
    return series_acf(returns**2, lags)


def abs_return_acf(returns: np.ndarray, lags: int = ACF_LAGS) -> np.ndarray:
    """Autocorrelation of absolute returns at lags 1..lags: shape (paths, lags, ...)."""
    return series_acf(np.abs(returns), lags)


def series_acf(x: np.ndarray, lags: int = ACF_LAGS) -> np.ndarray:
    """Sample ACF along axis 1 (the statsmodels convention FACTS.md uses: full-sample mean and denominator)."""
    sq = x - x.mean(axis=1, keepdims=True)
    denom = (sq**2).sum(axis=1)
    out = np.empty((sq.shape[0], lags) + sq.shape[2:])
    with np.errstate(invalid="ignore", divide="ignore"):
        for lag in range(1, lags + 1):
            out[:, lag - 1] = (sq[:, lag:] * sq[:, :-lag]).sum(axis=1) / denom
    return out


def max_drawdown(prices: np.ndarray) -> np.ndarray:
    """Largest peak-to-trough fall along axis 1, as a positive fraction. prices: (paths, n, ...)."""
    peak = np.maximum.accumulate(prices, axis=1)
    return (1.0 - prices / peak).max(axis=1)


def pair_correlations(returns: np.ndarray) -> np.ndarray:
    """Per-path correlation matrices: returns (paths, n, A) -> (paths, A, A)."""
    centred = returns - returns.mean(axis=1, keepdims=True)
    cov = np.einsum("pta,ptb->pab", centred, centred)
    sd = np.sqrt(np.einsum("paa->pa", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[:, :, None] * sd[:, None, :])


def stylised_facts(market: Market) -> pd.DataFrame:
    """One row per (asset, fact); columns ``median, p05, p95`` over paths.

    Facts: ``annual_vol`` (std of daily log returns, ddof 1, x sqrt 365), ``excess_kurtosis``,
    ``sq_return_acf_lag1`` and ``sq_return_acf_lag10``, ``sq_return_acf_min_1_10`` (the smallest
    of lags 1..10, positive when clustering persists), ``abs_return_acf_lag1`` and
    ``abs_return_acf_lag10`` (of absolute returns), ``mean_corr_to_others`` and
    ``max_drawdown``.
    """
    return _facts_frame(market, _per_path_facts(market))


def stylised_facts_and_correlation(market: Market) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`stylised_facts` and :func:`correlation_table` from one pass over the paths (what ``simulate`` writes)."""
    per_path = _per_path_facts(market)
    corr = pd.DataFrame(_median_over_paths(per_path["corr"]), index=market.assets, columns=market.assets)
    return _facts_frame(market, per_path), corr


def _median_over_paths(values: np.ndarray) -> np.ndarray:
    """Median over paths, ignoring NaN; NaN (without NumPy's all-NaN warning) where no path has a figure."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=0)


def _facts_frame(market: Market, per_path: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for a, asset in enumerate(market.assets):
        for fact, values in per_path.items():
            if fact == "corr":
                continue
            col = values[:, a]
            row = {"asset": asset, "fact": fact}
            for label, q in QUANTILES.items():
                row[label] = float(np.nanquantile(col, q)) if np.isfinite(col).any() else float("nan")
            rows.append(row)
    return pd.DataFrame(rows).set_index(["asset", "fact"])


def correlation_table(market: Market) -> pd.DataFrame:
    """Median over paths of each pair's daily-return correlation, as an asset x asset frame."""
    per_path = np.concatenate([pair_correlations(log_returns(c)) for c in _daily_close_chunks(market)])
    return pd.DataFrame(_median_over_paths(per_path), index=market.assets, columns=market.assets)


FACT_CHUNK_PATHS = 64
"""Paths whose facts are computed together: each fact is one path's, so the figures do not depend on it, and
the temporaries (returns, squares, centred copies: about six times the closes) stay those of a chunk
(1,000 paths of ``default`` took 230 MiB above the market's arrays when all were computed at once)."""
FACT_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
"""Threads for the facts: the CPUs this process may use, at most four (each holds a chunk's temporaries)."""


def _per_path_facts(market: Market) -> dict[str, np.ndarray]:
    """Every per-path fact of every path, chunks of paths computed on threads (NumPy's loops run without
    the GIL; each chunk's figures are its own paths', so neither the threads nor the chunks change them)."""
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=FACT_THREADS) as pool:
        # too few days for a fact makes it NaN (FACTS_MIN_DAYS), which is the answer: NumPy's warnings about the
        # empty or degenerate windows behind it (degrees of freedom, 0/0, all-NaN slices) say nothing more
        warnings.simplefilter("ignore", RuntimeWarning)
        chunks = list(pool.map(_path_facts, _daily_close_chunks(market)))
    return {fact: np.concatenate([c[fact] for c in chunks]) for fact in chunks[0]}


def _daily_close_chunks(market: Market):
    closes = daily_closes(market)
    for p0 in range(0, max(closes.shape[0], 1), FACT_CHUNK_PATHS):  # a market of no paths: one empty chunk
        yield closes[p0 : p0 + FACT_CHUNK_PATHS]


def _path_facts(closes: np.ndarray) -> dict[str, np.ndarray]:
    """Every per-path fact of some paths' daily closes (paths, days, assets): (paths, assets) each."""
    with np.errstate(invalid="ignore", divide="ignore"):  # per thread: see _per_path_facts
        return _path_facts_of(closes)


def _path_facts_of(closes: np.ndarray) -> dict[str, np.ndarray]:
    rets = log_returns(closes)
    n_assets = rets.shape[2]
    acf = squared_return_acf(rets)
    abs_acf = abs_return_acf(rets)
    corr = pair_correlations(rets)
    off_diag = ~np.eye(n_assets, dtype=bool)
    mean_corr = (
        np.where(off_diag[None], corr, 0.0).sum(axis=2) / max(n_assets - 1, 1)
        if n_assets > 1
        else np.full((rets.shape[0], 1), np.nan)
    )
    return {
        "annual_vol": rets.std(axis=1, ddof=1) * np.sqrt(365.0),  # as FACTS.md and facts_compare define it
        "excess_kurtosis": excess_kurtosis(rets),
        "sq_return_acf_lag1": acf[:, 0],
        "sq_return_acf_lag10": acf[:, ACF_LAGS - 1],
        "sq_return_acf_min_1_10": acf.min(axis=1),
        "abs_return_acf_lag1": abs_acf[:, 0],
        "abs_return_acf_lag10": abs_acf[:, ACF_LAGS - 1],
        "mean_corr_to_others": mean_corr,
        "max_drawdown": max_drawdown(closes),
        "corr": corr,
    }
