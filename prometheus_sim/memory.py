"""Will a simulation's outputs fit in memory? Checked before any work, so a run too large is refused, not killed.

Light on purpose (the standard library, NumPy only when sizes are summed): the CLI's command group
imports :class:`OutputsTooLarge` on every command.
"""

from __future__ import annotations

from pathlib import Path


def outputs_nbytes(shapes: dict[str, tuple[tuple[int, ...], type]]) -> int:
    """Bytes of the arrays a :func:`prometheus_sim.generators.layout` describes."""
    import numpy as np

    return sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize for shape, dtype in shapes.values())


def _meminfo_available(proc: Path) -> int | None:
    """The kernel's estimate of memory available to new allocations (``MemAvailable``), machine-wide."""
    try:
        with open(proc / "meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_int(path: Path) -> int | None:
    """A cgroup file's number; None when absent, unreadable or ``max`` (no limit)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _reclaimable(stat: Path) -> int:
    """Page cache the cgroup can drop before it fails an allocation (``inactive_file`` of its memory.stat)."""
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name in ("inactive_file", "total_inactive_file") and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _cgroup_headroom(proc: Path, sys_cgroup: Path) -> int | None:
    """What this process's memory cgroup still allows (limit - usage + reclaimable cache), at the tightest
    of the group and the groups above it; None where no limit is set or none can be read.

    Both hierarchies: v2 (``0::/path``, ``memory.max`` / ``memory.current``) and v1 (``N:memory:/path``,
    ``memory.limit_in_bytes`` / ``memory.usage_in_bytes``). Inside a container the group's path may not
    exist under the mount (a cgroup namespace shows its own group as the root), so the mount's root
    files are read too. Shared memory, where the outputs live, is charged to the group.
    """
    try:
        entries = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    found: list[int] = []
    for entry in entries:
        _, controllers, group = entry.split(":", 2) if entry.count(":") >= 2 else ("", "", "")
        if controllers == "":  # v2
            base, limit_file, usage_file = sys_cgroup, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):  # v1
            base, limit_file, usage_file = sys_cgroup / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        parts = [p for p in group.strip("/").split("/") if p]
        for depth in range(len(parts), -1, -1):  # the group, then each group above it, then the mount's root
            folder = base.joinpath(*parts[:depth])
            limit, usage = _read_int(folder / limit_file), _read_int(folder / usage_file)
            if limit is not None and usage is not None and limit < 2**60:  # v1 writes "no limit" as ~2**63
                found.append(max(limit - usage + _reclaimable(folder / "memory.stat"), 0))
    return min(found) if found else None


def available_memory_bytes(proc: Path = Path("/proc"), sys_cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Memory available to this process's new allocations: the machine's ``MemAvailable``, or its memory
    cgroup's headroom where that is smaller (a container's limit, which ``MemAvailable`` does not see);
    None where neither can be read. ``proc`` and ``sys_cgroup`` are where /proc and the cgroup mount are."""
    known = [n for n in (_meminfo_available(proc), _cgroup_headroom(proc, sys_cgroup)) if n is not None]
    return min(known) if known else None


class OutputsTooLarge(MemoryError):
    """A simulation refused before any work: its outputs alone exceed the memory available (the message says both)."""


def _size_text(nbytes: float) -> str:
    """Bytes in the largest binary unit that keeps a whole number before the point, two decimals."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024:
            return f"{nbytes:,.2f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:,.2f} TiB"


def check_memory(nbytes: int, what: str, of: str = "its outputs", fewer: str = "paths, seeds or horizon days") -> None:
    """Refuse, before any work, a simulation whose outputs alone exceed the memory available now.

    Why up front: the outputs live in shared memory that is filled chunk by chunk, and a machine that runs
    out of it part-way need not raise an error at all (without swap, Linux's out-of-memory killer may end
    the process), so a user could wait through most of the run for nothing. Only a certain failure is
    refused (outputs > available); a run that fits narrowly is left to try. Available is the machine's
    ``MemAvailable`` or, in a container, its memory cgroup's headroom where smaller.
    """
    available = available_memory_bytes()
    if available is not None and nbytes > available:
        raise OutputsTooLarge(
            f"{what} needs {_size_text(nbytes)} for {of}, {_size_text(nbytes - available)} more than the "
            f"{_size_text(available)} available to this process: ask for fewer {fewer}"
        )


__all__ = ["OutputsTooLarge", "available_memory_bytes", "check_memory", "outputs_nbytes"]
