"""Strategies by name or import path, for the CLI, sweeps and the lookahead check.

The built-in table names each strategy's factory by import path, so the registry is complete the
moment it is imported: no ``import strategies`` for its side effects anywhere. :func:`register`
adds more at run time; a :class:`~prometheus_sim.strategy_spec.StrategySpec` whose name is
``package.module:Class`` needs no registration at all (that is how a user's own strategy runs
from the CLI, in any worker process).

The leaky canary (:mod:`strategies.canary`) is deliberately *not* registered: it exists only to
prove that the lookahead check works and must never end up in a sweep (``strategies.canary:LeakyCanary``
reaches it by import path).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_sim.code_identity import source_digest
from prometheus_sim.ports import Strategy, as_strategy
from prometheus_sim.strategy_spec import StrategySpec

BUILTIN: dict[str, str] = {
    "hold": "strategies.baselines:HoldStrategy",
    "buy_and_hold": "strategies.baselines:BuyAndHold",
    "equal_weight": "strategies.baselines:EqualWeightRebalance",
    "sixty_forty": "strategies.baselines:SixtyForty",
    "auto_rebalance": "strategies.baselines:AutoRebalance",
    "forecast": "strategies.forecast:ForecastStrategy",
    "dqn": "strategies.dqn:DQNStrategy",
}
_ADDED: dict[str, Callable[..., Strategy]] = {}


def register(name: str, factory: Callable[..., Strategy]) -> Callable[..., Strategy]:
    """Make ``factory`` available as ``name``; a name already taken is an error.

    Registered names live in this process only; give workers an import path instead.
    """
    if name in BUILTIN or name in _ADDED:
        raise ValueError(f"strategy {name!r} is already registered")
    if ":" in name:
        raise ValueError(f"strategy {name!r}: registered names cannot contain ':' (that marks an import path)")
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


def _import(path: str, what: str) -> Any:
    module_name, _, attr = path.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path:  # a user's module next to where they run the command, as `python -m` finds it
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KeyError(f"{what} {path!r}: cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:  # the module itself is broken (a SyntaxError, an error at its top level): say where
        if isinstance(exc, SyntaxError):
            problem = f"{type(exc).__name__}: {exc.msg} ({exc.filename}, line {exc.lineno})"
        else:
            problem = f"{type(exc).__name__}: {exc} ({_last_frame(exc)})"
        raise KeyError(f"{what} {path!r}: importing module {module_name!r} failed: {problem}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise KeyError(f"{what} {path!r}: module {module_name!r} has no {attr!r}") from None


def _last_frame(exc: BaseException) -> str:
    """Where an exception was raised: the innermost frame's file and line."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else "no traceback"


def factory(name: str) -> Callable[..., Strategy]:
    """The factory for a registered name or a ``module:Class`` path; unknown names list the known ones."""
    if ":" in name:
        return _import(name, "strategy")
    if name in _ADDED:
        return _ADDED[name]
    if name not in BUILTIN:
        raise KeyError(f"unknown strategy {name!r}; known: {names()}, or give package.module:Class")
    return _import(BUILTIN[name], "built-in strategy")


def build(spec: StrategySpec | str) -> Strategy:
    """A fresh strategy from its spec (parameters passed as keyword arguments); ``decide``-only objects are wrapped."""
    spec = StrategySpec.of(spec)
    make = factory(spec.name)
    _check_number_params(make, spec)
    try:
        obj = make(**spec.kwargs())
    except TypeError as exc:
        raise ValueError(f"strategy {spec}: {exc}") from None
    return as_strategy(obj)


NUMERIC_WORDS = {"int", "float", "bool"}
NONE_WORDS = {"None", "Optional", "NoneType"}
EXPECTED = {"bool": "true or false", "int": "an integer", "float": "a number"}


def _expected_kind(p: inspect.Parameter) -> tuple[str | None, bool]:
    """(``"bool"``, ``"int"``, ``"float"`` or None, whether None is allowed) for a parameter, from its annotation
    when it names only these types (``int``, ``float | None``, ``Optional[int]``), else from a numeric default
    (an int default is taken as any number: ``share: float = 0`` is common). None: not checked here."""
    annotation = p.annotation
    if annotation is not inspect.Parameter.empty:
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
        words = set(re.findall(r"[A-Za-z_]+", text))
        types = words - NONE_WORDS
        if types and words <= NUMERIC_WORDS | NONE_WORDS:
            kind = (
                "bool" if types == {"bool"} else "int" if types == {"int"} else "float" if "bool" not in types else None
            )
            return kind, bool(words & NONE_WORDS) or p.default is None
        return None, True
    if isinstance(p.default, bool):
        return "bool", False
    if isinstance(p.default, (int, float)):
        return "float", False
    return None, True


def _fits(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind == "int" else isinstance(value, (int, float))


def _check_number_params(make: Callable[..., Any], spec: StrategySpec) -> None:
    """Refuse a parameter that takes a number or a flag (by its annotation or default) given something else:
    ``lookback=3O`` (a letter O) reached the strategy as the string ``'3O'`` and failed in every cell with a
    TypeError from inside it, or was cut silently (``horizon=2.5`` to 2)."""
    try:
        parameters = inspect.signature(make).parameters
    except (TypeError, ValueError):  # a builtin or an object without a signature: nothing to compare with
        return
    for key, value in spec.params:
        p = parameters.get(key)
        if p is None:
            continue
        kind, none_ok = _expected_kind(p)
        if kind is None or (value is None and none_ok) or _fits(value, kind):
            continue
        raise ValueError(f"strategy {spec}: parameter {key}={value!r} is not {EXPECTED[kind]}"
                         f"{' (or null)' if none_ok else ''} (--strategy-param reads numbers, true/false and null "
                         "as JSON)")  # fmt: skip


def create(name: str, **params) -> Strategy:
    """Build a strategy by name with parameters."""
    return build(StrategySpec(name, tuple(params.items())))


def describe(spec: StrategySpec | str) -> dict[str, Any]:
    """What identifies a strategy's results: its spec, where its code lives and a SHA-256 of that file and of
    every project module it imports (:func:`~prometheus_sim.code_identity.source_digest`).

    A sweep's resume key includes this, so editing a strategy's source, or a module it reads from, never mixes
    stale cells (the file alone was hashed until 2026-12-05: a helper's edit resumed into old cells).
    """
    spec = StrategySpec.of(spec)
    make = factory(spec.name)
    target = make if inspect.isclass(make) or inspect.isfunction(make) else type(make)
    try:
        source = inspect.getsourcefile(target)
    except TypeError:
        source = None
    digest = None
    if source:
        # the file alone where its module cannot be found by name (``__main__``, a script run as one)
        digest = source_digest([target.__module__]) or hashlib.sha256(Path(source).read_bytes()).hexdigest()
    out = {**spec.to_dict(), "code": f"{target.__module__}:{target.__qualname__}", "code_sha256": digest}
    identity = getattr(target, "identity", None)  # e.g. the model version a registry reference resolves to
    if callable(identity):
        out.update(identity(**dict(spec.params)))
    return out


def pinned(spec: StrategySpec | str) -> StrategySpec:
    """``spec`` with its registry reference (``model``, default ``...@latest`` or an alias) replaced by the version
    it resolves to now (``prometheus-dqn@5``), for a strategy that declares ``identity``; others as they are.

    Why: every cell of a sweep builds its strategy again, in whichever worker runs it, so ``@latest`` was resolved
    once per cell; a version registered while the run went on was loaded by the later cells, under the version the
    run recorded at its start (29 of 150 cells came from another network, review of 2026-12-04).
    """
    spec = StrategySpec.of(spec)
    make = factory(spec.name)
    target = make if inspect.isclass(make) or inspect.isfunction(make) else type(make)
    identity = getattr(target, "identity", None)
    version = identity(**dict(spec.params)).get("model_version") if callable(identity) else None
    if version is None:
        return spec
    name, number = version.rsplit("/", 1)
    return StrategySpec(spec.name, tuple({**dict(spec.params), "model": f"{name}@{number}"}.items()), spec.model_uri)


def parse_list(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each checked (registered, or an importable ``module:Class``)."""
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise KeyError("no strategy named")
    if not all(items):  # "equal_weight," ran as equal_weight, as if nothing had been left out (review, session 25)
        raise KeyError(f"an empty strategy name in {text!r} (a comma too many?)")
    for item in items:
        factory(item)
    if len(set(items)) != len(items):
        raise KeyError(f"a strategy is named twice in {text!r}")
    return items
