"""The continuous-training flow end to end, on Prefect's ephemeral server and MLflow in tmp.

One server for the module (it takes 10–30 s to start): the last test stops it and checks
that no Prefect process is left. Each test uses its own registered model name in one
MLflow store (a fresh sqlite store costs ~5 s), so the tests do not see each other.
"""

from __future__ import annotations

import inspect
import os
import runpy
import sys
import types
from pathlib import Path
from uuid import UUID

import mlflow
import pandas as pd
import psutil
import pytest

from mlops_course.model import evaluate, train
from mlops_course.orchestration import ct_flow, prefect_runtime
from mlops_course.scenario.generator import frame_hash
from mlops_course.versioning import registry

pytestmark = pytest.mark.slow  # the server's start-up: 10–30 s (more on a busy machine)

MARKER = "PREFECT_HOME"
DAG_FILE = Path(__file__).resolve().parents[2] / "deploy" / "airflow" / "continuous_training_dag.py"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("ct-flow"))


@pytest.fixture(scope="module")
def prefect_server(home: str):
    before = os.environ.get(MARKER)
    server = prefect_runtime.start_prefect(home)
    server.env_before = before  # what ``stop`` must restore (checked by the last test)
    yield server
    server.stop()


def run(prefect_server, home: str, **options) -> ct_flow.CTResult:
    assert prefect_server.running
    return ct_flow.continuous_training(home=home, **options)


def versions(name: str) -> list[int]:
    found = mlflow.MlflowClient().search_model_versions(f"name = '{name}'")
    return sorted(int(version.version) for version in found)


def runs_of(name: str) -> pd.DataFrame:
    return mlflow.search_runs(filter_string=f"tags.`ct.model_name` = '{name}'")


@pytest.fixture(scope="module")
def champion(prefect_server, home: str) -> int:
    """Week 4's model for ``ct-gate``, deployed by a person (the flow never promotes)."""
    first = run(prefect_server, home, week=4, model_name="ct-gate")
    registry.promote("ct-gate", first.version)
    return first.version


def test_a_good_week_registers_a_challenger_with_its_lineage(prefect_server, home, capfd):
    result = run(prefect_server, home, week=4, trigger="schedule", model_name="ct-good")
    # Quiet enough for a notebook: Prefect's and MLflow's logs print nothing.
    assert capfd.readouterr() == ("", "")

    assert result.outcome == ct_flow.REGISTERED
    assert [step.step for step in result.steps] == list(ct_flow.STEPS)
    assert {step.status for step in result.steps} == {ct_flow.DONE}
    assert registry.aliases("ct-good") == {registry.CHALLENGER: result.version}
    assert versions("ct-good") == [result.version]

    # Lineage: the version -> its run -> the exact training orders and the flow run.
    version = registry.model_version("ct-good", result.version)
    assert version.run_id == result.run_id
    fit, tuning, holdout = ct_flow.split_weeks(ct_flow.load_weeks(4))
    logged = mlflow.get_run(result.run_id).data
    assert logged.params["train_data_hash"] == frame_hash(pd.concat([fit, tuning]))
    assert logged.params["eval_data_hash"] == frame_hash(holdout)
    assert logged.tags["ct.flow_run_id"] == version.tags["ct.flow_run_id"] == result.flow_run_id
    assert logged.tags["ct.trigger"] == "schedule"
    assert logged.metrics["log_loss"] == pytest.approx(result.metrics["log_loss"])

    # The Prefect server recorded the run and its six tasks.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(result.flow_run_id))
        only_this_run = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        tasks = client.read_task_runs(flow_run_filter=only_this_run)
    assert flow_run.state.is_completed()
    assert sorted(task.name.rsplit("-", 1)[0] for task in tasks) == sorted(ct_flow.STEPS)


def test_a_bad_batch_stops_at_validation_and_registers_nothing(prefect_server, home):
    result = run(
        prefect_server, home, week=6, incidents=["distance_in_metres"], model_name="ct-bad"
    )
    assert result.outcome == ct_flow.DATA_REJECTED
    assert result.step("validate_data").status == ct_flow.STOPPED
    later = [step.status for step in result.steps[2:]]
    assert later == [ct_flow.SKIPPED] * 4
    assert "distance_km" in result.report and "Неделя 6" in result.report
    assert "distance_km" in result.summary()
    assert result.version is None and result.run_id is None
    assert registry.aliases("ct-bad") == {}
    assert versions("ct-bad") == []
    # Not even a training run was logged: nothing was trained.
    assert runs_of("ct-bad").empty


def test_a_worse_model_is_gated_and_not_registered(prefect_server, home, champion):
    before = versions("ct-gate")
    # Heavy regularisation: the same data, a far worse model.
    result = run(prefect_server, home, week=5, model_params={"C": 1e-4}, model_name="ct-gate")
    assert result.outcome == ct_flow.MODEL_REJECTED
    assert result.step("validate_model").status == ct_flow.STOPPED
    assert result.champion_version == champion
    assert result.metrics["log_loss"] > result.champion_metrics["log_loss"]
    assert result.version is None
    assert versions("ct-gate") == before  # not registered
    assert registry.get_alias_version("ct-gate", registry.CHAMPION) == champion
    # The attempt stays in the experiment, with the gate's verdict.
    assert result.run_id in set(runs_of("ct-gate")["run_id"])
    tags = mlflow.get_run(result.run_id).data.tags
    assert tags["ct.gate"] == "rejected"
    assert tags["ct.gate_reason"] == result.step("validate_model").detail


def test_after_concept_drift_the_new_model_is_a_challenger_not_the_champion(
    prefect_server, home, champion
):
    drift = {6: ["routing_change"]}
    result = run(prefect_server, home, week=9, events=drift, trigger="drift", model_name="ct-gate")
    assert result.outcome == ct_flow.REGISTERED
    gain = result.champion_metrics["log_loss"] - result.metrics["log_loss"]
    assert gain > ct_flow.GATE_MARGIN
    # Registered and aliased, but not deployed: the champion is still the old model.
    assert registry.get_alias_version("ct-gate", registry.CHALLENGER) == result.version
    assert registry.get_alias_version("ct-gate", registry.CHAMPION) == champion
    assert result.version != champion


# --- The Airflow DAG (deploy/airflow): Airflow is not installed, so a stand-in runs it ------


class _Call:
    """A task called while the DAG is defined: what ``airflow.sdk`` would turn into XCom."""

    def __init__(self, fn, short_circuit, args, kwargs):
        self.fn, self.short_circuit, self.args, self.kwargs = fn, short_circuit, args, kwargs
        self.upstream: list[_Call] = []

    def __rshift__(self, other: _Call) -> _Call:
        other.upstream.append(self)
        return other


def fake_airflow_sdk(calls: list[_Call]) -> types.ModuleType:
    """``dag``, ``task``, ``task.short_circuit`` and ``Param``: just enough to run the DAG's
    tasks in the order they were defined, skipping everything after a False short-circuit."""

    def decorator(short_circuit: bool):
        def wrap(fn):
            def call(*args, **kwargs):
                calls.append(_Call(fn, short_circuit, args, kwargs))
                return calls[-1]

            return call

        return wrap

    task = decorator(False)
    task.short_circuit = lambda: decorator(True)
    sdk = types.ModuleType("airflow.sdk")
    sdk.dag = lambda **options: lambda build: build
    sdk.task, sdk.Param = task, lambda default, **_: default
    return sdk


def run_dag(calls: list[_Call], params: dict, run_id: str) -> dict[str, object]:
    results: dict[_Call, object] = {}
    for call in calls:
        resolve = lambda value: results.get(value) if isinstance(value, _Call) else value  # noqa: E731
        inputs = [*call.args, *call.kwargs.values(), *call.upstream]
        if any(isinstance(item, _Call) and item not in results for item in inputs):
            continue  # skipped: something upstream was skipped or short-circuited
        context = {"params": params, "run_id": run_id}
        extra = context if "context" in inspect.signature(call.fn).parameters else {}
        output = call.fn(*map(resolve, call.args), **extra)
        if not (call.short_circuit and not output):
            results[call] = output
    return {call.fn.__name__: output for call, output in results.items()}


def test_the_airflow_dag_runs_the_same_steps(home, monkeypatch):
    monkeypatch.setenv("MLOPS_COURSE_HOME", home)  # the DAG's tasks use the default work dir
    calls: list[_Call] = []
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.sdk", fake_airflow_sdk(calls))
    runpy.run_path(str(DAG_FILE))
    names = [call.fn.__name__ for call in calls]
    assert names == ["ingest", "validate_data", "train", "evaluate", "validate_model", "register"]

    bad = run_dag(calls, {"week": 6, "incidents": ["wrong_dtype"]}, "manual__bad")
    assert list(bad) == ["ingest"]  # validate_data said no: the rest was skipped

    good = run_dag(calls, {"week": 4, "incidents": []}, "manual__good")
    assert good["validate_model"]["passed"] and good["register"] is not None
    assert registry.get_alias_version(registry.MODEL_NAME, registry.CHALLENGER) == good["register"]
    # The same functions as the Prefect flow: the same model, to the last digit.
    fit, tuning, holdout = ct_flow.split_weeks(ct_flow.load_weeks(4))
    expected = ct_flow.evaluate_candidate(
        train.train_model(fit), tuning, holdout, evaluate.CostTable()
    )
    assert good["evaluate"] == {"threshold": expected.threshold, "metrics": expected.metrics}


def test_stopping_leaves_no_prefect_process(prefect_server, home):
    """Runs last: it stops the module's server."""
    pid = prefect_server.pid
    assert psutil.Process(pid).cmdline().count(prefect_runtime.SERVER_APP) == 1
    assert prefect_server.database.is_file()  # Prefect's state is in the work directory
    assert prefect_server.database.is_relative_to(home)

    prefect_server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert prefect_runtime.server_processes() == []
    assert os.environ.get(MARKER) == prefect_server.env_before
