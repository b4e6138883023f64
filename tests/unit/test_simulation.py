"""The production-year simulator: the year, the policies, the week loop and the outcomes.

Most tests play a short year (12 weeks of 300 orders, distances in metres in week 4), where
each property can already be seen; the full year is measured in benchmarks/simulation.py.
"""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mlops_course.model.evaluate import CostTable, business_cost, late_scores, score_metrics
from mlops_course.scenario.problems import STREAM_START, Event
from mlops_course.simulation import oracle, outcomes
from mlops_course.simulation import year as year_module
from mlops_course.simulation.policies import (
    LEVEL_0,
    LEVEL_1,
    LEVEL_2,
    LEVELS,
    NEVER,
    GateDecision,
    MetricGate,
    ModelReport,
    Observation,
    OperatingPolicy,
    RetrainTrigger,
    delay_weeks,
    deployment_week,
    describe_policy,
    training_week,
)
from mlops_course.simulation.quality import log_loss, metric_value
from mlops_course.simulation.shelf import ModelShelf, ShelvedModel
from mlops_course.simulation.simulator import (
    compare_levels,
    level_ranges,
    level_table,
    simulate_year,
)
from mlops_course.simulation.year import YEAR_EVENTS, YearEvent, make_year, week_start

INCIDENT = 4
METRES = (YearEvent("metres", "Метры", Event("distance_in_metres", INCIDENT, INCIDENT + 1)),)
SHORT = {"weeks": 12, "orders_per_week": 300, "seed": 3, "events": METRES}
SMALL = {**SHORT, "weeks": 8, "orders_per_week": 200}  # where only the bookkeeping matters
# Retrain at the end of week 7 on the last 4 labelled weeks (2-5): the metres week is in the
# fitted part, the validation quarter (week 5) is clean.
EVERY_8 = RetrainTrigger(every_weeks=8)
UNCHECKED = OperatingPolicy("unchecked", trigger=EVERY_8)


@pytest.fixture(scope="module")
def levels():
    return {name: simulate_year(policy, **SHORT) for name, policy in LEVELS.items()}


# --- The year ------------------------------------------------------------------------


def test_the_year_starts_on_stream_start_with_labelled_history():
    year = make_year(**SHORT)
    assert [b.week for b in year.history] == [-4, -3, -2, -1]
    assert [b.week for b in year.batches] == list(range(12))
    assert year.batches[0].frame["timestamp"].min() >= pd.Timestamp(STREAM_START)
    assert year.history[-1].frame["timestamp"].max() < pd.Timestamp(STREAM_START)
    # the whole history is known at launch; a production week's labels two weeks later
    assert year.labelled_weeks(0) == [-4, -3, -2, -1]
    assert year.labelled_weeks(5) == [-4, -3, -2, -1, 0, 1, 2, 3]
    ids = np.concatenate([year.batch(w).frame["order_id"] for w in range(-4, 12)])
    assert len(np.unique(ids)) == len(ids)


def test_the_clean_copy_differs_only_by_the_incident():
    year = make_year(**SHORT)
    assert set(year.clean) == {INCIDENT}
    broken, clean = year.batches[INCIDENT].frame, year.clean_frame(INCIDENT)
    assert np.allclose(broken["distance_km"], clean["distance_km"] * 1000)
    pd.testing.assert_frame_equal(
        broken.drop(columns="distance_km"), clean.drop(columns="distance_km")
    )
    assert year.clean_frame(INCIDENT + 1) is year.batches[INCIDENT + 1].frame


def test_the_events_fall_in_their_season():
    table = make_year(weeks=1, orders_per_week=50).events_table().set_index("сценарий")
    month = pd.to_datetime(table["дата начала"]).dt.month
    assert month["new_district"] in (3, 4, 5)  # spring
    assert month["routing_change"] in (6, 7, 8)  # summer
    assert month["peak_load"] == month["winter"] == 11
    assert (pd.to_datetime(table["дата начала"]).dt.dayofweek == 0).all()  # weeks start on Monday
    metres = next(e for e in YEAR_EVENTS if e.scenario == "distance_in_metres")
    assert metres.event.end_week == metres.start_week + 1  # a one-week incident
    assert table.loc["distance_in_metres", "до недели"] == metres.start_week
    assert week_start(18) == pd.Timestamp("2025-07-07")


# --- Determinism and fairness ---------------------------------------------------------


def test_same_seed_same_tables_other_seed_other_tables():
    first = simulate_year(LEVEL_1, **SMALL)
    year_module._make_year.cache_clear()  # regenerate the year and the oracle from scratch
    oracle._oracle.cache_clear()
    again = simulate_year(LEVEL_1, **SMALL)
    for table in ("weekly", "events", "deployments", "alarms"):
        pd.testing.assert_frame_equal(getattr(first, table), getattr(again, table))
    other = simulate_year(LEVEL_1, **{**SMALL, "seed": 4})
    assert not np.allclose(first.weekly["log_loss"], other.weekly["log_loss"])


def test_levels_meet_the_same_batches_with_the_same_first_model(levels):
    late = {name: r.weekly["late_rate"].tolist() for name, r in levels.items()}
    assert late["level_0"] == late["level_1"] == late["level_2"]
    first = [r.shelf.versions[1] for r in levels.values()]
    frame = make_year(**SHORT).batches[0].frame
    scores = [late_scores(model.model, frame) for model in first]
    assert all(np.array_equal(scores[0], s) for s in scores[1:])
    assert len({model.threshold for model in first}) == 1
    # week 0 is served by that model everywhere: the same quality before policies diverge
    assert len({r.weekly.loc[0, "cost_rub"] for r in levels.values()}) == 1


def test_week_quality_is_priced_on_true_labels_at_the_tuned_threshold(levels):
    result = levels["level_0"]
    model, frame = result.shelf.versions[1], make_year(**SHORT).batches[2].frame
    y, scores = frame["is_late"].to_numpy(), late_scores(model.model, frame)
    row = result.weekly.loc[2]
    assert row["cost_rub"] == pytest.approx(business_cost(y, scores >= model.threshold))
    assert row["log_loss"] == pytest.approx(score_metrics(y, scores)["log_loss"])
    assert model.threshold != 0.5


def test_fast_metrics_match_score_metrics_even_when_saturated():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    for p in (rng.random(500), np.where(rng.random(500) < 0.5, 0.0, 1.0)):
        assert log_loss(y, p) == pytest.approx(score_metrics(y, p)["log_loss"], rel=1e-12)
    p, costs = rng.random(500), CostTable()
    for metric in ("cost_per_order", "roc_auc", "accuracy", "f1"):
        expected = score_metrics(y, p, 0.3, costs)[metric]
        assert metric_value(metric, y, p, 0.3, costs) == pytest.approx(expected)


# --- The three levels on the short year -------------------------------------------------


def test_level_0_keeps_its_first_model_and_serves_the_bad_batch(levels):
    result = levels["level_0"]
    assert not result.weekly["retrained"].any()
    assert (result.weekly["model_version"] == 1).all()
    assert result.weekly.loc[INCIDENT, "bad_batch_served"]
    assert result.weekly["bad_batch_served"].sum() == 1
    assert result.alarms.empty
    event = result.events.set_index("key").loc["metres"]
    assert event["bad_batch_reached_production"] and math.isnan(event["time_to_detect_weeks"])
    # the model believes every order in metres will be late
    assert result.weekly.loc[INCIDENT, "log_loss"] > 10 * result.weekly["log_loss"].median()


def test_a_validating_policy_refuses_the_metres_batch(levels):
    result = levels["level_1"]
    week = result.weekly.loc[INCIDENT]
    assert week["fallback"] and not week["bad_batch_served"]
    alarm = result.alarms[result.alarms["kind"] == outcomes.VALIDATION]
    assert alarm["week"].tolist() == [INCIDENT] and alarm["columns"].tolist() == [("distance_km",)]
    # the fallback flags nobody (cheaper at a ~15 % late rate): every late order is missed
    frame = make_year(**SHORT).batches[INCIDENT].frame
    assert week["cost_rub"] == frame["is_late"].sum() * CostTable().missed_late
    later = [m for m in result.shelf.versions.values() if m.trained_week >= INCIDENT + 2]
    assert later, "a model was trained after the incident's labels arrived"
    assert all(INCIDENT not in m.trained_on and not m.bad_weeks for m in later)
    event = result.events.set_index("key").loc["metres"]
    assert not event["bad_batch_reached_production"] and event["time_to_detect_weeks"] == 0


# --- Gate, rollback, shelf ------------------------------------------------------------


def report(version, log_loss_value, data_valid=True, roc_auc=0.8):
    return ModelReport(version, {"log_loss": log_loss_value, "roc_auc": roc_auc}, data_valid)


def test_metric_gate_knows_the_direction_and_refuses_unvalidated_data():
    gate = MetricGate("log_loss", margin=0.01)
    assert gate(report(2, 0.30), report(1, 0.32)).passed
    assert not gate(report(2, 0.315), report(1, 0.32)).passed  # better, but not by the margin
    assert not gate(report(2, 0.40), report(1, 0.32)).passed
    assert not gate(report(2, 0.10, data_valid=False), report(1, 0.32)).passed
    auc_gate = MetricGate("roc_auc")
    assert auc_gate(report(2, 0.3, roc_auc=0.85), report(1, 0.3, roc_auc=0.80)).passed
    assert not auc_gate(report(2, 0.3, roc_auc=0.75), report(1, 0.3, roc_auc=0.80)).passed


def test_the_gate_blocks_a_model_trained_on_the_metres_batch():
    unchecked = simulate_year(UNCHECKED, **SHORT)
    bad = unchecked.shelf.versions[2]
    assert bad.bad_weeks == (INCIDENT,)
    deployed = unchecked.deployments.set_index("version").loc[2]
    assert deployed["worse"] and (unchecked.weekly.loc[8:, "model_version"] == 2).all()

    gated = simulate_year(replace(UNCHECKED, gate=MetricGate()), **SHORT)
    assert gated.shelf.versions[2].bad_weeks == (INCIDENT,)  # the same model was trained ...
    assert (gated.weekly["model_version"] == 1).all()  # ... and never served
    assert "v2 отклонена" in gated.weekly.loc[7, "gate"]


def test_rollback_gives_production_back_to_the_previous_champion():
    policy = replace(UNCHECKED, monitor=True, auto_rollback=True)
    result = simulate_year(policy, **SHORT)
    rollback = result.deployments[result.deployments["kind"] == "rollback"]
    # v2 serves from week 8; its labels arrive in week 10, the rollback serves v1 from 11
    assert rollback[["week", "version", "replaced"]].values.tolist() == [[11, 1, 2]]
    assert result.weekly.set_index("week")["model_version"].loc[8:].tolist() == [2, 2, 2, 1]
    assert result.shelf.aliases == {"champion": 1} and result.shelf.rolled_back == {2}
    assert (result.alarms["kind"] == outcomes.ROLLBACK).sum() == 1


def shelved(version):
    empty = pd.DataFrame()
    return ShelvedModel(version, None, 0.5, (), -1, None, {}, 0.1, empty, empty)


def test_shelf_promote_and_rollback_move_the_aliases():
    shelf = ModelShelf()
    for version in (1, 2, 3):
        shelf.add(shelved(version))
    shelf.promote(1)
    assert shelf.aliases == {"champion": 1}
    shelf.set_alias("challenger", 2)
    shelf.promote(2)
    assert shelf.aliases == {"champion": 2, "previous_champion": 1}
    assert shelf.rollback() == 1
    assert shelf.aliases == {"champion": 1} and shelf.rolled_back == {2}
    with pytest.raises(LookupError, match="нет предыдущего чемпиона"):
        shelf.rollback()
    with pytest.raises(ValueError, match="ожидалась v4"):
        shelf.add(shelved(7))


# --- Triggers and delays --------------------------------------------------------------


def test_a_trigger_that_never_fires_is_no_retraining():
    seen = []

    def quiet(observation: Observation) -> bool:
        seen.append(observation.week)
        return False

    silent = simulate_year(replace(LEVEL_2, trigger=quiet), **SHORT)
    never = simulate_year(replace(LEVEL_2, trigger=NEVER), **SHORT)
    assert seen == list(range(SHORT["weeks"]))
    assert not silent.weekly["retrained"].any() and len(silent.deployments) == 1
    pd.testing.assert_frame_equal(silent.weekly, never.weekly)
    # the monitoring still ran: the incident raised alarms
    assert (silent.alarms["week"] == INCIDENT).any()


def test_days_become_weeks_summed_before_rounding():
    assert [delay_weeks(d) for d in (0, 1, 6.5, 7, 7.5, 14, 15)] == [0, 1, 1, 1, 2, 2, 3]
    assert deployment_week(LEVEL_0, 12) == 16  # 7 + 10 days: three weeks after week 12
    assert deployment_week(LEVEL_1, 12) == 14 and deployment_week(LEVEL_2, 12) == 13
    two_waits = OperatingPolicy("p", approval_days=3, deploy_days=3)
    assert deployment_week(two_waits, 0) == 2  # 6 days in all: one week, not two
    assert training_week(LEVEL_0, 12) == 13 and training_week(LEVEL_1, 12) == 12


def test_a_delay_in_days_moves_the_deployment_to_the_right_week():
    policy = OperatingPolicy(
        "p", trigger=RetrainTrigger(every_weeks=4), retrain_days=7, deploy_days=2
    )
    result = simulate_year(policy, **SHORT)
    # triggers at the end of week 3: trained in week 4, 9 days -> serves from week 3 + 1 + 2
    assert result.weekly.loc[result.weekly["retrained"], "week"].tolist()[0] == 4
    versions = result.weekly.set_index("week")["model_version"]
    assert versions.loc[:5].eq(1).all() and versions.loc[6] == 2
    assert result.deployments.loc[1, ["week", "decided_week"]].tolist() == [6, 3]


def test_retrain_trigger_reads_the_observation():
    def observation(week, drift=False, degraded=False):
        return Observation(
            week, 1, week, True, drift, ("weather",), "log_loss", 0.4, 0.3, degraded, ()
        )

    trigger = RetrainTrigger(every_weeks=4, on_drift=True, on_degradation=True)
    assert trigger(observation(2)) == []
    assert trigger(observation(3)) == ["по расписанию (каждые 4 нед.)"]
    assert trigger(observation(2, drift=True)) == ["дрейф данных: weather"]
    assert "0.300 → 0.400" in trigger(observation(2, degraded=True))[0]
    assert RetrainTrigger(every_weeks=4)(observation(2, drift=True, degraded=True)) == []


# --- Detect and recover ---------------------------------------------------------------


def alarms(*rows):
    return pd.DataFrame(rows, columns=outcomes.ALARM_COLUMNS)


ROUTING = YearEvent("routing", "Маршрутизация", Event("routing_change", 3))
WINTER = YearEvent("winter", "Зима", Event("winter", 3, ramp_weeks=2))
INCIDENT_EVENT = YearEvent("metres", "Метры", Event("distance_in_metres", 3, 4))


def test_detect_counts_only_alarms_the_event_could_have_caused():
    seen = alarms(
        (2, outcomes.DEGRADATION, (0,), (), "before the start"),
        (4, outcomes.DRIFT, (4,), ("distance_km",), "drift: P(X) is unchanged by routing"),
        (4, outcomes.DEGRADATION, (2,), (), "labels of a week before the change"),
        (5, outcomes.DEGRADATION, (3,), (), "labels of the first changed week"),
    )
    assert outcomes.time_to_detect(seen, ROUTING) == 2
    assert math.isnan(outcomes.time_to_detect(seen.iloc[:3], ROUTING))
    weather = alarms(
        (6, outcomes.DRIFT, (6,), ("order_value",), "x"),
        (7, outcomes.DRIFT, (7,), ("weather",), "y"),
    )
    assert outcomes.time_to_detect(weather, WINTER) == 4
    # an incident's aftermath still counts (a model trained on it), later weeks do not
    after = outcomes.AFTERMATH_WEEKS
    late = alarms((4 + after - 1, outcomes.DEGRADATION, (4 + after - 1,), (), "z"))
    assert outcomes.time_to_detect(late, INCIDENT_EVENT) == after
    too_late = alarms((4 + after, outcomes.DEGRADATION, (4 + after,), (), "z"))
    assert math.isnan(outcomes.time_to_detect(too_late, INCIDENT_EVENT))


def test_recover_needs_the_gap_back_for_two_weeks_after_the_harm():
    gap = pd.Series([0.0, 0.0, 0.0, 0.10, 0.15, 0.01, 0.03, 0.0, 0.0, 0.0])
    assert outcomes.time_to_recover(gap, ROUTING, tolerance=0.02) == (4.0, True)  # week 7
    weeks, hurt = outcomes.time_to_recover(gap.iloc[:8], ROUTING, tolerance=0.02)
    assert math.isnan(weeks) and hurt  # week 7 alone is not a recovery
    calm = pd.Series([0.0, 0.03, 0.0, 0.01, 0.0, 0.0, 0.0, 0.05, 0.0, 0.0])  # harm outside onset
    assert outcomes.time_to_recover(calm, ROUTING, tolerance=0.02) == (0.0, False)
    assert list(outcomes.onset_weeks(WINTER)) == [3, 4, 5, 6, 7]  # ramp 2, then 4 at full
    assert list(outcomes.onset_weeks(INCIDENT_EVENT)) == [3]


def test_false_alarms_are_alarms_no_event_explains(levels):
    assert outcomes.is_false_alarm(
        alarms((5, outcomes.DRIFT, (5,), ("weekday",), "x")).iloc[0], [WINTER, ROUTING]
    )
    for explained in [
        (5, outcomes.DRIFT, (5,), ("weather",), "x"),
        (6, outcomes.DEGRADATION, (4,), (), "y"),
    ]:
        assert not outcomes.is_false_alarm(alarms(explained).iloc[0], [WINTER, ROUTING])
    flagged = levels["level_1"].alarms.set_index("week")
    assert not flagged.loc[INCIDENT, "false_alarm"].any()  # the validation alarm is explained


# --- Comparison tables ----------------------------------------------------------------


def test_compare_levels_one_row_per_seed_and_level_with_ranges():
    small = {k: v for k, v in SMALL.items() if k != "seed"}
    table = compare_levels(seeds=(3, 4), **small)
    assert table[["seed", "level"]].values.tolist() == [
        [s, level] for s in (3, 4) for level in ("level_0", "level_1", "level_2")
    ]
    one = simulate_year(LEVEL_0, **SMALL)
    row = table[(table["seed"] == 3) & (table["level"] == "level_0")].iloc[0]
    assert row["cost_rub"] == one.weekly["cost_rub"].sum()
    assert row["incidents_in_production"] >= 1 and math.isnan(row["detect_metres"])
    ranges = level_ranges(table)
    assert list(ranges.columns) == ["level_0", "level_1", "level_2"]
    assert ranges.loc["detect_metres", "level_0"] == "—"
    low, high = sorted(table.loc[table["level"] == "level_1", "retrains"])
    assert ranges.loc["retrains", "level_1"] == (f"{low}" if low == high else f"{low} – {high}")
    shown = level_table(ranges, METRES)
    assert "обнаружение: Метры, нед." in shown.index and "уровень 1" in shown.columns


def test_describe_policy_says_what_each_level_does():
    rows = {name: describe_policy(policy) for name, policy in LEVELS.items()}
    assert (
        rows["level_0"]["проверка данных"] == "нет" and rows["level_1"]["проверка данных"] == "да"
    )
    assert rows["level_1"]["автооткат"] == "нет" and rows["level_2"]["автооткат"] == "да"
    assert [rows[n]["от решения до production, нед."] for n in LEVELS] == ["4", "2", "1"]
    assert all(policy.waits for policy in LEVELS.values())


# --- Bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"retrain_days": -1}, "отрицательным"),
        ({"approval_days": float("nan")}, "число дней"),
        ({"validate_data": "да"}, "True или False"),
        ({"window_weeks": 0}, "window_weeks"),
        ({"metric": "logloss"}, "Метрика 'logloss'"),
        ({"trigger": "weekly"}, "trigger"),
        ({"gate": 5}, "gate"),
        ({"monitor": False, "auto_rollback": True}, "требует monitor"),
        ({"drift_alpha": 1.5}, "drift_alpha"),
        ({"tolerance": -0.1}, "tolerance"),
    ],
)
def test_bad_policy_fields_raise_in_russian(change, message):
    with pytest.raises(ValueError, match=message):
        replace(LEVEL_2, **change)


def test_bad_arguments_raise_in_russian():
    with pytest.raises(ValueError, match="Неизвестная политика 'level_3'"):
        simulate_year("level_3", **SHORT)
    with pytest.raises(ValueError, match="every_weeks"):
        RetrainTrigger(every_weeks=0)
    with pytest.raises(ValueError, match="отрицательным"):
        delay_weeks(-2)
    with pytest.raises(ValueError, match="weeks должно быть"):
        make_year(weeks=0)
    with pytest.raises(ValueError, match="Триггер вернул 3"):
        simulate_year(replace(LEVEL_1, trigger=lambda observation: 3), **SHORT)
    with pytest.raises(ValueError, match="Ворота вернули 'да'"):
        simulate_year(replace(UNCHECKED, gate=lambda challenger, champion: "да"), **SHORT)
    assert isinstance(MetricGate()(report(2, 0.2), report(1, 0.3)), GateDecision)


def test_a_service_that_cannot_read_the_batch_falls_back_and_is_noticed():
    renamed = (YearEvent("renamed", "Колонка", Event("renamed_column", INCIDENT, INCIDENT + 1)),)
    result = simulate_year(LEVEL_0, **{**SMALL, "events": renamed})
    week = result.weekly.loc[INCIDENT]
    assert week["fallback"] and not week["bad_batch_served"]
    assert result.alarms["kind"].tolist() == [outcomes.SERVICE_ERROR]  # a crash is loud
    assert result.events.loc[0, "time_to_detect_weeks"] == 0
