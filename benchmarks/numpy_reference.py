"""The plain NumPy reference of the simulator's model, as a user would write it by hand: the bar of issue 9's speed target.

``default_rng``, vectorised over paths (and assets), a Python loop over steps and sub-steps. It takes its
numbers from :func:`~prometheus_sim.generators.build_inputs`, so it simulates the same model as the kernel
(``prometheus_sim.generators.engine``), with its own random numbers: the outputs agree in distribution, not in
bytes (:func:`model_statistics` and ``tests/test_bench_reference.py`` check that they agree).

Two extents, both timed by ``bench_simulate.py``:

- ``everything=True`` (the like-for-like bar): every array ``generate`` returns, in the same names, shapes and
  dtypes: OHLCV, on-chain activity (whale Poisson counts, active addresses, exchange flows), macro (inflation,
  policy rate, dollar index), the lead-lag signals (their z-score or change tests, scheduled effects on drift and
  vol) and the truth (regime, drift, vol, jump counts, signals in effect).
- ``everything=False``: prices and volume only (regimes, GARCH, correlated sub-steps, market-wide jumps, pegs,
  the clamps), with no signals: the reference this benchmark used until 2026-12-04. It does less work than the
  kernel, so a ratio against it understates the kernel.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from prometheus_sim.generators import KernelInputs


def reference_simulate(inp: KernelInputs, seed: int, n_paths: int, everything: bool = True) -> dict[str, np.ndarray]:
    """Simulate ``n_paths`` paths of ``inp`` in plain NumPy; arrays named as :func:`prometheus_sim.generators.layout`.

    Per step, in the kernel's order: the regime (daily Markov chain, scaling drift and vol by each asset's
    exposure); the signals in effect (drift shifts, vol multipliers); inflation (monthly AR(1)) and the policy
    rate (a step towards a Taylor-like target at each meeting, plus dated hikes); prices: Cholesky-correlated
    normals per sub-step, GARCH(1,1) fed by the day's whole surprise, market-wide Merton jumps (one arrival
    uniform per path and step, sizes loading on a common factor, one sub-step for all), an exact OU walk for
    pegs, dated shocks with the kernel's clamps, the open as the first sub-step, OHLC from the sub-step
    extremes, volume = notional / close x (1 + sens |r| / sd) x lognormal; on-chain activity reacting to the
    driver's standardised move (whale counts Poisson, log active addresses an exact OU step around a growing
    trend, lognormal flows with the day's noise); the dollar index (log OU, shocks correlated with the
    driver's, jumps with rate moves); at each day's last step the signals observe their source and schedule
    their effects ``lag`` steps on.
    """
    from scipy.stats import poisson

    from prometheus_sim.generators import price as pr

    rng = np.random.default_rng(seed)
    ap = inp.asset_p
    n_steps, spd, n_sub = inp.n_steps, inp.steps_per_day, inp.n_sub
    n_assets = ap.shape[0]
    dt_step = 1.0 / (365.0 * spd)
    dt_sub = dt_step / n_sub
    shape = (n_paths, n_steps, n_assets)
    out = {k: np.empty(shape) for k in ("open", "high", "low", "close", "volume")}

    exposure = ap[:, pr.A_EXPOSURE]
    mu, sigma = ap[:, pr.A_MU], ap[:, pr.A_SIGMA]
    base_sd, inv_base_sd = ap[:, pr.A_BASE_SD], ap[:, pr.A_INV_BASE_SD]
    alpha, beta, omega = ap[:, pr.A_GARCH_ALPHA], ap[:, pr.A_GARCH_BETA], ap[:, pr.A_GARCH_OMEGA]
    jump_comp = ap[:, pr.A_JUMP_COMP]
    is_garch = (alpha > 0.0) | (beta > 0.0)
    peg = np.flatnonzero(ap[:, pr.A_PEG_KAPPA] > 0.0)
    jmp = np.flatnonzero((ap[:, pr.A_JUMP_RATE] > 0.0) & (ap[:, pr.A_PEG_KAPPA] <= 0.0))
    jump_lam = ap[jmp, pr.A_JUMP_RATE] * dt_step
    jump_mean, jump_std = ap[jmp, pr.A_JUMP_MEAN], ap[jmp, pr.A_JUMP_STD]
    load = ap[jmp, pr.A_JUMP_COMMON]
    own = np.sqrt(1.0 - load * load)
    jump_cdf = poisson.cdf(np.arange(32)[:, None], jump_lam[None, :])  # inversion table, (count, asset)
    vol_unit, vol_sens, vol_noise = ap[:, pr.A_VOLUME_UNIT], ap[:, pr.A_VOLUME_SENS], ap[:, pr.A_VOLUME_NOISE]
    chol_t = inp.chol.T
    tcum = inp.transition_cum
    n_regimes = inp.regime_drift.shape[0]
    centre = ap[:, pr.A_START_LOG]
    band_lo, band_hi = centre - pr.LOG_PRICE_BAND, centre + pr.LOG_PRICE_BAND

    log_price = np.broadcast_to(centre, (n_paths, n_assets)).copy()
    garch_h = np.broadcast_to(sigma**2 * dt_step, (n_paths, n_assets)).copy()
    day_eps = np.zeros((n_paths, n_assets))
    regime = np.full(n_paths, inp.regime_init, dtype=np.int64)

    if everything:
        full = _FullState(inp, n_paths, rng)
        out.update(full.outputs)

    for t in range(n_steps):
        if t > 0 and n_regimes > 1 and t % spd == 0:
            u = rng.random(n_paths)
            regime = (u[:, None] >= tcum[regime, :-1]).sum(axis=1)
        drift_mult = 1.0 + exposure * (inp.regime_drift[regime][:, None] - 1.0)
        vol_mult = (1.0 + exposure * (inp.regime_vol[regime][:, None] - 1.0)) * inp.shock_vol[t]
        drift_shift = 0.0
        if everything:
            full.outputs["regime"][:, t] = regime
            prev_rate = full.macro_before_prices(t)
            drift_shift, vol_signal = full.signals_in_effect(t)
            vol_mult = vol_mult * vol_signal
        vol_mult = np.clip(vol_mult, pr.VOL_MULT_MIN, pr.VOL_MULT_MAX)
        sd = np.minimum(np.where(is_garch, np.sqrt(garch_h), base_sd) * vol_mult, pr.STEP_SD_MAX)
        step_mean = (mu * drift_mult - jump_comp) * dt_step - 0.5 * sd * sd + drift_shift / spd
        sub_mean = step_mean / n_sub
        sub_sd = sd / np.sqrt(n_sub)

        z = rng.standard_normal((n_sub, n_paths, n_assets)) @ chol_t  # correlated, per sub-step

        # market-wide jumps: one arrival uniform per path and step for every asset, sizes
        # loading on a common factor, all in one sub-step; the count by inversion of that uniform,
        # a binary search per asset (comparing it against the whole table took 28 % of this
        # reference's time: a hand-written reference would not, review of 2026-12-04)
        u = rng.random(n_paths)
        n_jumps = np.zeros((n_paths, 0), dtype=np.int64)
        if jmp.size:
            n_jumps = np.stack([np.searchsorted(jump_cdf[:, j], u, side="left") for j in range(jmp.size)], axis=1)
        most = int(n_jumps.max()) if n_jumps.size else 0
        jump_total = np.zeros((n_paths, jmp.size))
        if most > 0:
            first_k = np.arange(most)[None, :, None] < n_jumps[:, None, :]  # (paths, slot, asset)
            z_common = rng.standard_normal((n_paths, most, 1))
            z_own = rng.standard_normal((n_paths, most, jmp.size))
            sizes = jump_mean + jump_std * (load * z_common + own * z_own)
            jump_total = (sizes * first_k).sum(axis=1)
        jump_sub = rng.integers(0, n_sub, size=(n_paths, 1))

        kappa = np.where(inp.shock_kappa[t, peg] > 0.0, inp.shock_kappa[t, peg], ap[peg, pr.A_PEG_KAPPA])
        decay = np.exp(-kappa * dt_sub)
        peg_noise = sigma[peg] * vol_mult[:, peg] * np.sqrt((1.0 - decay * decay) / (2.0 * kappa))

        x = log_price.copy()
        hi = np.full_like(x, -np.inf)
        lo = np.full_like(x, np.inf)
        x_open = x
        for s in range(n_sub):
            x_peg = x[:, peg] * decay + peg_noise * z[s][:, peg]
            x += sub_mean + sub_sd * z[s]
            x[:, peg] = x_peg
            if s == 0:
                x += inp.shock_jump[t]
            x[:, jmp] += np.where(jump_sub == s, jump_total, 0.0)
            if s == 0:
                x_open = x.copy()
            np.maximum(hi, x, out=hi)
            np.minimum(lo, x, out=lo)
        x_open, x, hi, lo = (np.clip(v, band_lo, band_hi) for v in (x_open, x, hi, lo))

        open_, close = np.exp(x_open), np.exp(x)
        step_return = x - log_price
        out["open"][:, t] = open_
        out["high"][:, t] = np.maximum(np.maximum(np.exp(hi), open_), close)
        out["low"][:, t] = np.minimum(np.minimum(np.exp(lo), open_), close)
        out["close"][:, t] = close
        z_vol = rng.standard_normal((n_paths, n_assets))
        out["volume"][:, t] = (
            vol_unit / close * (1.0 + vol_sens * np.abs(step_return) * inv_base_sd)
            * np.exp(vol_noise * z_vol - 0.5 * vol_noise * vol_noise)
        )  # fmt: skip
        if everything:
            # the truth: the expected log move (jumps' mean included) and its std, the jump counts; a peg's
            # from its exact OU step, at the reversion in effect
            drift = step_mean + ap[:, pr.A_JUMP_RATE] * dt_step * ap[:, pr.A_JUMP_MEAN]
            vol = sd.copy()
            drift[:, peg] = log_price[:, peg] * np.expm1(-kappa * dt_step)
            vol[:, peg] = sigma[peg] * vol_mult[:, peg] * np.sqrt(-np.expm1(-2.0 * kappa * dt_step) / (2.0 * kappa))
            full.outputs["drift"][:, t] = drift
            full.outputs["vol"][:, t] = vol
            full.outputs["jumps"][:, t, jmp] = n_jumps
            driver_z = z[:, :, inp.driver].sum(axis=0) / math.sqrt(n_sub)
            full.after_prices(t, step_return[:, inp.driver], driver_z, prev_rate)

        day_eps += (step_return - step_mean) / vol_mult  # the whole surprise, in base-variance units
        if t % spd == spd - 1:  # once a day, from the day's surprise (its variance is spd x a step's)
            eps = day_eps / math.sqrt(spd)
            garch_h = np.where(is_garch, np.minimum(omega + alpha * eps * eps + beta * garch_h, pr.STEP_SD_MAX**2),
                               garch_h)  # fmt: skip
            day_eps[:] = 0.0
        log_price = x
    return out


class _FullState:
    """What :func:`reference_simulate` adds to prices with ``everything``: macro, on-chain, signals and the truth.

    Running state per path (vectors over paths), updated in the kernel's order around the price step.
    """

    def __init__(self, inp: KernelInputs, n_paths: int, rng: np.random.Generator) -> None:
        from prometheus_sim.generators import macro as mc
        from prometheus_sim.generators import onchain as oc
        from prometheus_sim.generators import signals as sg

        self.inp, self.rng, self.n = inp, rng, n_paths
        n_steps, n_assets, n_sig = inp.n_steps, inp.asset_p.shape[0], inp.signal_p.shape[0]
        self.spd = inp.steps_per_day
        self.dt = 1.0 / (365.0 * self.spd)
        self.outputs = {
            "onchain": np.empty((n_paths, n_steps, 4)), "macro": np.empty((n_paths, n_steps, 3)),
            "regime": np.empty((n_paths, n_steps), np.int8), "drift": np.empty((n_paths, n_steps, n_assets)),
            "vol": np.empty((n_paths, n_steps, n_assets)), "jumps": np.zeros((n_paths, n_steps, n_assets), np.int16),
            "signal_active": np.empty((n_paths, n_steps, n_sig), np.int8),
        }  # fmt: skip
        m, o = inp.macro_p, inp.onchain_p
        self.inflation = np.full(n_paths, m[mc.M_INFL_START])
        self.rate = np.full(n_paths, m[mc.M_RATE_START])
        self.log_dxy = np.full(n_paths, math.log(m[mc.M_DXY_START]))
        self.log_active = np.full(n_paths, o[oc.O_ACTIVE_LOG0])
        self.flow_z = np.zeros((2, n_paths))
        theta = o[oc.O_ACTIVE_REVERSION]
        self.active_decay = math.exp(-theta * self.dt)
        self.active_noise = o[oc.O_ACTIVE_VOL] * math.sqrt((1.0 - self.active_decay**2) / (2.0 * theta))
        self.dxy_own = math.sqrt(1.0 - m[mc.M_DXY_CORR] ** 2)
        self.dxy_vol = m[mc.M_DXY_VOL] * math.sqrt(self.dt)
        # signals: running mean, variance, previous value per (path, signal); the count is every path's
        sp = inp.signal_p
        self.sig_mean = np.zeros((n_paths, n_sig))
        self.sig_var = np.zeros((n_paths, n_sig))
        self.sig_prev = np.zeros((n_paths, n_sig))
        self.sig_count = np.zeros(n_sig, dtype=np.int64)
        self.ring = np.zeros((n_paths, n_sig, inp.ring_size), dtype=bool)
        self.slot = 0
        mask = inp.signal_mask.astype(bool)
        drift_effect = sp[:, sg.S_EFFECT] == sg.EFFECT_DRIFT
        self.drift_table = np.where(mask & drift_effect[:, None], sp[:, sg.S_STRENGTH][:, None], 0.0)  # (G, A)
        self.vol_factor = np.where(mask & ~drift_effect[:, None], 1.0 + sp[:, sg.S_STRENGTH][:, None], 1.0)
        self.has_vol = bool((~drift_effect).any())
        self.source = sp[:, sg.S_SOURCE].astype(np.int64)
        self.zscore = sp[:, sg.S_TRANSFORM] == sg.TRANSFORM_ZSCORE

    def macro_before_prices(self, t: int) -> np.ndarray:
        """Inflation and the policy rate at t, set before prices move; returns the rate before them."""
        from prometheus_sim.generators import macro as mc

        inp, m = self.inp, self.inp.macro_p
        prev = self.rate
        if inp.month_start[t]:
            self.inflation = m[mc.M_INFL_MEAN] + m[mc.M_INFL_PHI] * (self.inflation - m[mc.M_INFL_MEAN]) + (
                m[mc.M_INFL_VOL] * self.rng.standard_normal(self.n))  # fmt: skip
        rate = prev
        if inp.meeting[t]:
            target = m[mc.M_RATE_NEUTRAL] + m[mc.M_RATE_RESPONSE] * (self.inflation - m[mc.M_RATE_TARGET_INFL]) + (
                m[mc.M_RATE_NOISE] * self.rng.standard_normal(self.n))  # fmt: skip
            gap, step = target - prev, m[mc.M_RATE_STEP]
            rate = np.maximum(prev + np.where(gap > 0.5 * step, step, np.where(gap < -0.5 * step, -step, 0.0)), 0.0)
        self.rate = np.maximum(rate + inp.shock_rate[t], 0.0)
        return prev

    def signals_in_effect(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """The drift shift and vol multiplier per (path, asset) from signals fired earlier that act at t."""
        active = self.ring[:, :, self.slot]
        self.outputs["signal_active"][:, t] = active
        drift_shift = active @ self.drift_table
        vol_signal = 1.0
        if self.has_vol:
            vol_signal = np.where(active[:, :, None], self.vol_factor[None], 1.0).prod(axis=1)
        self.ring[:, :, self.slot] = False
        return drift_shift, vol_signal

    def after_prices(self, t: int, driver_return: np.ndarray, driver_z: np.ndarray, prev_rate: np.ndarray) -> None:
        """On-chain activity and the dollar index react to the driver's move; the signals observe the day's end."""
        from prometheus_sim.generators import engine as en
        from prometheus_sim.generators import macro as mc
        from prometheus_sim.generators import onchain as oc
        from prometheus_sim.generators import price as pr

        inp, o, m, spd, dt = self.inp, self.inp.onchain_p, self.inp.macro_p, self.spd, self.dt
        onchain, macro = self.outputs["onchain"][:, t], self.outputs["macro"][:, t]
        z = self.rng.standard_normal((2, self.n))  # active addresses, the dollar index's own shock
        if spd == 1 or t % spd == 0:
            self.flow_z = self.rng.standard_normal((2, self.n))  # the day's flow noise
        zs = np.clip(driver_return * inp.asset_p[inp.driver, pr.A_INV_BASE_SD], -en.ZS_CAP, en.ZS_CAP)
        lam = o[oc.O_WHALE_PER_DAY] / spd * (1.0 + o[oc.O_WHALE_SENS] * np.abs(zs)) * inp.shock_whale[t]
        onchain[:, oc.C_WHALE] = self.rng.poisson(lam)
        trend = o[oc.O_ACTIVE_LOG0] + o[oc.O_ACTIVE_GROWTH] * t * dt
        x = trend + (self.log_active - trend) * self.active_decay + (
            o[oc.O_ACTIVE_PRICE_BETA] * np.clip(driver_return, -5.0, 5.0) + self.active_noise * z[0])  # fmt: skip
        self.log_active = np.clip(x, trend - oc.ACTIVE_LOG_BAND, trend + oc.ACTIVE_LOG_BAND)
        onchain[:, oc.C_ACTIVE] = np.floor(np.exp(self.log_active) + 0.5)
        fv, fb = o[oc.O_FLOW_VOL], o[oc.O_FLOW_BETA]
        onchain[:, oc.C_INFLOW] = (o[oc.O_INFLOW_PER_DAY] / spd * inp.shock_inflow[t]
                                   * np.exp(fv * self.flow_z[0] - 0.5 * fv * fv + fb * np.maximum(0.0, -zs)))  # fmt: skip
        onchain[:, oc.C_OUTFLOW] = o[oc.O_OUTFLOW_PER_DAY] / spd * np.exp(
            fv * self.flow_z[1] - 0.5 * fv * fv + fb * np.maximum(0.0, zs))  # fmt: skip
        shock = m[mc.M_DXY_CORR] * driver_z + self.dxy_own * z[1]
        x = (self.log_dxy + m[mc.M_DXY_REVERSION] * (m[mc.M_DXY_LOG_MEAN] - self.log_dxy) * dt + self.dxy_vol * shock
             + m[mc.M_DXY_RATE_BETA] * (self.rate - prev_rate))  # fmt: skip
        self.log_dxy = np.clip(x, m[mc.M_DXY_LOG_MEAN] - mc.DXY_LOG_BAND, m[mc.M_DXY_LOG_MEAN] + mc.DXY_LOG_BAND)
        macro[:, mc.C_INFLATION] = self.inflation
        macro[:, mc.C_RATE] = self.rate
        macro[:, mc.C_DXY] = np.exp(self.log_dxy)
        if (spd == 1 or t % spd == spd - 1) and self.source.size:
            self._observe(np.concatenate([onchain, macro], axis=1)[:, self.source])
        self.slot = self.slot + 1 if self.slot + 1 < self.ring.shape[2] else 0

    def _observe(self, value: np.ndarray) -> None:
        """Each signal tests its source's value (paths x signals) against its past, then schedules its effect."""
        from prometheus_sim.generators import signals as sg

        sp = self.inp.signal_p
        fired = np.zeros(value.shape, dtype=bool)
        for g in range(sp.shape[0]):
            count, v = self.sig_count[g], value[:, g]
            threshold = sp[g, sg.S_THRESHOLD]
            if self.zscore[g]:
                if count == 0:
                    self.sig_mean[:, g], self.sig_var[:, g] = v, 0.0
                else:
                    mean, var = self.sig_mean[:, g], self.sig_var[:, g]
                    if count >= sp[g, sg.S_WARMUP]:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            zed = (v - mean) / np.sqrt(var)
                        fired[:, g] = (var > 0.0) & (zed >= threshold if threshold > 0.0 else zed <= threshold)
                    a = sp[g, sg.S_ALPHA]
                    d = v - mean
                    self.sig_mean[:, g] = mean + a * d
                    self.sig_var[:, g] = (1.0 - a) * (var + a * d * d)
            else:
                if count > 0:
                    d = v - self.sig_prev[:, g]
                    fired[:, g] = d >= threshold if threshold > 0.0 else d <= threshold
                self.sig_prev[:, g] = v
            self.sig_count[g] = count + 1
            if fired[:, g].any():
                size = self.ring.shape[2]
                idx = (self.slot + int(sp[g, sg.S_LAG]) + np.arange(int(sp[g, sg.S_DURATION]))) % size
                self.ring[:, g, idx] |= fired[:, g, None]


def model_statistics(arrays: dict[str, np.ndarray], steps_per_day: int) -> dict[str, tuple[float, float]]:
    """Per-path statistics of a simulation's outputs, as ``name -> (mean over paths, its standard error)``.

    What a user would check to see that two simulators draw the same model: each asset's mean and std of
    daily log returns and mean log volume; the on-chain series' means (log for the counts' scale), the macro
    series' means, the truth's mean vol and jump rate per asset, the share of steps in each signal's effect and
    the regime's mean. Paths are independent, so the standard error is the spread of the per-path values over
    sqrt(paths).
    """
    per_path: dict[str, np.ndarray] = {}
    close = arrays["close"]
    daily = np.log(close[:, spd_slice(close.shape[1], steps_per_day)])
    r = np.diff(daily, axis=1)
    for a in range(close.shape[2]):
        per_path[f"asset {a}: mean daily log return"] = r[:, :, a].mean(axis=1)
        per_path[f"asset {a}: std of daily log return"] = r[:, :, a].std(axis=1)
        per_path[f"asset {a}: mean log volume"] = np.log(arrays["volume"][:, :, a]).mean(axis=1)
        if "vol" in arrays:
            per_path[f"asset {a}: truth vol, mean"] = arrays["vol"][:, :, a].mean(axis=1)
            per_path[f"asset {a}: truth jumps per step"] = arrays["jumps"][:, :, a].mean(axis=1)
    if "onchain" in arrays:
        for c, name in enumerate(("whale transactions", "active addresses", "exchange inflow", "exchange outflow")):
            per_path[f"{name}, mean"] = arrays["onchain"][:, :, c].mean(axis=1)
        for c, name in enumerate(("inflation", "policy rate", "dollar index")):
            per_path[f"{name}, mean"] = arrays["macro"][:, :, c].mean(axis=1)
        for g in range(arrays["signal_active"].shape[2]):
            per_path[f"signal {g}: share of steps in effect"] = arrays["signal_active"][:, :, g].mean(axis=1)
        per_path["regime, mean"] = arrays["regime"].mean(axis=1)
    n = close.shape[0]
    return {k: (float(v.mean()), float(v.std(ddof=1) / math.sqrt(n))) for k, v in per_path.items()}


def spd_slice(n_steps: int, steps_per_day: int) -> slice:
    """Each day's last step (its close), so returns are daily at any steps per day."""
    return slice(steps_per_day - 1, n_steps, steps_per_day)
