"""Retraining strategies: schedules, label delay respected, adaptation to concept drift."""

import numpy as np
import pandas as pd
import pytest

from mlops_course.model import retraining
from mlops_course.model.evaluate import CostTable
from mlops_course.model.retraining import (
    StrategyConfig,
    change_steps,
    compare_strategies,
    describe,
    detection_week,
    first_quality_alarm,
    quality_alarm_table,
    simulate,
    strategy_table,
)
from mlops_course.model.train import split_validation
from mlops_course.scenario import problems

WEEKS, CHANGE = 16, 6


@pytest.fixture(scope="module")
def batches():
    events = {CHANGE: ["routing_change"]}
    return list(problems.stream(WEEKS, 600, seed=3, events=events, label_delay_weeks=1))


def test_never_does_not_retrain_and_scores_every_week(batches):
    result = simulate(batches, StrategyConfig("never", initial_weeks=2))
    assert result.n_retrains == 0
    assert result.weekly["week"].tolist() == list(range(2, WEEKS))
    assert result.weekly["roc_auc"].between(0.5, 1.0).all()


def test_periodic_and_sliding_follow_their_schedule(batches):
    for name in ("periodic", "sliding"):
        result = simulate(batches, StrategyConfig(name, initial_weeks=2, every_weeks=3))
        assert result.retrain_weeks == [4, 7, 10, 13]


def test_strategy_name_is_checked(batches):
    with pytest.raises(ValueError):
        simulate(batches, StrategyConfig("sometimes"))


@pytest.mark.parametrize("knob", ["initial_weeks", "every_weeks", "window_weeks"])
@pytest.mark.parametrize("value", [0, -1])
def test_strategy_config_needs_at_least_one_week(knob, value):
    with pytest.raises(ValueError, match=f"{knob}.*не меньше 1"):
        StrategyConfig("sliding", **{knob: value})


def training_weeks(monkeypatch, batches) -> list[list[int]]:
    """Record, for every model ``simulate`` trains, the weeks its training orders come from
    (fit and validation together: ``split_validation`` receives them all)."""
    week_of = pd.concat(pd.Series(b.week, index=b.frame["order_id"]) for b in batches)
    calls = []

    def spy(frame, *args, **kwargs):
        calls.append(sorted(set(week_of[frame["order_id"]])))
        return split_validation(frame, *args, **kwargs)

    monkeypatch.setattr(retraining, "split_validation", spy)
    return calls


def test_periodic_learns_from_all_labelled_weeks_sliding_from_the_last_few(batches, monkeypatch):
    calls = training_weeks(monkeypatch, batches)
    simulate(batches, StrategyConfig("periodic", initial_weeks=2, every_weeks=3, window_weeks=3))
    # retrains at weeks 4, 7, 10, 13; labels arrive one week late
    assert calls == [[0, 1], [0, 1, 2, 3], list(range(7)), list(range(10)), list(range(13))]
    calls.clear()
    simulate(batches, StrategyConfig("sliding", initial_weeks=2, every_weeks=3, window_weeks=3))
    assert calls == [[0, 1], [1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]


def test_retraining_uses_only_weeks_whose_labels_have_arrived(monkeypatch):
    late = list(problems.stream(8, 200, seed=5, label_delay_weeks=3))
    calls = training_weeks(monkeypatch, late)
    result = simulate(
        late, StrategyConfig("sliding", initial_weeks=2, every_weeks=2, window_weeks=2)
    )
    # at the end of week w the labels of weeks 0..w-3 are known
    assert result.retrain_weeks == [3, 5, 7]
    assert calls == [[0, 1], [0], [1, 2], [3, 4]]


class CountingDetector:
    """Stand-in detector that alarms on its ``every``-th item and does not restart itself."""

    every = 50

    def __init__(self, delta, threshold):
        self.n = 0

    def update(self, value):
        self.n += 1
        return self.n == self.every

    def reset(self):
        self.n = 0


def test_triggered_restarts_the_detector_after_each_retrain(batches, monkeypatch):
    monkeypatch.setattr(retraining, "PageHinkley", CountingDetector)
    result = simulate(batches, StrategyConfig("triggered", initial_weeks=2))
    # 600 labelled orders a week: the fresh detector alarms again in every week with labels
    assert result.retrain_weeks == list(range(3, WEEKS))


def test_triggered_retrains_only_after_the_change_is_labelled(batches):
    config = StrategyConfig("triggered", initial_weeks=2, threshold=40.0, window_weeks=3)
    result = simulate(batches, config)
    # labels of the change week arrive one week later: no alarm can come before that
    assert result.retrain_weeks
    assert min(result.retrain_weeks) >= CHANGE + 1


def test_triggered_cannot_react_without_labels():
    stream = list(
        problems.stream(8, 300, seed=4, events={2: ["routing_change"]}, label_delay_weeks=20)
    )
    eager = StrategyConfig("triggered", initial_weeks=2, threshold=1.0)
    # with labels 20 weeks late, no new error reaches the (very eager) detector
    assert simulate(stream, eager).n_retrains == 0
    # with labels 1 week late, the same detector fires
    prompt = list(
        problems.stream(8, 300, seed=4, events={2: ["routing_change"]}, label_delay_weeks=1)
    )
    assert simulate(prompt, eager).n_retrains > 0


def test_a_week_counts_as_retrained_only_when_a_refit_happened(batches):
    late = list(
        problems.stream(8, 300, seed=4, events={2: ["routing_change"]}, label_delay_weeks=20)
    )
    # The schedule fires every 2 weeks, but no week's labels arrive within the stream.
    starved = simulate(late, StrategyConfig("periodic", initial_weeks=2, every_weeks=2))
    assert starved.n_retrains == 0
    assert not starved.weekly["retrained"].any()
    # With labels, the weekly flag and the retrain weeks tell the same story.
    fed = simulate(batches, StrategyConfig("periodic", initial_weeks=2, every_weeks=3))
    flagged = fed.weekly.loc[fed.weekly["retrained"], "week"].tolist()
    assert flagged == fed.retrain_weeks == [4, 7, 10, 13]


def test_adapting_beats_never_after_concept_drift(batches):
    configs = [
        StrategyConfig("never", initial_weeks=2),
        StrategyConfig("sliding", initial_weeks=2, every_weeks=2, window_weeks=3),
    ]
    summary, _ = compare_strategies(batches, configs, change_week=CHANGE + 4)
    after = summary.set_index("strategy")["cost_per_order_after_change"]
    assert after["sliding"] < after["never"]

    shown = strategy_table(summary)
    assert list(shown["стратегия"]) == ["никогда", "скользящее окно"]
    assert shown["₽ на заказ после смены"].tolist() == after.round(3).tolist()
    assert all(column.isascii() is False for column in shown.columns)


def test_compare_strategies_refuses_two_configs_with_one_name(batches):
    configs = [StrategyConfig("sliding", window_weeks=w) for w in (2, 4)]
    with pytest.raises(ValueError, match="sliding"):
        compare_strategies(batches, configs)


def test_labels_let_two_variants_of_one_strategy_run_side_by_side(batches):
    configs = [
        StrategyConfig("sliding", initial_weeks=2, every_weeks=3, window_weeks=3),
        StrategyConfig("sliding", initial_weeks=2, every_weeks=3, window_weeks=1, label="w1"),
    ]
    summary, results = compare_strategies(batches, configs)
    assert list(results) == ["sliding", "w1"] == summary["strategy"].tolist()
    assert results["w1"].name == "w1"
    assert summary["training_data"].tolist() == ["последние 3 нед.", "последняя неделя"]


def test_every_model_is_priced_at_the_threshold_tuned_on_its_own_validation(batches, monkeypatch):
    tuned = []

    def fake_tune(model, validation, costs):
        tuned.append(len(validation))
        return [0.4, 0.5, 0.6, 0.7, 0.8][len(tuned) - 1]  # a different one for every model

    monkeypatch.setattr(retraining, "tune_threshold", fake_tune)
    result = simulate(batches, StrategyConfig("sliding", initial_weeks=2, every_weeks=3))
    # the first model and the 4 retrained ones (retrains at weeks 4, 7, 10, 13)
    assert len(tuned) == 5
    # validation = the latest quarter of the training orders: 2 or 4 weeks of 600 orders
    assert tuned == [300, 600, 600, 600, 600]
    thresholds = result.weekly.set_index("week")["threshold"]
    # a retrain at the end of week w changes the threshold from week w + 1 on
    assert thresholds.loc[2:4].eq(0.4).all()
    assert thresholds.loc[5:7].eq(0.5).all()
    assert thresholds.loc[14:].eq(0.8).all()


def test_week_cost_is_priced_at_the_tuned_threshold_with_the_given_costs(batches):
    config = StrategyConfig("never", initial_weeks=2)
    weekly = simulate(batches, config).weekly
    model, threshold = retraining._fit(retraining._labelled(batches, range(2)), config, 42)
    frame = batches[5].frame
    y = frame["is_late"].to_numpy().astype(bool)
    alarms = retraining.late_scores(model, frame) >= threshold
    expected = retraining.business_cost(y, alarms, CostTable()) / len(frame)
    row = weekly.set_index("week").loc[5]
    assert row["cost_per_order"] == pytest.approx(expected)
    assert row["threshold"] == threshold != 0.5
    assert row["late_rate"] == pytest.approx(y.mean())
    dear = simulate(batches, StrategyConfig("never", initial_weeks=2, costs=CostTable(action=90)))
    assert (dear.weekly["cost_per_order"] != weekly["cost_per_order"]).any()


def test_describe_names_the_two_knobs_of_each_strategy():
    assert describe(StrategyConfig("never")) == {
        "schedule": "никогда",
        "training_data": "первые 4 нед.",
    }
    periodic = describe(StrategyConfig("periodic", every_weeks=4))
    sliding = describe(StrategyConfig("sliding", every_weeks=4, window_weeks=4))
    triggered = describe(StrategyConfig("triggered", window_weeks=4, threshold=120))
    assert periodic["schedule"] == sliding["schedule"] == "каждые 4 нед."
    assert periodic["training_data"] != sliding["training_data"] == triggered["training_data"]
    assert triggered["schedule"] == "по тревоге (λ = 120)"


def test_change_steps_names_what_changed_and_its_effect():
    summary = pd.DataFrame(
        {
            "strategy": ["periodic", "sliding", "triggered"],
            "schedule": ["каждые 4 нед.", "каждые 4 нед.", "по тревоге"],
            "training_data": ["все", "последние 4", "последние 4"],
            "retrains": [12, 12, 1],
            "cost_per_order_after_change": [59.0, 54.0, 63.0],
        }
    )
    table = change_steps(summary, [("periodic", "sliding"), ("sliding", "triggered")])
    assert table["данные"].tolist() == ["все → последние 4", "—"]
    assert table["расписание"].tolist() == ["—", "каждые 4 нед. → по тревоге"]
    assert table["Δ переобучений"].tolist() == [0, -11]
    assert table["Δ ₽ на заказ после смены"].tolist() == pytest.approx([-5.0, 9.0])
    assert table["шаг"].iloc[0] == "по расписанию → скользящее окно"


def test_detection_week_finds_a_rise_in_errors():
    import numpy as np

    rng = np.random.default_rng(0)
    weeks = [(rng.random(500) < (0.2 if w < 5 else 0.45)).astype(float) for w in range(12)]
    week = detection_week(weeks, delta=0.02, threshold=40.0)
    assert 5 <= week <= 7
    assert detection_week(weeks[:5], delta=0.02, threshold=40.0) == -1


def weekly(values, start=0):
    return pd.Series(values, index=range(start, start + len(values)), dtype=float)


def test_first_quality_alarm_finds_the_first_week_outside_the_limits():
    # limit = 3 * sqrt(0.25 * 0.75 / 1200) = 0.0375 around the baseline 0.2 (weeks 0-3)
    series = weekly([0.2, 0.2, 0.2, 0.2, 0.21, 0.3, 0.2, 0.25, 0.3])
    alarm = first_quality_alarm(
        series, change_week=6, share=0.25, orders_per_week=1200, baseline_weeks=range(0, 4)
    )
    assert alarm.false_alarms == 1  # week 5, before the change
    assert alarm.first_week == 7  # week 6 is inside the limits
    assert alarm.limit == pytest.approx(3 * np.sqrt(0.25 * 0.75 / 1200))
    assert alarm.mean_shift == pytest.approx(np.mean([0.2, 0.25, 0.3]) - 0.2)
    quiet = first_quality_alarm(series[:7], 6, 0.25, 1200, baseline_weeks=range(0, 4))
    assert quiet.first_week is None


def test_first_quality_alarm_counts_drops_too():
    series = weekly([0.5, 0.5, 0.5, 0.5, 0.3])
    alarm = first_quality_alarm(series, 4, 0.5, 1000, baseline_weeks=range(0, 4))
    assert alarm.first_week == 4


@pytest.mark.parametrize("share", [0.0, 1.0, 25.0, -0.1, float("nan")])
def test_first_quality_alarm_needs_a_share_between_0_and_1(share):
    with pytest.raises(ValueError, match="share"):
        first_quality_alarm(weekly([0.2] * 8), 6, share, 1000, baseline_weeks=range(4))


@pytest.mark.parametrize("orders", [0, -5])
def test_first_quality_alarm_needs_orders(orders):
    with pytest.raises(ValueError, match="orders_per_week"):
        first_quality_alarm(weekly([0.2] * 8), 6, 0.25, orders, baseline_weeks=range(4))


def test_quality_alarm_table_adds_label_delay():
    quality = pd.DataFrame({"a": weekly([0.2] * 6 + [0.4] * 4), "b": weekly([0.2] * 10)})
    table = quality_alarm_table(
        quality, {"a": 0.25, "b": 0.25}, 6, 1000, label_delay_weeks=2, baseline_weeks=range(4)
    ).set_index("метрика")
    assert table.loc["a", "первая неделя за порогом"] == 6
    assert table.loc["a", "метки известны в неделю"] == 8
    assert table.loc["a", "задержка, нед."] == 2
    assert pd.isna(table.loc["b", "первая неделя за порогом"])
    # the shift to find is shown next to the limit: 0.2 above the baseline vs 3 sigma
    assert table.loc["a", "сдвиг после смены"] == pytest.approx(0.2)
    assert table.loc["b", "сдвиг после смены"] == pytest.approx(0.0)
    assert table.loc["a", "порог ±3σ"] == pytest.approx(3 * np.sqrt(0.25 * 0.75 / 1000))
    assert (table["ложных тревог до смены"] == 0).all()
