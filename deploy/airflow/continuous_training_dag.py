"""The continuous-training pipeline as an Airflow DAG: code to read, not to run.

Airflow is not installed in the course (it needs a scheduler, a metadata database and
workers); notebook 09 runs the same pipeline as a Prefect flow,
``mlops_course.orchestration.ct_flow``. The steps are the same functions, so what
differs is only what the orchestrator does around them:

* **Each task is a separate process**, maybe on another machine. Tasks hand each other
  small values through XCom (a folder, a dict of metrics, a version number); the orders
  and the model go through storage (here a folder per DAG run; in production an object
  store). Prefect's flow passes them between tasks as Python objects in one process.
* **Every task sets up what it needs itself** (MLflow's tracking URI, say): nothing
  survives from one task to the next.
* **Triggers**: the scheduler starts a run every week (``schedule``); a run on new data
  would use ``schedule=[Asset(...)]`` updated by the task that lands a labelled week, and
  the drift and quality alarms of the monitoring job would update such an asset too, or
  start a run through the REST API.
* **A bad batch short-circuits** the run at ``validate_data``: the later tasks are marked
  *skipped*, the run itself succeeds — the same as the Prefect flow's "stopped".
* **Deployment is not in the DAG**: the challenger waits for a person
  (``registry.promote``; on Airflow 3.1+ an ``ApprovalOperator`` in a separate DAG could
  ask for the approval in the UI).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task

# Where the runs keep their files: every worker must see it (a shared volume).
RUNS_DIR = Path(os.environ.get("MLOPS_COURSE_HOME", "/opt/airflow/mlops")) / "ct-runs"


def _run_dir(context: dict) -> Path:
    folder = RUNS_DIR / context["run_id"].replace(":", "_")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _read_weeks(folder: str) -> list:
    """The batches ``ingest`` wrote, back as ``problems.Batch`` objects."""
    import pandas as pd

    from mlops_course.scenario.problems import Batch

    paths = sorted(Path(folder).glob("week-*.parquet"))
    return [Batch(pd.read_parquet(path), {"week": int(path.stem[5:])}) for path in paths]


@dag(
    dag_id="continuous_training",
    schedule="@weekly",
    start_date=pendulum.datetime(2025, 3, 3, tz="UTC"),  # a Monday, as the scenario's stream
    catchup=False,  # do not replay the weeks before the DAG was switched on
    max_active_runs=1,  # two runs must not race for the challenger alias
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "week": Param(8, type="integer", minimum=3, description="newest labelled week"),
        "incidents": Param([], type="array", description="quality incidents of that week"),
    },
    tags=["mlops-course", "level-1"],
)
def continuous_training():
    @task
    def ingest(**context) -> str:
        from mlops_course.orchestration.ct_flow import load_weeks

        params, folder = context["params"], _run_dir(context)
        for batch in load_weeks(params["week"], incidents=params["incidents"]):
            batch.frame.to_parquet(folder / f"week-{batch.week:02d}.parquet", index=False)
        return str(folder)

    @task.short_circuit()  # False skips every task downstream
    def validate_data(folder: str) -> bool:
        from mlops_course.orchestration.ct_flow import check_weeks

        checked = check_weeks(_read_weeks(folder))
        print(checked.detail, checked.report, sep="\n")  # goes to the task's log
        return checked.ok

    @task
    def train(folder: str) -> str:
        from mlops_course.model.train import train_model
        from mlops_course.orchestration.ct_flow import split_weeks

        fit, _, _ = split_weeks(_read_weeks(folder))
        path = Path(folder) / "model.pkl"  # a file between two tasks of one run
        path.write_bytes(pickle.dumps(train_model(fit), protocol=5))
        return str(path)

    @task
    def evaluate(folder: str, model_path: str) -> dict:
        from mlops_course.model.evaluate import CostTable
        from mlops_course.orchestration.ct_flow import evaluate_candidate, split_weeks

        _, tuning, holdout = split_weeks(_read_weeks(folder))
        model = pickle.loads(Path(model_path).read_bytes())
        candidate = evaluate_candidate(model, tuning, holdout, CostTable())
        return {"threshold": candidate.threshold, "metrics": candidate.metrics}

    @task
    def validate_model(folder: str, evaluation: dict) -> dict:
        from mlops_course.model.evaluate import CostTable
        from mlops_course.orchestration.ct_flow import Evaluation, judge, split_weeks
        from mlops_course.versioning import tracking

        tracking.setup_tracking()
        _, _, holdout = split_weeks(_read_weeks(folder))
        gate = judge(Evaluation(**evaluation), holdout, CostTable())
        return {"passed": gate.passed, "reason": gate.reason}

    @task
    def register(folder: str, model_path: str, evaluation: dict, gate: dict, **context):
        import pandas as pd

        from mlops_course.orchestration.ct_flow import split_weeks
        from mlops_course.versioning import registry, tracking

        tracking.setup_tracking()
        fit, tuning, holdout = split_weeks(_read_weeks(folder))
        model = pickle.loads(Path(model_path).read_bytes())
        week, threshold = context["params"]["week"], evaluation["threshold"]
        params = {"model": "logreg", "week": week, "threshold": threshold}
        tags = {
            "ct.gate": "passed" if gate["passed"] else "rejected",
            "ct.gate_reason": gate["reason"],
        }
        training = pd.concat([fit, tuning], ignore_index=True)
        info = tracking.log_training_run(
            model, training, holdout, params, evaluation["metrics"], tags=tags
        )
        if not gate["passed"]:
            return None  # logged for the record, not a candidate for production
        version = registry.register(info.model_uri)
        registry.set_alias(registry.MODEL_NAME, registry.CHALLENGER, version)
        return version

    folder = ingest()
    data_ok = validate_data(folder)
    model_path = train(folder)
    data_ok >> model_path  # training waits for (and is skipped by) the data check
    evaluation = evaluate(folder, model_path)
    gate = validate_model(folder, evaluation)
    register(folder, model_path, evaluation, gate)


continuous_training()
