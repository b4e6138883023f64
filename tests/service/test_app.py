"""The app through FastAPI's TestClient: every endpoint, every bad input, the metrics."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving.client import encode_orders, metric_value, parse_metrics
from mlops_course.serving.prediction_log import read_prediction_log
from mlops_course.serving.schemas import FIELD_NAMES, orders_payload
from mlops_course.serving.settings import ServingSettings
from tests.conftest import wait_until


def test_health_ready_and_model(client, model_dirs: dict[str, Path]) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    info = client.get("/model").json()
    assert info["champion"]["name"] == "champion"
    assert info["champion"]["uri"] == str(model_dirs["champion"])
    assert info["champion"]["version"] == ready.json()["model_version"]
    assert info["challenger"] is None and info["challenger_share"] == 0.0


def test_predict_matches_the_model_in_process(client, models, fresh_orders: pd.DataFrame) -> None:
    orders = fresh_orders.head(200)
    response = client.post("/predict", content=encode_orders(orders))
    assert response.status_code == 200
    answer = response.json()
    expected = models["champion"].predict_proba(orders[FEATURES])[:, 1]
    np.testing.assert_allclose(answer["probability"], expected, rtol=1e-12)
    assert answer["label"] == (expected >= 0.5).astype(int).tolist()
    assert answer["order_id"] == orders["order_id"].tolist()
    assert answer["variant"] == ["champion"] * 200
    assert set(answer["model_version"]) == {client.get("/model").json()["champion"]["version"]}
    assert answer["n_rows"] == 200 and len(answer["request_id"]) == 32


def test_row_format_is_accepted(client, fresh_orders: pd.DataFrame) -> None:
    orders = fresh_orders.head(3)
    rows = orders[list(FIELD_NAMES)].to_dict(orient="records")
    by_rows = client.post("/predict", json=rows).json()
    by_columns = client.post("/predict", content=encode_orders(orders)).json()
    assert by_rows["probability"] == by_columns["probability"]


def broken(payload: dict, field: str, value) -> bytes:
    changed = {name: list(values) for name, values in payload.items()}
    changed[field][0] = value
    return orjson.dumps(changed)


def literal(payload: dict, field: str, text: bytes) -> bytes:
    """A body whose first ``field`` value is a JSON literal orjson refuses (NaN, Infinity)."""
    return broken(payload, field, 12345.5).replace(b"12345.5", text)


@pytest.fixture
def payload(fresh_orders: pd.DataFrame) -> dict:
    return orders_payload(fresh_orders.head(4))


BAD_BODIES = {
    "malformed json": (lambda p: b'{"order_id": [1, 2', 400, None),
    "wrong type": (lambda p: broken(p, "courier_load", "two"), 422, "courier_load"),
    "missing field": (lambda p: orjson.dumps({k: p[k] for k in p if k != "hour"}), 422, "hour"),
    "extra field": (lambda p: orjson.dumps({**p, "tip": [1, 2, 3, 4]}), 422, "tip"),
    "out of range": (lambda p: broken(p, "distance_km", 4200.0), 422, "distance_km"),
    "NaN": (lambda p: literal(p, "temperature_c", b"NaN"), 422, "temperature_c"),
    "infinity": (lambda p: literal(p, "order_value", b"-Infinity"), 422, "order_value"),
    "null": (lambda p: broken(p, "prep_time_min", None), 422, "prep_time_min"),
    "empty batch": (lambda p: orjson.dumps({k: [] for k in p}), 422, None),
    "unequal lengths": (lambda p: orjson.dumps({**p, "weekday": p["weekday"][:2]}), 422, "weekday"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_input_is_a_clear_4xx_and_writes_nothing(client, payload: dict, case: str) -> None:
    make_body, status, field = BAD_BODIES[case]
    log = client.app.state.service.log
    before = log.count_rows()
    response = client.post("/predict", content=make_body(payload))
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail and all(error["msg"] for error in detail)
    if field is not None:
        assert field in {error["field"] for error in detail}
        assert any(field in error["msg"] for error in detail)
    assert log.count_rows() == before
    metrics = parse_metrics(client.get("/metrics").text)
    assert metric_value(metrics, "predictions_total", variant="champion", label="0") == 0


def test_too_many_rows_and_too_big_body_are_413(make_client, settings, fresh_orders) -> None:
    small = settings.with_changes(max_rows=10, max_body_bytes=20_000)
    with make_client(small) as client:
        rows = client.post("/predict", content=encode_orders(fresh_orders.head(11)))
        assert rows.status_code == 413 and rows.json()["detail"][0]["type"] == "too_many_rows"
        too_big = b" " * 20_001 + encode_orders(fresh_orders.head(2))
        declared = client.post("/predict", content=too_big)
        assert (
            declared.status_code == 413 and declared.json()["detail"][0]["type"] == "body_too_large"
        )
        # A chunked body (no Content-Length) is counted while it streams in.
        streamed = client.post("/predict", content=iter([too_big[:15_000], too_big[15_000:]]))
        assert streamed.status_code == 413
        assert (
            client.post("/predict", content=encode_orders(fresh_orders.head(10))).status_code == 200
        )
        assert client.app.state.service.log.count_rows() == 10


def test_every_answered_prediction_is_logged(client, fresh_orders: pd.DataFrame) -> None:
    sizes = [1, 7, 50]
    answers, start = [], 0
    for size in sizes:
        batch = fresh_orders.iloc[start : start + size]
        answers.append(client.post("/predict", content=encode_orders(batch)).json())
        start += size
    log = read_prediction_log(client.app.state.service.settings.log_path)
    assert len(log) == sum(sizes)
    assert log["order_id"].tolist() == fresh_orders["order_id"].head(sum(sizes)).tolist()
    assert log["probability"].tolist() == [p for a in answers for p in a["probability"]]
    pd.testing.assert_frame_equal(
        log[FEATURES].reset_index(drop=True),
        fresh_orders[FEATURES].head(sum(sizes)).reset_index(drop=True),
    )
    assert log["request_id"].nunique() == 3
    assert (log["logged_at"] <= pd.Timestamp.now(tz="UTC")).all()


def test_metrics_count_what_was_sent(client, fresh_orders: pd.DataFrame) -> None:
    sent_rows = 0
    for start in range(0, 30, 10):
        batch = fresh_orders.iloc[start : start + 10]
        labels = client.post("/predict", content=encode_orders(batch)).json()["label"]
        sent_rows += len(labels)
    for _ in range(2):
        client.post("/predict", content=b"not json")
    client.get("/health")
    metrics = parse_metrics(client.get("/metrics").text)
    count = lambda endpoint, status, method="POST": metric_value(  # noqa: E731
        metrics, "http_requests_total", endpoint=endpoint, method=method, status=str(status)
    )
    assert count("/predict", 200) == 3
    assert count("/predict", 400) == 2
    assert count("/health", 200, "GET") == 1
    predicted = sum(
        metric_value(metrics, "predictions_total", variant="champion", label=label)
        for label in "01"
    )
    assert predicted == sent_rows == 30
    assert metric_value(metrics, "http_request_duration_seconds_count", endpoint="/predict") == 5
    assert metric_value(metrics, "prediction_validation_errors_total", type="json_invalid") == 2
    version = client.get("/model").json()["champion"]["version"]
    assert (
        metric_value(
            metrics, "model_info", variant="champion", name="champion", version=version, alias=""
        )
        == 1
    )


def test_unknown_paths_share_one_metric_label(client) -> None:
    for path in ("/nope", "/random/123", "/another"):
        assert client.get(path).status_code == 404
    metrics = parse_metrics(client.get("/metrics").text)
    assert (
        metric_value(
            metrics, "http_requests_total", endpoint="unmatched", method="GET", status="404"
        )
        == 3
    )


def test_not_ready_until_a_model_loads(make_client, tmp_path: Path, fresh_orders) -> None:
    missing = ServingSettings(
        model_uri=str(tmp_path / "no-such-model"), log_path=tmp_path / "l.sqlite"
    )
    with make_client(missing) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and "no-such-model" in ready.json()["reason"]
        assert (
            client.post("/predict", content=encode_orders(fresh_orders.head(1))).status_code == 503
        )
        assert client.get("/model").status_code == 503


def test_background_loading_turns_ready(
    make_client, settings, fresh_orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With wait_for_model=False (what the CLI does) the app serves /health while the model
    is still loading, says 503 on /ready, and turns ready once loading finishes."""
    from mlops_course.serving import app as app_module

    release = threading.Event()
    real_load = app_module.load_served_model

    def slow_load(*args, **kwargs):
        assert release.wait(30), "the test never released the loader"
        return real_load(*args, **kwargs)

    monkeypatch.setattr(app_module, "load_served_model", slow_load)
    with make_client(settings.with_changes(wait_for_model=False)) as client:
        assert client.get("/health").status_code == 200  # served while the model loads
        loading = client.get("/ready")
        assert loading.status_code == 503 and "загружается" in loading.json()["reason"]
        release.set()
        wait_until(lambda: client.get("/ready").status_code == 200, 30, "the model loaded")
        orders = encode_orders(fresh_orders.head(2))
        assert client.post("/predict", content=orders).status_code == 200


def test_openapi_documents_the_request(client) -> None:
    schema = client.get("/openapi.json").json()
    request_body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert request_body["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    columnar = schema["components"]["schemas"]["OrdersColumns"]
    assert set(columnar["properties"]) == set(FIELD_NAMES)
    assert columnar["additionalProperties"] is False
    distance = columnar["properties"]["distance_km"]
    assert distance["items"]["minimum"] == 0.1 and distance["maxItems"] == 10_000
    assert {"200", "400", "413", "422", "503"} <= set(
        schema["paths"]["/predict"]["post"]["responses"]
    )


@pytest.mark.parametrize(
    ("field", "value"), [("threshold", 70.0), ("threshold", -0.1), ("challenger_share", 1.5)]
)
def test_settings_refuse_what_is_not_a_probability(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ServingSettings(**{field: value})  # 70: a percentage where a probability belongs
