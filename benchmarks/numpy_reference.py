"""The plain NumPy reference of the simulator's model, as a user would write it by hand: the bar of issue 9's speed target.

``default_rng``, vectorised over paths, a Python loop over steps and sub-steps, written as a NumPy user minding speed
would (a review of 2026-12-04 measured the first version 25 % slower than this): the running state is kept
(assets, paths), so every operation's inner loop runs over the paths; jump sizes are drawn only for the paths whose
arrival uniform says a jump happened; the sub-step walk is running sums in place; each step's values go into a
time-major buffer of ``CHUNK_STEPS`` steps, copied into the (paths, steps, ...) outputs once a chunk. It takes its
numbers from :func:`~prometheus_sim.generators.build_inputs`, so it simulates the same model as the kernel
(``prometheus_sim.generators.engine``), with its own random numbers: the outputs agree in distribution, not in
bytes (:func:`model_statistics`, section 3c of ``bench_simulate.py`` and ``tests/test_bench_reference.py`` check it).

Two extents, both timed by ``bench_simulate.py``:

- ``everything=True`` (the like-for-like bar): every array ``generate`` returns, in the same names, shapes and
  dtypes: OHLCV, on-chain activity (whale Poisson counts, active addresses, exchange flows), macro (inflation,
  policy rate, dollar index), the lead-lag signals (their z-score or change tests, scheduled effects on drift and
  vol) and the truth (regime, drift, vol, jump counts, signals in effect).
- ``everything=False``: prices and volume only (regimes, GARCH, correlated sub-steps, market-wide jumps, pegs,
  the clamps), with no signals. It does less work than the kernel, so a ratio against it understates the kernel.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from prometheus_sim.generators import KernelInputs

CHUNK_STEPS = 64  # steps buffered time-major before they are copied into the (paths, steps, ...) outputs
ASSET_WIDE = ("open", "high", "low", "close", "volume", "drift", "vol", "jumps")  # kept (assets, paths) a step


class _Outputs:
    """The outputs in ``generate``'s layout, filled a chunk of steps at a time.

    Writing ``out[:, t]`` into a (paths, steps, assets) array every step is a strided write of a few bytes per path
    (5.4 ns an element at 1,000 x 3,650 against 3.8 through this buffer, review of 2026-12-04).
    """

    def __init__(self, shapes: dict[str, tuple[tuple[int, ...], type]]) -> None:
        self.out = {name: (np.zeros if name == "jumps" else np.empty)(shape, dtype)
                    for name, (shape, dtype) in shapes.items()}  # fmt: skip
        self.buffer = {
            name: np.zeros((CHUNK_STEPS, shape[2], shape[0]) if name in ASSET_WIDE
                           else (CHUNK_STEPS, shape[0], *shape[2:]), dtype)
            for name, (shape, dtype) in shapes.items()
        }  # fmt: skip

    def at(self, name: str, t: int) -> np.ndarray:
        """Step t's row of ``name``: (assets, paths) for the asset-wide arrays, (paths, ...) for the others."""
        return self.buffer[name][t % CHUNK_STEPS]

    def end_step(self, t: int, n_steps: int) -> None:
        if t % CHUNK_STEPS == CHUNK_STEPS - 1 or t == n_steps - 1:
            t0 = t - t % CHUNK_STEPS
            for name, buf in self.buffer.items():
                rows = buf[: t - t0 + 1]
                self.out[name][:, t0 : t + 1] = (
                    rows.transpose(2, 0, 1) if name in ASSET_WIDE else np.moveaxis(rows, 0, 1)
                )
            if "jumps" in self.buffer:
                self.buffer["jumps"][:] = 0


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

    from prometheus_sim.generators import layout
    from prometheus_sim.generators import price as pr

    rng = np.random.default_rng(seed)
    ap = inp.asset_p
    n_steps, spd, n_sub = inp.n_steps, inp.steps_per_day, inp.n_sub
    n_assets, n_paths = ap.shape[0], int(n_paths)
    dt_step = 1.0 / (365.0 * spd)
    dt_sub = dt_step / n_sub
    sd_max = pr.DAY_SD_MAX / math.sqrt(spd)  # the kernel's cap on a step's std (price.step_sd_max_nb)
    h_max = sd_max * sd_max
    shapes = layout(n_paths, n_steps, n_assets, inp.signal_p.shape[0])
    if not everything:
        shapes = {name: shapes[name] for name in ("open", "high", "low", "close", "volume")}
    outputs = _Outputs(shapes)

    def column(c: int) -> np.ndarray:  # a per-asset parameter as an (assets, 1) column, broadcast over paths
        return ap[:, c][:, None].copy()

    exposure, mu, sigma = column(pr.A_EXPOSURE), column(pr.A_MU), column(pr.A_SIGMA)
    base_sd, jump_comp = column(pr.A_BASE_SD), column(pr.A_JUMP_COMP)
    alpha, beta, omega = ap[:, pr.A_GARCH_ALPHA], ap[:, pr.A_GARCH_BETA], ap[:, pr.A_GARCH_OMEGA]
    garch = np.flatnonzero((alpha > 0.0) | (beta > 0.0))
    constant = np.flatnonzero((alpha <= 0.0) & (beta <= 0.0))
    g_alpha, g_beta, g_omega = alpha[garch, None], beta[garch, None], omega[garch, None]
    peg = np.flatnonzero(ap[:, pr.A_PEG_KAPPA] > 0.0)
    jmp = np.flatnonzero((ap[:, pr.A_JUMP_RATE] > 0.0) & (ap[:, pr.A_PEG_KAPPA] <= 0.0))
    jump_lam = ap[jmp, pr.A_JUMP_RATE] * dt_step
    jump_mean, jump_std = ap[jmp, pr.A_JUMP_MEAN][:, None], ap[jmp, pr.A_JUMP_STD][:, None]
    load = ap[jmp, pr.A_JUMP_COMMON][:, None]
    own = np.sqrt(1.0 - load * load)
    jump_cdf = poisson.cdf(np.arange(32)[:, None], jump_lam[None, :])  # inversion table, (count, asset)
    garch_jmp = np.flatnonzero(np.isin(garch, jmp))  # rows of the GARCH state whose asset jumps
    jmp_garch = np.searchsorted(jmp, garch[garch_jmp])  # and their rows among the jumping assets
    no_jump = jump_cdf[0].min() if jmp.size else 1.0  # a uniform below this is no jump for any asset
    volume_unit, volume_noise = column(pr.A_VOLUME_UNIT), column(pr.A_VOLUME_NOISE)
    volume_sens = column(pr.A_VOLUME_SENS) * column(pr.A_INV_BASE_SD)
    truth_jump_drift = column(pr.A_JUMP_RATE) * dt_step * column(pr.A_JUMP_MEAN)
    centre = column(pr.A_START_LOG)
    band_lo, band_hi = centre - pr.LOG_PRICE_BAND, centre + pr.LOG_PRICE_BAND
    sigma_peg = sigma[peg]
    sqrt_sub = math.sqrt(n_sub)

    log_price = np.repeat(centre, n_paths, axis=1)  # (assets, paths)
    garch_h = (sigma**2 * dt_step)[garch] * np.ones((1, n_paths))
    day_eps = np.zeros((garch.size, n_paths))
    regime = np.full(n_paths, inp.regime_init, dtype=np.int64)
    if everything:
        full = _FullState(inp, n_paths, rng, outputs)

    for t in range(n_steps):
        if t > 0 and inp.regime_drift.shape[0] > 1 and t % spd == 0:
            u = rng.random(n_paths)
            regime = (u[:, None] >= inp.transition_cum[regime, :-1]).sum(axis=1)
        drift_mult = 1.0 + exposure * (inp.regime_drift[regime] - 1.0)  # (assets, paths)
        vol_mult = (1.0 + exposure * (inp.regime_vol[regime] - 1.0)) * inp.shock_vol[t][:, None]
        if everything:
            outputs.at("regime", t)[...] = regime
            prev_rate = full.macro_before_prices(t)
            drift_shift, vol_signal = full.signals_in_effect(t)
            if vol_signal is not None:
                vol_mult *= vol_signal
        np.clip(vol_mult, pr.VOL_MULT_MIN, pr.VOL_MULT_MAX, out=vol_mult)
        sd = np.empty((n_assets, n_paths))
        sd[garch] = np.sqrt(garch_h) * vol_mult[garch]
        sd[constant] = base_sd[constant] * vol_mult[constant]
        np.minimum(sd, sd_max, out=sd)
        step_mean = (mu * drift_mult - jump_comp) * dt_step - 0.5 * sd * sd
        if everything:
            step_mean += drift_shift / spd

        z = inp.chol @ rng.standard_normal((n_sub, n_assets, n_paths))  # (sub-step, asset, path), correlated

        # market-wide jumps: one arrival uniform per path and step for every asset; only the paths it says jump
        # draw sizes (loading on a common factor) and the sub-step they land in, all assets in the same one
        u = rng.random(n_paths)
        hit = np.flatnonzero(u > no_jump)
        if hit.size:
            counts = np.stack([np.searchsorted(jump_cdf[:, j], u[hit], side="left") for j in range(jmp.size)])
            most = int(counts.max())
            z_common = rng.standard_normal((most, 1, hit.size))
            z_own = rng.standard_normal((most, jmp.size, hit.size))
            sizes = jump_mean + jump_std * (load * z_common + own * z_own)  # (slot, asset, hit path)
            jump_total = (sizes * (np.arange(most)[:, None, None] < counts[None])).sum(axis=0)
            jump_sub = rng.integers(0, n_sub, size=hit.size)

        kappa = np.where(inp.shock_kappa[t, peg] > 0.0, inp.shock_kappa[t, peg], ap[peg, pr.A_PEG_KAPPA])[:, None]
        decay = np.exp(-kappa * dt_sub)
        peg_noise = sigma_peg * vol_mult[peg] * np.sqrt((1.0 - decay * decay) / (2.0 * kappa))

        walk = z * (sd / sqrt_sub)  # the sub-steps' moves, then their running sums: the sub-step log prices
        walk += step_mean / n_sub
        walk[0] += log_price
        walk[0] += inp.shock_jump[t][:, None]
        if hit.size:
            walk[jump_sub[None, :], jmp[:, None], hit[None, :]] += jump_total
        for s in range(1, n_sub):
            walk[s] += walk[s - 1]
        if peg.size:  # a peg's exact OU walk replaces its rows
            x_peg = log_price[peg]
            for s in range(n_sub):
                x_peg = x_peg * decay + peg_noise * z[s, peg]
                if s == 0:
                    x_peg += inp.shock_jump[t, peg][:, None]
                walk[s, peg] = x_peg
        bar = np.empty((4, n_assets, n_paths))  # log open, high, low, close
        bar[0] = walk[0]
        np.maximum.reduce(walk, axis=0, out=bar[1])
        np.minimum.reduce(walk, axis=0, out=bar[2])
        bar[3] = walk[-1]
        np.clip(bar, band_lo, band_hi, out=bar)
        x = bar[3].copy()
        step_return = x - log_price
        np.exp(bar, out=bar)
        open_, high, low, close = bar
        np.maximum(high, open_, out=high)
        np.maximum(high, close, out=high)
        np.minimum(low, open_, out=low)
        np.minimum(low, close, out=low)
        for name, values in (("open", open_), ("high", high), ("low", low), ("close", close)):
            outputs.at(name, t)[...] = values
        volume = np.exp(volume_noise * rng.standard_normal((n_assets, n_paths)) - 0.5 * volume_noise * volume_noise)
        volume *= 1.0 + volume_sens * np.abs(step_return)
        volume *= volume_unit
        volume /= close
        outputs.at("volume", t)[...] = volume
        if everything:
            # the truth: the expected log move (jumps' mean included) and its std, the jump counts; a peg's
            # from its exact OU step, at the reversion in effect
            drift = step_mean + truth_jump_drift
            if peg.size:
                drift[peg] = log_price[peg] * np.expm1(-kappa * dt_step)
                sd[peg] = sigma_peg * vol_mult[peg] * np.sqrt(-np.expm1(-2.0 * kappa * dt_step) / (2.0 * kappa))
            outputs.at("drift", t)[...] = drift
            outputs.at("vol", t)[...] = sd
            if hit.size:
                outputs.at("jumps", t)[jmp[:, None], hit[None, :]] = counts
            driver_z = z[:, inp.driver].sum(axis=0) / sqrt_sub
            full.after_prices(t, step_return[inp.driver], driver_z, prev_rate)

        if garch.size:  # once a day, from the day's whole surprise: diffusion in base-variance units, jumps and
            # shocks divided only by a multiplier above one
            shock = inp.shock_jump[t][garch, None]
            vm = vol_mult[garch]
            day_eps += (step_return[garch] - step_mean[garch] - shock) / vm + shock / np.maximum(vm, 1.0)
            if hit.size and garch_jmp.size:  # the jumps of the paths that jumped: divided as a shock, not as diffusion
                vm = vol_mult[garch[garch_jmp][:, None], hit[None, :]]
                day_eps[garch_jmp[:, None], hit[None, :]] += jump_total[jmp_garch] * (
                    1.0 / np.maximum(vm, 1.0) - 1.0 / vm
                )
            if t % spd == spd - 1:
                eps = day_eps / math.sqrt(spd)
                garch_h = np.minimum(g_omega + g_alpha * eps * eps + g_beta * garch_h, h_max)
                day_eps[:] = 0.0
        log_price = x
        outputs.end_step(t, n_steps)
    return outputs.out


class _FullState:
    """What :func:`reference_simulate` adds to prices with ``everything``: macro, on-chain, signals and the truth.

    Running state per path (vectors over paths), updated in the kernel's order around the price step; what it
    makes goes into the step's rows of ``outputs``.
    """

    def __init__(self, inp: KernelInputs, n_paths: int, rng: np.random.Generator, outputs: _Outputs) -> None:
        from prometheus_sim.generators import macro as mc
        from prometheus_sim.generators import onchain as oc
        from prometheus_sim.generators import signals as sg

        self.inp, self.rng, self.n, self.outputs = inp, rng, n_paths, outputs
        n_sig = inp.signal_p.shape[0]
        self.spd = inp.steps_per_day
        self.dt = 1.0 / (365.0 * self.spd)
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
        self.drift_table = np.where(mask & drift_effect[:, None], sp[:, sg.S_STRENGTH][:, None], 0.0).T  # (A, G)
        self.vol_factor = np.where(mask & ~drift_effect[:, None], 1.0 + sp[:, sg.S_STRENGTH][:, None], 1.0)  # (G, A)
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

    def signals_in_effect(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The drift shift and vol multiplier (``None`` when no signal acts on vol) per (asset, path) from the
        signals fired earlier that act at t."""
        active = self.ring[:, :, self.slot]  # (path, signal)
        self.outputs.at("signal_active", t)[...] = active
        drift_shift = self.drift_table @ active.T
        vol_signal = None
        if self.has_vol:
            vol_signal = np.where(active.T[:, None, :], self.vol_factor[:, :, None], 1.0).prod(axis=0)
        self.ring[:, :, self.slot] = False
        return drift_shift, vol_signal

    def after_prices(self, t: int, driver_return: np.ndarray, driver_z: np.ndarray, prev_rate: np.ndarray) -> None:
        """On-chain activity and the dollar index react to the driver's move; the signals observe the day's end."""
        from prometheus_sim.generators import engine as en
        from prometheus_sim.generators import macro as mc
        from prometheus_sim.generators import onchain as oc
        from prometheus_sim.generators import price as pr

        inp, o, m, spd, dt = self.inp, self.inp.onchain_p, self.inp.macro_p, self.spd, self.dt
        onchain, macro = self.outputs.at("onchain", t), self.outputs.at("macro", t)
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


def model_statistics(arrays: dict[str, np.ndarray], steps_per_day: int, driver: int) -> dict[str, tuple[float, float]]:
    """Per-path statistics of a simulation's outputs, as ``name -> (mean over paths, its standard error)``.

    What a user would check to see that two simulators draw the same model, chosen so that a cheaper model shows
    (review of 2026-12-04: means alone missed uncorrelated assets, one sub-step instead of four, independent jump
    sizes and a flipped dollar-index correlation): each asset's mean and std of daily log returns, mean log
    volume, mean log(high / low) (the intraday sub-steps) and lag-1 autocorrelation of squared daily returns
    (GARCH); every pair of assets' correlation of daily returns, and of their returns on steps where both jump
    (the jump sizes' common factor); the on-chain and macro series' means, the dollar index's correlation with
    the driver's (asset ``driver``) returns; the truth's mean drift, vol and jump rate per asset, the share of steps in each
    signal's effect and the regime's mean. Paths are independent, so the standard error is the spread of the
    per-path values over sqrt(paths); a statistic undefined on some paths (no co-jump) is averaged over the others.
    """
    per_path: dict[str, np.ndarray] = {}
    close = arrays["close"]
    days = spd_slice(close.shape[1], steps_per_day)
    r = np.diff(np.log(close[:, days]), axis=1)  # (paths, days - 1, assets)
    n_assets = close.shape[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        for a in range(n_assets):
            per_path[f"asset {a}: mean daily log return"] = r[:, :, a].mean(axis=1)
            per_path[f"asset {a}: std of daily log return"] = r[:, :, a].std(axis=1)
            per_path[f"asset {a}: mean log volume"] = np.log(arrays["volume"][:, :, a]).mean(axis=1)
            per_path[f"asset {a}: mean log(high / low)"] = np.log(
                arrays["high"][:, :, a] / arrays["low"][:, :, a]
            ).mean(axis=1)
            per_path[f"asset {a}: lag-1 autocorrelation of r^2"] = _row_corr(r[:, 1:, a] ** 2, r[:, :-1, a] ** 2)
            if "vol" in arrays:
                per_path[f"asset {a}: truth drift, mean"] = arrays["drift"][:, :, a].mean(axis=1)
                per_path[f"asset {a}: truth vol, mean"] = arrays["vol"][:, :, a].mean(axis=1)
                per_path[f"asset {a}: truth jumps per step"] = arrays["jumps"][:, :, a].mean(axis=1)
        step_r = np.diff(np.log(close), axis=1)  # per step: jumps land within a step
        for a in range(n_assets):
            for b in range(a + 1, n_assets):
                per_path[f"assets {a}, {b}: correlation of daily returns"] = _row_corr(r[:, :, a], r[:, :, b])
                if "jumps" in arrays:
                    both = (arrays["jumps"][:, 1:, a] > 0) & (arrays["jumps"][:, 1:, b] > 0)
                    if both.any():
                        product = np.where(both, step_r[:, :, a] * step_r[:, :, b], 0.0).sum(axis=1)
                        per_path[f"assets {a}, {b}: mean return product when both jump"] = product / both.sum(axis=1)
    if "onchain" in arrays:
        for c, name in enumerate(("whale transactions", "active addresses", "exchange inflow", "exchange outflow")):
            per_path[f"{name}, mean"] = arrays["onchain"][:, :, c].mean(axis=1)
        for c, name in enumerate(("inflation", "policy rate", "dollar index")):
            per_path[f"{name}, mean"] = arrays["macro"][:, :, c].mean(axis=1)
        dxy = np.diff(np.log(arrays["macro"][:, days, 2]), axis=1)
        per_path["dollar index: correlation with the driver's returns"] = _row_corr(dxy, r[:, :, driver])
        for g in range(arrays["signal_active"].shape[2]):
            per_path[f"signal {g}: share of steps in effect"] = arrays["signal_active"][:, :, g].mean(axis=1)
        per_path["regime, mean"] = arrays["regime"].mean(axis=1)
    stats = {}
    for name, values in per_path.items():
        values = values[np.isfinite(values)]
        if values.size >= 2:
            stats[name] = (float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size)))
    return stats


def _row_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's correlation of ``x`` with ``y`` (NaN where either is constant)."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    return (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))


def spd_slice(n_steps: int, steps_per_day: int) -> slice:
    """Each day's last step (its close), so returns are daily at any steps per day."""
    return slice(steps_per_day - 1, n_steps, steps_per_day)


def agreement(ours: dict[str, tuple[float, float]], reference: dict[str, tuple[float, float]]) -> list[dict]:
    """Each statistic of :func:`model_statistics` on both sides and the z-score of their difference (inf where
    one side lacks it, or where both are exact and differ)."""
    rows = []
    for name in [*ours, *(n for n in reference if n not in ours)]:
        if name not in ours or name not in reference:
            rows.append({"statistic": name, "ours": ours.get(name, (math.nan,))[0],
                         "reference": reference.get(name, (math.nan,))[0], "z": math.inf})  # fmt: skip
            continue
        (mean_ours, se_ours), (mean_ref, se_ref) = ours[name], reference[name]
        se = math.hypot(se_ours, se_ref)
        z = (mean_ours - mean_ref) / se if se > 0 else (0.0 if mean_ours == mean_ref else math.inf)
        rows.append({"statistic": name, "ours": mean_ours, "reference": mean_ref, "z": z})
    return rows
