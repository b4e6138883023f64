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
    """What lateness and the action against it cost the delivery service, in roubles.

    The decision: for each order the model may raise an alarm, and the service then acts
    at once (a bonus to a free courier nearby to take it, or a second courier: the
    ``action`` price, ~60 ₽, paid whether or not the order would have been late). The
    action prevents the delay of a share ``prevented`` (~0.7) of the orders that would
    have been late. A late order nobody acted on costs ``late_damage``: a compensation
    coupon (~200 ₽), a support contact (~50 ₽) and the risk that the customer leaves
    (~5 % of a ~3000 ₽ yearly margin); ~400 ₽ in all. The figures are illustrative
    orders of magnitude, not real data. An order flagged in time then costs ``action +
    (1 - prevented) * late_damage`` if it would have been late (``caught_late``) and
    ``action`` if not (``false_alarm``); a missed late order costs ``late_damage``
    (``missed_late``); an on-time order without an alarm costs nothing. Flagging every
    order or none is then expensive either way: only a model that tells risky orders
    from safe ones saves money.
    """

    late_damage: float = 400.0
    action: float = 60.0
    prevented: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 <= self.prevented <= 1.0:
            raise ValueError(f"prevented — доля в [0, 1], а не {self.prevented}.")

    @property
    def missed_late(self) -> float:
        """Cost of a late order without an alarm."""
        return float(self.late_damage)

    @property
    def false_alarm(self) -> float:
        """Cost of an alarm on an order that would have been on time: the action, wasted."""
        return float(self.action)

    @property
    def caught_late(self) -> float:
        """Cost of an alarm on an order that would have been late: the action plus the
        damage it does not prevent."""
        return float(self.action + (1.0 - self.prevented) * self.late_damage)

    @property
    def break_even_threshold(self) -> float:
        """The threshold that minimises expected cost for *calibrated* probabilities.

        Raise an alarm when it is cheaper in expectation, ``p * caught_late + (1 - p) *
        false_alarm < p * missed_late``, that is when ``p > action / (prevented *
        late_damage)`` (1.0 when the action prevents nothing: never act).
        """
        saved = self.missed_late - self.caught_late + self.false_alarm
        return min(1.0, self.false_alarm / saved) if saved > 0 else 1.0

    def total(self, missed: Any, caught: Any, false_alarms: Any) -> Any:
        """Roubles for counts of the three priced outcomes (numbers or arrays of them)."""
        priced = missed * self.missed_late + caught * self.caught_late
        return priced + false_alarms * self.false_alarm

    def constant_costs(self, late_rate: float) -> dict[str, float]:
        """Cost per order of the two policies that need no model, at a given late rate."""
        return {
            "flag_none": late_rate * self.missed_late,
            "flag_all": late_rate * self.caught_late + (1.0 - late_rate) * self.false_alarm,
        }


def late_scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """P(is_late = 1) for every order, from any fitted classifier with ``predict_proba``."""
    return np.asarray(model.predict_proba(frame[FEATURES]))[:, 1]


def business_cost(y_true: Any, y_pred: Any, costs: CostTable = CostTable()) -> float:
    """Total cost in roubles of acting on the alarms ``y_pred``, priced by ``costs``.

    Missed late orders cost ``missed_late``, alarms on late orders ``caught_late`` (the
    action plus the damage left), alarms on on-time orders ``false_alarm``.
    """
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    missed = np.count_nonzero(y_true & ~y_pred)
    caught = np.count_nonzero(y_true & y_pred)
    false_alarms = np.count_nonzero(~y_true & y_pred)
    return float(costs.total(missed, caught, false_alarms))


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
    """Total and per-order cost for each threshold (default 0.00, 0.01, ..., 1.00), for plots.

    Columns: ``threshold``, the counts ``missed_late``, ``caught_late`` and
    ``false_alarms``, then ``cost_total`` and ``cost_per_order`` (roubles).
    """
    if thresholds is None:
        thresholds = np.linspace(0.0, 1.0, 101)
    thresholds = np.asarray(thresholds, dtype=float)
    y_true = frame[TARGET].to_numpy().astype(bool)
    alarms = late_scores(model, frame)[None, :] >= thresholds[:, None]  # thresholds x orders
    missed = (~alarms & y_true).sum(axis=1)
    caught = (alarms & y_true).sum(axis=1)
    false_alarms = (alarms & ~y_true).sum(axis=1)
    total = costs.total(missed, caught, false_alarms)
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "missed_late": missed,
            "caught_late": caught,
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


def tune_threshold(
    model: Any, validation: pd.DataFrame, costs: CostTable = CostTable(), thresholds: Any = None
) -> float:
    """The alarm threshold, tuned on a *validation* split carved from the training period.

    Never tune on the orders that then judge the model: the tuned threshold fits their
    noise, and the judged cost comes out too good. ``train.split_validation`` carves the
    validation orders; this is ``best_threshold`` on them.
    """
    return best_threshold(model, validation, costs, thresholds)


# --- Two models side by side: quality and trust ------------------------------------


def confident_wrong_share(y_true: Any, probability: Any, confidence: float = 0.8) -> float:
    """Share of orders where the model was confident (p ≥ c or p ≤ 1 - c) and wrong.

    These are the mistakes that destroy trust: the model "was sure" and it was not so.
    """
    y_true = np.asarray(y_true).astype(bool)
    probability = np.asarray(probability, dtype=float)
    sure_late = probability >= confidence
    sure_on_time = 1.0 - probability >= confidence  # symmetric: p = 0.2 counts at c = 0.8
    wrong = (sure_late & ~y_true) | (sure_on_time & y_true)
    return float(wrong.mean()) if len(y_true) else math.nan


SHOWN_METRICS = ("roc_auc", "log_loss", "accuracy", "cost_per_order")


def format_metrics(metrics: dict[str, float], keys: tuple[str, ...] = SHOWN_METRICS) -> str:
    """``"roc_auc = 0.812, log_loss = 0.455, ..."``: chosen metrics, 3 decimals."""
    return ", ".join(f"{key} = {metrics[key]:.3f}" for key in keys)


CONFIDENT_WRONG = "уверенно неверных"
MEAN_PROBABILITY = "средняя вероятность"
# Columns of ``compare_quality`` worth showing side by side (the rest stays available).
# CONFIDENT_WRONG is left out: a calibrated model in a world with more late orders is
# confident more often, so its share of confident mistakes can grow while it improves.
SHOWN_QUALITY = [
    "roc_auc",
    "accuracy",
    "log_loss",
    "cost_per_order",
    "late_rate",
    MEAN_PROBABILITY,
]


def compare_quality(
    y_true: Any,
    probabilities: dict[str, Any],
    threshold: float,
    costs: CostTable,
) -> pd.DataFrame:
    """One row per model: all ``score_metrics`` on the same labels, plus trust measures.

    ``probabilities`` maps a model's name to its predicted probabilities of being late.
    The extra columns are the share of confident mistakes and the mean predicted
    probability (compare it with ``late_rate``: a calibrated model promises as many
    late orders as there are).
    """
    quality = pd.DataFrame(
        {name: score_metrics(y_true, p, threshold, costs) for name, p in probabilities.items()}
    ).T
    quality[CONFIDENT_WRONG] = [confident_wrong_share(y_true, p) for p in probabilities.values()]
    quality[MEAN_PROBABILITY] = [float(np.mean(p)) for p in probabilities.values()]
    return quality
