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
import subprocess
import warnings
from dataclasses import dataclass, replace
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
from mlops_course.environment import environment_record
from mlops_course.evaluate import (
    LOWER_IS_BETTER,
    CostTable,
    evaluate_model,
    require_comparable,
)

EXPERIMENT = "delivery-delay"
MODEL_NAME = "delivery-delay"
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"


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
    _quiet()
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
    _quiet()
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


class ChampionChangedError(RuntimeError):
    """The champion is not the version the caller compared against (another gate was faster)."""

    def __init__(self, name: str, expected: int | None, current: int | None) -> None:
        super().__init__(
            f"Чемпион модели {name!r} сменился: ожидался: {_version_label(expected)}, "
            f"сейчас: {_version_label(current)}."
        )
        self.current = current


def _version_label(version: int | None) -> str:
    return "не назначен" if version is None else f"v{version}"


# ``promote``'s default for ``expected_champion``: replace whoever is champion now.
ANY_CHAMPION = object()


def promote(name: str, version: int, *, expected_champion: Any = ANY_CHAMPION) -> None:
    """Make ``version`` the champion; the old champion becomes ``previous_champion``.

    This is the manual, explicit promotion: it does not compare models and does not
    refuse a version tagged ``rolled_back`` (``promote_if_better`` does both). A promoted
    version is in production again, so its ``rolled_back`` tag is removed.

    ``expected_champion`` (a version, or None for "no champion") makes it a
    compare-and-set: if the champion is no longer that version, nothing changes and
    ``ChampionChangedError`` is raised. MLflow has no atomic compare-and-set, so this
    narrows the window between reading and writing the alias to milliseconds; it does
    not close it.
    """
    current = get_alias_version(name, CHAMPION)
    if expected_champion is not ANY_CHAMPION and current != expected_champion:
        raise ChampionChangedError(name, expected_champion, current)
    if current is not None and current != version:
        set_alias(name, PREVIOUS_CHAMPION, current)
    set_alias(name, CHAMPION, version)
    if get_alias_version(name, CHALLENGER) == version:
        delete_alias(name, CHALLENGER)  # it is not a candidate any more
    if is_rolled_back(name, version):
        mlflow.MlflowClient().delete_model_version_tag(name, str(version), "rolled_back")


def is_rolled_back(name: str, version: int | str) -> bool:
    """Whether ``rollback`` took this version out of production (tag ``rolled_back=true``)."""
    return model_version(name, version).tags.get("rolled_back") == "true"


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
    allow_rolled_back: bool = False,
) -> PromotionDecision:
    """The quality gate: promote the challenger only if it is clearly better.

    Both versions are evaluated on the same ``eval_frame``. The challenger becomes
    champion when it beats the champion's ``metric`` by more than ``margin`` (metric
    units; for ``log_loss`` and costs smaller is better). Without a champion alias (e.g.
    its version was deleted, which drops the alias) it must beat ``previous_champion``
    instead; only with neither is it promoted without comparison.

    It is never promoted when ``validation_ok`` is False, when ``rollback`` tagged it
    ``rolled_back=true`` (unless ``allow_rolled_back``), or when the champion changed
    while the gate was scoring (another gate finished first: run this one again).
    """
    require_comparable(metric)
    challenger_version = int(challenger_version)
    decide = partial(PromotionDecision, metric=metric, challenger_version=challenger_version)
    if not validation_ok:
        reason = f"Отклонено: версия {challenger_version} не прошла проверки (валидацию)."
        return _record(name, decide(promoted=False, reason=reason))
    if not allow_rolled_back and is_rolled_back(name, challenger_version):
        reason = (
            f"Отклонено: версию {challenger_version} откатили из production "
            "(тег rolled_back=true). Если её исправили и её нужно сравнить с чемпионом, "
            "вызовите promote_if_better(..., allow_rolled_back=True)."
        )
        return _record(name, decide(promoted=False, reason=reason))

    def score(version: int) -> float:
        model = load_version(name, version)
        metrics = evaluate_model(model, eval_frame, threshold, costs or CostTable())
        return metrics[metric]

    challenger_score = score(challenger_version)
    champion_version = get_alias_version(name, CHAMPION)
    if champion_version == challenger_version:
        return decide(
            promoted=False,
            reason=f"Версия {challenger_version} уже чемпион.",
            challenger_score=challenger_score,
            champion_version=champion_version,
            champion_score=challenger_score,
        )
    # No champion alias is not "no champion yet" when there is a way back to compare with.
    rival_version, rival = champion_version, "чемпион"
    if champion_version is None:
        rival_version, rival = get_alias_version(name, PREVIOUS_CHAMPION), "предыдущий чемпион"
    if rival_version is None:
        reason = f"Чемпиона ещё нет: версия {challenger_version} становится чемпионом."
        decision = decide(promoted=True, reason=reason, challenger_score=challenger_score)
        return _record(name, _promote_unless_changed(name, decision, expected_champion=None))

    rival_score = score(rival_version)
    gain = _improvement(metric, challenger_score, rival_score)
    promoted = gain > margin
    scores = (
        f"{metric}: претендент v{challenger_version} = {challenger_score:.4f}, "
        f"{rival} v{rival_version} = {rival_score:.4f}"
    )
    if champion_version is None:
        scores = f"алиаса champion нет, сравнение с previous_champion; {scores}"
    if promoted:
        reason = f"Продвинуто: {scores}, выигрыш {gain:.4f} больше порога {margin}."
    else:
        reason = f"Отклонено: {scores}, выигрыш {gain:.4f} не больше порога {margin}."
    decision = decide(
        promoted=promoted,
        reason=reason,
        challenger_score=challenger_score,
        champion_version=rival_version,
        champion_score=rival_score,
    )
    if promoted:
        decision = _promote_unless_changed(name, decision, expected_champion=champion_version)
    return _record(name, decision)


def _promote_unless_changed(
    name: str, decision: PromotionDecision, expected_champion: int | None
) -> PromotionDecision:
    """Carry out a promotion only if the champion is still the one the gate compared with."""
    try:
        promote(name, decision.challenger_version, expected_champion=expected_champion)
    except ChampionChangedError as error:
        reason = (
            f"Отклонено: пока ворота сравнивали модели, чемпион сменился "
            f"(был: {_version_label(expected_champion)}, стал: {_version_label(error.current)}). "
            "Запустите ворота ещё раз: сравнение с новым чемпионом."
        )
        return replace(decision, promoted=False, reason=reason)
    return decision


def rollback(name: str = MODEL_NAME) -> int:
    """Give the champion alias back to ``previous_champion``; return the restored version.

    The demoted version is tagged ``rolled_back=true``: ``promote_if_better`` refuses it
    from then on (unless ``allow_rolled_back=True``); ``promote`` does not check the tag.
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
