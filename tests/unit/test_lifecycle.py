"""Tests of the lifecycle log, the deployment-problems table and the lifecycle figure."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from mlops_course.classroom.lifecycle import (
    NOT_SHOWN,
    STAGES,
    LifecycleLog,
    deployment_problems,
    markdown_table,
    plot_lifecycle,
)
from mlops_course.model.evaluate import MEAN_PROBABILITY

matplotlib.use("Agg")


def test_stage_records_artefact_and_time():
    log = LifecycleLog()
    with log.stage("data", turn=1) as note:
        note["artefact"] = "hash abc"
    log.add("deployment", 1, 2.5, "v1")
    assert [r.stage for r in log.records] == ["data", "deployment"]
    assert log.records[0].artefact == "hash abc"
    assert log.records[0].seconds >= 0.0
    assert log.seconds_by_turn().loc[1] == pytest.approx(log.records[0].seconds + 2.5)


def test_seconds_after_sums_the_rest_of_the_turn():
    log = LifecycleLog()
    for turn in (1, 2):
        for stage, seconds in (("monitoring", 1.0), ("trigger", 0.5), ("training", 2.0)):
            log.add(stage, turn, seconds * turn)
        log.add("deployment", turn, 3.0)
    assert log.seconds_after("trigger", 2) == pytest.approx(4.0 + 3.0)
    assert log.seconds_after("deployment", 1) == 0.0
    with pytest.raises(ValueError, match="нет этапа"):
        log.seconds_after("registration", 1)


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


STALE = {"roc_auc": 0.70, "log_loss": 0.61, MEAN_PROBABILITY: 0.25, "late_rate": 0.5}
FRESH = {"roc_auc": 0.80, "log_loss": 0.45, MEAN_PROBABILITY: 0.48, "late_rate": 0.5}
RUN = {
    "n_settings": 4,
    "n_pinned_packages": 7,
    "deploy_seconds": 6.54,
    "untuned_threshold_cost": 1234.4,
    "retrain_seconds": 1.25,
    "stale_extra_cost": 5600.0,
}


def test_deployment_problems_puts_run_numbers_into_the_table():
    problems = deployment_problems(stale=STALE, fresh=FRESH, **RUN)
    assert list(problems.columns) == ["проблема", "последствие", "число из этого запуска"]
    assert problems["проблема"].nunique() == 4 and len(problems) == 6
    numbers = " | ".join(problems["число из этого запуска"])
    assert "настроек сервиса вручную: 4, закреплённых версий пакетов модели: 7" in numbers
    assert "до готовности: 6.5 с" in numbers and "в сервисе 1.2 с" in numbers
    # thousands split by a narrow no-break space: a comma would read as a decimal point
    assert "+1\u202f234 ₽ на 1000 заказов, если порог" in numbers
    assert "ROC AUC 0.800 → 0.700" in numbers
    assert "обещает 25% опозданий, а их 50% (переобученная — 48%)" in numbers
    assert "+5\u202f600 ₽ на 1000 заказов, пока отвечает устаревшая" in numbers
    # the wait for someone to start the second turn is never simulated: always «not shown»
    shown = [NOT_SHOWN in text for text in problems["число из этого запуска"]]
    assert shown == [False, False, False, False, True, False]


def test_deployment_problems_does_not_claim_what_the_run_did_not_show():
    # retraining made things worse: every consequence that depends on it is not claimed
    run = {**RUN, "untuned_threshold_cost": -10.0, "stale_extra_cost": -56.0}
    problems = deployment_problems(stale=FRESH, fresh=STALE, **run)
    numbers = list(problems["число из этого запуска"])
    assert [NOT_SHOWN in text for text in numbers] == [False, True, True, True, True, True]
    assert "(-56 ₽)" in numbers[5] and "(-10 ₽)" in numbers[1]


def test_markdown_table_has_no_padding():
    frame = pd.DataFrame({"a": ["x", "a much longer cell"], "b": ["7.1 с", "y"]})
    assert markdown_table(frame).splitlines() == [
        "| a | b |",
        "| --- | --- |",
        "| x | 7.1 с |",
        "| a much longer cell | y |",
    ]
