"""``--extension``: a Python file adds an input rule and metrics to the running service."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import orjson
import pandas as pd
import pytest

from mlops_course.serving.__main__ import build_parser
from mlops_course.serving.app import ExtensionError, create_app
from mlops_course.serving.client import encode_orders, metric_value
from mlops_course.serving.prediction_log import read_prediction_log
from mlops_course.serving.schemas import FIELD_NAMES, orders_payload
from mlops_course.serving.settings import ServingSettings

with warnings.catch_warnings():  # starlette warns that its TestClient still uses httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ZONE_RULE = """
from prometheus_client import Counter
from mlops_course.serving.schemas import RequestError, field_error

def validate(batch):
    far = batch.columns["distance_km"] > 20.0
    if far.any():
        row = int(far.argmax())
        raise RequestError(422, [field_error(
            "distance_km", "outside_zone", f"distance_km: строка {row} дальше 20 км")])

def create_metrics(registry):
    rows = Counter("extension_rows", "Rows the extension saw", registry=registry)

    def observe(batch, probability):
        rows.inc(len(probability))

    return observe
"""


def write(tmp_path: Path, text: str, name: str = "extension.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def with_extension(settings: ServingSettings, path: Path) -> ServingSettings:
    return settings.with_changes(extension=path)


def far_order(orders: pd.DataFrame, row: int, km: float) -> bytes:
    payload = orders_payload(orders)
    payload["distance_km"][row] = km
    return orjson.dumps(payload)


@pytest.fixture
def near(fresh_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders inside the 20 km zone of ``ZONE_RULE``."""
    return fresh_orders[fresh_orders["distance_km"] <= 20.0].head(5)


def test_the_rule_refuses_with_its_message_and_the_metric_counts_rows(
    settings, make_client, tmp_path: Path, near: pd.DataFrame
) -> None:
    extended = with_extension(settings, write(tmp_path, ZONE_RULE))
    with make_client(extended) as client:
        assert client.post("/predict", content=encode_orders(near)).status_code == 200
        refused = client.post("/predict", content=far_order(near, 2, 25.0))
        rows = near[list(FIELD_NAMES)].to_dict(orient="records")
        rows[1]["distance_km"] = 30.0
        refused_rows = client.post("/predict", json=rows)  # the row format meets it too
        metrics = client.get("/metrics").text
    assert refused.status_code == 422 and refused_rows.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["field"] == "distance_km" and error["type"] == "outside_zone"
    assert error["msg"] == "distance_km: строка 2 дальше 20 км"
    assert refused_rows.json()["detail"][0]["msg"] == "distance_km: строка 1 дальше 20 км"
    # Only the answered batch reached observe; the refusals are counted as rejections.
    assert metric_value(metrics, "extension_rows_total") == len(near)
    assert metric_value(metrics, "prediction_validation_errors_total", type="outside_zone") == 2
    assert len(read_prediction_log(extended.log_path)) == len(near)


def test_a_bug_in_the_rule_is_a_500_and_nothing_is_logged(
    settings, tmp_path: Path, near: pd.DataFrame
) -> None:
    buggy = "def validate(batch):\n    raise ValueError('distance_km too far')\n"
    extended = with_extension(settings, write(tmp_path, buggy))
    # As a real server answers: the exception becomes a 500, it does not reach the client.
    with TestClient(create_app(extended), raise_server_exceptions=False) as client:
        response = client.post("/predict", content=encode_orders(near))
        metrics = client.get("/metrics").text
    assert response.status_code == 500
    assert metric_value(metrics, "http_requests_total", endpoint="/predict", method="POST",
                        status="500") == 1  # fmt: skip
    assert len(read_prediction_log(extended.log_path)) == 0


def test_each_app_has_its_own_extension_and_registry(
    settings, make_client, tmp_path: Path, near: pd.DataFrame
) -> None:
    first = with_extension(settings, write(tmp_path, ZONE_RULE, "a.py"))
    second = settings.with_changes(log_path=tmp_path / "b.sqlite")
    with make_client(first) as extended, make_client(second) as plain:
        body = far_order(near, 0, 25.0)
        assert extended.post("/predict", content=body).status_code == 422
        assert plain.post("/predict", content=body).status_code == 200
        assert "extension_rows" not in plain.get("/metrics").text
        assert "extension_rows_total 0.0" in extended.get("/metrics").text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "не найдено"),
        ("x = 1\n", "нет ни validate, ни create_metrics"),
        ("def create_metrics(registry):\n    pass\n", "вернула NoneType"),
    ],
    ids=["no file", "no hooks", "create_metrics returns None"],
)
def test_an_unusable_extension_stops_the_start(
    settings, tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "missing.py" if text is None else write(tmp_path, text)
    with pytest.raises(ExtensionError, match=message):
        create_app(with_extension(settings, path))


def test_the_extension_comes_from_the_cli_or_the_environment(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--model-uri", "m", "--extension", "rules.py"])
    assert args.extension == Path("rules.py")
    from_env = ServingSettings.from_env({"MLOPS_SERVING_EXTENSION": str(tmp_path / "e.py")})
    assert from_env.extension == tmp_path / "e.py"
    assert ServingSettings.from_env({}).extension is None
