"""The one simulation kernel: every path, step by step, prices + on-chain + macro + signals.

Paths run in parallel (threads, each on its own rows); each path only reads random numbers keyed by its own id, so
the output is bit-identical at any thread count and for any split of paths into batches. Within
a path the step loop is sequential because the series feed each other: macro moves at t, prices
at t, on-chain activity reacts to the price move at t, signals fire from t and change drift or
vol from t+lag on. Nothing at step t reads anything from a later step.

:func:`simulate_rows_nb` hands each row a thread's working memory (:class:`PathWork`, allocated
once a thread by :func:`path_work`) and :func:`run_path_nb`, compiled without reference counting,
steps it. A step reads top to bottom in :func:`run_path_nb`, a few lines or one small function per
part: the random numbers (:func:`draw_chunk_nb`), the regime, the signals in effect
(:func:`signal_effects_nb`), inflation and the policy rate, then per asset its jumps
(:func:`jumps_nb`), its sub-step walk (:func:`diffusion_bar_nb` or :func:`peg_bar_nb`), its bar
(:func:`write_log_bar_nb`) and its GARCH variance; then on-chain activity (:func:`onchain_step_nb`),
the dollar index and the signals that fire (:func:`signals_observe_nb`). What is the same on
every step (a peg's OU constants, the active addresses' and the dollar index's) is computed once
a path.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from prometheus_sim.fastexp import exp_nb
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
    leading_uniforms_nb,
    normal_at_nb,
    normals_run_nb,
    poisson_inversion_nb,
    uniform_at_nb,
    uniform_from_word_nb,
)

# Room for jumps of one asset in one step within its STREAM_JUMP_SIZE block.
_JUMP_SLOTS = 64
# Largest standardised driver move on-chain activity reacts to (in units of the normal step vol).
ZS_CAP = 8.0
# Steps whose random numbers are drawn in one vectorised run (small enough to stay in L1/L2).
STEP_CHUNK = 64


class PathWork(NamedTuple):
    """One path's working memory: the random numbers of a chunk of steps, scratch and running state.

    Allocated once per thread by :func:`path_work` and reused for every row that thread steps:
    :func:`simulate_rows_nb` resets the running state at the start of each row, and the rest is
    written before it is read. The kernel then allocates nothing, so it runs without Numba's
    reference counting.
    """

    zc: np.ndarray  # correlated normals of one step's sub-steps, (sub-step, asset) flat
    z_price: np.ndarray  # a chunk of steps' price normals
    z_volume: np.ndarray
    u_jumps: np.ndarray  # a chunk's jump-arrival uniforms, one a step
    z_onchain: np.ndarray
    z_macro: np.ndarray
    u_regime: np.ndarray
    volume_scale: np.ndarray  # a chunk's volume scales, until its bars become prices
    words: np.ndarray  # Philox words (uint64) of one stream's run
    drift_shift: np.ndarray  # per asset: the signals' drift shift in effect
    vol_signal: np.ndarray  # per asset: the signals' vol multiplier in effect
    aux: np.ndarray  # the step's on-chain and macro values, as the signals read them
    ring: np.ndarray  # (signal, slot) int8: steps in which each signal is in effect
    sig_state: np.ndarray  # (signal, 4): each signal's running mean, variance, previous value, count
    peg: np.ndarray  # a peg's OU constants: a row per asset, and a spare for a depeg's step
    log_price: np.ndarray
    garch_h: np.ndarray
    day_surprise: np.ndarray  # per asset: the day's standardised surprise so far (GARCH updates once a day)


def path_work(inp) -> PathWork:
    """A path's working memory for ``inp`` (:class:`~prometheus_sim.generators.params.KernelInputs`): one per thread."""
    n_assets = inp.asset_p.shape[0]
    n_signals = inp.signal_p.shape[0]
    per_price = (n_assets * inp.n_sub + 3) // 4 * 4
    per_asset = (n_assets + 3) // 4 * 4
    return PathWork(
        np.empty(n_assets * inp.n_sub),
        np.empty(STEP_CHUNK * per_price),
        np.empty(STEP_CHUNK * per_asset),
        np.empty(STEP_CHUNK),
        np.empty(STEP_CHUNK * 4),
        np.empty(STEP_CHUNK * 4),
        np.empty(STEP_CHUNK),
        np.empty(STEP_CHUNK * n_assets),
        np.empty(STEP_CHUNK * max(per_price, per_asset), dtype=np.uint64),
        np.empty(n_assets),
        np.empty(n_assets),
        np.empty(7),
        np.zeros((n_signals, inp.ring_size), dtype=np.int8),
        np.zeros((n_signals, 4)),
        np.zeros((n_assets + 1, pr.N_PEG_CONSTANTS)),
        np.empty(n_assets),
        np.empty(n_assets),
        np.empty(n_assets),
    )


class FlatBars(NamedTuple):
    """Row i of the open, high, low, close and volume blocks as flat ``(step, asset)`` arrays:
    a chunk of steps is one contiguous run in each."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def simulate_rows_nb(lo, hi, keys, path_ids, inp, blocks, truth, work):
    """Fill rows ``lo .. hi - 1`` of ``blocks`` and ``truth`` (all shaped ``(paths, steps, ...)``) for their
    (seed key, path id) pairs, in the working memory ``work`` (:func:`path_work`).

    ``keys[i]`` is the Philox key (the two 32-bit halves of path i's seed) and ``path_ids[i]`` its
    path number: row i depends on nothing else, which is what makes splits and batches agree.
    ``inp`` is :class:`~prometheus_sim.generators.params.KernelInputs`, ``blocks`` a
    :class:`~prometheus_sim.blocks.MarketBlocks` and ``truth`` a ``TruthArrays``: named tuples
    read by field name.

    A serial loop that releases the GIL: :func:`~prometheus_sim.generators.generate` runs one call
    per thread, each on its share of a chunk's rows with its own ``work``. Numba's ``prange`` did
    the same job, but its parallel compilation passes alone took about 8 s of a cold first
    ``generate`` (20.8 -> 12.8 s without them), and its idle threads spun: interleaved, 1,000
    paths x 3,650 days at 2 threads, 112 -> 103 ns of CPU an asset-step at the same wall time
    and the same bytes. The working memory comes from Python rather than from a Numba function
    between this loop and :func:`run_path_nb`: Numba re-optimises every caller's module with its
    callees linked in, so each level of calls above the step loop added seconds to a cold compile.
    """
    n_assets = inp.asset_p.shape[0]
    if (work.zc.shape[0] != n_assets * inp.n_sub or work.log_price.shape[0] != n_assets
            or work.ring.shape[0] != inp.signal_p.shape[0] or work.ring.shape[1] != inp.ring_size):  # fmt: skip
        # the loop has no bounds checks: a work area sized for other inputs would write past its arrays
        # (blocks and truth are the caller's, shaped by generators.layout for the same inputs)
        raise ValueError("work: not made by path_work for these inputs")
    flat = inp.n_steps * n_assets
    for i in range(lo, hi):
        work.ring[:, :] = 0
        work.sig_state[:, :] = 0.0
        work.peg[:, :] = 0.0
        for a in range(n_assets):  # a loop: a slice copy could overlap, and copying needs an allocation
            work.log_price[a] = inp.asset_p[a, pr.A_START_LOG]
        bars = FlatBars(
            blocks.open[i].reshape(flat),
            blocks.high[i].reshape(flat),
            blocks.low[i].reshape(flat),
            blocks.close[i].reshape(flat),
            blocks.volume[i].reshape(flat),
        )
        run_path_nb(i, keys[i, 0], keys[i, 1], path_ids[i], inp, blocks, truth, bars, work)


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def run_path_nb(i, k0, k1, path, inp, blocks, truth, bars, work):
    """Row ``i``, step by step (see :func:`simulate_rows_nb`), in the memory ``work``.

    Compiled without Numba's reference counting (``_nrt=False``): with it, every array handed to
    a part of the step costs an atomic increment and decrement per call, which measured at a third
    of the kernel's time (interleaved, one thread: the on-chain and signal parts alone took 35 of
    89 ns an asset-step). So nothing here allocates or makes a view that outlives a call; the
    named tuples are unpacked once, and the parts take plain arrays. The parts called once a step
    with many arrays (signal effects, on-chain activity, signals observed) are inlined
    (``inline="always"``): passing their arrays cost more than their work (67.5 -> 61.9 ns an
    asset-step; inlining the per-asset bar parts as well gained nothing measurable). This
    function is itself inlined into :func:`simulate_rows_nb`, so the cold compile optimises the
    step loop's module once rather than once per level of calls.
    """
    n_steps, spd, n_sub, driver = inp.n_steps, inp.steps_per_day, inp.n_sub, inp.driver
    asset_p, chol, macro_p, onchain_p = inp.asset_p, inp.chol, inp.macro_p, inp.onchain_p
    transition_cum, regime_drift, regime_vol = inp.transition_cum, inp.regime_drift, inp.regime_vol
    shock_jump, shock_vol, shock_kappa, shock_rate = inp.shock_jump, inp.shock_vol, inp.shock_kappa, inp.shock_rate
    shock_whale, shock_inflow, month_start, meeting = inp.shock_whale, inp.shock_inflow, inp.month_start, inp.meeting
    signal_p, signal_mask = inp.signal_p, inp.signal_mask
    onchain, macro = blocks.onchain, blocks.macro
    open_f, high_f, low_f, close_f, volume_f = bars.open, bars.high, bars.low, bars.close, bars.volume
    truth_drift, truth_vol, truth_jumps = truth.drift, truth.vol, truth.jumps
    truth_regime, truth_signal_active = truth.regime, truth.signal_active
    zc, z_price, z_volume, u_jumps = work.zc, work.z_price, work.z_volume, work.u_jumps
    z_onchain, z_macro, u_regime, volume_scale, words = (
        work.z_onchain,
        work.z_macro,
        work.u_regime,
        work.volume_scale,
        work.words,
    )
    drift_shift, vol_signal, aux, ring, sig_state = (
        work.drift_shift,
        work.vol_signal,
        work.aux,
        work.ring,
        work.sig_state,
    )
    peg, log_price, garch_h, day_surprise = work.peg, work.log_price, work.garch_h, work.day_surprise
    n_assets = asset_p.shape[0]
    dt_step = 1.0 / (365.0 * spd)
    # random numbers per step, padded to whole Philox quads: a step owns a fixed block of each stream
    per_price = (n_assets * n_sub + 3) // 4 * 4
    per_asset = (n_assets + 3) // 4 * 4
    for a in range(n_assets):
        if asset_p[a, pr.A_PEG_KAPPA] > 0.0:
            pr.peg_constants_nb(asset_p[a, pr.A_PEG_KAPPA], dt_step, dt_step / n_sub, peg, a)
    active_decay, active_noise = oc.active_ou_constants_nb(onchain_p, dt_step)
    dxy_own, dxy_vol = mc.dxy_constants_nb(macro_p, dt_step)
    for a in range(n_assets):
        garch_h[a] = asset_p[a, pr.A_SIGMA] ** 2 * dt_step
        day_surprise[a] = 0.0
    inv_sqrt_spd = 1.0 / math.sqrt(spd)
    sd_max = pr.step_sd_max_nb(spd)
    h_max = sd_max * sd_max
    regime = inp.regime_init
    inflation = macro_p[mc.M_INFL_START]
    rate = macro_p[mc.M_RATE_START]
    log_dxy = math.log(macro_p[mc.M_DXY_START])
    log_active = onchain_p[oc.O_ACTIVE_LOG0]
    # t's slot in the signals' ring, t % ring size, kept by counting (no division a step); an int64
    # from the start, or Numba's first pass over the loop compiles the ring's parts for a literal 0 too
    slot = np.int64(0)
    flow_z_in = flow_z_out = 0.0  # the day's flow noise, drawn at each day's first step

    for t in range(n_steps):
        k = t % STEP_CHUNK
        day_end = spd == 1 or t % spd == spd - 1  # once a step: GARCH and the signals act on whole days
        if k == 0:
            draw_chunk_nb(k0, k1, path, t, min(STEP_CHUNK, n_steps - t), per_price, per_asset,
                          words, z_price, z_volume, u_jumps, z_onchain, z_macro, u_regime)  # fmt: skip

        # --- regime (daily), then the signals fired earlier that are in effect now
        if t > 0 and regime_drift.shape[0] > 1 and t % spd == 0:
            regime = pr.regime_next_nb(regime, u_regime[k], transition_cum)
        truth_regime[i, t] = regime
        signal_effects_nb(signal_p, signal_mask, ring, slot, t, truth_signal_active, i, drift_shift, vol_signal)

        # --- macro: inflation and the policy rate are set before prices move
        prev_rate = rate
        if month_start[t]:
            inflation = mc.inflation_step_nb(macro_p, inflation, z_macro[4 * k])
        if meeting[t]:
            rate = mc.policy_rate_step_nb(macro_p, rate, inflation, z_macro[4 * k + 1])
        rate = max(rate + shock_rate[t], 0.0)

        # --- prices: one bar per asset
        pr.correlate_substeps_nb(z_price, k * per_price, chol, zc, n_assets, n_sub)
        driver_return = 0.0
        driver_z = 0.0
        for a in range(n_assets):
            exposure = asset_p[a, pr.A_EXPOSURE]
            drift_mult = 1.0 + exposure * (regime_drift[regime] - 1.0)
            vol_mult = (1.0 + exposure * (regime_vol[regime] - 1.0)) * shock_vol[t, a] * vol_signal[a]
            vol_mult = min(max(vol_mult, pr.VOL_MULT_MIN), pr.VOL_MULT_MAX)
            kappa = asset_p[a, pr.A_PEG_KAPPA]
            n_jumps, jump_total = 0, 0.0
            if kappa > 0.0:
                row = a
                if shock_kappa[t, a] > 0.0:  # a depeg's recovery reverts at its own speed
                    row = n_assets
                    pr.peg_constants_nb(shock_kappa[t, a], dt_step, dt_step / n_sub, peg, row)
                x_open, x, hi, lo, zsum, step_mean, sd = peg_bar_nb(
                    asset_p, a, peg, row, vol_mult, log_price[a], zc, n_sub, shock_jump[t, a]
                )
                truth_drift[i, t, a] = step_mean
            else:
                jump_sub = -1
                if asset_p[a, pr.A_JUMP_RATE] > 0.0:
                    n_jumps, jump_total, jump_sub = jumps_nb(asset_p, a, k0, k1, t, path, u_jumps[k],
                                                             dt_step, n_sub)  # fmt: skip
                x_open, x, hi, lo, zsum, step_mean, sd = diffusion_bar_nb(
                    asset_p, a, garch_h[a], drift_mult, vol_mult, drift_shift[a], spd, sd_max, log_price[a], zc,
                    n_sub, shock_jump[t, a], jump_total, jump_sub,
                )  # fmt: skip
                truth_drift[i, t, a] = step_mean + asset_p[a, pr.A_JUMP_RATE] * dt_step * asset_p[a, pr.A_JUMP_MEAN]
            truth_vol[i, t, a] = sd
            truth_jumps[i, t, a] = n_jumps
            step_return = write_log_bar_nb(asset_p, a, log_price[a], x_open, x, hi, lo, z_volume[k * per_asset + a],
                                           open_f, high_f, low_f, close_f, volume_f, t * n_assets + a,
                                           volume_scale, k * n_assets + a)  # fmt: skip
            log_price[a] = min(max(x, asset_p[a, pr.A_START_LOG] - pr.LOG_PRICE_BAND),
                               asset_p[a, pr.A_START_LOG] + pr.LOG_PRICE_BAND)  # fmt: skip
            if asset_p[a, pr.A_GARCH_ALPHA] > 0.0 or asset_p[a, pr.A_GARCH_BETA] > 0.0:
                # the whole surprise (jumps and shocks too) feeds the variance. Its diffusive part is
                # divided by the multipliers applied on top of the base variance, so a high-vol regime
                # does not compound into GARCH's own persistence. The jumps and dated shocks, which no
                # multiplier scaled, are divided only by a multiplier above one (a crash's own vol_mult
                # already writes down the turbulence after it; fed whole, crypto_winter's BTC vol went
                # from 1.10 to 1.49), never by one below it (divided, a calming multiplier of 0.01 made
                # a jump count 100x and held the variance at its cap for weeks). Once a day, from the
                # day's surprise, so alpha and beta are daily at any steps_per_day (updated every step, the
                # same alpha and beta made a faster process: daily excess kurtosis 5 at one step a day,
                # 40 at 24). The day's variance is spd x the step's, so h' = omega + alpha E^2 / spd + beta h.
                unscaled = jump_total + shock_jump[t, a]
                day_surprise[a] += (step_return - step_mean - unscaled) / vol_mult + unscaled / max(vol_mult, 1.0)
                if day_end:
                    garch_h[a] = pr.garch_update_nb(garch_h[a], day_surprise[a] * inv_sqrt_spd if spd > 1
                                                    else day_surprise[a], asset_p[a, pr.A_GARCH_OMEGA],
                                                    asset_p[a, pr.A_GARCH_ALPHA], asset_p[a, pr.A_GARCH_BETA], h_max)  # fmt: skip
                    day_surprise[a] = 0.0
            if a == driver:
                driver_return = step_return
                driver_z = zsum * (1.0 / math.sqrt(n_sub))

        # --- on-chain activity reacts to the driver's move; the dollar index moves against it
        if spd == 1 or t % spd == 0:
            # the exchange flows' noise is the day's, drawn at its first step: a fresh draw each step made a day's
            # total vary less the more steps it has (coefficient of variation 0.50 at one step a day, 0.24 at 24)
            flow_z_in, flow_z_out = z_onchain[4 * k + 1], z_onchain[4 * k + 2]
        log_active = onchain_step_nb(onchain_p, asset_p[driver, pr.A_INV_BASE_SD], shock_whale[t], shock_inflow[t],
                                     spd, k0, k1, t, path, driver_return, log_active, active_decay, active_noise,
                                     z_onchain[4 * k], flow_z_in, flow_z_out, onchain, i)  # fmt: skip
        log_dxy = mc.dxy_log_step_nb(macro_p, log_dxy, dt_step, dxy_own, dxy_vol, driver_z, z_macro[4 * k + 2],
                                     rate - prev_rate)  # fmt: skip
        macro[i, t, mc.C_INFLATION] = inflation
        macro[i, t, mc.C_RATE] = rate
        macro[i, t, mc.C_DXY] = exp_nb(log_dxy)

        # --- signals observe each day's last step and schedule their effects from the start of day + lag on
        if day_end:
            signals_observe_nb(signal_p, onchain, macro, i, t, slot, aux, ring, sig_state)
        slot = slot + 1 if slot + 1 < ring.shape[1] else 0

        # --- the chunk's bars: log prices to prices, in one vectorised pass
        if k == STEP_CHUNK - 1 or t == n_steps - 1:
            first = (t - k) * n_assets
            prices_from_logs_nb(open_f, high_f, low_f, close_f, volume_f, volume_scale, first, (t + 1) * n_assets)


@njit(cache=True, error_model="numpy", _nrt=False)
def draw_chunk_nb(k0, k1, path, t, n, per_price, per_asset, words, z_price, z_volume, u_jumps, z_onchain, z_macro,
                  u_regime):  # fmt: skip
    """The random numbers of steps ``t .. t + n - 1``, each stream drawn in one vectorised run."""
    normals_run_nb(k0, k1, path, STREAM_PRICE, t * per_price // 4, n * per_price // 4, words, z_price)
    normals_run_nb(k0, k1, path, STREAM_VOLUME, t * per_asset // 4, n * per_asset // 4, words, z_volume)
    # a step reads one arrival uniform, the first word of its block of the jump stream: only that quad is drawn
    leading_uniforms_nb(k0, k1, path, STREAM_JUMP, t * per_asset // 4, n, per_asset // 4, u_jumps)
    normals_run_nb(k0, k1, path, STREAM_ONCHAIN, t, n, words, z_onchain)
    normals_run_nb(k0, k1, path, STREAM_MACRO, t, n, words, z_macro)
    for q in range(n):  # the macro quad's fourth word drives the regime chain
        u_regime[q] = uniform_from_word_nb(words[4 * q + 3])


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def signal_effects_nb(signal_p, signal_mask, ring, slot, t, active_out, i, drift_shift, vol_signal):
    """Signals fired earlier that are in effect at t (ring slot ``slot = t % ring size``): each asset's drift
    shift and vol multiplier."""
    for a in range(drift_shift.shape[0]):
        drift_shift[a] = 0.0
        vol_signal[a] = 1.0
    for g in range(signal_p.shape[0]):
        active = sg.take_effect_nb(ring, g, slot)
        active_out[i, t, g] = active
        if active:
            for a in range(drift_shift.shape[0]):
                if signal_mask[g, a]:
                    if signal_p[g, sg.S_EFFECT] == sg.EFFECT_DRIFT:
                        drift_shift[a] += signal_p[g, sg.S_STRENGTH]
                    else:
                        vol_signal[a] *= 1.0 + signal_p[g, sg.S_STRENGTH]


@njit(cache=True, error_model="numpy", _nrt=False)
def jumps_nb(asset_p, a, k0, k1, t, path, u_arrival, dt_step, n_sub):
    """Asset a's Merton jumps at step t: ``(count, total log jump, the sub-step they land in or -1)``.

    Jumps are market-wide: one arrival uniform per step for every asset (the first slot of the
    step's block), sizes loading on a common factor drawn past the assets' own slots.
    """
    n_jumps = poisson_inversion_nb(asset_p[a, pr.A_JUMP_RATE] * dt_step, asset_p[a, pr.A_JUMP_P0], u_arrival)
    if n_jumps == 0:
        return 0, 0.0, -1
    n_jumps = min(n_jumps, _JUMP_SLOTS - 1)
    n_assets = asset_p.shape[0]
    load = asset_p[a, pr.A_JUMP_COMMON]
    own = math.sqrt(1.0 - load * load)
    total = 0.0
    for q in range(n_jumps):
        z_common = normal_at_nb(k0, k1, t, path, STREAM_JUMP_SIZE, n_assets * _JUMP_SLOTS + q)
        z_own = normal_at_nb(k0, k1, t, path, STREAM_JUMP_SIZE, a * _JUMP_SLOTS + q)
        total += asset_p[a, pr.A_JUMP_MEAN] + asset_p[a, pr.A_JUMP_STD] * (load * z_common + own * z_own)
    u_pos = uniform_at_nb(k0, k1, t, path, STREAM_JUMP_SIZE, n_assets * _JUMP_SLOTS + _JUMP_SLOTS - 1)
    return n_jumps, total, min(int(u_pos * n_sub), n_sub - 1)


@njit(cache=True, error_model="numpy", _nrt=False)
def peg_bar_nb(asset_p, a, peg, row, vol_mult, lp0, zc, n_sub, shock_jump):
    """A pegged asset's sub-step walk (the exact OU step with ``peg[row]``'s constants).

    Returns ``(log open, log close, max, min, sum of shocks, expected log move, its std)``.
    """
    sd_year = asset_p[a, pr.A_SIGMA] * vol_mult
    x_open, x, hi, lo, zsum = pr.peg_path_nb(lp0, peg[row, pr.P_DECAY_SUB], sd_year * peg[row, pr.P_NOISE_SUB], zc,
                                             a, asset_p.shape[0], n_sub, shock_jump)  # fmt: skip
    return x_open, x, hi, lo, zsum, lp0 * peg[row, pr.P_STEP_DRIFT], sd_year * peg[row, pr.P_STEP_SD]


@njit(cache=True, error_model="numpy", _nrt=False)
def diffusion_bar_nb(asset_p, a, garch_h, drift_mult, vol_mult, drift_shift, spd, sd_max, lp0, zc, n_sub,
                     shock_jump, jump_total, jump_sub):  # fmt: skip
    """A floating asset's sub-step walk: drift, GARCH or constant vol, jumps and dated shocks.

    The step's std is capped at ``sd_max`` (:func:`prometheus_sim.generators.price.step_sd_max_nb`).
    Returns ``(log open, log close, max, min, sum of shocks, expected diffusive log move, its std)``.
    """
    dt_step = 1.0 / (365.0 * spd)
    is_garch = asset_p[a, pr.A_GARCH_ALPHA] > 0.0 or asset_p[a, pr.A_GARCH_BETA] > 0.0
    sd = min((math.sqrt(garch_h) if is_garch else asset_p[a, pr.A_BASE_SD]) * vol_mult, sd_max)
    step_mean = (
        (asset_p[a, pr.A_MU] * drift_mult - asset_p[a, pr.A_JUMP_COMP]) * dt_step - 0.5 * sd * sd + drift_shift / spd
    )
    x_open, x, hi, lo, zsum = pr.diffusion_path_nb(lp0, step_mean, sd, zc, a, asset_p.shape[0], n_sub, shock_jump,
                                                   jump_total, jump_sub)  # fmt: skip
    return x_open, x, hi, lo, zsum, step_mean, sd


@njit(cache=True, error_model="numpy", _nrt=False)
def write_log_bar_nb(asset_p, a, lp0, x_open, x, hi, lo, z_volume, open_f, high_f, low_f, close_f, volume_f, at,
                     volume_scale, at_scale):  # fmt: skip
    """Write asset a's bar in logs at flat index ``at`` (inside the log-price band); return the step's log return.

    What the bar needs of ``exp`` is left to :func:`prices_from_logs_nb`, which does a chunk of
    steps at once: the log open, high, low and close go where the prices will be, the volume's
    log-normal noise where the volume will be, and its scale (the notional of the step, up with
    |return| / normal step vol) to ``volume_scale[at_scale]``. The band keeps the combined effect
    of stacked shocks inside float range.
    """
    low_band = asset_p[a, pr.A_START_LOG] - pr.LOG_PRICE_BAND
    high_band = asset_p[a, pr.A_START_LOG] + pr.LOG_PRICE_BAND
    x = min(max(x, low_band), high_band)
    open_f[at] = min(max(x_open, low_band), high_band)
    high_f[at] = min(max(hi, low_band), high_band)
    low_f[at] = min(max(lo, low_band), high_band)
    close_f[at] = x
    step_return = x - lp0
    noise = asset_p[a, pr.A_VOLUME_NOISE]
    volume_f[at] = noise * z_volume - 0.5 * noise * noise
    volume_scale[at_scale] = asset_p[a, pr.A_VOLUME_UNIT] * (
        1.0 + asset_p[a, pr.A_VOLUME_SENS] * abs(step_return) * asset_p[a, pr.A_INV_BASE_SD]
    )
    return step_return


@njit(cache=True, error_model="numpy", _nrt=False)
def prices_from_logs_nb(open_f, high_f, low_f, close_f, volume_f, volume_scale, start, stop):
    """Flat entries ``start .. stop - 1``: log OHLC to prices (low <= open, close <= high), volume to units.

    The loop is straight-line over contiguous memory, so LLVM runs :func:`~prometheus_sim.fastexp.exp_nb`
    on a vector of lanes at a time: about 0.8 ns an exponential instead of 4-10 ns for the C
    library's, called one at a time from inside the step.
    """
    # Loops over slices from 0, one array written per loop: an index that could be negative (a loop
    # from ``start``) or more arrays written together (LLVM's alias checks between them exceed its
    # limit) leave the loop scalar.
    o, h, lo, c, v = (
        open_f[start:stop],
        high_f[start:stop],
        low_f[start:stop],
        close_f[start:stop],
        volume_f[start:stop],
    )
    n = stop - start
    for j in range(n):
        o[j] = exp_nb(o[j])
    for j in range(n):
        c[j] = exp_nb(c[j])
    for j in range(n):
        h[j] = max(exp_nb(h[j]), o[j], c[j])
    for j in range(n):
        lo[j] = min(exp_nb(lo[j]), o[j], c[j])
    for j in range(n):
        v[j] = volume_scale[j] / c[j] * exp_nb(v[j])


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def onchain_step_nb(onchain_p, driver_inv_sd, whale_mult, inflow_mult, spd, k0, k1, t, path, driver_return,
                    log_active, active_decay, active_noise, z_active, z_in, z_out, onchain, i):  # fmt: skip
    """Whale transactions, active addresses and exchange flows at t, reacting to the driver's move
    (``z_active`` the step's normal for active addresses, ``z_in``, ``z_out`` the day's for the flows).

    Activity reacts to the move in units of the driver's normal step vol, saturating at
    +/- ``ZS_CAP`` so a dated crash on a calm asset cannot push flows to infinity. Returns the new
    log active addresses.
    """
    zs = min(max(driver_return * driver_inv_sd, -ZS_CAP), ZS_CAP)
    whales = oc.whale_count_nb(onchain_p, zs, whale_mult, spd, k0, k1, t, path)
    log_active = oc.active_log_step_nb(onchain_p, log_active, t, 1.0 / (365.0 * spd), active_decay, active_noise,
                                       driver_return, z_active)  # fmt: skip
    inflow, outflow = oc.flows_nb(onchain_p, zs, inflow_mult, spd, z_in, z_out)
    onchain[i, t, oc.C_WHALE] = whales
    onchain[i, t, oc.C_ACTIVE] = np.floor(exp_nb(log_active) + 0.5)  # a float: math.floor's int64 could wrap
    onchain[i, t, oc.C_INFLOW] = inflow
    onchain[i, t, oc.C_OUTFLOW] = outflow
    return log_active


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def signals_observe_nb(signal_p, onchain, macro, i, t, slot, aux, ring, sig_state):
    """Signals observe step t's on-chain and macro values and schedule their effects from t+lag on (``slot``:
    t's slot in the ring)."""
    for c in range(4):
        aux[c] = onchain[i, t, c]
    for c in range(3):
        aux[4 + c] = macro[i, t, c]
    for g in range(signal_p.shape[0]):
        value = aux[int(signal_p[g, sg.S_SOURCE])]
        if sg.signal_fires_nb(signal_p, g, value, sig_state):
            sg.schedule_effect_nb(ring, g, slot, int(signal_p[g, sg.S_LAG]), int(signal_p[g, sg.S_DURATION]))
