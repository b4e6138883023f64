"""Figures and tables of a simulated year: what they show comes from the results (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mlops_course.classroom.year_plots import (  # noqa: E402
    LEVEL_COLORS,
    ORACLE_LABEL,
    as_results,
    cumulative_rub,
    deployment_table,
    draw_cumulative,
    draw_event_lanes,
    draw_weekly,
    event_outcomes,
    event_spans,
    model_weeks,
    plot_year,
    week_span,
    weeks_to_learn,
)
from mlops_course.scenario.problems import Event  # noqa: E402
from mlops_course.simulation.policies import LEVEL_0, OperatingPolicy, RetrainTrigger  # noqa: E402
from mlops_course.simulation.simulator import simulate_year  # noqa: E402
from mlops_course.simulation.year import YearEvent, make_year  # noqa: E402

# A short, small year with a one-week quality incident and a ramping drift to the end.
EVENTS = (
    YearEvent("metres", "Расстояние в метрах", Event("distance_in_metres", 3, end_week=4)),
    YearEvent("winter", "Зима", Event("winter", 5, ramp_weeks=2)),
)
YEAR = {"weeks": 9, "orders_per_week": 200, "history_weeks": 2, "events": EVENTS}
# Retrains every 3 weeks, deployed the next week: deployments at weeks 3 and 6.
EVERY_3 = OperatingPolicy("every_3", trigger=RetrainTrigger(every_weeks=3))


@pytest.fixture(scope="module")
def level_0():
    return simulate_year(LEVEL_0, seed=3, **YEAR)


@pytest.fixture(scope="module")
def every_3():
    return simulate_year(EVERY_3, seed=3, **YEAR)


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def test_event_spans_are_the_active_weeks_within_the_year():
    year = make_year(3, 9, 200, 2, 2, EVENTS)
    spans = event_spans(year).set_index("key")
    assert spans.loc["metres", ["first_week", "last_week"]].tolist() == [3, 3]
    assert spans.loc["winter", ["first_week", "last_week", "ramp_weeks"]].tolist() == [5, 8, 2]
    later = (YearEvent("late", "Поздно", Event("winter", 20)),)
    assert event_spans(make_year(3, 9, 200, 2, 2, later)).empty  # never happens in 9 weeks


def test_event_lanes_draw_the_ramp_lighter_and_name_each_event(ax):
    draw_event_lanes(ax, make_year(3, 9, 200, 2, 2, EVENTS))
    bars = [(p.get_x(), p.get_width(), p.get_alpha()) for p in ax.patches]
    # metres: one full bar over week 3; winter: ramp weeks 5-6 light, then 7-8 full.
    assert bars == [(2.5, 1, None), (4.5, 2, 0.4), (6.5, 2, None)]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["Расстояние в метрах (с нед. 3)", "Зима (с нед. 5)"]


def test_weekly_curve_is_the_results_metric_with_the_oracle(ax, every_3):
    draw_weekly(ax, {"раз в 3 недели": every_3}, metric="cost_per_order", mark_deployments=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    weekly = every_3.weekly
    assert np.allclose(lines["раз в 3 недели"].get_ydata(), weekly["cost_per_order"])
    oracle = weekly["oracle_cost_rub"] / 200
    assert np.allclose(lines[ORACLE_LABEL].get_ydata(), oracle)


def test_deployments_are_marked_on_the_curve_at_the_weeks_served(ax, every_3):
    draw_weekly(ax, {"раз в 3 недели": every_3})
    marks = next(line for line in ax.get_lines() if line.get_label().startswith("новая модель"))
    assert list(marks.get_xdata()) == [3, 6]
    served = every_3.weekly.set_index("week")["log_loss"].loc[[3, 6]]
    # on the curve as drawn: week 3 (the batch in metres) sits at the top edge
    assert np.allclose(marks.get_ydata(), np.minimum(served, ax.get_ylim()[1]))


def test_an_outlier_week_is_drawn_at_the_top_with_its_value(ax, level_0):
    weekly = level_0.weekly.set_index("week")["log_loss"]
    assert weekly[3] > 10 * weekly.drop(3).max()  # the batch in metres
    draw_weekly(ax, level_0)
    top = ax.get_ylim()[1]
    assert weekly.drop(3).max() < top < weekly[3]
    assert [t.get_text() for t in ax.texts] == [f"нед. 3: {weekly[3]:.3g} ↑"]
    curve = next(line for line in ax.get_lines() if line.get_label() == "уровень 0")
    assert curve.get_ydata()[3] == pytest.approx(top)


def test_no_outlier_keeps_matplotlibs_limits(ax, every_3):
    draw_weekly(ax, every_3, metric="cost_per_order")
    assert not ax.texts
    assert ax.get_ylim()[1] > every_3.weekly["cost_per_order"].max()


def test_cumulative_rub_versus_the_oracle_and_in_all(ax, level_0):
    weekly = level_0.weekly
    excess = cumulative_rub(level_0)
    assert excess.iloc[-1] == pytest.approx((weekly["cost_rub"] - weekly["oracle_cost_rub"]).sum())
    assert cumulative_rub(level_0, versus_oracle=False).iloc[-1] == weekly["cost_rub"].sum()
    draw_cumulative(ax, {"уровень 0": level_0})
    line = next(line for line in ax.get_lines() if line.get_label().startswith("уровень 0"))
    assert np.allclose(line.get_ydata(), excess / 1000)
    assert line.get_color() == LEVEL_COLORS["level_0"]
    assert "за год" in line.get_label()


def test_plot_year_has_the_events_the_metric_and_the_cumulative_panels(level_0, every_3):
    fig = plot_year({"уровень 0": level_0, "раз в 3 недели": every_3}, level_0.year)
    try:
        lanes, weekly, cumulative = fig.axes
        assert len(lanes.texts) == len(EVENTS)
        labels = [line.get_label() for line in weekly.get_lines()]
        assert {"уровень 0", "раз в 3 недели", ORACLE_LABEL} <= set(labels)
        assert weekly.get_legend() is not None and cumulative.get_legend() is not None
    finally:
        plt.close(fig)
    fig = plot_year(level_0, cumulative=None)
    try:
        assert len(fig.axes) == 2
    finally:
        plt.close(fig)


def test_results_of_different_years_or_a_wrong_option_are_refused(level_0):
    other = simulate_year(LEVEL_0, seed=4, **YEAR)
    with pytest.raises(ValueError, match="разных годах"):
        as_results({"a": level_0, "b": other})
    with pytest.raises(ValueError, match="Год не тот"):
        plot_year(level_0, other.year)
    with pytest.raises(ValueError, match="cumulative"):
        plot_year(level_0, cumulative="₽")
    with pytest.raises(ValueError, match="Метрика"):
        plot_year(level_0, metric="accuracy")
    with pytest.raises(ValueError, match="Нет результатов"):
        as_results({})


# --- tables ------------------------------------------------------------------------------


def test_week_span_reads_consecutive_weeks_as_a_range_and_lists_gaps():
    assert week_span((8, 9, 10, 11)) == "8…11"
    assert week_span((-2, -1, 0)) == "-2…0"
    assert week_span((5,)) == "5"
    assert week_span((25, 26, 27, 29)) == "25, 26, 27, 29"  # a refused batch left out


def test_model_weeks_reproduces_the_simulators_own_week(level_0):
    v1 = level_0.shelf.versions[1]
    weeks = model_weeks(level_0.year, v1.model, v1.threshold, range(9), clean=False)
    served = level_0.weekly
    for column in ("log_loss", "cost_rub", "roc_auc"):
        assert np.allclose(weeks[column], served[column], equal_nan=True), column
    # on the repaired orders of week 3 the same model is an ordinary model again
    clean = model_weeks(level_0.year, v1.model, v1.threshold, [3]).iloc[0]
    assert clean["log_loss"] < served["log_loss"].drop(3).max() < served["log_loss"][3]


def test_deployment_table_has_one_row_per_choice_with_its_delays(every_3):
    table = deployment_table(every_3)
    assert table.index.tolist() == ["v2", "v3"]  # v1 is not a choice
    assert table["работает с недели"].tolist() == [3, 6]
    # no waits: a decision at the end of week t serves from week t + 1
    assert table["от решения до production, нед."].tolist() == [1, 1]
    trained = every_3.deployments.set_index("version")["trained_on"]
    assert table["обучена на неделях"].tolist() == [week_span(trained[v]) for v in (2, 3)]
    newest = [6 - max(trained[3])]
    assert table.loc[["v3"], "возраст свежих данных при выкатке, нед."].tolist() == newest
    worse = every_3.deployments.set_index("version")["worse"]
    assert table["хуже прежней"].tolist() == [("да" if worse[v] else "нет") for v in (2, 3)]


def test_weeks_to_learn_is_the_first_deployment_trained_on_the_event(every_3, level_0):
    learned = weeks_to_learn(every_3)
    # the retrain at the end of week 5 learns on the labelled weeks 0-3 (labels come 2
    # weeks late), the metres week among them, and serves from week 6: 3 weeks after it
    assert learned["metres"] == 3.0
    assert np.isnan(learned["winter"])  # the next retrain would serve after the year
    assert weeks_to_learn(level_0).isna().all()  # level 0 never retrains in 9 weeks


def test_event_outcomes_say_in_words_what_never_happened(level_0, every_3):
    table = event_outcomes(level_0)
    assert table.index.tolist() == ["Расстояние в метрах", "Зима"]
    assert (table["обнаружено через, нед."] == "не обнаружено").all()  # level 0: no alarms
    assert (table["модель на данных события в production через, нед."] == "не было").all()
    recover = level_0.events.set_index("событие")["time_to_recover_weeks"]
    expected = ["не до конца года" if np.isnan(v) else f"{v:.0f}" for v in recover]
    assert table["восстановление через, нед."].tolist() == expected
    learned = event_outcomes(every_3)["модель на данных события в production через, нед."]
    assert learned.tolist() == ["3", "не было"]
