"""Training: one scikit-learn pipeline from raw order columns to P(is_late).

The whole preprocessing lives *inside* the pipeline (imputation, scaling, one-hot
encoding), so the object that is trained, logged to MLflow and served is the same
object: there is no separate feature code to drift apart (training-serving skew).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_course.config import (
    CATEGORICAL_FEATURES,
    FEATURES,
    NUMERIC_FEATURES,
    SEED,
    TARGET,
    TIME_COLUMN,
)

MODELS = ("logreg", "hgb")
"""Model families the course trains: a linear baseline and gradient boosting."""


def _numeric_steps(model: str) -> Pipeline:
    steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if model == "logreg":
        # A linear model needs comparable scales; trees do not care.
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _categorical_steps() -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            # "ignore": a district never seen in training becomes all zeros, not a crash.
            # Dense output: gradient boosting does not accept sparse matrices.
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )


def _classifier(model: str, seed: int, params: dict[str, Any]) -> Any:
    if model == "logreg":
        return LogisticRegression(**{"max_iter": 1000, "random_state": seed, **params})
    if model == "hgb":
        return HistGradientBoostingClassifier(**{"random_state": seed, **params})
    raise ValueError(f"Неизвестная модель {model!r}: выберите одну из {MODELS}.")


def build_pipeline(model: str = "logreg", seed: int = SEED, **params: Any) -> Pipeline:
    """An unfitted pipeline: preprocessing of ``config.FEATURES`` + a classifier.

    ``model`` is ``"logreg"`` or ``"hgb"``; ``params`` go to the classifier
    (e.g. ``C=0.5`` or ``max_iter=200``). Missing values are imputed and unseen
    categories ignored, so the pipeline predicts on any frame with the feature columns.
    """
    preprocess = ColumnTransformer(
        [
            ("numeric", _numeric_steps(model), NUMERIC_FEATURES),
            ("categorical", _categorical_steps(), CATEGORICAL_FEATURES),
        ],
        remainder="drop",  # ids, timestamps and the target never reach the model
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", _classifier(model, seed, params))])


def split(
    frame: pd.DataFrame,
    test_size: float = 0.25,
    seed: int = SEED,
    *,
    by_time: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split orders into (train, test), deterministically.

    By default the split is *by time*: the latest ``test_size`` share of orders is
    the test set, as in production, where a model always predicts the future
    (``seed`` is then unused). ``by_time=False`` gives a random split stratified by
    the target, reproducible through ``seed``.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size должен быть в (0, 1), получено {test_size}.")
    if by_time:
        ordered = frame.sort_values(TIME_COLUMN, kind="stable")
        n_test = max(1, round(len(ordered) * test_size))
        return ordered.iloc[:-n_test].copy(), ordered.iloc[-n_test:].copy()
    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[TARGET]
    )
    return train.copy(), test.copy()


VALIDATION_SIZE = 0.25
"""Share of the training period kept back to tune the alarm threshold."""


def split_validation(
    train: pd.DataFrame, validation_size: float = VALIDATION_SIZE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve (fit, validation) out of the *training* orders, by time.

    The model is fitted on the earlier orders and its threshold tuned on the latest ones
    (``evaluate.tune_threshold``); the test set stays untouched, to judge the result.
    """
    return split(train, test_size=validation_size)


def train_model(
    frame: pd.DataFrame, model: str = "logreg", seed: int = SEED, **params: Any
) -> Pipeline:
    """Fit ``build_pipeline(model, seed, **params)`` on ``config.FEATURES`` -> ``config.TARGET``.

    Same data and seed -> identical predictions.
    """
    pipeline = build_pipeline(model, seed=seed, **params)
    return pipeline.fit(frame[FEATURES], frame[TARGET])
