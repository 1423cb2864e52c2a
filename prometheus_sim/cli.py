"""The ``prometheus-sim`` command.

Heavy modules (numba kernels, pandas, matplotlib) are imported inside the commands, so
``prometheus-sim --help`` answers at once and never imports torch, web3, gymnasium or mlflow.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

SHIPPED_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
EXIT_BAD_INPUT = 2


def resolve_scenario(name_or_path: str) -> Path:
    """A scenario file path, or the name of a shipped scenario (``default`` -> scenarios/default.yaml)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    for candidate in (Path("scenarios") / f"{name_or_path}.yaml", SHIPPED_SCENARIOS / f"{name_or_path}.yaml"):
        if candidate.exists():
            return candidate
    shipped = sorted(p.stem for p in SHIPPED_SCENARIOS.glob("*.yaml"))
    raise click.UsageError(f"scenario {name_or_path!r} is neither a file nor a shipped scenario; shipped: {shipped}")


def _load_or_exit(path: Path):
    from prometheus_sim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prometheus-sim")
def main() -> None:
    """Simulate crypto and macro markets from YAML scenarios; backtest and score strategies."""


@main.command()
@click.argument("scenario")
@click.option("--paths", "n_paths", type=click.IntRange(min=1), default=100, show_default=True, help="Paths.")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=None, help="Seed [default: the scenario's].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output dir.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Numba threads [default: all cores].")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write a fan chart PNG per asset.")
def simulate(
    scenario: str,
    n_paths: int,
    seed: int | None,
    out_dir: Path,
    threads: int | None,
    progress: bool | None,
    plots: bool,
) -> None:
    """Simulate SCENARIO (a YAML file or a shipped name) and write the market, facts and fan charts."""
    spec = _load_or_exit(resolve_scenario(scenario))
    import numba
    from tqdm import tqdm

    from prometheus_sim.facts import correlation_table, stylised_facts
    from prometheus_sim.market import Market

    if threads is not None:
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise click.BadParameter(
                f"at most {numba.config.NUMBA_NUM_THREADS} on this machine, got {threads}", param_hint="--threads"
            )
        numba.set_num_threads(threads)
    show = sys.stderr.isatty() if progress is None else progress
    seed = spec.seed if seed is None else seed
    started = time.perf_counter()
    with tqdm(total=n_paths, unit="path", desc=f"simulate {spec.name}", disable=not show, file=sys.stderr) as bar:
        market = Market.simulate(spec, seed=seed, n_paths=n_paths, progress=bar.update)
    elapsed = time.perf_counter() - started
    market.save(out_dir)
    facts = stylised_facts(market)
    facts.to_csv(out_dir / "stylised_facts.csv")
    correlation_table(market).to_csv(out_dir / "correlation.csv")
    (out_dir / "stylised_facts.txt").write_text(facts.round(4).to_string() + "\n")
    charts = []
    if plots:
        from prometheus_sim.report.fan_chart import fan_chart

        for asset in market.assets:
            charts.append(fan_chart(market, asset, out_dir / f"fan_{asset}.png"))
    asset_steps = market.n_paths * market.n_steps * len(market.assets)
    click.echo(
        f"simulated {spec.name}: {market.n_paths} paths x {market.n_steps} steps x {len(market.assets)} assets, "
        f"seed {seed}, in {elapsed:.2f} s ({asset_steps / elapsed / 1e6:.1f} M asset-steps/s)"
    )
    click.echo(facts.xs("annual_vol", level="fact").round(3).to_string())
    click.echo(f"market:  {out_dir}/ (manifest.json + Parquet blocks, {market.nbytes / 2**20:.0f} MiB in memory)")
    click.echo(f"facts:   {out_dir / 'stylised_facts.csv'}")
    if charts:
        click.echo(f"charts:  {', '.join(str(c) for c in charts)}")


@main.group()
def scenarios() -> None:
    """Inspect and validate scenario files."""


@scenarios.command("validate")
@click.argument("files", nargs=-1, required=True)
def scenarios_validate(files: tuple[str, ...]) -> None:
    """Validate scenario FILES; print every problem with its field path; exit 2 if any fails."""
    from prometheus_sim.scenario import ScenarioError, load_scenario

    failed = 0
    for name in files:
        try:
            spec = load_scenario(resolve_scenario(name))
        except ScenarioError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        click.echo(f"{name}: ok ({spec.name}: {len(spec.assets)} assets, {spec.horizon_days} days)")
    if failed:
        sys.exit(EXIT_BAD_INPUT)


@scenarios.command("list")
def scenarios_list() -> None:
    """List the shipped scenarios with their descriptions."""
    from prometheus_sim.scenario import ScenarioError, load_scenario

    for path in sorted(SHIPPED_SCENARIOS.glob("*.yaml")):
        try:
            spec = load_scenario(path)
        except ScenarioError as exc:
            click.echo(f"{path.stem:20s} INVALID: {exc.errors[0]}")
            continue
        click.echo(f"{path.stem:20s} {spec.horizon_days:5d} days  {spec.description}")


if __name__ == "__main__":
    main()
