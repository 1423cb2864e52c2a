"""Simulated stylised facts beside the real ones, with the definitions of ``data/crypto_daily/FACTS.md``.

Per asset: annual vol (std of daily log returns, ddof 1, x sqrt 365), excess kurtosis (moment
estimator), lag-1 ACF of r, lag-1 and lag-10 ACF of r^2 and of |r| (statsmodels convention),
max drawdown of daily closes. Per pair: the correlation of daily log returns, and split on
"tail days" (|r_BTC| above 3 x its std over the pair's joined days, as FACTS.md defines it for every
pair; the pair's first asset where the market has no BTC) and the other days. For each, the
simulated 5-95 % band over paths and whether the real figure falls inside it (``inside`` is NA where
either cannot be computed, e.g. a tail correlation over fewer than three tail days: not a miss).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prometheus_sim.facts import daily_closes, excess_kurtosis, log_returns, series_acf
from prometheus_sim.market import Market

ASSET_FACTS = ("annual_vol", "excess_kurtosis", "acf1_r", "acf1_r2", "acf10_r2", "acf1_abs", "acf10_abs",
               "max_drawdown")  # fmt: skip
PAIR_FACTS = ("corr", "corr_tail", "corr_rest")
TAIL_SIGMAS = 3.0
TAIL_ANCHOR = "BTC"  # FACTS.md: every pair's tail days are BTC's


def asset_facts(returns: np.ndarray, closes: np.ndarray) -> dict[str, np.ndarray]:
    """Facts along axis 1. returns : (paths, n) daily log returns; closes : (paths, n + 1) the closes."""
    acf_r = series_acf(returns, 1)
    acf_r2 = series_acf(returns**2, 10)
    acf_abs = series_acf(np.abs(returns), 10)
    peak = np.maximum.accumulate(closes, axis=1)
    return {
        "annual_vol": returns.std(axis=1, ddof=1) * np.sqrt(365.0),
        "excess_kurtosis": excess_kurtosis(returns),
        "acf1_r": acf_r[:, 0],
        "acf1_r2": acf_r2[:, 0],
        "acf10_r2": acf_r2[:, 9],
        "acf1_abs": acf_abs[:, 0],
        "acf10_abs": acf_abs[:, 9],
        "max_drawdown": (1.0 - closes / peak).max(axis=1),
    }


def pair_facts(a: np.ndarray, b: np.ndarray, anchor: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Correlations along axis 1 of two (paths, n) return arrays: all days, tail days of ``anchor`` (BTC's returns on
    the same days; default ``a``), the rest."""
    anchor = a if anchor is None else anchor
    out = {k: np.full(a.shape[0], np.nan) for k in PAIR_FACTS}
    for p in range(a.shape[0]):
        tail = np.abs(anchor[p]) > TAIL_SIGMAS * anchor[p].std(ddof=1)
        out["corr"][p] = np.corrcoef(a[p], b[p])[0, 1]
        if tail.sum() > 2:
            out["corr_tail"][p] = np.corrcoef(a[p][tail], b[p][tail])[0, 1]
        out["corr_rest"][p] = np.corrcoef(a[p][~tail], b[p][~tail])[0, 1]
    return out


def _window_returns(closes: pd.Series, start: str | None, end: str | None) -> pd.Series:
    """Daily log returns of ``closes`` (no gaps) dated start..end: a return dated d uses the close of d - 1."""
    r = np.log(closes).diff().dropna()
    if start is not None:
        r = r[r.index >= pd.Timestamp(start)]
    if end is not None:
        r = r[r.index <= pd.Timestamp(end)]
    return r


def real_window(closes: pd.Series, start: str | None, end: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(log returns dated start..end, the closes from the one before the first return) of one asset.

    As FACTS.md: a return dated d uses the close of d - 1; an asset that starts inside the window
    starts with its first return.
    """
    s = closes.dropna()
    r = _window_returns(s, start, end)
    if len(r) < MIN_RETURNS:
        raise ValueError(f"{closes.name}: only {len(r)} daily returns in the window; at least {MIN_RETURNS} needed")
    first = s.index.get_loc(r.index[0]) - 1
    window_closes = s.iloc[first : first + len(r) + 1].to_numpy()
    # the running maximum restarts at the first close in the window (FACTS.md)
    window_closes = window_closes[1:] if start is not None else window_closes
    return r.to_numpy(), window_closes


MIN_RETURNS = 30


def real_spans(closes: pd.DataFrame, names: list[str], start: str | None, end: str | None) -> dict[str, tuple]:
    """Each asset of ``names`` with data: (first return date, last, count) inside start..end, as compared.

    What a header should say rather than the window asked for: ``--to 2025-12-31`` on files ending 2024-02-13
    printed the asked-for window while the figures used 409 returns up to 2024-02-13 (review of 2026-12-05)."""
    spans = {}
    for n in (n for n in names if n in closes.columns):
        r = _window_returns(closes[n].dropna(), start, end)
        spans[n] = (r.index[0].date() if len(r) else None, r.index[-1].date() if len(r) else None, len(r))
    return spans


def comparable(closes: pd.DataFrame, names: list[str], start: str | None, end: str | None) -> tuple[list, dict]:
    """(assets of ``names`` with at least ``MIN_RETURNS`` real returns in the window, {skipped asset: its count}).

    An asset without enough days there is skipped with its pairs, as one missing from the data is: SOL, which
    begins in 2020, stopped a 2018-2019 comparison of BTC, ETH and USDC outright (review of 2026-12-05)."""
    spans = real_spans(closes, names, start, end)
    kept = [n for n, (_, _, count) in spans.items() if count >= MIN_RETURNS]
    return kept, {n: count for n, (_, _, count) in spans.items() if count < MIN_RETURNS}


def window_days(closes: pd.DataFrame, names: list[str], start: str | None, end: str | None) -> int:
    """Days a simulation needs to hold the longest real window of ``names`` (its returns plus one)."""
    common = [n for n in names if n in closes.columns]
    if not common:  # max() of nothing said "max() arg is an empty sequence"
        raise ValueError(f"no asset in common: scenario {list(names)}, data {list(closes.columns)}")
    kept, skipped = comparable(closes, common, start, end)
    if not kept:
        raise ValueError(f"no asset has {MIN_RETURNS} daily returns in the window: {skipped}")
    return 1 + max(len(real_window(closes[n], start, end)[0]) for n in kept)


def compare(market: Market, closes: pd.DataFrame, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """One row per (subject, fact): the real figure, the simulated p05 / median / p95 over paths, inside or not.

    Each subject's simulated figures come from the paths' first days, as many as its real window has
    (its first return onwards): like with like. Paths shorter than a window are refused.

    ``closes`` holds real daily closes, one column per asset (names as in the scenario); assets in
    only one of the two are skipped, and so are those with fewer than ``MIN_RETURNS`` real returns in the window
    (:func:`comparable`).
    """
    names = [a for a in market.assets if a in closes.columns]
    if not names:
        raise ValueError(f"no asset in common: scenario {market.assets}, data {list(closes.columns)}")
    names, skipped = comparable(closes, names, start, end)
    if not names:
        raise ValueError(f"no asset has {MIN_RETURNS} daily returns in the window: {skipped}")
    sim_close = daily_closes(market)  # (paths, days, assets)
    sim_r = log_returns(sim_close)
    rows = []

    def same_length(n: int, what: str) -> int:
        """Paths are cut to the real window's length: kurtosis, autocorrelations and drawdowns depend on it
        (a 365-day window judged against 3-year paths sat inside bands it would miss at its own length)."""
        if n > sim_r.shape[1]:
            raise ValueError(f"{what}: the window has {n} daily returns, the simulated paths {sim_r.shape[1]}: "
                             f"simulate at least {n + 1} days to compare like with like")  # fmt: skip
        return n

    def add(subject: str, fact: str, real: float, sim: np.ndarray) -> None:
        sim = sim[np.isfinite(sim)]
        lo, med, hi = (np.quantile(sim, q) if sim.size else np.nan for q in (0.05, 0.5, 0.95))
        computable = bool(np.isfinite(real) and np.isfinite(lo) and np.isfinite(hi))
        rows.append({"subject": subject, "fact": fact, "real": real, "p05": lo, "median": med, "p95": hi,
                     "inside": bool(lo <= real <= hi) if computable else pd.NA})  # fmt: skip

    real_r = {}
    for name in names:
        a = market.assets.index(name)
        r, c = real_window(closes[name], start, end)
        real_r[name] = pd.Series(np.log(closes[name].dropna()).diff().dropna())
        real = asset_facts(r[None, :], c[None, :])
        n = same_length(len(r), name)
        sim = asset_facts(sim_r[:, :n, a], sim_close[:, : n + 1, a][:, -len(c) :])
        for fact in ASSET_FACTS:
            add(name, fact, float(real[fact][0]), sim[fact])
    anchor = TAIL_ANCHOR if TAIL_ANCHOR in names else None
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            by = anchor or x  # the series whose tail days split the pair
            joined = pd.concat([real_r[x], real_r[y], real_r[by]], axis=1, join="inner").dropna()
            if start is not None:
                joined = joined[joined.index >= pd.Timestamp(start)]
            if end is not None:
                joined = joined[joined.index <= pd.Timestamp(end)]
            if len(joined) < 30:
                continue
            real = pair_facts(*(joined.iloc[:, k].to_numpy()[None] for k in range(3)))
            a, b, c = (market.assets.index(name) for name in (x, y, by))
            n = same_length(len(joined), f"{x}/{y}")
            sim = pair_facts(sim_r[:, :n, a], sim_r[:, :n, b], sim_r[:, :n, c])
            for fact in PAIR_FACTS:
                add(f"{x}/{y}", fact, float(real[fact][0]), sim[fact])
    table = pd.DataFrame(rows).set_index(["subject", "fact"])
    table["inside"] = table["inside"].astype("boolean")  # NA: not computable, neither inside nor a miss
    return table


def outside_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`compare` table whose real figure falls outside its band (not those not computable)."""
    return table[table["inside"].eq(False).fillna(False).to_numpy(dtype=bool)]


def verdict_counts(table: pd.DataFrame) -> tuple[int, int, int]:
    """(inside, outside, not computable) rows of a :func:`compare` table."""
    unknown = int(table["inside"].isna().sum())
    outside = len(outside_rows(table))
    return len(table) - outside - unknown, outside, unknown


def compare_plots(market: Market, closes: pd.DataFrame, start: str | None, end: str | None, out_dir) -> list:
    """Per common asset: return histograms (log scale), a QQ plot against the normal, the ACF of |r|."""
    from pathlib import Path
    from statistics import NormalDist

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sim_r = log_returns(daily_closes(market))
    files = []
    for name in comparable(closes, [a for a in market.assets if a in closes.columns], start, end)[0]:
        a = market.assets.index(name)
        real, _ = real_window(closes[name], start, end)
        sim = sim_r[:, : len(real), a]  # cut to the window's length, as the table's bands are (whole paths put a
        # 2022 window's real ACF of |r| outside a band the table called it inside; review of 2026-12-05, session 24)
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        bins = np.linspace(min(real.min(), np.quantile(sim, 0.0005)), max(real.max(), np.quantile(sim, 0.9995)), 80)
        axes[0].hist(
            sim.ravel(), bins=bins, density=True, alpha=0.5, label=f"simulated (all paths, first {len(real)} days)"
        )
        axes[0].hist(real, bins=bins, density=True, alpha=0.6, label="real")
        axes[0].set_yscale("log")
        axes[0].set_title(f"{name}: daily log returns")
        axes[0].legend(fontsize=7)
        nd = NormalDist()
        for series, label in ((real, "real"), (sim[0], "simulated path 0")):
            z = np.sort((series - series.mean()) / series.std(ddof=1))
            theory = [nd.inv_cdf((i + 0.5) / len(z)) for i in range(len(z))]
            axes[1].plot(theory, z, ".", ms=2, label=label)
        axes[1].plot([-4, 4], [-4, 4], "k--", lw=0.8)
        axes[1].set_title("QQ against the normal")
        axes[1].legend(fontsize=7)
        lags = np.arange(1, 31)
        acf_sim = series_acf(np.abs(sim), 30)
        axes[2].fill_between(lags, np.quantile(acf_sim, 0.05, axis=0), np.quantile(acf_sim, 0.95, axis=0), alpha=0.3,
                             label="simulated 5-95 %")  # fmt: skip
        axes[2].plot(lags, series_acf(np.abs(real)[None], 30)[0], "o-", ms=3, label="real")
        axes[2].set_title("ACF of |r|")
        axes[2].legend(fontsize=7)
        fig.tight_layout()
        path = out / f"compare_{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    return files


__all__ = ["ASSET_FACTS", "PAIR_FACTS", "asset_facts", "compare", "compare_plots", "pair_facts", "real_window"]
