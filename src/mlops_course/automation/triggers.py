"""Retraining triggers: when the monitoring's findings send the model round the loop again."""

from __future__ import annotations

import math

from mlops_course.model.evaluate import LOWER_IS_BETTER, require_comparable


def retraining_trigger(
    drift_detected: bool,
    live_metric: float,
    reference_metric: float,
    metric: str = "log_loss",
    tolerance: float = 0.05,
) -> tuple[bool, list[str]]:
    """Should we go round the loop again? Returns the decision and the reasons (Russian).

    Retrain when the monitoring found data drift, or when the live quality is worse than
    the quality measured at training time by more than ``tolerance`` (metric units).
    Whether "worse" means higher or lower follows from ``metric``, as in the quality gate;
    like the gate, it refuses a metric it does not know (``ValueError``).
    """
    require_comparable(metric)
    reasons = []
    if drift_detected:
        reasons.append("обнаружен дрейф данных")
    if not math.isnan(live_metric):
        if metric in LOWER_IS_BETTER:
            loss = live_metric - reference_metric
        else:
            loss = reference_metric - live_metric
        if loss > tolerance:
            reasons.append(
                f"{metric} ухудшился на {loss:.3f} (допуск {tolerance}): "
                f"{reference_metric:.3f} -> {live_metric:.3f}"
            )
    return bool(reasons), reasons
