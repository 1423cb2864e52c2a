"""The model registry: MLflow, with a local SQLite store and artifact folder inside the project by default.

No server is needed and nothing is written to the home directory: the default tracking URI is
``sqlite:///<project>/.mlflow/mlflow.db`` with artifacts in ``<project>/.mlflow/artifacts``
(``<project>`` is the source checkout, or the current directory for an installed package).
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` points everything at a real MLflow server instead.

Models are referred to as ``name@version``, ``name@latest`` or ``name@alias`` (``name`` alone is
``@latest``); a reference the registry cannot resolve is an error naming what exists.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIR = _PACKAGE_ROOT if (_PACKAGE_ROOT / "pyproject.toml").exists() else Path.cwd()
DEFAULT_STORE = PROJECT_DIR / ".mlflow"
FORECASTER_NAME = "prometheus-forecaster"
DQN_NAME = "prometheus-dqn"  # where policies are registered, and their metadata's kind


def check_model_name(name, field: str = "register_as") -> str:
    """A registered model's name MLflow's registry takes (no '/', ':' or '%'; no '@', which our references read as
    a version; not blank), or a ValueError naming
    ``field``: a refused name was found by ``log_model`` only after the whole training run."""
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/:%@"):
        raise ValueError(f"{field}: a registered model's name (no '/', ':', '%' or '@'), got {name!r}")
    return name


KIND_TAG = "prometheus_kind"  # a registered model's tag naming what it holds: prometheus-dqn or prometheus-forecaster
DEFAULT_NAMES = {DQN_NAME: DQN_NAME, FORECASTER_NAME: FORECASTER_NAME}  # kind -> its default registered name


def check_name_kind(name: str, kind: str, uri: str) -> None:
    """Refuse, before training, to register a ``kind`` model under a name that holds the other kind's models: the
    other kind's default name, or a registered model tagged (:data:`KIND_TAG`) as the other kind. ``policy train
    --register-as prometheus-forecaster`` made version N of the forecasters a policy, and every default
    ``prometheus-forecaster@latest`` failed until a new forecaster was trained (review of 2026-12-05, session 24).
    Models registered before the tag existed carry none and are not checked."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from prometheus_sim.redact import redacted_url

    other = next(k for k in DEFAULT_NAMES if k != kind)
    if name == DEFAULT_NAMES[other]:
        raise ValueError(f"register_as: {name!r} is where {other} models are registered (their default name); give "
                         f"this {kind} another name")  # fmt: skip
    try:
        tagged = MlflowClient(uri).get_registered_model(name).tags.get(KIND_TAG)
    except MlflowException:  # not registered yet
        return
    if tagged is not None and tagged != kind:
        raise ValueError(f"register_as: {name!r} in the registry at {redacted_url(uri)} holds {tagged} models; give "
                         f"this {kind} another name")  # fmt: skip


def tag_kind(name: str, kind: str, uri: str) -> None:
    """Mark the registered model ``name`` as holding ``kind`` models (:func:`check_name_kind` reads it)."""
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).set_registered_model_tag(name, KIND_TAG, kind)


class RegistryError(LookupError):
    """A model reference the registry cannot resolve; the message says what the registry holds."""


# the stores MLflow's registry works with; its file store (a folder, file://) refuses to start in MLflow 3
# ("maintenance mode") and an unknown scheme fails deep in MLflow, so both are refused here, by name
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
STORE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+", "mysql://", "mysql+", "mssql://", "mssql+",
                 "http://", "https://", "databricks")  # fmt: skip


def tracking_uri(uri: str | None = None) -> str:
    """The URI in force: the argument, else ``MLFLOW_TRACKING_URI``, else the project's SQLite store."""
    if uri:
        return check_store(uri, "--tracking-uri")
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return check_store(os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI")
    DEFAULT_STORE.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_STORE / 'mlflow.db'}"


def check_store(uri: str, source: str) -> str:
    """``uri`` when MLflow's registry can use it, else a ValueError naming ``source`` and what to write.

    A relative SQLite path (MLflow's usual ``sqlite:///mlflow.db``) is made absolute from the current directory: its
    artifact folder could not be expressed as a file URI, and training failed after simulating its markets; a
    directory is refused here, not as SQLAlchemy's "unable to open database file" (review of 2026-12-05, session 19).
    """
    if not isinstance(uri, str):  # a strategy parameter is JSON: 5 or true reached uri.startswith (review)
        raise ValueError(f"{source}: a store URI is text (sqlite:///path/to/mlflow.db, http(s)://...), got {uri!r}")
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        if not database.is_absolute():
            database = Path.cwd() / database
            uri = f"sqlite:///{database}"
        if database.is_dir() or not database.name:
            raise ValueError(f"{source} {uri!r}: {database} is a folder; give the database file in it "
                             f"(sqlite:///{database / 'mlflow.db'})")  # fmt: skip
        try:
            head = database.read_bytes()[:16] if database.is_file() else b""
        except OSError as exc:
            raise ValueError(f"{source} {uri!r}: cannot read {database} ({exc.strerror or exc})") from None
        if head and head != SQLITE_HEADER:  # an empty file is an empty database to SQLite
            # found only deep in SQLAlchemy ("file is not a database"), and by training only after its markets
            # were simulated and its envs built (review of 2026-12-05)
            raise ValueError(f"{source} {uri!r}: {database} is not an SQLite database (it does not start with "
                             "SQLite's header); give the registry's mlflow.db, or a new file name for a new one")  # fmt: skip
    if uri.startswith(STORE_SCHEMES):
        return uri
    hint = ""
    if "://" not in uri or uri.startswith("file:"):
        folder = Path(uri.removeprefix("file://").removeprefix("file:"))
        hint = f" (for a local store write sqlite:///{folder / 'mlflow.db'})"
    raise ValueError(f"{source} {uri!r}: MLflow's registry needs a database or server URI: sqlite:///path/to/mlflow.db, "
                     f"postgresql://..., mysql://... or http(s)://host:port{hint}")  # fmt: skip


SERVER_TIMEOUT_S = 3.0


def check_server(uri: str, source: str) -> None:
    """For an ``http(s)://`` store: refuse, naming ``source``, when nothing accepts a connection at its host and
    port. MLflow's own client retries a server that is down for minutes before it says so (4 min 7 s for a
    ``policy evaluate``, review of 2026-12-05); other stores are left to their drivers."""
    import socket
    from urllib.parse import urlsplit

    from prometheus_sim.redact import redacted_url

    if not uri.startswith(("http://", "https://")):
        return
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=SERVER_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ValueError(f"{source} {redacted_url(uri)!r}: no MLflow server answers at {parts.hostname}:{port} "
                         f"({exc.strerror or exc}); start it, or give another store") from None  # fmt: skip


def configure(uri: str | None = None) -> str:
    """Point MLflow at the store (telemetry off: no traffic leaves the machine) and return its URI."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    resolved = tracking_uri(uri)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    # MLflow's set_tracking_uri also writes MLFLOW_TRACKING_URI: one call with an explicit store became every later
    # call's default in the process (a server, a notebook, the test suite), silently; the caller's environment stays
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before
    return resolved


def experiment(name: str, uri: str) -> str:
    """The experiment's id. A SQLite store keeps its artifacts in ``artifacts/`` beside the database file
    (MLflow's own default, ``./mlruns`` under the current directory, would scatter them)."""
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "deleted":  # deleted in MLflow's UI: a traceback on start_run
        raise ValueError(f"the MLflow experiment {name!r} in the store at {uri} is deleted; restore it "
                         f"(mlflow.tracking.MlflowClient().restore_experiment({found.experiment_id!r})) or give another "
                         "store with --tracking-uri")  # fmt: skip
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def version_identity(ref: str, uri: str | None = None) -> dict[str, str]:
    """What names a registered model's version beyond its number: ``name/version`` and the MLflow run that logged it.

    A sweep's resume key holds it (``identity`` of the ``forecast`` and ``dqn`` strategies): by name and number
    alone, version 1 of another store (another ``MLFLOW_TRACKING_URI``, or ``.mlflow/`` deleted and trained again)
    resumed the first store's cells (review of 2026-12-05, session 19). A run id is a random UUID of one store."""
    from mlflow import MlflowClient

    name, version = resolve(ref, uri)
    return {
        "model_version": f"{name}/{version}",
        "model_run_id": str(MlflowClient().get_model_version(name, version).run_id),
    }


def resolve(ref: str, uri: str | None = None) -> tuple[str, str]:
    """``name@version|latest|alias`` -> (name, version string); a miss names what the registry holds."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not isinstance(ref, str) or not ref.partition("@")[0].strip():
        raise RegistryError(f"model: must be a registered name, name@version, name@latest or name@alias, got {ref!r}")
    resolved = configure(uri)  # points MLflow at the store; nothing is created until a client reads it
    if resolved.startswith("sqlite:///") and not Path(resolved.removeprefix("sqlite:///")).is_file():
        # a read: MLflow would create an empty registry (and its folders) there and then find nothing in it (review of
        # 2026-12-05, session 19: through MLFLOW_TRACKING_URI or a strategy's tracking_uri parameter)
        raise RegistryError(f"model {ref!r}: no registry at {resolved.removeprefix('sqlite:///')} (the file does not "
                            "exist); train a model there first, or point at the store it is in")  # fmt: skip
    name, _, tag = ref.partition("@")
    tag = tag or "latest"
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException as exc:
        raise RegistryError(f"model {ref!r}: the registry at {resolved} cannot be read ({exc})") from None
    if not versions:
        names = sorted({m.name for m in client.search_registered_models()})
        hint = ""
        if "/" in name and name.rpartition("/")[0] in names:  # MLflow's models:/name/version spelling
            hint = f" (a version is written name@version: {name.rpartition('/')[0]}@{name.rpartition('/')[2]})"
        raise RegistryError(f"model {name!r} is not in the registry at {resolved}; registered: {names or 'none'}{hint}")
    numbers = sorted(int(v.version) for v in versions)
    if tag == "latest":
        return name, str(numbers[-1])
    if tag.isdigit():
        if int(tag) not in numbers:
            raise RegistryError(f"model {name!r} has no version {tag}; versions: {numbers}")
        return name, str(int(tag))  # @01 is version 1 (one identity, one resume key)
    try:
        return name, str(client.get_model_version_by_alias(name, tag).version)
    except MlflowException:
        raise RegistryError(f"model {name!r} has no version {tag!r} (not a number, 'latest' or an alias); "
                            f"versions: {numbers}") from None  # fmt: skip


def load_pytorch(ref: str, uri: str | None = None):
    """The registered PyTorch module of ``ref`` (on CPU) and its ``(name, version)``."""
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException

    name, version = resolve(ref, uri)
    try:
        model = mlflow.pytorch.load_model(f"models:/{name}/{version}", map_location="cpu")
    except MlflowException as exc:  # another flavour (a scikit-learn model, say) under that name
        raise RegistryError(f"{name}/{version} is not a PyTorch model: {exc.message.splitlines()[0]}") from None
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError, ValueError) as exc:
        # its files deleted or cut short under the store: torch's own words ("PytorchStreamReader failed reading
        # zip archive", a FileNotFoundError for model.pt2) named neither the model nor the fix (review 2026-12-05)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RegistryError(f"{name}/{version}: its model files are damaged or missing ({type(exc).__name__}: "
                            f"{first[:200]}); register it again or pick another version") from None  # fmt: skip
    return model, (name, version)


__all__ = ["DEFAULT_STORE", "DQN_NAME", "FORECASTER_NAME", "KIND_TAG", "RegistryError", "check_name_kind", "tag_kind", "check_server", "check_store", "configure", "experiment",
           "load_pytorch", "resolve", "tracking_uri", "version_identity"]  # fmt: skip
