"""Compile every Numba kernel into the on-disk cache ahead of use (``prometheus-sim warmup``, run by ``make setup``).

Compiling is the slow part of a fresh install (about a minute here), and single-threaded per
process, so the kernels are compiled in two groups side by side:

- the simulator (``Market.simulate``, the largest kernel), then on its market the venue: the step
  kernel with its planner, state and observation (``SimAdapter``) and the order sizing. That group
  lives with the CLI (``prometheus_sim.cli.compile_simulator_and_venue``): the core does not import
  ``adapters``;
- the feature kernels and the batched RL env, whose observation reads them, on the shipped real
  series (``data/crypto_daily``), which needs no simulator, so this group does not wait for the
  first. Its market blocks have the same Numba types as a simulated market's (read-only
  C-contiguous float64 arrays), so the cached code serves both, except the env's step kernel, which
  is compiled per market layout (asset kinds, cash asset, steps a day, period): ``default``'s is
  compiled last (checked: after a warm-up, ``default``'s features and RL env compile nothing).

Measured here: one process 88 s of compiling, two processes about 50 s of wall time. Then, in the
calling process, the batched RL env's step on ``default``'s layout
(``prometheus_sim.cli.compile_rl_default_layout``).

Each group also runs in the calling process when ``jobs`` is 1. Numba writes each cache entry
atomically, so two processes compiling a shared helper at once both leave a valid entry.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path


def _real_market():
    from prometheus_sim.real import SHIPPED_DATA
    from prometheus_sim.real_market import import_market

    return import_market(sorted(SHIPPED_DATA.glob("*.csv")))


def compile_features_and_rl() -> float:
    """Compute features and step the batched RL env (whose observation reads them) on the real series."""
    import numpy as np

    from prometheus_sim.features import compute_features

    started = time.perf_counter()
    market = _real_market()
    compute_features(market)  # the feature kernels (forecaster, forecast strategy, RL observation tail)
    from prometheus_sim.rl.vector import PortfolioVectorEnv

    env = PortfolioVectorEnv(8, market=market)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.arange(8) % 7)
    return time.perf_counter() - started


def warm(groups: Sequence[Callable[[], float]], jobs: int = 2) -> dict[str, float]:
    """Run the compile ``groups`` (``jobs`` processes side by side; 1: here, one after the other); seconds
    per group. A group is a module-level function (a spawned process imports it by name) returning seconds."""
    if jobs < 1:
        raise ValueError(f"jobs: must be >= 1, got {jobs}")
    if jobs == 1:
        return {group.__name__: group() for group in groups}
    with ProcessPoolExecutor(max_workers=min(jobs, len(groups)), mp_context=get_context("spawn")) as pool:
        futures = {group.__name__: pool.submit(group) for group in groups}
        return {name: future.result() for name, future in futures.items()}


NUMBA_CACHE_SUFFIXES = (".nbi", ".nbc")


def _is_digest_folder(path: Path, like: Path) -> bool:
    """Named like ``like``'s :func:`~prometheus_sim.kernel_sources_digest` (as many hex digits)."""
    name = path.name
    return path.is_dir() and len(name) == len(like.name) and all(c in "0123456789abcdef" for c in name)


def _holds_only_numba_cache(folder: Path) -> bool:
    try:
        return all(f.suffix in NUMBA_CACHE_SUFFIXES for f in folder.rglob("*") if not f.is_dir())
    except OSError:  # changing under our feet (another process pruning): leave it
        return False


def stale_kernel_caches(current: Path) -> list[Path]:
    """Sibling cache folders of ``current`` named by another kernel-sources digest: compiled code no source
    in this package can use any more (each edit of a kernel module, or another version, leaves one).

    Only when ``current`` is the folder the package chose itself (``PACKAGE_KERNEL_CACHE``: never a
    folder the user set through ``NUMBA_CACHE_DIR``), and only siblings named like a digest (as many
    hex digits as ``current``'s name) that hold nothing but Numba's cache files (``.nbi``, ``.nbc``):
    anything else is not ours.
    """
    import prometheus_sim

    chosen = prometheus_sim.PACKAGE_KERNEL_CACHE
    if chosen is None or Path(current) != chosen or not current.parent.is_dir():
        return []
    return sorted(
        p
        for p in current.parent.iterdir()
        if p.name != current.name and _is_digest_folder(p, current) and _holds_only_numba_cache(p)
    )


def prune_kernel_caches(current: Path) -> tuple[list[Path], int]:
    """Remove :func:`stale_kernel_caches` of ``current``; returns what was removed and the bytes freed.

    Why at warm-up: it is the install's step that fills the current folder, so the old ones are
    replaced at the moment they become useless. Another checkout of another version sharing the
    user-wide cache recompiles its kernels once (its warm-up); nothing else is lost.
    """
    removed, freed = [], 0
    for folder in stale_kernel_caches(current):
        size = 0
        for f in folder.rglob("*"):
            try:
                size += f.stat().st_size if f.is_file() else 0
            except OSError:  # removed meanwhile by another process
                continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
            freed += size
    return removed, freed


def kernels_cached(cache: Path) -> bool:
    """Whether ``cache`` already holds the simulator's compiled kernel (so the next simulate only loads it)."""
    from prometheus_sim.generators.engine import simulate_rows_nb

    return cache.is_dir() and any(cache.rglob(f"engine.{simulate_rows_nb.__name__}-*.nbi"))


__all__ = [
    "NUMBA_CACHE_SUFFIXES",
    "compile_features_and_rl",
    "kernels_cached",
    "prune_kernel_caches",
    "stale_kernel_caches",
    "warm",
]
