"""What a policy was trained on, set against what it is evaluated on: the same scenario, in-sample paths, real days in time.

A registered policy's metadata (``rl.dqn``) records its training scenarios in full, their seeds and the
real days each was set to match (``calibrated_to``). ``policy evaluate`` asks three questions of it:

- is a source the scenario the policy trained on? Compared up to the shorter horizon (a path's first
  days do not depend on the horizon, so a cut of the training scenario is the same scenario), by what
  shapes its paths, never by name: ``default`` at four steps a day is another scenario, and a renamed
  copy of ``default`` is ``default``;
- does a saved simulated market hold a path the policy trained on (path 0 of a training seed, of any scenario:
  the random numbers are keyed by seed and path, not by scenario)? Then it is in-sample, and evaluating on it
  would flatter the policy;
- are a real market's days out of time, i.e. after every training scenario's calibration window?
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from prometheus_sim.scenario import ScenarioError, ScenarioSpec


def training_specs(meta: dict[str, Any]) -> dict[str, ScenarioSpec]:
    """The policy's training scenarios as they ran (empty for a policy registered before they were recorded)."""
    out = {}
    for name, dump in (meta.get("scenario_specs") or {}).items():
        try:
            out[name] = ScenarioSpec.from_dict(dump)
        except ScenarioError:  # recorded by another version of the schema: compared by digest below
            continue
    return out


def training_scenario(meta: dict[str, Any], spec: ScenarioSpec) -> str | None:
    """The name of the training scenario ``spec`` is, up to the shorter of their horizons; None if it is none."""
    recorded = training_specs(meta)
    for name, trained in recorded.items():
        days = min(trained.horizon_days, spec.horizon_days)
        if trained.with_horizon(days).paths_digest() == spec.with_horizon(days).paths_digest():  # any name
            return name
    if recorded:
        return None
    # a policy registered before the specs were recorded: its digests, which match only at the same horizon
    return next((name for name, d in (meta.get("scenario_digests") or {}).items() if d == spec.digest()), None)


def seen_seeds(meta: dict[str, Any]) -> set[int]:
    """Seeds whose path 0 of a training scenario the policy has seen: trained on, or chosen on (``--select-seeds``),
    or, for a policy that observes forecasts, seen by its forecaster (:mod:`prometheus_sim.rl.forecast_obs`: its
    columns are in-sample there)."""
    return ({int(s) for s in meta.get("seeds", [])} | {int(s) for s in (meta.get("selection") or {}).get("seeds", [])}
            | {int(s) for s in (meta.get("forecast") or {}).get("seeds", [])})  # fmt: skip


def calibration_windows(meta: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(names, calibrated_to) of every scenario behind a model's inputs: its training scenarios and, for a policy
    that observes forecasts, its forecaster's (named ``forecaster:<scenario>``: real days that forecaster was set
    to match are in time for the policy too)."""
    names = sorted(meta.get("scenario_digests") or {})
    windows = dict(meta.get("calibrated_to") or {})
    forecast = meta.get("forecast") or {}
    for name in sorted(forecast.get("scenario_digests") or {}):
        names.append(f"forecaster:{name}")
        windows[f"forecaster:{name}"] = (forecast.get("calibrated_to") or {}).get(name)
    return names, windows


def in_sample_rows(meta: dict[str, Any], market) -> list[int]:
    """Rows of a saved simulated ``market`` that are paths the policy has seen: path 0 of a training seed, or of a
    seed its checkpoint was chosen on (``policy train --select-seeds``, :mod:`prometheus_sim.rl.select`)."""
    if market.is_real or market.spec is None:
        return []
    return seen_rows(meta, market.path_ids, market.seeds)


def seen_rows(meta: dict[str, Any], path_ids, seeds) -> list[int]:
    """:func:`in_sample_rows` of a simulated market given as its rows' path ids and seeds (what
    a saved market's manifest records, so a sweep checks one without loading its arrays).

    Whatever the scenario: the random numbers are keyed by seed, path, step and stream, not by scenario, so path 0 of
    a training seed of any scenario draws the training path's shocks (``default`` with one crash added on day 1090
    had the training path's closes on 1,090 of 1,095 days; whale_dump at a training seed correlated 0.82-0.97 with
    it, day by day). Until 2026-12-05 (session 19) only the training scenario's own rows were refused (review);
    ``policy evaluate`` and ``forecast evaluate`` already refused training seeds of any scenario file."""
    seen = seen_seeds(meta)
    return [
        i for i, (path, seed) in enumerate(zip(path_ids, seeds, strict=True)) if int(path) == 0 and int(seed) in seen
    ]


def out_of_time(meta: dict[str, Any], first_day: dt.date) -> bool | None:
    """True when every training scenario declares the real days it was set to match (``calibrated_to``) and the
    scored days, from ``first_day`` on, come after all of them; False when they start inside or before one; None
    when unknown.

    Forward only, as walk-forward testing has it: days before a window are not out of time either, since the
    scenario's drift, vol and correlations were set on later days than these (a policy trained on a 2020-2023 fit
    and scored on 2018-2019 knew how the next years would move). A review (5eda0d2) had called days wholly before a
    window out of time; the next (2026-12-05, session 24) found that this let a model fitted on the future count as
    out-of-time evidence in acceptance, where the README says "only after every such window"."""
    names, windows = calibration_windows(meta)
    known = [windows[n] for n in names if windows.get(n)]
    if known and first_day <= max(dt.date.fromisoformat(w[1]) for w in known):
        return False
    return True if names and len(known) == len(names) else None


def time_basis(meta: dict[str, Any], first_day: dt.date, cut: bool, days_kept: int | None = None,
               who: str = "policy", cut_by: str = "--real-from",
               option_for: Callable[[dt.date], str] | None = None) -> str:  # fmt: skip
    """Whether real days from ``first_day`` on are out of time for the policy, and why, in one sentence.

    Out of time only when every training scenario declares the real days it was set to match
    (``calibrated_to``) and ``first_day`` is after all of them (:func:`out_of_time`); a scenario that declares
    none leaves it unknown. ``cut``: the days were cut by ``--real-from`` (else the market's whole history);
    ``days_kept``: only the first so many days are used (``--horizon-days``), not the whole history; ``who``: the
    model's kind (a forecaster's metadata records the same fields); ``cut_by``: the option that cut the days;
    ``option_for``: that option as it would start the scored days at a date (default ``--real-from DATE``).
    """
    names, windows = calibration_windows(meta)
    known = {n: windows[n] for n in names if windows.get(n)}
    unknown = [n for n in names if not windows.get(n)]
    if cut and days_kept is not None:  # both: the horizon's cut went unsaid (review of 2026-12-05, session 24)
        days = f"the days from {first_day} on ({cut_by}), the market cut to {days_kept} days in all (--horizon-days)"
    elif cut:
        days = f"the days from {first_day} on ({cut_by})"
    elif days_kept is not None:  # a 200-day slice was called "the whole real history" (review)
        days = f"the real history's first {days_kept} days (from {first_day}, --horizon-days)"
    else:
        days = f"the whole real history (from {first_day})"
    trained = f"the {who} was trained on simulated markets only ({', '.join(names) or 'unrecorded'})"
    if not names:
        return f"{days}: {trained}; whether these days are out of time is unknown"
    parts = [f"{days}: {trained}, so no real bar was in its training data"]
    if known:
        last = max(dt.date.fromisoformat(w[1]) for w in known.values())
        spans = ", ".join(sorted({f"{w[0]}..{w[1]}" for w in known.values()}))
        after = first_day > last
        if after and not unknown:
            parts.append(f"its scenarios were set to match real days {spans}, all before these: out of time")
        elif after:
            parts.append(f"the scenarios that say so were set to match real days {spans}, all before these")
        else:
            earliest = min(dt.date.fromisoformat(w[0]) for w in known.values())
            why = ("which begin after these do, so it was trained on statistics of later days than these (a backcast, "
                   "not a forward test)" if first_day < earliest else "which these overlap, so it saw their statistics "
                   "(not this path)")  # fmt: skip
            parts.append(
                f"NOT out of time: its scenarios were set to match real days {spans}, {why}; only days after {last} "
                f"are out of time ({(option_for or (lambda d: f'--real-from {d}'))(last + dt.timedelta(days=1))})"
            )
    if unknown:
        parts.append(f"{', '.join(unknown)} declare no calibration window (calibrated_to): out of time for them is "
                     "unknown")  # fmt: skip
    return "; ".join(parts)


__all__ = [
    "calibration_windows",
    "in_sample_rows",
    "out_of_time",
    "seen_rows",
    "seen_seeds",
    "time_basis",
    "training_scenario",
    "training_specs",
]
