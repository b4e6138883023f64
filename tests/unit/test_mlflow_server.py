"""A real `mlflow server` in the background: the command, the REST API over a course store,
and a stop that leaves no process behind."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import psutil
import pytest

from mlops_course.versioning import mlflow_server
from mlops_course.versioning.mlflow_ui import MissingStoreError
from mlops_course.versioning.tracking import setup_tracking, tracking_dir, tracking_uri

MODEL = "delivery-delay"


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_command_serves_the_course_store_on_loopback_with_one_worker(tmp_path):
    setup_tracking(home=tmp_path)
    command = mlflow_server.server_command(5123, tmp_path)
    assert command[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert option(command, "--host") == "127.0.0.1"
    assert option(command, "--port") == "5123"
    assert option(command, "--workers") == "1"
    assert option(command, "--backend-store-uri") == tracking_uri(tmp_path)
    # artifacts a client uploads through the server stay in the store, not in the cwd
    assert option(command, "--artifacts-destination") == (
        (tracking_dir(tmp_path) / "artifacts").as_uri()
    )


def test_a_home_without_a_database_is_refused_with_a_hint(tmp_path):
    with pytest.raises(MissingStoreError, match="setup_tracking"):
        mlflow_server.server_command(5000, tmp_path)


def test_stop_also_ends_processes_the_server_left_behind(tmp_path):
    # A parent that starts a child and exits on SIGTERM without stopping it: what the
    # uvicorn child of `mlflow server` would be if the CLI died first.
    script = (
        "import signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "time.sleep(60)\n"
    )
    output = tmp_path / "out.log"
    with output.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=sink)
    server = mlflow_server.MlflowServer(process, "127.0.0.1", 1, output)
    deadline = time.monotonic() + 20
    while not output.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(output.read_text().split()[0])
    assert [p.pid for p in server.processes()] == [process.pid, child]
    server.stop(timeout=10)
    assert not psutil.pid_exists(process.pid)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    """A course store with one run and a registered version with the alias champion."""
    home = tmp_path_factory.mktemp("store")
    experiment_id = setup_tracking(home=home)
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_metric("log_loss", 0.25)
    client = mlflow.MlflowClient()
    client.create_registered_model(MODEL)
    version = client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(MODEL, "champion", version.version)
    return {"home": home, "experiment_id": experiment_id, "run_id": run.info.run_id}


@pytest.fixture(scope="module")
def server(store: dict, tmp_path_factory):
    handle = mlflow_server.start_mlflow_server(store["home"], timeout=180)
    yield handle
    handle.stop()


@pytest.mark.slow  # the server imports MLflow in two processes: 5-40 s
def test_the_rest_api_answers_what_the_store_holds(server, store):
    body = {"experiment_ids": [store["experiment_id"]]}
    runs = httpx.post(server.api("runs/search"), json=body).raise_for_status().json()["runs"]
    assert [run["info"]["run_id"] for run in runs] == [store["run_id"]]
    assert {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]} == {"log_loss": 0.25}
    models = httpx.get(server.api("registered-models/search")).json()["registered_models"]
    assert [model["name"] for model in models] == [MODEL]
    query = {"name": MODEL, "alias": "champion"}
    version = httpx.get(server.api("registered-models/alias"), params=query).json()
    assert version["model_version"]["run_id"] == store["run_id"]


@pytest.mark.slow
def test_the_server_is_two_processes_and_stop_leaves_none(server, store):
    processes = server.processes()
    commands = [" ".join(process.cmdline()) for process in processes]
    assert len(processes) == 2, commands  # the CLI and uvicorn; no job runner
    assert "mlflow server" in commands[0] and "uvicorn" in commands[1]
    assert not any("huey" in command for command in commands)
    assert server.output_path.parent == tracking_dir(store["home"])
    pids = [process.pid for process in processes]
    assert server.stop() == 0  # a graceful exit, not a kill
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert not (Path.cwd() / "mlartifacts").exists()
