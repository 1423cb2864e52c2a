"""Turn a validated :class:`ScenarioSpec` into the flat arrays the Numba kernel reads.

Everything that is the same on every path (dated shocks, calendar flags, Cholesky factor) is
computed here once, in NumPy, so the kernel only does per-path work.
"""

from __future__ import annotations

import json
import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from prometheus_sim.generators import macro as mc
from prometheus_sim.generators import onchain as oc
from prometheus_sim.generators import price as pr
from prometheus_sim.generators import signals as sg
from prometheus_sim.scenario import (
    SIGNAL_SOURCES,
    CrashShock,
    DepegShock,
    RateHikeShock,
    ScenarioSpec,
    WhaleDumpShock,
)


class KernelInputs(NamedTuple):
    """Everything :func:`simulate_rows_nb` needs besides the seed, path ids and outputs.

    A named tuple, so the kernel takes it whole and reads fields by name: no positional list of
    arrays to keep in the same order in two places.
    """

    n_steps: int
    steps_per_day: int
    n_sub: int
    asset_p: np.ndarray  # (A, N_ASSET_PARAMS)
    chol: np.ndarray  # (A, A) lower Cholesky factor of the correlation matrix
    driver: int
    transition_cum: np.ndarray  # (R, R) cumulative rows, per day
    regime_drift: np.ndarray  # (R,)
    regime_vol: np.ndarray  # (R,)
    regime_init: int
    shock_jump: np.ndarray  # (T, A) dated log-price jumps
    shock_vol: np.ndarray  # (T, A) volatility multipliers
    shock_kappa: np.ndarray  # (T, A) peg reversion overrides, 0 = none
    shock_whale: np.ndarray  # (T,)
    shock_inflow: np.ndarray  # (T,)
    shock_rate: np.ndarray  # (T,) policy-rate moves
    month_start: np.ndarray  # (T,) int8
    meeting: np.ndarray  # (T,) int8
    onchain_p: np.ndarray
    macro_p: np.ndarray
    signal_p: np.ndarray  # (G, N_SIGNAL_PARAMS)
    signal_mask: np.ndarray  # (G, A) int8
    ring_size: int


def calendar(spec: ScenarioSpec) -> pd.DatetimeIndex:
    """Start time of every step: ``start_date`` at midnight, ``1440 / steps_per_day`` minutes apart."""
    minutes = 1440 // spec.steps_per_day
    return pd.date_range(pd.Timestamp(spec.start_date), periods=spec.n_steps, freq=pd.Timedelta(minutes=minutes))


OMEGA_FLOOR = 0.05  # omega's least share of the diffusive budget vol^2 dt (1 - alpha - beta)


def long_run_diffusive_vols(spec: ScenarioSpec) -> dict[str, tuple[float, float]]:
    """GARCH assets whose jumps feed the variance more than ``vol`` leaves room for: {name: (vol, long-run vol)}.

    omega leaves room for the jumps so that the long-run diffusive variance is ``vol^2 dt``; when
    alpha x the jumps' variance per step exceeds (1 - OMEGA_FLOOR) of that budget, omega stays at its
    floor and the long-run diffusive vol is higher than declared: sqrt((omega + alpha jump_var) / (1 -
    alpha - beta) / dt), the same in any steps per day. ``scenarios validate`` reports it.
    """
    out = {}
    for asset in spec.assets:
        proc = asset.process
        if proc.garch is None or proc.jumps is None:
            continue
        dt = 1.0 / 365.0  # the ratio below does not depend on the step
        alpha, beta, j = proc.garch.alpha, proc.garch.beta, proc.jumps
        omega, jump_var, floored = garch_omega(asset.vol, alpha, beta, j.intensity, j.mean, j.std, dt)
        if floored:
            out[asset.name] = (asset.vol, math.sqrt((omega + alpha * jump_var) / (1.0 - alpha - beta) / dt))
    return out


def heavy_tailed_garch(spec: ScenarioSpec) -> dict[str, float]:
    """GARCH assets whose returns have no finite fourth moment: {name: 3 alpha^2 + 2 alpha beta + beta^2 (>= 1)}.

    Why it matters: the variance is then so heavy-tailed that its mean, the declared ``vol``, is reached only
    through rare huge episodes, and a run's realised vol falls short of ``vol`` by a margin that shrinks slowly
    with length (declared 0.8 at alpha 0.3, beta 0.69 gave 0.66 pooled over 50 paths x 4 years and 0.52 on the
    median path; at alpha 0.1, beta 0.88, where the moment is finite, 0.81 and 0.77). With normal innovations the
    fourth moment is finite when 3 alpha^2 + 2 alpha beta + beta^2 < 1 (Bollerslev 1986). ``scenarios validate``
    reports it.
    """
    out = {}
    for asset in spec.assets:
        garch = asset.process.garch
        if garch is None:
            continue
        moment = 3.0 * garch.alpha**2 + 2.0 * garch.alpha * garch.beta + garch.beta**2
        if moment >= 1.0:
            out[asset.name] = moment
    return out


def garch_omega(vol: float, alpha: float, beta: float, jump_rate: float, jump_mean: float, jump_std: float,
                dt: float) -> tuple[float, float, bool]:  # fmt: skip
    """(omega, the jumps' variance per step, whether omega sits at its floor) for a step of ``dt`` years.

    Jumps feed the GARCH variance; omega leaves room for them, so the long-run *diffusive* variance stays
    vol^2 dt: (omega + alpha x E[jump^2 per step]) / (1 - alpha - beta), unless that room runs out.
    """
    target = vol**2 * dt * (1.0 - alpha - beta)
    jump_var = jump_rate * dt * (jump_mean**2 + jump_std**2)
    return (
        max(target - alpha * jump_var, OMEGA_FLOOR * target),
        jump_var,
        target - alpha * jump_var < OMEGA_FLOOR * target,
    )


def build_inputs(spec: ScenarioSpec) -> KernelInputs:
    n_assets = len(spec.assets)
    n_steps = spec.n_steps
    spd = spec.steps_per_day
    names = spec.asset_names

    asset_p = np.zeros((n_assets, pr.N_ASSET_PARAMS))
    for a, asset in enumerate(spec.assets):
        proc = asset.process
        asset_p[a, pr.A_START_LOG] = math.log(asset.start_price)
        asset_p[a, pr.A_MU] = asset.drift
        asset_p[a, pr.A_SIGMA] = asset.vol
        if proc.garch is not None:
            asset_p[a, pr.A_GARCH_ALPHA] = proc.garch.alpha
            asset_p[a, pr.A_GARCH_BETA] = proc.garch.beta
        if proc.jumps is not None:
            asset_p[a, pr.A_JUMP_RATE] = proc.jumps.intensity
            asset_p[a, pr.A_JUMP_MEAN] = proc.jumps.mean
            asset_p[a, pr.A_JUMP_STD] = proc.jumps.std
            asset_p[a, pr.A_JUMP_COMMON] = proc.jumps.common
        if proc.peg is not None:
            asset_p[a, pr.A_PEG_KAPPA] = proc.peg.kappa
        asset_p[a, pr.A_EXPOSURE] = asset.exposure
        asset_p[a, pr.A_VOLUME_USD] = asset.volume.daily_usd
        asset_p[a, pr.A_VOLUME_SENS] = asset.volume.abs_return_sensitivity
        asset_p[a, pr.A_VOLUME_NOISE] = asset.volume.noise
        dt_step = 1.0 / (365.0 * spd)
        base_sd = asset.vol * math.sqrt(dt_step)
        asset_p[a, pr.A_BASE_SD] = base_sd
        asset_p[a, pr.A_INV_BASE_SD] = 1.0 / base_sd
        if proc.jumps is not None:
            j = proc.jumps
            asset_p[a, pr.A_JUMP_COMP] = j.intensity * (math.exp(j.mean + 0.5 * j.std**2) - 1.0)
        asset_p[a, pr.A_JUMP_P0] = math.exp(-asset_p[a, pr.A_JUMP_RATE] * dt_step)
        asset_p[a, pr.A_GARCH_OMEGA] = garch_omega(
            asset.vol, asset_p[a, pr.A_GARCH_ALPHA], asset_p[a, pr.A_GARCH_BETA], asset_p[a, pr.A_JUMP_RATE],
            asset_p[a, pr.A_JUMP_MEAN], asset_p[a, pr.A_JUMP_STD], dt_step,
        )[0]  # fmt: skip
        asset_p[a, pr.A_VOLUME_UNIT] = asset.volume.daily_usd / spd

    chol = np.linalg.cholesky(spec.correlation_matrix())

    if spec.regimes is not None:
        states = spec.regimes.states
        trans = np.asarray(spec.regimes.transition, dtype=np.float64)
        transition_cum = np.cumsum(trans, axis=1)
        transition_cum[:, -1] = 1.0
        regime_drift = np.array([s.drift_mult for s in states])
        regime_vol = np.array([s.vol_mult for s in states])
        regime_init = [s.name for s in states].index(spec.regimes.initial)
    else:
        transition_cum = np.ones((1, 1))
        regime_drift = np.ones(1)
        regime_vol = np.ones(1)
        regime_init = 0

    shock_jump = np.zeros((n_steps, n_assets))
    shock_vol = np.ones((n_steps, n_assets))
    shock_kappa = np.zeros((n_steps, n_assets))
    shock_whale = np.ones(n_steps)
    shock_inflow = np.ones(n_steps)
    shock_rate = np.zeros(n_steps)
    risky = [names.index(n) for n in spec.default_risky_assets()]
    driver = spec.driver_index
    # in order of day, then of content: the order a file lists its shocks in changes nothing (a later depeg takes over
    # its asset's reversion from its own day; listed first, an earlier one overwrote it, review of 2026-12-04)
    for shock in sorted(spec.shocks, key=lambda s: (s.day, json.dumps(s.model_dump(mode="json"), sort_keys=True))):
        start = shock.day * spd
        if isinstance(shock, CrashShock):
            targets = [names.index(n) for n in shock.assets] if shock.assets is not None else risky
            end = min(n_steps, (shock.day + shock.duration_days) * spd)
            for a in targets:
                shock_jump[start, a] += shock.size
                np.clip(shock_vol[start:end, a] * shock.vol_mult, 1.0 / pr.SHOCK_VOL_BOUND, pr.SHOCK_VOL_BOUND,
                        out=shock_vol[start:end, a])  # fmt: skip
        elif isinstance(shock, WhaleDumpShock):
            a = names.index(shock.asset) if shock.asset is not None else driver
            end = min(n_steps, (shock.day + shock.duration_days) * spd)
            np.minimum(shock_whale[start:end] * shock.whale_mult, oc.SHOCK_MULT_MAX, out=shock_whale[start:end])
            np.minimum(shock_inflow[start:end] * shock.inflow_mult, oc.SHOCK_MULT_MAX, out=shock_inflow[start:end])
            if start + spd < n_steps:  # the dump's price move lands the next day; a dump on the last day has none
                shock_jump[start + spd, a] += shock.size
        elif isinstance(shock, RateHikeShock):
            shock_rate[start] += shock.bps / 10_000.0
        elif isinstance(shock, DepegShock):
            a = names.index(shock.asset)
            end = min(n_steps, (shock.day + shock.recovery_days) * spd)
            shock_jump[start, a] += math.log(1.0 - shock.depth)
            shock_kappa[start:end, a] = math.log(2.0) / (shock.recovery_half_life_days / 365.0)

    cal = calendar(spec)
    day_start = (np.arange(n_steps) % spd) == 0
    new_month = np.zeros(n_steps, dtype=bool)
    new_month[1:] = cal.month[1:] != cal.month[:-1]
    month_start = (new_month & day_start).astype(np.int8)
    days = np.arange(n_steps) // spd
    every = spec.macro.policy_rate.meeting_every_days
    meeting = (day_start & (days > 0) & (days % every == 0)).astype(np.int8)

    o = spec.onchain
    onchain_p = np.zeros(oc.N_ONCHAIN_PARAMS)
    onchain_p[oc.O_WHALE_PER_DAY] = o.whale_tx_per_day
    onchain_p[oc.O_WHALE_SENS] = o.whale_return_sensitivity
    onchain_p[oc.O_ACTIVE_LOG0] = math.log(o.active_addresses)
    onchain_p[oc.O_ACTIVE_GROWTH] = o.active_growth
    onchain_p[oc.O_ACTIVE_REVERSION] = o.active_reversion
    onchain_p[oc.O_ACTIVE_PRICE_BETA] = o.active_price_beta
    onchain_p[oc.O_ACTIVE_VOL] = o.active_vol
    onchain_p[oc.O_INFLOW_PER_DAY] = o.inflow_per_day
    onchain_p[oc.O_OUTFLOW_PER_DAY] = o.outflow_per_day
    onchain_p[oc.O_FLOW_VOL] = o.flow_vol
    onchain_p[oc.O_FLOW_BETA] = o.flow_return_beta

    m = spec.macro
    macro_p = np.zeros(mc.N_MACRO_PARAMS)
    macro_p[mc.M_INFL_MEAN] = m.inflation.mean
    macro_p[mc.M_INFL_PHI] = m.inflation.phi
    macro_p[mc.M_INFL_VOL] = m.inflation.vol
    macro_p[mc.M_INFL_START] = m.inflation.start
    macro_p[mc.M_RATE_NEUTRAL] = m.policy_rate.neutral
    macro_p[mc.M_RATE_TARGET_INFL] = m.policy_rate.inflation_target
    macro_p[mc.M_RATE_RESPONSE] = m.policy_rate.inflation_response
    macro_p[mc.M_RATE_STEP] = m.policy_rate.step
    macro_p[mc.M_RATE_NOISE] = m.policy_rate.noise
    macro_p[mc.M_RATE_START] = m.policy_rate.start
    macro_p[mc.M_DXY_LOG_MEAN] = math.log(m.dxy.mean)
    macro_p[mc.M_DXY_REVERSION] = m.dxy.reversion
    macro_p[mc.M_DXY_VOL] = m.dxy.vol
    macro_p[mc.M_DXY_CORR] = m.dxy.crypto_correlation
    macro_p[mc.M_DXY_RATE_BETA] = m.dxy.rate_beta
    macro_p[mc.M_DXY_START] = m.dxy.start

    n_sig = len(spec.signals)
    signal_p = np.zeros((n_sig, sg.N_SIGNAL_PARAMS))
    signal_mask = np.zeros((n_sig, n_assets), dtype=np.int8)
    ring_size = 1
    for g, s in enumerate(spec.signals):
        # a signal observes its source once a day, at the day's last step (so its z-score's EWMA and its firings
        # are per day at any steps_per_day: tested every step, it fired up to steps_per_day times as often), and
        # a firing on day d acts on every step of days d + lag .. d + lag + duration - 1
        signal_p[g, sg.S_SOURCE] = SIGNAL_SOURCES.index(s.source)
        signal_p[g, sg.S_TRANSFORM] = sg.TRANSFORM_ZSCORE if s.transform == "zscore" else sg.TRANSFORM_CHANGE
        signal_p[g, sg.S_THRESHOLD] = s.threshold
        signal_p[g, sg.S_ALPHA] = 2.0 / (s.window_days + 1.0)
        signal_p[g, sg.S_WARMUP] = math.ceil(s.window_days)
        signal_p[g, sg.S_LAG] = s.lag_days * spd - (spd - 1)  # from the day's last step to day + lag's first
        signal_p[g, sg.S_DURATION] = s.duration_days * spd
        signal_p[g, sg.S_EFFECT] = sg.EFFECT_DRIFT if s.effect == "drift" else sg.EFFECT_VOL
        signal_p[g, sg.S_STRENGTH] = s.strength
        targets = s.assets if s.assets is not None else spec.default_risky_assets()
        for name in targets:
            signal_mask[g, names.index(name)] = 1
        ring_size = max(ring_size, (s.lag_days + s.duration_days) * spd)

    return KernelInputs(
        n_steps=n_steps, steps_per_day=spd, n_sub=spec.substeps, asset_p=asset_p, chol=chol, driver=driver,
        transition_cum=transition_cum, regime_drift=regime_drift, regime_vol=regime_vol, regime_init=regime_init,
        shock_jump=shock_jump, shock_vol=shock_vol, shock_kappa=shock_kappa, shock_whale=shock_whale,
        shock_inflow=shock_inflow, shock_rate=shock_rate, month_start=month_start, meeting=meeting,
        onchain_p=onchain_p, macro_p=macro_p, signal_p=signal_p, signal_mask=signal_mask, ring_size=ring_size,
    )  # fmt: skip


def shock_moves(inputs: KernelInputs) -> np.ndarray:
    """(T, A): the expected log move each dated shock adds to its step's close, what ``truth.shock_jump`` holds.

    A floating asset keeps a shock whole. A pegged one starts reverting within the step: the shock lands
    after the first of ``n_sub`` sub-steps and then decays by the sub-step's factor ``exp(-kappa dt_sub)``
    over the rest (kappa: the de-peg's recovery speed where one is in effect, else the peg's own), so the
    close expects ``shock x decay^(n_sub - 1)`` of it (stablecoin_depeg's 12 % de-peg, recovering with a
    6-day half-life, at 4 sub-steps: 8 % less, log -0.117 for -0.128).
    """
    moves = inputs.shock_jump.copy()
    dt_sub = 1.0 / (365.0 * inputs.steps_per_day) / inputs.n_sub
    for a in range(moves.shape[1]):
        own = inputs.asset_p[a, pr.A_PEG_KAPPA]
        if own <= 0.0:
            continue
        for t in np.flatnonzero(moves[:, a]):
            kappa = inputs.shock_kappa[t, a] if inputs.shock_kappa[t, a] > 0.0 else own
            moves[t, a] *= math.exp(-kappa * dt_sub) ** (inputs.n_sub - 1)
    return moves
