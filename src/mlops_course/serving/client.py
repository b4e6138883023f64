"""A small client of the service, for notebooks, load tests and the tests of the course.

``ServiceClient(url)`` sends orders as the fast columnar JSON and returns frames;
``metric_value`` reads one sample from the Prometheus text of ``/metrics``.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from mlops_course.serving.schemas import orders_payload
from mlops_course.serving.settings import HEALTH_PATH, METRICS_PATH, PREDICT_PATH, READY_PATH

PER_ROW_FIELDS = ["order_id", "probability", "label", "variant", "model_version"]


def encode_orders(frame: pd.DataFrame) -> bytes:
    """The columnar ``/predict`` body for the orders in ``frame`` (encode once, send often)."""
    return orjson.dumps(orders_payload(frame))


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus exposition text -> ``{(sample name, frozenset of label items): value}``."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric_value(metrics: str | dict, sample: str, /, **labels: str) -> float:
    """One sample, e.g. ``metric_value(text, "predictions_total", variant="champion", label="1")``.

    Absent samples read as 0 (a counter that never moved).
    """
    values = parse_metrics(metrics) if isinstance(metrics, str) else metrics
    return values.get((sample, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


class ServiceError(Exception):
    """A 4xx/5xx answer of the service, with the messages it gave (field and problem)."""

    def __init__(self, status_code: int, messages: list[str]):
        super().__init__(f"HTTP {status_code}: " + "; ".join(messages))
        self.status_code = status_code
        self.messages = messages


def _error_messages(response: httpx.Response) -> list[str]:
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return [response.text or response.reason_phrase]
    if isinstance(detail, list):
        return [
            item.get("msg", str(item)) if isinstance(item, dict) else str(item) for item in detail
        ]
    return [str(detail)]


class ServiceClient:
    """HTTP client of a running service (keep-alive connection)."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions for ``frame``: one row per order.

        Raises ``ServiceError`` with the service's own messages on a 4xx/5xx answer.
        """
        response = self.post_raw(encode_orders(frame))
        if response.is_error:
            raise ServiceError(response.status_code, _error_messages(response))
        answer = orjson.loads(response.content)
        return pd.DataFrame({name: answer[name] for name in PER_ROW_FIELDS})

    def post_raw(self, body: bytes) -> httpx.Response:
        """Send any body to ``/predict`` (for bad-input demonstrations)."""
        return self.http.post(
            PREDICT_PATH, content=body, headers={"Content-Type": "application/json"}
        )

    def healthy(self) -> bool:
        return self.http.get(HEALTH_PATH).status_code == 200

    def ready(self) -> bool:
        return self.http.get(READY_PATH).status_code == 200

    def model(self) -> dict[str, Any]:
        return self.http.get("/model").raise_for_status().json()

    def metrics(self) -> dict[tuple[str, frozenset], float]:
        return parse_metrics(self.http.get(METRICS_PATH).raise_for_status().text)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
