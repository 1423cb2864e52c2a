"""Sharpe intervals for a market that is one path (a real series), from its days: a stationary bootstrap.

Over simulated seeds an interval comes from the spread over paths; a real market has one path, so its
interval has to come from the days. Lo's (2002) interval, used until 2026-12-05, takes the daily returns
as independent: for a book of stablecoins, whose daily returns mean-revert (lag-1 autocorrelation about
-0.45), it was about eight times too wide (the real series' hold: [-0.99, 1.00] against [-0.11, 0.14]),
and where volatility clusters it is too narrow. The stationary bootstrap (Politis & Romano 1994)
resamples blocks of consecutive days of random length, so it keeps the returns' dependence; the mean
block length is Politis & White's (2004) automatic choice (with Patton, Politis & White's 2009
correction, as ``arch`` computes it), the largest over the series resampled.

Every strategy ran on the same days, so two strategies' returns are resampled together, the same days
in each draw: the interval of their Sharpe difference is paired, the market's luck cancelling as it does
over common seeds (a comparison of the two intervals, used before, is the weaker test). Seeded, so the
same returns give the same interval.
"""

from __future__ import annotations

import math

import numpy as np

from prometheus_sim.metrics import sharpe, twr_returns

BOOTSTRAP_REPS = 2000
MIN_DAYS = 30  # fewer days than this: no interval (the block length's estimate needs more lags than days)
BOOTSTRAP_SEED = 0


def returns_from_growth(growth: np.ndarray) -> np.ndarray:
    """Daily returns of a time-weighted growth index that starts from 1 before its first day (``equity/``'s
    curves: the sweep drops that leading 1): :func:`~prometheus_sim.metrics.twr_returns` of the curve with no
    deposits, so a book worth nothing has returns 0 after it, as the metrics count them."""
    g = np.asarray(growth, dtype=float)[None, :]
    return twr_returns(g, np.zeros_like(g), np.ones(1))[0]


def block_length(*series: np.ndarray) -> float:
    """The mean block length for resampling ``series`` together: the largest of their automatic choices, at least 1."""
    from arch.bootstrap import optimal_block_length

    lengths = [float(optimal_block_length(s)["stationary"].iloc[0]) for s in series if np.std(s) > 0.0]
    return max([1.0, *(x for x in lengths if math.isfinite(x))])


def _interval(statistic, series: tuple[np.ndarray, ...], level: float) -> tuple[float, float]:
    from arch.bootstrap import StationaryBootstrap

    n = {len(s) for s in series}
    if len(n) != 1 or n.pop() < MIN_DAYS or not all(np.isfinite(s).all() for s in series):
        return math.nan, math.nan
    boot = StationaryBootstrap(block_length(*series), *series, seed=np.random.default_rng(BOOTSTRAP_SEED))
    draws = boot.apply(statistic, reps=BOOTSTRAP_REPS)[:, 0]
    draws = draws[np.isfinite(draws)]
    if len(draws) < BOOTSTRAP_REPS // 2:  # most draws without a Sharpe (flat returns): no interval
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    return float(low), float(high)


def sharpe_interval(returns: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of one strategy's annualised Sharpe ratio over its days."""
    return _interval(lambda r: np.atleast_1d(sharpe(r)), (np.asarray(returns, dtype=float),), level)


def sharpe_difference_interval(
    returns_a: np.ndarray, returns_b: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of Sharpe(a) - Sharpe(b), both resampled on the same days."""
    a, b = np.asarray(returns_a, dtype=float), np.asarray(returns_b, dtype=float)
    return _interval(lambda x, y: np.atleast_1d(sharpe(x) - sharpe(y)), (a, b), level)
