"""What names a strategy across processes: a picklable spec, rebuilt where it runs.

A sweep worker or a lookahead worker never receives a strategy *object*, only its spec, and builds
a fresh instance there (``strategies.registry.build``). That is what lets a lookahead worker decide
without ever having held data after t, and what keys a sweep's resume.

``name`` is a registered name (``equal_weight``) or an import path ``package.module:Class`` (a
user's own strategy; the module is looked up on ``sys.path``, the current directory first).
``params`` are keyword arguments for the factory, JSON values only (so the spec hashes and prints).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


def parse_value(text: str) -> Any:
    """``30`` -> 30, ``0.5`` -> 0.5, ``true`` -> True, ``[1,2]`` -> [1, 2]; anything else stays a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


#: The baselines results are judged against (acceptance, the report): run with parameters of its own, one is another
#: strategy, and its label says so (``sixty_forty(risky_share=0.0)``): as ``sixty_forty`` an all-cash run was the 60/40
#: a policy was said to beat (review of 2026-12-05, session 24).
BASELINES = ("hold", "buy_and_hold", "equal_weight", "sixty_forty")


@dataclass(frozen=True)
class StrategySpec:
    """A strategy by name or import path, with its parameters."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    model_uri: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"strategy: a name or module:Class is required, got {self.name!r}")
        if self.name.count(":") > 1 or self.name.startswith(":") or self.name.endswith(":"):
            raise ValueError(f"strategy {self.name!r}: an import path is written package.module:Class")
        params = tuple(sorted((str(k), v) for k, v in dict(self.params).items()))
        for key, value in params:
            if not key.isidentifier():
                raise ValueError(f"strategy {self.name!r}: parameter name {key!r} is not a Python identifier")
            try:
                text = json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise ValueError(f"strategy {self.name!r}: parameter {key}={value!r} is not a JSON value") from None
            if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover - json refuses first
                raise ValueError(f"strategy {self.name!r}: parameter {key} is {text}")
        object.__setattr__(self, "params", params)

    @classmethod
    def of(cls, value: StrategySpec | str) -> StrategySpec:
        return value if isinstance(value, StrategySpec) else cls(str(value))

    @property
    def is_import_path(self) -> bool:
        return ":" in self.name

    @property
    def label(self) -> str:
        """What result files call it: the name as given, and a baseline's parameters when it has any (see
        :data:`BASELINES`)."""
        return str(self) if self.name in BASELINES and self.params else self.name

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def with_params(self, **params: Any) -> StrategySpec:
        return StrategySpec(self.name, tuple({**self.kwargs(), **params}.items()), self.model_uri)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.kwargs(), "model_uri": self.model_uri}

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params)
        return f"{self.name}({args})" if args else self.name


def parse_strategy_params(items: tuple[str, ...] | list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """``["lookback=30", "momentum:M.top=2"]`` -> parameters per strategy name.

    ``key=value`` applies to the only strategy given; with several, prefix it with the strategy's
    name and a dot (``equal_weight.period_days=7``). Errors name the item.
    """
    out: dict[str, dict[str, Any]] = {n: {} for n in names}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--strategy-param {item!r}: expected key=value or STRATEGY.key=value")
        key, value = item.split("=", 1)
        target, _, param = key.rpartition(".")
        if not target:
            if len(names) != 1:
                raise ValueError(f"--strategy-param {item!r}: several strategies given; write STRATEGY.{key}={value}")
            target = names[0]
        if target not in out:
            raise ValueError(f"--strategy-param {item!r}: {target!r} is not one of the strategies {names}")
        out[target][param] = parse_value(value)
    return out


__all__ = ["BASELINES", "StrategySpec", "parse_strategy_params", "parse_value"]
