"""The MLflow UI over one of the course's tracking stores, for a person to look at.

    python -m mlops_course.versioning.mlflow_ui [--port 5000] [--home .work/lifecycle]

Two ways in, one command: ``make mlflow-ui`` runs it on ``127.0.0.1:5000``, and
JupyterLab's Launcher (``jupyter-server-proxy``, locally and on Binder, where a student
has no port of their own) starts it on a free port under ``/mlflow/`` for the shared
store and ``/mlflow-lifecycle/`` for notebook 03's registry. ``shared_store`` and
``lifecycle_store`` are the entry points ``jupyter-server-proxy`` reads (``pyproject.toml``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mlops_course.config import work_dir
from mlops_course.versioning.tracking import setup_tracking, tracking_uri

HOST = "127.0.0.1"
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""MLflow's job runner starts 8 more processes the course never uses (Binder has 2 GB)."""


class MissingStoreError(RuntimeError):
    """A home was named but holds no MLflow database: the UI would only show emptiness."""


def ui_command(port: int, home: str | Path | None = None) -> list[str]:
    """The ``mlflow ui`` command over the store in ``home`` (default: the shared one)."""
    if home is not None and not (Path(home) / "mlflow" / "mlflow.db").is_file():
        raise MissingStoreError(
            f"Нет базы MLflow в {home}/mlflow: проверьте путь или сначала выполните ноутбук."
        )
    return [
        *(sys.executable, "-m", "mlflow", "ui"),
        *("--host", HOST, "--port", str(port), "--workers", "1"),
        *("--backend-store-uri", tracking_uri(home)),
    ]


def _launch(home: str | None) -> list[str]:
    # The proxy renders {port}. A store no notebook has filled yet is created empty, so
    # the Launcher entry always opens (and shows the runs once the notebook has run).
    command = [sys.executable, "-m", __name__, "--port", "{port}"]
    return command if home is None else [*command, "--home", str(work_dir(home)), "--create"]


def proxy_server(title: str, home: str | None = None) -> dict[str, Any]:
    """A ``jupyter-server-proxy`` server: the UI over one store, with a Launcher entry.

    The proxy forwards the browser's ``Host`` header (on Binder, the hub's name); MLflow
    answers only requests addressed to loopback, so the header is set to its own address.
    """
    return {
        "command": _launch(home),
        "timeout": 120,  # MLflow takes 10-60 s to start on a busy 2-core machine
        "absolute_url": False,
        "request_headers_override": {"Host": f"{HOST}:{{port}}"},
        "launcher_entry": {"title": title, "category": "Notebook"},
        "new_browser_tab": False,
    }


def shared_store() -> dict[str, Any]:
    """``/mlflow/``: the shared store (``<work>/mlflow``)."""
    return proxy_server("MLflow: общая база")


def lifecycle_store() -> dict[str, Any]:
    """``/mlflow-lifecycle/``: the registry notebook 03 fills (``<work>/lifecycle``)."""
    return proxy_server("MLflow: реестр ноутбука 03", "lifecycle")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--home", default=None, help="папка с mlflow/mlflow.db")
    parser.add_argument("--create", action="store_true", help="создать пустую базу, если её нет")
    args = parser.parse_args(argv)
    home = args.home or None
    if home is not None and args.create and not (Path(home) / "mlflow" / "mlflow.db").exists():
        setup_tracking(home=home)
    try:
        command = ui_command(args.port, home)
    except MissingStoreError as error:
        print(error, file=sys.stderr)
        return 2
    os.execve(command[0], command, {**os.environ, **SERVER_ENV})
    return 0  # not reached: the process is MLflow's now


if __name__ == "__main__":
    sys.exit(main())
