"""Scenario files: YAML -> validated, frozen :class:`ScenarioSpec`.

Validation happens once, here, at the edge. Every problem is reported with the
path of the field it concerns (``assets[1].vol: must be >= 1e-06, got -0.2``) and
all problems are reported at once, so a user fixes a file in one pass. Nothing
downstream (the Numba kernels) re-checks inputs, which is why the bounds here
are tight enough that a valid spec can never overflow or produce NaN prices.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import itertools
import json
import math
import re
import typing
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ONCHAIN_COLUMNS = ("whale_transactions", "active_addresses", "exchange_inflow", "exchange_outflow")
MACRO_COLUMNS = ("inflation_rate", "fed_rate", "dxy_index")
OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
SIGNAL_SOURCES = ONCHAIN_COLUMNS + MACRO_COLUMNS
ASSET_KINDS = ("crypto", "stable", "equity", "bond")

# Largest |expected log-price move| a scenario may imply over its horizon (worst regime throughout, six
# standard deviations). e**300 is far inside float64's range, so a valid spec can never make prices
# overflow to inf or underflow to 0. The kernel's backstop band (generators.price.LOG_PRICE_BAND) is the
# same 300: a price the scenario allows is never silently held at the band.
MAX_LOG_MOVE = 300.0
# Longest look-ahead (lag + duration) of a signal, in days: bounds the kernel's ring buffer.
MAX_SIGNAL_SPAN_DAYS = 365
# Largest number of simulated steps per path (horizon_days x steps_per_day).
MAX_STEPS = 2_000_000


class ScenarioError(ValueError):
    """A scenario failed validation. ``errors`` holds ``(field_path, problem)`` pairs.

    ``lines`` (field path -> line of the file, from :func:`load_scenario`) puts each problem's line beside it
    in the message, the nearest written field's for a key that is missing; ``note`` ends the message."""

    def __init__(
        self,
        errors: list[tuple[str, str]],
        source: str | None = None,
        lines: dict[str, int] | None = None,
        note: str = "",
    ):
        self.errors = list(errors)
        self.source = source
        self.note = note
        head = f"{source}: " if source else ""
        out = [f"{head}{len(self.errors)} problem(s) in scenario"]
        for path, problem in self.errors:
            line = _line_of(path, lines or {}) if "line " not in problem else None
            at = f" (line {line})" if line is not None else ""
            out.append(f"  {path}: {problem}{at}" if path else f"  {problem}{at}")
        if note:
            out.append(note)
        super().__init__("\n".join(out))


def _line_of(path: str, lines: dict[str, int]) -> int | None:
    """The line of ``path``, or of the nearest field above it that the file writes (a missing key's mapping)."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


# Checks between fields (correlation pairs, shocks' and signals' assets, the combined log move) need every
# field valid first: a message listing field problems says they are still to come.
_CROSS_FIELD_LATER = (
    "(checks across fields, such as asset names in correlations, shocks and signals, run once these are fixed)"
)

_FIELD_MARK = "@field "  # a model-level error about one of its fields: _describe moves the name into the path


class _Strict(BaseModel):
    """Frozen, keyword-only, unknown keys rejected, NaN and inf rejected, booleans are not numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        """A number is written as one, in a plain field and inside a list or mapping of numbers alike:
        YAML reads ``yes``, ``no``, ``on``, ``true`` as booleans and a quoted value as text, which pydantic
        would take as 1, 0 or the number the text spells. A date is written as one too (an integer
        would be taken as seconds since 1970)."""
        if not isinstance(data, dict):
            return data
        refused = {}
        exact = {}
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None:
                continue
            if isinstance(value, np.integer) and _admits(field.annotation, int):
                # a NumPy integer is taken exactly: pydantic read np.uint64(2**63), a seed of Market.seeds, through
                # a string and refused it as too large (review of 2026-12-05)
                exact[name] = value = int(value)
            if _admits(field.annotation, float, int):
                text_ok = _values_admit(field.annotation, str)
                found = _first_inside(value, lambda v, text_ok=text_ok: _not_a_number(v, text_ok))
                if found is not None:
                    where, bad = found
                    if isinstance(bad, _SelfReference):
                        refused[name] = _Refused(where, f"must be numbers, got {bad!r}")
                        continue
                    why = (YAML_BOOLEANS if isinstance(bad, bool)
                           else "a boolean is not a number" if isinstance(bad, np.bool_) else _why_text(bad))  # fmt: skip
                    refused[name] = _Refused(where, f"must be a number, got {bad!r} ({why})")
                if (isinstance(value, float) and value.is_integer() and abs(value) >= 2.0**53
                        and not _admits(field.annotation, float) and _within_bounds(field, value)):  # fmt: skip
                    # a whole-number float above 2**53 skips integers: 9007199254740993.0 is read as ...992
                    refused[name] = _Refused("", f"must be an integer written in digits: {value!r} is a float, and "
                                                 f"a float this large skips integers (write {int(value)} if that is "
                                                 "the value meant)")  # fmt: skip
            elif _admits(field.annotation, dt.date) and (
                (isinstance(value, int | float) and not isinstance(value, bool))
                or (isinstance(value, str) and _reads_as_number(value))
            ):  # a quoted '0' or '8.64e4' too: pydantic would read it as seconds since 1970
                refused[name] = _Refused("", f"must be a date (YYYY-MM-DD), got {value!r}")
        # each refused value is swapped for a marker no field accepts, so the rest of the section is still
        # validated and every problem is reported at once; _describe words the marker's error
        return {**data, **exact, **refused} if refused or exact else data


def _reads_as_number(text: str) -> bool:
    """Whether Python reads ``text`` as a number (``'0'``, ``'8.64e4'``, ``'.5'``, ``'1_000'``, ``'nan'``)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Refused:
    """A value refused before validation (where inside the field, and why): fails any field's type check."""

    def __init__(self, where: str, message: str):
        self.where, self.message = where, message

    def __repr__(self) -> str:
        return self.message


# What YAML 1.1 (PyYAML's safe_load) reads as text and YAML 1.2 as a number: 1e9, 2.5e10 (no dot or no
# exponent sign), and a signed number with no digit before its dot, -.5 and +.5 (YAML 1.1 reads .5 but not
# -.5: a drift written -.5 was refused as "a quoted value", review of session 23). Scenarios are written so;
# such text from a caller's own loader is taken as the number.
_YAML12_FLOAT = re.compile(
    r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"  # an exponent YAML 1.1 does not read
    r"|^[-+]\.[0-9][0-9_]*$"  # a signed leading dot
)


# Set while load_scenario validates what its own loader made: that loader reads 1e9 as a number, so text in a
# number field was quoted there ("5e-1" is refused as "0.5" is); a caller's dict may hold YAML 1.1's text.
_TEXT_FROM_FILE: contextvars.ContextVar[bool] = contextvars.ContextVar("scenario_text_from_file", default=False)


def _not_a_number(value: Any, text_ok: bool) -> bool:
    """A boolean, or text that is not an exponent float (a quoted ``"0.55"`` is text, not a number; from a
    scenario file, any text is)."""
    if isinstance(value, bool | np.bool_):  # NumPy's booleans too (a caller's array of flags)
        return True
    return isinstance(value, str) and not text_ok and (_TEXT_FROM_FILE.get() or not _YAML12_FLOAT.match(value))


def _why_text(text: str) -> str:
    """Why a number arrived as text, said so that the fix is plain.

    Text that Python reads as a number but YAML does not, written without quotes, is not a quoted value: ``nan``,
    ``inf`` and ``Infinity`` (YAML's are ``.nan`` and ``.inf``) and digits outside ASCII (each was called "a
    quoted value", review of session 23)."""
    try:
        number = float(text)
    except ValueError:
        return "it is text"
    if not math.isfinite(number):
        return "it is text (YAML writes these .nan and .inf), and a scenario's numbers must be finite"
    if not text.isascii():
        return "it is text: write the number in ASCII digits"
    if re.fullmatch(r"[-+]?0[0-9_]+(\.[0-9_]*)?", text.strip()):  # 090 unquoted: YAML 1.1 keeps it as text
        return "it is text: YAML reads a number with a leading 0 that is not octal as text; write it without the 0"
    return "a quoted value is text: write the number without quotes"


def _admits(annotation: Any, *types: type) -> bool:
    """Whether a field's type is one of ``types`` or a union or container of them (a nested model checks its own)."""
    if annotation in types:
        return True
    return any(_admits(arg, *types) for arg in typing.get_args(annotation))


def _within_bounds(field: Any, value: float) -> bool:
    """Whether ``value`` meets a field's own ``ge``/``gt``/``le``/``lt`` bounds (``horizon_days: 1e16`` is told it is
    above 36500, not how to write 1e16's digits)."""
    for bound in field.metadata:
        for name, ok in (("ge", value.__ge__), ("gt", value.__gt__), ("le", value.__le__), ("lt", value.__lt__)):
            limit = getattr(bound, name, None)
            if limit is not None and not ok(limit):
                return False
    return True


def _values_admit(annotation: Any, *types: type) -> bool:
    """:func:`_admits` for what a field's values may be: a mapping's key type does not count (``dict[str, float]``
    takes no text as a value; its ``str`` keys let ``correlation: {BTC/ETH: "0.8"}`` through, review of 2026-12-04)."""
    if annotation in types:
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and len(args) == 2:
        return _values_admit(args[1], *types)
    return any(_values_admit(arg, *types) for arg in args)


class _SelfReference:
    """What :func:`_first_inside` reports for a list or mapping inside itself (YAML's ``vol: &v [*v]``)."""

    def __repr__(self) -> str:
        return "a list or mapping that contains itself (an alias inside its own anchor)"


def _first_inside(
    value: Any, wrong: Callable[[Any], bool], where: str = "", _open: tuple[Any, ...] = ()
) -> tuple[str, Any] | None:
    """(subscript path, the element) of the first element of ``value`` (itself, or inside its lists and
    mappings' values) for which ``wrong`` holds: the path reads ``""``, ``"[0][1]"``, ``"['BTC/ETH']"``.
    A container met again inside itself is reported as a :class:`_SelfReference` (it recursed without end)."""
    if wrong(value):
        return where, value
    if not isinstance(value, dict | list | tuple):
        return None
    if any(value is seen for seen in _open):
        return where, _SelfReference()
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        found = _first_inside(item, wrong, f"{where}[{key!r}]", (*_open, value))
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------- assets and processes


class GarchParams(_Strict):
    """GARCH(1,1) on per-step returns; long-run variance equals the asset's ``vol``."""

    alpha: float = Field(ge=0.0, lt=1.0, description="weight of the last squared shock")
    beta: float = Field(ge=0.0, lt=1.0, description="weight of the last variance")

    @model_validator(mode="after")
    def _stationary(self) -> GarchParams:
        if self.alpha + self.beta >= 1.0:
            raise ValueError(f"alpha + beta must be < 1 for a stationary GARCH, got {self.alpha + self.beta:g}")
        return self


class JumpParams(_Strict):
    """Merton jumps: Poisson arrivals with normally distributed log-price sizes.

    Jumps are market-wide events: every jumping asset draws its arrivals from one common uniform
    per step (comonotone Poisson counts: a higher ``intensity`` jumps at least as often, and on the
    same steps), and its sizes load ``common`` on one market-wide jump factor (two assets' jump
    sizes correlate ``common_a x common_b``). That is what makes crypto move together in the tails.
    """

    intensity: float = Field(ge=0.0, le=365.0, description="expected jumps per year")
    mean: float = Field(ge=-1.0, le=1.0, description="mean log jump size")
    std: float = Field(ge=0.0, le=1.0, description="std of the log jump size")
    common: float = Field(default=0.97, ge=0.0, le=1.0, description="loading of the size on the market-wide factor")


class PegParams(_Strict):
    """Mean reversion of a pegged asset's log price towards log(1)."""

    kappa: float = Field(gt=0.0, le=100_000.0, description="reversion speed per year")


ProcessType = Literal["gbm", "merton", "garch", "garch_jump", "peg"]
_PROCESS_BLOCKS = {
    "gbm": set(),
    "merton": {"jumps"},
    "garch": {"garch"},
    "garch_jump": {"garch", "jumps"},
    "peg": {"peg"},
}


class ProcessSpec(_Strict):
    """Which stochastic process drives an asset, with its parameter blocks."""

    type: ProcessType = "gbm"
    garch: GarchParams | None = None
    jumps: JumpParams | None = None
    peg: PegParams | None = None

    @model_validator(mode="after")
    def _blocks_match_type(self) -> ProcessSpec:
        needed = _PROCESS_BLOCKS[self.type]
        given = {name for name in ("garch", "jumps", "peg") if getattr(self, name) is not None}
        missing, extra = needed - given, given - needed
        problems = [f"type '{self.type}' needs a '{m}' block" for m in sorted(missing)]
        problems += [f"type '{self.type}' takes no '{e}' block" for e in sorted(extra)]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class VolumeSpec(_Strict):
    """Traded volume: a daily notional, scaled up on days with large absolute returns."""

    daily_usd: float = Field(default=1.0e9, ge=1.0, le=1.0e15,
                             description="volume is notional / price: below a dollar it underflows to 0 at high prices")  # fmt: skip
    abs_return_sensitivity: float = Field(default=0.5, ge=0.0, le=100.0, description="x |return| / step vol")
    noise: float = Field(default=0.25, ge=0.0, le=2.0, description="lognormal noise std")


_DEFAULT_REGIME_EXPOSURE = {"crypto": 1.0, "equity": 1.0, "bond": 0.0, "stable": 0.0}


class AssetSpec(_Strict):
    """One simulated asset. ``drift`` and ``vol`` are annual (365-day) arithmetic figures."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,31}$")
    kind: Literal["crypto", "stable", "equity", "bond"]
    start_price: float = Field(ge=1.0e-8, le=1.0e12, description="volume is notional / price: smaller overflows it")
    drift: float = Field(ge=-5.0, le=5.0, description="expected annual return (GBM mu)")
    vol: float = Field(ge=1.0e-6, le=5.0,
                       description="annual volatility (long-run for GARCH); below 1e-6 a step's underflows")  # fmt: skip
    process: ProcessSpec = ProcessSpec()
    volume: VolumeSpec = VolumeSpec()
    regime_exposure: float | None = Field(default=None, ge=0.0, le=1.0)

    @property
    def exposure(self) -> float:
        """How much regime multipliers act on this asset (0: not at all, 1: fully)."""
        if self.regime_exposure is not None:
            return self.regime_exposure
        return _DEFAULT_REGIME_EXPOSURE[self.kind]


# ---------------------------------------------------------------- regimes


class RegimeState(_Strict):
    name: str = Field(min_length=1, max_length=32)
    drift_mult: float = Field(default=1.0, ge=-20.0, le=20.0)
    vol_mult: float = Field(default=1.0, gt=0.0, le=10.0)


class RegimesSpec(_Strict):
    """Markov chain over market regimes; ``transition`` is per day, rows sum to 1."""

    states: list[RegimeState] = Field(min_length=1, max_length=16)
    transition: list[list[float]]
    initial: str


# ---------------------------------------------------------------- on-chain and macro


class OnchainSpec(_Strict):
    """Market-wide on-chain activity, linked to the ``driver`` asset's returns."""

    driver: str | None = Field(default=None, description="asset whose returns drive activity; first crypto")
    whale_tx_per_day: float = Field(default=120.0, gt=0.0, le=1.0e6)
    whale_return_sensitivity: float = Field(default=0.5, ge=0.0, le=20.0)
    active_addresses: float = Field(default=900_000.0, gt=0.0, le=1.0e10)
    active_growth: float = Field(default=0.1, ge=-2.0, le=2.0, description="annual log growth of the trend")
    active_reversion: float = Field(default=20.0, ge=1.0e-3, le=10_000.0,
                                    description="per year; at least 1e-3 (a half-life of 700 years; slower is no "
                                    "reversion): at 1e-20 the exact step's 1 - e^(-2 kappa dt) rounded to 0 and "
                                    "active_vol did nothing")  # fmt: skip
    active_price_beta: float = Field(default=0.5, ge=-10.0, le=10.0)
    active_vol: float = Field(default=0.5, ge=0.0, le=5.0, description="annual")
    inflow_per_day: float = Field(default=20_000.0, gt=0.0, le=1.0e12, description="driver-asset units")
    outflow_per_day: float = Field(default=20_000.0, gt=0.0, le=1.0e12)
    flow_vol: float = Field(
        default=0.35,
        ge=0.0,
        le=3.0,
        description="lognormal noise std of a day's flows (drawn once a day, at its first step)",
    )
    flow_return_beta: float = Field(default=0.3, ge=0.0, le=5.0, description="inflow up on down moves")


class InflationSpec(_Strict):
    """Monthly AR(1): pi_m = mean + phi (pi_{m-1} - mean) + vol z."""

    start: float = Field(default=0.03, ge=-0.5, le=5.0)
    mean: float = Field(default=0.025, ge=-0.5, le=5.0)
    phi: float = Field(default=0.9, ge=0.0, lt=1.0)
    vol: float = Field(default=0.002, ge=0.0, le=1.0, description="monthly innovation std")


class PolicyRateSpec(_Strict):
    """Policy rate moved in ``step`` increments at meetings, following inflation (Taylor-like)."""

    start: float = Field(default=0.05, ge=0.0, le=1.0)
    neutral: float = Field(default=0.025, ge=0.0, le=1.0)
    inflation_target: float = Field(default=0.02, ge=-0.5, le=1.0)
    inflation_response: float = Field(default=1.5, ge=0.0, le=10.0)
    step: float = Field(default=0.0025, gt=0.0, le=0.05)
    meeting_every_days: int = Field(default=42, ge=1, le=365)
    noise: float = Field(default=0.002, ge=0.0, le=0.1)


class DxySpec(_Strict):
    """Dollar index: mean-reverting, with shocks correlated to the driver asset's."""

    start: float = Field(default=104.0, gt=0.0, le=1000.0)
    mean: float = Field(default=100.0, gt=0.0, le=1000.0)
    reversion: float = Field(default=1.0, ge=0.0, le=100.0, description="per year")
    vol: float = Field(default=0.07, ge=0.0, le=2.0, description="annual, relative")
    crypto_correlation: float = Field(default=-0.3, ge=-0.99, le=0.99)
    rate_beta: float = Field(default=1.0, ge=-100.0, le=100.0, description="log-change per unit rate change")


class MacroSpec(_Strict):
    inflation: InflationSpec = InflationSpec()
    policy_rate: PolicyRateSpec = PolicyRateSpec()
    dxy: DxySpec = DxySpec()


# ---------------------------------------------------------------- shocks and signals


class CrashShock(_Strict):
    """A dated market-wide crash: a log-price jump plus raised volatility afterwards."""

    type: Literal["crash"]
    day: int = Field(ge=0)
    size: float = Field(ge=-3.0, le=3.0, description="log-price jump, e.g. -0.35")
    assets: list[str] | None = Field(default=None, description="default: every crypto asset")
    vol_mult: float = Field(default=1.0, gt=0.0, le=10.0)
    duration_days: int = Field(default=1, ge=1, le=3650)


class WhaleDumpShock(_Strict):
    """A whale sells: whale transactions and exchange inflow spike on ``day``, the price drops the next day.

    On the horizon's last day the price move falls after the market ends, as a crash's later days do:
    the dump is valid, and a market cut at ``day + 1`` is the longer market's first days.
    """

    type: Literal["whale_dump"]
    day: int = Field(ge=0)
    asset: str | None = Field(default=None, description="default: the on-chain driver")
    size: float = Field(default=-0.08, ge=-3.0, le=0.0, description="log-price impact")
    whale_mult: float = Field(default=5.0, ge=1.0, le=1000.0)
    inflow_mult: float = Field(default=4.0, ge=1.0, le=1000.0)
    duration_days: int = Field(default=2, ge=1, le=365)


class RateHikeShock(_Strict):
    """A scheduled policy-rate move on top of the rule (negative bps is a cut)."""

    type: Literal["rate_hike"]
    day: int = Field(ge=0)
    bps: float = Field(ge=-1000.0, le=1000.0)


class DepegShock(_Strict):
    """A stablecoin loses its peg by ``depth`` and recovers with the given half-life."""

    type: Literal["depeg"]
    day: int = Field(ge=0)
    asset: str
    depth: float = Field(gt=0.0, lt=1.0, description="fractional price drop, e.g. 0.12")
    recovery_half_life_days: float = Field(default=5.0, ge=1.0e-3, le=3650.0,
                                           description="below 1e-3 days the reversion speed leaves float range")  # fmt: skip
    recovery_days: int = Field(default=30, ge=1, le=3650, description="how long the slow recovery lasts")


ShockSpec = Annotated[CrashShock | WhaleDumpShock | RateHikeShock | DepegShock, Field(discriminator="type")]


class SignalSpec(_Strict):
    """A lead-lag link from an on-chain or macro series at t to returns over t+lag..t+lag+duration-1.

    The source is observed once a day, at the day's last step, and *fires* on day d when its transform
    crosses ``threshold`` (``zscore``: the value against its trailing EWMA mean and std over
    ``window_days`` days, which use days before d only; ``change``: the value minus the previous day's).
    A negative threshold fires on moves below it. A firing acts on every step of days d + ``lag_days`` to
    d + ``lag_days`` + ``duration_days`` - 1. While a firing is in effect, ``effect: drift`` adds ``strength`` to the daily expected log return
    of the target assets, ``effect: vol`` multiplies their volatility by ``1 + strength``.
    Strength 0 means no link.
    """

    name: str = Field(min_length=1, max_length=64)
    source: Literal[SIGNAL_SOURCES]  # type: ignore[valid-type]
    transform: Literal["zscore", "change"] = "zscore"
    threshold: float = Field(ge=-1.0e6, le=1.0e6)
    window_days: float = Field(default=30.0, gt=0.0, le=3650.0, description="EWMA span of zscore")
    lag_days: int = Field(default=1, ge=1, le=MAX_SIGNAL_SPAN_DAYS)
    duration_days: int = Field(default=5, ge=1, le=MAX_SIGNAL_SPAN_DAYS)
    effect: Literal["drift", "vol"] = "drift"
    strength: float = Field(ge=-1.0, le=10.0)
    assets: list[str] | None = Field(default=None, description="default: every crypto asset")

    @model_validator(mode="after")
    def _nonzero_threshold(self) -> SignalSpec:
        if self.threshold == 0.0:
            raise ValueError("threshold must be non-zero (its sign says which way the source fires)")
        if self.effect == "vol" and self.strength <= -1.0:
            raise ValueError(f"a vol effect needs strength > -1, got {self.strength:g}")
        return self


class CalibrationWindow(_Strict):
    """The real-data days a scenario's parameters were chosen or fitted to look like.

    Metadata, not simulation: a model trained on the scenario has seen those days' statistics (not
    their path), so only real days after ``end`` are out of time for it (``policy evaluate`` says so).
    """

    start: dt.date = Field(ge=dt.date(1900, 1, 1), le=dt.date(2100, 12, 31))
    end: dt.date = Field(ge=dt.date(1900, 1, 1), le=dt.date(2100, 12, 31))

    @model_validator(mode="after")
    def _ordered(self) -> CalibrationWindow:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


# ---------------------------------------------------------------- the scenario


class ScenarioSpec(_Strict):
    """A whole scenario. Build it with :func:`load_scenario` or :meth:`from_dict`."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="names result files: no '/'")
    description: str = ""
    calibrated_to: CalibrationWindow | None = Field(
        default=None, description="real-data days the parameters were chosen to match; later days are out of time"
    )
    seed: int = Field(default=0, ge=0, lt=2**64)
    start_date: dt.date = Field(default=dt.date(2024, 1, 1), ge=dt.date(1900, 1, 1), le=dt.date(2100, 12, 31),
                                description="plots and calendars need a date their libraries can hold")  # fmt: skip
    horizon_days: int = Field(ge=2, le=36_500)
    steps_per_day: int = Field(default=1, ge=1, le=1440)
    substeps: int = Field(
        default=4,
        ge=2,
        le=64,
        description="intraday sub-steps per step, for OHLC: at least 2, "
        "as the open is the first and the close the last (at 1 every bar was flat, open = high = low "
        "= close, and an order filled 'at the next open' filled at the next close)",
    )
    assets: list[AssetSpec] = Field(min_length=1, max_length=64)
    correlation: dict[str, float] = Field(default_factory=dict, description="'A/B': rho; unlisted pairs 0")
    regimes: RegimesSpec | None = None
    onchain: OnchainSpec = OnchainSpec()
    macro: MacroSpec = MacroSpec()
    shocks: list[ShockSpec] = Field(default_factory=list)
    signals: list[SignalSpec] = Field(default_factory=list)

    # ---- construction

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> ScenarioSpec:
        """Validate a parsed mapping; raise :class:`ScenarioError` listing every problem."""
        if not isinstance(data, dict):
            raise ScenarioError([("", f"a scenario must be a mapping, got {type(data).__name__}")], source)
        try:
            spec = cls.model_validate(data)
        except ValidationError as exc:
            # dict.fromkeys: one problem once (a union field reports a refused value once per member)
            problems = list(dict.fromkeys(_describe(err) for err in exc.errors()))
            raise ScenarioError(problems, source, note=_CROSS_FIELD_LATER) from None
        problems = _semantic_problems(spec)
        if problems:
            raise ScenarioError(problems, source)
        return spec

    # ---- derived facts

    @property
    def asset_names(self) -> list[str]:
        return [a.name for a in self.assets]

    @property
    def asset_kinds(self) -> list[str]:
        return [a.kind for a in self.assets]

    @property
    def asset_sizes(self) -> list[float]:
        """Each asset's declared daily dollar volume (``volume.daily_usd``): the size that orders the crypto
        assets the guide's state features (:func:`~prometheus_sim.portfolio.model.crypto_by_size`)."""
        return [float(a.volume.daily_usd) for a in self.assets]

    @property
    def n_steps(self) -> int:
        return self.horizon_days * self.steps_per_day

    def asset_index(self, name: str) -> int:
        return self.asset_names.index(name)

    @property
    def driver_index(self) -> int:
        """Index of the asset whose returns drive on-chain activity and the dollar index."""
        if self.onchain.driver is not None:
            return self.asset_index(self.onchain.driver)
        for i, asset in enumerate(self.assets):
            if asset.kind == "crypto":
                return i
        return 0

    def signals_that_never_act(self) -> list[tuple[int, str]]:
        """(index, why) of each signal whose first possible effect comes after the scenario's last step: a signal
        observes its source once a day; a z-score fires once its warm-up (``ceil(window_days)`` days) has passed,
        a change from the second day, and either acts from the first step ``lag_days`` later. Valid (a sweep's
        ``--horizon-days`` may shorten a scenario past its signals), so ``scenarios validate`` notes it."""
        spd = self.steps_per_day
        n_steps = self.horizon_days * spd
        out = []
        for i, sg in enumerate(self.signals):
            fires = math.ceil(sg.window_days) if sg.transform == "zscore" else 1  # the first day it may fire
            first = (fires + sg.lag_days) * spd
            if first >= n_steps:
                what = f"its z-score's warm-up ({fires} days)" if sg.transform == "zscore" else "its first change"
                out.append((i, f"{what} and lag ({sg.lag_days} days) put its first possible effect at step {first}, "
                               f"after the last step ({n_steps - 1}): it never acts"))  # fmt: skip
        return out

    def ignored_drifts(self) -> list[tuple[int, str]]:
        """(index, why) of each pegged asset given a drift: its log price reverts to its level, so the drift (and a
        regime's ``drift_mult``) has no effect. Valid, so as not to refuse old files; ``scenarios validate`` notes it."""
        return [(i, f"a peg reverts to its level and ignores drift, so drift {a.drift:g} has no effect")
                for i, a in enumerate(self.assets) if a.process.type == "peg" and a.drift != 0.0]  # fmt: skip

    def signal_drifts_pegs_ignore(self) -> list[tuple[int, str]]:
        """(index, why) of each drift signal aimed at a pegged asset: a peg's log price reverts to its level and
        ignores drift, a signal's as well as its own, so the signal moves it not at all (while ``truth.signal_active``
        still marks the signal in effect). Valid; ``scenarios validate`` notes it (use ``effect: vol`` on a peg)."""
        pegged = {a.name for a in self.assets if a.process.type == "peg"}
        out = []
        for i, sg in enumerate(self.signals):
            targets = sg.assets if sg.assets is not None else self.default_risky_assets()
            hit = [name for name in targets if name in pegged]
            if sg.effect == "drift" and hit:
                whole = " (every asset it targets: it moves nothing)" if len(hit) == len(targets) else ""
                out.append((i, f"a drift signal does not move pegged {', '.join(hit)}{whole}: a peg reverts to its "
                               "level and ignores drift"))  # fmt: skip
        return out

    def vanishing_activity(self) -> str | None:
        """Why active addresses fall to 0 within the horizon (their trend, ``active_addresses`` x e^(``active_growth``
        x years), below half an address), or None. Valid; ``scenarios validate`` notes it: a count of 0 on a third
        of the days, or a signal keyed on the series, is rarely what a file means."""
        oc = self.onchain
        if oc.active_growth >= 0.0:
            return None
        day = math.log(0.5 / oc.active_addresses) / oc.active_growth * 365.0
        if day >= self.horizon_days:
            return None
        return (
            f"active_addresses {oc.active_addresses:g} with active_growth {oc.active_growth:g} a year trend below "
            f"one address from day {max(day, 0.0):.0f} of {self.horizon_days}: the count is 0 from about then"
        )

    def default_risky_assets(self) -> list[str]:
        """Crypto assets, the default target of crashes and signals."""
        return [a.name for a in self.assets if a.kind == "crypto"]

    def correlation_matrix(self) -> np.ndarray:
        """Full correlation matrix in asset order (unlisted pairs are 0)."""
        names = self.asset_names
        n = len(names)
        corr = np.eye(n)
        for key, rho in self.correlation.items():
            a, b = key.split("/")
            i, j = names.index(a.strip()), names.index(b.strip())
            corr[i, j] = corr[j, i] = rho
        return corr

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: two specs with the same digest simulate alike.

        ``calibrated_to`` counts only when set, so a scenario without it keeps the digest it had before
        the field existed (sweep resumes and policies' records still match).
        """
        data = self.model_dump(mode="json")
        if data["calibrated_to"] is None:
            del data["calibrated_to"]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def paths_digest(self) -> str:
        """SHA-256 of what shapes the simulated paths: :meth:`digest` without the labels (``name``, ``description``,
        ``calibrated_to``) and the default ``seed`` (a market's seeds are its own). A renamed copy of a scenario has
        another digest and the same paths digest, so a policy's training scenario is recognised under any name."""
        data = self.model_dump(mode="json")
        for label in ("name", "description", "calibrated_to", "seed"):
            del data[label]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_horizon(self, horizon_days: int) -> ScenarioSpec:
        """The same scenario over a different horizon; shocks dated after it are dropped.

        A shock dated inside the horizon is kept, even when part of its effect would fall after it (a
        whale dump on the last day: its whale and inflow multipliers act that day, its price move
        would land the next): a shorter market is then the first days of the longer one, byte for byte.
        """
        data = self.model_dump(mode="python")
        data["horizon_days"] = horizon_days
        data["shocks"] = [s for s in data["shocks"] if s["day"] < horizon_days]
        return ScenarioSpec.from_dict(data)

    def with_overrides(self, **changes: Any) -> ScenarioSpec:
        """A re-validated copy with top-level fields replaced (e.g. ``horizon_days=30``)."""
        data = self.model_dump(mode="python")
        data.update(changes)
        return ScenarioSpec.from_dict(data)


class _DuplicateKey(yaml.YAMLError):
    """A mapping key YAML allows and a scenario cannot: one given twice, or one that is not a name."""

    def __init__(self, path: str, problem: str):
        super().__init__(problem)
        self.path, self.problem = path, problem


MAX_EXPANDED_VALUES = 100_000  # what a scenario's aliases may expand to (a few hundred in a large file)
MAX_DEPTH = 64  # levels of nesting (a shipped scenario has five)
NESTED_TOO_DEEP = f"nested deeper than the {MAX_DEPTH} levels a scenario may have"


class _ScenarioLoader(yaml.SafeLoader):
    """YAML's safe loader, stricter: a key given twice is an error (YAML would silently keep the
    last), and dates stay text so an impossible one is reported against its field, not as a crash.
    A value an explicit tag cannot make (``!!timestamp 2023-02-29``, ``!!int abc``) is an error naming
    its line, and so is a document whose aliases expand past ``MAX_EXPANDED_VALUES`` values (nested
    aliases multiply: a 471-byte file expanded to millions and took 27 s to refuse)."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError) as exc:
            # PyYAML's constructors fail on some tagged values with errors of their own (``!!bool 7``: KeyError,
            # ``!!int ""``: IndexError, ``!!timestamp 2024/01/01``: AttributeError): each is the value's problem,
            # and their own words ("'NoneType' object has no attribute 'groupdict'") would not say so
            if isinstance(exc, KeyError | IndexError | AttributeError):
                value = getattr(node, "value", "")
                exc = ValueError(f"{value!r} is not one" if isinstance(value, str) else "not one")
            raise _BadValue(node.start_mark.line + 1, node.tag, exc) from None

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            size, depth = _expanded_size(node, {})
            if depth > MAX_DEPTH:
                raise yaml.YAMLError(NESTED_TOO_DEEP)
            if size > MAX_EXPANDED_VALUES:
                raise yaml.YAMLError(f"its aliases expand to {size:,} values, more than the "
                                     f"{MAX_EXPANDED_VALUES:,} a scenario may hold")  # fmt: skip
            # kept, not raised: the document is still made and validated, so a file's YAML-level problems and
            # its field-level ones are reported together (load_scenario joins them)
            self.node_problems = _node_problems(self, node, "", set())
            self.field_lines = _field_lines(self, node, "", {}, set())
        return node


# Plain (unquoted) scalars that YAML 1.1 reads as a number other than the decimal one they look like: a
# leading 0 is octal (010 is 8), 0b binary, 0x hexadecimal, and 1:30 base 60 (90). (090 and 0o7 stay text.)
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_NOT_DECIMAL = re.compile(
    r"[-+]?(?:0[0-9_]+|0[bB][0-9_]*|0[xX][0-9a-fA-F_]*|0[oO][0-9_]*|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)"
)


def _node_problems(loader: yaml.SafeLoader, node: yaml.Node, path: str, visited: set[int]) -> list[tuple[str, str]]:
    """Keys given twice in one mapping and numbers YAML 1.1 misreads, with the path of the field each is in.

    Walked on the composed nodes, before any value is made, so that a nested problem is named where it is
    (``assets[0].drift``), not by its key alone. An aliased node is walked once (its first path).
    """
    if id(node) in visited:
        return []
    visited.add(id(node))
    problems: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Mark] = {}
        merge: yaml.Mark | None = None
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # YAML keeps the last of two, silently
                mark = key_node.start_mark
                if merge is not None:
                    problems.append((path or "(top level)", f"{MERGE_TWICE} (lines {merge.line + 1} and "
                                     f"{mark.line + 1}); merge several in one: '<<: [*a, *b]'"))  # fmt: skip
                merge = mark
            elif not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]: 1`: no scenario field is named so
                problems.append((path or "(top level)", f"line {key_node.start_mark.line + 1}: a key must be a name, "
                                 f"got {_key_text(loader, key_node)}"))  # fmt: skip
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                problems += _node_problems(loader, value_node, path, visited)  # merged keys may be overridden
                continue
            key = loader.construct_object(key_node)  # 1 and 1.0 are one key, as in the mapping made from it
            where = f"{path}.{key}" if path else str(key)
            mark = key_node.start_mark
            if key in seen:
                first = seen[key]
                at = (f"line {mark.line + 1}, columns {first.column + 1} and {mark.column + 1}"
                      if first.line == mark.line else f"lines {first.line + 1} and {mark.line + 1}")  # fmt: skip
                problems.append((where, f"key {key!r} is given twice ({at}); remove one"))
            else:
                seen[key] = mark
            problems += _node_problems(loader, value_node, where, visited)
        problems += _merge_overlaps(loader, node, path)
    elif isinstance(node, yaml.SequenceNode):
        for k, child in enumerate(node.value):
            problems += _node_problems(loader, child, f"{path}[{k}]", visited)
    elif node.tag == "tag:yaml.org,2002:binary":  # bytes, which a name field would take as its text
        problems.append((path, f"!!binary (line {node.start_mark.line + 1}) is not a scenario value: write text"))
    elif (
        node.style is None
        and node.tag in (_INT_TAG, _FLOAT_TAG)
        and node.tag == loader.resolve(yaml.ScalarNode, node.value, (True, False))  # implicit, not !!float 010
        and _NOT_DECIMAL.fullmatch(node.value)
    ):  # text that stays text (090, 0x, a name) is a text field's business, and a number field says so itself
        try:
            read = yaml.safe_load(node.value)
        except yaml.YAMLError:
            read = node.value
        problems.append(
            (
                path,
                f"{node.value} (line {node.start_mark.line + 1}) is not a decimal number: YAML reads "
                f"it as {read!r}; write numbers in decimal digits (and quote text that looks like one)",
            )
        )
    return problems


MERGE_TWICE = "'<<' is given twice"


def _key_text(loader: yaml.SafeLoader, key_node: yaml.Node) -> str:
    """A key that is not a name, as the problem shows it (``the list ['vol', 'drift']``)."""
    try:
        key = loader.construct_object(key_node, deep=True)
    except yaml.YAMLError:
        return f"a {key_node.id}"
    return f"the {type(key).__name__} {key!r}"


def _merged_keys(node: yaml.Node, visited: set[int]) -> dict[str, yaml.Node]:
    """Key -> value node of what merging ``node`` brings (its own keys over those it merges itself)."""
    if not isinstance(node, yaml.MappingNode) or id(node) in visited:
        return {}
    visited = visited | {id(node)}
    keys: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            for one in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                keys = {**_merged_keys(one, visited), **keys}
    keys.update({k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)
                 and k.tag != "tag:yaml.org,2002:merge"})  # fmt: skip
    return keys


def _merge_overlaps(loader: yaml.SafeLoader, node: yaml.MappingNode, path: str) -> list[tuple[str, str]]:
    """Keys two merged mappings (``<<: [*a, *b]``) give different values and the mapping does not set itself.

    Which one YAML keeps is not settled: the merge spec and PyYAML 6.0.3 keep the first, PyYAML 6.0.4 the last
    (review of 2026-12-05), so one file made two scenarios, digests and outputs on two installs."""
    sources = [v for k, v in node.value if k.tag == "tag:yaml.org,2002:merge"]
    merged = [one for v in sources for one in (v.value if isinstance(v, yaml.SequenceNode) else [v])]
    if len(merged) < 2:
        return []
    own = {k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"}
    first: dict[str, yaml.Node] = {}
    problems = []
    for one in merged:
        for key, value_node in _merged_keys(one, set()).items():
            if key in own:
                continue
            if key in first and not _same_value(loader, first[key], value_node):
                problems.append((f"{path}.{key}" if path else key,
                                 f"merged twice with different values (lines {first[key].start_mark.line + 1} and "
                                 f"{value_node.start_mark.line + 1}); which one YAML keeps differs between PyYAML "
                                 "versions: set it in the mapping itself"))  # fmt: skip
            first.setdefault(key, value_node)
    return problems


def _same_value(loader: yaml.SafeLoader, a: yaml.Node, b: yaml.Node) -> bool:
    """Whether two nodes make the same value (one that cannot be made is not the same as any)."""
    if a is b:
        return True
    try:
        return loader.construct_object(a, deep=True) == loader.construct_object(b, deep=True)
    except yaml.YAMLError:
        return False


def _field_lines(
    loader: yaml.SafeLoader, node: yaml.Node, path: str, out: dict[str, int], visited: set[int]
) -> dict[str, int]:
    """Field path -> the line its key (or list item) starts on, in the paths validation names
    (``assets[1].vol``), so a problem found on the made values can say where it was written. Merged
    keys (``<<: *anchor``) take the anchor's lines unless the mapping writes the key itself."""
    if id(node) in visited:  # a node that contains itself
        return out
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        merged = [v for k, v in node.value if k.tag == "tag:yaml.org,2002:merge"]
        for value_node in merged:  # first, so the mapping's own keys override them, as in the made mapping
            for one in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                _field_lines(loader, one, path, out, visited)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node)
            where = f"{path}.{key}" if path else str(key)
            out[where] = out[f"{path}[{key!r}]"] = key_node.start_mark.line + 1  # a mapping's entry: correlation['A/B']
            _field_lines(loader, value_node, where, out, visited)
    elif isinstance(node, yaml.SequenceNode):
        for k, child in enumerate(node.value):
            out[f"{path}[{k}]"] = child.start_mark.line + 1
            _field_lines(loader, child, f"{path}[{k}]", out, visited)
    visited.discard(id(node))  # an alias used in two places has a line in each path (its anchor's)
    return out


class _BadValue(yaml.YAMLError):
    def __init__(self, line: int, tag: str, exc: Exception):
        super().__init__(f"line {line}: {tag.removeprefix('tag:yaml.org,2002:')} value cannot be read ({exc})")


def _expanded_size(node: yaml.Node, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(values, depth) of ``node`` with every alias expanded (memoised per node: linear in the file, not in
    the expansion). Nodes are composed by recursion, so a depth Python cannot reach is caught as well."""
    key = id(node)
    if key not in memo:
        memo[key] = (1, 1)  # a node that contains itself (YAML allows it) counts once
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])  # fmt: skip
        parts = [_expanded_size(child, memo) for child in children]
        memo[key] = (1 + sum(size for size, _ in parts), 1 + max((depth for _, depth in parts), default=0))
    return memo[key]


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.1 (PyYAML) reads 1e9 and 2.5e10 as text (its floats need a dot and a signed exponent); YAML 1.2
# and every user read them as numbers, and so does this loader.
_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    _YAML12_FLOAT,
    list("-+0123456789."),
)


def _mapping_without_duplicates(loader: _ScenarioLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged by construct_mapping, which
            continue  # lets the mapping's own keys override the merged ones (that is what merging is for)
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):  # YAML allows `? [a, b]` as a key; no scenario field is named so
            raise _DuplicateKey("", f"line {line}: a key must be a name, got {_key_text(loader, key_node)}")
        if key in seen and not hasattr(loader, "node_problems"):  # otherwise the walk of the nodes named it, with
            raise _DuplicateKey(str(key), f"key {key!r} is given twice (lines {seen[key]} and {line}); remove one")
        seen[key] = line  # its path, and the rest is still made, so the other fields' problems show beside it
    return loader.construct_mapping(node, deep=deep)


_ScenarioLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _refuse_set(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    """``!!set`` is refused: a set has no order, so a scenario's digest (a sweep's resume key) would change with
    Python's hash seed (review of 2026-12-04)."""
    raise ValueError("a set has no order; write a list")


_ScenarioLoader.add_constructor("tag:yaml.org,2002:set", _refuse_set)


EXTENSION_PREFIX = "x-"


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> str:
    """A character YAML refuses (a control character such as a form feed, NUL or DEL), with its line and column."""
    before = text[: exc.position]
    line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
    return (f"line {line}, column {column}: character #x{exc.character:04x} is not allowed in YAML (control "
            "characters other than tab and line breaks cannot appear, even in a comment)")  # fmt: skip


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate a scenario YAML file.

    Top-level keys that start with ``x-`` are extension fields, dropped before validation: they give
    YAML anchors a home (``x-stable: &stable {kind: stable, drift: 0}``, then ``<<: *stable`` in each
    stablecoin), which an unknown key otherwise could not be. They are not part of the scenario: not
    in its digest, its manifest or ``Market.spec``.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([("", "file not found")], source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("", f"cannot read file: {exc}")], source) from None
    try:  # the loader checks the characters as it is made: a control character fails here
        loader = _ScenarioLoader(text)
    except yaml.reader.ReaderError as exc:
        raise ScenarioError([("", f"invalid YAML: {_reader_problem(text, exc)}")], source) from None
    try:
        data = loader.get_single_data()
    except _DuplicateKey as exc:  # the walk of the nodes named it with its path, beside any other problem
        raise ScenarioError(getattr(loader, "node_problems", None) or [(exc.path, exc.problem)], source) from None
    except RecursionError:
        raise ScenarioError([("", f"invalid YAML: {NESTED_TOO_DEEP}")], source) from None
    except yaml.reader.ReaderError as exc:
        raise ScenarioError([("", f"invalid YAML: {_reader_problem(text, exc)}")], source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([("", f"invalid YAML: {where}{problem}")], source) from None
    finally:
        loader.dispose()
    node_problems = getattr(loader, "node_problems", [])
    lines = getattr(loader, "field_lines", {})
    if data is None and not node_problems:
        raise ScenarioError([("", "the file is empty")], source)
    if isinstance(data, dict):  # extension fields: a home for shared anchors, as Compose files have them
        data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    try:  # the fields' own problems too, but none about a value YAML misread (those are named already)
        token = _TEXT_FROM_FILE.set(True)  # this loader reads 5e-1 as a number: text in a number field was quoted
        try:
            spec = ScenarioSpec.from_dict(data, source)
        finally:
            _TEXT_FROM_FILE.reset(token)
        more, note = [], ""
    except ScenarioError as exc:
        named = [path for path, problem in node_problems if not problem.startswith(MERGE_TWICE)]  # those hide nothing
        more = [(path, problem) for path, problem in exc.errors
                if not any(path == n or path.startswith((f"{n}.", f"{n}[")) for n in named)]  # fmt: skip
        note = exc.note
    if not node_problems and not more:
        return spec
    raise ScenarioError(node_problems + more, source, lines, note)


# ---------------------------------------------------------------- error wording


YAML_BOOLEANS = "YAML reads yes/no/on/off/true/false as booleans"


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for k, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("crash", "whale_dump", "rate_hike", "depeg") and loc[k - 2 : k - 1] == ("shocks",):
            continue  # pydantic's union tag after a shock's index: not a field the user wrote (a key so named is)
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    """Turn one pydantic error into ``(field_path, plain-words problem)``."""
    path = _loc_to_path(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if isinstance(got, _Refused):
        return f"{path}{got.where}", got.message
    got_s = repr(got) if isinstance(got, str) else str(got)
    if len(got_s) > 60:  # a 400-digit integer, a long text: its start and its size say enough
        got_s = f"{got_s[:24]}... ({len(got_s)} characters)"
    if kind == "float_type" and isinstance(got, int) and not isinstance(got, bool):
        return path, f"is too large a number (beyond a float's range, about 1.8e308), got {got_s}"
    if kind == "int_from_float":
        return path, f"must be a whole number, got {got_s}"
    if kind == "date_from_datetime_inexact":
        return path, f"must be a date (YYYY-MM-DD) without a time of day, got {got_s}"
    loc = tuple(err.get("loc", ()))
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):  # the key itself is the last part of loc
        parent = _loc_to_path(loc[:-2] if loc[-1] == "[key]" else loc[:-1])
        hint = f" ({YAML_BOOLEANS}: quote it)" if isinstance(got, bool) else ""
        return parent or "(top level)", f"a key must be text, got {got_s}{hint}"
    bounds = {
        "greater_than": (">", "gt"),
        "greater_than_equal": (">=", "ge"),
        "less_than": ("<", "lt"),
        "less_than_equal": ("<=", "le"),
    }
    if kind in bounds:
        op, key = bounds[kind]
        return path, f"must be {op} {ctx.get(key)}, got {got_s}"
    if kind == "missing":
        return path, "is required"
    if kind == "extra_forbidden":
        return path, "unknown key"
    if kind == "literal_error":
        return path, f"must be one of {ctx.get('expected')}, got {got_s}"
    if kind == "int_parsing_size" and isinstance(got, float) and got.is_integer():
        # YAML reads 1e19 as a float; pydantic takes integral floats as integers only up to 2**63, and above
        # 2**53 a float cannot tell neighbouring integers apart, so the digits must be written out
        return path, (f"must be an integer written in digits: {got!r} is a float, and a float this large "
                      f"skips integers (write {int(got)} if that is the value meant)")  # fmt: skip
    if kind in ("finite_number",):
        return path, f"must be a finite number, got {got_s}"
    if kind.endswith("_parsing") or kind.endswith("_type"):
        wanted = kind.split("_")[0]
        hint = f" ({YAML_BOOLEANS}: quote it)" if isinstance(got, bool) and wanted == "string" else ""
        return path, f"must be {_ARTICLE.get(wanted, wanted)}, got {got_s}{hint}"
    if kind == "too_short":
        return path, f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return path, f"takes at most {ctx.get('max_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return path, f"must match {ctx.get('pattern')}, got {got_s}"
    if kind == "union_tag_invalid":
        return path, f"unknown type {ctx.get('tag')!r}; one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return path, "needs a 'type' key"
    if kind == "value_error":
        message = str(ctx.get("error", err.get("msg")))
        if message.startswith(_FIELD_MARK):
            name, _, message = message.removeprefix(_FIELD_MARK).partition(": ")
            return (f"{path}.{name}" if path else name), message
        return path, message
    return path, f"{err.get('msg')}, got {got_s}"


_ARTICLE = {
    "float": "a number",
    "int": "an integer",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
    "date": "a date (YYYY-MM-DD)",
}


# ---------------------------------------------------------------- cross-field checks


def _semantic_problems(spec: ScenarioSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    names = spec.asset_names
    known = set(names)

    seen: dict[str, int] = {}
    folded: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            problems.append((f"assets[{i}].name", f"duplicate name {name!r} (also assets[{seen[name]}])"))
        elif name.casefold() in folded:  # files are named by asset (fan_BTC.png): one file on a case-blind disk
            other = folded[name.casefold()]
            problems.append((f"assets[{i}].name", f"{name!r} differs from assets[{other}]'s {names[other]!r} only in "
                             "case; files named by asset would collide on a case-insensitive file system"))  # fmt: skip
        seen.setdefault(name, i)
        folded.setdefault(name.casefold(), i)

    if 1440 % spec.steps_per_day:
        problems.append(("steps_per_day", f"must divide 1440 (whole minutes per step), got {spec.steps_per_day}"))
    if spec.n_steps > MAX_STEPS:
        problems.append(("horizon_days", f"horizon_days x steps_per_day must be <= {MAX_STEPS}, got {spec.n_steps}"))

    problems += _correlation_problems(spec, known)
    problems += _regime_problems(spec)
    problems += _log_move_problems(spec)
    problems += _macro_problems(spec)
    problems += _onchain_problems(spec)

    if spec.onchain.driver is not None and spec.onchain.driver not in known:
        problems.append(("onchain.driver", f"unknown asset {spec.onchain.driver!r}; known: {names}"))

    for i, shock in enumerate(spec.shocks):
        where = f"shocks[{i}]"
        if shock.day >= spec.horizon_days:
            problems.append((f"{where}.day", f"must be < horizon_days ({spec.horizon_days}), got {shock.day}"))
        targets: list[str] = []
        if isinstance(shock, CrashShock) and shock.assets is not None:
            targets = shock.assets
        elif isinstance(shock, (WhaleDumpShock, DepegShock)) and shock.asset is not None:
            targets = [shock.asset]
        for j, asset in enumerate(targets):
            field = f"{where}.assets[{j}]" if isinstance(shock, CrashShock) else f"{where}.asset"
            if asset not in known:
                problems.append((field, f"unknown asset {asset!r}; known: {names}"))
        if isinstance(shock, CrashShock) and shock.assets is not None:
            problems += _target_list_problems(f"{where}.assets", shock.assets)
        if isinstance(shock, DepegShock) and shock.asset in known:
            asset_spec = spec.assets[names.index(shock.asset)]
            if asset_spec.process.type != "peg":
                problems.append((f"{where}.asset", f"{shock.asset!r} must use process type 'peg' to depeg"))
        if isinstance(shock, CrashShock) and shock.assets is None and not spec.default_risky_assets():
            problems.append((f"{where}.assets", "no crypto asset to default to; list the assets"))

    for i, signal in enumerate(spec.signals):
        where = f"signals[{i}]"
        if signal.lag_days + signal.duration_days > MAX_SIGNAL_SPAN_DAYS:
            problems.append(
                (
                    where,
                    f"lag_days + duration_days must be <= {MAX_SIGNAL_SPAN_DAYS}, "
                    f"got {signal.lag_days + signal.duration_days}",
                )
            )
        for j, asset in enumerate(signal.assets or []):
            if asset not in known:
                problems.append((f"{where}.assets[{j}]", f"unknown asset {asset!r}; known: {names}"))
        if signal.assets is not None:
            problems += _target_list_problems(f"{where}.assets", signal.assets)
        if signal.transform == "zscore" and signal.window_days <= 1.0:
            problems.append((f"{where}.window_days", f"must be > 1 for a z-score (its EWMA's span in days: a signal "
                             f"observes its source once a day), got {signal.window_days:g}: a span of one day or "
                             "less weighs only the newest value, so the std is 0 and the z-score never fires"))  # fmt: skip
        if signal.assets is None and not spec.default_risky_assets():
            problems.append((f"{where}.assets", "no crypto asset to default to; list the assets"))
    sig_names = [s.name for s in spec.signals]
    for i, name in enumerate(sig_names):
        if sig_names.index(name) != i:
            problems.append((f"signals[{i}].name", f"duplicate name {name!r}"))
    return problems


def _target_list_problems(field: str, assets: list[str]) -> list[tuple[str, str]]:
    """A shock's or signal's list of assets: each named once (a repeat applied the effect twice), and not empty."""
    if not assets:
        return [(field, "an empty list targets no asset: name at least one, or leave the key out for every crypto "
                        "asset")]  # fmt: skip
    first: dict[str, int] = {}
    problems = []
    for j, asset in enumerate(assets):
        if asset in first:
            problems.append((f"{field}[{j}]", f"{asset!r} is listed twice (also [{first[asset]}]): its effect would "
                                              "apply twice"))  # fmt: skip
        first.setdefault(asset, j)
    return problems


def _correlation_problems(spec: ScenarioSpec, known: set[str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    pairs_seen: dict[frozenset[str], str] = {}
    valid = True
    for key, rho in spec.correlation.items():
        field = f"correlation['{key}']"
        parts = [p.strip() for p in key.split("/")]
        if len(parts) != 2 or not all(parts):
            problems.append((field, "key must name a pair as 'A/B'"))
            valid = False
            continue
        unknown = [p for p in parts if p not in known]
        if unknown:
            problems.append((field, f"unknown asset(s) {unknown}; known: {spec.asset_names}"))
            valid = False
            continue
        if parts[0] == parts[1]:
            problems.append((field, "an asset's correlation with itself is always 1; remove this key"))
            valid = False
            continue
        pair = frozenset(parts)
        if pair in pairs_seen:
            problems.append((field, f"same pair as correlation['{pairs_seen[pair]}']"))
            valid = False
        pairs_seen[pair] = key
        if not -1.0 < rho < 1.0:
            problems.append((field, f"must be strictly between -1 and 1, got {rho}"))
            valid = False
    if valid and spec.correlation:
        broken = _non_pd_block(spec.correlation_matrix())
        if broken is not None:
            names = [spec.asset_names[i] for i in broken]
            block = spec.correlation_matrix()[np.ix_(broken, broken)]
            detail = ", ".join(f"{names[i]}/{names[j]}={block[i, j]:g}" for i, j in itertools.combinations(
                range(len(names)), 2)) if len(names) <= 6 else (
                f"{len(names) * (len(names) - 1) // 2} pairs, smallest eigenvalue {np.linalg.eigvalsh(block).min():.3g}")  # fmt: skip
            problems.append(
                ("correlation", f"not positive-definite: the pairs among {names} cannot hold together ({detail})")
            )
    return problems


def _non_pd_block(corr: np.ndarray) -> tuple[int, ...] | None:
    """A minimal set of assets whose correlation block is not positive-definite, or None.

    Greedy: each asset in turn is dropped when the block stays broken without it. A principal block of a
    positive-definite matrix is positive-definite, so what is left breaks with every asset it holds:
    no proper subset does. At most one Cholesky a asset (searching subsets smallest first took about
    2^n of them: 10 s at 16 assets, about an hour at 25, for a matrix only broken as a whole)."""
    n = corr.shape[0]
    if _is_pd(corr):
        return None
    keep = list(range(n))
    for i in range(n):
        rest = [j for j in keep if j != i]
        if len(rest) >= 2 and not _is_pd(corr[np.ix_(rest, rest)]):
            keep = rest
    return tuple(keep)


def _is_pd(mat: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(mat)
    except np.linalg.LinAlgError:
        return False
    return bool(np.linalg.eigvalsh(mat).min() > 1e-10)


def _regime_problems(spec: ScenarioSpec) -> list[tuple[str, str]]:
    regimes = spec.regimes
    if regimes is None:
        return []
    problems: list[tuple[str, str]] = []
    names = [s.name for s in regimes.states]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append((f"regimes.states[{i}].name", f"duplicate name {name!r}"))
    n = len(names)
    if len(regimes.transition) != n:
        problems.append(("regimes.transition", f"must have {n} rows (one per state), got {len(regimes.transition)}"))
    for i, row in enumerate(regimes.transition):
        where = f"regimes.transition[{i}]"
        if len(row) != n:
            problems.append((where, f"must have {n} entries, got {len(row)}"))
            continue
        for j, p in enumerate(row):
            if not 0.0 <= p <= 1.0:
                problems.append((f"{where}[{j}]", f"must be a probability in [0, 1], got {p}"))
        if abs(math.fsum(row) - 1.0) > 1e-9:
            problems.append((where, f"must sum to 1, got {math.fsum(row):.12g}"))
    if regimes.initial not in names:
        problems.append(("regimes.initial", f"unknown state {regimes.initial!r}; states: {names}"))
    return problems


DXY_LOG_BAND = 10.0
"""The dollar index stays within its mean x e^+-10 (``generators.macro``); a scenario whose start or rate moves
would reach that band is refused, since the kernel would hold the series there without a word."""
POLICY_RATE_MAX = 1.0  # policy_rate.start's own bound: 100 %


INFLATION_MAX = 5.0  # |inflation| the series may reach: 500 %, the bound on its start and mean
SPREAD_SDS = 6.0  # how many standard deviations of a series' spread the bounds below allow for


def _spread(vol: float, years: float, reversion_per_year: float) -> float:
    """The std of an AR(1) / OU series' move from its start over ``years``: the random walk's vol sqrt(years) while
    that is below the stationary spread vol / sqrt(2 reversion), that spread after."""
    walk = vol * math.sqrt(years)
    return walk if reversion_per_year <= 0.0 else min(walk, vol / math.sqrt(2.0 * reversion_per_year))


def _macro_problems(spec: ScenarioSpec) -> list[tuple[str, str]]:
    """The macro series' combined effects kept meaningful, not only finite: 100 rate hikes of 1000 bps validated
    and gave a policy rate of 1,004 % and a dollar index of 6.45e5; a ``dxy.start`` of 1000 against a mean of 0.01
    was clamped to mean x e^10 (220) from the first step (review of 2026-12-04). Then (a second review, the same
    day) the series' own dynamics: inflation with ``phi: 0.99999, vol: 1`` ranged from -7,540 % to +5,480 %, and a
    dollar index with no reversion and vol 2, or moved by a rate rule's swings, sat at its band for hundreds of
    steps. Inflation's and the dollar index's reach (the start, SPREAD_SDS standard deviations of the spread over
    the horizon, and what feeds it) are bounded; the policy rate follows its rule (within inflation's bound)."""
    problems = []
    years = spec.horizon_days / 365.0
    macro = spec.macro
    infl, rate, dxy = macro.inflation, macro.policy_rate, macro.dxy
    if abs(math.log(dxy.start / dxy.mean)) > DXY_LOG_BAND:
        problems.append(("macro.dxy.start", f"{dxy.start:g} is more than e^{DXY_LOG_BAND:g} from macro.dxy.mean "
                         f"({dxy.mean:g}), the band the dollar index is kept in: it would start at the band's edge"))  # fmt: skip
    # inflation: monthly AR(1), so a month's reversion is 1 - phi (per year: 12 (1 - phi) in the OU sense)
    months = spec.horizon_days / (365.0 / 12.0)
    infl_spread = infl.vol * min(math.sqrt(months), 1.0 / math.sqrt(max(1.0 - infl.phi * infl.phi, 1e-300)))
    infl_reach = max(abs(infl.start), abs(infl.mean)) + SPREAD_SDS * infl_spread
    if infl_reach > INFLATION_MAX:
        problems.append(("macro.inflation.vol", f"{infl.vol:g} a month with phi {infl.phi:g} spreads inflation by "
                         f"{infl_spread:.3g} (std) over {spec.horizon_days} days: it could reach {infl_reach:.0%}, "
                         f"beyond +/-{INFLATION_MAX:.0%}"))  # fmt: skip
    hikes = sorted((s for s in spec.shocks if isinstance(s, RateHikeShock)), key=lambda s: s.day)
    stacked = list(itertools.accumulate(s.bps / 10_000.0 for s in hikes))
    if stacked and rate.start + max(stacked) > POLICY_RATE_MAX:  # the rule's own steps aside: the hikes' sum alone
        problems.append(("shocks", f"the rate hikes stack the policy rate to {rate.start + max(stacked):.0%} "
                         f"(macro.policy_rate.start {rate.start:g} plus {max(stacked) * 10_000:,.0f} bps), above "
                         f"the {POLICY_RATE_MAX:.0%} a policy rate may start at"))  # fmt: skip
    # the rule steps towards neutral + response (inflation - target) + noise, one step a meeting; hikes move it
    # from there and the rule pulls it back, so its high is the larger of the two. The rate itself is not bounded
    # beyond that (a high-inflation scenario's rule may set one above 100 %); what it moves, the dollar index, is
    meetings = spec.horizon_days // rate.meeting_every_days
    target_high = rate.neutral + rate.inflation_response * (min(infl_reach, INFLATION_MAX) - rate.inflation_target)
    rule_high = min(max(rate.start, target_high + SPREAD_SDS * rate.noise), rate.start + rate.step * meetings)
    rate_high = max(rule_high, rate.start + max(max(stacked, default=0.0), 0.0))
    widest = max((abs(x) for x in stacked), default=0.0)
    if widest * abs(dxy.rate_beta) > DXY_LOG_BAND:
        problems.append(("macro.dxy.rate_beta", f"{dxy.rate_beta:g} x the rate hikes' stacked {widest * 10_000:,.0f} "
                         f"bps moves the dollar index by e^{widest * abs(dxy.rate_beta):.3g}, beyond the e^"
                         f"{DXY_LOG_BAND:g} band it is kept in: it would sit at the band's edge"))  # fmt: skip
    elif not problems:
        dxy_spread = _spread(dxy.vol, years, dxy.reversion)
        rate_range = max(rate_high - rate.start, rate.start)  # up to its high, or down to 0
        own, from_rate = SPREAD_SDS * dxy_spread, abs(dxy.rate_beta) * rate_range
        dxy_reach = abs(math.log(dxy.start / dxy.mean)) + own + from_rate
        if dxy_reach > DXY_LOG_BAND:  # named by the larger part: its own spread, or the rate's moves
            field = "macro.dxy.rate_beta" if from_rate > own else "macro.dxy.vol"
            problems.append((field, f"the dollar index could move e^{dxy_reach:.3g} from macro.dxy.mean, beyond the "
                             f"e^{DXY_LOG_BAND:g} band it is kept in: {SPREAD_SDS:g} std of its own spread over "
                             f"{spec.horizon_days} days (vol {dxy.vol:g} a year, reversion {dxy.reversion:g}) is "
                             f"e^{own:.3g}, rate_beta {dxy.rate_beta:g} x the policy rate's range ({rate_range:.1%}: "
                             f"its rule's reach and the hikes) e^{from_rate:.3g}"))  # fmt: skip
    return problems


ACTIVE_COUNT_MAX = 2.0**53  # active addresses stay exact integers (a float holds every integer up to 2**53)


def _onchain_problems(spec: ScenarioSpec) -> list[tuple[str, str]]:
    """Active addresses' trend times the e^+-``ACTIVE_LOG_BAND`` they may stray from it stays an exact integer:
    ``active_addresses: 1e10`` with ``active_growth: 2`` over 11 years validated, and the count wrapped through
    int64 to -9.2e18 (review of 2026-12-04)."""
    from prometheus_sim.generators.onchain import ACTIVE_LOG_BAND

    oc = spec.onchain
    top = math.log(oc.active_addresses) + max(oc.active_growth, 0.0) * spec.horizon_days / 365.0 + ACTIVE_LOG_BAND
    if top > math.log(ACTIVE_COUNT_MAX):
        return [("onchain.active_growth", f"active_addresses {oc.active_addresses:g} growing {oc.active_growth:g} a "
                 f"year for {spec.horizon_days} days, with the e^{ACTIVE_LOG_BAND:g} they may stray above their trend, "
                 f"reach e^{top:.1f}, beyond the 2^53 (e^{math.log(ACTIVE_COUNT_MAX):.1f}) a count stays exact to")]  # fmt: skip
    # how far the count strays from its trend: its own noise and the driver's returns (x active_price_beta), piled up
    # over the reversion's memory (1 / (2 kappa) years) or the run, whichever is shorter; 6 std of that must stay
    # inside the e^+-ACTIVE_LOG_BAND the kernel holds it to, or the series sat at the clamp without a word
    # (active_vol 5 at reversion 0.001 touched it on 8 of 20 paths; review of 2026-12-05, session 21)
    try:
        driver = spec.assets[spec.driver_index]
    except ValueError:  # an unknown onchain.driver: named by its own check
        return []
    states = spec.regimes.states if spec.regimes else [RegimeState(name="base")]
    driver_vol = driver.vol * (1.0 + driver.exposure * (max(s.vol_mult for s in states) - 1.0))
    memory = min(spec.horizon_days / 365.0, 1.0 / (2.0 * oc.active_reversion))
    reach = 6.0 * math.hypot(oc.active_vol, oc.active_price_beta * driver_vol) * math.sqrt(memory)
    risky = spec.default_risky_assets()
    dated = sum(abs(sh.size) for sh in spec.shocks if (isinstance(sh, CrashShock) and driver.name in
                (sh.assets or risky)) or (isinstance(sh, WhaleDumpShock) and (sh.asset or driver.name) == driver.name))  # fmt: skip
    reach += abs(oc.active_price_beta) * min(dated, 5.0)  # a dated move, x beta at once (the kernel caps it at 5)
    if reach > ACTIVE_LOG_BAND:
        field = "onchain.active_vol" if oc.active_vol >= abs(oc.active_price_beta) * driver_vol else (
            "onchain.active_price_beta")  # fmt: skip
        return [(field, f"active addresses stray up to e^{reach:.1f} from their trend (6 std of active_vol "
                 f"{oc.active_vol:g} and active_price_beta {oc.active_price_beta:g} x {driver.name}'s vol "
                 f"{driver_vol:g}, piled up over {memory * 365:.0f} days at active_reversion {oc.active_reversion:g}), "
                 f"beyond the e^{ACTIVE_LOG_BAND:g} the simulator holds them to: raise active_reversion or lower "
                 "them")]  # fmt: skip
    return []


def _peg_span_years(asset: AssetSpec, shocks: list) -> float:
    """The longest span, in years, over which a peg's noise piles up: ``1 / (2 kappa)`` at its own reversion, or
    over a de-peg's recovery, which reverts at ``ln 2 / half-life`` instead (a recovery half-life of 3,650 days on
    a kappa-1e5 peg validated and took it to e^117 and e^-131 of its level: review of 2026-12-05)."""
    span = 1.0 / (2.0 * asset.process.peg.kappa)
    for sh in shocks:
        if isinstance(sh, DepegShock) and sh.asset == asset.name:
            kappa = math.log(2.0) / (sh.recovery_half_life_days / 365.0)
            span = max(span, min(sh.recovery_days / 365.0, 1.0 / (2.0 * kappa)))
    return span


def _capped_decay_sum(first: float, persistence: float, cap: float, n_days: int) -> float:
    """``sum(min(first x persistence^n, cap) for n in range(n_days))`` in closed form: a fed variance's days."""
    if n_days <= 0 or first <= 0.0:
        return 0.0
    if persistence >= 1.0:
        return min(first, cap) * n_days
    at_cap = 0 if first <= cap else min(n_days, math.ceil(math.log(first / cap) / -math.log(persistence)))
    rest = n_days - at_cap
    return cap * at_cap + first * persistence**at_cap * (1.0 - persistence**rest) / (1.0 - persistence)


def _garch_aftermath(asset: AssetSpec, shocks: list, days: int, base_mult: float, crashes: list) -> float:
    """The extra log-price move a GARCH asset's dated crashes and dumps leave after their own jump.

    The kernel feeds a shock's size (divided by its ``vol_mult`` above 1) into the GARCH variance once a day, whatever
    the shock's ``duration_days``: a shock of size s on day d raises the next day's variance by ``alpha (s /
    vol_mult)^2``, which then decays at ``alpha + beta`` a day. The kernel multiplies it by the multipliers on top of
    the GARCH variance while it decays: ``base_mult`` (the worst regime's and every vol signal's, which may act any
    day) and the ``vol_mult`` of each of ``crashes`` whose days overlap the decay (until it is below a hundredth of a
    day's cap, or the run ends), and holds each day at the day's cap (``DAY_SD_MAX`` squared). The sum over the
    days after each shock, never more than the cap every day, drags the log price down by half of it and spreads
    it by its square root. Returns the drag plus 6 std.

    Ten crashes of -3 on a GARCH asset of persistence 0.9999 validated and held it at the band for 33 steps (review
    of 2026-12-05); so did a crash of -2 followed by one of ``vol_mult: 7`` at minute steps, scaled by the regime's
    multiplier alone. Every crash's multiplier on every shock, capped on the total rather than a day at a time,
    refused four crashes of ``vol_mult`` 2 a year apart on ``crypto_winter`` whose run ends 19 log units from its
    start at worst (a review, session 22).
    """
    from prometheus_sim.generators.price import DAY_SD_MAX, VOL_MULT_MAX

    garch = asset.process.garch
    if garch is None or not shocks:
        return 0.0
    persistence = garch.alpha + garch.beta
    cap = DAY_SD_MAX**2
    variance = 0.0
    for _, sh in shocks:
        fed = garch.alpha * (sh.size / max(getattr(sh, "vol_mult", 1.0), 1.0)) ** 2
        n_days = days - sh.day - 1  # the days after the shock's own, to the run's end
        if fed == 0.0 or n_days <= 0:
            continue
        # the days the fed variance matters: until it is below a hundredth of the cap even at the largest multiplier
        fades = (
            n_days
            if persistence >= 1.0
            else math.log(max(fed * VOL_MULT_MAX**2 / (0.01 * cap), 1.0)) / -math.log(persistence)
        )
        start, end = sh.day + 1, sh.day + 1 + min(n_days, fades)
        mult = base_mult * math.prod(c.vol_mult for _, c in crashes
                                     if c.vol_mult > 1.0 and c.day < end and c.day + c.duration_days > start)  # fmt: skip
        variance += _capped_decay_sum(fed * min(mult, VOL_MULT_MAX) ** 2, persistence, cap, n_days)
    variance = min(variance, cap * days)
    return 0.5 * variance + 6.0 * math.sqrt(variance)


def _log_move_problems(spec: ScenarioSpec) -> list[tuple[str, str]]:
    """Reject specs whose log-price move could reach the kernel's band (start x e^+-300) or leave float range.

    The asset's own drift, vol and jumps under its worst regime, then, taken at their worst since a
    validator cannot know how often a signal fires: every drift signal on the asset in effect every day,
    every vol signal and crash multiplying its volatility at once (the kernel's caps: the product at
    ``VOL_MULT_MAX``, a day's std at ``DAY_SD_MAX``) for as long as they can last, and every crash's and whale
    dump's jump (the dumps' were left out until 2026-12-04: 110 dumps of -3 held BTC at the band).
    Before the signals and crashes were counted, a drift signal of strength 10 that always fired, or a
    crash with ``vol_mult: 10`` for 3,000 days on a vol-1 asset, validated and held prices at the band
    for most of the run. A peg ignores drift and drift signals (it reverts to its level), so they are not
    counted for one.
    """
    from prometheus_sim.generators.params import long_run_diffusive_vols
    from prometheus_sim.generators.price import DAY_SD_MAX, VOL_MULT_MAX

    problems: list[tuple[str, str]] = []
    # a GARCH asset whose jumps feed it more variance than its vol leaves room for runs at its long-run vol, not
    # the declared one: bounded with the declared vol, a vol-0.5 asset with strong jumps validated and ended at
    # e^-24 to e^-50 of its start, and a vol-0.01 one was held at the band (review of 2026-12-04)
    long_run = {name: actual for name, (_, actual) in long_run_diffusive_vols(spec).items()}
    days = spec.horizon_days
    years = days / 365.0
    states = spec.regimes.states if spec.regimes else [RegimeState(name="base")]
    worst_drift = max(abs(s.drift_mult) for s in states)
    worst_vol = max(s.vol_mult for s in states)
    risky = spec.default_risky_assets()
    crashes = [(k, sh) for k, sh in enumerate(spec.shocks) if isinstance(sh, CrashShock)]
    try:
        driver = spec.asset_names[spec.driver_index]
    except ValueError:  # an unknown onchain.driver: named by its own check
        driver = None
    dumps = [(k, sh) for k, sh in enumerate(spec.shocks) if isinstance(sh, WhaleDumpShock)]
    for i, asset in enumerate(spec.assets):
        peg = asset.process.type == "peg"
        vol = max(asset.vol, long_run.get(asset.name, 0.0))
        mult_d = 1.0 + asset.exposure * (worst_drift - 1.0)
        mult_v = 1.0 + asset.exposure * (worst_vol - 1.0)
        jumps = asset.process.jumps
        jump_move = jumps.intensity * (abs(jumps.mean) + 3 * jumps.std) if jumps else 0.0
        drift = 0.0 if peg else abs(asset.drift) * max(mult_d, 1.0)
        per_year = drift + 0.5 * (vol * mult_v) ** 2 + jump_move
        # a peg's log price is an OU process: its spread over any span is at most sigma / sqrt(2 kappa), and it
        # has no drag; otherwise the spread grows with the square root of time
        peg_span = _peg_span_years(asset, spec.shocks) if peg else years
        spread_years = min(years, peg_span)
        move = (jump_move * years if peg else per_year * years) + 6 * vol * mult_v * math.sqrt(spread_years)
        if peg:  # it reverts from its start price to 1, and its depegs push it down
            move += abs(math.log(asset.start_price)) + sum(
                -math.log1p(-sh.depth) for sh in spec.shocks if isinstance(sh, DepegShock) and sh.asset == asset.name
            )
        hits = [(k, sg) for k, sg in enumerate(spec.signals) if asset.name in (sg.assets or risky)]
        drift_signals = [(k, sg) for k, sg in hits if sg.effect == "drift" and not peg]
        vol_signals = [(k, sg) for k, sg in hits if sg.effect == "vol" and sg.strength > 0.0]
        my_crashes = [(k, sh) for k, sh in crashes if asset.name in (sh.assets or risky)]
        my_dumps = [(k, sh) for k, sh in dumps if (sh.asset or driver) == asset.name]
        move += days * sum(abs(sg.strength) for _, sg in drift_signals)
        move += sum(abs(sh.size) for _, sh in my_crashes) + sum(abs(sh.size) for _, sh in my_dumps)
        mult = mult_v * math.prod(sh.vol_mult for _, sh in my_crashes if sh.vol_mult > 1.0)
        mult = min(mult * math.prod(1.0 + sg.strength for _, sg in vol_signals), VOL_MULT_MAX)
        signal_mult = math.prod(1.0 + sg.strength for _, sg in vol_signals)
        aftermath = _garch_aftermath(asset, my_crashes + my_dumps, days, mult_v * signal_mult, my_crashes)
        move += aftermath
        if mult > mult_v:
            raised = days if vol_signals else min(days, sum(sh.duration_days for _, sh in my_crashes))
            if peg:
                move += 6 * vol * mult * math.sqrt(min(raised / 365.0, peg_span))
            else:
                steps = raised * spec.steps_per_day
                sd = min(vol * mult / math.sqrt(365.0 * spec.steps_per_day), DAY_SD_MAX / math.sqrt(spec.steps_per_day))
                move += 0.5 * sd * sd * steps + 6 * sd * math.sqrt(steps)
        if move > MAX_LOG_MOVE:
            causes = [f"signals[{k}]" for k, _ in drift_signals + vol_signals]
            if peg:
                causes += [f"shocks[{k}]" for k, sh in enumerate(spec.shocks)
                           if isinstance(sh, DepegShock) and sh.asset == asset.name]  # fmt: skip
            causes += [f"shocks[{k}]" for k, sh in sorted(my_crashes + my_dumps) if getattr(sh, "vol_mult", 1.0) > 1.0
                       or sh.size != 0.0]  # fmt: skip
            extra = f" with {', '.join(causes)} at their worst (always in effect)" if causes else ""
            if peg and peg_span > 1.0 / (2.0 * asset.process.peg.kappa):
                extra += (f" (its noise piles up over {peg_span * 365:.0f} days, not the peg's "
                          f"{365 / (2.0 * asset.process.peg.kappa):.3g}: a de-peg's recovery_half_life_days reverts it "
                          "slower than its kappa)")  # fmt: skip
            if aftermath > 0.0:
                extra += (f" (of which {aftermath:.0f} from the shocks' size fed into its GARCH variance, which "
                          f"decays at alpha + beta = {asset.process.garch.alpha + asset.process.garch.beta:g} a day "
                          "whatever their duration_days)")  # fmt: skip
            if vol > asset.vol:
                extra += (f" (at its long-run diffusive vol {vol:.3g}, not the declared {asset.vol:g}: its jumps "
                          "feed GARCH more variance than vol leaves room for)")  # fmt: skip
            problems.append(
                (
                    f"assets[{i}]",
                    f"drift, vol and jumps{extra} over {days} days imply log-price moves up to {move:.0f}, "
                    f"beyond +/-{MAX_LOG_MOVE:.0f}: prices would be held at the kernel's band or leave float range",
                )
            )
    return problems
