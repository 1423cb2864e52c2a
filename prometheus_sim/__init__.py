"""prometheus-sim: simulate crypto and macro markets, backtest and score strategies.

Importing the package stays light (no torch, web3, gymnasium or mlflow): heavy libraries are
imported where they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
