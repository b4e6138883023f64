"""The model service of the course: FastAPI app, validation, A/B routing, prediction log.

* ``create_app(ServingSettings(model_uri=...))`` — the app (``serving.app``);
* ``python -m mlops_course.serving --model-uri ...`` — the CLI (uvicorn, loopback);
* ``start_service(model_uri)`` — the CLI in the background, for notebooks and tests;
* ``read_prediction_log(path)`` — every logged prediction as a frame (for monitoring).

Heavy imports (FastAPI, MLflow) happen only when these are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_course.serving.settings import ServingSettings

if TYPE_CHECKING:
    from mlops_course.serving.app import create_app
    from mlops_course.serving.background import BackgroundService, free_port, start_service
    from mlops_course.serving.prediction_log import read_prediction_log
    from mlops_course.serving.schemas import orders_payload

_LAZY = {
    "create_app": "mlops_course.serving.app",
    "BackgroundService": "mlops_course.serving.background",
    "free_port": "mlops_course.serving.background",
    "start_service": "mlops_course.serving.background",
    "read_prediction_log": "mlops_course.serving.prediction_log",
    "orders_payload": "mlops_course.serving.schemas",
}

__all__ = [
    "BackgroundService",
    "ServingSettings",
    "create_app",
    "free_port",
    "orders_payload",
    "read_prediction_log",
    "start_service",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
