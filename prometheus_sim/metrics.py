"""Performance and forecast metrics: free functions on arrays, each with its definition in words.

Every function takes arrays shaped ``(n_paths, n_periods)`` (or ``(n_periods,)``) and reduces the
last axis. Annualisation uses a 365-day calendar (crypto trades every day). ``DEFINITIONS`` holds
the sentence the report prints for each metric, so what is measured is always written beside it.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 365

DEFINITIONS: dict[str, str] = {
    "daily_return": "time-weighted: (value at the day's close - contributions that landed that day) / value at "
    "the previous close - 1; the first day's base is the initial value. Contributions are never gains.",
    "total_return": "product of (1 + daily return) - 1 (equals final / initial - 1 without contributions).",
    "annual_return": "(1 + total_return) ** (365 / days) - 1: the geometric annualised return.",
    "annual_vol": "std of daily returns x sqrt(365).",
    "sharpe_excess": "the Sharpe ratio of daily returns in excess of the scenario's policy rate (fed_rate / 365 "
    "each day, from the market's macro block), x sqrt(365): what cash at the policy rate would have earned is "
    "not counted as skill.",
    "sharpe": "mean / std of daily returns x sqrt(365); risk-free rate 0. 0 for a flat curve; undefined (NaN) for a "
    "riskless curve that gains or loses (std 0 or float noise, below 1e-9 x |mean|) and for fewer than 2 returns.",
    "sortino": "mean daily return / downside deviation (root mean square of min(r, 0)) x sqrt(365); undefined (NaN) "
    "with no downside and a non-zero mean.",
    "max_drawdown": "largest peak-to-trough fall of the time-weighted growth index, as a positive fraction.",
    "calmar": "annual_return / max_drawdown.",
    "turnover": "notional traded / mean equity, per year.",
    "fees_paid": "fees paid over the run, as a fraction of the money put in (initial value + contributions).",
    "psr": "probabilistic Sharpe ratio (Bailey & Lopez de Prado, 2012): P(true daily Sharpe > 0) "
    "given the sample's length, skew and kurtosis.",
    "win_rate": "share of non-HOLD recommendations whose traded portfolio, win_horizon_days (7 by default) "
    "later, is worth more than the same portfolio left untouched (HOLD from the same state); fees and "
    "slippage included. A non-HOLD decision that traded nothing (a sell from an all-cash book) is not scored "
    "(n_scored counts those that were); the acceptance row is the mean of the cells' rates.",
    "mae_pct": "mean |forecast - actual price| / last close x 100: the mean absolute error as a percentage of the "
    "price, over forecasts 1 to 7 days ahead.",
    "mape": "mean of |forecast - actual| / |actual| x 100: the mean absolute percentage error.",
    "rmse": "sqrt(mean (forecast - actual)^2).",
}


def twr_returns(equity: np.ndarray, deposits: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Time-weighted per-period returns: ``(equity[t] - deposits[t]) / equity[t - 1] - 1``.

    Parameters
    ----------
    equity, deposits : ndarray of shape (n_paths, n_periods), value at each period's end and the
        contributions that landed during it
    initial : ndarray of shape (n_paths,), the value before the first period

    A portfolio worth nothing stays lost: after the value reaches 0 the returns are 0 (the growth
    index stays at 0 even when later contributions arrive).
    """
    prev = np.concatenate([np.asarray(initial, dtype=float)[:, None], equity[:, :-1]], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (equity - deposits) / prev - 1.0
    return np.where(prev > 0, out, 0.0)


def growth_index(returns: np.ndarray) -> np.ndarray:
    """``1, (1 + r1), (1 + r1)(1 + r2), ...``: shape (n_paths, n_periods + 1)."""
    ones = np.ones(returns.shape[:-1] + (1,))
    return np.concatenate([ones, np.cumprod(1.0 + returns, axis=-1)], axis=-1)


def simple_returns(equity: np.ndarray) -> np.ndarray:
    """Per-period simple returns along the last axis: shape (..., n - 1)."""
    return equity[..., 1:] / equity[..., :-1] - 1.0


def total_return(equity: np.ndarray) -> np.ndarray:
    return equity[..., -1] / equity[..., 0] - 1.0


#: A spread this small relative to the mean return is float noise: the curve is riskless.
RISKLESS_RTOL = 1e-9


def annual_return(equity: np.ndarray, periods_per_year: int = PERIODS_PER_YEAR) -> np.ndarray:
    """Geometric annualised return; -1 after a total loss; NaN with fewer than two points (no time passed)."""
    if equity.shape[-1] < 2:
        return np.full(equity.shape[:-1], np.nan)
    years = (equity.shape[-1] - 1) / periods_per_year
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = equity[..., -1] / equity[..., 0]
        return np.where(growth > 0, growth ** (1.0 / years) - 1.0, -1.0)


def _std(returns: np.ndarray) -> np.ndarray:
    """Sample std (ddof 1); NaN with fewer than two returns, without numpy's warnings."""
    if returns.shape[-1] < 2:
        return np.full(returns.shape[:-1], np.nan)
    return returns.std(axis=-1, ddof=1)


def annual_vol(returns: np.ndarray, periods_per_year: int = PERIODS_PER_YEAR) -> np.ndarray:
    return _std(returns) * math.sqrt(periods_per_year)


def _ratio(mean: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """mean / risk, defined at the edges: 0 for a flat curve (no return, no risk); NaN for a riskless
    curve that gains or loses (risk 0 or float noise: the ratio is undefined, not huge) and for too
    few returns."""
    riskless = risk <= RISKLESS_RTOL * np.abs(mean)
    flat = (risk == 0) & (mean == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(riskless, np.nan, mean / risk)
    return np.where(flat, 0.0, out)


def sharpe(returns: np.ndarray, periods_per_year: int = PERIODS_PER_YEAR) -> np.ndarray:
    """Annualised Sharpe ratio of per-period returns (risk-free 0); edges as in :func:`_ratio`."""
    if returns.shape[-1] < 2:
        return np.full(returns.shape[:-1], np.nan)
    return _ratio(returns.mean(axis=-1), _std(returns)) * math.sqrt(periods_per_year)


def sortino(returns: np.ndarray, periods_per_year: int = PERIODS_PER_YEAR) -> np.ndarray:
    """Annualised mean / downside deviation; NaN with no downside and a non-zero mean (undefined)."""
    if returns.shape[-1] < 2:
        return np.full(returns.shape[:-1], np.nan)
    downside = np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2, axis=-1))
    return _ratio(returns.mean(axis=-1), downside) * math.sqrt(periods_per_year)


def max_drawdown(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity, axis=-1)
    return (1.0 - equity / peak).max(axis=-1)


def calmar(equity: np.ndarray, periods_per_year: int = PERIODS_PER_YEAR) -> np.ndarray:
    dd = max_drawdown(equity)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(dd > 0, annual_return(equity, periods_per_year) / dd, np.nan)


def turnover(notional: np.ndarray, equity: np.ndarray, periods_per_year: int = PERIODS_PER_YEAR) -> np.ndarray:
    """Notional traded / mean equity, per year; NaN with fewer than two points."""
    if equity.shape[-1] < 2:
        return np.full(equity.shape[:-1], np.nan)
    years = (equity.shape[-1] - 1) / periods_per_year
    with np.errstate(invalid="ignore", divide="ignore"):
        return notional / equity.mean(axis=-1) / years


def probabilistic_sharpe(returns: np.ndarray, benchmark: float = 0.0) -> np.ndarray:
    """PSR: probability that the true per-period Sharpe exceeds ``benchmark`` (per period); NaN where
    the Sharpe ratio is undefined."""
    n = returns.shape[-1]
    if n < 2:
        return np.full(returns.shape[:-1], np.nan)
    mean = returns.mean(axis=-1)
    sd = _std(returns)
    centred = returns - mean[..., None]
    m2 = np.mean(centred**2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sr = _ratio(mean, sd)
        skew = np.where(m2 > 0, np.mean(centred**3, axis=-1) / m2**1.5, 0.0)
        kurt = np.where(m2 > 0, np.mean(centred**4, axis=-1) / m2**2, 3.0)
        denom = np.sqrt(np.maximum(1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2, 1e-12))
        z = (sr - benchmark) * math.sqrt(max(n - 1, 1)) / denom
    cdf = np.vectorize(lambda x: NormalDist().cdf(x) if math.isfinite(x) else math.nan, otypes=[float])
    return cdf(z)


def win_rate(wins: np.ndarray) -> float:
    """Share of scored recommendations (codes 0/1) that won; NaN when none was scored."""
    scored = wins[wins >= 0]
    return float(scored.mean()) if scored.size else float("nan")


# The forecast errors (MAE in % of the last close, MAPE, RMSE) are computed where they are scored,
# prometheus_sim.forecast.evaluate; a mae_pct here divided by the mean price instead, against the definition above, and
# only tests called it (review of 2026-12-05): removed.


UNBOUNDED = (-math.inf, math.inf)


def mean_interval(
    values: np.ndarray, level: float = 0.95, bounds: tuple[float, float] = UNBOUNDED
) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval (n - 1 degrees of freedom) over independent seeds.

    Student's t, not the normal approximation: with the sample's own standard deviation, mean +-
    1.96 x std / sqrt(n) covers the mean less often than stated (86 % of the time at four seeds,
    92 % at ten, for normal values; t is 3.18 at four seeds, 2.09 at twenty, 1.98 at a hundred).

    ``bounds`` is the range the metric cannot leave (:data:`METRIC_BOUNDS`): the interval is cut to
    it, because with few seeds it reaches past it (fees of -0.0002 over four seeds), and no mean of
    such values can lie there.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: a confidence level in (0, 1), got {level}")
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if x.size < 2:
        return m, float("nan"), float("nan")
    return _t_interval(m, float(x.std(ddof=1)) / math.sqrt(x.size), x.size - 1, level, bounds)


def _t_interval(m: float, se: float, dof: int, level: float, bounds: tuple[float, float]) -> tuple[float, float, float]:
    """``m`` +- Student's t quantile at ``dof`` x ``se``, cut to ``bounds``."""
    from scipy.special import stdtrit  # imported here: 0.2 s that only the commands which score pay

    half = float(stdtrit(dof, 0.5 + level / 2)) * se
    low, high = bounds
    # never past the mean itself: a value outside the range (a day losing more than its equity when a large
    # deposit lands, say) must not turn the interval inside out
    return m, min(max(m - half, low), m), max(min(m + half, high), m)


def clustered_mean_interval(
    values: np.ndarray, clusters: np.ndarray, level: float = 0.95, bounds: tuple[float, float] = UNBOUNDED
) -> tuple[float, float, float]:
    """Mean and a cluster-robust Student-t interval: values in one cluster are not independent draws.

    Why: a sweep's cells of one seed in different scenarios are path 0 of the same Philox key, so they share
    their random numbers (default's and sideways_chop's BTC daily returns correlate 0.92 at one seed), and an
    interval over them as if independent is too narrow. The mean is over the values; its variance is the
    cluster-robust (CR1) one, ``G / (G - 1) x sum_g (sum_{i in g} (x_i - mean))^2 / n^2`` over the ``G`` clusters,
    with ``G - 1`` degrees of freedom. With one value a cluster it is :func:`mean_interval` exactly.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: a confidence level in (0, 1), got {level}")
    x = np.asarray(values, dtype=float)
    labels = np.asarray(clusters)
    if labels.shape != x.shape:
        raise ValueError(f"clusters: one label a value, got {labels.shape} for {x.shape}")
    finite = np.isfinite(x)
    x, labels = x[finite], labels[finite]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    _, index = np.unique(labels, return_inverse=True)
    n_clusters = int(index.max()) + 1
    if n_clusters < 2:
        return m, float("nan"), float("nan")
    sums = np.bincount(index, weights=x - m, minlength=n_clusters)
    se = math.sqrt(n_clusters / (n_clusters - 1) * float(np.sum(sums * sums))) / x.size
    return _t_interval(m, se, n_clusters - 1, level, bounds)


#: The range each bounded metric cannot leave (others are unbounded): what :func:`mean_interval` cuts to.
METRIC_BOUNDS: dict[str, tuple[float, float]] = {
    "total_return": (-1.0, math.inf), "annual_return": (-1.0, math.inf), "final_value": (0.0, math.inf),
    "annual_vol": (0.0, math.inf), "max_drawdown": (0.0, 1.0), "turnover": (0.0, math.inf),
    "fees_paid": (0.0, math.inf), "psr": (0.0, 1.0), "win_rate": (0.0, 1.0), "n_scored": (0.0, math.inf),
}  # fmt: skip


def metric_interval(
    values: np.ndarray, metric: str, level: float = 0.95, clusters: np.ndarray | None = None
) -> tuple[float, float, float]:
    """:func:`mean_interval` of a named metric, cut to its range in :data:`METRIC_BOUNDS` (if it has one);
    :func:`clustered_mean_interval` when the values come in ``clusters`` that share random numbers."""
    bounds = METRIC_BOUNDS.get(metric, UNBOUNDED)
    if clusters is None:
        return mean_interval(values, level, bounds)
    return clustered_mean_interval(values, clusters, level, bounds)


PATH_METRICS = (
    "total_return", "annual_return", "annual_vol", "sharpe", "sharpe_excess", "sortino", "max_drawdown", "calmar",
    "turnover", "fees_paid", "psr", "win_rate", "n_scored",
)  # fmt: skip


#: Share of each user's decisions labelled with each of the guide's seven actions (HOLD .. REBALANCE).
ACTION_SHARE_COLUMNS = (
    "share_hold", "share_buy_conservative", "share_buy_moderate", "share_buy_aggressive", "share_sell_partial",
    "share_sell_major", "share_rebalance",
)  # fmt: skip

COLLAPSE_SHARE = 0.9  # a policy with more than this share of its decisions in one action is flagged


def collapsed_sources(rows, by: str = "scenario") -> list[tuple[str, float, str]]:
    """(source, share, action) of every source (a ``by`` group of metric rows) where one action takes more
    than :data:`COLLAPSE_SHARE` of the decisions: a collapse on one source averages away when pooled."""
    shares = rows.groupby(by)[list(ACTION_SHARE_COLUMNS)].mean()
    return [(str(source), float(row.max()), str(row.idxmax()).removeprefix("share_"))
            for source, row in shares.iterrows() if row.max() > COLLAPSE_SHARE]  # fmt: skip


def never_traded(rows: pd.DataFrame) -> bool:
    """Whether a strategy's metric rows (one source's cells) traded nothing at all: turnover 0 in every cell, so it
    held its opening book (cash) throughout. Its actions' labels can still say "sell" (selling an all-cash book
    trades nothing), so the >90 % flag misses a policy that mixes hold and sells and never trades (review)."""
    turnover = rows["turnover"].to_numpy(dtype=float) if "turnover" in rows else np.array([])
    return bool(turnover.size) and bool(np.all(turnover[np.isfinite(turnover)] == 0.0))


def path_metrics(result, risk_free: np.ndarray | None = None) -> pd.DataFrame:
    """One row per user of a :class:`~prometheus_sim.backtest.BacktestResult`, columns ``PATH_METRICS``.

    Returns are time-weighted (``DEFINITIONS["daily_return"]``): the run starts from the initial
    value (all cash before the first open), then each day's close. ``win_rate`` needs the result
    scored (:meth:`~prometheus_sim.backtest.BacktestResult.scored`); unscored it is NaN.
    ``risk_free`` (n_users, n_days) is each day's risk-free return (``sharpe_excess``; NaN without it).
    """
    daily = result.daily_equity()
    rets = twr_returns(daily, result.daily_deposits(), result.initial_value)
    index = growth_index(rets)
    n = result.n_users
    wins = result.wins if result.wins is not None else np.full((n, 0), -1, dtype=np.int8)
    scored = wins >= 0
    n_scored = scored.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wr = np.where(n_scored > 0, (wins == 1).sum(axis=1) / np.maximum(n_scored, 1), np.nan)
    put_in = result.initial_value + result.deposits.sum(axis=1)
    frame = pd.DataFrame(
        {
            "total_return": total_return(index),
            "annual_return": annual_return(index),
            "annual_vol": annual_vol(rets),
            "sharpe": sharpe(rets),
            "sharpe_excess": sharpe(rets - risk_free) if risk_free is not None else np.full(n, np.nan),
            "sortino": sortino(rets),
            "max_drawdown": max_drawdown(index),
            "calmar": calmar(index),
            "turnover": turnover(result.notional, np.concatenate([result.initial_value[:, None], daily], axis=1)),
            "fees_paid": result.fees / put_in,
            "psr": probabilistic_sharpe(rets),
            "win_rate": wr,
            "n_scored": n_scored,
        }
    )
    # what the policy did: the share of each action among the user's decisions (NaN without decisions)
    actions = np.asarray(result.actions)
    for code, name in enumerate(ACTION_SHARE_COLUMNS):
        with np.errstate(invalid="ignore"):
            frame[name] = (actions == code).mean(axis=1) if actions.shape[1] else np.nan
    return frame
