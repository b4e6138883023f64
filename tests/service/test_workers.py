"""``--workers N``: N uvicorn processes on one socket, each serving the same model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psutil
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving.__main__ import build_parser, worker_count
from mlops_course.serving.background import start_service
from mlops_course.serving.client import ServiceClient, encode_orders
from mlops_course.serving.load_test import load_test
from mlops_course.serving.prediction_log import read_prediction_log


def workers(argv: list[str], environ: dict[str, str]) -> int:
    return worker_count(build_parser().parse_args(["--model-uri", "m", *argv]), environ)


def test_worker_count_from_the_command_line_or_the_environment() -> None:
    assert workers([], {}) == 1
    assert workers([], {"MLOPS_SERVING_WORKERS": "3"}) == 3
    assert workers(["--workers", "2"], {"MLOPS_SERVING_WORKERS": "3"}) == 2
    with pytest.raises(SystemExit):
        workers(["--workers", "0"], {})


@pytest.mark.slow
def test_two_workers_serve_the_model_and_share_the_log(
    model_dirs: dict, models: dict, fresh_orders, tmp_path: Path
) -> None:
    log_path = tmp_path / "log.sqlite"
    service = start_service(
        str(model_dirs["champion"]), extra_args=["--workers", "2", "--log-path", str(log_path)]
    )
    try:
        children = psutil.Process(service.pid).children()
        servers = [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
        assert len(servers) == 2  # two worker processes under the supervisor
        with ServiceClient(service.url) as client:
            answer = client.predict(fresh_orders.head(10))
        expected = models["champion"].predict_proba(fresh_orders.head(10)[FEATURES])[:, 1]
        np.testing.assert_allclose(answer["probability"], expected, rtol=1e-12)
        bodies = [encode_orders(fresh_orders.iloc[[i]]) for i in range(10, 60)]
        result = load_test(service.url, bodies, concurrency=4, duration_s=1.0, warmup_s=0.0)
        assert result.errors == 0 and result.ok > 0
        assert service.cpu_seconds() > 0
    finally:
        exit_code = service.stop()
    assert exit_code == 0 and not service.running()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive  # no orphaned worker
    assert "Traceback" not in service.output()
    assert len(read_prediction_log(log_path)) == 10 + result.requests  # both workers logged
