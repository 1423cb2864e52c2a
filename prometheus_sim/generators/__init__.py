"""Numba kernels that generate a market: pure functions of (spec, seed, path ids) -> arrays.

:func:`generate` is the NumPy-facing entry point; :mod:`engine` holds the kernel and
:mod:`price`, :mod:`onchain`, :mod:`macro` and :mod:`signals` its per-step pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from prometheus_sim.blocks import MarketBlocks
from prometheus_sim.generators.params import KernelInputs, build_inputs, calendar
from prometheus_sim.memory import check_memory, outputs_nbytes
from prometheus_sim.rng import seed_key
from prometheus_sim.scenario import ScenarioSpec
from prometheus_sim.sealed import Arena

__all__ = ["GeneratedArrays", "generate", "build_inputs", "calendar", "check_outputs_fit", "KernelInputs"]

# Paths per kernel call: large enough to keep both cores busy, small enough for a live progress bar.
CHUNK_PATHS = 64


class TruthArrays(NamedTuple):
    """The kernel's truth outputs (what :class:`~prometheus_sim.market.MarketTruth` holds), taken whole by the kernel."""

    regime: np.ndarray
    drift: np.ndarray
    vol: np.ndarray
    jumps: np.ndarray
    signal_active: np.ndarray


@dataclass
class GeneratedArrays:
    """Raw kernel output, all shaped ``(paths, steps, ...)``: the observable blocks and the truth."""

    blocks: MarketBlocks
    regime: np.ndarray  # (P, T) int8
    drift: np.ndarray  # (P, T, A) expected log return of the step
    vol: np.ndarray  # (P, T, A) diffusive std of the step's log return
    jumps: np.ndarray  # (P, T, A) int16 jump counts
    signal_active: np.ndarray  # (P, T, G) int8


TRUTH_FIELDS = ("regime", "drift", "vol", "jumps", "signal_active")


def layout(n_paths: int, n_steps: int, n_assets: int, n_signals: int) -> dict[str, tuple[tuple[int, ...], type]]:
    """Name -> (shape, dtype) of every generated array: the blocks, then the truth."""
    shape = (n_paths, n_steps, n_assets)
    blocks = MarketBlocks.empty(0, 0, n_assets)  # only for each block's width
    return {
        **{name: ((n_paths, n_steps, arr.shape[2]), np.float64) for name, arr in blocks._asdict().items()},
        "regime": ((n_paths, n_steps), np.int8), "drift": (shape, np.float64), "vol": (shape, np.float64),
        "jumps": (shape, np.int16), "signal_active": ((n_paths, n_steps, n_signals), np.int8),
    }  # fmt: skip


def check_outputs_fit(spec: ScenarioSpec, n_rows: int, counted: str = "paths") -> None:
    """Refuse (:class:`~prometheus_sim.memory.OutputsTooLarge`) ``n_rows`` rows of ``spec`` whose outputs alone exceed
    the memory available: :func:`generate` asks first, and the CLI before its kernels load."""
    shapes = layout(n_rows, spec.n_steps, len(spec.assets), len(spec.signals))
    check_memory(outputs_nbytes(shapes), f"{n_rows:,} {counted} x {spec.n_steps:,} steps of {spec.name!r}")


def from_named(arrays: dict[str, np.ndarray]) -> GeneratedArrays:
    """Named arrays (see :func:`layout`) as :class:`GeneratedArrays`."""
    return GeneratedArrays(
        blocks=MarketBlocks(*(arrays[name] for name in MarketBlocks._fields)),
        **{name: arrays[name] for name in TRUTH_FIELDS},
    )


def generate(
    spec: ScenarioSpec,
    seed: int | np.ndarray,
    path_ids: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> GeneratedArrays:
    """Simulate rows ``(seed[i], path_ids[i])`` of ``spec``.

    Parameters
    ----------
    seed : int or ndarray of shape (n_paths,)
        One seed for every row, or one per row (a sweep over seeds is then one batched call).
    path_ids : ndarray of shape (n_paths,)
        Global path numbers. Row ``(s, k)`` is the same wherever it appears, so callers can split
        work freely (``generate(..., [k])`` equals row ``k`` of ``generate(..., range(1000))``).
    progress : callable, optional
        Called with the number of paths finished after each chunk.

    The arrays come back sealed: read-only for good (:mod:`prometheus_sim.sealed`).
    """
    import numba

    from prometheus_sim.generators.engine import path_work, simulate_rows_nb

    inp = build_inputs(spec)
    path_ids = np.ascontiguousarray(path_ids, dtype=np.int64)
    if path_ids.ndim != 1 or (path_ids.size and (path_ids.min() < 0 or path_ids.max() >= 2**32)):
        raise ValueError("path_ids must be a 1-D array of integers in [0, 2**32)")
    check_outputs_fit(spec, len(path_ids), "seeds" if np.ndim(seed) > 0 else "paths")  # a seed batch: a path each
    shapes = layout(len(path_ids), inp.n_steps, len(spec.assets), len(spec.signals))
    seeds = np.broadcast_to(np.asarray(seed, dtype=object), path_ids.shape)
    keys = np.array([seed_key(int(s)) for s in seeds], dtype=np.uint64).reshape(len(path_ids), 2)
    # the kernel fills a reused buffer of CHUNK_PATHS rows, which is written into sealable shared
    # memory by the file (Arena.write_rows: no page fault per page); sealing then copies nothing
    arena = Arena(shapes)
    rows = min(CHUNK_PATHS, len(path_ids))
    buffer = {name: np.empty((rows, *shape[1:]), dtype) for name, (shape, dtype) in shapes.items()}
    # Numba's thread count as the calling thread sees it (NUMBA_NUM_THREADS, or numba.set_num_threads in
    # this thread: the CLI's --threads, one in sweep workers); each thread steps a contiguous share of a
    # chunk's rows (the kernel releases the GIL)
    threads = max(1, min(numba.get_num_threads(), rows))
    works = [path_work(inp) for _ in range(threads)]  # each thread's working memory, reused row after row
    with ThreadPoolExecutor(threads) if threads > 1 else nullcontext() as pool:
        for start in range(0, len(path_ids), CHUNK_PATHS):
            n = min(CHUNK_PATHS, len(path_ids) - start)
            part = from_named({name: arr[:n] for name, arr in buffer.items()})
            truth = TruthArrays(*(getattr(part, name) for name in TRUTH_FIELDS))
            args = (keys[start : start + n], path_ids[start : start + n], inp, part.blocks, truth)
            if pool is None:
                simulate_rows_nb(0, n, *args, works[0])
            else:
                runs = [pool.submit(simulate_rows_nb, n * w // threads, n * (w + 1) // threads, *args, works[w])
                        for w in range(threads)]  # fmt: skip
                for done in runs:
                    done.result()  # waits, and re-raises a thread's error here
            for name, arr in buffer.items():
                arena.write_rows(name, start, arr[:n])
            if progress is not None:
                progress(n)
    return from_named(arena.seal())
