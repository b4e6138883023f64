"""The real CLI under uvicorn on a free loopback port, talked to over HTTP.

Also the concurrency test: many parallel clients, then the prediction log holds exactly one
row per answered prediction and ``/metrics`` counts exactly the requests sent.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving.__main__ import build_parser, listen_address
from mlops_course.serving.background import BackgroundService, free_port, start_service
from mlops_course.serving.client import ServiceClient, ServiceError, encode_orders, metric_value
from mlops_course.serving.prediction_log import read_prediction_log
from tests.conftest import wait_until

pytestmark = pytest.mark.slow  # a server process start (~5 s of imports)

N_CLIENTS = 8
REQUESTS_PER_CLIENT = 25


@pytest.fixture(scope="module")
def service(model_dirs: dict[str, Path], tmp_path_factory) -> Iterator[BackgroundService]:
    log_path = tmp_path_factory.mktemp("cli") / "predictions.sqlite"
    handle = start_service(str(model_dirs["champion"]), extra_args=["--log-path", str(log_path)])
    yield handle
    handle.stop()


def address(argv: list[str], environ: dict[str, str]) -> tuple[str, int]:
    return listen_address(build_parser().parse_args(["--model-uri", "m", *argv]), environ)


def test_cli_listens_on_loopback_unless_told_otherwise() -> None:
    assert address([], {}) == ("127.0.0.1", 8000)
    container = {"MLOPS_SERVING_HOST": "0.0.0.0", "MLOPS_SERVING_PORT": "9000"}
    assert address([], container) == ("0.0.0.0", 9000)
    assert address(["--host", "::1", "--port", "8001"], container) == ("::1", 8001)
    assert address(["--port", "0"], container) == ("0.0.0.0", 0)  # 0: the system picks a port


def test_free_port_is_a_real_port_nobody_listens_on() -> None:
    import socket

    port = free_port()
    assert 1024 <= port <= 65535  # not 0 ("any port"), not a privileged one
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # exactly this port is free


def test_real_server_answers_over_http(service: BackgroundService, models, fresh_orders) -> None:
    assert service.host == "127.0.0.1" and service.running()
    with ServiceClient(service.url) as client:
        assert client.healthy() and client.ready()
        answer = client.predict(fresh_orders.head(20))
        expected = models["champion"].predict_proba(fresh_orders.head(20)[FEATURES])[:, 1]
        np.testing.assert_allclose(answer["probability"], expected, rtol=1e-12)
        bad = client.post_raw(b'{"order_id": [1]}')
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "distance_km"
        assert client.model()["champion"]["name"] == "champion"
    assert service.rss_mb() < 500


def test_the_client_raises_the_services_own_message(service: BackgroundService, fresh_orders):
    orders = fresh_orders.head(3).copy()
    orders.loc[orders.index[1], "temperature_c"] = np.nan  # a sensor that sent nothing
    with ServiceClient(service.url) as client, pytest.raises(ServiceError) as raised:
        client.predict(orders)
    assert raised.value.status_code == 422
    assert raised.value.messages == [
        "temperature_c: пропущено значение (null) в строке 1; сервис не заполняет пропуски, "
        "ожидается число"
    ]


def test_a_client_that_hangs_up_is_not_a_server_error(service: BackgroundService) -> None:
    """A body cut short by the client counts as 499 (nginx's "client closed request"),
    so an alert on 5xx does not fire on impatient clients; the server logs no traceback."""
    with ServiceClient(service.url) as client:
        before = client.metrics()
    with socket.create_connection((service.host, service.port)) as connection:
        connection.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"order_id": [1'
        )
        time.sleep(0.3)  # the server is now waiting for the rest of the body

    def counted(status: str) -> float:
        with ServiceClient(service.url) as client:
            after = client.metrics()
        labels = {"method": "POST", "endpoint": "/predict", "status": status}
        return metric_value(after, "http_requests_total", **labels) - metric_value(
            before, "http_requests_total", **labels
        )

    wait_until(lambda: counted("499") == 1, 10, "the abandoned request counted as 499")
    assert counted("500") == 0
    assert "Traceback" not in service.output()


def send_mixed_traffic(url: str, frame: pd.DataFrame, client_index: int) -> Counter:
    """One client: valid batches of varying size and some broken ones; count what happened."""
    rng = np.random.default_rng(client_index)
    outcome: Counter = Counter()
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(REQUESTS_PER_CLIENT):
            if i % 5 == 4:
                response = http.post("/predict", content=b'{"order_id": [1], "hour": ["x"]}')
                outcome[f"status_{response.status_code}"] += 1
                continue
            size = int(rng.integers(1, 40))
            start = (client_index * REQUESTS_PER_CLIENT + i) * 40
            batch = frame.iloc[start : start + size]
            response = http.post("/predict", content=encode_orders(batch))
            outcome[f"status_{response.status_code}"] += 1
            if response.status_code == 200:
                outcome["rows"] += len(response.json()["probability"])
    return outcome


def test_parallel_clients_lose_nothing(service: BackgroundService, tmp_path: Path) -> None:
    from mlops_course.scenario.generator import generate_orders

    frame = generate_orders(N_CLIENTS * REQUESTS_PER_CLIENT * 40, 7, first_id=5_000_000)
    with ServiceClient(service.url) as client:
        before = client.metrics()
    log_path = Path(_log_path(service))
    rows_before = len(read_prediction_log(log_path))
    with ThreadPoolExecutor(N_CLIENTS) as pool:
        outcomes = list(
            pool.map(lambda k: send_mixed_traffic(service.url, frame, k), range(N_CLIENTS))
        )
    total = sum(outcomes, Counter())
    assert total["status_200"] == N_CLIENTS * REQUESTS_PER_CLIENT * 4 // 5
    assert total["status_422"] == N_CLIENTS * REQUESTS_PER_CLIENT // 5

    log = read_prediction_log(log_path)
    new_rows = log.iloc[rows_before:]
    assert len(new_rows) == total["rows"]  # exactly one row per answered prediction
    assert new_rows["order_id"].is_unique
    assert set(new_rows["order_id"]) <= set(frame["order_id"])

    with ServiceClient(service.url) as client:
        after = client.metrics()

    def delta(sample: str, **labels: str) -> float:
        return metric_value(after, sample, **labels) - metric_value(before, sample, **labels)

    assert (
        delta("http_requests_total", endpoint="/predict", method="POST", status="200")
        == total["status_200"]
    )
    assert (
        delta("http_requests_total", endpoint="/predict", method="POST", status="422")
        == total["status_422"]
    )
    predicted = sum(delta("predictions_total", variant="champion", label=label) for label in "01")
    assert predicted == total["rows"]


def _log_path(service: BackgroundService) -> str:
    command = service.process.args
    return command[command.index("--log-path") + 1]


def test_graceful_stop_keeps_the_log(service: BackgroundService, fresh_orders) -> None:
    """Last test of the module: SIGTERM stops the shared server cleanly, the log is intact."""
    with ServiceClient(service.url) as client:
        last = client.predict(fresh_orders.tail(3))
        predicted = sum(
            metric_value(client.metrics(), "predictions_total", variant="champion", label=label)
            for label in "01"
        )
    exit_code = service.stop()
    # uvicorn re-raises the SIGTERM it handled after shutting down, hence -15 rather than 0.
    assert exit_code in (0, -signal.SIGTERM)
    assert not service.running()
    assert "Traceback" not in service.output()
    log = read_prediction_log(_log_path(service))
    assert len(log) == predicted
    assert log["order_id"].tail(3).tolist() == last["order_id"].tolist()
