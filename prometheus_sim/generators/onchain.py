"""On-chain activity kernels: whale transactions, active addresses, exchange in- and outflows.

The series are market-wide and react to the driver asset's standardised return ``zs`` of the
same step (activity rises on big moves, inflows rise on down moves). Dated shocks multiply whale
counts and inflows. Counts are Poisson draws (exact), so they are non-negative integers.
"""

from __future__ import annotations

import math

from numba import njit

from prometheus_sim.fastexp import exp_nb
from prometheus_sim.rng import STREAM_WHALE, poisson_nb

# Indices into the on-chain parameter vector built by generators.params.
O_WHALE_PER_DAY = 0
O_WHALE_SENS = 1
O_ACTIVE_LOG0 = 2
O_ACTIVE_GROWTH = 3
O_ACTIVE_REVERSION = 4
O_ACTIVE_PRICE_BETA = 5
O_ACTIVE_VOL = 6
O_INFLOW_PER_DAY = 7
O_OUTFLOW_PER_DAY = 8
O_FLOW_VOL = 9
O_FLOW_BETA = 10
N_ONCHAIN_PARAMS = 11
ACTIVE_LOG_BAND = 10.0  # active addresses stay within their trend x e^+-10, so the count stays an exact integer
# Whale dumps in effect together multiply their whale and inflow multipliers, up to the most one dump may
# set (scenario.WhaleDumpShock's bound): 120 stacked dumps of 1000x made 1000^120, and the series infinite.
SHOCK_MULT_MAX = 1000.0

# Column order of the on-chain block (matches scenario.ONCHAIN_COLUMNS).
C_WHALE = 0
C_ACTIVE = 1
C_INFLOW = 2
C_OUTFLOW = 3


@njit(cache=True, error_model="numpy", _nrt=False)
def whale_count_nb(params, zs, whale_mult, steps_per_day, k0, k1, step, path):
    lam = params[O_WHALE_PER_DAY] / steps_per_day * (1.0 + params[O_WHALE_SENS] * abs(zs)) * whale_mult
    return float(poisson_nb(lam, k0, k1, step, path, STREAM_WHALE))


@njit(cache=True, error_model="numpy", _nrt=False)
def active_ou_constants_nb(params, dt_step):
    """``(decay, noise std)`` of the exact OU step of log active addresses (the same every step)."""
    theta = params[O_ACTIVE_REVERSION]
    decay = math.exp(-theta * dt_step)
    return decay, params[O_ACTIVE_VOL] * math.sqrt((1.0 - decay * decay) / (2.0 * theta))


@njit(cache=True, error_model="numpy", _nrt=False)
def active_log_step_nb(params, log_active, step, dt_step, decay, noise, driver_return, z):
    """Log active addresses: reverts to a growing trend, moves with the driver's return.

    The reversion is the exact Ornstein-Uhlenbeck step (stable at any reversion speed, where an
    explicit Euler step diverges once reversion x dt > 2); ``decay`` and ``noise`` come from
    :func:`active_ou_constants_nb`.
    """
    trend = params[O_ACTIVE_LOG0] + params[O_ACTIVE_GROWTH] * step * dt_step
    driver_return = min(max(driver_return, -5.0), 5.0)  # a capped price shock cannot blow up the count
    x = trend + (log_active - trend) * decay + params[O_ACTIVE_PRICE_BETA] * driver_return + noise * z
    return min(max(x, trend - ACTIVE_LOG_BAND), trend + ACTIVE_LOG_BAND)


@njit(cache=True, error_model="numpy", _nrt=False)
def flows_nb(params, zs, inflow_mult, steps_per_day, z_in, z_out):
    """Exchange inflow (up on down moves) and outflow (up on up moves), lognormal, mean-one noise."""
    fv = params[O_FLOW_VOL]
    beta = params[O_FLOW_BETA]
    inflow = params[O_INFLOW_PER_DAY] / steps_per_day * exp_nb(fv * z_in - 0.5 * fv * fv + beta * max(0.0, -zs))
    outflow = params[O_OUTFLOW_PER_DAY] / steps_per_day * exp_nb(fv * z_out - 0.5 * fv * fv + beta * max(0.0, zs))
    return inflow * inflow_mult, outflow
