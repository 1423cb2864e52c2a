"""Sweeps: scenarios x seeds x strategies, in local processes or on a Dask cluster.

Work is split into tasks of ``(scenario, a chunk of seeds)``: a task simulates one batched market
holding one realisation per seed, runs every strategy on it through the one backtest loop, and
reduces each ``(seed, strategy)`` cell to a row of metrics. Daily equity curves are kept only for
the first ``plot_seeds`` seeds (what the report draws). Each finished task is written to
``cells/`` at once, so a rerun resumes from what is on disk; a failed cell is written to
``failures.json`` with its error, never dropped, and is retried by a rerun. The final
``metrics.parquet`` is sorted, so it has the same rows whatever the executor or worker count (and, in every
rerun so far, the same bytes; a Dask run once differed in bytes, cause not yet found).

A "scenario" may also be a saved market directory (``prometheus-sim market import`` writes one from
real files; ``Market.save`` any other): it is backtested as it is, every row once, in one task,
with no seeds (the ``seed`` column holds the row's index) and no re-simulation.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from prometheus_sim import __version__
from prometheus_sim.code_identity import source_digest
from prometheus_sim.metrics import growth_index, path_metrics, twr_returns
from prometheus_sim.portfolio import AssetBook, CostModel, RebalanceRules, RiskProfile, RiskProfiles
from prometheus_sim.scenario import ScenarioError, ScenarioSpec, load_scenario
from prometheus_sim.strategy_spec import StrategySpec

SWEEP_FILE = "sweep.json"
METRICS_FILE = "metrics.parquet"
FAILURES_FILE = "failures.json"
CELLS_DIR = "cells"
EQUITY_DIR = "equity"


def equity_file(scenario: str, strategy: str) -> str:
    """The file of a (scenario, strategy label)'s equity curves in ``EQUITY_DIR``. A path separator in a label (a
    strategy class named ``a</i>``) made a folder that did not exist, and the sweep failed after every cell had run
    (review of 2026-12-05): separators are written %-escaped; other names are unchanged."""

    def safe(text: str) -> str:
        return str(text).replace("/", "%2F").replace("\\", "%5C").replace("\0", "%00")

    return f"{safe(scenario)}__{safe(strategy)}.parquet"


@dataclass(frozen=True)
class SavedMarket:
    """A market directory written by :meth:`~prometheus_sim.market.Market.save`, as a sweep's "scenario".

    Only the manifest is read when the sweep is planned; each task loads the arrays (checked
    against their hashes). ``digest`` covers every array's hash, so a changed file changes the
    sweep's resume key.
    """

    path: str
    name: str
    assets: tuple[str, ...]
    kinds: tuple[str, ...]
    n_paths: int
    steps_per_day: int
    sha256: str
    n_steps: int = 0  # 0: unknown (a SavedMarket made by hand); read from the manifest's calendar

    @classmethod
    def read(cls, path: str | Path) -> SavedMarket:
        from prometheus_sim.market import MANIFEST, read_manifest

        src = Path(path)
        try:
            manifest = read_manifest(src)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
        try:
            # the whole manifest, not only the arrays' hashes: the asset kinds, the absent assets, the calendar and
            # the provenance change results too (a market re-imported with --kind USDT=crypto into the same folder
            # resumed a sweep's old cells, annual return 1.625 where a fresh run gives 0.931; review 2026-12-05)
            manifest["array_sha256"]  # noqa: B018 - a manifest without it is refused below
            digest = json.dumps(manifest, sort_keys=True, default=str)
            return cls(
                path=str(src), name=str(manifest["name"]), assets=tuple(manifest["assets"]),
                kinds=tuple(manifest["asset_kinds"]), n_paths=len(manifest["path_ids"]),
                steps_per_day=int(manifest["calendar"]["steps_per_day"]), n_steps=int(manifest["calendar"]["steps"]),
                sha256=hashlib.sha256(digest.encode()).hexdigest(),
            )  # fmt: skip
        except KeyError as exc:
            raise ValueError(
                f"{src / MANIFEST}: missing field {exc}; written by an older version? re-import it"
            ) from None

    @property
    def asset_names(self) -> list[str]:
        return list(self.assets)

    def digest(self) -> str:
        return self.sha256

    def load(self, horizon_days: int | None):
        """The market, cut to ``horizon_days`` when that is shorter."""
        from prometheus_sim.market import Market

        market = Market.load(self.path)
        if horizon_days is not None and horizon_days * self.steps_per_day < market.n_steps:
            market = market.head(horizon_days * self.steps_per_day)
        return market


#: What a sweep runs on: a scenario to simulate, or a saved market to use as it is.
Source = ScenarioSpec | SavedMarket


MAX_SEEDS = 1_000_000  # a run of more is a typo (1000-100000000000 once built a set of 1e11 seeds: minutes, GBs)


def parse_seeds(text: str) -> list[int]:
    """``"1000-1199"``, ``"1,2,5-7"`` -> a sorted list of unique seeds; errors name the bad part.

    At most ``MAX_SEEDS``, counted before any range is expanded."""
    seeds: set[int] = set()
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        try:
            lo, hi = (int(x) for x in part.split("-", 1)) if "-" in part else (int(part), int(part))
        except ValueError:
            raise ValueError(f"seed {part!r} is not an integer or a range like 1000-1199") from None
        if hi < lo:
            raise ValueError(f"seed range {part!r} is empty (end before start)")
        if hi - lo + 1 + len(seeds) > MAX_SEEDS:
            raise ValueError(f"seed range {part!r} holds {hi - lo + 1:,} seeds; at most {MAX_SEEDS:,} in all "
                             "(a digit too many?)")  # fmt: skip
        seeds.update(range(lo, hi + 1))
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    bad = [s for s in seeds if not 0 <= s < 2**64]
    if bad:
        raise ValueError(f"seeds must be in [0, 2**64), got {bad[0]}")
    return sorted(seeds)


@dataclass(frozen=True, kw_only=True)
class ProfileGrid:
    """The risk profiles of a sweep's users: every combination of the listed values (a grid).

    Seed ``s`` gets combination ``s mod len(grid)`` (in the order of :meth:`profiles`), so a seed's
    profile does not depend on how seeds are chunked into tasks. One value per field (the
    default) gives every user the same profile.
    """

    risk_tolerance: tuple[float, ...] = (0.5,)
    time_to_goal: tuple[int, ...] = (24,)
    investment_amount: tuple[float, ...] = (100_000.0,)
    monthly_contribution: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        for name in ("risk_tolerance", "time_to_goal", "investment_amount", "monthly_contribution"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"profiles.{name}: must be a non-empty tuple, got {values!r}")
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:  # 0.5,0.5 ran one profile as two combinations, each on half the seeds (review, session 24)
                raise ValueError(f"profiles.{name}: {twice[0]!r} is given twice in {list(values)}")
        for p in self._grid():
            try:
                RiskProfile(**p)
            except ValueError as exc:
                raise ValueError(f"profiles.{exc}") from None

    def _grid(self) -> list[dict]:
        return [
            {"risk_tolerance": r, "time_to_goal": g, "investment_amount": a, "monthly_contribution": c}
            for r in self.risk_tolerance for g in self.time_to_goal
            for a in self.investment_amount for c in self.monthly_contribution
        ]  # fmt: skip

    def profiles(self) -> list[RiskProfile]:
        return [RiskProfile(**p) for p in self._grid()]

    def for_seeds(self, seeds) -> RiskProfiles:
        grid = self.profiles()
        return RiskProfiles.of([grid[int(s) % len(grid)] for s in seeds], len(seeds))


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """Everything that defines a sweep's results (written to ``sweep.json``): frozen, checked once.

    ``costs`` and ``rules`` configure the simulated venue, ``profiles`` the users; each scenario
    file is parsed once, here, and the parsed specs travel with the config to every task.
    ``costs`` may be a tuple of cost models: every strategy then runs under each (a cost sweep),
    and a cell's ``strategy`` label names its costs (``equal_weight [fees 30 bps, slippage 1 bps,
    impact 0.1]``), so reports and acceptance keep the settings apart.
    """

    scenarios: tuple[str, ...]
    seeds: tuple[int, ...]
    strategies: tuple[StrategySpec, ...]  # names or module:Class paths (strings are turned into specs)
    costs: CostModel | tuple[CostModel, ...] = field(default_factory=CostModel)
    rules: RebalanceRules = field(default_factory=RebalanceRules)
    profiles: ProfileGrid = field(default_factory=ProfileGrid)
    win_horizon_days: int = 7
    seeds_per_task: int = 25
    plot_seeds: int = 50
    horizon_days: int | None = None  # override every scenario's horizon (shocks after it are dropped)
    # no strategy decides before this day (policy evaluate: the policy's first decision day, after its features'
    # warm-up, so the baselines are not scored on weeks the policy must sit out in cash)
    first_decision_day: int = 0
    specs: dict[str, Source] = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if isinstance(self.costs, (tuple, list)):
            if not self.costs or not all(isinstance(c, CostModel) for c in self.costs):
                raise ValueError("costs: expected a CostModel or a non-empty tuple of them")
            check_cost_settings(tuple(self.costs))
            object.__setattr__(self, "costs", self.costs[0] if len(self.costs) == 1 else tuple(self.costs))
        for name, kind in (("costs", CostModel | tuple), ("rules", RebalanceRules), ("profiles", ProfileGrid)):
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"{name}: expected a {kind.__name__}, got {type(getattr(self, name)).__name__}")
        for name in ("win_horizon_days", "seeds_per_task"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        if not isinstance(self.plot_seeds, int) or self.plot_seeds < 0:
            raise ValueError(f"plot_seeds: must be an integer >= 0, got {self.plot_seeds!r}")
        if (
            isinstance(self.first_decision_day, bool)
            or not isinstance(self.first_decision_day, int)
            or (self.first_decision_day < 0)
        ):
            raise ValueError(f"first_decision_day: must be an integer >= 0, got {self.first_decision_day!r}")
        if not self.seeds:
            raise ValueError("seeds: at least one seed")
        if not self.strategies:
            raise ValueError("strategies: at least one strategy")
        specs = tuple(StrategySpec.of(s) for s in self.strategies)
        labels = [s.label for s in specs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"strategies: a strategy is named twice in {labels}")
        object.__setattr__(self, "strategies", specs)
        if self.specs is None:
            object.__setattr__(self, "specs", self._parse_scenarios())
        n_grid = len(self.profiles.profiles())
        if n_grid > 1 and any(isinstance(spec, ScenarioSpec) for spec in self.specs.values()):
            given = sorted({int(s) % n_grid for s in self.seeds})
            if len(given) < n_grid:  # seeds 0, 2, 4, 6 on a grid of 2 all ran its first profile, without a word
                raise ValueError(f"seeds: seed s runs the profile grid's combination s mod {n_grid}, and these seeds "
                                 f"give only combination(s) {given} of its {n_grid}: give seeds that cover it (e.g. "
                                 f"{n_grid} consecutive ones), or a smaller grid")  # fmt: skip
        short = {f"{name} ({spec.path})": spec.n_paths for name, spec in self.specs.items()
                 if isinstance(spec, SavedMarket) and spec.n_paths < n_grid}  # fmt: skip
        if short:  # a saved market's row r runs combination r mod the grid: a one-path real market ran the grid's
            # first profile alone while the report listed them all (review of 2026-12-05, session 24)
            name, n = next(iter(short.items()))
            raise ValueError(f"profiles: a saved market's row r runs the grid's combination r mod {n_grid}, and {name} "
                             f"has {n} row(s), so combination(s) {list(range(n, n_grid))} would never run: give a "
                             f"grid of at most {n} combination(s) for it, or a market with at least {n_grid} paths")  # fmt: skip
        for name, spec in self.specs.items():
            days = spec.n_steps // spec.steps_per_day if isinstance(spec, SavedMarket) else 0
            if days and self.horizon_days is not None and self.horizon_days > days:  # the report said "Horizon:
                # 5000 days (override)" over a saved market's 1,095 (review of 2026-12-05, session 24)
                raise ValueError(f"horizon_days: {self.horizon_days} is longer than the saved market {name} "
                                 f"({spec.path}: {days} days); a saved market is cut to a horizon, never lengthened")  # fmt: skip
            # a decision is at a day's close and fills at the next open: the last day that can decide is the
            # second-to-last. Past it every cell failed after the markets were simulated (review of 2026-12-05)
            if isinstance(spec, ScenarioSpec) and self.first_decision_day > spec.horizon_days - 2:
                raise ValueError(f"first_decision_day: day {self.first_decision_day} is after the last day a backtest "
                                 f"of {name} can decide and fill (day {spec.horizon_days - 2} of its "
                                 f"{spec.horizon_days} days)")  # fmt: skip

    @property
    def cost_settings(self) -> tuple[CostModel, ...]:
        """Every cost model the sweep runs under (one, unless ``costs`` is a grid)."""
        return self.costs if isinstance(self.costs, tuple) else (self.costs,)

    def cell_label(self, strategy: StrategySpec, costs: CostModel) -> str:
        """A cell's strategy label: the strategy's, plus its costs when the sweep has several."""
        if len(self.cost_settings) == 1:
            return strategy.label
        return f"{strategy.label} [{_costs_text(costs)}]"

    def cells(self) -> list[tuple[StrategySpec, CostModel, str]]:
        """(strategy, costs, label) of every strategy under every cost setting, in a fixed order."""
        return [(s, c, self.cell_label(s, c)) for c in self.cost_settings for s in self.strategies]

    def load_scenarios(self) -> dict[str, Source]:
        """Each scenario as it will run (horizon override applied), by its ``name`` (parsed once, at construction)."""
        return dict(self.specs)

    def _parse_scenarios(self) -> dict[str, Source]:
        """Each scenario as it will run (horizon override applied), by its ``name``; a directory is a saved market.

        Raises ``ValueError`` naming the file when one is invalid or two share a name: the name
        keys every result file, so two scenarios with one name would overwrite each other.
        """
        specs: dict[str, Source] = {}
        files: dict[str, str] = {}
        for path in self.scenarios:
            try:
                if Path(path).is_dir():
                    spec = SavedMarket.read(path)
                else:
                    spec = load_scenario(path)
                    if self.horizon_days is not None:
                        spec = spec.with_horizon(self.horizon_days)
            except ScenarioError as exc:
                raise ValueError(str(exc)) from None
            if str(path) in files.values():
                raise ValueError(f"scenario {path} is given twice")
            if spec.name in specs:
                raise ValueError(f"scenarios {files[spec.name]} and {path} share the name {spec.name!r}; rename one")
            twin = next((name for name, other in specs.items() if isinstance(spec, ScenarioSpec)
                         and isinstance(other, ScenarioSpec) and other.paths_digest() == spec.paths_digest()), None)  # fmt: skip
            if twin is not None:  # its cells were exact copies, counted by acceptance as independent (review)
                raise ValueError(f"scenarios {files[twin]} and {path} simulate the very same paths (a renamed copy: "
                                 "every cell would be counted twice); give one")  # fmt: skip
            try:  # every cell would fail on it: say so before the sweep starts
                AssetBook.from_kinds(spec.asset_names, _kinds(spec))
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
            specs[spec.name] = spec
            files[spec.name] = str(path)
        return specs

    def result_key(self, wiring: Wiring) -> dict[str, Any]:
        """What changes results: settings, the scenarios' digests as run, each strategy's spec and
        code hash (``wiring.describe``), the package version.

        A resume refuses a directory written under another key, so edited scenario files, edited
        strategy code (and the project modules it imports), edited venue or sweep code (``engine_sha256``) or a
        new package version never mix with stale cells.
        """
        d = asdict(self)
        d.pop("specs")
        if not d["first_decision_day"]:  # a sweep written before the field existed resumes under its own key
            d.pop("first_decision_day")
        d["scenarios"] = {name: spec.digest() for name, spec in self.specs.items()}
        # run on their own rows, not on the seeds (the report says so): a saved market's row 0 could pass for seed 0
        saved = sorted(name for name, spec in self.specs.items() if isinstance(spec, SavedMarket))
        if saved:
            d["saved_markets"] = saved
        d["strategies"] = [wiring.describe(spec) for spec in self.strategies]
        d["package_version"] = __version__
        # the code that makes a cell besides the strategy's (the venue, the sweep, the market and metrics they
        # import): in a source checkout it changes without a new version
        d["engine_sha256"] = source_digest([__name__, getattr(wiring.adapter, "__module__", None) or __name__])
        return json.loads(json.dumps(d))


def check_cost_settings(costs: tuple[CostModel, ...]) -> None:
    """A cost grid's settings are distinct, and so are their labels, which key cells, result files and the
    report's groups (``10`` and ``10.000001`` bps would print alike and be pooled as one)."""
    if len(set(costs)) != len(costs):
        raise ValueError("costs: a cost setting is given twice")
    labels: dict[str, CostModel] = {}
    for c in costs:
        label = _costs_text(c)
        if label in labels:
            raise ValueError(f"costs: fees {labels[label].fees_bps!r} and {c.fees_bps!r} bps (slippage, impact "
                             f"alike) both print as [{label}], so their cells would mix: give settings that differ "
                             "within 6 significant digits")  # fmt: skip
        labels[label] = c


def _costs_text(costs: CostModel) -> str:
    """How a cost setting reads in a cell's label (``acceptance.cost_suffix`` reads it back alike)."""
    return f"fees {costs.fees_bps:g} bps, slippage {costs.slippage_bps:g} bps, impact {costs.impact:g}"


@dataclass(frozen=True)
class Wiring:
    """What the core does not import but a sweep needs, handed in by the caller (the CLI, a test).

    All must be picklable (module-level functions), since tasks run in other processes.
    ``strategy(spec)`` builds a fresh strategy from its spec; ``describe(spec)`` says what
    identifies its results (spec and code hash, for the resume key); ``adapter(market, config,
    profiles)`` builds a venue for a batched market whose rows are the task's seeds.
    """

    strategy: Callable[[StrategySpec], Any]
    describe: Callable[[StrategySpec], dict[str, Any]]
    adapter: Callable[[Any, SweepConfig, RiskProfiles], Any]


@dataclass(frozen=True)
class Task:
    scenario: str  # path to the YAML file
    name: str  # the scenario's name: keys the task's files
    seeds: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.name}__{self.seeds[0]}-{self.seeds[-1]}"


@dataclass
class SweepOutcome:
    out_dir: Path
    metrics: pd.DataFrame
    failures: list[dict] = field(default_factory=list)
    tasks_run: int = 0
    tasks_skipped: int = 0


def _kinds(source: Source) -> list[str]:
    return list(source.kinds) if isinstance(source, SavedMarket) else source.asset_kinds


def plan_tasks(config: SweepConfig) -> list[Task]:
    """Scenarios x chunks of seeds; a saved market is one task over its rows (the "seeds" are row indices)."""
    seeds = list(config.seeds)
    chunks = [tuple(seeds[i : i + config.seeds_per_task]) for i in range(0, len(seeds), config.seeds_per_task)]
    tasks = []
    for path, (name, source) in zip(config.scenarios, config.load_scenarios().items(), strict=True):
        if isinstance(source, SavedMarket):
            tasks.append(Task(path, name, tuple(range(source.n_paths))))
        else:
            tasks.extend(Task(path, name, chunk) for chunk in chunks)
    return tasks


def _market_for(source: Source, task: Task, config: SweepConfig):
    from prometheus_sim.market import Market

    if isinstance(source, SavedMarket):
        return source.load(config.horizon_days)
    return Market.simulate(source, seeds=task.seeds)


def run_task(task: Task, config: SweepConfig, wiring: Wiring) -> dict[str, Any]:
    """Simulate one chunk of seeds, run every strategy; return metric rows, equity and failures.

    Pure and picklable: what runs in a worker process or on a Dask worker. When a strategy fails
    on the chunk, it is re-run seed by seed, so only the seeds that really fail are reported.
    """
    rows: list[pd.DataFrame] = []
    equity: dict[str, np.ndarray] = {}
    failures: list[dict] = []
    try:
        spec = config.load_scenarios()[task.name]
        market = _market_for(spec, task, config)
    except Exception as exc:  # a broken scenario fails every cell of the task, loudly
        for _, _, label in config.cells():
            failures.append(_failure(task.name, task.seeds, label, exc))
        return {"key": task.key, "rows": None, "equity": {}, "failures": failures, "calendar": None}
    if isinstance(spec, SavedMarket):  # its "seeds" are row indices, not the sweep's seeds (though 0 may be both)
        n_plot = min(len(task.seeds), config.plot_seeds)
    else:
        plot = set(config.seeds[: config.plot_seeds])
        n_plot = sum(1 for s in task.seeds if s in plot)
    digest = market.digest()
    policy_rate = daily_policy_rate(market)
    cells = config.cells()
    own_seeds: dict[str, list[int]] = {}  # a strategy whose curves cover fewer plot seeds than the task's
    for k, (strategy, costs, name) in enumerate(cells):
        cell_config = replace(config, costs=costs) if len(cells) > len(config.strategies) else config
        try:
            result = _backtest_cell(strategy, market, cell_config, wiring, task.seeds)
        except SweepInterrupted:
            raise
        except (Exception, SystemExit) as exc:  # a strategy's sys.exit() is its cell's failure, not the sweep's end
            result = None
            if len(task.seeds) == 1:
                failures.append(_failure(task.name, task.seeds, name, exc))
            else:
                part_rows, part_failures, curves = _seed_by_seed(strategy, name, market, task, cell_config, wiring,
                                                                 n_plot)  # fmt: skip
                rows += part_rows
                failures += part_failures
                if curves:  # the seeds that ran keep their curves (they were dropped with the batch: review)
                    equity[name] = np.stack([c for _, c in curves])
                    own_seeds[name] = [seed for seed, _ in curves]
        if market.digest() != digest:  # sealed memory should make this impossible; checked all the same
            tampered = RuntimeError(f"strategy {name!r} changed the market's data; its cells and the rest are void")
            failures.append(_failure(task.name, task.seeds, name, tampered))
            for _, _, later in cells[k + 1 :]:
                failures.append(_failure(task.name, task.seeds, later, RuntimeError(f"not run: {tampered}")))
            break
        if result is None:
            continue
        rows.append(_cell_rows(result, spec.name, task.seeds, name, policy_rate, costs,
                               config.profiles.for_seeds(task.seeds), market))  # fmt: skip
        if n_plot:
            equity[name] = _growth_curves(result, n_plot)
    spd = market.steps_per_day
    calendar = market.calendar[spd - 1 :: spd].normalize()
    return {
        "key": task.key,
        "scenario": spec.name,
        "rows": pd.concat(rows, ignore_index=True) if rows else None,
        "equity": equity,
        "plot_seeds": list(task.seeds[:n_plot]),
        "own_plot_seeds": own_seeds,
        "failures": failures,
        "calendar": calendar,
    }


def _backtest_cell(spec: StrategySpec, market, config: SweepConfig, wiring: Wiring, seeds):
    return backtest_scored(wiring.strategy(spec), market, config, wiring.adapter, seeds)


def backtest_scored(strategy, market, config: SweepConfig, adapter: Callable[[Any, SweepConfig, RiskProfiles], Any],
                    seeds=None):  # fmt: skip
    """A built strategy backtested on ``market`` as a sweep's cell is (the config's costs and risk profiles),
    ready for :func:`~prometheus_sim.metrics.path_metrics`; what also scores a policy's checkpoints
    (:mod:`prometheus_sim.rl.select`) on held-out seeds, so they are scored as ``policy evaluate`` scores.

    ``seeds``: the rows' seed labels, which pick each row's risk profile (``ProfileGrid.for_seeds``); default the
    market's seeds. A saved market's rows are labelled by their index: by its seeds (every row of one simulation
    carries the same) every row ran the grid's first profile while the report listed the whole grid (review of
    2026-12-05, session 21)."""
    from prometheus_sim.backtest import DecisionClock, run

    clock = DecisionClock.for_strategy(strategy, market.n_steps, market.steps_per_day, config.first_decision_day)
    if next(iter(clock), None) is None:  # scored anyway, a cell would show cash's figures as the strategy's
        spd = market.steps_per_day
        # a decision is at a day's last step and fills at the next, so the last day that can decide is the one
        # whose last step comes before the market's last
        days, first, last = market.n_steps // spd, clock.start // spd, (market.n_steps - spd - 1) // spd
        name = getattr(strategy, "name", type(strategy).__name__)
        raise ValueError(f"{name} makes no decision on {market.name}'s {days} days: its first decision is on day "
                         f"{first} (after its history warm-up) and the last decision a backtest can fill is on day "
                         f"{last}; use a longer horizon")  # fmt: skip
    venue = adapter(market, config, config.profiles.for_seeds(market.seeds if seeds is None else seeds))
    result = run(strategy, venue, clock)
    return result.scored(market.close, config.win_horizon_days * market.steps_per_day)


def daily_policy_rate(market) -> np.ndarray | None:
    """Each day's return of cash at the scenario's policy rate: ``fed_rate / 365`` at the day's last step.

    None when the market has no policy rate (a real market imported without macro data): the
    excess Sharpe is then NaN, not measured against a made-up rate.
    """
    from prometheus_sim.blocks import is_absent

    if is_absent("macro", "fed_rate", market.absent):
        return None
    spd = market.steps_per_day
    return market.blocks.column("macro", "fed_rate")[:, spd - 1 :: spd] / 365.0


#: The risk profile each metric row's user had (``ProfileGrid.for_seeds``): a sweep over a grid of profiles can
#: then be split by profile (before, the rows did not say, and seed mod grid size had to be worked out by hand).
PROFILE_COLUMNS = ("risk_tolerance", "time_to_goal", "investment_amount", "monthly_contribution")


#: Which random numbers made each metric row's path: the Philox key and path number (-1 for a real market's rows).
#: A scenario's cell of seed s is path 0 of key s; a saved simulated market's row r is path path_ids[r] of key
#: seeds[r]. Cells with the same pair share every draw across scenarios (:func:`cell_clusters`).
DRAW_COLUMNS = ("draw_seed", "draw_path")


def _cell_rows(
    result, scenario: str, seeds: tuple[int, ...], strategy: str, risk_free, costs: CostModel, profiles: RiskProfiles,
    market,
) -> pd.DataFrame:  # fmt: skip
    frame = path_metrics(result, risk_free)
    frame["fees_bps"], frame["slippage_bps"], frame["impact"] = costs.fees_bps, costs.slippage_bps, costs.impact
    for column in PROFILE_COLUMNS:
        frame[column] = getattr(profiles, column)
    frame["draw_seed"] = np.zeros(len(frame), np.uint64) if market.is_real else np.asarray(market.seeds, np.uint64)
    frame["draw_path"] = np.full(len(frame), -1, np.int64) if market.is_real else np.asarray(market.path_ids, np.int64)
    frame.insert(0, "strategy", strategy)
    frame.insert(0, "seed", np.asarray(seeds, dtype=np.uint64))
    frame.insert(0, "scenario", scenario)
    return frame


def _seed_by_seed(strategy: StrategySpec, label: str, market, task: Task, config: SweepConfig, wiring: Wiring,
                  n_plot: int = 0):  # fmt: skip
    """Re-run one strategy row by row of the task's market (a row alone equals its place in the batch): its rows, its
    failures, and (seed, growth curve) of the first ``n_plot`` rows that ran."""
    rows, failures, curves = [], [], []
    for k, seed in enumerate(task.seeds):
        try:
            row_market = market.rows(slice(k, k + 1))
            result = _backtest_cell(strategy, row_market, config, wiring, (seed,))
        except SweepInterrupted:
            raise
        except (Exception, SystemExit) as exc:
            failures.append(_failure(task.name, (seed,), label, exc))
            continue
        rows.append(_cell_rows(result, market.name, (seed,), label, daily_policy_rate(row_market), config.costs,
                               config.profiles.for_seeds((seed,)), row_market))  # fmt: skip
        if k < n_plot:
            curves.append((seed, _growth_curves(result, 1)[0]))
    return rows, failures, curves


def _growth_curves(result, n: int) -> np.ndarray:
    """The first ``n`` users' time-weighted growth at each day's close, shape (n, days): what the plots draw."""
    rets = twr_returns(result.daily_equity()[:n], result.daily_deposits()[:n], result.initial_value[:n])
    return growth_index(rets)[:, 1:]


def _failure(scenario: str, seeds: tuple[int, ...], strategy: str, exc: BaseException) -> dict:
    return {
        "scenario": scenario,
        "seeds": f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0]),
        "n_seeds": len(seeds),  # the span above may skip seeds (a task of 1000, 1005, 1010): counted here
        "strategy": strategy,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc))[-4000:],
    }


# ---------------------------------------------------------------- persistence


def _write_task(out: Path, res: dict[str, Any]) -> None:
    """Write a task's cells: its rows (``{key}.parquet``, which marks it done), equity curves and failures.

    The rows go last and everything is replaced whole: an interruption between the files once left a task marked
    done whose failures or equity curves were never written, and a resume then dropped its failed cells for good;
    a re-run task that now failed outright kept the previous run's rows beside its new failure (review 2026-12-05).
    The old done marker goes first, so until the new rows are in place the task is not done and runs again.
    """
    cells = out / CELLS_DIR
    cells.mkdir(parents=True, exist_ok=True)
    key = res["key"]
    done = cells / f"{key}.parquet"
    done.unlink(missing_ok=True)
    equity = cells / f"{key}.equity.npz"
    if res["equity"]:
        tmp = cells / f".{key}.equity.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                scenario=np.asarray(res["scenario"]),
                seeds=np.asarray(res["plot_seeds"], dtype=np.uint64),
                calendar=res["calendar"].values.astype("datetime64[ns]"),
                **{f"equity__{k}": v for k, v in res["equity"].items()},
                **{f"seeds__{k}": np.asarray(v, dtype=np.uint64) for k, v in res.get("own_plot_seeds", {}).items()},
            )
        os.replace(tmp, equity)
    else:
        equity.unlink(missing_ok=True)
    fail_file = cells / f"{key}.failures.json"
    if res["failures"]:
        tmp = cells / f".{key}.failures.json.tmp"
        tmp.write_text(json.dumps(res["failures"], indent=2))
        os.replace(tmp, fail_file)
    else:
        fail_file.unlink(missing_ok=True)
    if res["rows"] is not None:
        tmp = cells / f".{key}.parquet.tmp"
        res["rows"].to_parquet(tmp, index=False)
        os.replace(tmp, done)


def _task_done(out: Path, task: Task) -> bool:
    cells = out / CELLS_DIR
    return (cells / f"{task.key}.parquet").exists() and not (cells / f"{task.key}.failures.json").exists()


def _check_resume(out: Path, current: dict[str, Any]) -> None:
    """Refuse to resume into a directory written under another result key; name only what changed."""
    sweep_file = out / SWEEP_FILE
    if not sweep_file.exists():
        cells = out / CELLS_DIR
        if cells.is_dir() and any(cells.iterdir()):  # cells with no record of the settings they ran under: a
            # sweep.json deleted alone resumed fees-10 cells into a fees-30 run (review of 2026-12-05, session 19)
            raise ValueError(f"{out} holds cells of a sweep but no {SWEEP_FILE} saying under which settings they ran; "
                             "use another --out or delete the whole directory")  # fmt: skip
        return
    previous = _read_sweep_file(out).get("config")
    if previous is not None and previous != current:
        changed = sorted(k for k in {*previous, *current} if previous.get(k) != current.get(k))
        raise ValueError(
            f"{out} holds a sweep with other settings ({', '.join(changed)}); use another --out or delete the whole "
            "directory"
        )


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    wiring: Wiring,
    workers: int = 1,
    executor: Literal["local", "dask"] = "local",
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> SweepOutcome:
    """Run (or resume) a sweep into ``out_dir``; return the collected metrics and failures."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot create it ({exc.strerror})") from None
    # the key once, as the run starts: computed again at its end it would record code edited meanwhile (the
    # key now digests the code), and a directory of cells made by the old code would resume under the new key
    key = config.result_key(wiring)
    _check_resume(out, key)
    _write_sweep_file(out, key, status="running")
    tasks = plan_tasks(config)
    todo = [t for t in tasks if not _task_done(out, t)]
    skipped = len(tasks) - len(todo)
    if progress is not None and skipped:
        progress(skipped)
    with _sigterm_as_exit():
        for res in _execute(todo, config, wiring, workers, executor, scheduler):
            _write_task(out, res)
            if progress is not None:
                progress(1)
    outcome = collect(out, config)
    outcome.tasks_run, outcome.tasks_skipped = len(todo), skipped
    _write_sweep_file(out, key, status="failed cells" if outcome.failures else "complete")
    return outcome


def _execute(
    tasks: list[Task], config: SweepConfig, wiring: Wiring, workers: int, executor: str, scheduler: str | None
) -> Iterable[dict[str, Any]]:
    if not tasks:
        return
    if executor == "dask":
        yield from _execute_dask(tasks, config, wiring, workers, scheduler)
        return
    if executor != "local":
        raise ValueError(f"executor: must be 'local' or 'dask', got {executor!r}")
    if workers <= 1:
        for task in tasks:
            result = run_task(task, config, wiring)
            if _INTERRUPTED.is_set():  # a SIGTERM whose raise a library swallowed: this task's result is not kept
                raise SweepInterrupted(128 + signal.SIGTERM)
            yield result
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: Numba's threading layer is not fork-safe once started.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_one_thread)
    try:
        futures = [pool.submit(run_task, task, config, wiring) for task in tasks]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:  # interrupted (SIGTERM, Ctrl-C) or a task failed: leave no worker behind
        # A worker killed mid-read leaves the call queue's feeder thread blocked on a pipe nobody reads, and
        # joining it hangs the shutdown (and the exit) for good, so it must not be waited for. That is said
        # before any worker is stopped: the executor's manager thread joins the call queue as soon as it sees
        # a worker die, and when this came after the workers were stopped, the manager could be inside that
        # join already (a parent that ignored SIGTERM for 30 s, in 2 of 4 clean-clone test runs on 2026-12-04).
        call_queue = getattr(pool, "_call_queue", None)
        if call_queue is not None:
            call_queue.cancel_join_thread()
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.terminate()
        for proc in procs:  # the workers themselves are what must not outlive us: joined, killed if need be
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        # A worker stopped while sending a result leaves the manager thread reading the rest of that message
        # for ever (the shutdown below and the interpreter's exit both join it: a parent stuck after SIGTERM,
        # seen in 1 of 6-10 runs of the SIGTERM test, its stack dumped by faulthandler). The workers are gone,
        # so closing this process's end of the result pipe, the last writer, turns that read into an EOF, which
        # the manager takes for a broken pool and stops.
        result_queue = getattr(pool, "_result_queue", None)
        if result_queue is not None:
            result_queue._writer.close()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class SweepInterrupted(SystemExit):
    """SIGTERM during a sweep: a SystemExit (exit status 143), but one a cell's handler passes on. It had caught it as
    the strategy's own sys.exit() when the signal came during a decision at one worker: the sweep recorded a made-up
    failure ("SystemExit: 143") and ran to the end (review of 2026-12-05, session 21)."""


_INTERRUPTED = threading.Event()  # set by the SIGTERM handler; checked between tasks should a raise be swallowed


@contextmanager
def _sigterm_as_exit():
    """Turn SIGTERM into SystemExit while a sweep runs, so worker processes are stopped, not orphaned.

    Finished tasks are on disk already (a rerun resumes from them). Only in the main thread, where
    Python delivers signals.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        _INTERRUPTED.set()
        raise SweepInterrupted(128 + signum)

    _INTERRUPTED.clear()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


WORKER_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _one_thread() -> None:
    """Worker initialiser: one compute thread per process (Numba, torch, BLAS), so workers do not
    oversubscribe cores. Torch reads ``OMP_NUM_THREADS`` when a strategy first imports it; NumPy's
    BLAS is already loaded, so threadpoolctl limits it. Measured: ``make demo``'s backtest (8
    scenarios x 6 seeds, ``forecast`` and ``dqn`` among 6 strategies, 2 workers on 2 cores) took
    265 s with torch at its default of one thread per core (spin-waiting OpenMP threads of two
    processes on the same cores) and 13.6 s on one worker."""
    import sys

    import numba
    from threadpoolctl import threadpool_limits

    for name in WORKER_THREAD_VARIABLES:
        os.environ[name] = "1"
    numba.set_num_threads(1)
    threadpool_limits(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _run_task_on_one_thread(task: Task, config: SweepConfig, wiring: Wiring) -> dict[str, Any]:
    """:func:`run_task` on a Dask worker, on one compute thread. Numba's thread count is per thread and
    a Dask worker runs tasks on its executor's threads, so setting it once per worker (``client.run``
    runs on the worker's event-loop thread) left the tasks on every core."""
    _one_thread()
    return run_task(task, config, wiring)


def _execute_dask(tasks: list[Task], config: SweepConfig, wiring: Wiring, workers: int, scheduler: str | None):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # the optional extra
        raise RuntimeError("--executor dask needs the 'dask[distributed]' extra installed") from exc
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        cluster = None
        client = Client(scheduler)
    try:
        futures = [client.submit(_run_task_on_one_thread, task, config, wiring, pure=False) for task in tasks]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def collect(out_dir: str | Path, config: SweepConfig) -> SweepOutcome:
    """Merge ``cells/`` into ``metrics.parquet``, ``equity/*.parquet`` and ``failures.json``."""
    out = Path(out_dir)
    cells = out / CELLS_DIR
    wanted = {t.key for t in plan_tasks(config)}
    frames = [pd.read_parquet(cells / f"{k}.parquet") for k in sorted(wanted) if (cells / f"{k}.parquet").exists()]
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not metrics.empty:
        metrics = metrics.sort_values(["scenario", "strategy", "seed"], kind="stable").reset_index(drop=True)
    metrics.to_parquet(out / METRICS_FILE, index=False)
    failures: list[dict] = []
    for k in sorted(wanted):
        f = cells / f"{k}.failures.json"
        if f.exists():
            failures.extend(json.loads(f.read_text()))
    (out / FAILURES_FILE).write_text(json.dumps(failures, indent=2) + "\n")
    _collect_equity(out, sorted(wanted))
    return SweepOutcome(out_dir=out, metrics=metrics, failures=failures)


def _collect_equity(out: Path, keys: list[str]) -> None:
    curves: dict[tuple[str, str], list[pd.DataFrame]] = {}
    for key in keys:
        f = out / CELLS_DIR / f"{key}.equity.npz"
        if not f.exists():
            continue
        with np.load(f) as data:
            scenario = str(data["scenario"])
            index = pd.DatetimeIndex(data["calendar"], name="date")
            seeds = [str(int(s)) for s in data["seeds"]]
            for name in data.files:
                if name.startswith("equity__"):
                    strategy = name.removeprefix("equity__")
                    own = f"seeds__{strategy}"  # the seeds it ran on, where some of the task's failed
                    columns = [str(int(s)) for s in data[own]] if own in data.files else seeds
                    frame = pd.DataFrame(data[name].T, index=index, columns=columns)
                    curves.setdefault((scenario, strategy), []).append(frame)
    eq_dir = out / EQUITY_DIR
    eq_dir.mkdir(exist_ok=True)
    for (scenario, strategy), frames in curves.items():
        both = pd.concat(frames, axis=1)  # seeds in number order, whatever the tasks' keys sort as ('1', '10', '2')
        both[sorted(both.columns, key=int)].to_parquet(eq_dir / equity_file(scenario, strategy))


def _write_sweep_file(out: Path, key: dict[str, Any], status: str) -> None:
    """Replaced whole: written in place, a full disk left it empty and every later run of the directory failed."""
    doc = {"package_version": __version__, "status": status, "config": key}
    tmp = out / f".{SWEEP_FILE}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out / SWEEP_FILE)


def _read_sweep_file(run: Path) -> dict[str, Any]:
    """``sweep.json``, or a named error when it is damaged. Deleting the file alone would drop the resume check (it
    holds the result key), so the message asks for the whole directory to go."""
    path = run / SWEEP_FILE
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: damaged, not readable JSON ({exc}); its cells cannot be trusted to resume: "
                         "delete the directory or use another --out") from None  # fmt: skip
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: damaged, not a JSON object; delete the directory or use another --out")
    return doc


def own_path_sources(doc: dict, metrics: pd.DataFrame) -> list[str]:
    """The sweep's saved markets (real or simulated), which run on their own rows, not on the configured seeds.

    ``sweep.json`` records them since 2026-12-05; for an older sweep they are guessed as the scenarios none of whose
    rows carries a configured seed (a real market's row 0 would otherwise pass for seed 0).
    """
    cfg = doc.get("config", {})
    recorded = cfg.get("saved_markets")
    if recorded is not None:
        return list(recorded)
    asked = {int(s) for s in cfg.get("seeds", [])}
    if metrics.empty:
        return []
    return sorted(name for name, rows in metrics.groupby("scenario")
                  if not asked & {int(x) for x in rows["seed"]})  # fmt: skip


def cell_clusters(metrics: pd.DataFrame, own_paths: list[str]) -> np.ndarray:
    """A label per metric row saying which rows share random numbers: what an interval over cells clusters by.

    A scenario's cell of seed s is path 0 of Philox key s, so the cells of one seed in different scenarios share
    every draw (their BTC returns correlate 0.77-0.93 across the shipped scenarios): they are one cluster,
    ``"seed s path 0"``. A saved simulated market's row r is path ``path_ids[r]`` of key ``seeds[r]``, in the same
    cluster as any other cell of that pair (:data:`DRAW_COLUMNS`); a real market's rows are clusters of their own,
    ``"<market> row r"``. Rows written before the draw columns existed: a saved market's rows (``own_paths``) each
    a cluster, the others by seed.
    """
    if metrics.empty:
        return np.array([], dtype=object)
    if set(DRAW_COLUMNS) <= set(metrics.columns):
        return np.array([f"{scenario} row {seed}" if path < 0 else f"seed {draw} path {path}"
                         for scenario, seed, draw, path in zip(metrics["scenario"], metrics["seed"],
                                                               metrics["draw_seed"], metrics["draw_path"], strict=True)],
                        dtype=object)  # fmt: skip
    own = set(own_paths)
    return np.array([f"{scenario} row {seed}" if scenario in own else f"seed {seed} path 0"
                     for scenario, seed in zip(metrics["scenario"], metrics["seed"], strict=True)], dtype=object)  # fmt: skip


def load_sweep(run_dir: str | Path) -> tuple[dict, pd.DataFrame, list[dict]]:
    """Read a finished sweep directory: (sweep.json, metrics, failures)."""
    run = Path(run_dir)
    if not (run / SWEEP_FILE).exists():
        raise FileNotFoundError(f"{run}: no {SWEEP_FILE}; not a sweep directory (run `prometheus-sim backtest`)")
    doc = _read_sweep_file(run)
    # an unfinished sweep (killed, or still going) has cells but no metrics: it was scored as a complete, empty run,
    # "no criterion failed", exit 0, and "no 'dqn' strategy in this run" for a policy it had backtested (review,
    # session 23)
    if doc.get("status") == "running":
        raise ValueError(f"{run}: the sweep is not finished ({SWEEP_FILE} says 'running': still going, or stopped "
                         "mid-way); run the same `prometheus-sim backtest` command again to resume it")  # fmt: skip
    if not (run / METRICS_FILE).exists():
        raise ValueError(f"{run}: no {METRICS_FILE}, though {SWEEP_FILE} says {doc.get('status')!r} (deleted?); run "
                         "the same `prometheus-sim backtest` command again to write it from the cells")  # fmt: skip
    metrics = pd.read_parquet(run / METRICS_FILE)
    if not metrics.empty:
        # what the report and the acceptance rows read: a file without one was a KeyError traceback (review; win_rate,
        # which acceptance reads, was left out until session 23)
        needed = ("scenario", "strategy", "seed", "sharpe", "sharpe_excess", "win_rate")  # the report checks its own
        missing = [c for c in needed if c not in metrics.columns]
        if missing:
            raise ValueError(f"{run / METRICS_FILE}: no column(s) {missing} (written by an older version, or "
                             "edited?); run the backtest again into a new --out")  # fmt: skip
    try:
        failures = json.loads((run / FAILURES_FILE).read_text()) if (run / FAILURES_FILE).exists() else []
    except json.JSONDecodeError as exc:  # the message named no file (review)
        raise ValueError(f"{run / FAILURES_FILE}: not valid JSON ({exc})") from None
    if not isinstance(failures, list) or not all(isinstance(f, dict) for f in failures):
        # '{"a": 1}' was an AttributeError traceback with exit 1, acceptance's "a criterion failed" (review, session 23)
        raise ValueError(f"{run / FAILURES_FILE}: must be a list of failed cells (JSON objects), got "
                         f"{type(failures).__name__}; written by this tool, so edited or damaged?")  # fmt: skip
    return doc, metrics, failures
