"""prometheus-sim: simulate crypto and macro markets, backtest and score strategies.

Importing the package stays light (no torch, web3, gymnasium or mlflow): heavy libraries are
imported where they are used.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path

# 0.2.0 (2026-12-04): signals observe once a day and GARCH updates once a day, so a scenario with steps_per_day
# above 1 simulates other bytes than under 0.1.0 (daily scenarios are unchanged); sweeps resume under the version
# 0.3.0 (2026-12-05): jumps and dated shocks feed GARCH divided only by a vol multiplier above one (they were divided
# by any multiplier, so a calming one amplified them): every scenario with GARCH, jumps and regimes simulates other
# bytes (default's vols were recalibrated to keep its figures); a sweep begun under 0.2.0 is not resumed
__version__ = "0.3.0"


def kernel_sources_digest(package: Path | None = None) -> str:
    """12 hex digits of SHA-256 over every module of the package (path and bytes).

    Numba's on-disk cache only notices a change to the file that defines a function, not to the
    files it calls into or takes constants from (an edit to ``fastexp.py``, ``rng.py`` or a bound
    in ``rl/env.py`` would leave another module's compiled kernel stale, and it would give the old
    bytes without a word). A cache folder per digest of the whole package makes any such change
    start a fresh, correct cache. Every module counts, not only those that import Numba: a kernel
    freezes plain constants from modules that never mention it. The price is a recompile after
    any edit in a checkout; an installed package never changes.
    """
    package = package or Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _default_numba_cache() -> None:
    """One compiled-kernel cache for every way the package is run, unless the user set ``NUMBA_CACHE_DIR``.

    ``.cache/numba/<kernel_sources_digest()>`` in the project when the package runs from a writable
    checkout (``make`` and a plain ``prometheus-sim`` call alike), else
    ``$XDG_CACHE_HOME/prometheus-sim/numba/<digest>`` (``~/.cache/...``), else, when neither can be
    written (no home, a read-only one), a folder of this user's under the system's temporary
    directory: the first of them that can be created and written. Numba itself would otherwise fall
    back to ``__pycache__`` next to the package, where the digest no longer guards against stale
    kernels. Numba reads the variable when imported; when it was imported first, its configuration is
    reloaded here. Only a folder no one else may write is taken (see :func:`writable_folder`). A
    folder the user sets is taken as it is (Numba's own rule then applies: only a change to a
    function's own file recompiles it).
    """
    global PACKAGE_KERNEL_CACHE
    user_set = os.environ.get("NUMBA_CACHE_DIR")
    if user_set:
        absolute = os.path.abspath(user_set)  # relative, it was one cache per working directory
        if absolute != user_set:
            os.environ["NUMBA_CACHE_DIR"] = absolute
            _reload_numba_config()
        return
    checkout = Path(__file__).resolve().parent.parent
    candidates = []
    if (checkout / "pyproject.toml").exists():
        candidates.append(checkout / ".cache" / "numba")
    home = os.environ.get("XDG_CACHE_HOME") or Path(os.path.expanduser("~")) / ".cache"
    candidates.append(Path(home) / "prometheus-sim" / "numba")
    try:  # no usable temporary directory (a read-only container) made `import prometheus_sim` itself fail
        candidates.append(Path(tempfile.gettempdir()) / f"prometheus-sim-{os.getuid() if hasattr(os, 'getuid') else 0}")
    except OSError:
        pass
    digest = kernel_sources_digest()
    PACKAGE_KERNEL_CACHE = writable_folder([base / digest for base in candidates])
    if PACKAGE_KERNEL_CACHE is None:  # e.g. /tmp/prometheus-sim-<uid> taken by another user, home read-only
        try:  # a private folder of a name no one can take first; the next run compiles again
            PACKAGE_KERNEL_CACHE = Path(tempfile.mkdtemp(prefix="prometheus-sim-")) / digest
            PACKAGE_KERNEL_CACHE.mkdir(mode=0o700)
        except OSError:
            PACKAGE_KERNEL_CACHE = None  # Numba's own choice then; a kernel it cannot cache says so when compiled
    if PACKAGE_KERNEL_CACHE is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(PACKAGE_KERNEL_CACHE)
        _reload_numba_config()


def _reload_numba_config() -> None:
    numba = sys.modules.get("numba")
    if numba is not None:  # imported first (a notebook, vectorbt): it read the variable already
        numba.core.config.reload_config()


def writable_folder(candidates: list[Path]) -> Path | None:
    """The first of ``candidates`` that exists or can be made, is this user's own, and can be written to.

    Numba unpickles the index files it finds in its cache folder, so a folder someone else could
    write to would let them run code as this user: the fallback under the shared temporary
    directory (``/tmp/prometheus-sim-<uid>``, whose name anyone can take first) especially. A
    candidate is skipped when it, or the folder it was made under, is a symbolic link, belongs to
    another user, or can be written by others (or by a group not the user's own). Folders made here
    are private (mode 0700).
    None if no candidate qualifies.
    """
    for folder in candidates:
        try:
            for f in reversed([folder, *folder.parents]):  # missing ones made private, top down
                if not os.path.lexists(f):
                    try:
                        os.mkdir(f, 0o700)
                    except FileExistsError:  # another process made it just now (two first runs at once): fine,
                        pass  # it is checked below like any other (it was skipped, and the cache split in two)
            if not (_owned_and_private(folder.parent) and _owned_and_private(folder)):
                continue
            with tempfile.TemporaryFile(dir=folder):
                return folder
        except OSError:
            continue
    return None


def _owned_and_private(folder: Path) -> bool:
    """A real folder (not a link) of this user's that no one else may write: not others, and not its
    group unless that is the user's own primary group (a umask of 002 with a group per user)."""
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return False
    if not hasattr(os, "getuid"):  # no owners to compare (Windows): the folder's own access rules apply
        return True
    group_may_write = info.st_mode & stat.S_IWGRP and info.st_gid != os.getgid()
    return info.st_uid == os.getuid() and not info.st_mode & stat.S_IWOTH and not group_may_write


#: The kernel cache folder the package chose (None when the user set ``NUMBA_CACHE_DIR``): the only
#: folder whose siblings ``prometheus-sim warmup`` may prune.
PACKAGE_KERNEL_CACHE: Path | None = None
_default_numba_cache()

__all__ = ["PACKAGE_KERNEL_CACHE", "__version__", "kernel_sources_digest", "writable_folder"]
