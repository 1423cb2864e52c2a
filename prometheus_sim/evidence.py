"""Evidence: the one way a part that measures something hands its figures to the acceptance table.

An evidence file is JSON with a ``kind``, a ``schema_version``, the measured ``data`` (validated
against the kind's schema: every problem names its field) and its ``provenance``: the command and
package version that wrote it, the time, the machine, and where they apply the model's registry
URI and resolved version, the scenarios' digests and the seeds. ``provenance.data_sha256`` is the
SHA-256 of the canonical ``data``, so a figure edited after it was written is detected.

A file without provenance (or with a digest that does not match) is read, shown and never counted:
its rows say "unverified". Files are read from ``<run>/evidence/*.json`` and from paths given
with ``--evidence``. The forecaster's evaluation, the API benchmark, soak and security tests and the
live integration tests each write one with :func:`write_evidence`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prometheus_sim import __version__

EVIDENCE_DIR = "evidence"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


# ---------------------------------------------------------------- one schema per kind (version 1)


class ForecastEval(_Strict):
    """The forecaster's out-of-sample errors (the forecasting issue writes it)."""

    mae_pct: float | None = Field(ge=0)  # None: the model forecasts fewer than 7 days (mae_pct_why)
    mae_pct_low: float | None = None
    mae_pct_high: float | None = None
    mae_pct_why: str | None = None
    mae_pct_short_horizon: list[float | None] | None = None  # a short model's MAE over its days, with its interval
    mape_7d: float | None = Field(default=None, ge=0)  # None: the model forecasts fewer than 7 days (mape_7d_why)
    mape_7d_low: float | None = None
    mape_7d_high: float | None = None
    mape_7d_why: str | None = None
    n_forecasts: int = Field(ge=1)
    horizon_days: int | None = Field(default=None, ge=1)  # the model's; MAE runs over days 1..min(7, it)
    # real markets whose scored days the model's scenarios were set to match: not out of sample, so acceptance does
    # not count the figures (they were counted; review of 2026-12-05, session 19)
    in_time_markets: list[str] = Field(default_factory=list)
    table_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # the table.csv the report shows


class ApiBench(_Strict):
    """The inference API under load (the API issue writes it)."""

    p50_ms: float = Field(ge=0)
    p99_ms: float = Field(ge=0)
    predictions_per_s: float = Field(ge=0)
    n_requests: int = Field(ge=1)
    duration_s: float = Field(gt=0)
    failed_requests: int = Field(ge=0)


class ApiSoak(_Strict):
    """A bounded soak test: the stand-in for 30-day uptime, reported on its own proxy row."""

    duration_s: float = Field(gt=0)
    n_requests: int = Field(ge=1)
    failed_requests: int = Field(ge=0)


class ApiSecurity(_Strict):
    """Outcomes of the API's security tests, one flag per guide criterion, with the tests that decided it."""

    authentication: bool
    rate_limiting: bool
    input_validation: bool
    no_sensitive_logs: bool
    tests: tuple[str, ...] = Field(min_length=1)


class LiveIntegration(_Strict):
    """Outcomes of the live integration tests against a chain (the live issue writes it)."""

    reads_vault_manager: bool
    submits_to_policy_engine: bool
    auto_rebalance_triggers: bool
    chain_id: int = Field(ge=1)
    tests: tuple[str, ...] = Field(min_length=1)


SCHEMAS: dict[str, dict[int, type[_Strict]]] = {
    "forecast_eval": {1: ForecastEval},
    "api_bench": {1: ApiBench},
    "api_soak": {1: ApiSoak},
    "api_security": {1: ApiSecurity},
    "live_integration": {1: LiveIntegration},
}


class Machine(_Strict):
    hostname: str
    platform: str
    python: str
    cpu_count: int = Field(ge=1)


class Provenance(_Strict):
    command: str = Field(min_length=1)
    package_version: str
    written_at: datetime
    machine: Machine
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    model_uri: str | None = None
    model_version: str | None = None
    scenario_digests: dict[str, str] | None = None
    seeds: str | None = None
    # SHA-256 of the data and every provenance field above (model, package, time, command...): with data_sha256
    # alone, a file's model version, package version and time could be edited and the file still read as verified,
    # and the newest by an edited time was the one counted (review of 2026-12-05, session 19). None in files written
    # before then, which are not counted.
    record_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class EvidenceError(ValueError):
    """An evidence file that cannot be read; the message names the file and the field."""


class Evidence(BaseModel):
    """One evidence file as read: its data always, its provenance when present and intact."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: str
    kind: str
    schema_version: int
    data: dict[str, Any]
    provenance: Provenance | None
    problem: str | None = None  # why it is not counted (no provenance, digest mismatch)

    @property
    def verified(self) -> bool:
        return self.provenance is not None and self.problem is None


def data_digest(data: dict[str, Any]) -> str:
    """SHA-256 of the data's canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def record_digest(kind: str, data: dict[str, Any], provenance: dict[str, Any]) -> str:
    """SHA-256 of the kind, the data and the provenance (all but this digest), canonical JSON. No secret key: like a
    market manifest's digests it catches an edit or a copy, not a determined forger who recomputes it."""
    body = {"kind": kind, "data": data, "provenance": {k: v for k, v in provenance.items() if k != "record_sha256"}}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def machine() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count() or 1,
    }


def write_evidence(
    path: str | Path,
    kind: str,
    data: dict[str, Any],
    command: str,
    *,
    model_uri: str | None = None,
    model_version: str | None = None,
    scenario_digests: dict[str, str] | None = None,
    seeds: str | None = None,
) -> Path:
    """Validate ``data`` against the kind's newest schema and write it with its provenance."""
    version = max(SCHEMAS[kind]) if kind in SCHEMAS else None
    if version is None:
        raise EvidenceError(f"kind: unknown evidence kind {kind!r}; known: {sorted(SCHEMAS)}")
    clean = _validate(str(path), "data", SCHEMAS[kind][version], data).model_dump(mode="json")
    provenance = Provenance(
        command=command, package_version=__version__, written_at=datetime.now(UTC), machine=Machine(**machine()),
        data_sha256=data_digest(clean), model_uri=model_uri, model_version=model_version,
        scenario_digests=scenario_digests, seeds=seeds,
    )  # fmt: skip
    prov = provenance.model_dump(mode="json")
    prov["record_sha256"] = record_digest(kind, clean, prov)
    doc = {"kind": kind, "schema_version": version, "data": clean, "provenance": prov}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out)
    return out


def _validate(path: str, where: str, model: type[BaseModel], value: Any) -> BaseModel:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg'].lower()}, got {e.get('input')!r}"
            if e["loc"]
            else f"{where}: {e['msg'].lower()}"
            for e in exc.errors()
        )
        raise EvidenceError(f"{path}: {problems}") from None


def read_evidence(path: str | Path) -> Evidence:
    """Read and validate one evidence file; :class:`EvidenceError` names the file and the field."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise EvidenceError(f"{p}: no such evidence file") from None
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise EvidenceError(f"{p}: expected a JSON object with kind, schema_version, data and provenance")
    kind = doc.get("kind")
    if kind not in SCHEMAS:
        raise EvidenceError(f"{p}: kind: {kind!r} is not an evidence kind; known: {sorted(SCHEMAS)}")
    version = doc.get("schema_version")
    if version not in SCHEMAS[kind]:
        raise EvidenceError(
            f"{p}: schema_version: {version!r} is not a version of {kind!r}; known: {sorted(SCHEMAS[kind])}"
        )
    data = _validate(str(p), "data", SCHEMAS[kind][version], doc.get("data")).model_dump(mode="json")
    extra = set(doc) - {"kind", "schema_version", "data", "provenance"}
    if extra:
        raise EvidenceError(f"{p}: unknown top-level field(s) {sorted(extra)}")
    raw = doc.get("provenance")
    if raw is None:
        return Evidence(path=str(p), kind=kind, schema_version=version, data=data, provenance=None,
                        problem="it has no provenance (who wrote it, with what, when)")  # fmt: skip
    provenance = _validate(str(p), "provenance", Provenance, raw)
    problem = None
    if provenance.record_sha256 is None:  # before its data's schema gained fields too: not an edit, an old file
        problem = "its provenance carries no record_sha256 (written before 2026-12-05's session 19): re-run its command"
    elif provenance.data_sha256 != data_digest(data):
        problem = "its data does not match provenance.data_sha256 (edited after it was written)"
    elif provenance.record_sha256 != record_digest(kind, data, provenance.model_dump(mode="json")):
        problem = "its provenance does not match provenance.record_sha256 (edited after it was written)"
    elif provenance.package_version != __version__:  # other code: its figures say nothing of this version's
        problem = (f"written by prometheus-sim {provenance.package_version}, this is {__version__}: re-run its "
                   "command")  # fmt: skip
    return Evidence(path=str(p), kind=kind, schema_version=version, data=data, provenance=provenance, problem=problem)


def collect_evidence(run_dir: str | Path | None, extra: list[str | Path] = ()) -> dict[str, list[Evidence]]:
    """Every evidence file of a run (``<run>/evidence/*.json``) and the ``extra`` paths, by kind.

    Raises :class:`EvidenceError` on the first file that cannot be read. Older loose files
    (``forecast_eval.json``, ``inference_bench.json`` in the run directory) are refused by name:
    they carry no schema and no provenance.
    """
    paths: list[Path] = []
    if run_dir is not None:
        run = Path(run_dir)
        for legacy in ("forecast_eval.json", "inference_bench.json"):
            if (run / legacy).exists():
                raise EvidenceError(
                    f"{run / legacy}: a loose result file without schema or provenance is not evidence; "
                    f"write it with prometheus_sim.evidence.write_evidence into {run / EVIDENCE_DIR}/"
                )
        paths += sorted((run / EVIDENCE_DIR).glob("*.json"))
    paths += [Path(p) for p in extra]
    out: dict[str, list[Evidence]] = {}
    for path in paths:
        ev = read_evidence(path)
        out.setdefault(ev.kind, []).append(ev)
    return out


__all__ = [
    "EVIDENCE_DIR", "Evidence", "EvidenceError", "SCHEMAS", "collect_evidence", "data_digest", "read_evidence",
    "write_evidence",
]  # fmt: skip
