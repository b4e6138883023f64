"""A real MLflow tracking server in the background, over one of the course's sqlite stores.

    server = start_mlflow_server(home)          # a free loopback port, waits for /health
    httpx.get(server.api("registered-models/search")).json()
    server.stop()

What a team runs on a machine of its own (``mlflow server`` with a database and an artifact
store) started here as a child process, so a notebook can talk to the registry over HTTP
as the service in Kubernetes does (``MLFLOW_TRACKING_URI=http://mlflow:5000`` in
``deploy/k8s/deployment.yaml``). ``mlflow server`` is two processes: the CLI and the
uvicorn server it starts; ``stop`` ends both.

Two settings keep it small and inside the work directory: MLflow's job runner (a "huey"
consumer per job type, seven more processes, for GenAI evaluation jobs the course never
submits) is switched off, and artifacts the server would receive go to the store's
``artifacts`` folder, not to ``./mlartifacts`` in whatever folder the notebook runs in.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from mlops_course.serving.background import (
    BackgroundService,
    ServiceStartError,
    die_with_parent,
    free_port,
)
from mlops_course.versioning.mlflow_ui import HOST, SERVER_ENV, MissingStoreError
from mlops_course.versioning.tracking import tracking_dir, tracking_uri

HEALTH_PATH = "/health"
API_PREFIX = "/api/2.0/mlflow/"


def server_command(port: int, home: str | Path | None = None) -> list[str]:
    """``mlflow server`` over the sqlite store in ``home`` (default: the shared store).

    The store must exist (``tracking.setup_tracking(home=...)`` creates it): a server over
    a new empty file would only show emptiness.
    """
    store = tracking_dir(home)
    if not (store / "mlflow.db").is_file():
        raise MissingStoreError(
            f"Нет базы MLflow в {store}: сначала tracking.setup_tracking(home=...)."
        )
    return [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--host", HOST, "--port", str(port), "--workers", "1"),
        *("--backend-store-uri", tracking_uri(home)),
        *("--artifacts-destination", (store / "artifacts").as_uri()),
    ]


@dataclass
class MlflowServer(BackgroundService):
    """A running ``mlflow server`` (the CLI process and its uvicorn child)."""

    def api(self, endpoint: str) -> str:
        """URL of a REST endpoint, e.g. ``api("runs/search")``."""
        return f"{self.url}{API_PREFIX}{endpoint.lstrip('/')}"

    def processes(self) -> list[psutil.Process]:
        """The CLI and every process under it that is still running."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Poll ``/health`` until it answers 200; fail early if the server exits."""
        deadline = time.monotonic() + timeout
        reason = "нет ответа"
        while time.monotonic() < deadline:
            if not self.running():
                raise ServiceStartError(
                    f"mlflow server завершился с кодом {self.process.returncode}:\n"
                    f"{self.output()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError as error:  # not listening yet (HTTPError is an OSError too)
                reason = str(error)
            time.sleep(0.2)
        self.stop()
        raise ServiceStartError(
            f"mlflow server не готов за {timeout:.0f} с: {reason}\n{self.output()[-2000:]}"
        )

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop the CLI (it passes SIGTERM on to uvicorn), then anything it left behind."""
        children = self.processes()[1:]
        code = super().stop(timeout)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.terminate()
        _, alive = psutil.wait_procs(children, timeout=timeout)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        return code


def start_mlflow_server(
    home: str | Path | None = None,
    *,
    port: int | None = None,
    timeout: float = 120.0,
    wait: bool = True,
) -> MlflowServer:
    """Start ``mlflow server`` over the store in ``home`` on a free port; wait for ``/health``.

    Its output goes to ``<store>/server-<port>.log``. ``wait=False`` returns at once (call
    ``wait_ready`` later: the server needs 5-40 s to import MLflow on a busy 2-core machine).
    """
    port = port or free_port(HOST)
    command = server_command(port, home)
    store = tracking_dir(home)
    output_path = store / f"server-{port}.log"
    output = output_path.open("w")
    process = subprocess.Popen(
        command,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=store,  # anything MLflow writes to a relative path lands in the store
        env={**os.environ, **SERVER_ENV},
        preexec_fn=die_with_parent(),
    )
    server = MlflowServer(process, HOST, port, output_path, _output=output)
    if wait:
        try:
            server.wait_ready(timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                server.stop()
            raise
    return server
