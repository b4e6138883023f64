"""Prometheus metrics of the service, in a registry owned by one app.

A per-app ``CollectorRegistry`` (not prometheus-client's global one) lets a notebook or a
test process create many apps without "Duplicated timeseries" errors, and makes
``/metrics`` show exactly this app's counts.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mlops_course.serving.router import CHALLENGER, CHAMPION, Deployment, Prediction

# Latency buckets from 1 ms to 5 s: the service answers in milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
UNMATCHED_ENDPOINT = "unmatched"  # unknown paths share one label: no label explosion

__all__ = ["PROMETHEUS_CONTENT_TYPE", "ServiceMetrics", "MetricsMiddleware"]


class ServiceMetrics:
    """The service's counters, histograms and gauges."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "HTTP requests by endpoint, method and status code",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions",
            "Predicted rows by A/B variant and predicted class",
            ["variant", "label"],
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "prediction_batch_rows",
            "Rows per /predict request",
            buckets=(1, 10, 100, 1000, 10_000),
            registry=self.registry,
        )
        self.validation_errors = Counter(
            "prediction_validation_errors",
            "Rejected /predict requests by error type",
            ["type"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model served by each variant (value 1)",
            ["variant", "name", "version", "alias"],
            registry=self.registry,
        )
        self.challenger_share = Gauge(
            "ab_challenger_share",
            "Share of order ids routed to the challenger",
            registry=self.registry,
        )
        self.model_ready = Gauge(
            "model_ready", "1 when a model is loaded and /predict answers", registry=self.registry
        )
        # Pre-create the label sets the dashboards plot, so they read 0 rather than absent.
        for variant in (CHAMPION, CHALLENGER):
            for label in ("0", "1"):
                self.predictions.labels(variant, label)
        self._counters = {
            (variant, label): self.predictions.labels(variant, str(label))
            for variant in (CHAMPION, CHALLENGER)
            for label in (0, 1)
        }

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def count_predictions(self, prediction: Prediction) -> None:
        """Rows by variant and class (vectorised: four counter updates per request)."""
        n_rows = len(prediction.label)
        n_challenger = int(prediction.is_challenger.sum())
        positives = int(prediction.label.sum())
        challenger_positives = (
            int(prediction.label[prediction.is_challenger].sum()) if n_challenger else 0
        )
        champion_positives = positives - challenger_positives
        counts = {
            (CHAMPION, 1): champion_positives,
            (CHAMPION, 0): n_rows - n_challenger - champion_positives,
            (CHALLENGER, 1): challenger_positives,
            (CHALLENGER, 0): n_challenger - challenger_positives,
        }
        for key, count in counts.items():
            if count:
                self._counters[key].inc(count)
        self.batch_rows.observe(n_rows)

    def count_rejection(self, error_type: str) -> None:
        self.validation_errors.labels(error_type).inc()

    def set_deployment(self, deployment: Deployment | None) -> None:
        """Model info and A/B share gauges follow the current deployment."""
        self.model_info.clear()
        if deployment is None:
            self.model_ready.set(0)
            self.challenger_share.set(0)
            return
        self.model_ready.set(1)
        served = [(CHAMPION, deployment.champion)]
        if deployment.challenger is not None:
            served.append((CHALLENGER, deployment.challenger))
        for variant, model in served:
            self.model_info.labels(variant, model.name, model.version, model.alias or "").set(1)
        self.challenger_share.set(deployment.challenger_share if deployment.challenger else 0.0)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric in this registry."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP request and times it.

    (Starlette's ``BaseHTTPMiddleware`` would add a task and a stream per request; this
    costs two clock reads and a wrapped ``send``.)
    """

    def __init__(self, app: Any, metrics: ServiceMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the app raises before answering, the server sends a 500

        async def send_and_record_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or UNMATCHED_ENDPOINT
            self.metrics.observe_request(
                endpoint, scope["method"], status, time.perf_counter() - start
            )
