"""Settings of the model service: one frozen object, built in code or from the environment.

The CLI, the Kubernetes manifests (environment variables) and the tests all configure the
service through ``ServingSettings``, so there is one list of knobs and one set of defaults.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from mlops_course.config import work_dir

ENV_PREFIX = "MLOPS_SERVING_"
DEFAULT_HOST = "127.0.0.1"  # loopback: a course machine must not expose the service by accident
DEFAULT_PORT = 8000
HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"
PREDICT_PATH = "/predict"


def default_log_path() -> Path:
    """Where the prediction log lives when nothing else is configured: the work directory."""
    return work_dir("serving") / "predictions.sqlite"


@dataclass(frozen=True)
class ServingSettings:
    """Everything the app factory needs. Only ``model_uri`` has no useful default."""

    model_uri: str = ""
    """``models:/<name>@champion`` (registry alias), ``models:/<name>/<version>`` or a
    directory written by ``mlflow.sklearn.save_model``."""
    challenger_uri: str | None = None
    """Optional second model for an A/B test; ``None`` serves the champion only."""
    challenger_share: float = 0.0
    """Share of order ids routed to the challenger (0..1)."""
    ab_salt: str = "ab-test"
    """Part of the routing hash: a new salt reshuffles which orders see which model."""
    tracking_uri: str | None = None
    """MLflow tracking/registry URI used to resolve ``models:/``; ``None`` uses the course's
    registry (``mlops_course.versioning.tracking``) or ``$MLFLOW_TRACKING_URI``."""
    threshold: float = 0.5
    """Probability at or above which the label is 1 (late)."""
    max_rows: int = 10_000
    """Largest batch accepted by ``/predict``; more rows answer 413."""
    max_body_bytes: int = 16 * 2**20
    """Largest request body accepted by ``/predict``; a bigger body answers 413."""
    log_path: Path = field(default_factory=default_log_path)
    """The sqlite prediction log (WAL mode)."""
    wait_for_model: bool = True
    """Load the model(s) before serving (True), or serve at once and answer ``/ready`` with
    503 until loading finishes in the background (False; what the CLI does)."""
    admin_enabled: bool = True
    """Allow switching/rolling back the challenger over HTTP (``/admin/challenger``)."""
    admin_token: str | None = field(default=None, repr=False)  # a secret: never printed
    """If set, ``/admin/*`` requires ``Authorization: Bearer <token>``. The CLI refuses to
    serve ``/admin`` without one on anything but loopback (see ``admin_exposed``)."""
    extension: Path | None = None
    """A Python file imported once at start-up that extends the service: an extra input
    rule and extra metrics (``serving.app.load_extension``). Only whoever starts the
    process sets it (CLI ``--extension``, ``MLOPS_SERVING_EXTENSION``); no request can."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.challenger_share <= 1.0:
            raise ValueError(
                f"challenger_share должен быть в [0, 1], получено {self.challenger_share}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold — вероятность в [0, 1], получено {self.threshold}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows должен быть ≥ 1, получено {self.max_rows}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes должен быть ≥ 1, получено {self.max_body_bytes}")
        object.__setattr__(self, "log_path", Path(self.log_path))
        if self.extension is not None:
            object.__setattr__(self, "extension", Path(self.extension))

    def admin_exposed(self, host: str) -> bool:
        """True if ``/admin`` would be open to anyone who can reach ``host``: enabled, no
        token, and an address other than loopback (a container's 0.0.0.0, say)."""
        return self.admin_enabled and not self.admin_token and not is_loopback(host)

    def with_changes(self, **changes: object) -> ServingSettings:
        """A copy with some fields replaced (settings are immutable)."""
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, **overrides: object
    ) -> ServingSettings:
        """Read ``MLOPS_SERVING_<FIELD>`` variables (e.g. ``MLOPS_SERVING_MODEL_URI``)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for spec in fields(cls):
            raw = environ.get(ENV_PREFIX + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = _parse(raw, spec.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _parse(raw: str, type_name: object) -> object:
    """Convert an environment string to the type named in the dataclass annotation."""
    text = str(type_name)
    if text.startswith("bool"):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if text.startswith("int"):
        return int(raw)
    if text.startswith("float"):
        return float(raw)
    if text.startswith("Path"):
        return Path(raw)
    return raw
