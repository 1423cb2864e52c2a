"""Will a simulation's outputs fit in memory? Checked before any work, so a run too large is refused, not killed.

Light on purpose (the standard library, NumPy only when sizes are summed): the CLI's command group
imports :class:`OutputsTooLarge` on every command.
"""

from __future__ import annotations


def outputs_nbytes(shapes: dict[str, tuple[tuple[int, ...], type]]) -> int:
    """Bytes of the arrays a :func:`prometheus_sim.generators.layout` describes."""
    import numpy as np

    return sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize for shape, dtype in shapes.values())


def available_memory_bytes() -> int | None:
    """The kernel's estimate of memory available to new allocations (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class OutputsTooLarge(MemoryError):
    """A simulation refused before any work: its outputs alone exceed the memory available (the message says both)."""


def _size_text(nbytes: float) -> str:
    """Bytes in the largest binary unit that keeps a whole number before the point, two decimals."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024:
            return f"{nbytes:,.2f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:,.2f} TiB"


def check_memory(nbytes: int, what: str) -> None:
    """Refuse, before any work, a simulation whose outputs alone exceed the memory available now.

    Why up front: the outputs live in shared memory that is filled chunk by chunk, and a machine that runs
    out of it part-way need not raise an error at all (without swap, Linux's out-of-memory killer may end
    the process), so a user could wait through most of the run for nothing. Only a certain failure is
    refused (outputs > available); a run that fits narrowly is left to try. ``MemAvailable`` does not
    know a container's memory limit: under one, a run can still be refused later, or killed.
    """
    available = available_memory_bytes()
    if available is not None and nbytes > available:
        raise OutputsTooLarge(
            f"{what} needs {_size_text(nbytes)} for its outputs, {_size_text(nbytes - available)} more than the "
            f"{_size_text(available)} this machine has available: ask for fewer paths, seeds or horizon days"
        )


__all__ = ["OutputsTooLarge", "available_memory_bytes", "check_memory", "outputs_nbytes"]
