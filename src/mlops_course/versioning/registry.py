"""The model registry with MLflow: versions, aliases, the quality gate and rollback.

The registry uses *aliases*: ``champion`` is the model in production, ``challenger`` a
candidate, ``previous_champion`` the way back (``rollback``). ``promote_if_better`` is
the quality gate between them. Runs and models get into MLflow with ``tracking``.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from mlops_course.model.evaluate import (
    LOWER_IS_BETTER,
    CostTable,
    evaluate_model,
    require_comparable,
)
from mlops_course.versioning.tracking import quiet_mlflow

MODEL_NAME = "delivery-delay"
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"


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
    quiet_mlflow()
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
    quiet_mlflow()
    return mlflow.sklearn.load_model(f"models:/{name}@{alias}")


def load_version(name: str, version: int | str) -> Any:
    """Load the scikit-learn pipeline of one registered version."""
    quiet_mlflow()
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
        reason = (
            f"Версия {challenger_version} назначена чемпионом: {scores}, "
            f"прирост {gain:.4f} больше требуемого {margin}."
        )
    else:
        reason = (
            f"Отклонено, чемпион прежний: {scores}, "
            f"прирост {gain:.4f} не больше требуемого {margin}."
        )
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
