"""The serving image's dependencies (deploy/requirements.lock) are enough to run the service.

Docker cannot run here, so this does what deploy/Dockerfile does, in a fresh virtualenv:
install only the serving lock, put the package's source on the path, serve an exported
model and predict over HTTP.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving.background import start_service
from mlops_course.serving.client import ServiceClient
from tests.conftest import REPO_ROOT
from tools.sync_environment import lock_pins

SERVING_LOCK = REPO_ROOT / "deploy" / "requirements.lock"
COURSE_LOCK = REPO_ROOT / "requirements.lock"
# Course tooling the image must not carry (and full mlflow's database layer).
NOT_IN_IMAGE = {"jupyterlab", "papermill", "dvc", "prefect", "evidently", "dask", "sqlalchemy"}


def test_serving_lock_pins_the_course_versions_and_leaves_the_tooling_out() -> None:
    course, serving = lock_pins(COURSE_LOCK.read_text()), lock_pins(SERVING_LOCK.read_text())
    assert {"fastapi", "uvicorn", "scikit-learn", "mlflow-skinny"} <= serving.keys()
    different = {n: (v, course.get(n)) for n, v in serving.items() if course.get(n) != v}
    assert not different, f"run `make lock`: serving pins differ from the course {different}"
    assert not NOT_IN_IMAGE & serving.keys()


@pytest.fixture(scope="module")
def serving_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with nothing but deploy/requirements.lock, installed by the course's uv."""
    venv = tmp_path_factory.mktemp("serving-image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    uv = Path(sys.executable).with_name("uv")
    install = [str(uv), "pip", "install", "--quiet", "--python", str(python)]
    subprocess.run([*install, "--require-hashes", "-r", str(SERVING_LOCK)], check=True)
    return python


@pytest.mark.slow
def test_service_runs_from_the_serving_lock_alone(
    serving_python: Path, model_dirs: dict, models: dict, fresh_orders, tmp_path: Path
) -> None:
    missing = subprocess.run(
        [str(serving_python), "-c", "import jupyterlab"], capture_output=True, check=False
    )
    assert missing.returncode != 0, "the venv must not see the course's packages"

    service = start_service(
        str(model_dirs["champion"]),
        python=str(serving_python),
        env={"PYTHONPATH": str(REPO_ROOT / "src")},  # the image copies src/ the same way
        extra_args=["--log-path", str(tmp_path / "predictions.sqlite")],
    )
    try:
        with ServiceClient(service.url) as client:
            answer = client.predict(fresh_orders.head(20))
            metrics = client.metrics()
    finally:
        service.stop()
    expected = models["champion"].predict_proba(fresh_orders.head(20)[FEATURES])[:, 1]
    np.testing.assert_allclose(answer["probability"], expected, rtol=1e-12)
    predictions = sum(v for (name, _), v in metrics.items() if name == "predictions_total")
    assert predictions == 20
