"""The ``prometheus-sim`` command.

Heavy modules (numba kernels, pandas, matplotlib) are imported inside the commands, so
``prometheus-sim --help`` answers at once and never imports torch, web3, gymnasium or mlflow.
"""

from __future__ import annotations

import functools
import os
import secrets
import sys
import time
from pathlib import Path

import click

SHIPPED_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
EXIT_BAD_INPUT = 2


def resolve_scenario(name_or_path: str) -> Path:
    """A scenario file path, or the name of a shipped scenario (``default`` -> scenarios/default.yaml)."""
    path = Path(name_or_path)
    if _path_test(path, Path.is_file):  # a folder named like a shipped scenario (a run's --out) does not hide it
        return path
    named = _named_scenario(name_or_path)
    if named is not None:
        return named
    if _path_test(path, Path.exists):
        return path  # a folder or other non-file: the loader names the problem with the path
    shipped = sorted(p.stem for p in SHIPPED_SCENARIOS.glob("*.yaml"))
    raise click.UsageError(f"scenario {name_or_path!r} is neither a file nor a shipped scenario; shipped: {shipped}")


def _path_test(path: Path, test) -> bool:
    """``test(path)`` (``Path.is_file``...), with a path the system cannot look up (a name too long for it, a
    folder that may not be searched) refused as bad input naming the path, not a traceback: the system's
    reason is the user's answer (review of 2026-12-05: a 300-character name stopped `scenarios validate`)."""
    try:
        return test(path)
    except OSError as exc:
        raise click.UsageError(f"{str(path)[:80]!r}{'...' if len(str(path)) > 80 else ''}: cannot look up this path "
                               f"({exc.strerror or exc})") from None  # fmt: skip


def _named_scenario(name: str) -> Path | None:
    """The scenario file a bare name stands for (``./scenarios/NAME.yaml``, then the shipped one), or None."""
    return next((c for c in (Path("scenarios") / f"{name}.yaml", SHIPPED_SCENARIOS / f"{name}.yaml")
                 if _path_test(c, Path.is_file)), None)  # fmt: skip


def _is_market_dir(name: str) -> bool:
    """Whether a command argument is a saved market's folder: a folder, unless it has no manifest and is named like
    a scenario ``resolve_scenario`` finds (``default/``, a run's output, must not hide the shipped ``default``)."""
    path = Path(name)
    if not _path_test(path, Path.is_dir):
        return False
    return _path_test(path / "manifest.json", Path.is_file) or _named_scenario(name) is None


def simulated_wiring():
    """The composition root for sweeps: strategies by registry name, the simulated venue.

    The core never imports ``strategies`` or ``adapters``; the CLI (and the API later) hands
    them in here.
    """
    from adapters.sim import sweep_adapter
    from prometheus_sim.sweep import Wiring
    from strategies.registry import build, describe

    return Wiring(strategy=build, describe=describe, adapter=sweep_adapter)


def policy_wiring():
    """The composition root for scoring a policy's checkpoints (``rl.select``): a strategy deciding by an
    in-memory network, the simulated venue, and baselines by registry name."""
    from adapters.sim import sweep_adapter
    from prometheus_sim.rl.select import PolicyWiring
    from strategies.dqn import DQNStrategy
    from strategies.registry import build

    return PolicyWiring(policy=DQNStrategy.from_network, adapter=sweep_adapter, reference=build)


def _output_dir(ctx: click.Context, param: click.Parameter, text: str | None) -> Path | None:
    """An output folder that can be made and written, checked before any work (a run used to end, after
    simulating, in a traceback from a path through a file, a device or an over-long name)."""
    if text is None:
        return None
    if text.strip() == "":
        raise click.BadParameter("is empty: name a folder ('.' for this one)", ctx, param)
    value = Path(text)
    existing, missing = value.absolute(), []
    try:
        while not existing.exists():
            if existing.is_symlink():  # exists() follows links: a dangling link or a loop is not a missing folder
                raise click.BadParameter(f"{text}: {existing} is a symbolic link to nothing (or a loop of links), so "
                                         "no folder can be made there", ctx, param)  # fmt: skip
            missing.append(existing.name)
            existing = existing.parent
    except OSError as exc:  # a name longer than the file system allows, among others
        raise click.BadParameter(f"{text[:60]}: {exc.strerror}", ctx, param) from None
    if not existing.is_dir():
        where = "exists and is not a folder" if not missing else f"lies under {existing}, which is not a folder"
        raise click.BadParameter(f"{text} {where}", ctx, param)
    name_max = os.pathconf(existing, "PC_NAME_MAX")
    for name in missing:  # ENOENT at a missing parent hides a later name's ENAMETOOLONG
        if len(os.fsencode(name)) > name_max:
            raise click.BadParameter(f"{text[:60]}: the name {name[:20]}... is longer than the {name_max} bytes "
                                     "a file name may have here", ctx, param)  # fmt: skip
    if not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{text}: {existing} is not writable", ctx, param)
    return value


def _load_or_exit(path: Path):
    from prometheus_sim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_BAD_INPUT)


def _can_write(folder: Path) -> bool:
    """Whether ``folder`` exists or can be made, and can be written to (a cache folder the user set)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _raised_in_numba_cache(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while Numba read its on-disk cache (its ``caching`` module is in the traceback)."""
    tb = exc.__traceback__
    while tb is not None:
        if "numba" in tb.tb_frame.f_code.co_filename and "caching" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


class _Commands(click.Group):
    """The command group, saying plainly when a run asks for more memory than the machine gives it (a sweep over
    200,000 seeds ended in a traceback of ``OSError: [Errno 12]``)."""

    def invoke(self, ctx: click.Context):
        import errno
        import pickle

        from prometheus_sim.memory import OutputsTooLarge

        try:
            return super().invoke(ctx)
        except OutputsTooLarge as exc:  # refused up front (memory.check_memory): the sizes say by how much
            click.echo(f"error: {self._command(ctx)}: {exc}", err=True)
            sys.exit(1)
        except (EOFError, pickle.UnpicklingError) as exc:
            if not _raised_in_numba_cache(exc):
                raise
            # a truncated or damaged cache file: click showed an EOFError as "Aborted!", as if Ctrl-C, every run
            cache = os.environ.get("NUMBA_CACHE_DIR", "")
            click.echo(f"error: {self._command(ctx)}: the compiled-kernel cache in {cache} is damaged "
                       f"({type(exc).__name__}: {exc}); remove that folder and run again (`prometheus-sim warmup` "
                       "rebuilds it)", err=True)  # fmt: skip
            sys.exit(EXIT_BAD_INPUT)
        except MemoryError:
            self._out_of_memory(ctx)
        except OSError as exc:
            if exc.errno == errno.ENOMEM:
                self._out_of_memory(ctx)
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT) and "No space left on device" not in str(exc):
                raise  # (pyarrow's OSError carries the errno in its message only)
            # a full disk was pyarrow's traceback (review of 2026-12-05); what was saved before stays loadable (saves
            # replace files whole) and a sweep's finished cells resume
            where = f" writing {exc.filename}" if exc.filename else ""
            resume = ": finished sweep cells resume" if ctx.invoked_subcommand in ("backtest", "policy") else ""
            click.echo(f"error: {self._command(ctx)}: no space left on the disk{where}; free some (or use another "
                       f"--out) and run again{resume}", err=True)  # fmt: skip
            sys.exit(1)

    @staticmethod
    def _command(ctx: click.Context) -> str:
        return " ".join(["prometheus-sim", ctx.invoked_subcommand or ""]).strip()

    @classmethod
    def _out_of_memory(cls, ctx: click.Context) -> None:
        click.echo(f"error: {cls._command(ctx)} ran out of memory: ask for fewer paths, seeds or horizon days (or "
                   "fewer --workers), or run on a machine with more memory", err=True)  # fmt: skip
        sys.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prometheus-sim")
def main() -> None:
    """Simulate crypto and macro markets from YAML scenarios; backtest and score strategies."""


@main.command()
@click.argument("scenario")
@click.option("--paths", "n_paths", type=click.IntRange(min=1), default=100, show_default=True, help="Paths.")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=None, help="Seed [default: the scenario's].")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Output dir.", callback=_output_dir
)
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

    from prometheus_sim.facts import FACTS_MIN_DAYS, stylised_facts_and_correlation
    from prometheus_sim.market import Market
    from prometheus_sim.warmup import kernels_cached

    if threads is not None:
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise click.BadParameter(
                f"at most {numba.config.NUMBA_NUM_THREADS} on this machine, got {threads}", param_hint="--threads"
            )
        numba.set_num_threads(threads)
    show = sys.stderr.isatty() if progress is None else progress
    seed = spec.seed if seed is None else seed
    # a market too large for this machine is refused before the kernels load or compile (seconds, on a cold cache)
    from prometheus_sim.generators import check_outputs_fit

    check_outputs_fit(spec, n_paths)
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    cached = bool(cache) and kernels_cached(Path(cache))
    if cache and not cached:
        if not _can_write(Path(cache)):  # Numba then caches where its own rule says (~/.cache/numba), or not at all
            click.echo(f"warning: NUMBA_CACHE_DIR {cache} cannot be written: the kernels are not cached there (set "
                       "it to a folder you can write, or unset it for the package's own)", err=True)  # fmt: skip
        else:
            click.echo(f"compiling the simulator's kernels into {cache}: once, about 9 s on 2 cores "
                       "(`prometheus-sim warmup`, which `make setup` runs, does it ahead)", err=True)  # fmt: skip
    started = time.perf_counter()
    Market.simulate(spec.with_horizon(2), seed=seed, n_paths=1)  # loads (or compiles) the kernels, timed apart
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    with tqdm(total=n_paths, unit="path", desc=f"simulate {spec.name}", disable=not show, file=sys.stderr) as bar:
        market = Market.simulate(spec, seed=seed, n_paths=n_paths, progress=bar.update)
    elapsed = time.perf_counter() - started
    # a reused --out: what was derived from the market there before goes first, so an interruption (Ctrl-C, a full
    # disk) between the save and the new files cannot leave another market's facts and charts beside this one
    # (review of 2026-12-05)
    for derived in ("stylised_facts.csv", "correlation.csv", "stylised_facts.txt", *(
            p.name for p in out_dir.glob("fan_*.png"))):  # fmt: skip
        (out_dir / derived).unlink(missing_ok=True)
    market.save(out_dir)
    facts, correlation = stylised_facts_and_correlation(market)
    facts.to_csv(out_dir / "stylised_facts.csv")
    correlation.to_csv(out_dir / "correlation.csv")
    (out_dir / "stylised_facts.txt").write_text(facts.round(4).to_string() + "\n")
    charts = []
    if plots:
        from prometheus_sim.report.fan_chart import fan_chart

        for asset in market.assets:
            charts.append(fan_chart(market, asset, out_dir / f"fan_{asset}.png"))
    asset_steps = market.n_paths * market.n_steps * len(market.assets)
    click.echo(
        f"simulated {spec.name}: {market.n_paths} paths x {market.n_steps} steps x {len(market.assets)} assets, "
        f"seed {seed}, in {elapsed:.2f} s ({asset_steps / elapsed / 1e6:.1f} M asset-steps/s; "
        f"kernels {'loaded' if cached else 'compiled'} before that in {compile_s:.2f} s)"
    )
    click.echo("annual volatility of daily returns, over paths (all stylised facts: stylised_facts.csv):")
    click.echo(facts.xs("annual_vol", level="fact").round(3).to_string())
    if market.n_steps // market.steps_per_day < FACTS_MIN_DAYS:
        click.echo(f"note: {market.n_steps // market.steps_per_day} days: stylised facts need {FACTS_MIN_DAYS} (the "
                   "lag-10 autocorrelations); those that cannot be computed are NaN")  # fmt: skip
    click.echo(f"market:  {out_dir}/ (manifest.json + Parquet blocks, {market.nbytes / 2**20:.0f} MiB in memory)")
    click.echo(f"facts:   {out_dir / 'stylised_facts.csv'}")
    if charts:
        click.echo(f"charts:  {', '.join(str(c) for c in charts)}")


@main.command()
@click.argument("scenario_files", nargs=-1, required=True)
@click.option(
    "--strategy",
    "strategy_list",
    required=True,
    help="Comma-separated registered names or package.module:Class paths, e.g. equal_weight,mymod:Momentum.",
)
@click.option(
    "--strategy-param",
    "strategy_params",
    multiple=True,
    metavar="[STRATEGY.]KEY=VALUE",
    help="A strategy's keyword argument (JSON value); repeat it. Prefix with the strategy when several.",
)
@click.option("--seeds", "seed_text", default="1000-1029", show_default=True, help="Seeds: '1000-1199' or '1,2,7'.")
@click.option(
    "--fees-bps", "fees_text", default="10", show_default=True, help="Fee in bps; a list sweeps it (5,10,30)."
)
@click.option(
    "--slippage-bps", "slippage_text", default="1", show_default=True, help="Slippage in bps; a list sweeps it."
)
@click.option(
    "--impact",
    "impact_text",
    default="0.1",
    show_default=True,
    help="Extra slippage per unit of participation; a list sweeps it.",
)
@click.option(
    "--risk-tolerance",
    "risk_tolerance_text",
    default="0.5",
    show_default=True,
    help="One value or a comma-separated grid, e.g. 0.2,0.5,0.8 (seed s gets grid[s mod n]).",
)
@click.option("--time-to-goal", "time_to_goal_text", default="24", show_default=True, help="Months; value or grid.")
@click.option("--initial-value", "initial_text", default="100000", show_default=True, help="Value or grid.")
@click.option("--monthly-contribution", "contribution_text", default="0", show_default=True, help="Value or grid.")
@click.option("--horizon-days", type=click.IntRange(min=2), default=None, help="Override every scenario's horizon.")
@click.option(
    "--first-decision-day",
    "first_decision_text",
    default="aligned",
    show_default=True,
    help="No strategy decides before this day (each then on its own grid); 'aligned': the latest first decision "
    "among the strategies (e.g. dqn's, after its features' warm-up), so all are scored on the same days "
    "(baselines alone: day 0). 0 lets each strategy decide as early as it can.",
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, help="Dask scheduler address [default: a local cluster].")
@click.option("--seeds-per-task", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--plot-seeds", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, callback=_output_dir)
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: when stderr is a terminal].")
def backtest(
    scenario_files: tuple[str, ...],
    strategy_list: str,
    strategy_params: tuple[str, ...],
    seed_text: str,
    fees_text: str,
    slippage_text: str,
    impact_text: str,
    risk_tolerance_text: str,
    time_to_goal_text: str,
    initial_text: str,
    contribution_text: str,
    horizon_days: int | None,
    first_decision_text: str,
    workers: int,
    executor: str,
    scheduler: str | None,
    seeds_per_task: int,
    plot_seeds: int,
    out_dir: Path,
    progress: bool | None,
) -> None:
    """Backtest strategies over SCENARIO_FILES x seeds; write metrics per cell to --out (resumable)."""
    from tqdm import tqdm

    from prometheus_sim.portfolio import CostModel
    from prometheus_sim.strategy_spec import StrategySpec, parse_strategy_params
    from prometheus_sim.sweep import ProfileGrid, SweepConfig, parse_seeds, plan_tasks, run_sweep
    from strategies import registry

    paths = [resolve_scenario(s) for s in scenario_files]
    try:
        names = registry.parse_list(strategy_list)
        params = parse_strategy_params(strategy_params, names)
        # a registry reference (dqn's, forecast's model) is pinned to the version it names now: every cell loads it
        specs = tuple(registry.pinned(StrategySpec(n, tuple(params[n].items()))) for n in names)
        built = [registry.build(spec) for spec in specs]  # parameters the factory does not take fail here, not per cell
        first_decision_day = _first_decision_day(first_decision_text, built)
        seeds = parse_seeds(seed_text)
        import itertools

        grids = (_grid("--fees-bps", fees_text, float), _grid("--slippage-bps", slippage_text, float),
                 _grid("--impact", impact_text, float))  # fmt: skip
        costs = tuple(CostModel(fees_bps=f, slippage_bps=sl, impact=i) for f, sl, i in itertools.product(*grids))
        options = {"risk_tolerance": ("--risk-tolerance", risk_tolerance_text, float),
                   "time_to_goal": ("--time-to-goal", time_to_goal_text, int),
                   "investment_amount": ("--initial-value", initial_text, float),
                   "monthly_contribution": ("--monthly-contribution", contribution_text, float)}  # fmt: skip
        try:
            profiles = ProfileGrid(**{field: _grid(*how) for field, how in options.items()})
        except ValueError as exc:  # name the option the user typed, not the field behind it
            text = str(exc)
            for field, (option, _, _) in options.items():
                text = text.replace(f"profiles.{field}:", f"{option}:")
            raise ValueError(text) from None
    except (LookupError, ValueError, TypeError) as exc:  # LookupError: KeyError, a model not in the registry
        raise click.UsageError(_message(exc)) from None
    try:  # parses every scenario file, once for the whole run; a bad file names its fields
        config = SweepConfig(
            scenarios=tuple(str(p) for p in paths), seeds=tuple(seeds), strategies=specs, costs=costs,
            profiles=profiles, seeds_per_task=seeds_per_task, plot_seeds=plot_seeds, horizon_days=horizon_days,
            first_decision_day=first_decision_day,
        )  # fmt: skip
        _refuse_in_sample(config, specs, built)
        policy_context = _backtest_policy_context(config, built, horizon_days, out_dir)
        forecast_in_time = _forecast_in_time_markets(config, built)
    except ValueError as exc:
        text = str(exc)
        if text.startswith("first_decision_day:"):  # the option the user typed, and what 'aligned' came to
            how = f" ('{first_decision_text}')" if first_decision_text.strip() == "aligned" else ""
            text = f"--first-decision-day{how}:" + text.removeprefix("first_decision_day:")
        click.echo(text, err=True)
        sys.exit(EXIT_BAD_INPUT)
    show = sys.stderr.isatty() if progress is None else progress
    tasks = plan_tasks(config)
    n_tasks = len(tasks)
    started = time.perf_counter()
    try:
        with tqdm(total=n_tasks, unit="task", desc="backtest", disable=not show, file=sys.stderr) as bar:
            outcome = run_sweep(config, out_dir, simulated_wiring(), workers=workers, executor=executor, scheduler=scheduler,
                                progress=bar.update)  # fmt: skip
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if policy_context is not None:
        import json

        from prometheus_sim.report.builder import POLICY_FILE

        (out_dir / POLICY_FILE).write_text(json.dumps(policy_context, indent=2, sort_keys=True) + "\n")
    if forecast_in_time is not None:
        import json

        from prometheus_sim.acceptance import IN_TIME_FILE

        (out_dir / IN_TIME_FILE).write_text(json.dumps(forecast_in_time, indent=2, sort_keys=True) + "\n")
    elapsed = time.perf_counter() - started
    rows = sum(len(t.seeds) for t in tasks)  # a saved market counts its rows, not the seeds
    n_costs = len(config.cost_settings)
    cells = rows * len(names) * n_costs
    n_seeded = sum(not _is_market_dir(p) for p in paths)
    rows_of = (f"{len(seeds)} seeds per scenario" if n_seeded == len(paths) else "each saved market's own rows"
               if n_seeded == 0 else f"{len(seeds)} seeds per scenario, a saved market's own rows")  # fmt: skip
    click.echo(
        f"backtested {len(names)} strategies x {n_costs} cost setting(s) x {rows} scenario rows ({rows_of}) "
        f"from {len(paths)} sources = {cells} cells "
        f"in {elapsed:.1f} s ({outcome.tasks_run} tasks run, {outcome.tasks_skipped} resumed from disk)"
    )
    if not outcome.metrics.empty:
        table = outcome.metrics.groupby(["scenario", "strategy"])[["annual_return", "sharpe", "max_drawdown"]].mean()
        click.echo(table.round(3).to_string())
    click.echo(f"results: {out_dir / 'metrics.parquet'}")
    if outcome.failures:
        click.echo(f"{len(outcome.failures)} cell(s) failed (kept in {out_dir / 'failures.json'}):", err=True)
        for f in outcome.failures[:10]:
            click.echo(f"  {f['scenario']} seeds {f['seeds']} {f['strategy']}: {f['error']}", err=True)
        sys.exit(1)


def _message(exc: Exception) -> str:
    """An exception's message; a KeyError's without the quotes ``str()`` adds around it."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _grid(option: str, text: str, kind: type) -> tuple:
    """``"0.2,0.5"`` -> ``(0.2, 0.5)``; a value that is not a ``kind`` names the option."""
    items = text.split(",")
    if not text.strip():
        raise ValueError(f"{option}: no value given")
    if any(not v.strip() for v in items):  # '0.2,,0.5' ran as 0.2,0.5 without a word (review, session 24)
        raise ValueError(f"{option}: {text!r} has an empty item (a comma too many?)")
    try:
        return tuple(kind(v) for v in items)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not a comma-separated list of {kind.__name__} values") from None


def _read_run_or_exit(reader, run_dir: Path, *args):
    """Call ``reader(run_dir, *args)``; a directory that is not a run, or evidence that cannot be read,
    is bad input (exit 2)."""
    from prometheus_sim.evidence import EvidenceError

    try:
        return reader(run_dir, *args)
    except (FileNotFoundError, EvidenceError, ValueError) as exc:  # ValueError: a damaged sweep.json (review)
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


_EVIDENCE_OPTION = click.option(
    "--evidence", "evidence", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="An evidence file (repeat it); RUN_DIR/evidence/*.json are always read.",
)  # fmt: skip


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@_EVIDENCE_OPTION
@click.option("--tracking-uri", default=None,
              help="MLflow store holding the run's DQN policies (their training curves) [default: the one `policy "
                   "evaluate` recorded, else MLFLOW_TRACKING_URI, else .mlflow/].")  # fmt: skip
def report(run_dir: Path, evidence: tuple[Path, ...], tracking_uri: str | None) -> None:
    """Write RUN_DIR/report.{md,html,json} and plots from a backtest run."""
    from prometheus_sim.report.builder import build_report

    files = _read_run_or_exit(build_report, run_dir, list(evidence), tracking_uri)
    plots = [k for k in files if k.startswith("plots/")]
    for name in ("report.md", "report.json", "report.html"):
        click.echo(f"{name:12s} {files[name]}")
    click.echo(f"{'plots':12s} {len(plots)} PNG files in {run_dir / 'plots'}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@_EVIDENCE_OPTION
def acceptance(run_dir: Path, evidence: tuple[Path, ...]) -> None:
    """Score the guide's criteria for RUN_DIR and its evidence; exit 1 on a fail, 2 on unreadable input.

    Statuses: pass, fail, inconclusive, not measured, unverified (evidence without provenance),
    not measurable (30-day uptime; a soak test reports on its own proxy row).
    """
    from prometheus_sim.acceptance import evaluate
    from prometheus_sim.report.builder import _finite, _target_number, decimals_apart

    result = _read_run_or_exit(evaluate, run_dir, list(evidence))
    for c in result.criteria:
        if c.unit == "fraction" and "%" in c.target:  # a win rate beside ">= 80 %", with the digits that tell it apart
            decimals = decimals_apart((c.measured, c.low, c.high), _target_number(c.target, c.unit), 100.0, 1)
            num = functools.partial(_percent, decimals=decimals)
        else:
            num = _num
        value = num(c.measured)
        if _finite(c.low) and _finite(c.high):  # an all-NaN row printed "measured  [, ]" (review, session 23)
            value += f" [{num(c.low)}, {num(c.high)}]"
        cells = f"; {c.cells} cells, {c.failed_cells} failed" if c.cells or c.failed_cells else ""
        base = ", ".join(f"{k} {num(v['measured']) or 'no value'} {v['status']}" for k, v in c.baselines.items())
        click.echo(f"{c.status.upper():14s} {c.name}: target {c.target}; measured {value or '-'}{cells}"
                   + (f"; baselines: {base}" if base else "") + (f"  ({c.note})" if c.note else ""))  # fmt: skip
    if result.failed:
        sys.exit(1)


def _num(value) -> str:
    # six significant digits: at four, an MAE of 4.999 that passed "< 5 %" printed as "5" (review of 2026-12-05)
    return "" if value is None or value != value else f"{value:.6g}"


def _percent(value, decimals: int = 1) -> str:
    return "" if value is None or value != value else f"{100 * value:.{decimals}f} %"


@main.command()
@click.argument("strategy")
@click.argument("scenario")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=None,
              help="Seed of the simulated market [default: drawn at random, and printed, so that a strategy cannot "
                   "simulate the scenario's own seed itself and read the future off its copy].")  # fmt: skip
@click.option(
    "--paths",
    "n_paths",
    type=click.IntRange(min=1),
    default=None,
    help="Paths decided together [default: 4 simulated; a saved market's every row, or its first N].",
)
@click.option("--checks", type=click.IntRange(min=1), default=12, show_default=True, help="Decision steps re-run.")
@click.option(
    "--all-steps",
    is_flag=True,
    help="Check every decision step (slower; misses nothing at the paths and horizon checked).",
)
@click.option("--horizon-days", type=click.IntRange(min=2), default=365, show_default=True)
@click.option(
    "--strategy-param",
    "strategy_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A keyword argument of the strategy (JSON value); repeat it.",
)
def lookahead(
    strategy: str, scenario: str, seed: int | None, n_paths: int | None, checks: int, all_steps: bool, horizon_days: int,
    strategy_params: tuple[str, ...],
) -> None:  # fmt: skip
    """Re-run STRATEGY (a name or package.module:Class) with data cut after decision steps, each cut in a
    process that never saw later data; exit 1 if any decision used the future, 2 on bad input.

    The default samples 12 decision steps: a leak used at a fraction f of decisions is found with
    probability about 1 - (1 - f)^12. --all-steps checks every one.
    """
    from adapters.sim import SimAdapter
    from prometheus_sim.lookahead import check_lookahead
    from prometheus_sim.strategy_spec import StrategySpec, parse_strategy_params
    from strategies import registry

    name = "strategies.canary:LeakyCanary" if strategy == "canary" else strategy
    try:
        registry.factory(name)
        params = parse_strategy_params(strategy_params, [name])[name]
        strategy_spec = StrategySpec(name, tuple(params.items()))
        registry.build(strategy_spec)
    except LookupError as exc:  # the registered names, and the canary this command also takes
        raise click.UsageError(f"{_message(exc)} (and 'canary')") from None
    except (ValueError, TypeError) as exc:  # a parameter's error: "(and 'canary')" after it read as nonsense (review)
        raise click.UsageError(_message(exc)) from None
    market = _market_to_check(scenario, seed, n_paths, horizon_days)
    try:
        result = check_lookahead(
            strategy_spec, market, SimAdapter, registry.build, n_checks=checks, every_step=all_steps
        )
    except Exception as exc:  # a scenario without a stablecoin to hold cash in, or the strategy itself failing:
        # exit 2, never 1, which means the check found lookahead
        click.echo(f"error: the lookahead check of {strategy} stopped: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(
        f"{result.strategy} on {result.scenario}: checked {len(result.steps_checked)} of {result.n_decisions} "
        f"decision steps {result.steps_checked if len(result.steps_checked) <= 20 else ''}".rstrip()
    )
    if not result.steps_checked:  # nothing checked is not a pass (a policy that first decides after its warm-up)
        click.echo(f"error: {result.strategy} made no decision in {market.n_steps // market.steps_per_day} days, so "
                   "nothing was checked: give a longer --horizon-days", err=True)  # fmt: skip
        sys.exit(EXIT_BAD_INPUT)
    if result.passed:
        days = market.n_steps // market.steps_per_day
        click.echo("no lookahead: every checked decision and its inputs are unchanged when later data is removed")
        # what a pass covers: a strategy could leak only when deciding for more users at once (a sweep's task holds 25
        # seeds) or only after the days checked, and pass here (review of 2026-12-05, session 19)
        click.echo(f"covered: {market.n_paths} path(s) decided together, {days} days; a strategy whose use of data "
                   "depends on the batch size or starts later is not covered beyond them (a sweep decides for up to "
                   "25 seeds at once: --paths 25, and --horizon-days up to the scenario's own)")  # fmt: skip
        return
    for finding in result.findings:
        click.echo(f"LOOKAHEAD {finding}")
    sys.exit(1)


def _market_to_check(scenario: str, seed: int | None, n_paths: int | None, horizon_days: int):
    """A saved market directory (cut to the horizon, and to its first ``n_paths`` rows when given) or a simulated
    one (4 paths by default). A saved market's --paths and --seed were dropped without a word (review, session 25)."""
    from prometheus_sim.market import Market

    if _is_market_dir(scenario):
        if seed is not None:
            raise click.UsageError(f"--seed: {scenario} is a saved market, whose paths are fixed; leave --seed out")
        try:
            saved = Market.load(scenario)
        except (OSError, ValueError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        if n_paths is not None and n_paths > saved.n_paths:
            raise click.UsageError(f"--paths {n_paths}: {scenario} holds {saved.n_paths} path(s)")
        if n_paths is not None and n_paths < saved.n_paths:
            saved = saved.rows(slice(0, n_paths))
        steps = min(horizon_days * saved.steps_per_day, saved.n_steps)
        return saved.head(steps) if steps < saved.n_steps else saved
    n_paths = 4 if n_paths is None else n_paths
    spec = _load_or_exit(resolve_scenario(scenario))
    spec = spec.with_horizon(min(horizon_days, spec.horizon_days))
    if seed is None:
        # a seed the strategy cannot know: with the scenario's own (public) seed, a strategy that simulates the
        # scenario itself finds the path whose closes match its history and reads the future off its copy, in
        # the cut runs and the full run alike, so every decision matched and the check passed (review of
        # 2026-12-05); 63 bits are not searched
        seed = secrets.randbits(63)
        click.echo(f"market: {spec.name}, seed {seed} (drawn; --seed {seed} repeats this check)")
    return Market.simulate(spec, seed=seed, n_paths=n_paths)


def compile_simulator_and_venue() -> float:
    """Simulate 2 paths of 40 days of ``default``, then step the venue and size orders on them; return seconds.

    A ``warmup`` group (:func:`prometheus_sim.warmup.warm` may run it in a process of its own), here
    because it wires ``adapters``, which the core does not import. The venue runs on a simulated market here: a snapshot reads ``market.close``, whose layout Numba
    types differently for a simulated market (a view) and a real one (contiguous).
    """
    from adapters.sim import SimAdapter
    from prometheus_sim.market import Market
    from prometheus_sim.portfolio import Action
    from prometheus_sim.portfolio.orders import orders_for_target_weights
    from prometheus_sim.scenario import load_scenario

    started = time.perf_counter()
    market = Market.simulate(load_scenario(SHIPPED_SCENARIOS / "default.yaml").with_horizon(40), n_paths=2)
    adapter = SimAdapter(market)  # the step kernel, its planner, state and observation
    for t in (0, 35):
        snap = adapter.snapshot(t)
        snap.observation()
        adapter.submit(t, snap.plan([Action.REBALANCE, Action.BUY_AGGRESSIVE]))
    orders_for_target_weights(snap.holdings, snap.prices, snap.weights, snap.book.cash_index)
    return time.perf_counter() - started


def compile_rl_default_layout() -> float:
    """Step the batched RL env on ``default``'s layout (its kinds, cash asset, daily bars, weekly period).

    The env's step kernel is compiled per market layout (:func:`~prometheus_sim.rl.vector.vector_step_kernel`),
    so the real series' copy from :func:`~prometheus_sim.warmup.compile_features_and_rl` does not serve the
    README's ``policy train default`` or ``make demo``. Run after the two groups: the simulator, features
    and pool kernels are cached by then, and only this copy compiles (about 12 s here).
    """
    import numpy as np

    from prometheus_sim.market import Market
    from prometheus_sim.rl.vector import PortfolioVectorEnv
    from prometheus_sim.scenario import load_scenario

    started = time.perf_counter()
    market = Market.simulate(load_scenario(SHIPPED_SCENARIOS / "default.yaml").with_horizon(60), n_paths=1)
    env = PortfolioVectorEnv(8, market=market, episode_days=21)
    env.reset(seed=0)
    env.step(np.arange(8) % 7)
    return time.perf_counter() - started


@main.command()
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Processes compiling side by side (1: one after the other, in this process).")  # fmt: skip
def warmup(jobs: int) -> None:
    """Compile every Numba kernel into the cache now (``make setup`` runs it), so no later command waits;
    remove the cache folders of older kernel sources beside it."""
    from prometheus_sim.warmup import compile_features_and_rl, prune_kernel_caches, warm

    started = time.perf_counter()
    groups = warm((compile_simulator_and_venue, compile_features_and_rl), jobs)
    groups[compile_rl_default_layout.__name__] = compile_rl_default_layout()  # after both groups: see its docstring
    each = ", ".join(f"{name.removeprefix('compile_').replace('_', ' ')} {s:.1f} s" for name, s in groups.items())
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    click.echo(f"kernels compiled, or loaded where already cached, into {cache} ({time.perf_counter() - started:.1f} s: "
               f"{each})")  # fmt: skip
    removed, freed = prune_kernel_caches(Path(cache)) if cache else ([], 0)
    if removed:
        click.echo(
            f"removed {len(removed)} cache folder(s) of older kernel sources beside it ({freed / 2**20:.0f} MiB)"
        )


#: The volume unit of real bar files (market import, scenarios fit).
VOLUME_IN = click.option(
    "--volume-in", type=click.Choice(["quote", "units"]), default="quote", show_default=True,
    help="The files' volume: quote currency (USD; Yahoo-style, the shipped data) or units of the asset.",
)  # fmt: skip


@main.group()
def forecast() -> None:
    """Train, evaluate and query the LSTM + Transformer forecaster (MLflow registry)."""


def _feature_config(no_blocks: tuple[str, ...]):
    from prometheus_sim.features import FeatureConfig

    return FeatureConfig(**{block: block not in no_blocks for block in ("price", "volume", "onchain", "macro")})


@forecast.command("train")
@click.argument("scenario_files", nargs=-1, required=True)
@click.option("--seeds", "seed_text", default="0-39", show_default=True, help="One market row per seed.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--horizon", type=click.IntRange(1, 30), default=7, show_default=True, help="Days predicted.")
@click.option("--hidden", "hidden_dim", type=click.IntRange(min=4), default=256, show_default=True)
@click.option("--lstm-layers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--transformer-layers", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--heads", "nhead", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--stride", type=click.IntRange(min=1), default=1, show_default=True, help="Days between window ends.")
@click.option("--max-windows", type=click.IntRange(min=1), default=None, help="Training windows per epoch [all].")
@click.option("--patience", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--horizon-days", type=click.IntRange(min=120), default=None, help="Override the scenarios' horizon.")
@click.option("--asset", "assets", multiple=True, help="Assets to train on [default: the crypto assets]; repeat it.")
@click.option(
    "--no",
    "no_blocks",
    multiple=True,
    type=click.Choice(["volume", "onchain", "macro"]),
    help="Switch a feature block off; repeat it.",
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
@click.option("--tracking-uri", default=None, help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else .mlflow/].")
@click.option(
    "--register-as",
    default="prometheus-forecaster",
    show_default=True,
    help="The registered model's name (another name keeps prometheus-forecaster@latest as it is).",
)
@click.option("--cpu-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Torch's threads while training: part of what a seed repeats (README, Determinism).")  # fmt: skip
@click.option("--progress/--no-progress", default=None, help="Progress bars [default: when stderr is a terminal].")
def forecast_train(scenario_files: tuple[str, ...], seed_text: str, epochs: int, horizon: int, hidden_dim: int,
                   lstm_layers: int, transformer_layers: int, nhead: int, batch_size: int, lr: float, stride: int,
                   max_windows: int | None, patience: int, horizon_days: int | None, assets: tuple[str, ...],
                   no_blocks: tuple[str, ...], device: str, seed: int, tracking_uri: str | None, register_as: str,
                   cpu_threads: int, progress: bool | None) -> None:  # fmt: skip
    """Train on SCENARIO_FILES x seeds, log to MLflow and register as prometheus-forecaster."""
    from prometheus_sim.forecast.train import TrainArgs, train
    from prometheus_sim.sweep import parse_seeds

    try:
        args = TrainArgs(
            scenarios=tuple(str(resolve_scenario(s)) for s in scenario_files), seeds=tuple(parse_seeds(seed_text)),
            epochs=epochs, horizon=horizon, hidden_dim=hidden_dim, lstm_layers=lstm_layers,
            transformer_layers=transformer_layers, nhead=nhead, batch_size=batch_size, lr=lr, stride=stride,
            max_windows_per_epoch=max_windows, patience=patience, horizon_days=horizon_days,
            assets=tuple(assets) or None, features=_feature_config(no_blocks), device=device, seed=seed,
            tracking_uri=tracking_uri, register_as=register_as, cpu_threads=cpu_threads,
            progress=sys.stderr.isatty() if progress is None else progress,
        )  # fmt: skip
        started = time.perf_counter()
        result = train(args)
    except (ValueError, KeyError) as exc:
        text = _message(exc)
        click.echo(f"error: {'--register-as' + text[len('register_as') :] if text.startswith('register_as:') else text}",
                   err=True)  # fmt: skip
        sys.exit(EXIT_BAD_INPUT)
    best = result.history[result.meta["best_epoch"]]
    click.echo(f"trained {len(result.history)} epochs in {time.perf_counter() - started:.1f} s; best epoch "
               f"{result.meta['best_epoch'] + 1} (validation windows): val_loss {best['val_loss']:.4f}, mae over days "
               f"1-{horizon} {best['mae']:.2f} %, mape at day {horizon} {best['mape']:.2f} %, rmse {best['rmse']:.4f} "
               "(the guide's 7-day figures on unseen seeds: forecast evaluate)")  # fmt: skip
    click.echo(f"registered {result.name} version {result.version} (run {result.run_id}) in {result.tracking_uri}")


@forecast.command("evaluate")
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--model", "model_ref", default="prometheus-forecaster@latest", show_default=True)
@click.option("--seeds", "seed_text", default="1000-1019", show_default=True, help="Unseen seeds (not trained on).")
@click.option("--horizon-days", type=click.IntRange(min=120), default=None, help="Override the scenarios' horizon.")
@click.option(
    "--from-day",
    type=click.IntRange(min=0),
    default=None,
    help="First window day [default: the model's split day (the last day its training targets reach, + 1) + "
    "embargo, on every market, real ones too; for a model trained before 0.3.0's split_day record, the split "
    "fraction of each market's length].",
)
@click.option("--stride", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, callback=_output_dir)
@click.option("--tracking-uri", default=None)
def forecast_evaluate(scenarios: tuple[str, ...], model_ref: str, seed_text: str, horizon_days: int | None,
                      from_day: int | None, stride: int, out_dir: Path, tracking_uri: str | None) -> None:  # fmt: skip
    """Score the model out of sample on SCENARIOS (files, names or saved market directories) beside the
    baselines and the oracle; write a table, plots and the forecast_eval evidence to --out."""
    from prometheus_sim.forecast.evaluate import score_market
    from prometheus_sim.forecast.predictor import PricePredictor
    from prometheus_sim.forecast.report import write_evaluation
    from prometheus_sim.market import Market
    from prometheus_sim.registry import RegistryError
    from prometheus_sim.sweep import parse_seeds

    try:
        predictor = PricePredictor.load(model_ref, tracking_uri)
        seeds = parse_seeds(seed_text)
        overlap = sorted(set(seeds) & set(predictor.meta["seeds"]))
        scored, digests, real_days, in_time, first_days = {}, {}, [], [], []
        for item in scenarios:
            if _is_market_dir(item):
                try:
                    market = Market.load(item)
                except OSError as exc:
                    raise ValueError(f"{item}: not a saved market ({exc})") from None
                _forecast_market_unseen(predictor.meta, market, item)
                digests[market.name] = market.digest()
            else:
                if overlap:
                    raise ValueError(f"--seeds {overlap[:5]}... were used in training: evaluate on unseen seeds")
                spec = _load_or_exit(resolve_scenario(item))
                if horizon_days is not None:
                    spec = spec.with_horizon(horizon_days)
                market = Market.simulate(spec, seeds=seeds)
                digests[spec.name] = spec.digest()
            if market.name in scored:  # keyed by name: the second replaced the first, and its digest (review)
                raise ValueError(f"two markets named {market.name!r} (the second is {item}): results are keyed by "
                                 "name; import or simulate one under another name")  # fmt: skip
            scored[market.name] = score_market(predictor, market, from_day, stride)
            first_days.append(f"{market.name}: windows from day {scored[market.name].first_day} of "
                              f"{market.n_steps // market.steps_per_day}")  # fmt: skip
            if market.is_real:
                sentence, timely = _forecast_time_basis(predictor, market, from_day)
                real_days.append(sentence)
                if timely is False:  # recorded in the evidence: acceptance does not count it as out of sample
                    in_time.append(market.name)
        command = (
            "prometheus-sim forecast evaluate " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "forecast evaluate"
        )
        table, row, evidence = write_evaluation(scored, out_dir, predictor, command, seed_text, digests, in_time)
    except (RegistryError, ValueError, KeyError) as exc:
        click.echo(f"error: {_message(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    shown = table[table["subject"] == "crypto (pooled)"][["scenario", "forecaster", "mae_pct", "mape_7d", "rmse"]]
    click.echo(f"model {predictor.model_uri}, out of sample:")
    click.echo(shown.round(4).to_string(index=False))
    mape = (f"{row['mape_7d']:.2f} %" if row["mape_7d"] == row["mape_7d"]
            else f"not measured (the model forecasts {predictor.horizon} day(s))")  # fmt: skip
    short = (f" (not the guide's 7-day figure: not measured for acceptance, as the model forecasts {predictor.horizon}"
             " day(s))" if predictor.horizon < 7 else " (target < 5)")  # fmt: skip
    click.echo(f"pooled crypto: MAE over days 1-{min(predictor.horizon, 7)} {row['mae_pct']:.2f} % "
               f"[{row['mae_pct_low']:.2f}, {row['mae_pct_high']:.2f}]{short}, 7-day MAPE {mape} (target < 10); "
               f"evidence {evidence}")  # fmt: skip
    click.echo("scored " + "; ".join(first_days) + " (the day a window's inputs end; --from-day sets it)")
    for line in real_days:
        click.echo(line)
    click.echo(f"wrote {out_dir / 'table.md'}, {out_dir / 'table.csv'} and plots in {out_dir / 'plots'}")


def _forecast_market_unseen(meta: dict, market, item: str) -> None:
    """Refuse a saved simulated market holding a path the forecaster trained, validated or calibrated on: path 0 of
    one of its seeds, of any scenario (``simulate default`` at the scenario's seed 7 wrote a training row
    of every model trained on --seeds 0-39, and scored it as out of sample; review of 2026-12-05)."""
    from prometheus_sim.rl.provenance import in_sample_rows

    rows = in_sample_rows(meta, market)
    if rows:
        raise ValueError(
            f"{item}: its row(s) {rows[:5]} are path 0 of seed(s) {sorted({int(market.seeds[i]) for i in rows})[:5]}, "
            "which the forecaster was trained, validated or calibrated on: in-sample whatever the scenario (the random "
            "numbers are keyed by seed and path, not by scenario); simulate it with unseen seeds"
        )


def _forecast_time_basis(predictor, market, from_day: int | None) -> tuple[str, bool | None]:
    """Whether a real market's scored days are out of time for the forecaster, in a sentence (as policy evaluate
    says it), and as :func:`~prometheus_sim.rl.provenance.out_of_time` says it (False: in time): a model trained on a
    scenario fitted to these very days has seen their statistics."""
    import pandas as pd

    from prometheus_sim.forecast.evaluate import default_first_day
    from prometheus_sim.rl.provenance import out_of_time, time_basis

    days = market.n_steps // market.steps_per_day
    first = from_day if from_day is not None else default_first_day(predictor.meta, days)
    first_day = pd.Timestamp(market.calendar[min(first, days - 1) * market.steps_per_day]).date()
    start = pd.Timestamp(market.calendar[0]).date()
    basis = time_basis(predictor.meta, first_day, True, who="forecaster", cut_by="--from-day",
                       option_for=lambda d: f"--from-day {(d - start).days}")  # fmt: skip
    return f"real market {market.name!r}, scored " + basis, out_of_time(predictor.meta, first_day)


@forecast.command("predict")
@click.option("--model", "model_ref", default="prometheus-forecaster@latest", show_default=True)
@click.option("--market", "market_dir", type=click.Path(file_okay=False, exists=True), required=True)
@click.option("--path", "path_row", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--asset", required=True)
@click.option("--day", type=click.IntRange(min=0), default=None, help="Day index of the forecast [default: the last].")
@click.option("--horizon-days", type=click.IntRange(min=1), default=None)
@click.option("--level", type=click.Choice(["0.5", "0.8", "0.9", "0.95"]), default="0.8", show_default=True)
@click.option("--tracking-uri", default=None)
def forecast_predict(model_ref: str, market_dir: str, path_row: int, asset: str, day: int | None,
                     horizon_days: int | None, level: str, tracking_uri: str | None) -> None:  # fmt: skip
    """Print the guide's prediction (JSON) for one asset of a saved market at the close of a day."""
    import json

    from prometheus_sim.blocks import MissingDataError
    from prometheus_sim.forecast.predictor import PricePredictor
    from prometheus_sim.market import Market
    from prometheus_sim.registry import RegistryError

    try:
        predictor = PricePredictor.load(model_ref, tracking_uri)
        try:
            market = Market.load(market_dir)
        except OSError as exc:  # a folder that is not a saved market was a FileNotFoundError traceback (review)
            raise ValueError(f"--market {market_dir}: not a saved market ({exc})") from None
        out = predictor.predict(market, asset, path_row, day, horizon_days, float(level))
    except (RegistryError, MissingDataError, ValueError) as exc:
        click.echo(f"error: {_message(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(json.dumps(out, indent=2))


@main.group()
def policy() -> None:
    """Train the Double-DQN rebalancing policy on PortfolioEnv (MLflow registry)."""


@policy.command("train")
@click.argument("scenario_files", nargs=-1, required=True)
@click.option("--seeds", "seed_text", default="0-63", show_default=True, help="Market rows episodes draw paths from.")
@click.option("--steps", "total_steps", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Environment steps (decisions) over all envs.")  # fmt: skip
@click.option("--num-envs", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--period-days", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--episode-days", type=click.IntRange(min=7), default=182, show_default=True)
@click.option("--horizon-days", type=click.IntRange(min=120), default=None)
@click.option("--learning-starts", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--replay-ratio", type=float, default=None,
              help="Gradient updates per env step [default: one per vector step, 1/num-envs]. With many envs "
                   "that is few updates: at 256 envs (1/256) two of four seeds trained a policy that holds cash "
                   "(README, RL); 64 envs at 1/64 is the measured setting.")  # fmt: skip
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--env-backend", type=click.Choice(["numba", "torch"]), default=None,
              help="The batched env: numba (host) or its torch twin on --device [default: torch on cuda, else numba].")  # fmt: skip
@click.option(
    "--env-dtype",
    type=click.Choice(["float32", "float64"]),
    default="float32",
    show_default=True,
    help="The torch twin's arithmetic (with --env-backend torch): float64 repeats a Numba run.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option(
    "--checkpoints",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="State dicts of the network logged along the run (the run's checkpoints/ artifacts).",
)
@click.option("--select-seeds", "select_text", default=None, metavar="SEEDS",
              help="Held-out seeds (none of --seeds, none you will evaluate on): every checkpoint is backtested "
                   "on them and the one with the highest mean Sharpe is registered [default: the last checkpoint]. "
                   "README, RL: the last is often a policy that holds cash.")  # fmt: skip
@click.option("--forecaster", default=None, metavar="MODEL",
              help="A registered forecaster (prometheus-forecaster@VERSION): its predicted return and calibrated band "
                   "per featured crypto asset join the observation (README, RL). Its seeds are refused as training "
                   "seeds.")  # fmt: skip
@click.option(
    "--forecast-level",
    type=float,
    default=None,
    help="The calibrated band level of the forecast columns (with --forecaster) [default: 0.8].",
)
@click.option("--register-as", default="prometheus-dqn", show_default=True,
              help="The registered policy's name (another name keeps prometheus-dqn@latest as it is).")  # fmt: skip
@click.option("--tracking-uri", default=None, help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else .mlflow/].")
@click.option("--progress/--no-progress", default=None)
def policy_train(scenario_files: tuple[str, ...], seed_text: str, total_steps: int, num_envs: int, period_days: int,
                 episode_days: int, horizon_days: int | None, learning_starts: int, replay_ratio: float | None,
                 device: str, env_backend: str | None, env_dtype: str, seed: int, checkpoints: int,
                 select_text: str | None, forecaster: str | None, forecast_level: float | None, register_as: str,
                 tracking_uri: str | None, progress: bool | None) -> None:  # fmt: skip
    """Train on SCENARIO_FILES' markets, log to MLflow and register as prometheus-dqn."""
    from prometheus_sim.rl.dqn import DQNArgs, train_dqn
    from prometheus_sim.sweep import parse_seeds

    try:
        seeds = {}
        for option, text in (("--seeds", seed_text), ("--select-seeds", select_text)):
            try:
                seeds[option] = tuple(parse_seeds(text)) if text is not None else ()
            except ValueError as exc:
                raise ValueError(f"{option} {text!r}: {exc}") from None
        select_seeds = seeds["--select-seeds"]
        if tracking_uri is not None:  # named as the option typed (DQNArgs would name its field)
            from prometheus_sim.registry import check_store

            check_store(tracking_uri, "--tracking-uri")
        _check_registry_server(tracking_uri)  # before markets are simulated: MLflow retries a dead one for minutes
        args = DQNArgs(
            scenarios=tuple(str(resolve_scenario(s)) for s in scenario_files), seeds=seeds["--seeds"],
            total_steps=total_steps, num_envs=num_envs, period_days=period_days, episode_days=episode_days,
            horizon_days=horizon_days, learning_starts=learning_starts, replay_ratio=replay_ratio, device=device,
            env_backend=env_backend, env_dtype=env_dtype, seed=seed, checkpoints=checkpoints,
            tracking_uri=tracking_uri, select_seeds=select_seeds, forecaster=forecaster, forecast_level=forecast_level,
            register_as=register_as,
            progress=sys.stderr.isatty() if progress is None else progress,
        )  # fmt: skip
        started = time.perf_counter()
        result = train_dqn(args, policy_wiring() if args.select_seeds else None)
    except (ValueError, LookupError) as exc:  # LookupError: KeyError, a --forecaster the registry lacks
        text = _message(exc)
        for field in ("num_envs", "period_days", "episode_days", "horizon_days", "learning_starts", "replay_ratio",
                      "total_steps", "checkpoints", "select_seeds", "seeds", "seed", "device", "tracking_uri",
                      "env_dtype", "env_backend", "forecaster", "forecast_level", "register_as"):  # fmt: skip
            option = "--steps" if field == "total_steps" else "--" + field.replace("_", "-")
            if text.startswith(f"{field}:"):  # DQNArgs names its fields: name the option the user typed
                text = option + text[len(field) :]
        if text.startswith("buffer_size:"):  # no option sets it: the envs asked for are what does not fit
            text = f"--num-envs {num_envs}: more envs than the replay buffer's {DQNArgs.buffer_size:,} rows hold"
        click.echo(f"error: {text}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    last = result.history[-1]
    from prometheus_sim.portfolio import Action

    named = [Action(a).name.lower() for a in range(len(result.meta["training_action_share"]))]  # as evaluate prints
    share = ", ".join(f"{a} {v:.0%}" for a, v in zip(named, result.meta["training_action_share"], strict=True))
    episodes = (
        f"mean return of the last 50 episodes {last['episode_return']:.2f}"
        if last["episode_return"] == last["episode_return"]
        else f"no episode finished (each is {args.episode_days} days)"
    )  # NaN: printed 'nan' (review)
    # the seconds are the command's (simulation, set-up, registration), the rate the training loop's: "1,500 steps in
    # 3.4 s (1,965 steps/s" did not add up (review of the CLI, session 25)
    click.echo(f"trained {last['step']:,} steps in {time.perf_counter() - started:.1f} s in all (the training loop "
               f"{last['steps_per_s']:,.0f} steps/s, {last['updates']:,} gradient updates at {args.updates_per_env_step:.4g} per env step, "
               f"{args.backend} env); {episodes}; actions {share}")  # fmt: skip
    greedy = result.meta["greedy_action_share"]  # the executed actions include exploration's random ones, which
    top = max(greedy)  # kept the top share under 90 % (about 86 % at most at the default epsilon schedule)
    registered_other = result.meta.get("registered_step") != result.meta.get("action_shares_of_step")
    if top > 0.9:  # with selection the registered network may be an earlier checkpoint: its own shares follow
        click.echo(f"warning: in the last tenth of training the network itself chose {named[greedy.index(top)]} for "
                   f"{top:.0%} of its decisions (exploration left out): "
                   + ("the last network may have collapsed; the checkpoint registered is an earlier one (its own "
                      "actions below)" if registered_other else "the policy may have collapsed"))  # fmt: skip
    if "selection" in result.meta:
        _print_selection(result.meta["selection"])
    if result.meta.get("forecast"):
        from prometheus_sim.backtest import first_grid_day

        record = result.meta["forecast"]
        click.echo(f"the policy observes forecaster {record['model']} (predicted return and {record['level']:g} band "
                   f"per featured crypto asset; {result.meta['obs_dim']} values); its episodes start at the "
                   f"forecaster's first whole window, day {record['first_day']}, and in a backtest it first decides on "
                   f"day {first_grid_day(record['first_day'], args.period_days)}")  # fmt: skip
    click.echo(f"registered {result.name} version {result.version} (run {result.run_id})")


def _check_registry_server(tracking_uri: str | None) -> None:
    """The registry's server answers (an ``http(s)://`` store, from --tracking-uri or MLFLOW_TRACKING_URI), or a
    ValueError naming where the URI came from."""
    from prometheus_sim.registry import check_server
    from prometheus_sim.registry import tracking_uri as registry_uri

    source = "--tracking-uri" if tracking_uri else "MLFLOW_TRACKING_URI"
    check_server(registry_uri(tracking_uri), source)


def _print_selection(selection: dict) -> None:
    """Each checkpoint's validation score, the chosen one, and the 60/40 baseline on the same paths."""
    seeds = _seed_span(selection["seeds"])
    reference = selection["reference"].get("sixty_forty")
    click.echo(f"{len(selection['scores'])} checkpoints backtested on validation seeds {seeds} in "
               f"{selection['seconds']:.1f} s (mean Sharpe [95 % interval], most frequent action):")  # fmt: skip

    def num(x) -> str:  # None: not finite (one seed has no interval; a policy that never decided no Sharpe)
        return "n/a" if x is None else f"{x:.3f}"

    for s in selection["scores"]:
        mark = "  <- registered" if s["step"] == selection["chosen_step"] else ""
        click.echo(f"  step {s['step']:>10,}: {num(s['sharpe'])} [{num(s['low'])}, {num(s['high'])}], "
                   f"{s['top_action']} {s['top_share']:.0%}{mark}")  # fmt: skip
    best = next(s for s in selection["scores"] if s["step"] == selection["chosen_step"])
    if reference is not None:
        click.echo(f"  60/40 on the same paths: {num(reference)}")
        if best["sharpe"] is None or best["sharpe"] <= reference:
            click.echo("warning: no checkpoint beat 60/40 on the validation seeds: train another --seed and compare")
    if best["top_share"] > 0.9:
        click.echo(f"warning: the registered checkpoint takes {best['top_action']} on {best['top_share']:.0%} of its "
                   "validation decisions: a collapsed policy")  # fmt: skip


@policy.command("evaluate")
@click.argument("scenario_files", nargs=-1)
@click.option("--model", "model_ref", default="prometheus-dqn@latest", show_default=True)
@click.option("--seeds", "seed_text", default="1000-1099", show_default=True, help="Unseen seeds (not trained on).")
@click.option("--fees-bps", "fees_text", default="10", show_default=True, help="Fee in bps; a list sweeps it.")
@click.option("--real", "use_real", is_flag=True,
              help="Add the real series: the shipped data/crypto_daily files, imported into OUT/markets/real.")  # fmt: skip
@click.option("--real-from", default=None, metavar="YYYY-MM-DD",
              help="The policy decides on real markets from this date (the features' warm-up days before it are "
                   "kept as history) [default: the whole history].")  # fmt: skip
@click.option("--horizon-days", type=click.IntRange(min=2), default=None)
@click.option("--allow-other-assets", is_flag=True,
              help="Evaluate on markets whose three largest crypto assets differ from training's [default: refused].")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--tracking-uri", default=None, help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else .mlflow/].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, callback=_output_dir)
def policy_evaluate(scenario_files: tuple[str, ...], model_ref: str, seed_text: str, fees_text: str, use_real: bool,
                    real_from: str | None, horizon_days: int | None, allow_other_assets: bool, workers: int,
                    tracking_uri: str | None, out_dir: Path) -> None:  # fmt: skip
    """Sweep the policy beside hold, buy-and-hold, equal-weight and 60/40 on unseen seeds of SCENARIO_FILES
    [default: every shipped scenario] and on real markets (saved market directories among SCENARIO_FILES,
    or --real): mean and 95 % interval of the scores, whether the policy beats each baseline, the ranking
    over a fee grid, and what the policy did. `prometheus-sim report OUT` renders it.

    A real market is one path; the policy was trained on simulated markets only, so by default it is
    evaluated on the whole real history; --real-from makes it decide from a date on (the warm-up's days before
    the date kept as history). Whether those days are out of time is read from the training scenarios'
    calibrated_to windows, and said; a window that is not is marked in the report and left out of acceptance.
    """
    import json
    import os

    from prometheus_sim.metrics import ACTION_SHARE_COLUMNS, collapsed_sources, metric_interval, never_traded
    from prometheus_sim.real import RealDataError
    from prometheus_sim.registry import RegistryError, check_store, load_pytorch, resolve
    from prometheus_sim.registry import tracking_uri as registry_uri
    from prometheus_sim.report.builder import POLICY_FILE, policy_evaluation
    from prometheus_sim.scenario import load_scenario
    from prometheus_sim.strategy_spec import StrategySpec
    from prometheus_sim.sweep import SweepConfig, check_cost_settings, parse_seeds, run_sweep

    try:  # before anything is set or simulated: MLflow's client retries a server that is down for minutes
        _check_registry_server(tracking_uri)
    except ValueError as exc:
        click.echo(f"error: {_message(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if tracking_uri:  # the sweep's worker processes and the report find the registry through it
        try:  # checked as the option typed (set first, it was named MLFLOW_TRACKING_URI); a relative path made absolute
            tracking_uri = check_store(tracking_uri, "--tracking-uri")
        except ValueError as exc:
            click.echo(f"error: {_message(exc)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        database = Path(tracking_uri.removeprefix("sqlite:///")) if tracking_uri.startswith("sqlite:///") else None
        if database is not None and not database.is_file():  # evaluation reads a registry: MLflow would create an
            # empty one (and its folders) and then find no policy in it (review of 2026-12-04)
            click.echo(f"error: --tracking-uri {tracking_uri!r}: no registry at {database} (the file does not exist)",
                       err=True)  # fmt: skip
            sys.exit(EXIT_BAD_INPUT)
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    dirs = [s for s in scenario_files if _is_market_dir(s)]
    files = [str(resolve_scenario(s)) for s in scenario_files if not _is_market_dir(s)]
    if not scenario_files:
        files = sorted(str(p) for p in SHIPPED_SCENARIOS.glob("*.yaml"))
    try:
        name, version = resolve(model_ref)
        seeds = parse_seeds(seed_text)
        network = load_pytorch(f"{name}@{version}")[0]
        meta = getattr(network, "meta", None)
        if not isinstance(meta, dict) or meta.get("kind") != "prometheus-dqn":  # refused here, not in each worker
            raise ValueError(
                f"--model {model_ref}: {name}/{version} is not a prometheus DQN policy (no policy metadata)"
            )
        trained_on = set(meta.get("seeds", []))
        if trained_on & set(seeds):
            raise ValueError(
                f"--seeds {sorted(trained_on & set(seeds))[:5]}... were used in training: use unseen seeds"
            )
        forecaster_saw = {int(s) for s in (meta.get("forecast") or {}).get("seeds", [])} & set(seeds)
        if forecaster_saw:  # the policy's forecast columns are in-sample there (rl.forecast_obs)
            raise ValueError(f"--seeds {sorted(forecaster_saw)[:5]}... were seen by the forecaster whose predictions "
                             f"this policy observes ({meta['forecast'].get('model')}): use unseen seeds")  # fmt: skip
        chosen_on = set(meta.get("selection", {}).get("seeds", []))
        if chosen_on & set(seeds):
            raise ValueError(f"--seeds {sorted(chosen_on & set(seeds))[:5]}... chose this policy among its checkpoints "
                             "(policy train --select-seeds): use seeds it has not seen")  # fmt: skip
        _policy_observation_fits(meta, model_ref, f"{name}/{version}")
        first = next((m for m in network.modules() if hasattr(m, "in_features")), None)
        if first is not None and first.in_features != meta.get("obs_dim"):  # every dqn cell failed in its worker,
            # after the baselines ran, and the actions printed as NaN % (review of 2026-12-05, session 24)
            raise ValueError(f"--model {model_ref}: {name}/{version}'s network takes {first.in_features} inputs, its "
                             f"metadata says observations of {meta.get('obs_dim')} values")  # fmt: skip
        need, decides = _policy_min_days(meta)
        if horizon_days is not None and horizon_days < need:  # the policy would never decide: shares NaN, hold's scores
            raise ValueError(f"--horizon-days {horizon_days}: fewer than {need} days; the policy's first decision is on "
                             f"day {decides} (after the features' warm-up), and a decision period more is the least "
                             "that scores one")  # fmt: skip
        if horizon_days is None:  # a scenario file shorter than that: every cell failed, then a KeyError (review)
            for file in files:
                days = load_scenario(file).horizon_days
                if days < need:
                    raise ValueError(f"{file}: its {days} days are fewer than {need}; the policy's first decision is "
                                     f"on day {decides} (after the features' warm-up), and a decision period more is "
                                     "the least that scores one")  # fmt: skip
        costs = tuple(_cost_model("--fees-bps", f) for f in _grid("--fees-bps", fees_text, float))
        try:  # refused before anything is written, as the option typed
            check_cost_settings(costs)
        except ValueError as exc:
            raise ValueError(f"--fees-bps {fees_text}: {_message(exc).removeprefix('costs: ')}") from None
        real = _policy_real_markets(dirs, use_real, real_from, horizon_days, out_dir, meta)
        if not allow_other_assets:  # refused here, before a worker starts, naming each market
            _policy_markets_fit(meta, f"{name}/{version}", files, [r["path"] for r in real])
        dqn_params = (("model", f"{name}@{version}"),) + ((("allow_other_assets", True),) if allow_other_assets else ())
        strategies = (StrategySpec("dqn", dqn_params), *map(StrategySpec.of,
                      ("hold", "buy_and_hold", "equal_weight", "sixty_forty")))  # fmt: skip
        # every strategy first decides on the policy's first decision day (after its features' warm-up): the
        # baselines used to trade from day 0, scored on weeks the policy must sit out in cash
        config = SweepConfig(scenarios=(*files, *(r["path"] for r in real)), seeds=tuple(seeds), strategies=strategies,
                             costs=costs, horizon_days=horizon_days, first_decision_day=decides)  # fmt: skip
        outcome = run_sweep(config, out_dir, simulated_wiring(), workers=workers)
    except (RegistryError, RealDataError, ValueError, KeyError) as exc:
        click.echo(f"error: {_message(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    context = _policy_context(meta, f"{name}/{version}", model_ref, config, real, _seed_span(seeds) if files else None,
                              registry_uri(tracking_uri))  # fmt: skip
    (out_dir / POLICY_FILE).write_text(json.dumps(context, indent=2, sort_keys=True) + "\n")
    m = outcome.metrics
    if m.empty:  # every cell failed (each one's error is in the sweep's log): nothing to score
        click.echo(f"error: no cell of the evaluation finished; see {out_dir} for each one's error", err=True)
        sys.exit(1)
    m = m.assign(final_value=1.0 + m["total_return"])
    scores = ("sharpe", "sortino", "max_drawdown", "final_value", "turnover", "fees_paid")
    n_sources = len(files) + len(real)
    n_real = sum(r["kind"] == "real" for r in real)
    click.echo(f"policy {name}/{version} on "
               + (f"{len(files)} scenarios x {len(seeds)} unseen seeds" if files else "no seeded scenario")
               + (f", {n_real} real market(s)" if n_real else "")
               + (f", {len(real) - n_real} saved simulated market(s)" if len(real) > n_real else "")
               + " (mean [95 % interval]):")  # fmt: skip
    for (scenario, strategy), group in m.groupby(["scenario", "strategy"], sort=True):
        cells = []
        for score in scores:
            mean, low, high = metric_interval(group[score].to_numpy(), score)
            places = 5 if score == "fees_paid" else 3  # fees of a few bps of the money: 0.000 hid them
            spread = (
                f"[{low:.{places}f}, {high:.{places}f}]" if len(group) > 1 else "(one path: no interval over paths)"
            )
            cells.append(f"{score} {mean:.{places}f} {spread}")
        click.echo(f"  {scenario:18s} {strategy:40s} " + "; ".join(cells))
    for r in real:
        click.echo(f"{r['kind']} market {r['name']}: {r['window'][0]}..{r['window'][1]} ({r['days']} days): "
                   f"{r['basis']}")  # fmt: skip
    if n_real:
        click.echo("a real market is one path: its Sharpe intervals below are over its days (a stationary bootstrap "
                   "of the daily returns, the policy and each baseline resampled on the same days; the report's "
                   "Policy evaluation says how)")  # fmt: skip
    warmed = "its forecaster's first whole window" if meta.get("forecast") else "its features' warm-up"
    click.echo(f"every strategy first decides on day {config.first_decision_day} of each market (the policy's first "
               f"decision, after {warmed}), so all are scored on the same days")  # fmt: skip
    policy_rows = m[m["strategy"].str.startswith("dqn")]
    share = policy_rows[list(ACTION_SHARE_COLUMNS)].mean()
    if policy_rows.empty:  # every policy cell failed: NaN % for each action said nothing (review, session 24)
        click.echo("policy actions: none; the policy ran in no cell (failures.json says why)")
    else:
        click.echo("policy actions: " + ", ".join(f"{c.removeprefix('share_')} {v:.1%}" for c, v in share.items()))
    if share.max() > 0.9:
        click.echo(f"FLAG: {share.max():.0%} of the policy's decisions are {share.idxmax().removeprefix('share_')}: "
                   "a collapsed policy (training is sensitive to its --seed and to the machine's floating-point "
                   "rounding: train another seed and compare; README, Determinism)")  # fmt: skip
    else:  # pooled over sources a collapse on one of them averages away: each source on its own
        for source, top, action in collapsed_sources(policy_rows):
            click.echo(f"FLAG: on {source}, {top:.0%} of the policy's decisions are {action}: collapsed there "
                       "(train another seed and compare; README, Determinism)")  # fmt: skip
    for source, rows in policy_rows.groupby("scenario"):  # sells of an all-cash book are actions that trade nothing
        if never_traded(rows):
            click.echo(f"FLAG: on {source}, the policy never traded (turnover 0 in every cell): it held its opening "
                       "book, whatever its actions are called")  # fmt: skip
    verdicts = policy_evaluation(outcome.metrics, context, out_dir)
    if verdicts:
        ref = verdicts["reference_costs"]
        click.echo(f"against the baselines (Sharpe at fees {ref['fees_bps']:g} bps): {verdicts['headline']}")
        for source, text in verdicts["findings"]:
            click.echo(f"  {source}: {text}")
        for row in verdicts["cost_sweep"]:
            levels = ", ".join(f"{lv['costs']} {lv['policy_sharpe']:.3f} (rank {lv['rank']} of {lv['n_strategies']})"
                               for lv in row["levels"])  # fmt: skip
            click.echo(f"  cost sweep {row['scenario']}: {levels}: {row['holds']}")
    click.echo(
        f"{n_sources} sources; results in {out_dir}; `prometheus-sim report {out_dir}` renders the policy section"
    )
    if outcome.failures:
        click.echo(f"{len(outcome.failures)} cell(s) failed (see {out_dir / 'failures.json'})", err=True)
        sys.exit(1)


def _cost_model(option: str, fees_bps: float):
    """A venue's costs at ``fees_bps``; a refused value names the option as typed."""
    from prometheus_sim.portfolio import CostModel

    try:
        return CostModel(fees_bps=fees_bps)
    except ValueError as exc:
        raise ValueError(f"{option} {fees_bps:g}: {exc}") from None


def _selected_on(meta: dict) -> dict | None:
    """How the policy was chosen among its run's checkpoints (``policy train --select-seeds``), or None."""
    selection = meta.get("selection")
    if not selection:
        return None
    best = next(s for s in selection["scores"] if s["step"] == selection["chosen_step"])
    return {"seeds": _seed_span(selection["seeds"]), "step": selection["chosen_step"], "sharpe": best["sharpe"],
            "checkpoints": len(selection["scores"])}  # fmt: skip


def _seed_span(seeds) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"`` (how --seeds takes them)."""
    values, parts = sorted(int(s) for s in seeds), []
    for s in values:
        if parts and s == parts[-1][1] + 1:
            parts[-1][1] = s
        else:
            parts.append([s, s])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)


def _policy_markets_fit(meta: dict, model: str, files: list[str], market_dirs: list[str]) -> None:
    """Refuse, naming each, the markets whose featured crypto assets the policy never saw (``strategies.dqn``)."""
    from prometheus_sim.market import Market
    from prometheus_sim.portfolio import AssetBook
    from prometheus_sim.scenario import load_scenario
    from strategies.dqn import featured_mismatch

    problems = []
    for f in files:
        spec = load_scenario(f)
        try:
            book = AssetBook.from_kinds(spec.asset_names, spec.asset_kinds, spec.asset_sizes)
        except ValueError as exc:  # no stablecoin: said without naming which scenario (review of 2026-12-04)
            raise ValueError(f"{f}: {exc}") from None
        problems.append((f, featured_mismatch(meta, book)))
    for d in market_dirs:
        market = Market.load(d)
        problems.append((d, featured_mismatch(meta, AssetBook.from_kinds(market.assets, market.asset_kinds,
                                                                         market.asset_sizes))))  # fmt: skip
    refused = [f"{where}: policy {model} {why}" for where, why in problems if why]
    if refused:
        raise ValueError("; ".join(refused) + " (--allow-other-assets evaluates anyway)")


def _policy_real_markets(dirs: list[str], use_real: bool, real_from: str | None, horizon_days: int | None,
                         out_dir: Path, meta: dict, not_before_day: int = 0) -> list[dict]:  # fmt: skip
    """The saved markets and real series to evaluate on: saved directories and, with ``use_real``, the shipped
    files imported; each with its kind (real or simulated), window, days and what its days are to the policy.
    ``not_before_day`` is the run's first decision day (a backtest's ``--first-decision-day``, or another
    strategy's warm-up): the policy decides from the later of it and its own first day. The record counted its
    decisions from its own day alone: 24 decisions from day 35 of a run that decided from day 150 (review of the
    CLI, session 25).

    Refused, before anything is written: a saved simulated market holding a path the policy trained on
    (in-sample), a real market with fewer days from ``real_from`` than the policy's warm-up and one decision
    period (:func:`_policy_min_days`), and an OUT/markets/ folder that
    already holds another market (a run under other settings). A market cut to ``real_from`` (or imported) is
    saved under OUT/markets/.
    """
    import pandas as pd

    from prometheus_sim.market import Market
    from prometheus_sim.real import SHIPPED_DATA
    from prometheus_sim.real_market import import_market, parse_day
    from prometheus_sim.rl.provenance import in_sample_rows, out_of_time, time_basis, training_scenario

    if real_from is not None and not use_real and not dirs:
        raise ValueError("--real-from: there is no real market to cut (give --real or a saved real market folder)")
    parse_day(real_from, "--real-from")  # named as typed (the importer would call it --from)
    sources = []
    origins: list[str] = []  # where each source came from, to name it
    try:
        if use_real:  # the whole series, then cut so the warm-up's days come before --real-from (_market_from)
            market = import_market(sorted(SHIPPED_DATA.glob("*.csv")), name="real")
            if real_from is not None:
                market = _market_from(market, real_from, meta)
            sources.append((market, out_dir / "markets" / "real", real_from))
            origins.append("--real")
        for d in dirs:
            origins.append(str(d))
            try:
                market = Market.load(d)
            except (OSError, ValueError) as exc:
                raise ValueError(f"{d}: not a saved market ({exc})") from None
            if not market.is_real:
                if real_from is not None:
                    raise ValueError(f"--real-from: {d} is a simulated market; it applies to real markets only")
                rows = in_sample_rows(meta, market)
                if rows:
                    raise ValueError(
                        f"{d}: its row(s) {rows[:5]} are path 0 of seed(s) "
                        f"{sorted({int(market.seeds[i]) for i in rows})[:5]}, which the policy trained on or was chosen "
                        f"on: in-sample whatever the scenario (the random numbers are keyed by seed and path, not by "
                        f"scenario); simulate it with unseen seeds"
                    )  # fmt: skip
                sources.append((market, Path(d), None))
            elif real_from is None:
                sources.append((market, Path(d), None))
            else:
                sources.append((_market_from(market, real_from, meta), out_dir / "markets" / market.name, real_from))
    except OSError as exc:
        raise ValueError(f"real data: {exc}") from None
    need, decides = _policy_min_days(meta)
    own, period = decides, int(meta.get("period_days", 1))
    if not_before_day > decides:
        decides = not_before_day
        need = max(decides + period, need)
    for market, path, _ in sources:  # a saved market given whole: found short only by its failed cell, after the run
        days = min(market.n_steps, (horizon_days or market.n_steps) * market.steps_per_day) // market.steps_per_day
        if days < need:
            raise ValueError(f"{path}: market {market.name!r} has {days} days" + (" (--horizon-days)" if horizon_days
                             and horizon_days * market.steps_per_day < market.n_steps else "") + f", fewer than "
                             f"{need}: the policy's first decision is on day {decides} (after the features' warm-up), "
                             "and a decision period more is the least that scores one")  # fmt: skip
    from prometheus_sim.rl.forecast_obs import blocks_problem

    for market, path, _ in sources:  # every dqn cell failed in its worker, after the baselines had run (review)
        problem = blocks_problem(meta, market.absent)
        if problem:
            raise ValueError(f"{path}: market {market.name!r}: the policy {problem}")
    names = [market.name for market, _, _ in sources]
    twice = next((name for name in names if names.count(name) > 1), None)
    if twice is not None:  # results are keyed by name, and --real-from's cuts saved by it: the second cut was
        # skipped, then refused as a path never typed; without --real-from the first was saved first (reviews)
        given = [origin for origin, name in zip(origins, names, strict=True) if name == twice]
        raise ValueError(f"markets named {twice!r} are given twice ({' and '.join(given)}; --real imports one named "
                         "'real'): import one under another name (market import --name)")  # fmt: skip
    to_save = [(market, path) for market, path, _ in sources if path.parent == out_dir / "markets"]
    for market, path in to_save:  # every check first: a refused run changes nothing on disk
        _refuse_another_market(path, market)
    for market, path in to_save:
        if not (path / "manifest.json").exists():
            path.mkdir(parents=True, exist_ok=True)
            market.save(path)
    out = []
    before = (f"the {decides} days before are its features' warm-up, in which every strategy holds its opening book"
              if decides == own else f"the {decides} days before are its features' warm-up ({own} days) and the "
              f"run's later first decision day, until which every strategy holds its opening book")  # fmt: skip
    for market, path, cut in sources:
        steps = market.n_steps if horizon_days is None else min(market.n_steps, horizon_days * market.steps_per_day)
        days = steps // market.steps_per_day
        calendar = market.calendar[:steps]
        first = pd.Timestamp(calendar[0]).date()
        decides_from = pd.Timestamp(calendar[min(decides * market.steps_per_day, steps - 1)]).date()
        decisions = len(range(decides, days - 1, period))  # each fills the next day: the last day decides nothing
        trained = None if market.is_real else training_scenario(meta, market.spec)
        timely = out_of_time(meta, decides_from) if market.is_real else None
        if market.is_real:
            basis = time_basis(meta, decides_from, cut is not None, days if steps < market.n_steps else None)
            basis += f"; the policy decides {decisions} time(s), from {decides_from} ({before})"
            if decisions < FEW_DECISIONS:
                basis += f"; too few decisions to judge the policy by (fewer than {FEW_DECISIONS})"
        else:
            basis = (f"a saved simulated market of {market.n_paths} path(s), each row once (no seeds); "
                     + (f"the policy's training scenario {trained}, none of its training paths"
                        if trained else "not a scenario the policy trained on"))  # fmt: skip
        out.append({"name": market.name, "path": str(path), "days": int(days), "paths": int(market.n_paths),
                    "kind": "real" if market.is_real else "simulated", "training_scenario": trained,
                    "window": [str(first), str(pd.Timestamp(calendar[-1]).date())], "basis": basis,
                    "decides_from": str(decides_from), "decisions": decisions, "out_of_time": timely})  # fmt: skip
    return out


FEW_DECISIONS = 10  # a real window with fewer policy decisions than this is said to be too few to judge by


def _refuse_another_market(path: Path, market) -> None:
    """``path`` may hold this very market (a resumed run), never another one."""
    import json

    manifest = path / "manifest.json"
    if not manifest.exists():
        return
    saved = json.loads(manifest.read_text()).get("array_sha256")
    if saved != market.array_digests():
        raise ValueError(f"{path} holds another market (a run with other settings): use another --out or delete it")


def _refuse_in_sample(config, specs, built) -> None:
    """A model backtested on paths it trained on, or was chosen or calibrated on, is refused (as ``policy evaluate``
    and ``forecast evaluate`` refuse them): the acceptance row "RL policy Sharpe" passed on a policy's own training
    seeds, called unseen. Any simulated scenario at those seeds is refused, not only the training one: the random
    numbers are keyed by seed and path, not by scenario (:func:`~prometheus_sim.rl.provenance.seen_rows`), and
    ``backtest whale_dump`` at a policy's training seeds ran as unseen (review of 2026-12-05, session 19), as did a
    forecaster's, whose cells then scored the acceptance table's win rate."""
    from prometheus_sim.rl.provenance import seen_seeds
    from prometheus_sim.scenario import ScenarioSpec

    for spec, strategy in zip(specs, built, strict=True):
        meta = getattr(strategy, "meta", None)
        if not isinstance(meta, dict):  # a forecast strategy holds its model's metadata on its predictor
            meta = getattr(getattr(strategy, "predictor", None), "meta", None)
        if not isinstance(meta, dict) or "seeds" not in meta:
            continue
        if meta.get("kind") not in ("prometheus-dqn", "prometheus-forecaster") and "obs_dim" not in meta:
            continue
        overlap = sorted(seen_seeds(meta) & {int(s) for s in config.seeds})
        own = seen_seeds({k: v for k, v in meta.items() if k != "forecast"})
        who = (
            spec.label
            if set(overlap) & own
            else f"{spec.label}'s forecaster ({(meta.get('forecast') or {}).get('model')})"
        )
        for name, source in config.load_scenarios().items():
            if overlap and isinstance(source, ScenarioSpec):
                raise ValueError(f"--seeds {overlap[:5]}{'...' if len(overlap) > 5 else ''}: {who} trained "
                                 f"or was chosen on these seeds (in-sample in {name} too: the random numbers are "
                                 "keyed by seed and path, not by scenario); backtest it on seeds it has not seen, as "
                                 "policy evaluate does")  # fmt: skip
            rows = [] if isinstance(source, ScenarioSpec) else _saved_rows_seen(meta, source)
            if rows:
                raise ValueError(f"{name}: row(s) {rows[:5]} of this saved market are paths {spec.label} trained or was "
                                 "chosen on (path 0 of a seed it has seen, in-sample); simulate it with unseen seeds")  # fmt: skip


def _policy_context(
    meta: dict, model: str, model_ref: str, config, real: list[dict], seeds: str | None, tracking_uri: str, **extra
) -> dict:
    """What is written beside a sweep that scored a DQN policy (``policy_eval.json``): the model, what it trained and
    was chosen on, the saved and real markets (:func:`_policy_real_markets`), which sources are its training
    scenarios, the first decision day, the costs, and the registry the report finds its training curve in (its
    credentials taken out: the report then reads them from MLflow's environment variables)."""
    from prometheus_sim.redact import redacted_url

    return {
        "model": model, "model_ref": model_ref,
        "trained_on": {"scenarios": sorted(meta.get("scenario_digests", {})), "seeds": _seed_span(meta.get("seeds", []))},
        "seeds": seeds, "fees_bps": [c.fees_bps for c in config.cost_settings], "real": real,
        "is_training_scenario": _training_sources(meta, config, real), "selected_on": _selected_on(meta),
        "first_decision_day": config.first_decision_day, "tracking_uri": redacted_url(tracking_uri, key_segments=False) if tracking_uri else tracking_uri,
        "forecaster": (meta.get("forecast") or {}).get("model"), **extra,
    }  # fmt: skip


def _backtest_policy_context(config, built, horizon_days: int | None, out_dir: Path) -> dict | None:
    """:func:`_policy_context` for a backtest that runs a DQN policy on saved or real markets: each market's kind,
    window and whether its days are out of time for the policy. With it the report names a real market as real
    (one path, intervals bootstrapped over its days) and acceptance leaves out one whose days the policy's
    scenarios were set to match; without it a plain backtest called the real market "simulated, 1 seeds" and
    counted it as unseen data (review of 2026-12-05). None without a policy or a saved market. With several
    policies the first one's training decides what is out of time."""
    from prometheus_sim.registry import tracking_uri as registry_uri

    policies = [
        b for b in built if isinstance(getattr(b, "meta", None), dict) and b.meta.get("kind") == "prometheus-dqn"
    ]
    dirs = [p for p in config.scenarios if _is_market_dir(p)]
    if not policies or not dirs:
        return None
    policy = policies[0]
    real = _policy_real_markets(dirs, False, None, horizon_days, out_dir, policy.meta, config.first_decision_day)
    name, version = policy.ref
    seeded = any(not _is_market_dir(p) for p in config.scenarios)  # saved markets only: no seed was run (the report
    # said "evaluated on unseen seeds 1000-1029" of a run on one real path; review of 2026-12-05, session 19)
    return _policy_context(policy.meta, f"{name}/{version}", f"{name}@{version}", config, real,
                           _seed_span(config.seeds) if seeded else None,
                           registry_uri(getattr(policy, "tracking_uri", None)), written_by="backtest",
                           policy_first_day=_policy_min_days(policy.meta)[1])  # fmt: skip


def _forecast_in_time_markets(config, built) -> dict | None:
    """For a backtest of the ``forecast`` strategy: the saved real markets whose days, from its first decision, its
    forecaster's scenarios were set to match (not out of time), for acceptance to leave out as it leaves out a
    policy's (``policy_eval.json``); they were counted as unseen (review of 2026-12-05, session 19). None without a
    forecast strategy."""
    import pandas as pd

    from prometheus_sim.market import Market
    from prometheus_sim.rl.provenance import out_of_time

    forecasts = [
        b for b in built if getattr(getattr(b, "predictor", None), "meta", {}).get("kind") == "prometheus-forecaster"
    ]
    if not forecasts:
        return None
    markets = []
    for d in (p for p in config.scenarios if _is_market_dir(p)):
        market = Market.load(d)
        if not market.is_real:
            continue
        for strategy in forecasts:
            first = min(int(strategy.first_decision_day) * market.steps_per_day, market.n_steps - 1)
            if out_of_time(strategy.predictor.meta, pd.Timestamp(market.calendar[first]).date()) is False:
                markets.append(market.name)
                break
    models = sorted({"/".join(f.predictor.ref) for f in forecasts})
    return {"markets": sorted(markets), "models": models, "written_by": "backtest"}


def _saved_rows_seen(meta: dict, saved) -> list[int]:
    """Rows of a saved simulated market (a sweep's ``SavedMarket``, by its manifest) that a policy has seen."""
    from prometheus_sim.market import read_manifest
    from prometheus_sim.rl.provenance import seen_rows

    manifest = read_manifest(Path(saved.path))
    if manifest.get("kind") != "simulated":
        return []
    return seen_rows(meta, manifest["path_ids"], manifest["seeds"])


def _first_decision_day(text: str, strategies: list) -> int:
    """``--first-decision-day``: a whole number of days, or ``aligned`` (the latest first decision among the built
    strategies, each on its own grid: where the last of them can first decide)."""
    from prometheus_sim.backtest import first_grid_day

    if text.strip() == "aligned":
        return max(first_grid_day(getattr(s, "first_decision_day", 0), getattr(s, "decision_every_days", 1))
                   for s in strategies)  # fmt: skip
    try:
        day = int(text)
    except ValueError:
        raise ValueError(f"--first-decision-day: a whole number of days >= 0 or 'aligned', got {text!r}") from None
    if day < 0:
        raise ValueError(f"--first-decision-day: a whole number of days >= 0 or 'aligned', got {text!r}")
    return day


def _policy_observation_fits(meta: dict, model_ref: str, label: str) -> None:
    """Refuse, before any cell runs, a policy whose observation this version's env does not build: one trained with
    the future leaked in (the test-only ``leak_future``: 53 values), on another observation version (rsi_14's
    scale) or with another observation size. Each dqn cell
    failed in its worker after the baselines had run, and the evaluation printed NaN action shares (review of
    2026-12-04)."""
    from prometheus_sim.rl.env import observation_mismatch, observation_size

    if (meta.get("args") or {}).get("leak_future"):
        raise ValueError(f"--model {model_ref}: {label} was trained with the next period's returns in its observation "
                         "(leak_future, the learning loop's test-only oracle): it cannot be scored")  # fmt: skip
    expected = observation_size(forecasts=bool(meta.get("forecast")))
    problem = observation_mismatch(meta)
    if problem:
        raise ValueError(f"--model {model_ref}: {label} {problem}")
    if meta.get("obs_dim") != expected:
        raise ValueError(f"--model {model_ref}: {label} takes observations of {meta.get('obs_dim')} values; this "
                         f"version's environment builds {expected}")  # fmt: skip


def _policy_min_days(meta: dict) -> tuple[int, int]:
    """(days a cut real market must keep, the policy's first decision day): its first decision comes after the
    features' warm-up, which a cut market counts from its cut, rounded up to its decision grid (as the
    decision clock does), and one decision period after that is the least that lets a decision fill and
    count; never fewer than the 30 days any real window needs."""
    from prometheus_sim.backtest import first_grid_day
    from prometheus_sim.rl.forecast_obs import policy_first_day

    period = int(meta.get("period_days", 1))
    first = first_grid_day(policy_first_day(meta), period)  # as the clock places the dqn strategy's first decision
    return max(first + period, 30), first


def _enough_days(market, date: str | None, meta: dict, first: int = 0) -> None:
    """A real market cut to ``date`` (at step ``first``, or already cut) keeps the days :func:`_policy_min_days`
    asks (a 30-day window once passed: the policy never decided in it, and the report blamed the policy)."""
    need, decides = _policy_min_days(meta)
    if date is not None and market.n_steps - first < need * market.steps_per_day:
        raise ValueError(f"--real-from {date}: market {market.name!r} ({market.calendar[0].date()}.."
                         f"{market.calendar[-1].date()}) has {(market.n_steps - first) // market.steps_per_day} "
                         f"days from {market.calendar[first].date()} (the cut, less the {decides} days before it "
                         f"that the features' warm-up needs, where the data has them), fewer than {need}: the "
                         f"policy's first decision is on day {decides} of a cut market, and a decision period more "
                         "is the least that scores one")  # fmt: skip


def _training_sources(meta: dict, config, real: list[dict]) -> dict[str, bool]:
    """Per source of the sweep: is it a scenario the policy trained on (compared in full, not by name)?"""
    from prometheus_sim.rl.provenance import training_scenario
    from prometheus_sim.scenario import ScenarioSpec

    saved = {r["name"]: r.get("training_scenario") is not None for r in real}
    return {name: training_scenario(meta, source) is not None if isinstance(source, ScenarioSpec) else saved[name]
            for name, source in config.load_scenarios().items()}  # fmt: skip


def _market_from(market, date: str, meta: dict):
    """A real market whose policy decisions start on ``date``: its days from ``date`` on, after the days before it
    the features' warm-up needs (:func:`_policy_min_days`; fewer when the data starts later). Until 2026-12-04 the
    cut market started on ``date`` and restarted the warm-up there, so on the 44 days from 2024-01-01 the policy
    decided twice, on its last nine days (review). A new market: nothing earlier is reachable."""
    import numpy as np

    from prometheus_sim.blocks import MarketBlocks
    from prometheus_sim.market import Market
    from prometheus_sim.real_market import parse_day

    day = parse_day(date, "--real-from")  # the one parser of --real-from (its caller has checked it already)
    first, last = market.calendar[0].normalize(), market.calendar[-1].normalize()
    if not first <= day <= last:  # before the data it was the whole history, after it a count of the days (review)
        raise ValueError(f"--real-from {date}: {'before' if day < first else 'after'} the days of market "
                         f"{market.name!r} ({first.date()}..{last.date()})"
                         + ("; leave --real-from out to evaluate on the whole history" if day < first else ""))  # fmt: skip
    _, decides = _policy_min_days(meta)
    k = max(0, int(market.calendar.searchsorted(day)) - decides * market.steps_per_day)
    _enough_days(market, date, meta, k)
    blocks = MarketBlocks(*(np.ascontiguousarray(a[:, k:]) for a in market.blocks))
    source = {**(market.source or {}), "window": [str(market.calendar[k].date()), str(market.calendar[-1].date())]}
    return Market.from_bars(market.name, market.assets, market.asset_kinds, market.calendar[k:], blocks, source,
                            market.absent, market.steps_per_day)  # fmt: skip


@main.group()
def market() -> None:
    """Markets from real data."""


@market.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, callback=_output_dir)
@click.option(
    "--onchain", type=click.Path(dir_okay=False), default=None, help="Daily on-chain series (date + columns)."
)
@click.option("--macro", type=click.Path(dir_okay=False), default=None, help="Daily macro series (date + columns).")
@click.option("--from", "start", default=None, help="First day (YYYY-MM-DD) [default: the first day all files share].")
@click.option("--to", "end", default=None, help="Last day [default: the last day all files share].")
@click.option("--kind", "kinds", multiple=True, metavar="ASSET=KIND", help="crypto, stable, equity or bond; repeat it.")
@click.option("--name", default="real", show_default=True, help="The market's name (keys backtest results).")
@VOLUME_IN
@click.option("--rates-in", type=click.Choice(["fraction", "percent"]), default="fraction", show_default=True,
              help="The --macro file's inflation_rate and fed_rate: fractions (0.0533) or percent (5.33, FRED's).")  # fmt: skip
def market_import(files: tuple[str, ...], out_dir: Path, onchain: str | None, macro: str | None, start: str | None,
                  end: str | None, kinds: tuple[str, ...], name: str, volume_in: str, rates_in: str) -> None:  # fmt: skip
    """Build a one-path market from real daily bar FILES (one per asset, named after it) and save it to --out.

    The calendar is the days every file has; on-chain and macro blocks come from their own files
    or are absent (NaN, listed in the manifest, and an error for a strategy that reads them).
    Backtest it like a scenario: `prometheus-sim backtest OUT --strategy ...`.
    """
    from prometheus_sim.real import RealDataError
    from prometheus_sim.real_market import CALENDAR_RULE, import_market

    kind_map = _kind_options(kinds)
    try:
        real = import_market(list(files), onchain=onchain, macro=macro, start=start, end=end, kinds=kind_map, name=name,
                             volume_in=volume_in, rates_in=rates_in)  # fmt: skip
        real.save(out_dir)
    except (RealDataError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    window = real.source["window"]
    click.echo(
        f"market {real.name!r}: {', '.join(f'{a} ({k})' for a, k in zip(real.assets, real.asset_kinds, strict=True))}"
    )
    click.echo(f"{real.n_steps} days {window[0]}..{window[1]} ({CALENDAR_RULE})")
    click.echo(f"absent: {', '.join(real.absent) if real.absent else 'nothing'}")
    click.echo(f"saved to {out_dir}")


@main.group()
def facts() -> None:
    """Stylised facts: simulated beside real data."""


@facts.command("compare")
@click.argument("scenario")
@click.argument("data", nargs=-1)
@click.option("--from", "start", default="2020-01-01", show_default=True, help="First return date of the real window.")
@click.option("--to", "end", default="2023-12-31", show_default=True, help="Last return date of the real window.")
@click.option("--paths", "n_paths", type=click.IntRange(min=10), default=500, show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=None, help="Seed [default: the scenario's].")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write compare.csv and plots here.",
    callback=_output_dir,
)
def facts_compare(scenario: str, data: tuple[str, ...], start: str, end: str, n_paths: int, seed: int | None,
                  out_dir: Path | None) -> None:  # fmt: skip
    """SCENARIO's stylised facts (5-95 % band over paths) beside real DATA files (default: the shipped
    data/crypto_daily/*.csv), with FACTS.md's definitions; exit 1 if a real figure falls outside its band."""
    from prometheus_sim.facts_compare import (
        MIN_RETURNS,
        comparable,
        compare,
        compare_plots,
        outside_rows,
        real_spans,
        verdict_counts,
        window_days,
    )
    from prometheus_sim.market import Market
    from prometheus_sim.real import SHIPPED_DATA, RealDataError, read_closes
    from prometheus_sim.scenario import ScenarioError

    spec = _load_or_exit(resolve_scenario(scenario))
    files = list(data) or sorted(str(p) for p in SHIPPED_DATA.glob("*.csv"))
    try:
        _check_window(start, end)
        closes = read_closes(files)
        days = max(spec.horizon_days, window_days(closes, spec.asset_names, start, end))
        try:
            longer_spec = spec.with_horizon(days)
        except ScenarioError as exc:  # valid at its own horizon, not over the real window's days (review)
            raise ValueError(f"{spec.name} was lengthened from {spec.horizon_days} to {days} days to hold the real "
                             f"window, and is not valid at that length ({exc}); give a shorter --from/--to window or "
                             "fix the fields named") from None  # fmt: skip
        market = Market.simulate(longer_spec, seed=seed, n_paths=n_paths)
        table = compare(market, closes, start, end)
    except (RealDataError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    longer = f", simulated over {days} days to hold the window" if days > spec.horizon_days else ""
    click.echo(f"{spec.name} ({n_paths} paths{longer}) beside real data, returns dated {start}..{end}; each figure "
               "from the paths' first days, as many as the real window has")  # fmt: skip
    kept, skipped = comparable(closes, [a for a in spec.asset_names if a in closes.columns], start, end)
    spans = real_spans(closes, kept, start, end)
    click.echo("real returns compared: " + ", ".join(f"{n} {a}..{b} ({k})" for n, (a, b, k) in spans.items()))
    if skipped:
        click.echo(f"skipped, fewer than {MIN_RETURNS} real returns in the window (with their pairs): "
                   + ", ".join(f"{n} ({k})" for n, k in skipped.items()))  # fmt: skip
    click.echo(table.round(4).to_string())
    outside = outside_rows(table)
    inside, _, unknown = verdict_counts(table)
    click.echo(f"{inside} of {len(table)} real figures inside the simulated 5-95 % band"
               + (f"; {unknown} not computable on this window (NA: too few tail days), not counted as outside"
                  if unknown else ""))  # fmt: skip
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        table.to_csv(out_dir / "compare.csv")
        plots = compare_plots(market, closes, start, end, out_dir)
        click.echo(f"wrote {out_dir / 'compare.csv'} and {len(plots)} plots")
    if len(outside):
        sys.exit(1)


@main.group()
def scenarios() -> None:
    """Inspect and validate scenario files."""


@scenarios.command("validate")
@click.argument("files", nargs=-1, required=True)
def scenarios_validate(files: tuple[str, ...]) -> None:
    """Validate scenario FILES; print every problem with its field path; exit 2 if any fails."""
    from prometheus_sim.scenario import ScenarioError, load_scenario

    failed = 0
    for name in files:  # every file is checked and reported, whatever happened to the ones before
        try:
            spec = load_scenario(resolve_scenario(name))
        except ScenarioError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        except click.UsageError as exc:
            failed += 1
            click.echo(f"{name}: {exc.message}", err=True)
            continue
        click.echo(f"{name}: ok ({spec.name}: {len(spec.assets)} assets, {spec.horizon_days} days)")
        from prometheus_sim.generators.params import heavy_tailed_garch, long_run_diffusive_vols

        for asset, (declared, actual) in long_run_diffusive_vols(spec).items():
            click.echo(f"  note: {asset}: its jumps feed GARCH more variance than vol {declared:g} leaves room for "
                       f"(omega at its floor), so its long-run diffusive vol is {actual:.3f}, not {declared:g}")  # fmt: skip
        for asset, moment in heavy_tailed_garch(spec).items():
            click.echo(f"  note: {asset}: GARCH with 3 alpha^2 + 2 alpha beta + beta^2 = {moment:.3f} >= 1 has returns "
                       "without a finite fourth moment: its variance reaches its mean (the declared vol) only through "
                       "rare huge episodes, so a run's realised vol falls short of vol (0.8 declared at alpha 0.3, "
                       "beta 0.69 realised 0.66 over 50 paths x 4 years, 0.52 on the median path)")  # fmt: skip
        for i, why in spec.signals_that_never_act():
            click.echo(f"  note: signals[{i}] ({spec.signals[i].name}): {why}")
        for i, why in spec.ignored_drifts():
            click.echo(f"  note: assets[{i}] ({spec.assets[i].name}): {why}")
        for i, why in spec.signal_drifts_pegs_ignore():
            click.echo(f"  note: signals[{i}] ({spec.signals[i].name}): {why}")
        vanishing = spec.vanishing_activity()
        if vanishing:
            click.echo(f"  note: onchain: {vanishing}")
    if failed:
        sys.exit(EXIT_BAD_INPUT)


def _check_window(start: str, end: str | None) -> None:
    """--from and --to as typed: YYYY-MM-DD days (pandas alone would read "today", "2024" or "20240101" as some
    day and compare a window nobody asked for), the first not after the last."""
    from prometheus_sim.real_market import parse_day

    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if last is not None and first > last:
        raise ValueError(f"--from {start} is after --to {end}: the window has no days")


def _kind_options(kinds: tuple[str, ...]) -> dict[str, str]:
    """``--kind ASSET=KIND`` options as a mapping (market import and scenarios fit)."""
    kind_map = {}
    for item in kinds:
        asset, sep, kind = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected ASSET=KIND", param_hint="--kind")
        kind_map[asset] = kind
    return kind_map


@scenarios.command("fit")
@click.argument("files", nargs=-1, required=True)
@click.option("--from", "start", required=True, help="First return date of the window (YYYY-MM-DD).")
@click.option("--to", "end", default=None, help="Last return date [default: the last day all files share].")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--name", default=None, help="Scenario name [default: the output file's stem].")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=7, show_default=True)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="ASSET=KIND",
    help="crypto or stable, for a file whose name does not say (USDC, USDT... are stable); repeat it.",
)
@VOLUME_IN
def scenarios_fit(files: tuple[str, ...], start: str, end: str | None, out_file: Path, name: str | None, seed: int,
                  kinds: tuple[str, ...], volume_in: str) -> None:  # fmt: skip
    """Estimate a scenario from real daily bar FILES (GARCH + jumps by arch, pegs, correlation) and write
    it as a commented YAML that states the window and the method; check it with `facts compare`."""
    from prometheus_sim.fit import fit_scenario, write_scenario
    from prometheus_sim.real import RealDataError
    from prometheus_sim.scenario import ScenarioError

    try:
        _check_window(start, end)
        # a shipped scenario's own folder is named by its name, as the shipped file's check line has it
        shipped = out_file.resolve().parent == SHIPPED_SCENARIOS.resolve()
        scenario, comments = fit_scenario(list(files), start, end, name=name or out_file.stem, seed=seed,
                                          kinds=_kind_options(kinds), volume_in=volume_in,
                                          written_to=None if shipped else str(out_file))  # fmt: skip
    except (RealDataError, ScenarioError, ValueError) as exc:
        from_out = name is None and isinstance(exc, ScenarioError) and "name:" in str(exc)
        hint = f" (the name comes from --out's file name {out_file.name!r}: give --name)" if from_out else ""
        click.echo(f"error: {exc}{hint}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    write_scenario(scenario, comments, out_file)
    for line in comments:
        click.echo(line)
    click.echo(f"wrote {out_file}")


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


# ---------------------------------------------------------------- live mode on a chain


def _live_strategy(name: str, strategy_params: tuple[str, ...] | dict):
    """(strategy, its spec as the journal records it); params as KEY=VALUE texts or a dict (from a journal)."""
    from prometheus_sim.strategy_spec import StrategySpec, parse_strategy_params
    from strategies import registry

    try:
        registry.factory(name)
        params = dict(strategy_params) if isinstance(strategy_params, dict) else (
            parse_strategy_params(strategy_params, [name])[name])  # fmt: skip
        return registry.build(StrategySpec(name, tuple(params.items()))), {"name": name, "params": params}
    except (LookupError, ValueError, TypeError) as exc:
        raise click.UsageError(_message(exc)) from None


@main.group()
def devchain() -> None:
    """A local dev chain (Anvil) with the VaultManager, PolicyEngine and PriceOracle deployed."""


@devchain.command("up")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default="devchain.json",
              show_default=True)  # fmt: skip
@click.option("--market", "market_dir", default=None, help="A run directory [default: simulate `default`, 1 path].")
@click.option("--start", type=click.IntRange(min=1), default=400, show_default=True,
              help="The market bar the oracle starts at; the bars before it warm-start the history.")  # fmt: skip
@click.option("--block-time", type=click.FloatRange(min=0.1), default=None, help="Interval mining [default: automine].")
@click.option("--fees-bps", type=click.FloatRange(0, 9999), default=10.0, show_default=True)
@click.option("--cooldown-seconds", type=click.IntRange(min=0), default=0, show_default=True)
def devchain_up(config_path: Path, market_dir: str | None, start: int, block_time: float | None, fees_bps: float,
                cooldown_seconds: int) -> None:  # fmt: skip
    """Start Anvil on 127.0.0.1 (a free port), deploy, feed the first bar, seed 5 vaults, write the config."""
    from adapters.chain.commands import devchain_up as up

    try:
        cfg = up(config_path, market_dir, start, block_time, fees_bps, cooldown_seconds)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"Anvil (PID {cfg['anvil_pid']}) at {cfg['rpc_url']}, chain {cfg['chain_id']}")
    click.echo(
        f"VaultManager {cfg['vault_manager']}, PolicyEngine {cfg['policy_engine']}, PriceOracle {cfg['price_oracle']}"
    )
    click.echo(f"{len(cfg['users'])} vaults; the AI oracle account is {cfg['oracle_account']} (Anvil's account 1: "
               f"its dev key is in {config_path.parent / 'anvil.log'})")  # fmt: skip
    click.echo(f"wrote {config_path}")


@devchain.command("feed")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default="devchain.json",
              show_default=True)  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--interval", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Seconds between bars.")
@click.option("--market", "market_dir", default=None, help="A run directory [default: the one the config continues].")
def devchain_feed(config_path: Path, steps: int, interval: float, market_dir: str | None) -> None:
    """Push the next bars of a market into the oracle, one transaction (block) per bar."""
    from adapters.chain.commands import devchain_feed as feed
    from adapters.chain.node import NodeDown

    try:
        first, last = feed(config_path, steps, interval, market_dir)
    except (ValueError, NodeDown) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"fed bars {first}..{last}")


@devchain.command("down")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="devchain.json", show_default=True)  # fmt: skip
def devchain_down(config_path: Path) -> None:
    """Stop the dev chain's Anvil (by the PID in the config)."""
    from adapters.chain.commands import devchain_down as down

    click.echo(
        "Anvil stopped"
        if down(config_path)
        else "Anvil was not running (no process of this dev chain's Anvil has its recorded PID: nothing was stopped)"
    )


@main.group(invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--strategy", "strategy_name", default=None, help="A registered strategy name or package.module:Class.")
@click.option("--strategy-param", "strategy_params", multiple=True, metavar="KEY=VALUE")
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True, help="Decisions to make.")
@click.option("--execute", is_flag=True, help="Sign and send (key from PROMETHEUS_PRIVATE_KEY or a keystore).")
@click.option("--journal", "journal_path", default=None, help="JSON-lines journal [default: the config's].")
@click.option("--wait-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds to wait for the next bar.")  # fmt: skip
@click.pass_context
def live(ctx: click.Context, config_path: Path | None, strategy_name: str | None, strategy_params: tuple[str, ...],
         steps: int, execute: bool, journal_path: str | None, wait_timeout: float) -> None:  # fmt: skip
    """Run a strategy live against the chain in --config: a dry run (each transaction described, nothing
    sent) unless --execute. `live replay JOURNAL` re-runs a journal's snapshots."""
    if ctx.invoked_subcommand is not None:
        return
    if config_path is None or strategy_name is None:
        raise click.UsageError("live: --config and --strategy are required (or a subcommand: replay)")
    from adapters.chain.commands import live_run
    from adapters.chain.journal import read_journal
    from adapters.chain.node import ChainRefused, NodeDown
    from adapters.chain.signer import Reverted
    from prometheus_sim.blocks import MissingDataError

    strategy, spec = _live_strategy(strategy_name, strategy_params)
    try:
        result, adapter, journal = live_run(
            config_path, strategy, steps, execute, journal_path, wait_timeout, spec=spec
        )
    except (ValueError, NodeDown, Reverted, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except MissingDataError as exc:  # a strategy that needs data a live market does not have (macro inflation)
        click.echo(f"error: {strategy_name} needs data this live market lacks: {_message(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except ChainRefused as exc:  # the node refused a call or a send (funds run out, an oracle round missing):
        # named, not a traceback (review of 2026-12-05); every transaction sent before is in the journal
        click.echo(_chain_refused(exc), err=True)
        sys.exit(1)
    run_lines = read_journal(journal)
    run_lines = run_lines[max(i for i, x in enumerate(run_lines) if x["kind"] == "start") :]
    for line in run_lines:
        if line["kind"] in ("dry_run", "refused", "reverted"):
            click.echo(f"step {line['step']}: {line['kind'].upper()}: {line['text']}"
                       + (f" ({line['reason']})" if line.get("reason") else ""))  # fmt: skip
        elif line["kind"] == "receipt":
            click.echo(f"step {line['step']}: {line['user']}: {line['tx_hash']} status {line['status']}")
    count = {kind: sum(line["kind"] == kind for line in run_lines) for kind in ("sending", "refused", "reverted")}
    mode = (f"executed: {count['sending']} sent, {count['refused']} refused by the guard rails, {count['reverted']} "
            "refused by the chain's simulation" if execute else "dry run: nothing was sent")  # fmt: skip
    click.echo(f"{len(result.decision_steps)} decisions at bars {result.decision_steps.tolist()} ({mode}); "
               f"journal {journal}")  # fmt: skip
    reverted = [line for line in run_lines if line["kind"] == "receipt" and line.get("status") != 1]
    if reverted:  # as auto-rebalance: a sent transaction that reverted is not a clean run (exit 0 before; review)
        click.echo(f"error: {len(reverted)} sent transaction(s) reverted on chain; see the journal's receipt lines",
                   err=True)  # fmt: skip
        sys.exit(1)
    if execute and count["reverted"]:  # an --execute run whose every call the chain refused (a key the engine does
        # not authorise) said "executed" and exited 0: a cron job with the wrong key looked fine (review, session 23)
        click.echo(f"error: the chain's simulation refused {count['reverted']} transaction(s), which were not sent; "
                   "see the REVERTED lines above", err=True)  # fmt: skip
        sys.exit(1)


def _chain_refused(exc: Exception) -> str:
    """The error line for the node refusing a call or a send (funds run out, an oracle round missing)."""
    first = str(exc).splitlines()[0][:300] if str(exc) else ""
    return (
        f"error: the chain refused a call or a transaction ({type(exc).__name__}: {first}); every line written "
        "before, each transaction already sent included, is in the journal"
    )


@live.command("auto-rebalance")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--inflation", type=float, required=True, help="Inflation, percent a year (sent x 100, in basis points).")
@click.option("--execute", is_flag=True, help="Sign and send (default: a dry run that simulates each call).")
@click.option("--journal", "journal_path", default=None,
              help="JSON-lines journal [default: auto_rebalance.jsonl beside the config's].")  # fmt: skip
def live_auto_rebalance(config_path: Path, inflation: float, execute: bool, journal_path: str | None) -> None:
    """The guide's PolicyEngine.autoRebalance(user, inflation x 100) for every user whose canRebalance is true
    (the others are skipped, not sent); a dry run unless --execute. Exit 1 if a sent call reverted."""
    from adapters.chain.auto import auto_rebalance
    from adapters.chain.config import ChainConfig
    from adapters.chain.journal import Journal
    from adapters.chain.node import ChainRefused, NodeDown, connect
    from adapters.chain.signer import Reverted, Sender, load_account

    try:
        cfg = ChainConfig.load(config_path)
        if execute and not cfg.users:  # as live --execute: every vault on the VaultManager was the fallback (review)
            raise ValueError(
                "users: --execute rebalances only the vaults the config names, and it names none; list "
                "them (a dry run without users describes every vault on the VaultManager)"
            )
        chain = connect(cfg)
        cap = cfg.guard_rails.max_gas_price_gwei
        if execute:
            account = load_account()
            sender = Sender(chain, account.address, account, cap)
        else:
            sender = Sender(chain, cfg.oracle_account, None, cap) if cfg.oracle_account else None
        users = list(cfg.users) or chain.call(chain.vault.functions.getUsers().call)
        journal = Path(journal_path) if journal_path else Path(cfg.journal).with_name("auto_rebalance.jsonl")
        outcomes = auto_rebalance(chain, users, inflation, execute=execute, sender=sender, journal=Journal(journal),
                                  timeout_s=cfg.receipt_timeout_s)  # fmt: skip
    except (ValueError, NodeDown, Reverted, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except ChainRefused as exc:
        click.echo(_chain_refused(exc), err=True)
        sys.exit(1)
    for o in outcomes:
        click.echo(f"{o.user}: {o.status.upper()}: {o.detail}")
    click.echo(f"journal: {journal}")
    sys.exit(1 if any(o.status == "reverted" for o in outcomes) else 0)


@live.command("replay")
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.option("--strategy", "strategy_name", default=None, help="[default: the one the journal recorded]")
@click.option("--strategy-param", "strategy_params", multiple=True, metavar="KEY=VALUE")
def live_replay(journal: str, strategy_name: str | None, strategy_params: tuple[str, ...]) -> None:
    """Feed JOURNAL's recorded snapshots to the strategy; exit 1 if any recommendation differs."""
    from adapters.chain.replay import replay
    from prometheus_sim.blocks import MissingDataError

    def recorded(spec: dict | None):  # each run with the strategy it recorded
        if not spec:
            raise ValueError(f"journal {journal}: a run records no strategy; give --strategy")
        return _live_strategy(spec["name"], spec.get("params") or {})[0]

    try:
        if strategy_name is None:
            report = replay(journal, recorded)
        else:
            report = replay(journal, _live_strategy(strategy_name, strategy_params)[0])
    except (ValueError, MissingDataError) as exc:  # a strategy reading data a chain's snapshots lack: a traceback
        click.echo(f"error: {_message(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for line in report.mismatches[:20]:
        click.echo(line)
    click.echo(f"{report.decisions} decisions replayed over {report.runs} run(s): "
               + ("same recommendations" if report.ok else f"{len(report.mismatches)} differences"))  # fmt: skip
    sys.exit(0 if report.ok else 1)


@live.command("score")
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.option("--run", "run_number", type=click.IntRange(min=1), default=None,
              help="Which of the journal's live runs, from 1 [default: the last].")  # fmt: skip
def live_score(journal: str, run_number: int | None) -> None:
    """Score a run of JOURNAL from what it recorded: each vault's time-weighted return, worst fall and fees."""
    from adapters.chain.replay import score_journal

    try:
        table, what = score_journal(journal, run_number)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"scored {what}")
    click.echo(table.to_string(index=False, float_format=lambda x: f"{x:,.6g}"))


# ---------------------------------------------------------------- the inference API


@main.command()
@click.option(
    "--market", default="default", show_default=True, help="A run directory or a scenario (1 path simulated)."
)
@click.option("--path", "path_index", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--start-day", type=click.IntRange(min=0), default=None, help="[default: day 365 or the last]")
@click.option("--step-seconds", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="The market advances one day this often (0: never).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--forecaster", default="prometheus-forecaster@latest", show_default=True)
@click.option("--policy", default="prometheus-dqn@latest", show_default=True, help="'' to serve no DQN.")
@click.option("--optimize-default", type=click.Choice(["dqn", "forecast"]), default="dqn", show_default=True)
@click.option("--keys-file", default=None, help="[default: PROMETHEUS_API_KEYS_FILE or .prometheus/api_keys.json]")
@click.option("--rate-limit", default="100/second", show_default=True, help="Per API key, e.g. 6000/minute.")
@click.option("--rate-limit-storage", default="memory://", show_default=True, help="memory:// or redis://host:port")
@click.option("--batching/--no-batching", default=True, show_default=True)
@click.option("--max-batch", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--batch-window-ms", type=click.FloatRange(min=0), default=2.0, show_default=True)
@click.option("--max-body-bytes", type=click.IntRange(min=256), default=16_384, show_default=True)
@click.option("--tracking-uri", default=None)
@click.option("--device", default="cpu", show_default=True)
def serve(market: str, path_index: int, start_day: int | None, step_seconds: float, host: str, port: int,
          forecaster: str, policy: str, optimize_default: str, keys_file: str | None, rate_limit: str,
          rate_limit_storage: str, batching: bool, max_batch: int, batch_window_ms: float, max_body_bytes: int,
          tracking_uri: str | None, device: str) -> None:  # fmt: skip
    """Serve the inference API (FastAPI on uvicorn): forecasts, recommendations, risk; docs at /docs."""
    import logging

    import uvicorn

    from prometheus_sim.api.app import ServeSettings, create_app

    try:
        settings = ServeSettings(
            market=market, path=path_index, start_day=start_day, step_seconds=step_seconds, forecaster=forecaster,
            policy=policy or None, optimize_default=optimize_default, keys_file=keys_file, rate_limit=rate_limit,
            rate_limit_storage=rate_limit_storage, batching=batching, max_batch=max_batch,
            batch_window_ms=batch_window_ms, max_body_bytes=max_body_bytes, tracking_uri=tracking_uri, device=device,
        )  # fmt: skip
        app = create_app(settings)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import logging

    from prometheus_sim.api.app import QueryStringFilter

    for name in ("uvicorn.error", "uvicorn.access"):  # a key in a WebSocket's query string was logged in full
        logging.getLogger(name).addFilter(QueryStringFilter())
    # proxy_headers off: uvicorn's default took a loopback client's X-Forwarded-For as its address, so a keyless
    # client rotating that header escaped the per-address limit (review of 2026-12-05, session 19); a client's
    # WebSocket frames are dropped unread, so they may be no larger than a request body (uvicorn's default: 16 MiB)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", proxy_headers=False,
                ws_max_size=max(int(max_body_bytes), 1024))  # fmt: skip


@main.group()
def keys() -> None:
    """API keys: only their SHA-256 is stored; a new key is printed once."""


@keys.command("add")
@click.argument("name")
@click.option("--keys-file", default=None)
def keys_add(name: str, keys_file: str | None) -> None:
    """Make a key for NAME and print it (it is not shown again)."""
    from prometheus_sim.api.keys import KeyStore

    try:
        store = KeyStore(keys_file)
        key = store.add(name)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(key)
    click.echo(f"(stored as a SHA-256 hash in {store.path}; keep the key: it is not shown again)", err=True)


@keys.command("revoke")
@click.argument("name")
@click.option("--keys-file", default=None)
def keys_revoke(name: str, keys_file: str | None) -> None:
    """Revoke NAME's key (a running server refuses it with 403 at once)."""
    from prometheus_sim.api.keys import KeyStore

    try:
        KeyStore(keys_file).revoke(name)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"revoked {name}")


@keys.command("list")
@click.option("--keys-file", default=None)
def keys_list(keys_file: str | None) -> None:
    """Names, creation times and whether each key is revoked (never the keys)."""
    import datetime

    from prometheus_sim.api.keys import KeyStore

    try:
        records = KeyStore(keys_file).names()
    except ValueError as exc:  # a damaged store was a traceback here, while `keys add` named it (review)
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for r in records:
        when = datetime.datetime.fromtimestamp(r.created, datetime.UTC).strftime("%Y-%m-%d %H:%M") if r.created else "-"
        click.echo(f"{r.name}\t{when}\t{'revoked' if r.revoked else 'live'}")


if __name__ == "__main__":
    main()
