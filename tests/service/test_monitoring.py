"""The monitoring job: drift against the reference, live quality from delayed labels, export."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlops_course.config import TARGET
from mlops_course.monitoring.job import MIN_ROWS, MonitoringExporter, join_labels, run_monitoring
from mlops_course.scenario.generator import Conditions, generate_orders
from mlops_course.serving.client import encode_orders, metric_value
from mlops_course.serving.prediction_log import read_prediction_log

WINTER = Conditions(
    weather_probs={"clear": 0.35, "rain": 0.05, "snow": 0.45, "fog": 0.15}, temperature_mean=-8.0
)


def serve(client, frame: pd.DataFrame, batch: int = 200) -> None:
    for start in range(0, len(frame), batch):
        response = client.post("/predict", content=encode_orders(frame.iloc[start : start + batch]))
        assert response.status_code == 200


@pytest.fixture
def ab_client(make_client, settings, model_dirs):
    ab = settings.with_changes(challenger_uri=str(model_dirs["challenger"]), challenger_share=0.5)
    with make_client(ab) as client:
        yield client


def test_no_drift_then_winter_drift(ab_client, orders, settings) -> None:
    # A whole week, like the reference (the first rows of a week-long frame are one weekday).
    same_process = generate_orders(1000, 5, first_id=8_000_000)
    serve(ab_client, same_process)
    calm = run_monitoring(orders, settings.log_path)
    assert calm.n_predictions == 1000 and not calm.drift_detected

    winter = generate_orders(1000, 11, conditions=WINTER, first_id=9_000_000)
    serve(ab_client, winter)
    drifted = run_monitoring(orders, settings.log_path, last_requests=5)  # the winter window
    assert drifted.n_predictions == 1000 and drifted.drift_detected
    flagged = set(drifted.drift.table.loc[drifted.drift.table["drifted"], "column"])
    assert {"temperature_c", "weather"} <= flagged
    assert "Дрейф данных обнаружен" in drifted.summary()


def test_live_quality_from_delayed_labels(ab_client, orders, fresh_orders, settings) -> None:
    served = fresh_orders.head(1200)
    serve(ab_client, served)
    arrived = served.iloc[::2][["order_id", TARGET]]  # only half of the labels are in
    result = run_monitoring(orders, settings.log_path, labels=arrived)
    quality = result.quality
    assert quality.loc["all", "n_labelled"] == len(arrived)
    assert quality.loc["champion", "n_labelled"] + quality.loc["challenger", "n_labelled"] == len(
        arrived
    )
    joined = join_labels(read_prediction_log(settings.log_path), arrived)
    for variant in ("champion", "challenger"):
        part = joined[joined["variant"] == variant]
        assert quality.loc[variant, "roc_auc"] == pytest.approx(
            roc_auc_score(part[TARGET], part["probability"])
        )
    assert quality.loc["champion", "roc_auc"] > 0.6  # a real model, better than chance


def test_exporter_gauges_in_the_service_registry(
    ab_client, orders, fresh_orders, settings, tmp_path
) -> None:
    serve(ab_client, fresh_orders.head(400))
    exporter = MonitoringExporter(ab_client.app.state.service.metrics.registry)
    result = run_monitoring(
        orders, settings.log_path, labels=fresh_orders.head(400), exporter=exporter
    )
    metrics = ab_client.get("/metrics").text
    assert metric_value(metrics, "monitoring_predictions") == 400
    assert metric_value(metrics, "monitoring_dataset_drift") == int(result.drift_detected)
    score = result.drift.table.set_index("column").loc["distance_km", "score"]
    assert metric_value(
        metrics, "monitoring_drift_score", column="distance_km", method="ks"
    ) == pytest.approx(score)
    auc = result.quality.loc["all", "roc_auc"]
    assert metric_value(
        metrics, "monitoring_live_quality", variant="all", metric="roc_auc"
    ) == pytest.approx(auc)
    path = exporter.write(tmp_path / "monitoring.prom")
    assert "monitoring_dataset_drift" in path.read_text()


def test_run_without_drift_leaves_no_stale_drift_gauges(client, orders, settings) -> None:
    exporter = MonitoringExporter(client.app.state.service.metrics.registry)
    serve(client, generate_orders(300, 11, conditions=WINTER, first_id=9_000_000))
    first = run_monitoring(orders, settings.log_path, exporter=exporter)
    metrics = client.get("/metrics").text
    assert first.drift_detected and metric_value(metrics, "monitoring_dataset_drift") == 1

    serve(client, generate_orders(MIN_ROWS - 1, 12, first_id=9_500_000))
    second = run_monitoring(orders, settings.log_path, exporter=exporter, last_requests=1)
    assert second.drift is None
    metrics = client.get("/metrics").text
    # NaN is "no data" for a Prometheus alert: the winter verdict must not keep firing.
    assert math.isnan(metric_value(metrics, "monitoring_dataset_drift"))
    assert math.isnan(metric_value(metrics, "monitoring_drifted_share"))
    assert "monitoring_column_drifted{" not in metrics
    assert metric_value(metrics, "monitoring_predictions") == MIN_ROWS - 1


def test_second_exporter_reuses_the_gauges_of_its_registry(
    client, orders, fresh_orders, settings
) -> None:
    registry = client.app.state.service.metrics.registry
    MonitoringExporter(registry)
    again = MonitoringExporter(registry)  # a notebook cell run twice
    serve(client, fresh_orders.head(50))
    run_monitoring(orders, settings.log_path, exporter=again)
    assert metric_value(client.get("/metrics").text, "monitoring_predictions") == 50
    elsewhere = MonitoringExporter()  # an own registry: its gauges are its own
    assert elsewhere.predictions is not again.predictions


def test_a_resent_order_counts_once_with_its_latest_prediction(fresh_orders) -> None:
    order = fresh_orders.head(1)
    predictions = pd.concat([order, order], ignore_index=True).drop(columns=TARGET)
    predictions["probability"] = [0.2, 0.9]  # a retry, or the same order after an A/B switch
    predictions["variant"] = ["champion", "challenger"]
    joined = join_labels(predictions, order[["order_id", TARGET]])
    assert len(joined) == 1
    assert joined.iloc[0][["probability", "variant"]].tolist() == [0.9, "challenger"]


def test_live_quality_counts_a_retried_request_once(client, orders, fresh_orders, settings) -> None:
    served = fresh_orders.head(100)
    serve(client, served)
    serve(client, served)  # the client retried after a timeout: the log holds both answers
    result = run_monitoring(orders, settings.log_path, labels=served[["order_id", TARGET]])
    assert result.n_predictions == 200
    assert result.quality.loc["all", "n_labelled"] == 100


def test_too_few_predictions_skip_the_drift_test(client, orders, fresh_orders, settings) -> None:
    serve(client, fresh_orders.head(MIN_ROWS - 1))
    result = run_monitoring(orders, settings.log_path)
    assert result.drift is None and result.n_predictions == MIN_ROWS - 1
    assert "нужно хотя бы" in result.summary()
    empty = run_monitoring(orders, settings.log_path.with_name("missing.sqlite"))
    assert empty.n_predictions == 0


@pytest.mark.slow
def test_evidently_report_in_the_work_dir(client, orders, fresh_orders, settings, tmp_path) -> None:
    serve(client, fresh_orders.head(300))
    result = run_monitoring(orders, settings.log_path, evidently_html=tmp_path / "report.html")
    assert result.html_path == tmp_path / "report.html"
    assert result.html_path.stat().st_size > 10_000


def test_summary_names_columns_that_could_not_be_tested(orders) -> None:
    from mlops_course.monitoring.drift import dataset_drift
    from mlops_course.monitoring.job import MonitoringResult

    current = generate_orders(500, 3, first_id=7_000_000).assign(temperature_c=float("nan"))
    drift = dataset_drift(orders, current)
    summary = MonitoringResult(n_predictions=len(current), drift=drift).summary()
    tested = len(drift.table) - 1
    assert f"из {tested} признаков" in summary
    assert "Не проверены (нет данных): temperature_c" in summary
