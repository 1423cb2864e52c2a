"""Saving and loading a market (``Market.save`` / ``Market.load``): time and peak memory, beside the plain way.

What ``prometheus-sim simulate`` does after the kernel is write the market to Parquet, and what
every later command that takes a saved market does is read it back; at 1,000 paths these took
longer than the simulation itself and held several times the arrays at their peak. Measured here,
each in a fresh interpreter (so one measurement's memory never hides another's):

1. ours: ``Market.save`` (each file written a row group of whole paths at a time, dictionary
   encoding on the repeating columns only) and ``Market.load`` (each column decoded a row group at
   a time straight into sealed memory);
2. the plain way, the one a user writes first with pyarrow (and the one this package used until
   2026-12-04): one ``pa.table`` per file with every column in full, ``pq.write_table`` with zstd,
   then ``pq.read_table``, ``to_numpy`` and reshapes. Same files, same columns, same compression.

Peak memory is the RSS high-water mark during the call above the RSS just before it, against the
bytes of the market's arrays. Time is the median of ``--repeats`` calls. No target is set by an
issue; the figures back the README's claim of what a save and a load cost.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_store.py [--paths 1000] [--days 1095] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness.py lies next to this script
from harness import (  # noqa: E402
    SCENARIO,
    HwmPeakProbe,
    Json,
    base_parser,
    child_main,
    err,
    machine_info,
    machine_row,
    mib,
    safe,
    table,
    write_json,
)
from harness import run_child as _run_child  # noqa: E402

SEED = 1


def _market(task: Json) -> Any:
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import load_scenario

    spec = load_scenario(SCENARIO).with_horizon(task["days"])
    return Market.simulate(spec, seed=SEED, n_paths=task["paths"])


def plain_save(market: Any, out: Path) -> None:
    """Every file as one table built in full, written with ``pq.write_table`` (pyarrow's defaults, zstd)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prometheus_sim.blocks import BLOCK_COLUMNS, PER_ASSET_BLOCKS

    n_p, n_t, n_a = market.close.shape
    ts = market.calendar.values.astype("datetime64[ns]")
    by_path = {"path": np.repeat(market.path_ids, n_t), "timestamp": np.tile(ts, n_p)}
    by_asset = {"path": np.repeat(market.path_ids, n_t * n_a), "timestamp": np.tile(np.repeat(ts, n_a), n_p),
                "asset": pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(n_a, dtype=np.int32), n_p * n_t)),
                                                        pa.array(market.assets))}  # fmt: skip
    truth = market.truth
    files = {
        "ohlcv": {**by_asset, **{c: getattr(market.blocks, c).reshape(-1) for c in PER_ASSET_BLOCKS}},
        **{b: {**by_path, **{c: getattr(market.blocks, b)[:, :, k].reshape(-1) for k, c in enumerate(cols)}}
           for b, cols in BLOCK_COLUMNS.items()},
        "truth_assets": {**by_asset, "drift": truth.drift.reshape(-1), "vol": truth.vol.reshape(-1),
                         "jumps": truth.jumps.reshape(-1)},
        "truth_paths": {**by_path, "regime": truth.regime.reshape(-1),
                        **{f"signal:{g}": truth.signal_active[:, :, k].reshape(-1)
                           for k, g in enumerate(truth.signal_names)}},
    }  # fmt: skip
    for name, columns in files.items():
        table_ = pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()})
        pq.write_table(table_, out / f"{name}.parquet", compression="zstd")


def plain_load(out: Path, market: Any) -> dict:
    """Every file read whole, its columns turned into NumPy arrays and shaped as the market's."""
    import numpy as np
    import pyarrow.parquet as pq

    from prometheus_sim.blocks import BLOCK_COLUMNS, PER_ASSET_BLOCKS

    n_p, n_t, n_a = market.close.shape
    tables = {f.stem: pq.read_table(f) for f in sorted(out.glob("*.parquet"))}
    arrays = {c: tables["ohlcv"].column(c).to_numpy().reshape(n_p, n_t, n_a) for c in PER_ASSET_BLOCKS}
    for block, cols in BLOCK_COLUMNS.items():
        arrays[block] = np.stack([tables[block].column(c).to_numpy() for c in cols], axis=-1).reshape(n_p, n_t, -1)
    for c in ("drift", "vol", "jumps"):
        arrays[f"truth.{c}"] = tables["truth_assets"].column(c).to_numpy().reshape(n_p, n_t, n_a)
    arrays["truth.regime"] = tables["truth_paths"].column("regime").to_numpy().reshape(n_p, n_t)
    names = market.truth.signal_names  # read back as plain_save wrote them (left unread, the load did less than ours)
    if names:
        arrays["truth.signal_active"] = np.stack(
            [tables["truth_paths"].column(f"signal:{g}").to_numpy() for g in names], axis=-1
        ).reshape(n_p, n_t, len(names))
    return arrays


def child_store(task: Json) -> Json:
    """Simulate, then time ``repeats`` saves and loads one way ("ours" or "plain"); the first of each probed."""
    market = _market(task)
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:  # a full run left 600 MiB behind (review)
        return _time_store(market, task, Path(tmp))


def _time_store(market, task: Json, out: Path) -> Json:
    """``child_store``'s timings, with the market saved into and loaded from ``out``."""
    import gc

    from prometheus_sim.market import Market

    nbytes = market.nbytes
    ours = task["way"] == "ours"
    result: Json = {"outputs_bytes": nbytes, "paths": task["paths"], "days": task["days"]}
    for step in ("save", "load"):
        times, memory = [], None
        for k in range(task["repeats"]):
            gc.collect()
            probe = HwmPeakProbe() if k == 0 else None
            t0 = time.perf_counter()
            if step == "save":
                market.save(out) if ours else plain_save(market, out)
            else:
                loaded = Market.load(out) if ours else plain_load(out, market)
            times.append(time.perf_counter() - t0)
            if probe is not None:
                memory = probe.result()
            if step == "load":
                if ours and k == 0:  # what load spends on checking every array against the manifest's SHA-256
                    t0 = time.perf_counter()
                    loaded.array_digests()
                    result["hash_check_s"] = time.perf_counter() - t0
                del loaded
        result[step] = {"times_s": times, "median_s": statistics.median(times), "memory": memory}
    result["file_bytes"] = sum(f.stat().st_size for f in out.glob("*.parquet"))
    return result


CHILD_TASKS = {"store": child_store}


def run_child(task: Json) -> Json:
    return _run_child(__file__, task, timeout=1800.0, prefix="bench_store_child_")


def _row(r: Json, step: str) -> str:
    s = r[step]
    extra = s["memory"]["peak_extra_bytes"]
    return f"{s['median_s']:.2f} s median; peak {mib(extra)} above the RSS before ({extra / r['outputs_bytes']:.2f}x the arrays)"


def _speed_word(ratio: float) -> str:
    """The plain way's time over ours, in words that hold either way ("0.68x faster" was printed for slower)."""
    return f"{ratio:.2f}x faster" if ratio >= 1.0 else f"{1.0 / ratio:.2f}x slower"


def main(argv: list[str] | None = None) -> int:
    p = base_parser(__doc__, paths_help="paths of the saved market (default 1000)", quick_help="50 paths x 365 days")
    p.set_defaults(days=1095)
    args = p.parse_args(argv)
    if args.quick:
        args.paths, args.days = 50, 365
    if args.child is not None:
        return child_main(args, CHILD_TASKS)
    res: Json = {"config": {"paths": args.paths, "days": args.days, "repeats": args.repeats, **machine_info()}}
    task = {"kind": "store", "paths": args.paths, "days": args.days, "repeats": args.repeats}
    for way in ("ours", "plain"):
        res[way] = safe(f"save and load, {way}", lambda way=way: run_child({**task, "way": way}))
    cfg = res["config"]
    table("Configuration", [
        ("market", f"{SCENARIO.name}, {cfg['paths']} paths x {cfg['days']} daily steps (seed {SEED})"),
        ("repeats", f"{cfg['repeats']} (median reported; the first call's peak memory)"), machine_row(cfg),
    ])  # fmt: skip
    for way, title in (("ours", "1. Market.save / Market.load"), ("plain", "2. The plain way (whole tables)")):
        r = res[way]
        if err(r):
            table(title, [("not measured", r["error"])])
            continue
        rows = [("arrays", mib(r["outputs_bytes"])), ("files", mib(r["file_bytes"])),
                ("save", _row(r, "save")), ("load", _row(r, "load"))]  # fmt: skip
        if "hash_check_s" in r:
            rows.append(("of the load", f"{r['hash_check_s']:.2f} s checking every array's SHA-256 against the "
                                        "manifest; the arrays are sealed too (the plain way does neither)"))  # fmt: skip
        table(title, rows)
    if not err(res["ours"]) and not err(res["plain"]):
        o, q = res["ours"], res["plain"]
        table("Ours against the plain way", [
            (step, f"{_speed_word(q[step]['median_s'] / o[step]['median_s'])}; peak growth "
                   f"{o[step]['memory']['peak_extra_bytes'] / q[step]['memory']['peak_extra_bytes']:.2f}x the plain way's")
            for step in ("save", "load")
        ] + [("file size", f"{o['file_bytes'] / q['file_bytes']:.2f}x the plain way's")])  # fmt: skip
    write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
