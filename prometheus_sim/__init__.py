"""prometheus-sim: simulate crypto and macro markets, backtest and score strategies.

Importing the package stays light (no torch, web3, gymnasium or mlflow): heavy libraries are
imported where they are used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__version__ = "0.1.0"


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
    kernels. Set before Numba is imported, which reads it once. A folder the user sets is taken as it
    is (Numba's own rule then applies: only a change to a function's own file recompiles it).
    """
    global PACKAGE_KERNEL_CACHE
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    checkout = Path(__file__).resolve().parent.parent
    candidates = []
    if (checkout / "pyproject.toml").exists():
        candidates.append(checkout / ".cache" / "numba")
    home = os.environ.get("XDG_CACHE_HOME") or Path(os.path.expanduser("~")) / ".cache"
    candidates.append(Path(home) / "prometheus-sim" / "numba")
    candidates.append(Path(tempfile.gettempdir()) / f"prometheus-sim-{os.getuid() if hasattr(os, 'getuid') else 0}")
    digest = kernel_sources_digest()
    PACKAGE_KERNEL_CACHE = writable_folder([base / digest for base in candidates])
    if PACKAGE_KERNEL_CACHE is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(PACKAGE_KERNEL_CACHE)


def writable_folder(candidates: list[Path]) -> Path | None:
    """The first of ``candidates`` that exists or can be made, and can be written to; None if none can."""
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                return folder
        except OSError:
            continue
    return None


#: The kernel cache folder the package chose (None when the user set ``NUMBA_CACHE_DIR``): the only
#: folder whose siblings ``prometheus-sim warmup`` may prune.
PACKAGE_KERNEL_CACHE: Path | None = None
_default_numba_cache()

__all__ = ["PACKAGE_KERNEL_CACHE", "__version__", "kernel_sources_digest", "writable_folder"]
