"""The continuous-training pipeline (maturity level 1) as a Prefect flow.

    ingest → validate data → train → evaluate → validate model → register as challenger

``continuous_training(week=...)`` is what a trigger starts (a schedule, a newly labelled
week, a drift alarm, degraded quality: ``trigger`` records which). Each task is a thin
wrapper over the package: ``scenario.problems`` (the weeks of orders), ``model.validation``,
``model.train``, ``model.evaluate`` (the cost-tuned threshold), ``versioning.tracking`` and
``versioning.registry``. Run it with Prefect configured for the course
(``prefect_runtime.start_prefect``).

What the flow decides, and what it leaves to a person:

* **A bad batch stops it at "validate data"**: nothing is trained, logged or registered;
  ``CTResult.report`` lists every violation (in Russian).
* **The quality gate** ("validate model") scores the new model and the current champion
  on the same newest held-out orders, which neither has seen, each at its own alarm
  threshold. The new model passes when there is no champion yet, or when it beats the
  champion's ``metric`` by more than ``margin``.
* **A model that fails the gate is not registered.** Its MLflow run is still logged
  (tag ``ct.gate=rejected`` and the reason): the experiment keeps everything that was
  tried, the registry only models a person may deploy.
* **A model that passes becomes the ``challenger``** (a new registry version; the alias
  moves to it). Deploying it — making it ``champion`` with ``registry.promote`` — is
  *not* in the flow: at level 1 a person approves.

Neither refusal is an error: the flow run completes, and the later steps are recorded as
skipped (like a short-circuit in Airflow, see ``deploy/airflow``). Broken machinery (an
unknown scenario name, MLflow unreachable) does raise and fails the run.

Every step runs in the calling process (Prefect passes the frames and the model between
tasks as Python objects); nothing is cached or persisted by Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import mlflow
import pandas as pd

from mlops_course.config import SEED
from mlops_course.model import evaluate, train, validation
from mlops_course.orchestration import prefect_runtime
from mlops_course.scenario import problems
from mlops_course.versioning import registry, tracking

# The course's Prefect settings must be in the environment before prefect is imported
# (it reads them once, at import): the work directory, quiet logs. Set ones are kept.
prefect_runtime.configure(override=False)

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402

GATE_METRIC = "log_loss"
GATE_MARGIN = 0.005
"""The same gate as notebooks 02 and 03: better by more than 0.005 in log loss."""
TRAINING_WEEKS = 4
ORDERS_PER_WEEK = 2000
HOLDOUT_SHARE = 0.25
"""The newest quarter of the window judges the model (about its newest week)."""

Trigger = Literal["schedule", "new_data", "drift", "degradation", "manual"]
TRIGGER_NAMES = {
    "schedule": "по расписанию",
    "new_data": "новые данные",
    "drift": "дрейф данных",
    "degradation": "падение качества",
    "manual": "вручную",
}

STEPS = ("ingest", "validate_data", "train", "evaluate", "validate_model", "register")
STEP_NAMES = {
    "ingest": "загрузка данных",
    "validate_data": "проверка данных",
    "train": "обучение",
    "evaluate": "оценка",
    "validate_model": "проверка модели (ворота качества)",
    "register": "регистрация претендента",
}

# Step statuses and outcomes of the flow.
DONE, STOPPED, SKIPPED = "done", "stopped", "skipped"
STATUS_MARKS = {DONE: "✓", STOPPED: "✗", SKIPPED: "—"}
REGISTERED, DATA_REJECTED, MODEL_REJECTED = "challenger", "data_rejected", "model_rejected"


# --- What the flow returns ---------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    step: str
    status: str
    """``done``, ``stopped`` (the flow ended here) or ``skipped``."""
    detail: str
    """One Russian line: what the step did or why it stopped."""


@dataclass(frozen=True)
class CTResult:
    """What one run of the pipeline did: every step, the versions and the metrics.

    ``summary()`` and ``steps_table()`` print the same for the same inputs (no run ids,
    no times); ``run_id`` and ``flow_run_id`` link to MLflow and to Prefect.
    """

    week: int
    trigger: str
    outcome: str
    """``challenger`` (registered), ``data_rejected`` or ``model_rejected``."""
    reason: str
    """One Russian line: the outcome."""
    steps: tuple[StepResult, ...]
    version: int | None = None
    """The registered challenger version (None when nothing was registered)."""
    champion_version: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    """The new model on the held-out orders (rounded to 6 digits)."""
    champion_metrics: dict[str, float] = field(default_factory=dict)
    report: str = ""
    """The data validation report: every violation, or the warnings (may be empty)."""
    run_id: str | None = None
    flow_run_id: str | None = None

    @property
    def registered(self) -> bool:
        return self.version is not None

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.step == name)

    def summary(self) -> str:
        lines = [f"Неделя {self.week} (запуск: {TRIGGER_NAMES[self.trigger]}): {self.reason}"]
        lines += [
            f"  {STATUS_MARKS[s.status]} {STEP_NAMES[s.step]}: {s.detail}" for s in self.steps
        ]
        return "\n".join(lines + ([self.report] if self.report else []))

    def steps_table(self) -> pd.DataFrame:
        rows = [
            {"шаг": STEP_NAMES[s.step], "статус": STATUS_MARKS[s.status], "итог": s.detail}
            for s in self.steps
        ]
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class DataCheck:
    ok: bool
    detail: str
    """One line for the step list."""
    report: str
    """Every violation (and warning) of the batches that failed, or the warnings."""


@dataclass(frozen=True)
class Evaluation:
    threshold: float
    metrics: dict[str, float]


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str
    champion_version: int | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)


# --- The steps: plain functions (used by the tasks below, testable without Prefect) -------


def load_weeks(
    week: int,
    training_weeks: int = TRAINING_WEEKS,
    orders_per_week: int = ORDERS_PER_WEEK,
    seed: int = SEED,
    events: problems.EventsSpec = None,
    incidents: list[str] | None = None,
) -> list[problems.Batch]:
    """The labelled weeks ``week - training_weeks + 1 .. week`` of the scenario's stream.

    ``events`` are drifts from their week on (as in ``problems.stream``); ``incidents``
    break only the newest batch (this week's delivery of data is broken).
    """
    if training_weeks < 1 or week < training_weeks - 1:
        raise ValueError(
            f"Нужно training_weeks ≥ 1 и week ≥ training_weeks - 1, получено "
            f"week={week}, training_weeks={training_weeks}."
        )
    plan = problems.as_events(events)
    plan += [problems.Event(name, week, week + 1) for name in incidents or []]
    stream = problems.stream(week + 1, orders_per_week, seed, events=plan)
    return list(stream)[week - training_weeks + 1 :]


def check_weeks(batches: list[problems.Batch]) -> DataCheck:
    """Validate every batch with ``validation.validate_orders``; one bad batch fails all."""
    results = {batch.week: validation.validate_orders(batch.frame) for batch in batches}
    failed = {week: result for week, result in results.items() if not result.ok}
    warned = {week: result for week, result in results.items() if not result.warnings.empty}
    if failed:
        weeks = ", ".join(str(week) for week in failed)
        report = "\n".join(f"Неделя {week}:\n{result}" for week, result in failed.items())
        return DataCheck(False, f"не прошли проверку недели: {weeks}", report)
    detail = f"все партии ({len(results)}) прошли проверку"
    if warned:
        detail += f" (предупреждения в неделях {', '.join(str(week) for week in warned)})"
    report = "\n".join(f"Неделя {week}:\n{result}" for week, result in warned.items())
    return DataCheck(True, detail, report)


def split_weeks(
    batches: list[problems.Batch], holdout_share: float = HOLDOUT_SHARE
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(fit, validation, holdout) by time: the model never sees the newest orders."""
    frame = pd.concat([batch.frame for batch in batches], ignore_index=True)
    training, holdout = train.split(frame, test_size=holdout_share)
    fit, tuning = train.split_validation(training)
    return fit, tuning, holdout


def evaluate_candidate(
    model: Any, tuning: pd.DataFrame, holdout: pd.DataFrame, costs: evaluate.CostTable
) -> Evaluation:
    """Tune the alarm threshold on the validation orders, judge on the held-out ones."""
    threshold = evaluate.tune_threshold(model, tuning, costs)
    return Evaluation(
        threshold, _rounded(evaluate.evaluate_model(model, holdout, threshold, costs))
    )


def gain(metric: str, challenger: float, champion: float) -> float:
    """How much better the challenger is, in the metric's units (positive = better)."""
    better_is_lower = metric in evaluate.LOWER_IS_BETTER
    return champion - challenger if better_is_lower else challenger - champion


def judge(
    candidate: Evaluation,
    holdout: pd.DataFrame,
    costs: evaluate.CostTable,
    metric: str = GATE_METRIC,
    margin: float = GATE_MARGIN,
    model_name: str = registry.MODEL_NAME,
) -> GateDecision:
    """The quality gate against the champion in the registry (nothing is promoted)."""
    evaluate.require_comparable(metric)
    champion = registry.get_alias_version(model_name, registry.CHAMPION)
    if champion is None:
        return GateDecision(True, "чемпиона ещё нет: сравнивать не с чем")
    model = registry.load_version(model_name, champion)
    threshold = _logged_threshold(model_name, champion)
    champion_metrics = _rounded(evaluate.evaluate_model(model, holdout, threshold, costs))
    new, old = candidate.metrics[metric], champion_metrics[metric]
    improvement = gain(metric, new, old)
    passed = improvement > margin
    verdict = "больше" if passed else "не больше"
    reason = (
        f"{metric}: новая модель {new:.4f}, чемпион v{champion} {old:.4f}; "
        f"выигрыш {improvement:+.4f} {verdict} требуемого {margin}"
    )
    return GateDecision(passed, reason, champion, champion_metrics)


def _logged_threshold(model_name: str, version: int) -> float:
    """The alarm threshold the version's training run logged (0.5 if it logged none)."""
    run_id = registry.model_version(model_name, version).run_id
    params = mlflow.MlflowClient().get_run(run_id).data.params if run_id else {}
    return float(params.get("threshold", 0.5))


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {name: round(float(value), 6) for name, value in metrics.items()}


# --- The tasks: what Prefect sees, runs and records ---------------------------------------

# No caching: a pipeline run must really retrain on the data it is given.
_TASK = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="ingest", **_TASK)
def ingest(
    week: int,
    training_weeks: int,
    orders_per_week: int,
    seed: int,
    events: problems.EventsSpec,
    incidents: list[str] | None,
) -> list[problems.Batch]:
    return load_weeks(week, training_weeks, orders_per_week, seed, events, incidents)


@task(name="validate_data", **_TASK)
def validate_data(batches: list[problems.Batch]) -> DataCheck:
    return check_weeks(batches)


@task(name="train", **_TASK)
def train_candidate(fit: pd.DataFrame, model: str, seed: int, model_params: dict[str, Any]) -> Any:
    return train.train_model(fit, model=model, seed=seed, **model_params)


@task(name="evaluate", **_TASK)
def evaluate_model(
    model: Any, tuning: pd.DataFrame, holdout: pd.DataFrame, costs: evaluate.CostTable
) -> Evaluation:
    return evaluate_candidate(model, tuning, holdout, costs)


@task(name="validate_model", **_TASK)
def validate_model(
    candidate: Evaluation,
    holdout: pd.DataFrame,
    costs: evaluate.CostTable,
    metric: str,
    margin: float,
    model_name: str,
) -> GateDecision:
    return judge(candidate, holdout, costs, metric, margin, model_name)


@task(name="register", **_TASK)
def register_challenger(
    model: Any,
    training: pd.DataFrame,
    holdout: pd.DataFrame,
    params: dict[str, Any],
    candidate: Evaluation,
    gate: GateDecision,
    lineage: dict[str, str],
    model_name: str,
) -> tuple[str, int | None]:
    """Log the run (always); register it and move ``challenger`` to it (if it passed)."""
    tags = {
        **lineage,
        "ct.gate": "passed" if gate.passed else "rejected",
        "ct.gate_reason": gate.reason,
    }
    info = tracking.log_training_run(
        model,
        training,
        holdout,
        params,
        candidate.metrics,
        run_name=f"ct-week-{params['week']}",
        tags=tags,
    )
    if not gate.passed:
        return info.run_id, None
    version = registry.register(info.model_uri, model_name)
    registry.set_alias(model_name, registry.CHALLENGER, version)
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, value)
    return info.run_id, version


# --- The flow ------------------------------------------------------------------------------


@flow(name="continuous-training", persist_result=False, log_prints=False)
def continuous_training(
    week: int,
    trigger: Trigger = "manual",
    seed: int = SEED,
    events: dict[int, list[str]] | None = None,
    incidents: list[str] | None = None,
    training_weeks: int = TRAINING_WEEKS,
    orders_per_week: int = ORDERS_PER_WEEK,
    model: str = "logreg",
    model_params: dict[str, Any] | None = None,
    metric: str = GATE_METRIC,
    margin: float = GATE_MARGIN,
    home: str | Path | None = None,
    model_name: str = registry.MODEL_NAME,
    experiment: str = tracking.EXPERIMENT,
) -> CTResult:
    """Retrain on the newest ``training_weeks`` labelled weeks (ending with ``week``), gate
    the model against the champion and register it as ``challenger`` if it is better.

    ``events``: drifts from their week on, ``{week: [scenario, ...]}``; ``incidents``:
    quality incidents in this week's batch only (``problems.SCENARIOS``). ``home`` is the
    work directory of the MLflow store (default ``config.work_dir()``). See the module doc.
    """
    tracking.setup_tracking(experiment, home)
    costs = evaluate.CostTable()
    steps: list[StepResult] = []

    def finish(outcome: str, reason: str, **found: Any) -> CTResult:
        done = {step.step for step in steps}
        skipped = [StepResult(name, SKIPPED, "не выполнялся") for name in STEPS if name not in done]
        return CTResult(
            week, trigger, outcome, reason, tuple(steps + skipped), flow_run_id=flow_run.id, **found
        )

    batches = ingest(week, training_weeks, orders_per_week, seed, events, incidents)
    orders = sum(len(batch.frame) for batch in batches)
    steps.append(StepResult("ingest", DONE, f"недели {batches[0].week}–{week}: {orders} заказов"))

    checked = validate_data(batches)
    if not checked.ok:
        steps.append(StepResult("validate_data", STOPPED, checked.detail))
        reason = "данные отклонены, обучение не запускалось."
        return finish(DATA_REJECTED, reason, report=checked.report)
    steps.append(StepResult("validate_data", DONE, checked.detail))

    fit, tuning, holdout = split_weeks(batches)
    params = {"model": model, "seed": seed, **(model_params or {})}
    candidate_model = train_candidate(fit, model, seed, model_params or {})
    detail = f"{model} на {len(fit)} заказах, порог подбирается на {len(tuning)}"
    steps.append(StepResult("train", DONE, detail))

    candidate = evaluate_model(candidate_model, tuning, holdout, costs)
    scores = evaluate.format_metrics(candidate.metrics)
    detail = f"{scores} (порог {candidate.threshold:.2f}, {len(holdout)} отложенных заказов)"
    steps.append(StepResult("evaluate", DONE, detail))

    gate = validate_model(candidate, holdout, costs, metric, margin, model_name)
    steps.append(StepResult("validate_model", DONE if gate.passed else STOPPED, gate.reason))

    training = pd.concat([fit, tuning], ignore_index=True)
    lineage = {
        "ct.week": str(week),
        "ct.trigger": trigger,
        "ct.model_name": model_name,
        "ct.flow_run_id": str(flow_run.id),
    }
    run_params = {
        **params,
        "week": week,
        "training_weeks": training_weeks,
        "threshold": candidate.threshold,
    }
    run_id, version = register_challenger(
        candidate_model, training, holdout, run_params, candidate, gate, lineage, model_name
    )
    found = {
        "run_id": run_id,
        "metrics": candidate.metrics,
        "champion_version": gate.champion_version,
        "champion_metrics": gate.champion_metrics,
        "report": checked.report,  # warnings of valid batches (a new district, say)
    }
    if version is None:
        detail = "версия не создана; запуск записан в MLflow с тегом ct.gate=rejected"
        steps.append(StepResult("register", SKIPPED, detail))
        reason = "новая модель не лучше чемпиона: в реестр не попала."
        return finish(MODEL_REJECTED, reason, **found)
    detail = f"версия {version}, алиас {registry.CHALLENGER}; выкатка ждёт решения человека"
    steps.append(StepResult("register", DONE, detail))
    reason = f"претендент v{version} зарегистрирован (алиас {registry.CHALLENGER})."
    return finish(REGISTERED, reason, version=version, **found)
