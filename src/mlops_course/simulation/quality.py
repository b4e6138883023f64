"""Quality and ₽ of predictions, as the simulator measures them many times a year.

``evaluate.score_metrics`` computes all metrics with sklearn's input checks (~8 ms for
1,000 orders); the simulation needs a few of them several hundred times a year, so log loss
is written out in numpy (the same clipping) and ₽ come from ``evaluate.business_cost``.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score

from mlops_course.model.evaluate import CostTable, business_cost, score_metrics

DEFAULT_COSTS = CostTable()
FAST_METRICS = ("log_loss", "cost_per_order", "roc_auc")


def log_loss(y: np.ndarray, scores: np.ndarray) -> float:
    """Log loss with probabilities clipped to [1e-15, 1 - 1e-15], as ``score_metrics``.

    Written out in numpy: the simulation takes it a few hundred times a year, and sklearn's
    input checks cost more than the sum itself.
    """
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(scores, dtype=float), 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def week_metrics(
    y: np.ndarray, scores: np.ndarray, threshold: float, costs: CostTable, auc: bool = False
) -> dict:
    """log_loss, cost_rub, cost_per_order (and roc_auc when asked) at ``threshold``."""
    y = np.asarray(y).astype(bool)
    cost = business_cost(y, scores >= threshold, costs)
    metrics = {"log_loss": log_loss(y, scores), "cost_rub": cost, "cost_per_order": cost / len(y)}
    if auc:
        both = 0 < y.sum() < len(y)
        metrics["roc_auc"] = float(roc_auc_score(y, scores)) if both else math.nan
    return metrics


def metric_value(metric: str, y: np.ndarray, scores: np.ndarray, threshold: float, costs) -> float:
    """One metric of ``evaluate.COMPARABLE_METRICS`` (the fast ones without sklearn's checks)."""
    if metric in FAST_METRICS:
        return week_metrics(y, scores, threshold, costs, auc=metric == "roc_auc")[metric]
    return float(score_metrics(y, scores, threshold, costs)[metric])
