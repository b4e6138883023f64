"""Scenarios really change what they claim to change, deterministically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_course.config import FEATURES, ID_COLUMN, TARGET, TIME_COLUMN
from mlops_course.scenario.generator import COLUMNS, DISTRICTS, frame_hash, generate_orders
from mlops_course.scenario.problems import (
    CONCEPT_DRIFT,
    DATA_DRIFT,
    NEW_DISTRICT,
    QUALITY,
    SCENARIOS,
    STREAM_START,
    Event,
    as_events,
    labels_available,
    make_batch,
    scenarios_table,
    stream,
)

N = 20_000
SEED = 7


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return make_batch(N, SEED).frame


def drifted(name: str, strength: float = 1.0) -> pd.DataFrame:
    return make_batch(N, SEED, [name], strength).frame


# --- The registry ------------------------------------------------------------------


def test_registry_kinds_and_russian_descriptions():
    table = scenarios_table()
    assert list(table["scenario"]) == list(SCENARIOS)
    assert set(table["kind"]) == {DATA_DRIFT, CONCEPT_DRIFT, QUALITY}
    for description in table["description"]:
        assert any("а" <= ch <= "я" for ch in description.lower())
    for scenario in SCENARIOS.values():
        assert set(scenario.columns) <= set(COLUMNS)


def test_clean_batch_is_the_generator_output(clean):
    assert frame_hash(clean) == frame_hash(generate_orders(N, SEED))


def test_unknown_scenario_and_bad_strength_are_rejected():
    with pytest.raises(ValueError, match="Неизвестные сценарии"):
        make_batch(10, SEED, ["earthquake"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_batch(10, SEED, ["winter"], strength=1.5)


# --- Data drift: P(X) moves, labels follow the ground truth -------------------------


def test_winter_cools_down_and_brings_snow(clean):
    temperatures = [drifted("winter", s)["temperature_c"].mean() for s in (0.25, 0.5, 1.0)]
    assert clean["temperature_c"].mean() > temperatures[0] > temperatures[1] > temperatures[2]
    assert clean["temperature_c"].mean() - temperatures[2] > 15
    winter = drifted("winter")
    assert (winter["weather"] == "snow").mean() > 0.3 > (clean["weather"] == "snow").mean()
    # Snow makes orders late in the ground truth, so the label rate follows.
    assert winter[TARGET].mean() > clean[TARGET].mean()


def test_new_district_brings_an_unseen_category(clean):
    assert set(clean["district"]) == set(DISTRICTS)
    share = (drifted("new_district")["district"] == NEW_DISTRICT).mean()
    half = (drifted("new_district", 0.5)["district"] == NEW_DISTRICT).mean()
    assert 0.2 < share < 0.3
    assert 0 < half < share
    assert NEW_DISTRICT not in DISTRICTS


def test_peak_load_grows_courier_load(clean):
    grown = drifted("peak_load")
    assert grown["courier_load"].mean() > 1.7 * clean["courier_load"].mean()
    assert grown[TARGET].mean() > clean[TARGET].mean()


def test_marketing_campaign_is_harmless_drift(clean):
    campaign = drifted("marketing_campaign")
    assert campaign["order_value"].median() > 1.7 * clean["order_value"].median()
    # Order value has no effect on lateness: every other column, labels included, is equal.
    others = [c for c in COLUMNS if c != "order_value"]
    pd.testing.assert_frame_equal(campaign[others], clean[others])


def test_strength_zero_is_no_drift(clean):
    for name in SCENARIOS:
        batch = make_batch(N, SEED, [name], strength=0.0)
        assert frame_hash(batch.frame) == frame_hash(clean), name
        assert batch.meta["scenarios"] == [] and batch.meta["kinds"] == []


# --- Concept drift: P(y | X) moves, P(X) does not ------------------------------------


def late_rate_gap(frame: pd.DataFrame, column: str) -> float:
    """Late rate above the column's median minus below it: the strength of the relation."""
    high = frame[column] > frame[column].median()
    return frame.loc[high, TARGET].mean() - frame.loc[~high, TARGET].mean()


def test_routing_change_keeps_features_and_changes_the_relation(clean):
    changed = drifted("routing_change")
    pd.testing.assert_frame_equal(
        changed[[ID_COLUMN, TIME_COLUMN, *FEATURES]], clean.drop(columns=TARGET)
    )
    assert (changed[TARGET] != clean[TARGET]).mean() > 0.05
    # Distance stops mattering, courier load matters more.
    assert late_rate_gap(changed, "distance_km") < 0.5 * late_rate_gap(clean, "distance_km")
    assert late_rate_gap(changed, "courier_load") > late_rate_gap(clean, "courier_load")


# --- Quality incidents ---------------------------------------------------------------


def test_missing_values_blank_sensor_columns(clean):
    broken = make_batch(N, SEED, ["missing_values"], strength=0.5)
    for column in SCENARIOS["missing_values"].columns:
        assert broken.frame[column].isna().mean() == pytest.approx(0.15, abs=1e-3)
    untouched = [c for c in COLUMNS if c not in SCENARIOS["missing_values"].columns]
    assert not broken.frame[untouched].isna().any().any()
    assert broken.meta["injections"][0]["rows"] == round(0.15 * N)


def test_distance_in_metres_multiplies_by_1000(clean):
    broken = make_batch(N, SEED, ["distance_in_metres"], strength=0.5).frame
    scaled = ~np.isclose(broken["distance_km"], clean["distance_km"])
    assert scaled.mean() == pytest.approx(0.5, abs=1e-3)
    np.testing.assert_allclose(broken["distance_km"][scaled], clean["distance_km"][scaled] * 1000)


def test_structural_incidents():
    small = make_batch(100, SEED).frame
    renamed = make_batch(100, SEED, ["renamed_column"]).frame
    assert "prep_time_min" not in renamed and "prep_time" in renamed
    dropped = make_batch(100, SEED, ["dropped_column"]).frame
    assert list(dropped.columns) == [c for c in COLUMNS if c != "weather"]
    typed = make_batch(100, SEED, ["wrong_dtype"]).frame
    assert typed["order_value"].map(type).eq(str).all()
    assert typed["order_value"].astype(float).equals(small["order_value"])
    assert renamed["prep_time"].equals(small["prep_time_min"])


def test_meta_records_exactly_what_was_injected():
    batch = make_batch(
        500, SEED, ["missing_values", "winter"], {"winter": 0.3, "missing_values": 1}
    )
    meta = batch.meta
    assert meta["scenarios"] == ["winter", "missing_values"]  # registry order
    assert meta["kinds"] == [DATA_DRIFT, QUALITY]
    assert meta["strength"] == {"winter": 0.3, "missing_values": 1.0}
    assert meta["affected_columns"] == ["distance_km", "temperature_c", "weather"]
    assert meta["n_rows"] == 500 and meta["week"] is None


# --- Determinism ---------------------------------------------------------------------


def test_same_arguments_same_frame_different_seed_differs():
    everything = list(SCENARIOS)
    first = make_batch(2000, SEED, everything, 0.7)
    second = make_batch(2000, SEED, everything, 0.7)
    assert frame_hash(first.frame) == frame_hash(second.frame)
    assert first.meta == second.meta
    assert frame_hash(make_batch(2000, SEED + 1, everything, 0.7).frame) != frame_hash(first.frame)


def test_scenario_order_does_not_matter():
    a = make_batch(1000, SEED, ["dropped_column", "winter", "missing_values"])
    b = make_batch(1000, SEED, ["missing_values", "dropped_column", "winter"])
    assert frame_hash(a.frame) == frame_hash(b.frame)


# --- Streams -------------------------------------------------------------------------


def test_stream_weeks_ids_and_label_delay():
    batches = list(stream(weeks=6, orders_per_week=300, seed=SEED, label_delay_weeks=2))
    start = pd.Timestamp(STREAM_START)
    for week, batch in enumerate(batches):
        times = batch.frame[TIME_COLUMN]
        assert times.is_monotonic_increasing
        assert times.min() >= start + pd.Timedelta(weeks=week)
        assert times.max() < start + pd.Timedelta(weeks=week + 1)
        assert batch.week == week and batch.labels_available_week == week + 2
        assert TARGET not in batch.without_labels()
    ids = pd.concat([b.frame[ID_COLUMN] for b in batches])
    assert ids.is_unique and ids.is_monotonic_increasing
    # Weeks are different samples, not one sample repeated.
    assert frame_hash(batches[0].frame[FEATURES]) != frame_hash(batches[1].frame[FEATURES])

    assert labels_available(batches, at_week=1).empty
    known = labels_available(batches, at_week=4)
    assert len(known) == 3 * 300  # weeks 0, 1, 2
    assert set(known[ID_COLUMN]) == set(pd.concat([b.frame for b in batches[:3]])[ID_COLUMN])


def test_stream_events_start_end_and_ramp():
    events = [
        (2, "winter"),
        Event("missing_values", start_week=3, end_week=4),
        Event("routing_change", start_week=1, ramp_weeks=4, strength=0.8),
    ]
    batches = list(stream(weeks=6, orders_per_week=200, seed=SEED, events=events))
    assert [b.meta["scenarios"].count("winter") for b in batches] == [0, 0, 1, 1, 1, 1]
    assert ["missing_values" in b.meta["scenarios"] for b in batches] == [
        False, False, False, True, False, False,
    ]  # fmt: skip
    ramp = [b.meta["strength"].get("routing_change", 0.0) for b in batches]
    assert ramp == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 0.8])
    assert batches[4].meta["injections"][0]["since_week"] == 2


def test_stream_is_deterministic_and_concept_drift_keeps_features():
    plain = list(stream(weeks=4, orders_per_week=500, seed=SEED))
    again = list(stream(weeks=4, orders_per_week=500, seed=SEED))
    drift = list(stream(weeks=4, orders_per_week=500, seed=SEED, events={2: ["routing_change"]}))
    for a, b in zip(plain, again, strict=True):
        assert frame_hash(a.frame) == frame_hash(b.frame)
    for a, b in zip(plain, drift, strict=True):
        pd.testing.assert_frame_equal(a.without_labels(), b.without_labels())
    assert drift[2].kinds == [CONCEPT_DRIFT] and plain[2].kinds == []
    assert not plain[3].frame[TARGET].equals(drift[3].frame[TARGET])


def test_event_spellings_agree():
    assert as_events({2: ["winter", "peak_load"]}) == as_events([(2, "winter"), (2, "peak_load")])
    # One scenario per week needs no list.
    assert as_events({3: "winter"}) == as_events({3: ["winter"]}) == [Event("winter", 3)]
    with pytest.raises(ValueError, match="Неизвестные сценарии"):
        next(stream(weeks=2, events={0: ["typo"]}))


@pytest.mark.parametrize(
    "events",
    [[("winter", 1)], [("winter",)], ["winter"], {2: [5]}, {"весной": ["winter"]}],
)
def test_malformed_events_name_the_expected_shape(events):
    with pytest.raises(ValueError, match=r"\(неделя, сценарий\)"):
        as_events(events)


def test_strength_mapping_must_cover_every_chosen_scenario():
    with pytest.raises(ValueError, match="peak_load"):
        make_batch(10, SEED, ["winter", "peak_load"], strength={"winter": 0.5})


def test_labels_available_refuses_weeks_with_different_schemas():
    events = [Event("renamed_column", start_week=1, end_week=2)]
    batches = list(stream(weeks=4, orders_per_week=50, seed=SEED, events=events))
    assert len(labels_available(batches, at_week=2)) == 50  # only week 0: one schema
    with pytest.raises(ValueError, match="prep_time"):
        labels_available(batches, at_week=3)  # weeks 0 and 1: prep_time_min vs prep_time


def test_no_labels_yet_is_an_empty_frame_with_the_order_schema():
    batches = list(stream(weeks=2, orders_per_week=50, seed=SEED))
    empty = labels_available(batches, at_week=0)
    assert empty.empty
    pd.testing.assert_series_equal(empty.dtypes, batches[0].frame.dtypes)


def test_all_or_nothing_incidents_ignore_strength():
    for name in ("wrong_dtype", "renamed_column", "dropped_column"):
        weak, full = make_batch(200, SEED, [name], 0.1), make_batch(200, SEED, [name], 1.0)
        assert frame_hash(weak.frame) == frame_hash(full.frame), name
        assert "всё или ничего" in SCENARIOS[name].description


def test_same_seed_row_pairing_is_as_documented(clean):
    # data.generate_orders documents which scenarios keep rows paired with the clean batch.
    changed_columns = {
        "winter": {"weather", "temperature_c", TARGET},
        "marketing_campaign": {"order_value"},
        "routing_change": {TARGET},
        "new_district": {"district", TARGET},
        "peak_load": {"courier_load", "order_value", "district", TARGET},
    }
    for name, expected in changed_columns.items():
        frame = drifted(name, 0.5)
        assert {c for c in COLUMNS if not frame[c].equals(clean[c])} == expected, name
    # A new district redraws most rows' district, not only those that move to it.
    new = drifted("new_district", 0.5)
    moved = (new["district"] != clean["district"]).mean()
    assert moved > 2 * (new["district"] == NEW_DISTRICT).mean()
