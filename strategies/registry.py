"""Strategies by name, for the CLI, sweeps and later issues (``forecast``, ``dqn``).

The built-in table names each strategy's factory by import path, so the registry is complete the
moment it is imported: no ``import strategies`` for its side effects anywhere. :func:`register`
adds more at run time (a user's own strategy).

The leaky canary (:mod:`strategies.canary`) is deliberately *not* registered: it exists only to
prove that the lookahead check works and must never end up in a sweep.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_sim.ports import Strategy

BUILTIN: dict[str, str] = {
    "hold": "strategies.baselines:HoldStrategy",
    "buy_and_hold": "strategies.baselines:BuyAndHold",
    "equal_weight": "strategies.baselines:EqualWeightRebalance",
    "sixty_forty": "strategies.baselines:SixtyForty",
    "auto_rebalance": "strategies.baselines:AutoRebalance",
}
_ADDED: dict[str, Callable[..., Strategy]] = {}


def register(name: str, factory: Callable[..., Strategy]) -> Callable[..., Strategy]:
    """Make ``factory`` available as ``name``; a name already taken is an error."""
    if name in BUILTIN or name in _ADDED:
        raise ValueError(f"strategy {name!r} is already registered")
    _ADDED[name] = factory
    return factory


def unregister(name: str) -> None:
    """Remove a strategy added with :func:`register` (built-ins stay)."""
    if name not in _ADDED:
        raise KeyError(f"strategy {name!r} was not added with register()")
    del _ADDED[name]


@contextmanager
def registered(name: str, factory: Callable[..., Strategy]) -> Iterator[None]:
    """``register`` for the duration of a ``with`` block (tests, notebooks)."""
    register(name, factory)
    try:
        yield
    finally:
        unregister(name)


def names() -> list[str]:
    return sorted({*BUILTIN, *_ADDED})


def factory(name: str) -> Callable[..., Strategy]:
    """The factory registered as ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    if name in _ADDED:
        return _ADDED[name]
    if name not in BUILTIN:
        raise KeyError(f"unknown strategy {name!r}; known: {names()}")
    module, attr = BUILTIN[name].split(":")
    return getattr(importlib.import_module(module), attr)


def create(name: str, **params) -> Strategy:
    """Build a registered strategy."""
    return factory(name)(**params)


def parse_list(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each checked against the registry."""
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise KeyError("no strategy named")
    for item in items:
        if item not in names():
            raise KeyError(f"unknown strategy {item!r}; known: {names()}")
    return items
