"""Macro kernels: monthly AR(1) inflation, a policy rate that follows it, a dollar index.

Inflation updates on the first step of each calendar month. The policy rate moves one
``step`` at each meeting towards a Taylor-like target (plus scheduled hikes from shocks). The
dollar index is a log Ornstein-Uhlenbeck process whose shocks are correlated (negatively, by
default) with the driver asset's, and which jumps with policy-rate changes.
"""

from __future__ import annotations

import math

from numba import njit

from prometheus_sim.scenario import DXY_LOG_BAND  # the dollar index stays within its mean x e^+-10: validated

M_INFL_MEAN = 0
M_INFL_PHI = 1
M_INFL_VOL = 2
M_RATE_NEUTRAL = 3
M_RATE_TARGET_INFL = 4
M_RATE_RESPONSE = 5
M_RATE_STEP = 6
M_RATE_NOISE = 7
M_DXY_LOG_MEAN = 8
M_DXY_REVERSION = 9
M_DXY_VOL = 10
M_DXY_CORR = 11
M_DXY_RATE_BETA = 12
M_INFL_START = 13
M_RATE_START = 14
M_DXY_START = 15
N_MACRO_PARAMS = 16

C_INFLATION = 0
C_RATE = 1
C_DXY = 2


@njit(cache=True, error_model="numpy", _nrt=False)
def inflation_step_nb(params, inflation, z):
    mean = params[M_INFL_MEAN]
    return mean + params[M_INFL_PHI] * (inflation - mean) + params[M_INFL_VOL] * z


@njit(cache=True, error_model="numpy", _nrt=False)
def policy_rate_step_nb(params, rate, inflation, z):
    """Move one step towards neutral + response x (inflation - target) + noise; floor at 0."""
    target = (
        params[M_RATE_NEUTRAL]
        + params[M_RATE_RESPONSE] * (inflation - params[M_RATE_TARGET_INFL])
        + params[M_RATE_NOISE] * z
    )
    step = params[M_RATE_STEP]
    gap = target - rate
    if gap > 0.5 * step:
        rate += step
    elif gap < -0.5 * step:
        rate -= step
    return max(rate, 0.0)


@njit(cache=True, error_model="numpy", _nrt=False)
def dxy_constants_nb(params, dt_step):
    """``(sqrt(1 - rho^2), vol x sqrt(dt))``: the dollar index step's constants."""
    rho = params[M_DXY_CORR]
    return math.sqrt(1.0 - rho * rho), params[M_DXY_VOL] * math.sqrt(dt_step)


@njit(cache=True, error_model="numpy", _nrt=False)
def dxy_log_step_nb(params, log_dxy, dt_step, own_weight, step_vol, z_driver, z_own, rate_change):
    """Log dollar index: reverts to its mean, shocks correlated with the driver's, jumps with rate moves.

    Kept within its mean x e^+-``DXY_LOG_BAND``.
    """
    shock = params[M_DXY_CORR] * z_driver + own_weight * z_own
    x = (
        log_dxy
        + params[M_DXY_REVERSION] * (params[M_DXY_LOG_MEAN] - log_dxy) * dt_step
        + step_vol * shock
        + params[M_DXY_RATE_BETA] * rate_change
    )
    centre = params[M_DXY_LOG_MEAN]
    return min(max(x, centre - DXY_LOG_BAND), centre + DXY_LOG_BAND)
