"""Evaluation: ML metrics plus the business metric — what wrong predictions cost.

Every function returns plain ``dict[str, float]`` so the same result can be logged
to MLflow (``mlflow.log_metrics``) and written to a DVC metrics JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from mlops_course.config import FEATURES, TARGET

LOWER_IS_BETTER = frozenset({"log_loss", "cost_total", "cost_per_order"})
"""Metrics where smaller is better; for every other metric larger is better."""

COMPARABLE_METRICS = frozenset({"roc_auc", "f1", "accuracy"}) | LOWER_IS_BETTER
"""Metrics that can compare two models (the quality gate, the retraining trigger)."""


def format_roubles(amount: float, *, signed: bool = False) -> str:
    """``11 775 ₽``: whole roubles, thousands split by a narrow no-break space (a comma
    would read as a decimal point in Russian); ``signed`` shows ``+``/``-`` (zero as +0)."""
    whole = round(float(amount))
    return (f"{whole:+,d}" if signed else f"{whole:,d}").replace(",", "\u202f") + " ₽"


def require_comparable(metric: str) -> None:
    """Refuse a metric whose direction (higher or lower is better) is not known."""
    if metric not in COMPARABLE_METRICS:
        raise ValueError(
            f"Метрика {metric!r} не подходит для сравнения: {sorted(COMPARABLE_METRICS)}."
        )


@dataclass(frozen=True)
class CostTable:
    """What a wrong prediction costs the delivery service, in roubles per order.

    The defaults are illustrative, not real figures: a late order we did not
    foresee costs a refund or a coupon (300 ₽); a false alarm costs an unnecessary
    courier re-assignment (50 ₽). Correct predictions cost nothing extra.
    """

    missed_late: float = 300.0
    false_alarm: float = 50.0

    @property
    def break_even_threshold(self) -> float:
        """The threshold that minimises expected cost for *calibrated* probabilities.

        Raise an alarm when ``p * missed_late > (1 - p) * false_alarm``.
        """
        return self.false_alarm / (self.false_alarm + self.missed_late)


def late_scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """P(is_late = 1) for every order, from any fitted classifier with ``predict_proba``."""
    return np.asarray(model.predict_proba(frame[FEATURES]))[:, 1]


def business_cost(y_true: Any, y_pred: Any, costs: CostTable = CostTable()) -> float:
    """Total cost in roubles: missed late orders and false alarms, priced by ``costs``."""
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    missed = np.count_nonzero(y_true & ~y_pred)
    false_alarms = np.count_nonzero(~y_true & y_pred)
    return float(missed * costs.missed_late + false_alarms * costs.false_alarm)


def score_metrics(
    y_true: Any, scores: Any, threshold: float = 0.5, costs: CostTable = CostTable()
) -> dict[str, float]:
    """All metrics for given labels and predicted probabilities of being late.

    Useful on its own to score a reference, e.g. the true ``data.late_probability``
    or a constant baseline. ``roc_auc`` is NaN when only one class is present.
    """
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    y_pred = (scores >= threshold).astype(int)
    both_classes = np.unique(y_true).size == 2
    total_cost = business_cost(y_true, y_pred, costs)
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)) if both_classes else math.nan,
        "f1": float(f1_score(y_true, y_pred, zero_division=0.0)),
        "log_loss": float(log_loss(y_true, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "late_rate": float(y_true.mean()),
        "predicted_late_rate": float(y_pred.mean()),
        "threshold": float(threshold),
        "cost_total": total_cost,
        "cost_per_order": total_cost / len(y_true),
        "n_orders": float(len(y_true)),
    }


def evaluate_model(
    model: Any, frame: pd.DataFrame, threshold: float = 0.5, costs: CostTable = CostTable()
) -> dict[str, float]:
    """Evaluate a fitted model on labelled orders.

    Keys: ``roc_auc``, ``f1``, ``log_loss``, ``accuracy``, ``late_rate`` (share of
    late orders in ``frame``), ``predicted_late_rate``, ``threshold``, ``cost_total``
    and ``cost_per_order`` (roubles, see ``CostTable``), ``n_orders``.
    """
    return score_metrics(frame[TARGET], late_scores(model, frame), threshold, costs)


def cost_by_threshold(
    model: Any,
    frame: pd.DataFrame,
    costs: CostTable = CostTable(),
    thresholds: Any = None,
) -> pd.DataFrame:
    """Total and per-order cost for each threshold (default 0.00, 0.01, ..., 1.00), for plots."""
    if thresholds is None:
        thresholds = np.linspace(0.0, 1.0, 101)
    thresholds = np.asarray(thresholds, dtype=float)
    y_true = frame[TARGET].to_numpy().astype(bool)
    alarms = late_scores(model, frame)[None, :] >= thresholds[:, None]  # thresholds x orders
    missed = (~alarms & y_true).sum(axis=1)
    false_alarms = (alarms & ~y_true).sum(axis=1)
    total = missed * costs.missed_late + false_alarms * costs.false_alarm
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "missed_late": missed,
            "false_alarms": false_alarms,
            "cost_total": total.astype(float),
            "cost_per_order": total / len(y_true),
        }
    )


def best_threshold(
    model: Any, frame: pd.DataFrame, costs: CostTable = CostTable(), thresholds: Any = None
) -> float:
    """The threshold with the lowest total cost on ``frame`` (the lowest one on ties)."""
    curve = cost_by_threshold(model, frame, costs, thresholds)
    return float(curve["threshold"].iloc[int(curve["cost_total"].to_numpy().argmin())])
