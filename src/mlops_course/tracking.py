"""Experiment tracking and the model registry with MLflow (sqlite backend, aliases).

* ``setup_tracking`` points MLflow at a sqlite database in the work directory
  (never the deprecated file store) and makes the course experiment active.
* ``log_training_run`` logs everything needed to reproduce a model: params, metrics,
  data hashes, git commit, package versions and the model itself.
* The registry uses *aliases*: ``champion`` is the model in production,
  ``challenger`` a candidate, ``previous_champion`` the way back (``rollback``).
  ``promote_if_better`` is the quality gate between them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import platform
import subprocess
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from mlops_course.config import FEATURES, repo_root, work_dir
from mlops_course.data import frame_hash
from mlops_course.environment import package_versions
from mlops_course.evaluate import CostTable, evaluate_model

EXPERIMENT = "delivery-delay"
MODEL_NAME = "delivery-delay"
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"

# Metrics where a smaller value is the better model; all others: bigger is better.
LOWER_IS_BETTER = frozenset({"log_loss", "cost_total", "cost_per_order"})
GATE_METRICS = frozenset({"roc_auc", "f1", "accuracy"}) | LOWER_IS_BETTER

# Packages whose versions define the model's environment.
KEY_PACKAGES = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")

# Models are saved with skops (safe to load, unlike pickle). skops refuses types it
# does not know; these two are plain numpy / scikit-learn internals of our pipelines.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]

# Loggers that talk on INFO level (e.g. db migrations): keep notebook output clean.
_NOISY_LOGGERS = ("mlflow", "alembic")


def _quiet() -> None:
    for logger_name in _NOISY_LOGGERS:
        logging.getLogger(logger_name).setLevel(logging.WARNING)
    # The signature keeps the training dtypes on purpose (see ``_model_input``).
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
    # Deprecations inside MLflow's own dependencies (SQLAlchemy) are not ours to fix.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mlflow\.")


def tracking_dir(home: str | Path | None = None) -> Path:
    """Folder of the MLflow database and artifacts: ``<work dir>/mlflow``."""
    if home is None:
        return work_dir("mlflow")
    path = Path(home).expanduser().resolve() / "mlflow"
    path.mkdir(parents=True, exist_ok=True)
    return path


def tracking_uri(home: str | Path | None = None) -> str:
    """``sqlite:///<absolute path>/mlflow.db``, also for ``mlflow ui --backend-store-uri``."""
    return f"sqlite:///{tracking_dir(home) / 'mlflow.db'}"


def setup_tracking(experiment: str = EXPERIMENT, home: str | Path | None = None) -> str:
    """Point MLflow (tracking and registry) at the work directory; return the experiment id.

    Creates the sqlite database and the experiment on first use. The experiment's
    artifact location is set explicitly to ``<work dir>/mlflow/artifacts``.
    ``home`` overrides the work directory (default: ``config.work_dir()``).
    """
    _quiet()
    uri = tracking_uri(home)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        artifacts = (tracking_dir(home) / "artifacts").as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    else:
        experiment_id = found.experiment_id
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(experiment_id)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


# --- What a run records besides params and metrics ---------------------------------


def git_commit(path: str | Path | None = None) -> str | None:
    """The current git commit of the course checkout (or ``path``); None outside git."""
    cwd = path or repo_root() or Path.cwd()
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git installed, or it hung
    return result.stdout.strip() if result.returncode == 0 else None


def environment_info() -> dict[str, str]:
    """Python, platform and key package versions: what must match to reproduce a model."""
    versions = package_versions(list(KEY_PACKAGES))
    return {**versions, "python": platform.python_version(), "platform": platform.platform()}


def model_requirements() -> list[str]:
    """Exact pins for the logged model.

    Passing them explicitly skips MLflow's requirement inference, which starts a
    subprocess that loads the model (~9 s here, against ~0.5 s for the whole log).
    """
    info = environment_info()
    return [f"{package}=={info[package]}" for package in KEY_PACKAGES if package != "scipy"]


def _model_input(frame: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    # The signature keeps the training dtypes: MLflow's pyfunc then rejects a request
    # whose integer column suddenly holds floats or NaN (a data-quality incident).
    return frame[FEATURES].head(rows).copy()


def log_training_run(
    model: Any,
    train_frame: pd.DataFrame,
    eval_frame: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, float],
    name: str = "model",
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> ModelInfo:
    """Log one training run to the active experiment and return the logged model's info.

    Records ``params``, ``metrics``, data hashes and sizes, the git commit, the
    environment (tags ``env.*`` and ``environment.json``) and the model under
    ``name`` with a signature and an input example. ``info.model_uri`` can be
    passed to ``register``; ``info.run_id`` is the run.
    """
    _quiet()
    commit = git_commit()
    environment = environment_info()
    example = _model_input(train_frame)
    data_params = {
        "train_data_hash": frame_hash(train_frame),
        "eval_data_hash": frame_hash(eval_frame),
        "train_rows": len(train_frame),
        "eval_rows": len(eval_frame),
    }
    run_tags = {
        "git_commit": commit or "unknown",
        **{f"data.{key}": str(value) for key, value in data_params.items()},
        **{f"env.{key}": value for key, value in environment.items()},
        **(tags or {}),
    }
    # Nested when called inside an outer run (e.g. a pipeline or a tuning loop).
    with mlflow.start_run(run_name=run_name, nested=mlflow.active_run() is not None):
        mlflow.log_params({**params, **data_params})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(run_tags)
        mlflow.log_dict(environment, "environment.json")
        return mlflow.sklearn.log_model(
            model,
            name=name,
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=model_requirements(),
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )


# --- The model registry: versions and aliases ---------------------------------------


def _model_uri(run_or_model_uri: str) -> str:
    if ":/" in run_or_model_uri:
        return run_or_model_uri  # already a URI: models:/..., runs:/..., file:/...
    # A bare run id: the model that run logged last (MLflow 3 keeps models outside runs).
    outputs = mlflow.MlflowClient().get_run(run_or_model_uri).outputs
    if outputs is None or not outputs.model_outputs:
        raise ValueError(f"В запуске {run_or_model_uri} нет залогированной модели.")
    return f"models:/{outputs.model_outputs[-1].model_id}"


def register(run_or_model_uri: str, name: str = MODEL_NAME) -> int:
    """Register a logged model (a model URI or a run id) as a new version of ``name``."""
    _quiet()
    # register_model prints "Successfully registered model ..." straight to stderr.
    with contextlib.redirect_stderr(io.StringIO()):
        model_version = mlflow.register_model(_model_uri(run_or_model_uri), name)
    return int(model_version.version)


def aliases(name: str = MODEL_NAME) -> dict[str, int]:
    """All aliases of a registered model, e.g. ``{"champion": 3}``; empty if no such model."""
    try:
        registered = mlflow.MlflowClient().get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return {}
        raise
    return {alias: int(number) for alias, number in registered.aliases.items()}


def get_alias_version(name: str, alias: str) -> int | None:
    """The version an alias points to, or None when the alias (or the model) does not exist."""
    return aliases(name).get(alias)


def set_alias(name: str, alias: str, version: int | str) -> None:
    """Point ``alias`` at ``version`` (an alias points to exactly one version)."""
    mlflow.MlflowClient().set_registered_model_alias(name, alias, str(version))


def delete_alias(name: str, alias: str) -> None:
    """Remove an alias (no error if it is not set)."""
    mlflow.MlflowClient().delete_registered_model_alias(name, alias)


def model_version(name: str, version: int | str) -> ModelVersion:
    """The registry entry of one version (source, run id, tags, aliases)."""
    return mlflow.MlflowClient().get_model_version(name, str(version))


def load_model(name: str = MODEL_NAME, alias: str = CHAMPION) -> Any:
    """Load the scikit-learn pipeline behind ``models:/<name>@<alias>``."""
    _quiet()
    return mlflow.sklearn.load_model(f"models:/{name}@{alias}")


def load_version(name: str, version: int | str) -> Any:
    """Load the scikit-learn pipeline of one registered version."""
    _quiet()
    return mlflow.sklearn.load_model(f"models:/{name}/{version}")


# --- Promotion gate and rollback ------------------------------------------------------


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of the quality gate between a challenger and the current champion."""

    promoted: bool
    reason: str
    metric: str
    challenger_version: int
    challenger_score: float | None = None
    champion_version: int | None = None
    champion_score: float | None = None


def promote(name: str, version: int) -> None:
    """Make ``version`` the champion; the old champion becomes ``previous_champion``."""
    current = get_alias_version(name, CHAMPION)
    if current is not None and current != version:
        set_alias(name, PREVIOUS_CHAMPION, current)
    set_alias(name, CHAMPION, version)
    if get_alias_version(name, CHALLENGER) == version:
        delete_alias(name, CHALLENGER)  # it is not a candidate any more


def _improvement(metric: str, challenger: float, champion: float) -> float:
    """How much better the challenger is, in the metric's units (positive = better)."""
    return champion - challenger if metric in LOWER_IS_BETTER else challenger - champion


def _record(name: str, decision: PromotionDecision) -> PromotionDecision:
    # Keep the gate's verdict next to the version, visible in the registry UI.
    client = mlflow.MlflowClient()
    version = str(decision.challenger_version)
    client.set_model_version_tag(name, version, "gate.promoted", str(decision.promoted).lower())
    client.set_model_version_tag(name, version, "gate.reason", decision.reason)
    return decision


def promote_if_better(
    name: str,
    challenger_version: int,
    eval_frame: pd.DataFrame,
    metric: str = "roc_auc",
    margin: float = 0.005,
    validation_ok: bool = True,
    *,
    threshold: float = 0.5,
    costs: CostTable | None = None,
) -> PromotionDecision:
    """The quality gate: promote the challenger only if it is clearly better.

    Both versions are evaluated on the same ``eval_frame``. The challenger becomes
    champion when there is no champion yet, or when it beats the champion's
    ``metric`` by more than ``margin`` (metric units; for ``log_loss`` and costs
    smaller is better). It is never promoted when ``validation_ok`` is False.
    """
    if metric not in GATE_METRICS:
        raise ValueError(f"Метрика {metric!r} не подходит для сравнения: {sorted(GATE_METRICS)}.")
    challenger_version = int(challenger_version)
    decide = partial(PromotionDecision, metric=metric, challenger_version=challenger_version)
    if not validation_ok:
        reason = f"Отклонено: версия {challenger_version} не прошла проверки (валидацию)."
        return _record(name, decide(promoted=False, reason=reason))

    def score(version: int) -> float:
        model = load_version(name, version)
        metrics = evaluate_model(model, eval_frame, threshold, costs or CostTable())
        return metrics[metric]

    challenger_score = score(challenger_version)
    champion_version = get_alias_version(name, CHAMPION)
    if champion_version is None:
        promote(name, challenger_version)
        reason = f"Чемпиона ещё нет: версия {challenger_version} становится чемпионом."
        return _record(
            name, decide(promoted=True, reason=reason, challenger_score=challenger_score)
        )
    if champion_version == challenger_version:
        return decide(
            promoted=False,
            reason=f"Версия {challenger_version} уже чемпион.",
            challenger_score=challenger_score,
            champion_version=champion_version,
            champion_score=challenger_score,
        )

    champion_score = score(champion_version)
    gain = _improvement(metric, challenger_score, champion_score)
    promoted = gain > margin
    scores = (
        f"{metric}: претендент v{challenger_version} = {challenger_score:.4f}, "
        f"чемпион v{champion_version} = {champion_score:.4f}"
    )
    if promoted:
        promote(name, challenger_version)
        reason = f"Продвинуто: {scores}, выигрыш {gain:.4f} больше порога {margin}."
    else:
        reason = f"Отклонено: {scores}, выигрыш {gain:.4f} не больше порога {margin}."
    decision = decide(
        promoted=promoted,
        reason=reason,
        challenger_score=challenger_score,
        champion_version=champion_version,
        champion_score=champion_score,
    )
    return _record(name, decision)


def rollback(name: str = MODEL_NAME) -> int:
    """Give the champion alias back to ``previous_champion``; return the restored version.

    The demoted version is tagged ``rolled_back=true`` so nobody promotes it by accident.
    """
    previous = get_alias_version(name, PREVIOUS_CHAMPION)
    if previous is None:
        raise LookupError(f"Откат невозможен: у модели {name!r} нет предыдущего чемпиона.")
    current = get_alias_version(name, CHAMPION)
    set_alias(name, CHAMPION, previous)
    delete_alias(name, PREVIOUS_CHAMPION)
    if current is not None and current != previous:
        mlflow.MlflowClient().set_model_version_tag(name, str(current), "rolled_back", "true")
    return previous
