"""deploy/prometheus.yml with a real Prometheus: the config loads, and the server scrapes a
live service and sees exactly the predictions that were sent."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlops_course.monitoring.prometheus_server import PrometheusServer, start_prometheus
from mlops_course.serving.background import BackgroundService, start_service
from mlops_course.serving.client import ServiceClient
from mlops_course.serving.settings import DEFAULT_PORT
from tests.conftest import REPO_ROOT, system_tool, wait_until

pytestmark = pytest.mark.slow  # a service and a Prometheus server start

CONFIG = REPO_ROOT / "deploy" / "prometheus.yml"
JOB = "delivery-delay-service"
BATCHES = (1, 7, 30)


@pytest.fixture(scope="module")
def prometheus() -> str:
    return system_tool("prometheus", package="prometheus")


def test_promtool_accepts_the_config(prometheus: str) -> None:
    promtool = Path(prometheus).with_name("promtool")
    check = subprocess.run(
        [str(promtool), "check", "config", str(CONFIG)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture(scope="module")
def service(model_dirs: dict, tmp_path_factory) -> Iterator[BackgroundService]:
    log_path = tmp_path_factory.mktemp("prometheus-service") / "predictions.sqlite"
    handle = start_service(str(model_dirs["champion"]), extra_args=["--log-path", str(log_path)])
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def prometheus_server(
    prometheus: str, service: BackgroundService, tmp_path_factory
) -> Iterator[PrometheusServer]:
    """Prometheus on deploy/prometheus.yml, changed only where a test must: the service's
    free port instead of 8000, and a 1 s scrape interval instead of 15 s
    (``monitoring.prometheus_server.start_prometheus``, as notebook 11 runs it)."""
    config = yaml.safe_load(CONFIG.read_text())
    (job,) = (j for j in config["scrape_configs"] if j["job_name"] == JOB)
    static = job["static_configs"][0]
    assert static["targets"] == [f"127.0.0.1:{DEFAULT_PORT}"]
    state = tmp_path_factory.mktemp("prometheus")
    server = start_prometheus(service.port, state, binary=prometheus, scrape_interval="1s")
    try:
        yield server
    finally:
        server.stop()


def test_prometheus_scrapes_the_service_and_counts_every_prediction(
    prometheus_server: PrometheusServer, service: BackgroundService, fresh_orders
) -> None:
    query = prometheus_server.value
    wait_until(lambda: query(f'up{{job="{JOB}"}}') == 1, 60, "target up")
    with ServiceClient(service.url) as client:
        for rows in BATCHES:
            client.predict(fresh_orders.head(rows))
    total = f'sum(predictions_total{{job="{JOB}", env="local"}})'
    wait_until(
        lambda: query(total) == sum(BATCHES),
        60,
        f"Prometheus sees {sum(BATCHES)} predictions",
        show=lambda: query(total),
    )
