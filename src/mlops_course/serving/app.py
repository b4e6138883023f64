"""The model service: ``create_app(settings)`` builds a FastAPI app.

Endpoints: ``POST /predict`` (batch of orders -> probabilities, labels, variant, version),
``GET /health`` (liveness), ``GET /ready`` (readiness: 503 with a reason until a model is
loaded), ``GET /model`` (what is served), ``GET /metrics`` (Prometheus) and, for A/B tests,
``PUT``/``DELETE /admin/challenger`` (switch or roll back the challenger without restart)
and ``POST /admin/reload`` (reload the champion after its registry alias moved); with
``settings.admin_token`` set, ``/admin/*`` requires ``Authorization: Bearer <token>``.

``settings.extension`` (CLI ``--extension file.py``) extends the service with a Python
file imported once at start-up (``load_extension``): ``validate(batch)`` is an extra input
rule run after the built-in checks, and ``create_metrics(registry)`` adds metrics to this
app's ``/metrics`` and returns ``observe(batch, probability)``, called after each
prediction (lab04 uses it).

The ``/predict`` hot path is deliberately lean: the body is read as bytes, decoded once with
orjson, validated column by column with numpy (``schemas.parse_orders``), scored, logged in
one sqlite transaction and answered with pre-encoded JSON. Everything a pydantic model per
row would check is still checked; it is just checked per column.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, TypeAdapter
from starlette.requests import ClientDisconnect

from mlops_course.serving.loading import ModelLoadError, load_served_model
from mlops_course.serving.metrics import PROMETHEUS_CONTENT_TYPE, MetricsMiddleware, ServiceMetrics
from mlops_course.serving.prediction_log import PredictionLog
from mlops_course.serving.router import Deployment, ServedModel
from mlops_course.serving.schemas import (
    ErrorResponse,
    Order,
    OrdersBatch,
    PredictResponse,
    RequestError,
    field_error,
    parse_orders,
    request_model,
)
from mlops_course.serving.settings import (
    HEALTH_PATH,
    METRICS_PATH,
    PREDICT_PATH,
    READY_PATH,
    ServingSettings,
)

JSON = "application/json"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request the client abandoned
logger = logging.getLogger(__name__)


class ChallengerUpdate(BaseModel):
    """Body of ``PUT /admin/challenger``."""

    model_uri: str = Field(
        min_length=1, description="models:/name@alias, models:/name/N or a directory"
    )
    share: float = Field(ge=0.0, le=1.0, description="share of order ids routed to the challenger")


EXTENSION_MODULE = "mlops_serving_extension"
ExtensionRule = Callable[[OrdersBatch], None]
ExtensionObserver = Callable[[OrdersBatch, Any], None]


class ExtensionError(RuntimeError):
    """The extension file cannot be used; the service refuses to start."""


@dataclass(frozen=True)
class Extension:
    """The hooks an extension file provides (either may be absent)."""

    validate: ExtensionRule | None = None
    observe: ExtensionObserver | None = None


def load_extension(path: Path, registry: Any) -> Extension:
    """Import ``path`` and take its hooks; their metrics go to ``registry`` (this app's).

    ``validate(batch)`` refuses a batch by raising ``schemas.RequestError`` (any other
    exception is a bug: 500). ``create_metrics(registry)`` is called here, once, and must
    return ``observe(batch, probability)``. Loaded at start-up only, from a path given by
    whoever starts the process: it is their code, run with their rights.
    """
    spec = importlib.util.spec_from_file_location(EXTENSION_MODULE, path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise ExtensionError(f"Расширение сервиса не найдено: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    validate = getattr(module, "validate", None)
    create_metrics = getattr(module, "create_metrics", None)
    if validate is None and create_metrics is None:
        raise ExtensionError(f"В расширении {path.name} нет ни validate, ни create_metrics")
    observe = create_metrics(registry) if create_metrics is not None else None
    if create_metrics is not None and not callable(observe):
        raise ExtensionError(
            f"create_metrics из {path.name} вернула {type(observe).__name__}, а нужна "
            "функция observe(batch, probability)"
        )
    return Extension(validate=validate, observe=observe)


class ServiceState:
    """What the app holds between requests: settings, metrics, the log, the deployment."""

    def __init__(self, settings: ServingSettings):
        self.settings = settings
        self.metrics = ServiceMetrics()
        self.extension = (
            load_extension(settings.extension, self.metrics.registry)
            if settings.extension
            else Extension()
        )
        self.log: PredictionLog | None = None
        self.deployment: Deployment | None = None
        self.not_ready_reason = "модель ещё загружается"
        self.challenger_error: str | None = None  # why the configured challenger is not served
        self._switch_lock = threading.Lock()  # one model switch at a time

    # --- loading and switching (never on the request path) ---------------------------

    def load_models(self) -> None:
        """Load champion (and challenger) from the settings; record a failure as the reason.

        A challenger that fails to load cancels only the A/B test: the champion serves all
        traffic and ``/ready`` and ``/model`` say why, as ``PUT /admin/challenger`` would.
        """
        settings = self.settings
        try:
            champion = load_served_model(settings.model_uri, settings.tracking_uri)
        except ModelLoadError as error:
            self.not_ready_reason = str(error)
            return
        challenger = None
        if settings.challenger_uri:
            try:
                challenger = load_served_model(settings.challenger_uri, settings.tracking_uri)
            except ModelLoadError as error:
                self.challenger_error = f"challenger не загружен, весь трафик на champion: {error}"
                logger.warning(self.challenger_error)
        self.install(
            Deployment(
                champion=champion,
                challenger=challenger,
                challenger_share=settings.challenger_share if challenger else 0.0,
                salt=settings.ab_salt,
                threshold=settings.threshold,
            )
        )

    def install(self, deployment: Deployment | None) -> None:
        """Make ``deployment`` the one that answers the next request (one assignment)."""
        self.deployment = deployment
        self.metrics.set_deployment(deployment)

    def switch_challenger(self, challenger: ServedModel | None, share: float = 0.0) -> Deployment:
        with self._switch_lock:
            deployment = self.require_deployment().with_challenger(challenger, share)
            self.install(deployment)
            self.challenger_error = None
            return deployment

    def reload_champion(self) -> Deployment:
        champion = load_served_model(self.settings.model_uri, self.settings.tracking_uri)
        with self._switch_lock:
            current = self.require_deployment()
            deployment = Deployment(
                champion=champion,
                challenger=current.challenger,
                challenger_share=current.challenger_share,
                salt=current.salt,
                threshold=current.threshold,
            )
            self.install(deployment)
            return deployment

    def info(self) -> dict[str, Any]:
        """``GET /model``: what is served, and a challenger that could not be loaded."""
        info = self.require_deployment().info()
        if self.challenger_error:
            info["challenger_error"] = self.challenger_error
        return info

    def require_deployment(self) -> Deployment:
        deployment = self.deployment
        if deployment is None:
            raise HTTPException(503, detail=f"Модель не готова: {self.not_ready_reason}")
        return deployment

    # --- the hot path ------------------------------------------------------------------

    def predict(self, batch: OrdersBatch) -> bytes:
        """Score a validated batch, log it (one transaction), return the JSON answer."""
        deployment = self.require_deployment()
        prediction = deployment.predict(batch)
        if self.extension.observe is not None:  # before the log: a failure answers nothing
            self.extension.observe(batch, prediction.probability)
        request_id = uuid.uuid4().hex
        answer = orjson.dumps(
            {
                "request_id": request_id,
                "n_rows": batch.n_rows,
                "order_id": batch.order_ids,
                "probability": prediction.probability,
                "label": prediction.label,
                "variant": prediction.variants(),
                "model_version": deployment.versions(prediction),
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        # Logged before answering: a prediction the client receives is always in the log.
        self.log.append(
            request_id,
            time.time(),
            batch.n_rows,
            int(prediction.is_challenger.sum()),
            batch.raw_json,
            answer,
        )
        self.metrics.count_predictions(prediction)
        return answer


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything larger than ``limit`` bytes.

    The declared Content-Length is checked before reading; a chunked body is counted while
    it streams in, so an oversized body is never held in memory whole.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _body_too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _body_too_large(size, limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # The client hung up mid-body: its problem, not a server error (no 5xx alert).
        raise RequestError(
            CLIENT_CLOSED_REQUEST,
            [field_error(None, "client_disconnected", "Клиент закрыл соединение до конца тела")],
        ) from None
    return b"".join(chunks)


def _body_too_large(size: int, limit: int) -> RequestError:
    return RequestError(
        413,
        [
            field_error(
                None,
                "body_too_large",
                f"Тело запроса слишком велико: {size} байт, максимум {limit}",
            )
        ],
    )


def create_app(settings: ServingSettings) -> FastAPI:
    """Build the service. The model loads in the app's lifespan (startup), once."""
    state = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.log = PredictionLog(settings.log_path)
        if settings.wait_for_model:
            await asyncio.to_thread(state.load_models)
        else:  # serve /health at once; /ready says 503 until the model is in
            threading.Thread(target=state.load_models, name="model-loader", daemon=True).start()
        try:
            yield
        finally:
            state.log.close()

    app = FastAPI(
        title="Опоздает ли доставка? — сервис модели",
        description=(
            "Вероятность опоздания заказа, A/B-тест champion/challenger, журнал предсказаний."
        ),
        version="1.0",
        lifespan=lifespan,
    )
    app.state.service = state
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)

    @app.exception_handler(RequestError)
    async def request_error_handler(request: Request, error: RequestError) -> Response:
        state.metrics.count_rejection(error.errors[0]["type"] if error.errors else "unknown")
        return Response(
            orjson.dumps(error.payload()), status_code=error.status_code, media_type=JSON
        )

    @app.post(
        PREDICT_PATH,
        summary="Вероятность опоздания для партии заказов",
        response_model=PredictResponse,
        responses={
            400: {"model": ErrorResponse, "description": "тело — не JSON"},
            413: {"model": ErrorResponse, "description": "слишком много строк или байт"},
            422: {"model": ErrorResponse, "description": "ошибка в данных (поле и проблема)"},
            503: {"model": ErrorResponse, "description": "модель не загружена"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        state.require_deployment()
        body = await read_body(request, settings.max_body_bytes)
        batch = parse_orders(body, settings.max_rows)
        if state.extension.validate is not None:
            state.extension.validate(batch)
        return Response(state.predict(batch), media_type=JSON)

    @app.get(HEALTH_PATH, summary="Жив ли процесс (liveness)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(READY_PATH, summary="Готов ли сервис отвечать (readiness)")
    async def ready() -> Response:
        deployment = state.deployment
        if deployment is None:
            body = {"status": "not_ready", "reason": state.not_ready_reason}
            return JSONResponse(body, status_code=503)
        body = {"status": "ready", "model_version": deployment.champion.version}
        if state.challenger_error:
            body["warning"] = state.challenger_error
        return JSONResponse(body)

    @app.get("/model", summary="Какие модели обслуживаются")
    async def model_info() -> dict[str, Any]:
        return state.info()

    @app.get(METRICS_PATH, summary="Метрики Prometheus", include_in_schema=False)
    async def metrics() -> Response:
        return Response(state.metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)

    if settings.admin_enabled:
        _add_admin_routes(app, state)
    app.openapi = lambda: _openapi(app, settings)
    return app


def _admin_guard(token: str | None):
    """A dependency that refuses ``/admin`` calls sent by a web page of another site and,
    when a token is set, checks ``Authorization: Bearer <token>``.

    Without a token (the loopback default) any page open in the student's browser could
    POST to ``/admin/reload``: a form post needs no CORS preflight. Browsers name the
    page's site in ``Origin``; curl, the notebook client and the service's own ``/docs``
    send none or this service's own address.
    """

    def require_token(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> None:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(
                403,
                detail=f"Запрос к /admin со страницы другого сайта ({origin}) отклонён: "
                "управляйте сервисом из ноутбука (ServiceClient), curl или /docs сервиса.",
            )
        expected = f"Bearer {token}"
        if token and not secrets.compare_digest((authorization or "").encode(), expected.encode()):
            raise HTTPException(
                401,
                detail="Нужен заголовок Authorization: Bearer <MLOPS_SERVING_ADMIN_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_token


def _add_admin_routes(app: FastAPI, state: ServiceState) -> None:
    """A/B control without restart: load/switch, roll back, reload the champion."""
    guarded = [Depends(_admin_guard(state.settings.admin_token))]

    @app.put(
        "/admin/challenger", summary="Поставить (или заменить) challenger", dependencies=guarded
    )
    def set_challenger(update: ChallengerUpdate) -> dict[str, Any]:
        # A sync handler: FastAPI runs it in a thread, so loading never blocks /predict.
        state.require_deployment()
        try:
            challenger = load_served_model(update.model_uri, state.settings.tracking_uri)
        except ModelLoadError as error:
            raise HTTPException(422, detail=str(error)) from None
        return state.switch_challenger(challenger, update.share).info()

    @app.delete(
        "/admin/challenger",
        summary="Откатить A/B-тест: весь трафик на champion",
        dependencies=guarded,
    )
    def remove_challenger() -> dict[str, Any]:
        return state.switch_challenger(None).info()

    @app.post(
        "/admin/reload",
        summary="Перезагрузить champion (алиас в реестре сдвинулся)",
        dependencies=guarded,
    )
    def reload_champion() -> dict[str, Any]:
        state.require_deployment()
        try:
            return state.reload_champion().info()
        except ModelLoadError as error:
            raise HTTPException(503, detail=str(error)) from None


def _openapi(app: FastAPI, settings: ServingSettings) -> dict[str, Any]:
    """FastAPI's schema plus the request models ``/predict`` reads by hand."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    columns = request_model(settings.max_rows)
    rows = Annotated[list[Order], Field(min_length=1, max_length=settings.max_rows)]
    request_adapter = TypeAdapter(columns | rows)  # type: ignore[operator]
    request_schema = request_adapter.json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(request_schema.pop("$defs", {}))
    components["PredictRequest"] = request_schema
    app.openapi_schema = schema
    return schema
