"""monitoring.prometheus_server: the adapted config, PromQL without Prometheus (MetricsText,
histogram_quantile) and a real Prometheus that gives the same answers from a live service."""

from __future__ import annotations

import math

import pandas as pd
import psutil
import pytest
import yaml

from mlops_course.monitoring import prometheus_server
from mlops_course.monitoring.prometheus_server import MetricsText, histogram_quantile
from mlops_course.serving.background import BackgroundService, start_service
from mlops_course.serving.client import ServiceClient
from mlops_course.serving.metrics import LATENCY_BUCKETS, ServiceMetrics
from tests.conftest import REPO_ROOT, system_tool

CONFIG = REPO_ROOT / "deploy" / "prometheus.yml"
JOB = 'job="delivery-delay-service"'
PREDICT = f'{JOB}, endpoint="/predict"'
REQUESTS = f"sum(http_requests_total{{{PREDICT}}})"
P95 = f"histogram_quantile(0.95, sum by (le) (http_request_duration_seconds_bucket{{{PREDICT}}}))"
VARIANTS = f"sum by (variant) (predictions_total{{{JOB}}})"


# --- The config: deploy/prometheus.yml changed only where it must be -----------------------


def test_the_adapted_config_changes_only_the_target_port_and_the_intervals():
    original = yaml.safe_load(CONFIG.read_text())
    adapted = prometheus_server.adapted_config(43210, scrape_interval="2s")
    (job,) = adapted["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:43210"]
    assert adapted["global"] == {"scrape_interval": "2s", "evaluation_interval": "2s"}
    # everything else as committed: the job name, the path, the env label
    job["static_configs"][0]["targets"] = original["scrape_configs"][0]["static_configs"][0][
        "targets"
    ]
    assert adapted["scrape_configs"] == original["scrape_configs"]


def test_without_the_program_start_prometheus_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no prometheus on PATH
    assert prometheus_server.find_prometheus() is None
    with pytest.raises(FileNotFoundError, match="apt-get install prometheus"):
        prometheus_server.start_prometheus(8000, tmp_path / "prometheus")


# --- histogram_quantile as Prometheus computes it ------------------------------------------


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, {0.1: 5, 0.5: 10, math.inf: 10}, 0.1),  # rank 5: the end of the first bucket
        (0.75, {0.1: 5, 0.5: 10, math.inf: 10}, 0.3),  # rank 7.5: halfway through (0.1, 0.5]
        (0.25, {0.1: 4, 0.5: 10, math.inf: 10}, 0.0625),  # the first bucket starts at 0
        (0.95, {0.1: 5, 0.5: 8, math.inf: 10}, 0.5),  # rank in +Inf: the highest finite bound
        (0.5, {0.5: 8, 0.1: 5, math.inf: 10}, 0.1),  # order of the keys does not matter
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket(q, buckets, expected):
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_histogram_quantile_edge_cases_as_in_prometheus():
    assert math.isnan(histogram_quantile(0.5, {0.1: 0, math.inf: 0}))  # no observations
    assert math.isnan(histogram_quantile(0.5, {0.1: 3, 0.5: 5}))  # no +Inf bucket
    assert histogram_quantile(-0.1, {0.1: 1, math.inf: 1}) == -math.inf
    assert histogram_quantile(1.5, {0.1: 1, math.inf: 1}) == math.inf
    # counts from different scrapes can dip: made monotonic first (le=0.5 counts 2, not 1),
    # so rank 2.4 is 0.4 of the 2 requests in (0.5, 1.0], not 1.4 of 3
    buckets = {0.1: 2, 0.5: 1, 1.0: 4, math.inf: 4}
    assert histogram_quantile(0.6, buckets) == pytest.approx(0.5 + 0.5 * 0.4 / 2)


# --- PromQL over the text of /metrics --------------------------------------------------------


@pytest.fixture
def exposition() -> str:
    """The service's own metrics after 3 requests to /predict (latencies 2, 20, 200 ms)."""
    metrics = ServiceMetrics()
    for seconds in (0.002, 0.02, 0.2):
        metrics.observe_request("/predict", "POST", 200, seconds)
    metrics.observe_request("/metrics", "GET", 200, 0.001)
    metrics.predictions.labels("champion", "0").inc(5)
    metrics.predictions.labels("challenger", "1").inc(2)
    return metrics.exposition().decode()


def test_metrics_text_answers_sum_sum_by_and_histogram_quantile(exposition):
    text = MetricsText(exposition)
    assert text.value(REQUESTS) == 3  # the /metrics request is another endpoint
    assert text.value("sum(http_requests_total)") == 4
    assert text.values(VARIANTS, "variant") == {"champion": 5, "challenger": 2}
    # rank 0.95 · 3 = 2.85 falls in (0.1, 0.25], which holds the third request (200 ms)
    assert {0.1, 0.25} <= set(LATENCY_BUCKETS)  # the bounds this expectation relies on
    assert text.value(P95) == pytest.approx(0.1 + 0.15 * 0.85)
    assert text.value('sum(http_requests_total{endpoint="/nowhere"})') is None


def test_since_gives_what_grew_between_two_snapshots(exposition):
    metrics = ServiceMetrics()
    before = MetricsText(metrics.exposition().decode())
    for _ in range(4):
        metrics.observe_request("/predict", "POST", 200, 0.03)
    grown = MetricsText(metrics.exposition().decode()).since(before)
    assert grown.value(REQUESTS) == 4
    assert 0.025 < grown.value(P95) <= 0.05  # all four in the (25 ms, 50 ms] bucket


@pytest.mark.parametrize(
    "promql",
    [
        "rate(http_requests_total[1m])",  # needs time: only Prometheus answers it
        'sum(http_requests_total{endpoint=~"/pre.*"})',  # a regex matcher
    ],
)
def test_forms_prometheus_alone_can_answer_are_refused(exposition, promql):
    with pytest.raises(ValueError):
        MetricsText(exposition).value(promql)


# --- A real Prometheus scraping a live service ------------------------------------------------


@pytest.fixture(scope="module")
def binary() -> str:
    return system_tool("prometheus", package="prometheus")


@pytest.fixture(scope="module")
def service(model_dirs: dict, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("service") / "predictions.sqlite"
    handle = start_service(
        str(model_dirs["champion"]),
        extra_args=["--log-path", str(log_path), "--challenger-uri",
                    str(model_dirs["challenger"]), "--challenger-share", "0.4"],
    )  # fmt: skip
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def prometheus(binary: str, service: BackgroundService, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prometheus")
    handle = prometheus_server.start_prometheus(service.port, folder, binary=binary)
    yield handle
    handle.stop()


@pytest.mark.slow  # a service and a Prometheus server start
def test_prometheus_gives_the_same_answers_as_the_text_of_metrics(
    prometheus, service, fresh_orders
):
    with ServiceClient(service.url) as client:
        answers = [client.predict(fresh_orders.iloc[i : i + 9]) for i in range(0, 90, 9)]
        text = MetricsText(client.http.get("/metrics").text)
    assert prometheus.wait_for(REQUESTS, 10, timeout=60) == 10
    assert prometheus.target_health() == "up"
    sent = pd.concat(answers)["variant"].value_counts()
    assert prometheus.values(VARIANTS, "variant") == text.values(VARIANTS, "variant")
    assert prometheus.values(VARIANTS, "variant") == {
        "champion": float(sent["champion"]),
        "challenger": float(sent["challenger"]),
    }
    assert prometheus.value(P95) == text.value(P95)  # to the last bit


@pytest.mark.slow
def test_prometheus_runs_from_its_folder_and_stops(prometheus, service):
    config = yaml.safe_load((prometheus.output_path.parent / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{service.port}"
    ]
    assert (prometheus.output_path.parent / "data").is_dir()  # the database is in the folder
    pid = prometheus.pid
    assert prometheus.stop() == 0  # SIGTERM: a clean shutdown
    assert not psutil.pid_exists(pid)
