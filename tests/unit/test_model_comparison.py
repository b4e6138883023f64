"""Tests of two models side by side: quality, trust measures and the metrics line."""

import numpy as np
import pytest

from mlops_course.model.evaluate import (
    CONFIDENT_WRONG,
    MEAN_PROBABILITY,
    SHOWN_QUALITY,
    CostTable,
    compare_quality,
    confident_wrong_share,
    format_metrics,
)


def test_confident_wrong_share_counts_only_sure_mistakes():
    y_true = [1, 0, 1, 0, 1]
    probability = [0.9, 0.95, 0.1, 0.5, 0.6]
    # wrong and sure: order 2 (0.95, on time) and order 3 (0.1, late)
    assert confident_wrong_share(y_true, probability, confidence=0.8) == pytest.approx(2 / 5)
    assert confident_wrong_share(y_true, probability, confidence=0.99) == 0.0
    # p equal to the confidence counts as sure (p >= c)
    assert confident_wrong_share([0, 1], [0.8, 0.8], confidence=0.8) == pytest.approx(1 / 2)
    # and so does 1 - p equal to it, though 1.0 - 0.8 < 0.2 in floating point
    assert confident_wrong_share([1, 0], [0.2, 0.2], confidence=0.8) == pytest.approx(1 / 2)


def test_format_metrics_shows_chosen_keys_rounded():
    metrics = {"roc_auc": 0.81234, "log_loss": 0.4, "accuracy": 0.7, "cost_per_order": 12.3456}
    assert format_metrics(metrics, ("roc_auc", "cost_per_order")) == (
        "roc_auc = 0.812, cost_per_order = 12.346"
    )
    assert format_metrics(metrics).startswith("roc_auc = 0.812, log_loss = 0.400")


def test_compare_quality_scores_models_on_the_same_labels():
    y_true = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    sharp = np.where(y_true == 1, 0.9, 0.1)  # right and sure
    blurry = np.full(8, 0.3)  # promises 30 % late orders, there are 50 %
    quality = compare_quality(y_true, {"sharp": sharp, "blurry": blurry}, 0.5, CostTable())
    assert list(quality.index) == ["sharp", "blurry"]
    assert set(SHOWN_QUALITY) <= set(quality.columns)
    assert quality.loc["sharp", "roc_auc"] == pytest.approx(1.0)
    assert quality.loc["sharp", "log_loss"] < quality.loc["blurry", "log_loss"]
    assert quality.loc["blurry", MEAN_PROBABILITY] == pytest.approx(0.3)
    assert quality.loc["blurry", "late_rate"] == pytest.approx(0.5)
    assert quality.loc["sharp", CONFIDENT_WRONG] == 0.0
    # blurry misses every late order at threshold 0.5: 4 x the missed-late price
    assert quality.loc["blurry", "cost_total"] == pytest.approx(4 * CostTable().missed_late)
