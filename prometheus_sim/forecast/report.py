"""What ``forecast evaluate`` writes: the table (CSV and Markdown with the definitions), the evidence
file the acceptance rows read, and per asset three plots (forecast vs actual with its band, error by
horizon, calibration of the bands)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from prometheus_sim.forecast.evaluate import DEFINITIONS, GUIDE_HORIZON, Scored, summarise


def pooled(scored: dict[str, Scored]) -> Scored:
    """Every scenario's windows together, grouped by what makes their paths independent.

    A simulated path is its (seed, path id): the random numbers are keyed by those and not by the scenario, so
    ``default`` and ``forecasting`` at seed 5000 share most of their shocks (realised 7-day returns correlated 0.92)
    and are one group, not two. Numbered apart, they doubled the bootstrap's and the DM test's clusters and
    narrowed the evidence's interval (demo: [5.97, 7.95] against [5.53, 8.39] grouped by seed; review of
    2026-12-05). A real market's paths are groups of their own.
    """
    parts = list(scored.values())
    groups: dict[tuple, int] = {}
    paths = []
    for k, sc in enumerate(parts):
        if sc.origin is None:
            keys = [("real", k, int(p)) for p in sc.path]
        else:
            keys = [("simulated", int(seed), int(pid)) for seed, pid in sc.origin]
        paths.append(np.array([groups.setdefault(key, len(groups)) for key in keys], dtype=np.int64))
    names = sorted(set.intersection(*(set(sc.preds) for sc in parts)))
    first = parts[0]
    asset_ids = [np.array([first.assets.index(sc.assets[a]) for a in sc.asset]) for sc in parts]
    return Scored(
        real=np.concatenate([sc.real for sc in parts]),
        preds={n: np.concatenate([sc.preds[n] for sc in parts]) for n in names},
        path=np.concatenate(paths), asset=np.concatenate(asset_ids), end=np.concatenate([sc.end for sc in parts]),
        assets=first.assets, kinds=first.kinds,
        bands={k: np.concatenate([sc.bands[k] for sc in parts]) for k in first.bands},
        origin=None if any(sc.origin is None for sc in parts) else np.concatenate([sc.origin for sc in parts]),
    )  # fmt: skip


def write_evaluation(scored: dict[str, Scored], out_dir: Path, predictor, command: str, seeds: str,
                     digests: dict[str, str], in_time: list[str] = ()) -> tuple[pd.DataFrame, dict, Path]:  # fmt: skip
    """Write table.csv, table.md, evidence/forecast_eval.json and plots; return (table, pooled row, evidence path).

    ``in_time``: the real markets whose scored days the model's scenarios were set to match (not out of sample); the
    evidence records them, and table.csv's digest, which the report's forecasting section checks."""
    from prometheus_sim.evidence import EVIDENCE_DIR, write_evidence

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = [summarise(sc, name) for name, sc in scored.items()]
    all_scored = pooled(scored) if len(scored) > 1 else next(iter(scored.values()))
    if len(scored) > 1:
        tables.append(summarise(all_scored, "all"))
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out_dir / "table.csv", index=False)
    scope = "all" if len(scored) > 1 else next(iter(scored))
    head = table[
        (table["scenario"] == scope) & (table["subject"] == "crypto (pooled)") & (table["forecaster"] == "model")
    ]
    if head.empty:
        raise ValueError("no crypto asset among the evaluated windows: the MAE and MAPE rows have nothing to score")
    row = head.iloc[0].to_dict()
    data = {"mae_pct": row["mae_pct"], "mae_pct_low": row["mae_pct_low"], "mae_pct_high": row["mae_pct_high"],
            "mape_7d": row["mape_7d"], "mape_7d_low": row["mape_7d_low"], "mape_7d_high": row["mape_7d_high"],
            "n_forecasts": int(row["n_windows"]), "horizon_days": int(predictor.horizon),
            "in_time_markets": sorted(in_time),
            "table_sha256": hashlib.sha256((out_dir / "table.csv").read_bytes()).hexdigest()}  # fmt: skip
    data = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in data.items()}
    if data["mape_7d"] is None:
        data["mape_7d_why"] = f"the model forecasts {predictor.horizon} day(s), fewer than 7: no 7-day prediction"
    if predictor.horizon < GUIDE_HORIZON:  # its MAE runs over days 1..H only: a 1-day model's 2.5 % passed the guide's
        # 7-day target, which the same set-up at 7 days missed at 5.4 % (review of 2026-12-05, session 24)
        data["mae_pct_short_horizon"] = [data["mae_pct"], data["mae_pct_low"], data["mae_pct_high"]]
        data["mae_pct"] = data["mae_pct_low"] = data["mae_pct_high"] = None
        data["mae_pct_why"] = (f"the model forecasts {predictor.horizon} day(s), fewer than 7: its MAE over days "
                               f"1-{predictor.horizon} is not the guide's 7-day figure")  # fmt: skip
    evidence = write_evidence(
        out_dir / EVIDENCE_DIR / "forecast_eval.json", "forecast_eval", data, command=command,
        model_uri=predictor.model_uri, model_version=predictor.ref[1], scenario_digests=digests, seeds=seeds,
    )  # fmt: skip
    (out_dir / "table.md").write_text(markdown(table))
    plots(all_scored, out_dir / "plots", predictor)
    return table, row, evidence


def markdown(table: pd.DataFrame) -> str:
    cols = ["scenario", "subject", "forecaster", "n_windows", "mae_pct", "mae_pct_low", "mae_pct_high", "mape_7d",
            "rmse", "dm_t", "dm_p", "gap_closed", "gap_closed_low", "gap_closed_high", "coverage_0.8", "coverage_0.95",
            "verdict"]  # fmt: skip
    shown = table[[c for c in cols if c in table.columns]]

    def cell(v) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:.4g}"
        return str(v)

    grid = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    grid += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    lines = ["# Forecast evaluation (out of sample)", "", *grid, "", "## Definitions", ""]
    lines += [f"- **{k}**: {v}" for k, v in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def plots(sc: Scored, out: Path, predictor) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for a in np.unique(sc.asset):
        name = sc.assets[a]
        rows = sc.asset == a
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        # 1. forecast vs actual (7 days ahead) along the first path, with the 80 % band
        first = rows & (sc.path == sc.path[rows][0])
        order = np.argsort(sc.end[first])
        h = sc.real.shape[1] - 1
        real = np.exp(sc.real[first][order, h])
        pred = np.exp(sc.preds["model"][first][order, h])
        half = sc.bands["0.8"][first][order, h]
        days = sc.end[first][order] + h + 1
        axes[0].plot(days, real, label="realised", color="k", lw=1)
        axes[0].plot(days, pred, label="model", color="C0", lw=1)
        axes[0].fill_between(days, pred * np.exp(-half), pred * np.exp(half), color="C0", alpha=0.2, label="80 % band")
        axes[0].set(title=f"{name}: price ratio {h + 1} days ahead (path {sc.path[first][0]})", xlabel="day",
                    ylabel="price / last close")  # fmt: skip
        axes[0].legend(fontsize=8)
        # 2. error by horizon
        for label, p in sc.preds.items():
            mae = (np.abs(np.exp(p[rows]) - np.exp(sc.real[rows])).mean(axis=0)) * 100
            axes[1].plot(np.arange(1, len(mae) + 1), mae, marker="o", label=label)
        axes[1].set(title=f"{name}: MAE by horizon", xlabel="horizon (days)", ylabel="MAE, % of last close")
        axes[1].legend(fontsize=8)
        # 3. calibration: nominal vs realised coverage of the conformal bands
        err = np.abs(sc.preds["model"][rows] - sc.real[rows])
        levels = sorted(float(k) for k in sc.bands)
        realised = [float((err <= sc.bands[f"{lv:g}"][rows]).mean()) for lv in levels]
        axes[2].plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        axes[2].plot(levels, realised, marker="o")
        axes[2].set(title=f"{name}: band calibration", xlabel="nominal coverage", ylabel="realised coverage",
                    xlim=(0.4, 1), ylim=(0.4, 1))  # fmt: skip
        fig.tight_layout()
        path = out / f"forecast_{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path)
    return files


__all__ = ["markdown", "plots", "pooled", "write_evaluation"]
