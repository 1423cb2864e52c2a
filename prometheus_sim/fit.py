"""Fit a scenario to real daily returns: GARCH(1,1) + jumps per crypto asset, an exact OU peg per
stablecoin, and the correlation of the diffusive shocks; written as a commented, valid YAML.

Method (also written into the file's header, with the window and every figure it used):

1. **Crypto assets** (``kind: crypto``): the window's daily log returns, in percent, get a
   GARCH(1,1) with a constant mean and normal innovations, fitted by maximum likelihood with
   ``arch`` (the well-kept library for it). Its conditional sd finds the jumps (step 2).
2. **Jumps**: days whose return is more than ``JUMP_Z`` conditional standard deviations from the
   mean are jumps. ``intensity`` = jump days per year, ``mean`` and ``std`` = their excess
   returns'. ``vol`` (the engine's long-run *diffusive* vol) is the annualised std of the other
   days; ``drift`` is set so that the expected log return matches the window's mean:
   ``mean x 365 + vol^2 / 2 + intensity x (E[e^J] - 1 - jump mean)``.
3. **Tails together**: the engine's jumps arrive on the same days for every asset and load
   ``common`` on one size factor; ``common`` is the square root of the mean pairwise
   correlation of the crypto assets' returns on the days any of them jumped (clipped to [0, 1]).
4. **Correlation** (what the YAML's ``correlation`` sets: the correlation of the smooth,
   diffusive shocks): of the GARCH-standardised returns on days without a jump; a stablecoin's
   shocks are its AR(1) residuals. Repaired to the nearest positive-definite matrix if needed.
5. **Stablecoins** (``kind: stable``): an AR(1) of the log price, ``x_t = phi x_{t-1} + e``, is the
   exact discretisation of the engine's peg: ``kappa = -ln(phi) x 365`` and ``vol = sd(e) x
   sqrt(2 kappa / (1 - phi^2))``.
6. **Volume**: ``daily_usd`` is the window's median daily volume in USD (the files' volume when it
   is in the quote currency, ``volume_in="quote"`` as in the shipped data; else close x volume).
7. **Clustering by simulated moments**: the maximum-likelihood ``alpha`` of a normal GARCH on
   fat-tailed crypto returns is large (BTC 2020-2023: 0.119, beta 0.857), and the engine run with
   it clusters far more than the data (lag-1 ACF of r^2 about 0.22 against the real 0.055): the
   few huge days that push the MLE's alpha up are exactly what keeps the real ACF low. So
   ``alpha`` and ``beta`` are chosen on a grid (``ALPHAS`` x ``PERSISTENCE``) by simulating the
   fitted scenario (``SMM_PATHS`` paths) and matching, per asset, the real annual vol, excess
   kurtosis and lag-1 / lag-10 ACF of r^2 and |r| (the sum of squared distances between the
   simulated median and the real figure, each in units of its simulated spread across paths).
   The header quotes both the MLE and the chosen values with their distances.
8. **Co-movement by simulation**: GARCH paths that differ per asset and jumps pull the returns'
   correlation below the declared (shock) correlation, so each crypto pair's declared value is
   steered (``CORRELATION_ITERATIONS`` rounds) by the gap between the real and the simulated
   correlation on non-tail days; then the jump loading ``common`` is picked from
   ``COMMON_LOADINGS`` and step 3's estimate by the simulated tail correlation.
9. **Not fitted** (the files do not support them, and the YAML says so): regimes (the GARCH
   carries the volatility clustering; a bull/bear chain on top would count it twice), on-chain
   and macro series (the files have none: the engine's defaults stand), signals and shocks.

An asset that starts after ``start`` (SOL: 2020-04-10) is fitted on the days it has; its start
price is its first close in the window. Everything else is estimated from the window only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prometheus_sim.real import RealDataError, assets_of, read_daily_bars
from prometheus_sim.real_market import default_kind
from prometheus_sim.scenario import ScenarioSpec

JUMP_Z = 4.0  # a return this many conditional std from the mean is a jump
ALPHAS = (0.01, 0.02, 0.03, 0.045, 0.06, 0.08, 0.1, 0.13)
PERSISTENCE = (0.9, 0.94, 0.97, 0.985, 0.993)  # alpha + beta
SMM_PATHS = 100
SMM_FACTS = ("annual_vol", "excess_kurtosis", "acf1_r2", "acf10_r2", "acf1_abs", "acf10_abs")
CORRELATION_ITERATIONS = 2
COMMON_LOADINGS = (0.8, 0.9, 0.95, 0.99)
CHECK_PATHS = 500
MIN_RETURNS = 250  # fewer daily returns than this cannot pin a GARCH(1,1) down
MIN_PAIR_DAYS = 30  # fewer shared shock days than this leave a pair's correlation unestimated (set to 0, and said)
KAPPA_MAX = 100_000.0  # the scenario schema's bound


@dataclass
class AssetFit:
    """What was estimated for one asset, and the figures the YAML comment quotes."""

    name: str
    kind: str
    start_price: float
    drift: float
    vol: float
    process: dict
    daily_usd: float
    n_returns: int
    first_day: str
    notes: list[str] = field(default_factory=list)
    shocks: pd.Series | None = None  # standardised diffusive shocks (NaN on jump days), for the correlation
    jump_days: pd.DatetimeIndex | None = None


def _returns(bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    r = np.log(bars["close"]).diff()
    return r.loc[start:end].dropna()


def fit_crypto(name: str, bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, volume_in: str) -> AssetFit:
    """GARCH(1,1) by ``arch`` + threshold jumps (see the module's method, steps 1-2)."""
    from arch import arch_model

    r = _returns(bars, start, end)
    if len(r) < MIN_RETURNS:
        raise RealDataError(f"{name}: {len(r)} daily returns in the window; a GARCH fit needs >= {MIN_RETURNS}")
    res = arch_model(100.0 * r, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False).fit(disp="off")
    mu_pct, alpha, beta = float(res.params["mu"]), float(res.params["alpha[1]"]), float(res.params["beta[1]"])
    if alpha + beta >= 0.999:  # integrated: the engine needs a stationary GARCH
        scale = 0.999 / (alpha + beta)
        alpha, beta = alpha * scale, beta * scale
    cond_sd = res.conditional_volatility / 100.0
    z = (r - mu_pct / 100.0) / cond_sd
    jumps = z.abs() > JUMP_Z
    if int(jumps.sum()) < 2:
        # too few to fit a jump process: the day stays in the diffusion's variance (dropped from vol and modelled by
        # nothing, a lone ETH day took 9 % of 2021's variance away: found by a review)
        jumps = pd.Series(False, index=jumps.index)
    years = len(r) / 365.0
    n_jumps = int(jumps.sum())
    process: dict = {"type": "garch", "garch": {"alpha": round(alpha, 4), "beta": round(beta, 4)}}
    intensity = jump_mean = jump_std = 0.0
    if n_jumps >= 2:
        excess = r[jumps] - mu_pct / 100.0
        intensity, jump_mean, jump_std = n_jumps / years, float(excess.mean()), float(excess.std(ddof=1))
        process = {
            "type": "garch_jump",
            "garch": process["garch"],
            "jumps": {"intensity": round(intensity, 3), "mean": round(jump_mean, 4), "std": round(jump_std, 4)},
        }
    vol = float(r[~jumps].std(ddof=1) * math.sqrt(365.0))
    compensator = intensity * (math.exp(jump_mean + 0.5 * jump_std**2) - 1.0 - jump_mean)
    drift = float(r.mean() * 365.0 + 0.5 * vol**2 + compensator)
    shocks = z.where(~jumps)
    notes = [
        f"{len(r)} returns {r.index[0].date()}..{r.index[-1].date()}; arch GARCH(1,1): mu {mu_pct / 100:.5f}/day, "
        f"omega {float(res.params['omega']):.4f} (%^2), alpha {alpha:.4f}, beta {beta:.4f}, log-likelihood "
        f"{res.loglikelihood:.1f}",
        f"jumps (|z| > {JUMP_Z:g}): {n_jumps} days = {intensity:.2f}/year, mean {jump_mean:+.4f}, std {jump_std:.4f}; "
        f"diffusive vol {vol:.3f}, total vol {r.std(ddof=1) * math.sqrt(365):.3f}; drift {drift:+.3f} "
        f"(realised mean log return {r.mean() * 365:+.3f}/year)",
    ]
    start_price = float(bars["close"].loc[: r.index[0]].iloc[-2])
    gap = (r.index[0] - start).days
    if gap > 0:
        # the file begins after the window: the scenario starts at the window's first day all the same, so the price
        # is taken back over the gap at the asset's mean log return, where the median path then meets its first real
        # close. Put at the window's start as it was, SOL's 2020-04-10 close sat on 2020-01-01 and the simulated
        # median was 45 % above the real price on 2020-04-10 and 38 % at the end (review of 2026-12-05)
        first_close, start_price = start_price, start_price * math.exp(-float(r.mean()) * gap)
        notes.append(f"its data begins {r.index[0].date()}, {gap} days into the window: start_price "
                     f"{start_price:.6g} is its first close {first_close:.6g} taken back {gap} days at its mean log "
                     f"return, so the median path meets that close there; the fit sees only its own days")  # fmt: skip
    return AssetFit(
        name=name, kind="crypto", start_price=start_price, drift=drift,
        vol=vol, process=process, daily_usd=_daily_usd(bars, start, end, volume_in), n_returns=len(r),
        first_day=str(r.index[0].date()), notes=notes, shocks=shocks, jump_days=r.index[jumps.to_numpy()],
    )  # fmt: skip


def fit_peg(name: str, bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, volume_in: str) -> AssetFit:
    """Exact OU from an AR(1) of the log price (see the module's method, step 5)."""
    x = np.log(bars["close"]).loc[start:end]
    if len(x) < MIN_RETURNS:
        raise RealDataError(f"{name}: {len(x)} days in the window; a peg fit needs >= {MIN_RETURNS}")
    prev, now = x.to_numpy()[:-1], x.to_numpy()[1:]
    phi = float(np.dot(prev, now) / np.dot(prev, prev)) if np.dot(prev, prev) > 0 else 0.0
    notes = []
    if not 0.0 < phi < 1.0:
        notes.append(f"AR(1) phi {phi:.4f} is outside (0, 1): reversion within a day; kappa set to its bound")
        phi = math.exp(-KAPPA_MAX / 365.0)
    kappa = min(-math.log(phi) * 365.0, KAPPA_MAX)
    phi = math.exp(-kappa / 365.0)
    resid = pd.Series(now - phi * prev, index=x.index[1:])
    vol = float(resid.std(ddof=1) * math.sqrt(2.0 * kappa / (1.0 - phi * phi)))
    notes.insert(
        0,
        f"{len(x)} days {x.index[0].date()}..{x.index[-1].date()}; AR(1) of log price: phi {phi:.4f} -> kappa "
        f"{kappa:.1f}/year, vol {vol:.4f}; largest |log price| {np.abs(x).max():.4f} on {np.abs(x).idxmax().date()} "
        "(the peg has no depeg events: a real depeg's kurtosis and autocorrelation stay outside its band; add a "
        "`depeg` shock to replay one)",
    )
    return AssetFit(
        name=name, kind="stable", start_price=1.0, drift=0.0, vol=max(vol, 1e-6),
        process={"type": "peg", "peg": {"kappa": round(kappa, 2)}}, daily_usd=_daily_usd(bars, start, end, volume_in),
        n_returns=len(resid), first_day=str(x.index[0].date()), notes=notes, shocks=resid / resid.std(ddof=1),
    )  # fmt: skip


PLACEHOLDER_DAILY_USD = 1.0e9  # a file without volume: said in the scenario's comments (``fit_scenario``)


def _daily_usd(bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, volume_in: str) -> float:
    window = bars.loc[start:end]
    if "volume" not in window:
        return PLACEHOLDER_DAILY_USD
    usd = window["volume"] if volume_in == "quote" else window["close"] * window["volume"]
    return float(usd.median())


def common_loading(fits: list[AssetFit], returns: pd.DataFrame) -> tuple[float, str]:
    """sqrt of the mean pairwise correlation of crypto returns on days any of them jumped (step 3)."""
    crypto = [f for f in fits if f.kind == "crypto" and f.jump_days is not None]
    if len(crypto) < 2:
        return 0.97, "one crypto asset: the engine's default loading 0.97"
    days = crypto[0].jump_days
    for f in crypto[1:]:
        days = days.union(f.jump_days)
    on = returns.loc[returns.index.intersection(days), [f.name for f in crypto]].dropna()
    if len(on) < 5:
        return 0.97, f"{len(on)} shared jump days: too few to estimate; the engine's default loading 0.97"
    corr = on.corr().to_numpy()
    pairs = corr[np.triu_indices(len(crypto), 1)]
    load = float(np.sqrt(np.clip(pairs.mean(), 0.0, 1.0)))
    return load, f"{len(on)} jump days; pairwise return correlation on them {np.round(pairs, 3).tolist()} -> {load:.3f}"


def shock_correlation(fits: list[AssetFit]) -> tuple[np.ndarray, str]:
    """Pairwise correlation of the standardised diffusive shocks (step 4), repaired to positive definite."""
    frame = pd.DataFrame({f.name: f.shocks for f in fits})
    # on the days each pair shares, from MIN_PAIR_DAYS: at the GARCH fit's 250, a pair with SOL over 2019-06..2020-12
    # (249 shared days) was set to 0 without a word, against a real 0.28 (review of 2026-12-05)
    raw = frame.corr(min_periods=MIN_PAIR_DAYS)
    corr = raw.fillna(0.0).to_numpy().copy()
    np.fill_diagonal(corr, 1.0)
    names = list(frame.columns)
    unset = [f"{names[i]}/{names[j]}" for i in range(len(names)) for j in range(i + 1, len(names))
             if np.isnan(raw.iat[i, j])]  # fmt: skip
    w, v = np.linalg.eigh(corr)
    note = "positive definite as estimated"
    if unset:
        note += (f"; {', '.join(unset)} set to 0: fewer than {MIN_PAIR_DAYS} days with both assets' shocks "
                 "(no estimate)")  # fmt: skip
    if w.min() < 1e-6:
        w = np.clip(w, 1e-6, None)
        corr = v @ np.diag(w) @ v.T
        d = np.sqrt(np.diag(corr))
        corr = corr / np.outer(d, d)
        note = (
            "repaired to the nearest positive-definite matrix (eigenvalues clipped at 1e-6)"
            + note[len("positive definite as estimated") :]
        )
    return corr, note


def _simulated_table(scenario: dict, closes: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """``facts_compare.compare`` of the scenario (``SMM_PATHS`` paths) against the real window, with each
    row's distance ``(simulated median - real) / spread``, spread = (p95 - p05) / 3.29 (a normal's sd)."""
    from prometheus_sim.facts_compare import compare
    from prometheus_sim.market import Market

    market = Market.simulate(ScenarioSpec.from_dict(scenario), n_paths=SMM_PATHS)
    table = compare(market, closes, start, end)
    spread = ((table["p95"] - table["p05"]) / 3.29).clip(lower=1e-9)
    return table.assign(z=(table["median"] - table["real"]) / spread)


def _with(scenario: dict, edit) -> dict:
    import copy

    trial = copy.deepcopy(scenario)
    edit(trial)
    return trial


def refine_by_simulation(scenario: dict, closes: pd.DataFrame, start: str, end: str) -> list[str]:
    """Steps 7 and 8: GARCH per asset, then the shock correlations, then the jump loading; edits ``scenario``."""
    crypto = [a["name"] for a in scenario["assets"] if a["kind"] == "crypto"]

    def set_garch(alpha: float, beta: float, names: list[str]):
        def edit(trial: dict) -> None:
            for asset in trial["assets"]:
                if asset["name"] in names:
                    asset["process"]["garch"] = {"alpha": alpha, "beta": beta}

        return edit

    def asset_distance(table: pd.DataFrame, name: str) -> float:
        return float((table.loc[name].loc[list(SMM_FACTS), "z"] ** 2).sum())

    mle_table = _simulated_table(scenario, closes, start, end)
    mle = {a["name"]: dict(a["process"]["garch"]) for a in scenario["assets"] if a["name"] in crypto}
    best = {name: (asset_distance(mle_table, name), mle[name]["alpha"], mle[name]["beta"]) for name in crypto}
    mle_distance = {name: best[name][0] for name in crypto}
    for alpha in ALPHAS:
        for persistence in PERSISTENCE:
            beta = round(persistence - alpha, 4)
            table = _simulated_table(_with(scenario, set_garch(alpha, beta, crypto)), closes, start, end)
            for name in crypto:
                d = asset_distance(table, name)
                if d < best[name][0]:
                    best[name] = (d, alpha, beta)
    notes = []
    for name in crypto:
        d, alpha, beta = best[name]
        set_garch(alpha, beta, [name])(scenario)
        notes.append(
            f"{name}: clustering by simulated moments: alpha {alpha:g}, beta {beta:g} (distance {d:.1f}); the MLE's "
            f"alpha {mle[name]['alpha']:g}, beta {mle[name]['beta']:g} simulates at distance {mle_distance[name]:.1f}"
        )

    # the declared correlation is of the smooth shocks; GARCH and jumps move the returns' away from it, so
    # steer each crypto pair's declared value until the simulated non-tail correlation meets the real one
    pairs = [f"{x}/{y}" for i, x in enumerate(crypto) for y in crypto[i + 1 :]]
    start_corr = {pair: scenario["correlation"].get(pair, 0.0) for pair in pairs}
    for _ in range(CORRELATION_ITERATIONS):
        table = _simulated_table(scenario, closes, start, end)
        for pair in pairs:
            gap = table.loc[(pair, "corr_rest"), "real"] - table.loc[(pair, "corr_rest"), "median"]
            scenario["correlation"][pair] = round(float(np.clip(scenario["correlation"].get(pair, 0.0) + gap,
                                                                -0.99, 0.99)), 3)  # fmt: skip
        _repair_declared(scenario)
    notes.append(
        "correlation of crypto pairs steered by simulation to the real non-tail correlation: "
        + ", ".join(f"{p} {start_corr[p]:.3f} -> {scenario['correlation'][p]:.3f}" for p in pairs)
    )

    def set_common(load: float):
        def edit(trial: dict) -> None:
            for asset in trial["assets"]:
                if "jumps" in asset["process"]:
                    asset["process"]["jumps"]["common"] = load

        return edit

    fitted_load = next((a["process"]["jumps"]["common"] for a in scenario["assets"] if "jumps" in a["process"]), None)
    if fitted_load is not None and len(crypto) > 1:
        scores = {}
        for load in sorted({*COMMON_LOADINGS, fitted_load}):
            table = _simulated_table(_with(scenario, set_common(load)), closes, start, end)
            scores[load] = float(sum(table.loc[(pair, "corr_tail"), "z"] ** 2 for pair in pairs))
        chosen = min(scores, key=scores.get)
        set_common(chosen)(scenario)
        notes.append(
            f"common jump loading by simulated tail correlation: {chosen:g} (distance {scores[chosen]:.1f}; the "
            f"jump-day estimate {fitted_load:g}: {scores[fitted_load]:.1f})"
        )
    return notes


def _repair_declared(scenario: dict) -> None:
    """Make the declared correlation matrix positive definite again after steering (eigenvalues >= 1e-4)."""
    names = [a["name"] for a in scenario["assets"]]
    n = len(names)
    corr = np.eye(n)
    for pair, rho in scenario["correlation"].items():
        x, y = pair.split("/")
        i, j = names.index(x), names.index(y)
        corr[i, j] = corr[j, i] = rho
    w, v = np.linalg.eigh(corr)
    if w.min() >= 1e-4:
        return
    corr = v @ np.diag(np.clip(w, 1e-4, None)) @ v.T
    d = np.sqrt(np.diag(corr))
    corr = corr / np.outer(d, d)
    for pair in scenario["correlation"]:
        x, y = pair.split("/")
        scenario["correlation"][pair] = round(float(corr[names.index(x), names.index(y)]), 3)


def fit_scenario(
    files: list[str | Path],
    start: str,
    end: str | None = None,
    name: str = "fitted",
    seed: int = 7,
    kinds: dict[str, str] | None = None,
    volume_in: str = "quote",
    written_to: str | None = None,
) -> tuple[dict, list[str]]:
    """Estimate a scenario from real bar files; returns (the scenario as a mapping, comment lines).

    ``written_to``: the file the scenario will be written to, which the check command in the comments names (by
    its name alone, ``facts compare fitted`` found no scenario outside the shipped ones; review of 2026-12-05)."""
    paths = [Path(f) for f in files]
    if not paths:
        raise RealDataError("no bar files given")
    bars = {asset: read_daily_bars(p) for asset, p in zip(assets_of(paths), paths, strict=True)}
    t0 = pd.Timestamp(start)
    last = min(b.index[-1] for b in bars.values())
    t1 = pd.Timestamp(end) if end else last
    if t1 > last:  # the scenario would say it was calibrated to days no file has (calibrated_to, the comments)
        raise RealDataError(f"--to {end}: after the last day all files share ({last.date()})")
    first = min(b.index[0] for b in bars.values())
    if t0 <= first:  # the window's first return needs the close before it; an asset that starts later is taken
        # back to the window's start, but with no file reaching back there, every asset was (from 2010-01-01 on
        # BTC's file, 4.7 invented years in calibrated_to and the horizon; review of 2026-12-05, session 24)
        raise RealDataError(f"--from {start}: on or before the first day any file has ({first.date()}); the first "
                            f"window a fit can have starts {(first + pd.Timedelta(days=1)).date()}")  # fmt: skip
    unknown = sorted(set(kinds or {}) - set(bars))
    if unknown:
        raise RealDataError(f"--kind: {unknown} are not among the files' assets {list(bars)}")
    kinds = {a: (kinds or {}).get(a, default_kind(a)) for a in bars}
    fits = []
    for asset, b in bars.items():
        if kinds[asset] == "stable":
            fits.append(fit_peg(asset, b, t0, t1, volume_in))
        elif kinds[asset] == "crypto":
            fits.append(fit_crypto(asset, b, t0, t1, volume_in))
        else:
            raise RealDataError(f"{asset}: kind {kinds[asset]!r} cannot be fitted (crypto or stable only)")
    returns = pd.DataFrame({a: _returns(b, t0, t1) for a, b in bars.items()})
    load, load_note = common_loading(fits, returns)
    for f in fits:
        if "jumps" in f.process:
            f.process["jumps"]["common"] = round(load, 3)
    corr, corr_note = shock_correlation(fits)
    horizon = (t1 - t0).days + 2  # the window's returns (dated t0..t1) and the close before the first
    scenario = {
        "name": name,
        "description": f"Fitted to real daily returns {t0.date()}..{t1.date()} (prometheus-sim scenarios fit).",
        "calibrated_to": {"start": t0.date(), "end": t1.date()},
        "seed": seed,
        "start_date": dt.date(t0.year, t0.month, t0.day),
        "horizon_days": horizon,
        "steps_per_day": 1,
        "substeps": 4,
        "assets": [
            {
                "name": f.name,
                "kind": f.kind,
                "start_price": float(f"{f.start_price:.6g}"),
                "drift": round(f.drift, 4),
                # four decimals, or four digits below that: a flat stablecoin's 1e-6 floor rounded to 0.0 made a
                # fitted scenario its own validation refused (review of 2026-12-05)
                "vol": round(f.vol, 4) or float(f"{f.vol:.4g}"),
                "volume": {"daily_usd": float(f"{f.daily_usd:.4g}")},
                "process": f.process,
            }
            for f in fits
        ],  # fmt: skip
        "correlation": {
            f"{fits[i].name}/{fits[j].name}": round(float(corr[i, j]), 3)
            for i in range(len(fits))
            for j in range(i + 1, len(fits))
            if abs(round(float(corr[i, j]), 3)) > 0
        },
    }
    comments = [
        f"{name}: fitted by `prometheus-sim scenarios fit` to real daily closes {t0.date()}..{t1.date()}",
        f"from {', '.join(str(p) for p in paths)}.",
        "Method (prometheus_sim/fit.py): per crypto asset a GARCH(1,1) with normal innovations by maximum",
        f"likelihood (arch), days beyond {JUMP_Z:g} conditional sd as jumps (rate, mean, std), vol = the diffusive",
        "std of the other days, drift matching the window's mean log return; stablecoins an exact OU peg from",
        "an AR(1) of the log price; `correlation` is that of the smooth (diffusive) shocks on days without a",
        "jump; jumps arrive on the same days for every crypto asset and load `common` on one size factor.",
        f"common: {load_note}.",
        f"correlation: {corr_note}.",
        "Not fitted (no support in the files): regimes (the GARCH carries the clustering), on-chain and macro",
        "series (engine defaults), signals, shocks. The drift is the window's realised trend: override it",
        "for a forward-looking run.",
    ]
    for f in fits:
        comments += [f"{f.name}: {note}" for note in f.notes]
        if "volume" not in bars[f.name]:  # said, not silent: the volume sets simulated market impact (review)
            comments.append(f"{f.name}: its file has no volume column: daily_usd {PLACEHOLDER_DAILY_USD:g} is a "
                            "placeholder, not a fit (it sets the simulated volume and market impact)")  # fmt: skip
    ScenarioSpec.from_dict(scenario, source="fitted scenario")  # valid, or a ScenarioError naming the field
    from prometheus_sim.real import read_closes

    closes = read_closes(paths)
    comments += refine_by_simulation(scenario, closes, str(t0.date()), str(t1.date()))
    ScenarioSpec.from_dict(scenario, source="fitted scenario")
    comments += check_lines(scenario, closes, str(t0.date()), str(t1.date()), written_to)
    return scenario, comments


def check_lines(scenario: dict, closes: pd.DataFrame, start: str, end: str, written_to: str | None = None) -> list[str]:
    """What ``facts compare`` says of the fitted scenario on its own window (CHECK_PATHS paths), for the header."""
    from prometheus_sim.facts import stylised_facts
    from prometheus_sim.facts_compare import compare, outside_rows, verdict_counts
    from prometheus_sim.market import Market

    spec = ScenarioSpec.from_dict(scenario)
    market = Market.simulate(spec, n_paths=CHECK_PATHS)
    table = compare(market, closes, start, end)
    outside = outside_rows(table)
    # the figures tests/test_scenario_comments.py holds every shipped scenario to (200 paths, its seed)
    first = market.rows(slice(0, 200))
    finals = np.median(first.close[:, -1, :] / first.close[:, 0, :] - 1.0, axis=0) * 100.0
    vols = stylised_facts(first)["median"]
    lines = [
        "`# check:` (median final return, %) and `# check-vol:` (median annual vol) over 200 paths at the seed:",
        "check: " + ", ".join(f"{a} {v:+.1f}" for a, v in zip(first.assets, finals, strict=True)),
        "check-vol: " + ", ".join(f"{a} {vols[(a, 'annual_vol')]:.2f}" for a in first.assets),
    ]
    inside_300 = verdict_counts(compare(market.rows(slice(0, 300)), closes, start, end))[0]
    lines.append(
        f"check-facts (real figures inside the 5-95 % band, 300 paths as long as each window): {start}..{end} "
        f"{inside_300}/{len(table)}"
    )
    lines += [
        f"Check (`prometheus-sim facts compare {written_to or spec.name} --from {start} --to {end} --paths "
        f"{CHECK_PATHS}`, seed "
        f"{spec.seed}): {verdict_counts(table)[0]} of {len(table)} real figures inside the simulated 5-95 % band."
    ]
    by_subject: dict[str, list[str]] = {}
    for (subject, fact), row in outside.iterrows():
        by_subject.setdefault(subject, []).append(f"{fact} {row['real']:.3g} (band {row['p05']:.3g}..{row['p95']:.3g})")
    for subject, items in by_subject.items():
        lines.append(f"outside, {subject}: " + "; ".join(items))
    return lines


def write_scenario(scenario: dict, comments: list[str], out: str | Path) -> Path:
    """The scenario as YAML under a ``#`` header of ``comments``."""
    import yaml

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "".join(f"# {line}\n" if line else "#\n" for line in comments)
    body = yaml.safe_dump(scenario, sort_keys=False, default_flow_style=None, width=110)
    lines = body.split("\n")  # what the window means for later runs, beside it
    lines = [line + "  # the fit's window: later real days are out of time" if line.startswith("calibrated_to:")
             else line for line in lines]  # fmt: skip
    path.write_text(header + "\n".join(lines))
    return path


__all__ = ["JUMP_Z", "fit_scenario", "write_scenario"]
