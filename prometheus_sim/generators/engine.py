"""The one simulation kernel: every path, step by step, prices + on-chain + macro + signals.

Paths run in parallel (``prange``); each path only reads random numbers keyed by its own id, so
the output is bit-identical at any thread count and for any split of paths into batches. Within
a path the step loop is sequential because the series feed each other: macro moves at t, prices
at t, on-chain activity reacts to the price move at t, signals fire from t and change drift or
vol from t+lag on. Nothing at step t reads anything from a later step.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from prometheus_sim.generators import macro as mc
from prometheus_sim.generators import onchain as oc
from prometheus_sim.generators import price as pr
from prometheus_sim.generators import signals as sg
from prometheus_sim.rng import (
    STREAM_JUMP,
    STREAM_JUMP_SIZE,
    STREAM_MACRO,
    STREAM_ONCHAIN,
    STREAM_PRICE,
    STREAM_VOLUME,
    normal_at_nb,
    normals_run_nb,
    poisson_inversion_nb,
    uniform_at_nb,
    uniform_from_word_nb,
    uniforms_run_nb,
)

# Room for jumps of one asset in one step within its STREAM_JUMP_SIZE block.
_JUMP_SLOTS = 64
# Largest standardised driver move on-chain activity reacts to (in units of the normal step vol).
ZS_CAP = 8.0
# Steps whose random numbers are drawn in one vectorised run (small enough to stay in L1/L2).
STEP_CHUNK = 64


@njit(cache=True, parallel=True, error_model="numpy")
def simulate_paths_nb(keys, path_ids, inp, blocks, truth):
    """Fill ``blocks`` and ``truth`` (all shaped ``(paths, steps, ...)``) for the given (seed key, path id) pairs.

    ``keys[i]`` is the Philox key (the two 32-bit halves of path i's seed) and ``path_ids[i]`` its
    path number: row i depends on nothing else, which is what makes splits and batches agree.
    ``inp`` is :class:`~prometheus_sim.generators.params.KernelInputs`, ``blocks`` a
    :class:`~prometheus_sim.blocks.MarketBlocks` and ``truth`` a ``TruthArrays``: named tuples
    read by field name.

    Only this thin loop is a ``prange``: the path itself (:func:`simulate_path_nb`) compiles as
    plain serial code, which keeps Numba's parallel passes off the big function (a cold first
    ``generate`` took 18.8 s with the whole body inside the ``prange``, 16.2 s like this; the
    bytes are the same).
    """
    for i in prange(path_ids.shape[0]):
        simulate_path_nb(i, keys, path_ids, inp, blocks, truth)


@njit(cache=True, error_model="numpy")
def simulate_path_nb(i, keys, path_ids, inp, blocks, truth):
    """Row ``i``: one path, step by step (see :func:`simulate_paths_nb`)."""
    n_steps, steps_per_day, n_sub = inp.n_steps, inp.steps_per_day, inp.n_sub
    asset_p, chol, driver = inp.asset_p, inp.chol, inp.driver
    transition_cum, regime_drift, regime_vol, regime_init = (
        inp.transition_cum,
        inp.regime_drift,
        inp.regime_vol,
        inp.regime_init,
    )
    shock_jump, shock_vol, shock_kappa = inp.shock_jump, inp.shock_vol, inp.shock_kappa
    shock_whale, shock_inflow, shock_rate = inp.shock_whale, inp.shock_inflow, inp.shock_rate
    month_start, meeting = inp.month_start, inp.meeting
    onchain_p, macro_p, signal_p, signal_mask, ring_size = (
        inp.onchain_p,
        inp.macro_p,
        inp.signal_p,
        inp.signal_mask,
        inp.ring_size,
    )
    open_, high, low, close, volume, onchain, macro = (
        blocks.open,
        blocks.high,
        blocks.low,
        blocks.close,
        blocks.volume,
        blocks.onchain,
        blocks.macro,
    )
    truth_regime, truth_drift, truth_vol, truth_jumps, truth_signal = (
        truth.regime,
        truth.drift,
        truth.vol,
        truth.jumps,
        truth.signal_active,
    )
    n_assets = asset_p.shape[0]
    n_signals = signal_p.shape[0]
    n_regimes = regime_drift.shape[0]
    dt_step = 1.0 / (365.0 * steps_per_day)
    dt_sub = dt_step / n_sub
    inv_sqrt_sub = 1.0 / math.sqrt(n_sub)
    # random numbers per step, padded to whole Philox quads: a step owns a fixed block of each stream
    per_price = (n_assets * n_sub + 3) // 4 * 4
    per_asset = (n_assets + 3) // 4 * 4
    path = path_ids[i]
    k0 = keys[i, 0]
    k1 = keys[i, 1]
    zc = np.empty(n_assets * n_sub)
    z_price = np.empty(STEP_CHUNK * per_price)
    z_volume = np.empty(STEP_CHUNK * per_asset)
    u_jumps = np.empty(STEP_CHUNK * per_asset)
    z_onchain = np.empty(STEP_CHUNK * 4)
    z_macro = np.empty(STEP_CHUNK * 4)
    u_regime = np.empty(STEP_CHUNK)
    words = np.empty(STEP_CHUNK * max(per_price, per_asset), dtype=np.uint64)
    drift_shift = np.empty(n_assets)
    vol_signal = np.empty(n_assets)
    aux = np.empty(7)
    ring = np.zeros((n_signals, ring_size), dtype=np.int8)
    sig_state = np.zeros((n_signals, 4))
    log_price = asset_p[:, pr.A_START_LOG].copy()
    garch_h = np.empty(n_assets)
    for a in range(n_assets):
        garch_h[a] = asset_p[a, pr.A_SIGMA] ** 2 * dt_step
    regime = regime_init
    inflation = macro_p[mc.M_INFL_START]
    rate = macro_p[mc.M_RATE_START]
    log_dxy = math.log(macro_p[mc.M_DXY_START])
    log_active = onchain_p[oc.O_ACTIVE_LOG0]

    for t in range(n_steps):
        # --- random numbers for the next STEP_CHUNK steps, drawn in vectorised runs
        k = t % STEP_CHUNK
        if k == 0:
            n = min(STEP_CHUNK, n_steps - t)
            normals_run_nb(k0, k1, path, STREAM_PRICE, t * per_price // 4, n * per_price // 4, words, z_price)
            normals_run_nb(k0, k1, path, STREAM_VOLUME, t * per_asset // 4, n * per_asset // 4, words, z_volume)
            uniforms_run_nb(k0, k1, path, STREAM_JUMP, t * per_asset // 4, n * per_asset // 4, u_jumps)
            normals_run_nb(k0, k1, path, STREAM_ONCHAIN, t, n, words, z_onchain)
            normals_run_nb(k0, k1, path, STREAM_MACRO, t, n, words, z_macro)
            for q in range(n):  # the macro quad's fourth word drives the regime chain
                u_regime[q] = uniform_from_word_nb(words[4 * q + 3])
        price_at = k * per_price
        asset_at = k * per_asset

        # --- regime: moves once per day, at the day's first step
        if t > 0 and n_regimes > 1 and t % steps_per_day == 0:
            regime = pr.regime_next_nb(regime, u_regime[k], transition_cum)
        truth_regime[i, t] = regime

        # --- signals fired earlier that are in effect now
        for a in range(n_assets):
            drift_shift[a] = 0.0
            vol_signal[a] = 1.0
        for g in range(n_signals):
            active = sg.take_effect_nb(ring, g, t)
            truth_signal[i, t, g] = active
            if active:
                for a in range(n_assets):
                    if signal_mask[g, a]:
                        if signal_p[g, sg.S_EFFECT] == sg.EFFECT_DRIFT:
                            drift_shift[a] += signal_p[g, sg.S_STRENGTH]
                        else:
                            vol_signal[a] *= 1.0 + signal_p[g, sg.S_STRENGTH]

        # --- macro: inflation and the policy rate are set before prices move
        prev_rate = rate
        if month_start[t]:
            inflation = mc.inflation_step_nb(macro_p, inflation, z_macro[4 * k])
        if meeting[t]:
            rate = mc.policy_rate_step_nb(macro_p, rate, inflation, z_macro[4 * k + 1])
        rate = max(rate + shock_rate[t], 0.0)

        # --- prices
        pr.correlate_substeps_nb(z_price, price_at, chol, zc, n_assets, n_sub)
        driver_return = 0.0
        driver_z = 0.0
        for a in range(n_assets):
            exposure = asset_p[a, pr.A_EXPOSURE]
            drift_mult = 1.0 + exposure * (regime_drift[regime] - 1.0)
            vol_mult = (1.0 + exposure * (regime_vol[regime] - 1.0)) * shock_vol[t, a] * vol_signal[a]
            vol_mult = min(vol_mult, pr.VOL_MULT_MAX)
            sigma = asset_p[a, pr.A_SIGMA]
            base_sd = asset_p[a, pr.A_BASE_SD]
            alpha = asset_p[a, pr.A_GARCH_ALPHA]
            beta = asset_p[a, pr.A_GARCH_BETA]
            is_garch = alpha > 0.0 or beta > 0.0
            sd = min((math.sqrt(garch_h[a]) if is_garch else base_sd) * vol_mult, pr.STEP_SD_MAX)
            lp0 = log_price[a]
            kappa = asset_p[a, pr.A_PEG_KAPPA]
            if kappa > 0.0:
                if shock_kappa[t, a] > 0.0:
                    kappa = shock_kappa[t, a]
                x_open, x, hi, lo, zsum = pr.peg_path_nb(
                    lp0, kappa, sigma * vol_mult, dt_sub, zc, a, n_assets, n_sub, shock_jump[t, a]
                )
                truth_drift[i, t, a] = lp0 * (math.exp(-kappa * dt_step) - 1.0)
                truth_vol[i, t, a] = pr.peg_step_sd_nb(kappa, sigma * vol_mult, dt_step)
                step_mean = truth_drift[i, t, a]
                n_jumps = 0
            else:
                jump_rate = asset_p[a, pr.A_JUMP_RATE]
                jump_mean = asset_p[a, pr.A_JUMP_MEAN]
                jump_std = asset_p[a, pr.A_JUMP_STD]
                step_mean = (
                    (asset_p[a, pr.A_MU] * drift_mult - asset_p[a, pr.A_JUMP_COMP]) * dt_step
                    - 0.5 * sd * sd
                    + drift_shift[a] / steps_per_day
                )
                n_jumps = 0
                jump_total = 0.0
                jump_sub = -1
                if jump_rate > 0.0:
                    # market-wide jumps: one arrival uniform per step for every asset (the first
                    # slot of the step's block), sizes loading on a common factor drawn past the
                    # assets' own slots
                    n_jumps = poisson_inversion_nb(jump_rate * dt_step, asset_p[a, pr.A_JUMP_P0], u_jumps[asset_at])
                    if n_jumps > _JUMP_SLOTS - 1:
                        n_jumps = _JUMP_SLOTS - 1
                    load = asset_p[a, pr.A_JUMP_COMMON]
                    own = math.sqrt(1.0 - load * load)
                    for q in range(n_jumps):
                        z_common = normal_at_nb(k0, k1, t, path, STREAM_JUMP_SIZE, n_assets * _JUMP_SLOTS + q)
                        z_own = normal_at_nb(k0, k1, t, path, STREAM_JUMP_SIZE, a * _JUMP_SLOTS + q)
                        jump_total += jump_mean + jump_std * (load * z_common + own * z_own)
                    if n_jumps > 0:
                        u_pos = uniform_at_nb(
                            k0, k1, t, path, STREAM_JUMP_SIZE, n_assets * _JUMP_SLOTS + _JUMP_SLOTS - 1
                        )
                        jump_sub = min(int(u_pos * n_sub), n_sub - 1)
                x_open, x, hi, lo, zsum = pr.diffusion_path_nb(
                    lp0, step_mean, sd, zc, a, n_assets, n_sub, shock_jump[t, a], jump_total, jump_sub
                )
                truth_drift[i, t, a] = step_mean + jump_rate * dt_step * jump_mean
                truth_vol[i, t, a] = sd
            # the combined effect of stacked shocks stays inside float range
            centre = asset_p[a, pr.A_START_LOG]
            x_open = min(max(x_open, centre - pr.LOG_PRICE_BAND), centre + pr.LOG_PRICE_BAND)
            x = min(max(x, centre - pr.LOG_PRICE_BAND), centre + pr.LOG_PRICE_BAND)
            hi = min(max(hi, centre - pr.LOG_PRICE_BAND), centre + pr.LOG_PRICE_BAND)
            lo = min(max(lo, centre - pr.LOG_PRICE_BAND), centre + pr.LOG_PRICE_BAND)
            truth_jumps[i, t, a] = n_jumps
            o_, h_, l_, c_ = pr.ohlc_nb(x_open, x, hi, lo)
            step_return = x - lp0
            open_[i, t, a] = o_
            high[i, t, a] = h_
            low[i, t, a] = l_
            close[i, t, a] = c_
            volume[i, t, a] = pr.volume_nb(
                c_, step_return, asset_p[a, pr.A_INV_BASE_SD], asset_p[a, pr.A_VOLUME_UNIT],
                asset_p[a, pr.A_VOLUME_SENS], asset_p[a, pr.A_VOLUME_NOISE], z_volume[asset_at + a],
            )  # fmt: skip
            log_price[a] = x
            z_std = zsum * inv_sqrt_sub
            if is_garch:  # the whole surprise (jumps and shocks too) feeds the variance, in the
                # units of the base variance (divided by the multipliers applied on top of it,
                # so a high-vol regime does not compound into GARCH's own persistence)
                garch_h[a] = pr.garch_update_nb(
                    garch_h[a], (step_return - step_mean) / vol_mult, asset_p[a, pr.A_GARCH_OMEGA], alpha, beta
                )
            if a == driver:
                driver_return = step_return
                driver_z = z_std

        # --- on-chain activity reacts to the driver's move
        # Activity reacts to the move in units of the driver's normal step vol, saturating at
        # +/- ZS_CAP so a dated crash on a calm asset cannot push flows to infinity.
        zs = min(max(driver_return * asset_p[driver, pr.A_INV_BASE_SD], -ZS_CAP), ZS_CAP)
        on_at = 4 * k
        whales = oc.whale_count_nb(onchain_p, zs, shock_whale[t], steps_per_day, k0, k1, t, path)
        log_active = oc.active_log_step_nb(onchain_p, log_active, t, dt_step, driver_return, z_onchain[on_at])
        inflow, outflow = oc.flows_nb(
            onchain_p, zs, shock_inflow[t], steps_per_day, z_onchain[on_at + 1], z_onchain[on_at + 2]
        )
        onchain[i, t, oc.C_WHALE] = whales
        onchain[i, t, oc.C_ACTIVE] = math.floor(math.exp(log_active) + 0.5)
        onchain[i, t, oc.C_INFLOW] = inflow
        onchain[i, t, oc.C_OUTFLOW] = outflow

        # --- dollar index moves with (against) the driver and with rate changes
        log_dxy = mc.dxy_log_step_nb(macro_p, log_dxy, dt_step, driver_z, z_macro[4 * k + 2], rate - prev_rate)
        dxy_centre = macro_p[mc.M_DXY_LOG_MEAN]
        log_dxy = min(max(log_dxy, dxy_centre - mc.DXY_LOG_BAND), dxy_centre + mc.DXY_LOG_BAND)
        macro[i, t, mc.C_INFLATION] = inflation
        macro[i, t, mc.C_RATE] = rate
        macro[i, t, mc.C_DXY] = math.exp(log_dxy)

        # --- signals observe step t and schedule effects from t+lag on
        for c in range(4):
            aux[c] = onchain[i, t, c]
        for c in range(3):
            aux[4 + c] = macro[i, t, c]
        for g in range(n_signals):
            value = aux[int(signal_p[g, sg.S_SOURCE])]
            if sg.signal_fires_nb(signal_p[g], value, sig_state[g]):
                sg.schedule_effect_nb(ring, g, t, int(signal_p[g, sg.S_LAG]), int(signal_p[g, sg.S_DURATION]))
