"""deploy/prometheus.yml with a real Prometheus: the config loads, and the server scrapes a
live service and sees exactly the predictions that were sent."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlops_course.serving.background import BackgroundService, free_port, start_service
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
def prometheus_url(prometheus: str, service: BackgroundService, tmp_path_factory) -> Iterator[str]:
    """Prometheus on deploy/prometheus.yml, changed only where a test must: the service's
    free port instead of 8000, and a 1 s scrape interval instead of 15 s."""
    state = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load(CONFIG.read_text())
    config["global"]["scrape_interval"] = "1s"
    (job,) = (j for j in config["scrape_configs"] if j["job_name"] == JOB)
    static = job["static_configs"][0]
    assert static["targets"] == [f"127.0.0.1:{DEFAULT_PORT}"]
    static["targets"] = [f"127.0.0.1:{service.port}"]
    (state / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [prometheus, f"--config.file={state / 'prometheus.yml'}",
         f"--storage.tsdb.path={state / 'data'}", f"--web.listen-address={address}"],
        stdout=subprocess.DEVNULL,
        stderr=(state / "prometheus.log").open("wb"),
    )  # fmt: skip
    try:
        yield f"http://{address}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def query(url: str, promql: str) -> float | None:
    """The single value of an instant query, or None while Prometheus has no sample."""
    try:
        with urllib.request.urlopen(
            f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=5
        ) as reply:
            result = json.load(reply)["data"]["result"]
    except OSError:  # not listening yet
        return None
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_service_and_counts_every_prediction(
    prometheus_url: str, service: BackgroundService, fresh_orders
) -> None:
    wait_until(lambda: query(prometheus_url, f'up{{job="{JOB}"}}') == 1, 60, "target up")
    with ServiceClient(service.url) as client:
        for rows in BATCHES:
            client.predict(fresh_orders.head(rows))
    total = f'sum(predictions_total{{job="{JOB}", env="local"}})'
    wait_until(
        lambda: query(prometheus_url, total) == sum(BATCHES),
        60,
        f"Prometheus sees {sum(BATCHES)} predictions",
        show=lambda: query(prometheus_url, total),
    )
