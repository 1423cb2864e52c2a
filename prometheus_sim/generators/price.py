"""Price kernels: regime switching, correlated diffusion, GARCH(1,1), Merton jumps, pegs, OHLCV.

Pure ``@njit`` functions on scalars and arrays, called once per (path, step) by
:func:`prometheus_sim.generators.engine.simulate_rows_nb`. Log prices are the state; OHLC is
read off the intraday sub-steps (the bar's "trades"), so ``low <= open, close <= high`` holds by
construction and the open, the first sub-step, is a price the previous bar's close did not know.
"""

from __future__ import annotations

import math

from numba import njit

# Columns of the per-asset parameter table built by generators.params.
A_START_LOG = 0  # log start price
A_MU = 1  # annual arithmetic drift
A_SIGMA = 2  # annual volatility (long-run for GARCH)
A_GARCH_ALPHA = 3
A_GARCH_BETA = 4
A_JUMP_RATE = 5  # jumps per year
A_JUMP_MEAN = 6
A_JUMP_STD = 7
A_PEG_KAPPA = 8  # per year; 0 means not pegged
A_EXPOSURE = 9  # regime exposure in [0, 1]
A_VOLUME_USD = 10  # daily notional
A_VOLUME_SENS = 11
A_VOLUME_NOISE = 12
# Derived per-step constants, precomputed so the hot loop does no exp, sqrt or division for them.
A_BASE_SD = 13  # sigma * sqrt(dt_step)
A_INV_BASE_SD = 14
A_JUMP_COMP = 15  # jump rate x E[e^J - 1], per year
A_JUMP_P0 = 16  # P(no jump in a step) = exp(-rate dt_step)
A_GARCH_OMEGA = 17  # sigma^2 dt_step (1 - alpha - beta)
A_VOLUME_UNIT = 18  # daily notional / steps per day
A_JUMP_COMMON = 19  # loading of jump sizes on the market-wide jump factor
N_ASSET_PARAMS = 20

# Bounds on the combined effect of regimes, shocks and signals, so every valid scenario stays finite.
VOL_MULT_MAX = 25.0  # the product of every volatility multiplier in effect
VOL_MULT_MIN = 1.0e-6  # ... and its floor: stacked calm multipliers must not reach 0 (GARCH divides by it)
SHOCK_VOL_BOUND = 1.0e100  # stacked crashes' product, kept finite in the truth (the kernel applies VOL_MULT_*)
# a day's diffusive log-return std (GARCH included) at most; a step's cap is DAY_SD_MAX / sqrt(steps_per_day), so the
# cap means the same at any steps_per_day (a per-step cap of 0.5 let a 1,440-steps-a-day GARCH asset run at a daily
# std of 19 and its drag of -sd^2/2 a step held it at the log-price band within days: review of 2026-12-05)
DAY_SD_MAX = 0.5
# log prices stay within start +- 300 (e**300 = 2e130 either way: with start prices in [1e-8, 1e12] and volume
# as notional / price, every bar stays finite and positive); validation refuses scenarios whose expected move
# reaches it (scenario.MAX_LOG_MOVE, the same 300), so it only stops what stacked shocks could add
LOG_PRICE_BAND = 300.0


@njit(cache=True, error_model="numpy", _nrt=False)
def regime_next_nb(state, u, transition_cum):
    """Next Markov state from a uniform draw and the cumulative transition matrix."""
    row = transition_cum[state]
    n = row.shape[0]
    for j in range(n - 1):
        if u < row[j]:
            return j
    return n - 1


@njit(cache=True, error_model="numpy", _nrt=False)
def correlate_substeps_nb(z, start, chol, out, n_assets, n_sub):
    """``out[s*A + a] = sum_b chol[a, b] z[start + s*A + b]``: correlated normals for each sub-step."""
    for s in range(n_sub):
        base = s * n_assets
        for a in range(n_assets):
            acc = 0.0
            for b in range(a + 1):
                acc += chol[a, b] * z[start + base + b]
            out[base + a] = acc


@njit(cache=True, error_model="numpy", _nrt=False)
def jump_compensator_nb(mean, std):
    """E[e^J - 1] for J ~ N(mean, std^2): subtracted from the drift so jumps leave E[return] alone."""
    return math.exp(mean + 0.5 * std * std) - 1.0


@njit(cache=True, error_model="numpy", _nrt=False)
def garch_update_nb(h, eps, omega, alpha, beta, h_max):
    """One GARCH(1,1) variance step from this step's whole surprise ``eps`` (diffusion, jumps and shocks).

    Jumps and crashes feed the variance, so volatility clusters after them as it does in real
    crypto. Capped at ``h_max`` (a step's variance at :data:`DAY_SD_MAX`, :func:`step_sd_max_nb`
    squared) so a stack of shocks cannot overflow.
    """
    return min(omega + alpha * eps * eps + beta * h, h_max)


@njit(cache=True, error_model="numpy", _nrt=False)
def step_sd_max_nb(steps_per_day):
    """A step's log-return std cap: :data:`DAY_SD_MAX` spread over the day's steps (exactly 0.5 at one a day)."""
    return DAY_SD_MAX / math.sqrt(steps_per_day)


@njit(cache=True, error_model="numpy", _nrt=False)
def diffusion_path_nb(lp0, step_mean, step_sd, zc, a, n_assets, n_sub, shock_jump, jump_total, jump_sub):
    """Walk one asset's log price through the sub-steps of a step.

    The bar's trades are the sub-step prices: the open is the first of them (a moment after the
    previous close, so it differs from it), the close the last, high and low their extremes.
    Returns ``(log open, log close, max log, min log, sum of standardised shocks)``.
    """
    sub_mean = step_mean / n_sub
    sub_sd = step_sd / math.sqrt(n_sub)
    x = lp0
    x_open = lp0
    hi = -math.inf
    lo = math.inf
    zsum = 0.0
    for s in range(n_sub):
        zz = zc[s * n_assets + a]
        zsum += zz
        x += sub_mean + sub_sd * zz
        if s == 0:
            x += shock_jump
        if s == jump_sub:
            x += jump_total
        if s == 0:
            x_open = x
        if x > hi:
            hi = x
        if x < lo:
            lo = x
    return x_open, x, hi, lo, zsum


# Columns of a peg's per-run constants (peg_constants_nb): what the exact OU step needs, for one kappa.
P_DECAY_SUB = 0  # exp(-kappa dt_sub): a sub-step's decay
P_NOISE_SUB = 1  # the sub-step's noise std per unit of annual vol
P_STEP_SD = 2  # the whole step's std per unit of annual vol (the truth's vol)
P_STEP_DRIFT = 3  # exp(-kappa dt_step) - 1: the step's expected log move per unit of log price
N_PEG_CONSTANTS = 4


@njit(cache=True, error_model="numpy", _nrt=False)
def peg_constants_nb(kappa, dt_step, dt_sub, out, row):
    """The exact OU step's constants for reversion ``kappa`` into ``out[row]`` (once a run, or on a depeg's day)."""
    # expm1, not 1 - exp: for a slow peg (kappa dt below about 1e-16) 1 - exp(-2 kappa dt) rounds to 0 and
    # the asset would never move; expm1 keeps the variance's 2 dt limit
    out[row, P_DECAY_SUB] = math.exp(-kappa * dt_sub)
    out[row, P_NOISE_SUB] = math.sqrt(-math.expm1(-2.0 * kappa * dt_sub) / (2.0 * kappa))
    out[row, P_STEP_SD] = math.sqrt(-math.expm1(-2.0 * kappa * dt_step) / (2.0 * kappa))
    out[row, P_STEP_DRIFT] = math.expm1(-kappa * dt_step)


@njit(cache=True, error_model="numpy", _nrt=False)
def peg_path_nb(lp0, decay, noise, zc, a, n_assets, n_sub, shock_jump):
    """Exact Ornstein-Uhlenbeck walk of a pegged log price towards 0 (price 1), any ``kappa``.

    ``decay`` and ``noise`` are the sub-step's (:data:`P_DECAY_SUB`, and :data:`P_NOISE_SUB` times
    the annual vol in effect).
    """
    x = lp0
    x_open = lp0
    hi = -math.inf
    lo = math.inf
    zsum = 0.0
    for s in range(n_sub):
        zz = zc[s * n_assets + a]
        zsum += zz
        x = x * decay + noise * zz
        if s == 0:
            x += shock_jump
            x_open = x
        if x > hi:
            hi = x
        if x < lo:
            lo = x
    return x_open, x, hi, lo, zsum
