"""Sealed memory: arrays no strategy can make writable again.

``arr.flags.writeable = False`` is a request, not a lock: whoever reaches the array's owner (a
view's ``.base``) can set the flag back to True. The market's arrays therefore live in a Linux
``memfd``: the simulator writes into a shared writable mapping, then :meth:`Arena.seal` closes
that mapping, maps the same pages private and read-only, and adds the file seals ``F_SEAL_WRITE``,
``F_SEAL_GROW`` and ``F_SEAL_SHRINK``. NumPy arrays over a read-only mapping refuse
``writeable = True``, and the kernel refuses any new writable mapping of the file. Sealing is in
place: the pages are not copied, so a simulation's peak memory stays at its outputs.

Where ``memfd_create`` is missing (not Linux), arrays are copied into immutable ``bytes``
instead: equally unwritable, at the cost of one copy.

Out of scope: code that writes raw memory through ``ctypes``.
"""

from __future__ import annotations

import fcntl
import mmap
import os
from collections.abc import Mapping

import numpy as np

ALIGN = 64
COPY_PIECE_BYTES = 16 << 20  # seal_copy writes about this much at a time
HAVE_MEMFD = hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")


class Arena:
    """Named arrays carved from one shared, sealable buffer.

    Parameters
    ----------
    layout : mapping of name -> (shape, dtype), the arrays to allocate
    """

    def __init__(self, layout: Mapping[str, tuple[tuple[int, ...], np.dtype | type]]):
        self._layout: dict[str, tuple[tuple[int, ...], np.dtype, int]] = {}
        offset = 0
        for name, (shape, dtype) in layout.items():
            dt = np.dtype(dtype)
            self._layout[name] = (tuple(int(n) for n in shape), dt, offset)
            size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
            offset += -(-size // ALIGN) * ALIGN
        self.nbytes = max(offset, ALIGN)
        self._fd = -1
        if HAVE_MEMFD:
            self._fd = os.memfd_create("prometheus-market", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            os.ftruncate(self._fd, self.nbytes)
            self._buffer: mmap.mmap | bytearray = mmap.mmap(self._fd, self.nbytes)
        else:
            self._buffer = bytearray(self.nbytes)
        self.arrays: dict[str, np.ndarray] = {name: self._view(self._buffer, name) for name in self._layout}

    def _view(self, buffer, name: str) -> np.ndarray:
        shape, dtype, offset = self._layout[name]
        count = int(np.prod(shape, dtype=np.int64))
        return np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(shape)

    def write_rows(self, name: str, first_row: int, rows: np.ndarray) -> None:
        """Copy ``rows`` into array ``name`` from row ``first_row`` on, with a write to the file.

        Why not through the writable mapping: every first write to a page of a shared mapping is a
        page fault into shared memory, several microseconds a page on the virtual machines this runs
        on, while ``pwrite`` fills the same pages inside the kernel with none. A generator that fills
        a small reused buffer and hands it over here spends about 40 % less system time than one that
        writes into the mapping (``benchmarks/bench_simulate.py``, section 1b), at one memcpy's cost.
        """
        shape, dtype, _ = self._layout[name]
        if rows.dtype != dtype or rows.shape[1:] != shape[1:] or not 0 <= first_row <= shape[0] - rows.shape[0]:
            raise ValueError(
                f"rows of {name!r} must be {dtype} shaped (k, {', '.join(map(str, shape[1:]))}) within its "
                f"{shape[0]} rows; got {rows.dtype} {rows.shape} at row {first_row}"
            )
        self._write(name, first_row * int(np.prod(shape[1:], dtype=np.int64)), rows)

    def write_elements(self, name: str, start: int, values: np.ndarray) -> None:
        """Copy ``values`` (any shape, C order) into array ``name``'s elements ``start, start + 1, ...`` (as
        :meth:`write_rows` does, with a write to the file): for data that comes in runs not cut at rows."""
        shape, dtype, _ = self._layout[name]
        size = int(np.prod(shape, dtype=np.int64))
        if values.dtype != dtype or not 0 <= start <= size - values.size:
            raise ValueError(f"elements of {name!r} must be {dtype} within its {size}; "
                             f"got {values.dtype} x {values.size} at {start}")  # fmt: skip
        self._write(name, start, values)

    def _write(self, name: str, start: int, values: np.ndarray) -> None:
        """``values`` at element ``start`` of array ``name`` (checked by the caller)."""
        shape, dtype, offset = self._layout[name]
        if values.size == 0:
            return
        if not HAVE_MEMFD:
            self.arrays[name].reshape(-1)[start : start + values.size] = values.reshape(-1)
            return
        data = memoryview(np.ascontiguousarray(values)).cast("B")
        position = offset + start * dtype.itemsize
        while data.nbytes:
            written = os.pwrite(self._fd, data, position)
            if written <= 0:
                raise OSError(f"writing {name!r} into the market's memory wrote nothing")
            data, position = data[written:], position + written

    def seal(self) -> dict[str, np.ndarray]:
        """The arrays, read-only for good. Every writable array handed out before must be dropped first."""
        self.arrays = {}
        if not HAVE_MEMFD:
            frozen = bytes(self._buffer)
            self._buffer = bytearray()
            return {name: self._view(frozen, name) for name in self._layout}
        try:
            self._buffer.close()  # BufferError while a writable view is still alive
        except BufferError:
            raise RuntimeError("cannot seal: a writable view of the arena is still referenced") from None
        # a private, read-only mapping of the same pages (no copy: nothing ever writes to them) ...
        # (populated: the pages, already written, are mapped now rather than faulted in by the first reader)
        flags = mmap.MAP_PRIVATE | getattr(mmap, "MAP_POPULATE", 0)
        readonly = SealedMapping(self._fd, self.nbytes, flags=flags, prot=mmap.PROT_READ)
        # ... and no one may write the file again, through any mapping or descriptor
        fcntl.fcntl(self._fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK)
        os.close(self._fd)
        self._fd = -1
        return {name: self._view(readonly, name) for name in self._layout}

    def __del__(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)


def seal_copy(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Copies of ``arrays`` in sealed memory (for data that was not generated in place: loads, cuts)."""
    arena = Arena({name: (arr.shape, arr.dtype) for name, arr in arrays.items()})
    for name, arr in arrays.items():
        if arr.ndim == 0:
            arena.write_elements(name, 0, arr)
            continue
        # a few MiB of rows at a time: a strided source (a cut market's view) is made contiguous a piece
        # at a time, not in full beside its copy
        step = max(1, COPY_PIECE_BYTES // max(arr[:1].nbytes, 1))
        for first in range(0, arr.shape[0], step):
            arena.write_rows(name, first, arr[first : first + step])
    return arena.seal()


def is_sealed(arr: np.ndarray) -> bool:
    """True when no one can change ``arr``'s data: it lies in memory an :class:`Arena` sealed (or, without memfd, in
    immutable ``bytes``). A read-only buffer is not enough: a read-only mapping of a file changes when the file is
    rewritten, and a read-only view of a ``bytearray`` when the bytearray is written (both were taken as sealed
    until a review of 2026-12-05, so ``from_bars(copy=False)`` kept them uncopied)."""
    if arr.flags.writeable:
        return False
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    while isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, SealedMapping | bytes)


class SealedMapping(mmap.mmap):
    """The read-only private mapping :meth:`Arena.seal` makes of a sealed memfd: the one buffer :func:`is_sealed`
    trusts, as nothing can write its pages again."""


__all__ = ["Arena", "HAVE_MEMFD", "SealedMapping", "is_sealed", "seal_copy"]
