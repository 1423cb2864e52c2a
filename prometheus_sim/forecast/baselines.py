"""Naive forecasts every model is scored against: last value, drift and EWMA.

Each maps a window's past log closes (the ``window`` days ending at t) to predicted log returns
from t to t + 1 .. t + H, using nothing after t:

* ``last_value``: 0 (tomorrow's price is today's: the random-walk forecast).
* ``drift``: h x the mean daily log return over the window.
* ``ewma``: h x an exponentially weighted mean of the window's daily log returns (span 10).
"""

from __future__ import annotations

import numpy as np

EWMA_SPAN = 10


def past_log_closes(
    log_close: np.ndarray, path: np.ndarray, asset: np.ndarray, end: np.ndarray, window: int
) -> np.ndarray:
    """(n, window) log closes of days end - window + 1 .. end; ``log_close`` is (paths, assets, days)."""
    days = end[:, None] + np.arange(-window + 1, 1)[None, :]
    return log_close[path[:, None], asset[:, None], days]


def last_value(past: np.ndarray, horizon: int) -> np.ndarray:
    return np.zeros((past.shape[0], horizon))


def drift(past: np.ndarray, horizon: int) -> np.ndarray:
    mean = np.diff(past, axis=1).mean(axis=1)
    return mean[:, None] * np.arange(1, horizon + 1)[None, :]


def ewma(past: np.ndarray, horizon: int) -> np.ndarray:
    r = np.diff(past, axis=1)
    alpha = 2.0 / (EWMA_SPAN + 1.0)
    weights = (1.0 - alpha) ** np.arange(r.shape[1] - 1, -1, -1)
    mean = (r * weights).sum(axis=1) / weights.sum()
    return mean[:, None] * np.arange(1, horizon + 1)[None, :]


BASELINES = {"last_value": last_value, "drift": drift, "ewma": ewma}

__all__ = ["BASELINES", "EWMA_SPAN", "drift", "ewma", "last_value", "past_log_closes"]
