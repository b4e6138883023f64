"""Experiment tracking with MLflow (sqlite backend): where runs go and what they record.

* ``setup_tracking`` points MLflow at a sqlite database in the work directory
  (never the deprecated file store) and makes the course experiment active.
* ``log_training_run`` logs everything needed to reproduce a model: params, metrics,
  data hashes, git commit, package versions and the model itself.

The registry of logged models (versions, aliases, the quality gate) is ``registry``.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from mlops_course.config import FEATURES, repo_root, work_dir
from mlops_course.scenario.generator import frame_hash
from mlops_course.versioning.environment import environment_record

EXPERIMENT = "delivery-delay"


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


def quiet_mlflow() -> None:
    """Keep MLflow's INFO chatter and known harmless warnings out of notebook output."""
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


def _forget_cached_stores(uri: str) -> None:
    """Drop MLflow's in-process caches of the stores and database engines for ``uri``.

    MLflow keeps one store object per URI (tracking and registry) and one SQLAlchemy
    engine per database URI for the life of the process, with no public API to reset
    them. After the sqlite file was deleted, the pooled connections still point at the
    deleted file and the cached stores believe its tables exist; the next store built
    for the URI creates the tables in the new file.
    """
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    from mlflow.tracking._model_registry.utils import _get_store_registry
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    for store_class in (TrackingStore, RegistryStore):
        engine = store_class._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()  # close the connections to the deleted file
    # The store caches are functools.lru_cache: they can only be cleared as a whole.
    for registry in (_tracking_store_registry, _get_store_registry()):
        type(registry)._get_store_with_resolved_uri.cache_clear()


def setup_tracking(experiment: str = EXPERIMENT, home: str | Path | None = None) -> str:
    """Point MLflow (tracking and registry) at the work directory; return the experiment id.

    Creates the sqlite database and the experiment on first use. The experiment's
    artifact location is set explicitly to ``<work dir>/mlflow/artifacts``.
    ``home`` overrides the work directory (default: ``config.work_dir()``).
    """
    quiet_mlflow()
    uri = tracking_uri(home)
    if not (tracking_dir(home) / "mlflow.db").exists():
        # The database was deleted (a notebook starting afresh): MLflow must not reuse
        # its connections to the deleted file ("attempt to write a readonly database").
        _forget_cached_stores(uri)
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


def _git(*args: str, path: str | Path | None = None) -> str | None:
    """Output of ``git <args>`` in the course checkout (or ``path``); None if git fails."""
    cwd = path or repo_root() or Path.cwd()
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None  # no git installed, or it hung
    return result.stdout if result.returncode == 0 else None


def git_commit(path: str | Path | None = None) -> str | None:
    """The current git commit of the course checkout (or ``path``); None outside git."""
    output = _git("rev-parse", "HEAD", path=path)
    return output.strip() if output is not None else None


def git_dirty(path: str | Path | None = None) -> bool | None:
    """Whether the checkout has uncommitted changes (untracked files count); None outside git.

    A run from a dirty tree did not come from its commit alone: ``git_commit`` is then
    only where the code started.
    """
    # --no-optional-locks: only read, never refresh the index (it may be in use).
    output = _git("--no-optional-locks", "status", "--porcelain", path=path)
    return bool(output.strip()) if output is not None else None


def environment_info() -> dict[str, str]:
    """Python, platform and key package versions: what must match to reproduce a model."""
    return environment_record(KEY_PACKAGES)


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

    Records ``params``, ``metrics``, data hashes and sizes, the git commit (with
    ``git_dirty``: whether the tree had uncommitted changes), the environment (tags
    ``env.*`` and ``environment.json``) and the model under ``name`` with a signature
    and an input example. ``info.model_uri`` can be passed to ``register``;
    ``info.run_id`` is the run.
    """
    quiet_mlflow()
    commit, dirty = git_commit(), git_dirty()
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
        "git_dirty": "unknown" if dirty is None else str(dirty).lower(),
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
