"""The oracle: the conditional expectation of log(price[t + h] / price[t]) given what was knowable at t
under the generating process. Scoring only: it reads ``Market.truth`` up to t and the scenario.

Known at t (and used): the scenario's parameters (drift, vol, GARCH, jumps, pegs, regime chain,
dated shocks at their dates: the scenario fixes them), the regime at t (the chain then moves by
its transition matrix: the regime h days on has distribution ``row(T^h)``), the step's diffusive
variance at t (the GARCH variance then reverts to its long-run level at rate alpha + beta), and
signal effects already scheduled: an effect on day t + k counts when a firing on or before t covers that day
(each firing acts on days f + lag .. f + lag + duration - 1). The firings are replayed from the market's own
on-chain and macro series by the engine's signal test (:func:`firing_days`, which reproduces
``truth.signal_active`` exactly); until 2026-12-05 (session 19) a day counted when its run of active days had
started by t + lag, and a run that later firings stretched credited the oracle with effects fired after t
(review). Not known (and not used): the realised future, regime moves, shocks' random parts, signals that fire
after t.

Per day k ahead, the expected log return is the engine's step mean under those expectations:
``(mu E[drift mult] - jump compensator) dt - E[sd^2] / 2 + known signal drift + rate dt jump mean
+ dated shock jump``; a pegged asset's expected log price decays as ``x_t e^{-kappa k dt}``.
Daily scenarios only (``steps_per_day == 1``); otherwise :class:`OracleUnavailable`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from prometheus_sim.generators import build_inputs
from prometheus_sim.generators import price as pr
from prometheus_sim.generators import signals as sg


class OracleUnavailable(ValueError):
    """No oracle for this market (real data has no generating process; sub-daily steps are not handled)."""


@njit(cache=True, error_model="numpy")
def _firings_nb(signal_p, onchain, macro, out):
    """``out[p, t, g] = 1`` where signal g fires at day t of path p: the engine's test (``signal_fires_nb``) on the
    values it reads there (on-chain then macro columns), in order, from a fresh state a path (daily markets)."""
    n_signals = signal_p.shape[0]
    aux = np.empty(onchain.shape[2] + macro.shape[2])
    for p in range(onchain.shape[0]):
        state = np.zeros((n_signals, 4))
        for t in range(onchain.shape[1]):
            for c in range(onchain.shape[2]):
                aux[c] = onchain[p, t, c]
            for c in range(macro.shape[2]):
                aux[onchain.shape[2] + c] = macro[p, t, c]
            for g in range(n_signals):
                if sg.signal_fires_nb(signal_p, g, aux[int(signal_p[g, sg.S_SOURCE])], state):
                    out[p, t, g] = 1


def firing_days(market, signal_p: np.ndarray) -> np.ndarray:
    """(paths, days, G) int8: 1 on the days each signal fired (a daily market's), replayed from its observable series.
    A firing on day t depends on the series up to t only."""
    out = np.zeros(market.close.shape[:2] + (signal_p.shape[0],), dtype=np.int8)
    _firings_nb(signal_p, np.asarray(market.blocks.onchain, dtype=float), np.asarray(market.blocks.macro, dtype=float),
                out)  # fmt: skip
    return out


def oracle_available(market) -> bool:
    """Whether :func:`oracle_log_returns` can condition on this market (simulated, daily steps)."""
    return not market.is_real and market.truth is not None and market.steps_per_day == 1


def oracle_log_returns(market, path: np.ndarray, asset: np.ndarray, end: np.ndarray, horizon: int,
                       log_close: np.ndarray) -> np.ndarray:  # fmt: skip
    """(n, horizon) expected log returns from day ``end`` to end + 1 .. end + horizon; ``log_close`` (paths, assets, days)."""
    if market.is_real or market.truth is None:
        raise OracleUnavailable(f"market {market.name!r} is real data: there is no generating process to condition on")
    if market.steps_per_day != 1:
        raise OracleUnavailable("the oracle handles daily scenarios only (steps_per_day == 1)")
    truth = market.require_truth("the oracle forecast")
    inp = build_inputs(market.spec)
    ap = inp.asset_p
    dt = 1.0 / 365.0
    n_regimes = inp.regime_drift.shape[0]
    trans = np.diff(np.concatenate([np.zeros((n_regimes, 1)), inp.transition_cum], axis=1), axis=1)
    powers = [np.linalg.matrix_power(trans, k) for k in range(1, horizon + 1)]  # (R, R) each
    n = end.shape[0]
    out = np.zeros((n, horizon))
    r0 = truth.regime[path, end].astype(np.int64)
    exposure = ap[asset, pr.A_EXPOSURE]
    n_days = market.n_steps

    # signals whose effect at a future day was already scheduled at t: fired on or before t, covering that day
    g_count = inp.signal_p.shape[0]
    if g_count:
        fired = np.cumsum(firing_days(market, inp.signal_p), axis=1, dtype=np.int64)  # firings up to each day
        lags = inp.signal_p[:, sg.S_LAG].astype(np.int64)
        durations = inp.signal_p[:, sg.S_DURATION].astype(np.int64)
        drift_strength = np.where(inp.signal_p[:, sg.S_EFFECT] == sg.EFFECT_DRIFT, inp.signal_p[:, sg.S_STRENGTH], 0.0)
        signals = np.arange(g_count)

        def fired_by(days: np.ndarray) -> np.ndarray:  # (n, G) firings on days <= days (0 before day 0)
            return np.where(days >= 0, fired[path[:, None], np.maximum(days, 0), signals[None, :]], 0)

    kappa = ap[asset, pr.A_PEG_KAPPA]
    is_peg = kappa > 0.0
    alpha, beta = ap[asset, pr.A_GARCH_ALPHA], ap[asset, pr.A_GARCH_BETA]
    is_garch = (alpha > 0.0) | (beta > 0.0)
    base_var = ap[asset, pr.A_BASE_SD] ** 2
    vm_regime = 1.0 + exposure[:, None] * (inp.regime_vol[None, :] - 1.0)  # (n, R)
    vm_now = np.minimum(vm_regime[np.arange(n), r0] * inp.shock_vol[end, asset], pr.VOL_MULT_MAX)
    h_now = (truth.vol[path, end, asset] / np.maximum(vm_now, 1e-12)) ** 2  # the base (GARCH) variance at t
    jump_term = ap[asset, pr.A_JUMP_RATE] * dt * ap[asset, pr.A_JUMP_MEAN]
    cumulative = np.zeros(n)
    for k in range(1, horizon + 1):
        day = np.minimum(end + k, n_days - 1)
        pi = powers[k - 1][r0]  # (n, R)
        drift_mult = 1.0 + exposure * (pi @ inp.regime_drift - 1.0)
        vm2 = (pi * vm_regime**2).sum(axis=1) * inp.shock_vol[day, asset] ** 2
        h_k = np.where(is_garch, base_var + (alpha + beta) ** k * (h_now - base_var), base_var)
        sd2 = np.minimum(h_k * vm2, pr.DAY_SD_MAX**2)
        mean = (ap[asset, pr.A_MU] * drift_mult - ap[asset, pr.A_JUMP_COMP]) * dt - 0.5 * sd2 + jump_term
        if g_count:
            # a firing f covers day d when d - lag - duration < f <= d - lag; known when also f <= t
            latest = np.minimum(day[:, None] - lags[None, :], end[:, None])
            known = fired_by(latest) - fired_by(day[:, None] - lags[None, :] - durations[None, :]) > 0
            mask = inp.signal_mask[:, asset].T > 0  # (n, G)
            mean = mean + (known & mask).astype(float) @ drift_strength
        mean = mean + inp.shock_jump[day, asset]
        cumulative = cumulative + mean
        peg_return = log_close[path, asset, end] * (np.exp(-kappa * k * dt) - 1.0)
        out[:, k - 1] = np.where(is_peg, peg_return, cumulative)
    return out


__all__ = ["OracleUnavailable", "firing_days", "oracle_available", "oracle_log_returns"]
