"""The market: arrays shaped ``(paths, steps, ...)``, a calendar, and (when simulated) the hidden truth.

:class:`Market` is the layer people call; the Numba kernels live in :mod:`generators`.
``Market.truth`` records what generated the data (regime path, conditional drift and vol, jump
counts, signal windows, dated shocks). Only scoring code may read it: a strategy's snapshot never
carries it, which is what keeps forecasts and policies honest.

A real market (:meth:`Market.from_bars`, built by :mod:`prometheus_sim.real_market` from files)
is one path with no truth and possibly without on-chain or macro data: ``truth`` is None
(:meth:`Market.require_truth` says so by name), and ``absent`` lists what the files lacked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prometheus_sim import __version__
from prometheus_sim.blocks import BLOCK_COLUMNS, PER_ASSET_BLOCKS, MarketBlocks, is_absent
from prometheus_sim.generators import GeneratedArrays, build_inputs, calendar, generate
from prometheus_sim.generators.params import shock_moves
from prometheus_sim.scenario import ONCHAIN_COLUMNS, ScenarioError, ScenarioSpec
from prometheus_sim.sealed import is_sealed, seal_copy

MANIFEST = "manifest.json"
TRUTH_FILES = ("truth_assets.parquet", "truth_paths.parquet")  # written only for a simulated market
FORMAT_VERSION = 1


class NoTruthError(LookupError):
    """Something asked a real market for the simulator's truth, which a real market does not have."""


@dataclass(frozen=True)
class MarketTruth:
    """What generated the data. For scoring only (oracle forecasts); never shown to strategies."""

    regime: np.ndarray  # (P, T) int8 index into regime_names
    regime_names: tuple[str, ...]
    drift: np.ndarray  # (P, T, A) expected log return of each step given the state at its start
    vol: np.ndarray  # (P, T, A) std of the diffusive log return of each step
    jumps: np.ndarray  # (P, T, A) int16 number of Merton jumps in each step
    signal_active: np.ndarray  # (P, T, G) int8: 1 where signal g is in effect (a drift signal moves no peg)
    signal_names: tuple[str, ...]
    # (T, A) the expected log move of the close from the scenario's dated shocks (params.shock_moves)
    shock_jump: np.ndarray
    shock_vol: np.ndarray  # (T, A) dated volatility multipliers


TRUTH_ARRAYS = ("regime", "drift", "vol", "jumps", "signal_active", "shock_jump", "shock_vol")


class Market:
    """A simulated market for one scenario and seed.

    Attributes
    ----------
    blocks : MarketBlocks, the observable data (read-only); ``open`` .. ``macro`` are its fields:
    open, high, low, close, volume : ndarray of shape (paths, steps, assets)
    onchain : ndarray of shape (paths, steps, 4), columns ``ONCHAIN_COLUMNS``
    macro : ndarray of shape (paths, steps, 3), columns ``MACRO_COLUMNS``
    calendar : DatetimeIndex of length steps (each step's start time)
    path_ids : ndarray of shape (paths,), the global path numbers of the rows
    spec : the scenario (None for a real market); source : where a real market's data came from
    truth : MarketTruth, or None for a real market
    absent : what a real market lacks (``"onchain"``, ``"macro"`` or ``"block.column"``); NaN in the arrays
    """

    source: dict | None = None
    absent: tuple[str, ...] = ()

    def __init__(
        self,
        spec: ScenarioSpec,
        seed: int | np.ndarray,
        path_ids: np.ndarray,
        arrays: GeneratedArrays,
    ):
        self.spec = spec
        self.path_ids = np.asarray(path_ids, dtype=np.int64)
        self.seeds = np.broadcast_to(np.asarray(seed, dtype=np.uint64), self.path_ids.shape).copy()
        # the one seed of every row, or None when rows come from different seeds (a seed sweep)
        self.seed = int(self.seeds[0]) if self.seeds.size and np.all(self.seeds == self.seeds[0]) else None
        self.blocks = arrays.blocks
        full = calendar(spec)
        n_steps = self.blocks.n_steps
        if n_steps > len(full):
            raise ValueError(f"arrays have {n_steps} steps, scenario {spec.name!r} only {len(full)}")
        # a market cut by head() (saved, then loaded) holds the scenario's first n_steps steps
        self.calendar = full[:n_steps]
        self._name, self._assets, self._kinds = spec.name, tuple(spec.asset_names), tuple(spec.asset_kinds)
        self._sizes = spec.asset_sizes  # kept apart from the scenario: a lookahead cut drops it and keeps these
        self._steps_per_day = spec.steps_per_day
        inputs = build_inputs(spec)
        regime_names = tuple(s.name for s in spec.regimes.states) if spec.regimes else ("base",)
        self.truth = MarketTruth(
            regime=arrays.regime,
            regime_names=regime_names,
            drift=arrays.drift,
            vol=arrays.vol,
            jumps=arrays.jumps,
            signal_active=arrays.signal_active,
            signal_names=tuple(s.name for s in spec.signals),
            shock_jump=shock_moves(inputs)[:n_steps],
            shock_vol=inputs.shock_vol[:n_steps],
        )
        self._freeze()

    def _freeze(self, copy: bool = False) -> None:
        """Seal every array: snapshots hand out views, and no strategy may edit the market.

        Arrays the simulator generated are sealed already (in place); others (loaded, cut, unpickled,
        the scenario's shock tables) are copied into sealed memory once (:mod:`prometheus_sim.sealed`).
        """
        self._seal_calendar()
        truth_arrays = {name: getattr(self.truth, name) for name in TRUTH_ARRAYS} if self.truth is not None else {}
        named = {**self.blocks._asdict(), **{f"truth.{k}": v for k, v in truth_arrays.items()}}
        todo = {name: arr for name, arr in named.items() if copy or not is_sealed(arr)}
        if not todo:
            return
        sealed = {**named, **seal_copy(todo)}
        self.blocks = MarketBlocks(*(sealed[name] for name in MarketBlocks._fields))
        if self.truth is not None:
            self.truth = dataclasses.replace(self.truth, **{k: sealed[f"truth.{k}"] for k in TRUTH_ARRAYS})

    def _seal_calendar(self) -> None:
        """The calendar's dates in sealed memory too: snapshots hand out views of it, and a strategy that walked
        ``history.calendar._data._ndarray`` to its owner, set it writeable and moved every date 15 days moved the
        contribution days of every strategy after it in a sweep (review of 2026-12-05)."""
        if not isinstance(self.calendar, pd.DatetimeIndex) or self.calendar.tz is not None:
            return  # the calendars made here are naive dates; another is left as given
        values = np.asarray(self.calendar.values)
        if values.dtype.kind != "M" or is_sealed(values):
            return
        sealed = seal_copy({"calendar": values.view(np.int64)})["calendar"].view(values.dtype)
        # its frequency too: without it calendar.shift(1) raised NullFrequencyError (review of this session's diff)
        self.calendar = pd.DatetimeIndex(sealed, name=self.calendar.name, freq=self.calendar.freq, copy=False)

    def __setstate__(self, state: dict) -> None:
        """Unpickled (a worker process's copy): seal again, since pickling copies the data out."""
        self.__dict__.update(state)
        self._freeze()

    # ------------------------------------------------------------ construction

    @classmethod
    def simulate(
        cls,
        spec: ScenarioSpec,
        seed: int | None = None,
        n_paths: int = 1,
        path_ids: Iterable[int] | None = None,
        progress: Callable[[int], None] | None = None,
        seeds: Iterable[int] | None = None,
    ) -> Market:
        """Generate a market. ``seed`` defaults to the scenario's; ``path_ids`` to ``range(n_paths)``.

        With ``seeds``, row i is path 0 of ``seeds[i]``: one batched market holding one
        realisation per seed (what a sweep over seeds uses).
        """
        if seeds is not None:
            seed_arr = np.asarray([_seed_value(s, "seeds") for s in seeds], dtype=np.uint64)
            if seed_arr.size == 0:
                raise ValueError("seeds must not be empty")
            ids = np.zeros(seed_arr.size, dtype=np.int64) if path_ids is None else _path_ids(path_ids)
            return cls(spec, seed_arr, ids, generate(spec, seed_arr, ids, progress=progress))
        seed = spec.seed if seed is None else _seed_value(seed, "seed")
        if path_ids is None:
            ids = np.arange(_whole_number(n_paths, "n_paths", 1), dtype=np.int64)
        else:
            ids = _path_ids(path_ids)
            if ids.size == 0:
                raise ValueError("path_ids must not be empty")
        return cls(spec, seed, ids, generate(spec, seed, ids, progress=progress))

    @classmethod
    def from_bars(
        cls,
        name: str,
        assets: list[str],
        kinds: list[str],
        calendar: pd.DatetimeIndex,
        blocks: MarketBlocks,
        source: dict,
        absent: tuple[str, ...] = (),
        steps_per_day: int = 1,
        *,
        copy: bool = True,
    ) -> Market:
        """A real market: one path of observed data, no truth.

        ``blocks`` holds every block at full width; what the files lacked is NaN there and listed
        in ``absent`` (see :class:`~prometheus_sim.blocks.MissingDataError`). ``source`` records
        the files, their SHA-256 and the calendar rule (written to the manifest by :meth:`save`).
        The blocks are copied into sealed memory of the market's own (a cut's views would still reach
        the uncut buffer); ``copy=False`` keeps blocks that are already sealed (:meth:`load`'s, each a
        whole buffer of its own).
        """
        if blocks.n_assets != len(assets) or len(kinds) != len(assets):
            raise ValueError(f"{len(assets)} assets, {len(kinds)} kinds, blocks for {blocks.n_assets} assets")
        if len(calendar) != blocks.n_steps:
            raise ValueError(f"calendar has {len(calendar)} steps, blocks {blocks.n_steps}")
        calendar = pd.DatetimeIndex(calendar)
        regular = pd.date_range(calendar[0], periods=len(calendar), freq=pd.Timedelta(days=1) / int(steps_per_day))
        if calendar.tz is not None or not calendar.equals(regular):  # what save keeps, and load rebuilds
            raise ValueError(f"calendar: a market's steps are 1/steps_per_day ({steps_per_day}) of a day apart, with "
                             "no gap and no time zone (a save keeps the first and the step: business days or an "
                             "hourly calendar given at one step a day came back as other dates; review 2026-12-05)")  # fmt: skip
        # every price finite and > 0: a NaN close made NaN equity and NaN metrics, silently (review, session 19)
        for column in ("open", "high", "low", "close"):
            values = np.asarray(getattr(blocks, column))
            bad = ~(np.isfinite(values) & (values > 0))
            if bad.any():
                p, t, a = (int(i[0]) for i in np.nonzero(bad))
                raise ValueError(f"blocks.{column}: {float(values[p, t, a])!r} at path {p}, step {t} ({calendar[t]}), asset "
                                 f"{assets[a]}: every price must be finite and > 0")  # fmt: skip
        # volume finite and > 0 (0 only for the cash stablecoin, which never trades): a fill's impact divides by
        # the bar's volume, and a NaN made NaN equity while a 0 paid the 50 % slippage cap, silently, where `market
        # import` refuses both (review of 2026-12-05, session 24)
        # A market that states no volume (a chain's oracle gives closes only: "volume" in ``absent``) has NaN there,
        # and a simulated venue refuses it (SimAdapter)
        volume = np.asarray(blocks.volume)
        cash = list(kinds).index("stable") if "stable" in kinds else -1
        bad = np.zeros(volume.shape, dtype=bool) if "volume" in absent else ~np.isfinite(volume) | (volume < 0)
        bad |= (volume == 0) & (np.arange(len(assets)) != cash)
        if bad.any():
            p, t, a = (int(i[0]) for i in np.nonzero(bad))
            raise ValueError(f"blocks.volume: {float(volume[p, t, a])!r} at path {p}, step {t} ({calendar[t]}), asset "
                             f"{assets[a]}: every volume must be finite and > 0 (0 only for the cash stablecoin, "
                             f"{assets[cash] if cash >= 0 else 'none here'}): a fill's impact divides by it")  # fmt: skip
        market = cls.__new__(cls)
        market.spec = None
        market.source = dict(source)
        market.absent = tuple(absent)
        market.path_ids = np.arange(blocks.n_paths, dtype=np.int64)
        market.seeds = np.zeros(blocks.n_paths, dtype=np.uint64)
        market.seed = None
        market.calendar = calendar
        market.blocks = blocks
        market.truth = None
        market._name, market._assets, market._kinds = name, tuple(assets), tuple(kinds)
        market._sizes = None  # real data states no size
        market._steps_per_day = int(steps_per_day)
        market._freeze(copy=copy)
        return market

    @property
    def is_real(self) -> bool:
        """Built from real files (no truth, no scenario)."""
        return self.spec is None

    def require_truth(self, what: str) -> MarketTruth:
        """The truth, or a :class:`NoTruthError` saying that ``what`` needs a simulated market."""
        if self.truth is None:
            raise NoTruthError(
                f"{what} needs the simulator's truth, and market {self.name!r} is real data "
                f"({(self.source or {}).get('kind', 'files')}): a real market has none"
            )
        return self.truth

    def head(self, n_steps: int) -> Market:
        """A copy holding only the first ``n_steps`` steps (physically cut: no view can reach past it).

        What the lookahead check re-runs strategies on.
        """
        import copy

        if not 1 <= n_steps <= self.n_steps:
            raise ValueError(f"n_steps must be in [1, {self.n_steps}], got {n_steps}")
        out = copy.copy(self)
        out.blocks = self.blocks.head(n_steps)  # views; _freeze copies them into their own sealed memory
        out.calendar = self.calendar[:n_steps].copy()
        t = self.truth
        if t is None:
            out._freeze(copy=True)
            return out
        out.truth = MarketTruth(
            regime=t.regime[:, :n_steps], regime_names=t.regime_names, drift=t.drift[:, :n_steps],
            vol=t.vol[:, :n_steps], jumps=t.jumps[:, :n_steps],
            signal_active=t.signal_active[:, :n_steps], signal_names=t.signal_names,
            shock_jump=t.shock_jump[:n_steps], shock_vol=t.shock_vol[:n_steps],
        )  # fmt: skip
        out._freeze(copy=True)  # a view of sealed memory would still reach the uncut buffer
        return out

    def observable_head(self, n_steps: int) -> Market:
        """:meth:`head` without what no strategy may read: the truth, the scenario and the seeds.

        What the lookahead check's worker decides on. A cut that kept the truth up to t let a strategy reach
        ``truth.drift[:, t]`` (the hidden conditional drift, a real edge: Sharpe -0.11 against buy-and-hold's
        -0.98 in ``crypto_winter``) through ``gc`` and decide the same on the cut and the full run, so the check
        passed it (review of 2026-12-05); the scenario and the seeds would let it simulate the rest of its own path.
        Without them, a strategy that reads any of these decides differently on the cut, or fails there, and is
        flagged (:mod:`prometheus_sim.lookahead`). The declared
        asset sizes are kept (what orders the featured crypto assets). Rows keep their order; ``source`` says what was
        removed.
        """
        out = self.head(n_steps)  # the declared sizes stay (``_sizes``): without them a cut's book took column order
        out.truth = None
        out.spec = None
        out.seeds = np.zeros_like(out.seeds)
        out.seed = None
        out.path_ids = np.arange(out.path_ids.shape[0], dtype=np.int64)
        out.source = {"kind": "lookahead cut", "removed": ["truth", "scenario", "seeds", "path ids"]}
        return out

    def rows(self, rows: slice | np.ndarray) -> Market:
        """The given paths only (views of this market's arrays, read-only like them)."""
        import copy

        out = copy.copy(self)
        out.blocks = self.blocks.rows(rows)
        out.path_ids = self.path_ids[rows]
        out.seeds = self.seeds[rows]
        t = self.truth
        if t is None:
            return out
        out.truth = MarketTruth(
            regime=t.regime[rows], regime_names=t.regime_names, drift=t.drift[rows], vol=t.vol[rows],
            jumps=t.jumps[rows], signal_active=t.signal_active[rows], signal_names=t.signal_names,
            shock_jump=t.shock_jump, shock_vol=t.shock_vol,
        )  # fmt: skip
        return out

    # ------------------------------------------------------------ shape and access

    open = property(lambda self: self.blocks.open, doc="(paths, steps, assets) first intraday trade of each bar")
    high = property(lambda self: self.blocks.high)
    low = property(lambda self: self.blocks.low)
    close = property(lambda self: self.blocks.close)
    volume = property(lambda self: self.blocks.volume, doc="(paths, steps, assets) units traded in the bar")
    onchain = property(lambda self: self.blocks.onchain, doc="(paths, steps, 4) columns ``ONCHAIN_COLUMNS``")
    macro = property(lambda self: self.blocks.macro, doc="(paths, steps, 3) columns ``MACRO_COLUMNS``")

    @property
    def assets(self) -> list[str]:
        return list(self._assets)

    @property
    def asset_kinds(self) -> list[str]:
        """Each asset's kind (``crypto``, ``stable``, ...), what the portfolio's asset book needs."""
        return list(self._kinds)

    @property
    def asset_sizes(self) -> list[float] | None:
        """Each asset's declared daily dollar volume (the scenario's ``volume.daily_usd``), the size that
        orders the crypto assets the guide's state features (:func:`~prometheus_sim.portfolio.model.crypto_by_size`);
        None for a real market, whose data states no size."""
        return None if self._sizes is None else list(self._sizes)

    @property
    def name(self) -> str:
        """The scenario's name, or the real market's."""
        return self._name

    n_paths = property(lambda self: self.blocks.n_paths)
    n_steps = property(lambda self: self.blocks.n_steps)

    @property
    def steps_per_day(self) -> int:
        return self._steps_per_day

    def _asset_index(self, asset: str | int) -> int:
        if isinstance(asset, bool | np.bool_):  # True was ETH (index 1) without a word
            raise TypeError(f"asset: a name or an index, got {asset!r}")
        if isinstance(asset, (int, np.integer)):
            if not 0 <= asset < len(self.assets):
                raise IndexError(f"asset index {asset} out of range for {len(self.assets)} assets")
            return int(asset)
        if asset not in self.assets:
            raise KeyError(f"unknown asset {asset!r}; known: {self.assets}")
        return self.assets.index(asset)

    def frame(self, path: int = 0, asset: str | int = 0) -> pd.DataFrame:
        """One path and asset as a DataFrame indexed by step start time.

        Columns: ``open, high, low, close, volume`` of the asset, then the market-wide
        ``whale_transactions, active_addresses, exchange_inflow, exchange_outflow,
        inflation_rate, fed_rate, dxy_index`` (those a real market has). ``path`` is a row of this
        market (0-based).
        """
        if isinstance(path, bool | np.bool_) or not isinstance(path, int | np.integer):
            raise TypeError(f"path: a row of this market, an integer, got {path!r} ({type(path).__name__})")
        if not 0 <= path < self.n_paths:
            raise IndexError(f"path {path} out of range for {self.n_paths} paths")
        a = self._asset_index(asset)
        data: dict[str, np.ndarray] = {name: getattr(self.blocks, name)[path, :, a] for name in PER_ASSET_BLOCKS}
        for block, columns in BLOCK_COLUMNS.items():
            for c, name in enumerate(columns):
                if is_absent(block, name, self.absent):
                    continue
                col = getattr(self.blocks, block)[path, :, c]
                data[name] = col.astype(np.int64) if name in COUNT_COLUMNS else col
        frame = pd.DataFrame(data, index=self.calendar.copy())
        frame.index.name = "timestamp"
        return frame

    def named_arrays(self) -> dict[str, np.ndarray]:
        """Every array by name, truth included when there is one (what :meth:`digest` hashes)."""
        if self.truth is None:
            return dict(self.blocks._asdict())
        return {
            **self.blocks._asdict(),
            "truth.regime": self.truth.regime, "truth.drift": self.truth.drift, "truth.vol": self.truth.vol,
            "truth.jumps": self.truth.jumps, "truth.signal_active": self.truth.signal_active,
        }  # fmt: skip

    def array_digests(self) -> dict[str, str]:
        """SHA-256 of each array's bytes (with dtype and shape), for bit-for-bit comparisons."""
        return {name: _array_digest(arr) for name, arr in self.named_arrays().items()}

    def digest(self) -> str:
        """One SHA-256 over every array: equal digests mean identical bytes."""
        h = hashlib.sha256()
        for name, d in sorted(self.array_digests().items()):
            h.update(f"{name}={d};".encode())
        return h.hexdigest()

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.named_arrays().values()))

    # ------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        """Write one Parquet file per block plus ``manifest.json``; :meth:`load` round-trips exactly.

        Each file is written a few whole paths at a time (:mod:`prometheus_sim.parquet_tables`), so a save
        holds little beyond the arrays themselves.
        """
        from prometheus_sim.parquet_tables import GroupIndex, paths_per_group, write_by_paths

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(f".*{PARTIAL}"):  # what a save killed mid-way (SIGKILL: no cleanup ran) left behind
            stale.unlink(missing_ok=True)
        n_p, n_t, n_a = self.close.shape
        calendar = self.calendar.values
        # a market of several seeds (``simulate(seeds=...)``) names its rows by seed and path; one seed, by path
        seeds = None if self.seed is not None else self.seeds
        per_asset = GroupIndex(calendar, self.path_ids, self.assets, min(n_p, paths_per_group(n_t * n_a)), seeds)
        per_path = GroupIndex(calendar, self.path_ids, None, min(n_p, paths_per_group(n_t)), seeds)

        def table(index: GroupIndex, arrays: dict[str, np.ndarray]):
            """(index, columns(p0, p1)): the index columns, then each (P, T) or (P, T, A) array's rows, flat."""
            return index, lambda p0, p1: {
                **index.columns(p0, p1),
                **{k: v[p0:p1].reshape(-1) for k, v in arrays.items()},
            }

        def named(block: np.ndarray, columns: Iterable[str]) -> dict[str, np.ndarray]:
            return {c: block[:, :, k] for k, c in enumerate(columns)}

        tables = {
            "ohlcv": table(per_asset, {c: getattr(self.blocks, c) for c in PER_ASSET_BLOCKS}),
            **{
                block: table(per_path, named(getattr(self.blocks, block), cols))
                for block, cols in BLOCK_COLUMNS.items()
            },
        }
        if self.truth is not None:
            truth = self.truth
            tables["truth_assets"] = table(per_asset, {"drift": truth.drift, "vol": truth.vol, "jumps": truth.jumps})
            tables["truth_paths"] = table(per_path, {"regime": truth.regime,
                                                     **named(truth.signal_active, (f"signal:{g}" for g in truth.signal_names))})  # fmt: skip
        files = {name: f"{name}.parquet" for name in tables}
        partial = {name: out / f".{file}{PARTIAL}" for name, file in files.items()}
        try:
            # the files are independent, and pyarrow encodes and compresses them, and hashlib hashes the arrays
            # for the manifest, without the GIL: a thread a task (1,000 paths of default, 2 cores: 3.0-3.3 -> 1.6 s)
            with ThreadPoolExecutor(max_workers=min(len(tables), os.cpu_count() or 1)) as pool:
                writes = [pool.submit(write_by_paths, partial[name], n_p, index.rows_per_path, columns)
                          for name, (index, columns) in tables.items()]  # fmt: skip
                digests = pool.submit(self.array_digests)
                for done in writes:
                    done.result()
                digests.result()
        except BaseException:
            # every file is replaced or none is: a save that fails leaves the market it was replacing loadable
            for file in partial.values():
                with contextlib.suppress(OSError):
                    file.unlink(missing_ok=True)
            raise
        for name, file in files.items():
            os.replace(partial[name], out / file)
        for stale in TRUTH_FILES:  # a market without truth saved over one with it: no stale truth beside it
            if stale.removesuffix(".parquet") not in files:
                (out / stale).unlink(missing_ok=True)
        manifest = {
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "kind": "real" if self.is_real else "simulated",
            "name": self.name,
            "assets": self.assets,
            "asset_kinds": self.asset_kinds,
            "absent": list(self.absent),
            "path_ids": self.path_ids.tolist(),
            "calendar": {"start": str(self.calendar[0]), "steps": n_t, "steps_per_day": self.steps_per_day},
            "shapes": {k: list(v.shape) for k, v in self.named_arrays().items()},
            "dtypes": {k: str(v.dtype) for k, v in self.named_arrays().items()},
            "array_sha256": digests.result(),
            "files": files,
        }
        if self.is_real:
            manifest["source"] = self.source
        else:
            manifest.update({
                "scenario_name": self.spec.name, "scenario_digest": self.spec.digest(),
                "scenario": self.spec.model_dump(mode="json"), "seed": self.seed, "seeds": [int(x) for x in self.seeds],
            })  # fmt: skip
        manifest["provenance_version"] = PROVENANCE_VERSION
        manifest["provenance_sha256"] = _provenance_digest(manifest)
        written = out / f".{MANIFEST}{PARTIAL}"
        written.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(written, out / MANIFEST)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Market:
        """Read a directory written by :meth:`save`; checks every array against its recorded hash.

        The columns are read a row group at a time and written straight into the memory that is then
        sealed (:mod:`prometheus_sim.parquet_tables`), so loading holds about the arrays themselves.
        """
        import pyarrow as pa

        from prometheus_sim.parquet_tables import read_arrays, read_block
        from prometheus_sim.sealed import Arena

        src = Path(directory)
        manifest = read_manifest(src)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{src}: format_version {manifest.get('format_version')} is not {FORMAT_VERSION}")
        from prometheus_sim.memory import check_memory

        # refused before any memory is taken, as a simulation of that size would be
        check_memory(_check_arrays_manifest(manifest, src / MANIFEST), f"the saved market {src}")
        if manifest.get("kind") == "real" and not isinstance(manifest.get("source"), dict):
            raise ValueError(f"{src / MANIFEST}: kind 'real' needs a 'source' object")
        if manifest.get("kind") != "real" and not isinstance(manifest.get("scenario"), dict):
            raise ValueError(f"{src / MANIFEST}: a simulated market needs a 'scenario' object")
        arena = Arena({k: (tuple(v), np.dtype(manifest["dtypes"][k])) for k, v in manifest["shapes"].items()})

        def file(block: str) -> Path:
            return src / manifest["files"][block]

        def block_into_arena(block: str, name: str, columns: list[str]) -> None:
            target = arena.arrays[name]
            arena.write_rows(name, 0, read_block(file(block), columns, target.shape, target.dtype))

        reads = [(read_arrays, file("ohlcv"), arena, {name: name for name in PER_ASSET_BLOCKS})]
        reads += [(block_into_arena, block, block, list(columns)) for block, columns in BLOCK_COLUMNS.items()]
        spec = None
        if manifest.get("kind") != "real":
            try:
                spec = ScenarioSpec.from_dict(manifest["scenario"], source=str(src / MANIFEST))
            except ScenarioError as exc:  # a market saved by an older version under rules this one refuses
                saved_by = manifest.get("package_version", "an unknown version")
                if saved_by == __version__:
                    raise
                raise ValueError(
                    f"{src}: simulated by prometheus-sim {saved_by}, whose scenario is not valid in "
                    f"{__version__} (simulate it again with this version): {exc}"
                ) from None
            reads += [
                (read_arrays, file("truth_assets"), arena, {k: f"truth.{k}" for k in ("drift", "vol", "jumps")}),
                (read_arrays, file("truth_paths"), arena, {"regime": "truth.regime"}),
                (block_into_arena, "truth_paths", "truth.signal_active", [f"signal:{s.name}" for s in spec.signals]),
            ]  # fmt: skip
        # independent files into separate arrays, decoded by pyarrow and written by pwrite without the GIL
        with ThreadPoolExecutor(max_workers=min(len(reads), os.cpu_count() or 1)) as pool:
            for read, done in [(read, pool.submit(*read)) for read in reads]:
                path = read[1] if isinstance(read[1], Path) else file(read[1])
                try:
                    done.result()
                except pa.ArrowException as exc:  # pyarrow's own errors name no file
                    raise ValueError(f"{path}: cannot be read as this market's data ({exc})") from exc
        arrays = arena.seal()
        blocks = MarketBlocks(**{name: arrays[name] for name in MarketBlocks._fields})
        if spec is None:
            cal = manifest["calendar"]
            step = pd.Timedelta(days=1) / cal["steps_per_day"]
            market = cls.from_bars(
                manifest["name"], manifest["assets"], manifest["asset_kinds"],
                pd.date_range(cal["start"], periods=cal["steps"], freq=step), blocks,
                manifest["source"], tuple(manifest["absent"]), cal["steps_per_day"], copy=False,
            )  # fmt: skip
        else:
            generated = GeneratedArrays(
                blocks=blocks, regime=arrays["truth.regime"], drift=arrays["truth.drift"], vol=arrays["truth.vol"],
                jumps=arrays["truth.jumps"], signal_active=arrays["truth.signal_active"],
            )  # fmt: skip
            seeds = np.asarray([int(x) for x in manifest["seeds"]], dtype=np.uint64)
            market = cls(spec, seeds, np.asarray(manifest["path_ids"], dtype=np.int64), generated)
        cls._check_digests(market, manifest, src)
        return market

    @staticmethod
    def _check_digests(market: Market, manifest: dict, src: Path) -> None:
        """Every array against its recorded hash, and the manifest's own description of the market (scenario,
        seeds, path ids, calendar) against the digests recorded beside it: an edit to either is refused."""
        got = market.array_digests()
        recorded = manifest.get("array_sha256") or {}
        unhashed = sorted(set(got) - set(recorded))
        if unhashed:  # an array without a hash would be taken unchecked
            raise ValueError(f"{src}: {MANIFEST} records no hash for arrays {unhashed} (edited or truncated?)")
        bad = [k for k, v in recorded.items() if got.get(k) != v]
        if bad:
            raise ValueError(f"{src}: arrays {bad} do not match the hashes in {MANIFEST} (file corrupted?)")
        if not market.is_real and market.spec.digest() != manifest.get("scenario_digest"):
            raise ValueError(f"{src}: the scenario in {MANIFEST} does not match its scenario_digest (edited?): the "
                             "arrays were simulated from another scenario")  # fmt: skip
        version = _version(manifest.get("package_version"))
        if version is None:  # '0.3.0-local' read as older than every version, and skipped the check below (review)
            raise ValueError(f"{src}: {MANIFEST}'s package_version {manifest.get('package_version')!r} is not a "
                             "version this package writes (edited?)")  # fmt: skip
        if "provenance_sha256" not in manifest and version >= PROVENANCE_SINCE:
            raise ValueError(f"{src}: {MANIFEST} has no provenance_sha256, which every save since "
                             f"{'.'.join(map(str, PROVENANCE_SINCE))} writes (edited?)")  # fmt: skip
        if "provenance_sha256" in manifest and _provenance_digest(manifest) != manifest["provenance_sha256"]:
            raise ValueError(f"{src}: {MANIFEST}'s seeds, path ids, calendar or assets do not match its "
                             "provenance_sha256 (edited?)")  # fmt: skip


#: On-chain columns that count things: integers in frames.
COUNT_COLUMNS = ("whale_transactions", "active_addresses")
assert set(COUNT_COLUMNS) <= set(ONCHAIN_COLUMNS)


def _whole_number(value: object, name: str, low: int = 0, high: int = 2**63) -> int:
    """An integer in [low, high) as given: 2.5 paths were 3, path id 1.7 was path 1 and True path 1, without a word."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: must be an integer, got {value!r} ({type(value).__name__})")
    if not low <= int(value) < high:
        raise ValueError(f"{name}: must be in [{low}, {high:,}), got {value}")
    return int(value)


def _seed_value(seed: object, name: str) -> int:
    """A seed as given: an integer in [0, 2**64) (1.5 or True used to be taken as 1 without a word)."""
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer):
        raise TypeError(f"{name}: must be an integer, got {seed!r} ({type(seed).__name__})")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"{name}: must be in [0, 2**64), got {seed}")
    return int(seed)


def _path_ids(path_ids: Iterable[int]) -> np.ndarray:
    """Path numbers as the generator takes them: each its own Philox counter's high word, so below 2**32 (the
    message named 2**63, the limit of an int64, for -1, while 2**32 got the generator's own words; review)."""
    return np.asarray([_whole_number(p, "path_ids", 0, 2**32) for p in path_ids], dtype=np.int64)


def read_manifest(directory: str | Path) -> dict:
    """A saved market's ``manifest.json``; a directory without one (or with a broken one) is named."""
    src = Path(directory)
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{src}: no {MANIFEST}; not a saved market") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{src / MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):  # '[]' was an AttributeError traceback through backtest (review)
        raise ValueError(f"{src / MANIFEST}: must be a JSON object, got {type(manifest).__name__}")
    return manifest


_ARRAY_KINDS = "biuf"  # booleans, integers and floats: what a market's arrays are


def _check_arrays_manifest(manifest: dict, where: Path) -> int:
    """The manifest's ``shapes``, ``dtypes`` and ``files`` as :meth:`Market.load` reads them; returns the arrays'
    bytes. A hand-edited or damaged manifest was a KeyError, numpy's "offset must be non-negative", "cannot create
    an OBJECT array from memory buffer" or ENOMEM (review of 2026-12-05); now an error naming the field."""
    for key in ("shapes", "dtypes", "files"):
        if not isinstance(manifest.get(key), dict):
            raise ValueError(f"{where}: field {key!r} is missing or not an object")
    total = 0
    for name, shape in manifest["shapes"].items():
        if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                  for n in shape):  # fmt: skip
            raise ValueError(f"{where}: shapes.{name} must be a list of whole numbers >= 0, got {shape!r}")
        try:
            dtype = np.dtype(manifest["dtypes"][name])
        except KeyError:
            raise ValueError(f"{where}: dtypes.{name} is missing") from None
        except TypeError:
            raise ValueError(f"{where}: dtypes.{name} {manifest['dtypes'][name]!r} is not a dtype") from None
        if dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"{where}: dtypes.{name} {dtype} is not a numeric dtype")
        total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    return total


PROVENANCE_FIELDS = ("kind", "name", "assets", "asset_kinds", "absent", "path_ids", "calendar", "scenario_digest",
                     "seed", "seeds", "source")  # fmt: skip


PARTIAL = ".partial"  # the suffix of a file a save is writing (``.ohlcv.parquet.partial``), renamed when whole
PROVENANCE_SINCE = (0, 2, 0)  # the first version whose saves record provenance_sha256
# 2 (2026-12-05): the digest covers the arrays' hashes and the package version too, so one market's files and hashes
# copied under another's seeds no longer load without a hash recomputed (review); 1 (no provenance_version): saves
# before it, checked over PROVENANCE_FIELDS alone (a version-2 digest checked that way does not match)
PROVENANCE_VERSION = 2
PROVENANCE_FIELDS_V2 = (*PROVENANCE_FIELDS, "array_sha256", "package_version", "provenance_version")


def _version(text: object) -> tuple[int, ...] | None:
    """``"0.2.0"`` as ``(0, 2, 0)``; None for what is not a version (a manifest without one is ``()``: older than
    every version, as the first saves wrote none)."""
    if text is None:
        return ()
    if not re.fullmatch(r"\d+(\.\d+)*", str(text)):
        return None
    return tuple(int(part) for part in str(text).split("."))


def _provenance_digest(manifest: dict) -> str:
    """SHA-256 of what a manifest says the market is, beyond its arrays' own hashes: which seeds and paths, which
    days, which assets (``policy evaluate`` refuses training seeds by them), and from version 2 which arrays.
    Markets saved before 0.2.0 have none."""
    names = PROVENANCE_FIELDS_V2 if manifest.get("provenance_version") == PROVENANCE_VERSION else PROVENANCE_FIELDS
    fields = {k: manifest.get(k) for k in names}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _array_digest(arr: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr))  # the buffer itself: tobytes() made a copy of every array
    return h.hexdigest()


__all__ = ["Market", "MarketTruth", "NoTruthError"]
