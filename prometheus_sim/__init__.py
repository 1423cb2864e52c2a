"""prometheus-sim: simulate crypto and macro markets, backtest and score strategies.

Importing the package stays light (no torch, web3, gymnasium or mlflow): heavy libraries are
imported where they are used.
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"


def _default_numba_cache() -> None:
    """One compiled-kernel cache for every way the package is run, unless the user set ``NUMBA_CACHE_DIR``.

    The project's ``.cache/numba`` when the package runs from a writable checkout (what the Makefile
    uses too), else ``$XDG_CACHE_HOME/prometheus-sim/numba`` (``~/.cache/...``). Set before Numba is
    imported, which reads it once.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").exists() and os.access(checkout, os.W_OK):
        target = checkout / ".cache" / "numba"
    else:
        target = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prometheus-sim" / "numba"
    os.environ["NUMBA_CACHE_DIR"] = str(target)


_default_numba_cache()

__all__ = ["__version__"]
