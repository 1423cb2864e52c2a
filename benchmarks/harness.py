"""Machinery shared by the benchmark scripts (``bench_simulate.py``, ``bench_backtest.py``).

Each script runs every measurement in a fresh interpreter (the script itself, in a hidden
``--child`` mode) so that one measurement's memory or compiled code never leaks into another's.
This module holds what both need for that:

* child side: the peak-memory probe (reset the RSS high-water mark through
  ``/proc/self/clear_refs``, then read ``ru_maxrss`` / ``VmHWM``), CPU time and the timed-runs
  loop;
* parent side: the child's environment, running a child and reading its JSON result, recording a
  failed measurement as "not measured", and the machine description;
* printing: tables, run rows (wall / CPU time, median, spread), the PASS / MISS summary and the
  JSON file.

The parent imports only the standard library from here: no NumPy, no Numba.
The scripts find this module because it lies next to them (they put their own folder on
``sys.path``), also when they run as ``python benchmarks/bench_x.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "default.yaml"

Json = dict[str, Any]


# =============================================================== child side: memory and time


def _proc_kb(path: str, field: str) -> int:
    """A ``kB`` field of a /proc file; -1 where unavailable."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def proc_status_kb(field: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of /proc/self/status; -1 where unavailable."""
    return _proc_kb("/proc/self/status", field)


def proc_meminfo_kb(field: str) -> int:
    """A ``kB`` field (``MemTotal``, ``MemAvailable``) of /proc/meminfo; -1 where unavailable."""
    return _proc_kb("/proc/meminfo", field)


def reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def maxrss_bytes() -> int:
    """``ru_maxrss`` in bytes (Linux reports kB, macOS bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r) if sys.platform == "darwin" else int(r) * 1024


class PeakProbe:
    """Peak RSS growth across one call: ``ru_maxrss`` after minus RSS just before."""

    def __init__(self) -> None:
        self.reset_ok = reset_peak_rss()
        self.rss_before = proc_status_kb("VmRSS") * 1024
        self.maxrss_before = maxrss_bytes()

    def _hidden(self, maxrss_after: int) -> bool:
        # If the high-water mark could not be reset and an earlier transient (compilation) went
        # higher than this call, the call's own peak is hidden under it: say so, do not guess.
        return maxrss_after <= self.maxrss_before and self.maxrss_before > self.rss_before * 1.02

    def result(self) -> Json:
        maxrss_after = maxrss_bytes()
        return {
            "rss_before_bytes": self.rss_before,
            "maxrss_before_bytes": self.maxrss_before,
            "maxrss_after_bytes": maxrss_after,
            "peak_extra_bytes": maxrss_after - self.rss_before,
            "hwm_reset": self.reset_ok,
            "peak_hidden_by_earlier_transient": self._hidden(maxrss_after),
        }


class HwmPeakProbe(PeakProbe):
    """:class:`PeakProbe` that falls back on ``VmHWM`` where ``ru_maxrss`` is stuck.

    ``ru_maxrss`` also remembers the high-water mark of threads that exited earlier, which the
    reset does not clear; ``VmHWM`` (reset by it) is recorded too and used where ``ru_maxrss``
    is stuck at an earlier, higher transient.
    """

    def result(self) -> Json:
        maxrss_after = maxrss_bytes()
        hwm_after = proc_status_kb("VmHWM") * 1024
        hidden = self._hidden(maxrss_after)
        use_hwm = hidden and self.reset_ok and hwm_after > 0
        peak = hwm_after if use_hwm else maxrss_after
        return {
            "rss_before_bytes": self.rss_before,
            "maxrss_before_bytes": self.maxrss_before,
            "maxrss_after_bytes": maxrss_after,
            "vmhwm_after_bytes": hwm_after,
            "peak_source": "VmHWM" if use_hwm else "ru_maxrss",
            "peak_extra_bytes": max(peak - self.rss_before, 0),  # < 0 only by page-size noise
            "hwm_reset": self.reset_ok,
            "peak_hidden_by_earlier_transient": hidden and not use_hwm,
        }


def cpu_s() -> float:
    """User + system CPU seconds of this process so far, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed_runs(
    fn: Callable[[], Any],
    repeats: int,
    probe: Callable[[], PeakProbe] = PeakProbe,
    keep: Callable[[Any], Any] | None = None,
) -> tuple[list[float], list[float], Json, Any]:
    """Call ``fn`` ``repeats`` times; the first call (only) is wrapped in a :class:`PeakProbe`.

    Returns the wall times, the CPU times (user + sys, all threads), the probe's result and the
    first call's output, or ``keep(output)`` when ``keep`` is given: then the output itself is
    dropped before the next call, so every call meets memory in the same state (a kept 1 GiB output
    made the second call the only one to write into memory this VM had never touched, 2.7-3x
    slower than the others). CPU time next to wall time shows how many cores a run really got.
    """
    times: list[float] = []
    cpu: list[float] = []
    peak = probe()
    c0, t0 = cpu_s(), time.perf_counter()
    first = fn()
    times.append(time.perf_counter() - t0)
    cpu.append(cpu_s() - c0)
    memory = peak.result()
    if keep is not None:
        first = keep(first)
    for _ in range(repeats - 1):
        c0, t0 = cpu_s(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(cpu_s() - c0)
        del out
    return times, cpu, memory, first


# =============================================================== the hidden --child mode


def base_parser(doc: str, paths_help: str, quick_help: str) -> argparse.ArgumentParser:
    """The options both scripts take: size, repeats, --json, --quick and the hidden child mode."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--paths", type=int, default=1000, help=paths_help)
    p.add_argument("--days", type=int, default=3650, help="daily steps (default 3650)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the median is reported")
    p.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    return p


def child_main(args: argparse.Namespace, tasks: dict[str, Callable[[Json], Json]]) -> int:
    """Child mode: run the task given in ``--child`` (JSON) and write its result to ``--child-out``."""
    task = json.loads(args.child)
    result = tasks[task["kind"]](task)
    Path(args.child_out).write_text(json.dumps(result))
    return 0


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(overrides)
    return env


def run_child(
    script: str | Path,
    task: Json,
    *,
    env: dict[str, str] | None = None,
    timeout: float,
    prefix: str,
    cwd: Path | None = None,
) -> Json:
    """Run ``task`` in a fresh interpreter (``script --child``); returns its JSON result.

    Adds ``process_wall_s``, the child's whole life including interpreter start-up.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        out_file = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(script).resolve()), "--child", json.dumps(task), "--child-out", str(out_file)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env or child_env(), capture_output=True, text=True, timeout=timeout, cwd=cwd)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out_file.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            raise RuntimeError(f"child {task['kind']} failed (rc={proc.returncode}):\n  " + "\n  ".join(tail))
        result = json.loads(out_file.read_text())
    result["process_wall_s"] = wall
    return result


def safe(name: str, fn: Callable[[], Json]) -> Json:
    """Run one measurement; a failure is recorded (and printed), never turned into a figure."""
    print(f"  measuring {name} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - report any failure as "not measured"
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(f"  ... {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return result


def machine_info() -> Json:
    """CPUs, memory, Python, platform and the Numba cache directory of this machine."""
    return {
        "cpus": os.cpu_count(), "mem_total_gib": proc_meminfo_kb("MemTotal") / 2**20,
        "python": platform.python_version(), "platform": platform.platform(),
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(numba default)"),
    }  # fmt: skip


def machine_row(cfg: Json) -> tuple[str, str]:
    """The "machine" row of a configuration table, from :func:`machine_info`'s fields."""
    return (
        "machine",
        f"{cfg['cpus']} CPUs, {cfg['mem_total_gib']:.1f} GiB RAM, Python {cfg['python']}, {cfg['platform']}",
    )


def write_json(path: Path | None, res: Json) -> None:
    """Write every figure to ``path`` (when given) and say so."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(f"\nJSON written to {path}")


# =============================================================== printing


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max((len(k) for k, _ in rows), default=0)
    print(f"\n{title}\n{'-' * len(title)}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def err(r: Json) -> str | None:
    return r.get("error")


def run_rows(r: Json, fmt: str = "{:.3f} s") -> list[tuple[str, str]]:
    """Wall and CPU time of each run, the median, and the spread between runs."""
    times, cpu = r["times_s"], r["cpu_s"]
    return [
        ("wall time, each run", ", ".join(fmt.format(t) for t in times)),
        ("CPU time (user+sys), each run", ", ".join(fmt.format(c) for c in cpu)),
        ("cores used (CPU / wall), each run", ", ".join(f"{c / t:.2f}" for c, t in zip(cpu, times, strict=True))),
        ("wall time, median", fmt.format(r["median_s"])),
        ("spread (slowest / fastest run)", f"{max(times) / min(times):.2f}"),
    ]


def verdict(ok: bool | None) -> str:
    return "NOT MEASURED" if ok is None else ("PASS" if ok else "MISS")


class Summary:
    """The summary table: one PASS / MISS / NOT MEASURED row per target, and the verdicts as JSON."""

    def __init__(self) -> None:
        self.verdicts: Json = {}
        self.rows: list[tuple[str, str]] = []

    def add(self, key: str, label: str, ok: bool | None, figure: str, word: str | None = None) -> None:
        """One target; ``word`` replaces the PASS / MISS word (e.g. "INFO")."""
        self.verdicts[key] = {"pass": ok, "figure": figure}
        self.rows.append((label, f"{word or verdict(ok):<12}  {figure}"))

    def print(self, timed: Iterable[Json]) -> Json:
        """Print the table, and a note when the ``timed`` results' runs varied a lot; returns the verdicts."""
        table("Summary", self.rows)
        spreads = [max(r["times_s"]) / min(r["times_s"]) for r in timed if not err(r)]
        if spreads and max(spreads) > 1.3:
            print(
                f"  note: wall times varied by up to {max(spreads):.2f}x between identical runs (see 'cores used'):"
                " the machine's CPU share is noisy, so treat single figures with care"
            )
        return self.verdicts
