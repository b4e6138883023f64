"""Tests of the retraining trigger: drift or a quality loss sends the model round again."""

import math

import pytest

from mlops_course.automation.triggers import retraining_trigger


def test_trigger_fires_on_drift_or_quality_loss():
    assert retraining_trigger(False, 0.50, 0.50) == (False, [])
    fired, reasons = retraining_trigger(True, 0.50, 0.50)
    assert fired and reasons == ["обнаружен дрейф данных"]
    fired, reasons = retraining_trigger(False, 0.60, 0.50, tolerance=0.05)
    assert fired and "ухудшился" in reasons[0]
    assert retraining_trigger(False, math.nan, 0.5)[0] is False


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1"])
def test_trigger_knows_higher_is_better_metrics_from_their_name(metric):
    # A drop, not a rise, is a loss: no flag to forget.
    assert retraining_trigger(False, 0.90, 0.80, metric) == (False, [])
    fired, reasons = retraining_trigger(False, 0.70, 0.80, metric)
    assert fired and reasons[0].startswith(f"{metric} ухудшился на 0.100")


@pytest.mark.parametrize("metric", ["log_loss", "cost_per_order"])
def test_trigger_knows_lower_is_better_metrics_from_their_name(metric):
    assert retraining_trigger(False, 0.40, 0.50, metric) == (False, [])
    assert retraining_trigger(False, 0.60, 0.50, metric)[0] is True


@pytest.mark.parametrize("metric", ["logloss", "cost", "ROC_AUC"])
def test_trigger_refuses_a_metric_it_does_not_know(metric):
    # "worse" would be guessed: log loss 0.40 -> 0.90 must not pass as an improvement
    with pytest.raises(ValueError, match=f"Метрика '{metric}'.*log_loss"):
        retraining_trigger(False, 0.90, 0.40, metric)
