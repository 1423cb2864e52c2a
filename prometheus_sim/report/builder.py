"""The backtest report: ``build_report(run_dir)`` writes report.md, report.html, report.json and plots/.

The content is gathered once into plain data (what ``report.json`` holds), then laid out as a list
of blocks (headings, paragraphs, tables, figures) that both the Markdown and the HTML renderer walk,
so the two documents always say the same thing in the same order. The HTML is self-contained: plots
are embedded as base64 PNG data URIs, the CSS is inline, and one tiny script records how many plots
the browser decoded (``<body data-plots-rendered>``), which a headless-browser test checks.

Nothing here carries a timestamp, and scenarios and strategies are sorted, so rebuilding from the same
run directory gives the same files.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from prometheus_sim.metrics import DEFINITIONS, mean_interval

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
PLOTS_DIR = "plots"

# metric -> (kind, decimals): "pct" shows a fraction as a percentage.
SUMMARY_METRICS: dict[str, tuple[str, int]] = {
    "total_return": ("pct", 2),
    "annual_return": ("pct", 2),
    "sharpe": ("num", 2),
    "sortino": ("num", 2),
    "max_drawdown": ("pct", 2),
    "calmar": ("num", 2),
    "turnover": ("num", 2),
    "fees_paid": ("pct", 3),
    "psr": ("pct", 1),
    "win_rate": ("pct", 1),
}
METRIC_LABELS = {"turnover": "turnover (x per year)", "psr": "psr (probability)"}

INTERVAL_NOTE = (
    "Intervals are 95 % confidence intervals of the mean over seeds, by the normal approximation: "
    "mean ± 1.96 × sample std / sqrt(n), treating seeds as independent draws of the scenario. "
    "Seeds where a metric is undefined (e.g. win_rate when a strategy made no scored recommendation) "
    "are left out of that metric's mean."
)
PLOT_NOTE = (
    "Plots: per strategy, the median over the plotted seeds (line) and the 5-95 % range over those "
    "seeds (shaded), day by day. Equity is the time-weighted growth index (growth of 1 put in at the start; "
    "contributions are not gains), so every strategy starts near 1.0; drawdown is 1 - index / running peak, "
    "drawn downwards."
)


# ---------------------------------------------------------------- public entry point


def build_report(run_dir: str | Path, evidence: list[str | Path] = ()) -> dict[str, Path]:
    """Write the report files into ``run_dir``; return them keyed by path relative to ``run_dir``.

    ``evidence`` adds evidence files to those in ``run_dir/evidence``.
    """
    run = Path(run_dir)
    data = collect_report_data(run, evidence)
    data["plots"] = write_plots(run, data)
    blocks = report_blocks(data)
    files = {
        REPORT_MD: _write(run / REPORT_MD, render_markdown(blocks)),
        REPORT_HTML: _write(run / REPORT_HTML, render_html(blocks, run, title=_title(data))),
        REPORT_JSON: _write(run / REPORT_JSON, json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n"),
    }
    files.update({p["file"]: run / p["file"] for p in data["plots"]})
    return files


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- data


def collect_report_data(run_dir: str | Path, evidence: list[str | Path] = ()) -> dict[str, Any]:
    """Everything the report says, as plain data (``report.json`` minus the plot list)."""
    from prometheus_sim.acceptance import evaluate
    from prometheus_sim.sweep import load_sweep

    doc, metrics, failures = load_sweep(run_dir)
    acceptance = evaluate(run_dir, list(evidence)).to_dict()
    return {
        "run": run_info(doc, metrics),
        "failures": [{k: f.get(k) for k in ("scenario", "seeds", "strategy", "error")} for f in failures],
        "acceptance": acceptance,
        "summary": summary_rows(metrics),
        "forecasting": forecasting_rows(run_dir, list(evidence)),
        "actions": action_rows(metrics),
        "rl": rl_training(doc.get("config", {}).get("strategies", [])),
        "definitions": used_definitions(acceptance),
        "notes": {"intervals": INTERVAL_NOTE, "execution": execution_note(doc.get("config", {})), "plots": PLOT_NOTE},
    }


FORECAST_COLUMNS = ("scenario", "forecaster", "n_windows", "mae_pct", "mae_pct_low", "mae_pct_high", "mape_7d",
                    "rmse", "dm_t", "dm_p", "gap_closed", "gap_closed_low", "gap_closed_high", "coverage_0.8",
                    "coverage_0.95")  # fmt: skip


def forecasting_rows(run_dir: str | Path, evidence: list[str | Path]) -> dict[str, Any]:
    """The forecaster's out-of-sample table (pooled crypto rows), from each forecast_eval evidence file's
    evaluation directory (``forecast evaluate --out``: ``table.csv`` beside ``evidence/``)."""
    from prometheus_sim.evidence import collect_evidence

    found = collect_evidence(run_dir, evidence).get("forecast_eval", [])
    tables = []
    for ev in found:
        table = Path(ev.path).parent.parent / "table.csv"
        if not table.exists():
            continue
        frame = pd.read_csv(table)
        frame = frame[frame["subject"] == "crypto (pooled)"]
        rows = [{k: (r[k] if k in r and pd.notna(r[k]) else None) for k in FORECAST_COLUMNS}
                for r in frame.to_dict("records")]  # fmt: skip
        tables.append({"evidence": ev.path, "table": str(table), "rows": rows,
                       "model": ev.provenance.model_uri if ev.provenance else None})  # fmt: skip
    return {"tables": tables, "evidence_files": [ev.path for ev in found]}


COLLAPSE_SHARE = 0.9


def rl_training(strategy_specs: list) -> list[dict[str, Any]]:
    """Each DQN policy's training curve (mean return of recent episodes by env step), from the registry.

    The sweep records the model version each ``dqn`` cell resolved to; its MLflow run holds the curve.
    A registry that cannot be read is said, not skipped silently.
    """
    versions = sorted({s["model_version"] for s in strategy_specs
                       if isinstance(s, dict) and str(s.get("model_version", "")).startswith("prometheus-dqn/")})  # fmt: skip
    if not versions:
        return []
    out = []
    try:
        from mlflow import MlflowClient

        from prometheus_sim.registry import configure

        configure()
        client = MlflowClient()
        for ref in versions:
            name, version = ref.split("/")
            run_id = client.get_model_version(name, version).run_id
            points = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "episode_return"))
            out.append({"model": ref, "points": [[int(a), float(b)] for a, b in points]})
    except Exception as exc:  # the report still renders; the section says why the curve is missing
        out.append({"model": ", ".join(versions), "problem": f"{type(exc).__name__}: {exc}"})
    return out


def action_rows(metrics: pd.DataFrame) -> list[dict[str, Any]]:
    """Per strategy (all scenarios and seeds), the mean share of decisions labelled with each action."""
    from prometheus_sim.metrics import ACTION_SHARE_COLUMNS

    if metrics.empty or not set(ACTION_SHARE_COLUMNS) <= set(metrics.columns):
        return []  # a sweep from before the action shares were recorded
    from prometheus_sim.acceptance import AI_STRATEGIES

    shares = metrics.groupby("strategy", sort=True)[list(ACTION_SHARE_COLUMNS)].mean()
    return [{"strategy": name, **{c.removeprefix("share_"): float(v) for c, v in row.items()},
             # baselines use one action by design; only a learned or model-driven policy can collapse
             "collapsed": bool(str(name).split(" [")[0] in AI_STRATEGIES and row.max() > COLLAPSE_SHARE)}
            for name, row in shares.iterrows()]  # fmt: skip


def run_info(doc: dict, metrics: pd.DataFrame) -> dict[str, Any]:
    """Who made the run and with what settings: enough to rerun it and to trust its digests."""
    cfg = doc.get("config", {})
    seeds = sorted(int(s) for s in cfg.get("seeds", []))
    scenarios = cfg.get("scenarios", {})
    digests = scenarios if isinstance(scenarios, dict) else {}  # name -> SHA-256 of the scenario as run
    rows = metrics.groupby("scenario").size().to_dict() if not metrics.empty else {}
    return {
        "package_version": doc.get("package_version"),
        "status": doc.get("status"),
        "scenarios": [
            {"name": s, "digest": digests.get(s), "result_rows": int(rows.get(s, 0))}
            for s in sorted(set(cfg.get("scenarios", [])) | set(rows))
        ],
        "n_seeds": len(seeds),
        "seed_min": seeds[0] if seeds else None,
        "seed_max": seeds[-1] if seeds else None,
        "seeds_contiguous": bool(seeds) and seeds[-1] - seeds[0] + 1 == len(seeds),
        "strategies": sorted(s["name"] if isinstance(s, dict) else s for s in cfg.get("strategies", [])),
        "strategy_specs": [s for s in cfg.get("strategies", []) if isinstance(s, dict)],
        "costs": _costs(cfg),
        "profiles": cfg.get("profiles") or {},
        "rules": cfg.get("rules") or {},
        "horizon_days": cfg.get("horizon_days"),
        "win_horizon_days": cfg.get("win_horizon_days"),
        "plot_seeds": cfg.get("plot_seeds"),
    }


def summary_rows(metrics: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean and 95 % interval over seeds of each summary metric, per (scenario, strategy)."""
    if metrics.empty:
        return []
    rows = []
    for (scenario, strategy), group in metrics.groupby(["scenario", "strategy"], sort=True):
        stats = {}
        for name in SUMMARY_METRICS:
            mean, low, high = mean_interval(group[name].to_numpy(dtype=float))
            stats[name] = {"mean": mean, "low": low, "high": high}
        rows.append({"scenario": scenario, "strategy": strategy, "n_seeds": int(len(group)), "metrics": stats})
    return rows


def used_definitions(acceptance: dict) -> dict[str, str]:
    """Definitions of the summary metrics and of any metric the acceptance rows are defined by."""
    texts = [c.get("definition") or "" for c in acceptance.get("criteria", [])]
    from prometheus_sim.portfolio import DEFINITIONS as PORTFOLIO_DEFINITIONS

    used = [k for k in DEFINITIONS if k in SUMMARY_METRICS or any(t.startswith(DEFINITIONS[k]) for t in texts)]
    # every return metric is built on the daily return, and the words the summary uses are the portfolio model's
    return {"daily_return": DEFINITIONS["daily_return"], **{k: DEFINITIONS[k] for k in used}, **PORTFOLIO_DEFINITIONS}


COST_FIELDS = ("fees_bps", "slippage_bps", "impact")


def _costs(cfg: dict) -> list[dict]:
    """The sweep's cost settings, one dict each (a cost sweep has several; nested under ``costs``, flat
    in sweeps from before that)."""
    costs = cfg.get("costs") or {k: cfg.get(k) for k in COST_FIELDS}
    settings = costs if isinstance(costs, list) else [costs]
    return [{k: c.get(k) for k in COST_FIELDS} for c in settings]


def _cost_values(costs: list[dict], key: str) -> str:
    """One cost field over the settings: ``10`` or, for a sweep, ``0 / 10 / 30``."""
    values = list(dict.fromkeys(c[key] for c in costs))
    return " / ".join(_g(v) for v in values)


def _profiles_text(profiles: dict) -> str:
    """The sweep's profile grid in one line (seed s gets combination s mod its size)."""
    if not profiles:
        return "-"
    parts = [f"{k.replace('_', ' ')} {', '.join(_g(v) for v in vals)}" for k, vals in profiles.items()]
    return "; ".join(parts) + " (every combination; seed s gets combination s mod their number)"


def execution_note(cfg: dict) -> str:
    """The execution model in one paragraph, with this run's cost settings filled in."""
    return (
        "Execution: an order decided at a step (seeing that step's close) fills at the next step's open (the bar's first intraday trade), "
        "never at the close it saw. Fees are {fees} bps of traded notional; slippage is {slip} bps plus a "
        "market-impact term of {impact} × (units traded / the decision bar's volume). Holdings cannot go "
        "negative and cash is held in the stablecoin. Monthly contributions land in cash at the open of each "
        "month's first step, before fills. Equity is marked at every close; metrics use the daily close "
        "equity, as time-weighted returns."
    ).format(fees=_cost_values(_costs(cfg), "fees_bps"), slip=_cost_values(_costs(cfg), "slippage_bps"),
             impact=_cost_values(_costs(cfg), "impact"))  # fmt: skip


# ---------------------------------------------------------------- plots


def write_plots(run_dir: Path, data: dict) -> list[dict[str, Any]]:
    """An equity and a drawdown PNG per scenario that has equity curves; return their records."""
    from prometheus_sim.report.plots import plot_drawdown, plot_equity
    from prometheus_sim.sweep import EQUITY_DIR

    plots_dir = run_dir / PLOTS_DIR
    _remove_old_plots(plots_dir)
    initial = 1.0  # the sweep's curves are growth indices
    records = []
    for scenario in (s["name"] for s in data["run"]["scenarios"]):
        # the cells' labels (a cost sweep's name their costs), as the equity files are named
        labels = sorted({r["strategy"] for r in data["summary"] if r["scenario"] == scenario})
        curves = _load_curves(run_dir / EQUITY_DIR, scenario, labels)
        if not curves:
            continue
        n = max(frame.shape[1] for frame in curves.values())
        specs = (
            ("equity", f"{scenario}: equity / initial value over {n} seeds", plot_equity, (initial,)),
            ("drawdown", f"{scenario}: drawdown over {n} seeds", plot_drawdown, ()),
        )
        for kind, title, plot, extra in specs:
            rel = f"{PLOTS_DIR}/{kind}_{scenario}.png"
            plot(curves, *extra, title, run_dir / rel)
            records.append({"file": rel, "title": title, "scenario": scenario, "kind": kind, "n_seeds": n})
    curves = [c for c in data.get("rl") or [] if c.get("points")]
    if curves:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        for c in curves:
            steps, values = zip(*c["points"], strict=True)
            ax.plot(steps, values, marker="o", ms=3, label=c["model"])
        ax.set(title="DQN training: mean return of the last 50 episodes", xlabel="env steps", ylabel="episode return")
        ax.legend(fontsize=8)
        fig.tight_layout()
        rel = f"{PLOTS_DIR}/rl_training.png"
        plots_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(run_dir / rel, dpi=90, metadata={"Software": None})
        plt.close(fig)
        records.append({"file": rel, "title": "DQN training curve", "scenario": None, "kind": "rl", "n_seeds": 0})
    return records


def _load_curves(equity_dir: Path, scenario: str, strategies: list[str]) -> dict[str, pd.DataFrame]:
    """The sweep's daily equity per strategy for one scenario (strategies without a file are skipped)."""
    curves = {}
    for strategy in strategies:
        path = equity_dir / f"{scenario}__{strategy}.parquet"
        if path.exists():
            frame = pd.read_parquet(path)
            if frame.shape[1] and len(frame):
                curves[strategy] = frame
    return curves


def _remove_old_plots(plots_dir: Path) -> None:
    """Drop plots an earlier build wrote, so the folder never shows a scenario this run lacks."""
    for pattern in ("equity_*.png", "drawdown_*.png"):
        for old in plots_dir.glob(pattern):
            old.unlink()


# ---------------------------------------------------------------- formatting


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _g(x: Any) -> str:
    """A setting as written (10.0 -> 10)."""
    return f"{x:g}" if _finite(x) else "n/a"


def fmt_value(x: Any, kind: str = "num", decimals: int = 2) -> str:
    """One number for a table: percentages for fractions, 'n/a' for missing or NaN."""
    if not _finite(x):
        return "n/a"
    if kind == "pct":
        return f"{100.0 * x:,.{decimals}f} %"
    return f"{x:,.{decimals}f}"


def fmt_interval(mean: Any, low: Any, high: Any, kind: str = "num", decimals: int = 2) -> str:
    """``mean [low, high]``; the interval's bounds share the mean's unit, written once."""
    head = fmt_value(mean, kind, decimals)
    if head == "n/a":
        return head
    if not (_finite(low) and _finite(high)):
        return f"{head} [n/a]"
    strip = " %" if kind == "pct" else ""
    lo, hi = (fmt_value(v, kind, decimals).removesuffix(strip) for v in (low, high))
    return f"{head} [{lo}, {hi}]"


UNIT_FORMATS = {"%": ("num", 2, " %"), "fraction": ("pct", 1, ""), "ms": ("num", 1, " ms"), "1/s": ("num", 0, " /s")}


def fmt_measured(value: Any, unit: str, low: Any = None, high: Any = None) -> str:
    """An acceptance value in its unit (fractions as percentages), with its interval when known."""
    kind, decimals, suffix = UNIT_FORMATS.get(unit, ("num", 3, ""))
    if low is None and high is None:
        text = fmt_value(value, kind, decimals)
    else:
        text = fmt_interval(value, low, high, kind, decimals)
    if text == "n/a" or not suffix:
        return text
    head, _, rest = text.partition(" [")
    return f"{head}{suffix}" + (f" [{rest}" if rest else "")


def _seeds_text(run: dict) -> str:
    if not run["n_seeds"]:
        return "none"
    span = f"{run['seed_min']}-{run['seed_max']}"
    gaps = "" if run["seeds_contiguous"] else ", not contiguous"
    return f"{run['n_seeds']} ({span}{gaps})"


# ---------------------------------------------------------------- layout


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[tuple[str, str]]  # (label, value)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    css: str = ""
    anchor: str = ""
    status_col: int | None = None  # the column whose value becomes a CSS class in HTML
    row_header: bool = field(default=False)


@dataclass
class Figure:
    path: str  # relative to the run directory
    title: str


Block = Heading | Para | Bullets | Table | Figure


def _title(data: dict) -> str:
    names = ", ".join(s["name"] for s in data["run"]["scenarios"]) or "no scenarios"
    return f"Backtest report: {names}"


def report_blocks(data: dict) -> list[Block]:
    """The report's content, in order: run info, acceptance, summary, plots, definitions."""
    return [
        Heading(1, _title(data)),
        *run_blocks(data),
        *acceptance_blocks(data["acceptance"]),
        *summary_blocks(data),
        *forecasting_blocks(data),
        *action_blocks(data),
        *rl_blocks(data),
        *plot_blocks(data),
        *definition_blocks(data),
    ]


def run_blocks(data: dict) -> list[Block]:
    run = data["run"]
    costs = run["costs"]
    horizon = "each scenario's own" if run["horizon_days"] is None else f"{run['horizon_days']} days (override)"
    items = [
        ("Package version", str(run["package_version"])),
        ("Status", str(run["status"])),
        ("Seeds", _seeds_text(run)),
        ("Strategies", ", ".join(run["strategies"]) or "none"),
        (
            "Costs",
            "; ".join(
                f"fees {_g(c['fees_bps'])} bps, slippage {_g(c['slippage_bps'])} bps, impact {_g(c['impact'])}"
                for c in costs
            )
            + (" (a cost sweep: each strategy's label names its setting)" if len(costs) > 1 else ""),
        ),
        ("Risk profiles", _profiles_text(run["profiles"])),
        ("Horizon", horizon),
        ("Win-rate horizon", f"{run['win_horizon_days']} days"),
    ]
    scen = Table(
        ["Scenario", "Scenario digest (SHA-256)", "Result rows"],
        [[s["name"], str(s["digest"]), str(s["result_rows"])] for s in run["scenarios"]],
        css="scenarios",
    )
    return [Heading(2, "Run", "run"), Bullets(items), scen, Heading(3, "Failures", "failures"), *failure_blocks(data)]


def failure_blocks(data: dict) -> list[Block]:
    failures = data["failures"]
    if not failures:
        return [Para("none")]
    rows = [[str(f["scenario"]), str(f["seeds"]), str(f["strategy"]), str(f["error"])] for f in failures]
    return [
        Para(f"{len(failures)} failed cell(s); their rows are missing from the tables below."),
        Table(["Scenario", "Seeds", "Strategy", "Error"], rows, css="failures"),
    ]


def acceptance_blocks(acceptance: dict) -> list[Block]:
    rows = []
    for c in acceptance.get("criteria", []):
        baselines = "\n".join(
            f"{k}: {fmt_measured(v.get('measured'), c['unit'], v.get('low'), v.get('high'))} ({v.get('status')})"
            for k, v in (c.get("baselines") or {}).items()
        )
        measured = fmt_measured(c.get("measured"), c["unit"], c.get("low"), c.get("high"))
        cells = f"{c['cells']} ({c['failed_cells']} failed)" if c.get("cells") or c.get("failed_cells") else "-"
        evidence = "\n".join(_evidence_text(e) for e in c.get("evidence") or [])
        note = "\n".join(t for t in (c.get("definition"), c.get("note") and f"Note: {c['note']}",
                                      evidence and f"Evidence: {evidence}") if t)  # fmt: skip
        rows.append([c.get("group", ""), c["name"], c["target"], measured, cells, baselines or "-", c["status"], note])
    headers = ["Group", "Criterion", "Target", "Measured [95 % interval]", "Cells", "Baselines", "Status",
               "Definition / note / evidence"]  # fmt: skip
    verdict = "at least one criterion failed" if acceptance.get("failed") else "no criterion failed"
    return [
        Heading(2, "Acceptance", "acceptance-section"),
        Para(
            f"Overall: {verdict}. 'not measured' means the part that produces the number does not exist yet (or too "
            "few cells ran); 'unverified' means its only evidence lacks provenance; 'not measurable' means no run "
            "can measure it (a labelled proxy row stands beside it)."
        ),
        Table(headers, rows, css="acceptance", anchor="acceptance", status_col=6),
    ]


def _evidence_text(e: dict) -> str:
    """One evidence file's provenance in a line: what wrote it, when, where, with which model."""
    if not e.get("command"):
        return f"{e['path']} (no provenance: not counted)"
    model = f", model {e['model_uri']}@{e['model_version']}" if e.get("model_uri") else ""
    seeds = f", seeds {e['seeds']}" if e.get("seeds") else ""
    state = "" if e.get("verified") else f" (not counted: {e.get('problem')})"
    return (f"{e['path']}: `{e['command']}`, prometheus-sim {e['package_version']}, {e['written_at']} on "
            f"{e['host']}{model}{seeds}{state}")  # fmt: skip


def summary_blocks(data: dict) -> list[Block]:
    """Per scenario, a table of metrics (rows) by strategy (columns): mean [95 % interval]."""
    blocks: list[Block] = [
        Heading(2, "Summary", "summary"),
        Para("Each cell: mean over seeds [95 % interval]. Fractions are shown as percentages."),
    ]
    by_scenario: dict[str, list[dict]] = {}
    for row in data["summary"]:
        by_scenario.setdefault(row["scenario"], []).append(row)
    for scenario in (s["name"] for s in data["run"]["scenarios"]):
        blocks.append(Heading(3, f"Scenario {scenario}", f"summary-{scenario}"))
        rows = sorted(by_scenario.get(scenario, []), key=lambda r: r["strategy"])
        if not rows:
            blocks.append(Para("no results (every cell of this scenario failed; see Failures)"))
            continue
        seeds = ", ".join(f"{r['strategy']} {r['n_seeds']}" for r in rows)
        blocks.append(Para(f"Seeds per strategy: {seeds}."))
        blocks.append(_summary_table(rows))
    return blocks


def _summary_table(rows: list[dict]) -> Table:
    body = []
    for name, (kind, decimals) in SUMMARY_METRICS.items():
        cells = [fmt_interval(**r["metrics"][name], kind=kind, decimals=decimals) for r in rows]
        body.append([METRIC_LABELS.get(name, name), *cells])
    return Table(["Metric", *(r["strategy"] for r in rows)], body, css="summary", row_header=True)


def rl_blocks(data: dict) -> list[Block]:
    """The DQN policies' training curves (when the run has a ``dqn`` strategy)."""
    curves = data.get("rl") or []
    if not curves:
        return []
    blocks: list[Block] = [Heading(2, "RL training", "rl")]
    for c in curves:
        if c.get("problem"):
            blocks.append(Para(f"Training curve of {c['model']} not available: {c['problem']}"))
        else:
            last = c["points"][-1] if c["points"] else None
            tail = f"; last point: {last[1]:.2f} at {last[0]:,} steps" if last else ""
            blocks.append(Para(f"{c['model']}: mean return of the last 50 episodes during training{tail}."))
    blocks += [Figure(p["file"], p["title"]) for p in data.get("plots", []) if p["kind"] == "rl"]
    return blocks


def action_blocks(data: dict) -> list[Block]:
    """What each strategy did: its decisions' action labels, with a flag where one action dominates."""
    rows = data.get("actions") or []
    if not rows:
        return []
    names = [k for k in rows[0] if k not in ("strategy", "collapsed")]
    body = [[r["strategy"], *(fmt_value(r[n], kind="pct", decimals=1) for n in names),
             "one action > 90 %" if r["collapsed"] else ""] for r in rows]  # fmt: skip
    return [
        Heading(2, "What the strategies did", "actions"),
        Para("Share of each strategy's decisions by the guide's action label (all scenarios and seeds). An AI "
             "strategy (dqn, forecast) with more than 90 % of its decisions in one class is flagged: it may have "
             "collapsed. Baselines use one action by design."),
        Table(["Strategy", *(n.replace("_", " ") for n in names), "Flag"], body, css="actions"),
    ]  # fmt: skip


def forecasting_blocks(data: dict) -> list[Block]:
    """The forecaster's out-of-sample scores beside the baselines and the oracle (when an evaluation is given)."""
    fc = data.get("forecasting") or {"tables": [], "evidence_files": []}
    blocks: list[Block] = [Heading(2, "Forecasting", "forecasting")]
    if not fc["tables"]:
        blocks.append(Para("No forecast evaluation was given: `prometheus-sim forecast evaluate ... --out DIR` writes "
                           "one; pass DIR/evidence/forecast_eval.json with --evidence."))  # fmt: skip
        return blocks
    blocks.append(Para(
        "Out of sample (unseen seeds, later days), pooled over the crypto assets. MAE: mean |predicted - realised "
        "price| in % of the last close over horizons 1..7; MAPE at 7 days; intervals: 95 % bootstrap over paths; "
        "DM: Diebold-Mariano against last value (negative t: the model is better); gap closed: share of the "
        "last-value-to-oracle gap in MSE of log returns; coverage: realised share inside the 80 % and 95 % bands."
    ))  # fmt: skip
    for t in fc["tables"]:
        blocks.append(Para(f"Model {t['model'] or '?'}, from {t['table']}."))
        rows = [[
            str(r["scenario"]), str(r["forecaster"]), str(r["n_windows"]),
            fmt_interval(r["mae_pct"], r["mae_pct_low"], r["mae_pct_high"]), fmt_value(r["mape_7d"]),
            fmt_value(r["rmse"], decimals=4), fmt_value(r["dm_t"]), fmt_value(r["dm_p"], decimals=3),
            fmt_interval(r["gap_closed"], r["gap_closed_low"], r["gap_closed_high"]),
            fmt_value(r["coverage_0.8"], decimals=3), fmt_value(r["coverage_0.95"], decimals=3),
        ] for r in t["rows"]]  # fmt: skip
        blocks.append(Table(["Scenario", "Forecaster", "Windows", "MAE %", "MAPE 7d %", "RMSE", "DM t", "DM p",
                             "Gap closed", "Cover 80 %", "Cover 95 %"], rows, css="forecasting"))  # fmt: skip
    return blocks


def plot_blocks(data: dict) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Plots", "plots"), Para(data["notes"]["plots"])]
    if not [p for p in data["plots"] if p["kind"] != "rl"]:
        blocks.append(Para("no equity curves in this run"))
    for scenario in dict.fromkeys(p["scenario"] for p in data["plots"] if p["kind"] != "rl"):
        blocks.append(Heading(3, f"Scenario {scenario}", f"plots-{scenario}"))
        blocks += [Figure(p["file"], p["title"]) for p in data["plots"] if p["scenario"] == scenario]
    return blocks


def definition_blocks(data: dict) -> list[Block]:
    notes = data["notes"]
    return [
        Heading(2, "Definitions", "definitions"),
        Bullets(list(data["definitions"].items())),
        Para(notes["intervals"]),
        Para(notes["execution"]),
    ]


# ---------------------------------------------------------------- Markdown


def render_markdown(blocks: list[Block]) -> str:
    """GitHub-flavoured Markdown; figures link the PNGs in plots/ by relative path."""
    parts = [_md_block(b) for b in blocks]
    return "\n\n".join(parts) + "\n"


def _md_block(block: Block) -> str:
    match block:
        case Heading(level, text):
            return f"{'#' * level} {text}"
        case Para(text):
            return text
        case Bullets(items):
            return "\n".join(f"- **{label}**: {value}" for label, value in items)
        case Table():
            return _md_table(block)
        case Figure(path, title):
            return f"![{title}]({path})\n\n*{title}*"
    raise TypeError(f"unknown block {block!r}")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def _md_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in table.headers) + " |",
        "|" + "|".join(" --- " for _ in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .88rem; }
th, td { border: 1px solid #d0d0d0; padding: .3rem .5rem; vertical-align: top; text-align: left; }
thead th { background: #f2f4f7; }
table.summary td { font-variant-numeric: tabular-nums; white-space: nowrap; }
table.acceptance td:nth-child(4), table.acceptance td:nth-child(7) { white-space: nowrap; }
td.status-pass { background: #e3f6e5; color: #17642a; font-weight: 600; }
td.status-fail { background: #fde7e7; color: #9b1c1c; font-weight: 600; }
td.status-not-measured { background: #f4f4f4; color: #666; }
td.status-not-measurable { background: #f4f4f4; color: #666; font-style: italic; }
td.status-inconclusive, td.status-unverified { background: #fff6db; color: #7a5500; font-weight: 600; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
code { font-size: .9em; }
"""

PLOT_COUNTER = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img.plot"), n = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) { n++; } }
  document.body.dataset.plotsRendered = String(n);
});
"""


def render_html(blocks: list[Block], run_dir: Path, title: str) -> str:
    """One self-contained page: inline CSS, PNGs as data URIs, and the plot-counting script."""
    n_plots = sum(isinstance(b, Figure) for b in blocks)
    body = "\n".join(_html_block(b, run_dir) for b in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f'<body data-plots-total="{n_plots}">\n{body}\n<script>{PLOT_COUNTER}</script>\n</body>\n</html>\n'
    )


def _esc(text: str) -> str:
    return "<br>".join(html.escape(line) for line in str(text).split("\n"))


def _html_block(block: Block, run_dir: Path) -> str:
    match block:
        case Heading(level, text, anchor):
            ident = f' id="{html.escape(anchor)}"' if anchor else ""
            return f"<h{level}{ident}>{_esc(text)}</h{level}>"
        case Para(text):
            return f"<p>{_esc(text)}</p>"
        case Bullets(items):
            lis = "".join(f"<li><strong>{_esc(k)}</strong>: {_esc(v)}</li>" for k, v in items)
            return f"<ul>{lis}</ul>"
        case Table():
            return _html_table(block)
        case Figure(path, title):
            uri = "data:image/png;base64," + base64.b64encode((run_dir / path).read_bytes()).decode("ascii")
            t = html.escape(title)
            return f'<figure><img class="plot" src="{uri}" alt="{t}"><figcaption>{t}</figcaption></figure>'
    raise TypeError(f"unknown block {block!r}")


def _html_table(table: Table) -> str:
    attrs = (f' id="{html.escape(table.anchor)}"' if table.anchor else "") + (
        f' class="{html.escape(table.css)}"' if table.css else ""
    )
    head = "".join(f"<th>{_esc(h)}</th>" for h in table.headers)
    rows = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            tag = "th" if table.row_header and i == 0 else "td"
            cls = f' class="status-{cell.replace(" ", "-")}"' if i == table.status_col else ""
            cells.append(f"<{tag}{cls}>{_esc(cell)}</{tag}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# ---------------------------------------------------------------- JSON


def _json_safe(value: Any) -> Any:
    """NaN/inf -> None and NumPy scalars -> Python, so report.json is strict JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
