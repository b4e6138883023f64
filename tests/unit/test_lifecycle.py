"""Tests of the lifecycle log, the retraining trigger and the lifecycle figure."""

import math

import matplotlib
import numpy as np
import pytest

from mlops_course.evaluate import CostTable
from mlops_course.lifecycle import (
    CONFIDENT_WRONG,
    MEAN_PROBABILITY,
    SHOWN_QUALITY,
    STAGES,
    LifecycleLog,
    compare_quality,
    confident_wrong_share,
    deployment_problems,
    format_metrics,
    plot_lifecycle,
    retraining_trigger,
)

matplotlib.use("Agg")


def test_stage_records_artefact_and_time():
    log = LifecycleLog()
    with log.stage("data", turn=1) as note:
        note["artefact"] = "hash abc"
    log.add("deployment", 1, 2.5, "v1")
    assert [r.stage for r in log.records] == ["data", "deployment"]
    assert log.records[0].artefact == "hash abc"
    assert log.records[0].seconds >= 0.0
    assert log.n_steps == 2
    assert log.seconds_by_turn().loc[1] == pytest.approx(log.records[0].seconds + 2.5)


def test_stage_is_recorded_even_when_it_fails():
    log = LifecycleLog()
    with pytest.raises(RuntimeError), log.stage("training", turn=2):
        raise RuntimeError("boom")
    assert log.records[0].stage == "training" and log.records[0].turn == 2


def test_unknown_stage_is_rejected():
    log = LifecycleLog()
    with pytest.raises(ValueError, match="Неизвестный этап"), log.stage("coffee", turn=1):
        pass
    with pytest.raises(ValueError):
        log.add("coffee", 1, 1.0)


def test_table_hides_seconds_unless_asked():
    log = LifecycleLog()
    log.add("data", 1, 1.234, "x")
    assert "seconds" not in log.table().columns
    assert log.table(with_seconds=True)["seconds"].iloc[0] == pytest.approx(1.23)
    assert log.table()["stage"].iloc[0] == "Данные"


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


def test_plot_lifecycle_draws_loop_and_timeline():
    log = LifecycleLog()
    for turn in (1, 2):
        for stage in STAGES:
            log.add(stage, turn, 0.1 * turn, f"{stage}-{turn}")
    fig = plot_lifecycle(log)
    loop_ax, time_ax = fig.axes
    texts = [t.get_text() for t in loop_ax.texts]
    assert any("Мониторинг" in t for t in texts)
    assert any("monitoring-2" in t for t in texts)
    assert len(time_ax.patches) == 2 * len(STAGES)
    # a Gantt chart: each bar starts where the previous one ended
    seconds = [r.seconds for r in log.records]
    assert [bar.get_x() for bar in time_ax.patches] == pytest.approx(np.cumsum([0] + seconds[:-1]))
    assert [bar.get_width() for bar in time_ax.patches] == pytest.approx(seconds)
    matplotlib.pyplot.close(fig)


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


def test_deployment_problems_puts_run_numbers_into_the_table():
    stale = {"roc_auc": 0.70, "log_loss": 0.61, MEAN_PROBABILITY: 0.25, "late_rate": 0.5}
    fresh = {"roc_auc": 0.80, "log_loss": 0.45, MEAN_PROBABILITY: 0.5, "late_rate": 0.5}
    problems = deployment_problems(
        stale=stale,
        fresh=fresh,
        n_settings=4,
        n_pinned_packages=7,
        untuned_threshold_cost=1234.4,
        stale_extra_cost=-56.0,
        n_steps=19,
    )
    assert list(problems.columns) == ["проблема", "последствие", "число из этого запуска"]
    assert problems["проблема"].nunique() == 4 and len(problems) == 6
    numbers = " | ".join(problems["число из этого запуска"])
    assert "4 настройки сервиса вручную, 7 закреплённых" in numbers
    # thousands split by a narrow no-break space: a comma would read as a decimal point
    assert "+1\u202f234 ₽ на 1000 заказов, если порог" in numbers
    assert "ROC AUC 0.800 → 0.700" in numbers
    assert "обещает 25% опозданий, а их 50%" in numbers
    assert "19 шагов вручную за 2 витка" in numbers
    assert "-56 ₽ на 1000 заказов за устаревшую" in numbers
