"""Tests of the lifecycle log, the retraining trigger and the lifecycle figure."""

import math

import matplotlib
import pytest

from mlops_course.lifecycle import (
    STAGES,
    LifecycleLog,
    confident_wrong_share,
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
    # Higher-is-better metrics: a drop, not a rise, is a loss.
    assert retraining_trigger(False, 0.90, 0.80, "roc_auc", lower_is_better=False)[0] is False
    assert retraining_trigger(False, 0.70, 0.80, "roc_auc", lower_is_better=False)[0] is True
    assert retraining_trigger(False, math.nan, 0.5)[0] is False


def test_confident_wrong_share_counts_only_sure_mistakes():
    y_true = [1, 0, 1, 0, 1]
    probability = [0.9, 0.95, 0.1, 0.5, 0.6]
    # wrong and sure: order 2 (0.95, on time) and order 3 (0.1, late)
    assert confident_wrong_share(y_true, probability, confidence=0.8) == pytest.approx(2 / 5)
    assert confident_wrong_share(y_true, probability, confidence=0.99) == 0.0


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
    matplotlib.pyplot.close(fig)
