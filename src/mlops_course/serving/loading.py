"""Loading a model to serve: from the MLflow registry (``models:/``) or an exported directory.

A registry alias (``models:/delivery@champion``) is resolved to a version *first* and that
exact version is loaded, so the version the service reports is the one it runs even if the
alias moves while it loads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mlops_course.serving.router import ServedModel

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


class ModelLoadError(RuntimeError):
    """The model could not be loaded or cannot serve probabilities."""


def configure_tracking(tracking_uri: str | None = None) -> None:
    """Point MLflow at the registry that resolves ``models:/`` URIs.

    Order: the explicit URI; else ``$MLFLOW_TRACKING_URI``; else the course's own sqlite
    registry in the work directory (``mlops_course.versioning.tracking.setup_tracking``).
    """
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        return
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return
    try:
        from mlops_course.versioning.tracking import setup_tracking
    except ImportError:  # the tracking module is optional for serving exported models
        return
    setup_tracking()


def load_served_model(uri: str, tracking_uri: str | None = None) -> ServedModel:
    """Load ``uri`` (``models:/name@alias``, ``models:/name/3`` or a model directory)."""
    import mlflow.sklearn

    if not uri:
        raise ModelLoadError("Не задан URI модели (--model-uri / MLOPS_SERVING_MODEL_URI)")
    try:
        if uri.startswith("models:/"):
            configure_tracking(tracking_uri)
            served = _load_registered(uri, mlflow.sklearn.load_model)
        else:
            served = _load_directory(uri, mlflow.sklearn.load_model, tracking_uri)
    except ModelLoadError:
        raise
    except Exception as error:  # MLflow raises many types; the caller needs one
        raise ModelLoadError(f"Не удалось загрузить модель {uri!r}: {error}") from error
    if not hasattr(served.model, "predict_proba"):
        raise ModelLoadError(f"Модель {uri!r} не умеет predict_proba: сервис отдаёт вероятности")
    return served


def _load_registered(uri: str, load: Any) -> ServedModel:
    from mlflow import MlflowClient

    client = MlflowClient()
    alias = None
    if match := _ALIAS_URI.match(uri):
        name, alias = match["name"], match["alias"]
        version = client.get_model_version_by_alias(name, alias)
    elif match := _VERSION_URI.match(uri):
        name = match["name"]
        version = client.get_model_version(name, match["version"])
    else:
        raise ModelLoadError(
            f"Непонятный URI {uri!r}: ожидается models:/<имя>@<алиас> или models:/<имя>/<версия>"
        )
    model = load(f"models:/{name}/{version.version}")
    return ServedModel(
        model=model,
        name=name,
        version=str(version.version),
        uri=uri,
        alias=alias,
        run_id=version.run_id,
        metrics=_run_metrics(client, version.run_id),
    )


def _load_directory(uri: str, load: Any, tracking_uri: str | None) -> ServedModel:
    from mlflow.models import Model

    path = Path(uri.removeprefix("file://")).expanduser()
    if not (path / "MLmodel").is_file():
        raise ModelLoadError(f"{uri!r}: нет такой папки модели MLflow (файл MLmodel не найден)")
    metadata = Model.load(str(path / "MLmodel"))
    model = load(str(path))
    metrics: dict[str, float] = {}
    if metadata.run_id:
        # Metrics are a nice-to-have here: an exported model may outlive its tracking server.
        try:
            from mlflow import MlflowClient

            configure_tracking(tracking_uri)
            metrics = _run_metrics(MlflowClient(), metadata.run_id)
        except Exception:
            metrics = {}
    return ServedModel(
        model=model,
        name=path.name,
        version=(metadata.model_uuid or path.name)[:12],
        uri=str(path),
        run_id=metadata.run_id,
        metrics=metrics,
    )


def _run_metrics(client: Any, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    try:
        return {key: float(value) for key, value in client.get_run(run_id).data.metrics.items()}
    except Exception:  # the run may have been deleted; the model still serves
        return {}
