"""Strategies by name, for the CLI, sweeps and later issues (``forecast``, ``dqn``).

The leaky canary (:mod:`strategies.canary`) is deliberately *not* registered: it exists only to
prove that the lookahead check works and must never end up in a sweep.
"""

from __future__ import annotations

from collections.abc import Callable

from strategies.base import Strategy

_FACTORIES: dict[str, Callable[..., Strategy]] = {}


def register(name: str) -> Callable[[Callable[..., Strategy]], Callable[..., Strategy]]:
    """Decorator: make a strategy factory available as ``name``."""

    def wrap(factory: Callable[..., Strategy]) -> Callable[..., Strategy]:
        if name in _FACTORIES:
            raise ValueError(f"strategy {name!r} is already registered")
        _FACTORIES[name] = factory
        return factory

    return wrap


def names() -> list[str]:
    return sorted(_FACTORIES)


def create(name: str, **params) -> Strategy:
    """Build a registered strategy; an unknown name raises ``KeyError`` listing the known ones."""
    if name not in _FACTORIES:
        raise KeyError(f"unknown strategy {name!r}; known: {names()}")
    return _FACTORIES[name](**params)


def parse_list(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each checked against the registry."""
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise KeyError("no strategy named")
    for item in items:
        if item not in _FACTORIES:
            raise KeyError(f"unknown strategy {item!r}; known: {names()}")
    return items
