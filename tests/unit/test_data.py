"""The order generator: its documented formula, its time window, and frame_hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_course.config import TIME_COLUMN
from mlops_course.scenario.generator import (
    BASE_TRUTH,
    GroundTruth,
    frame_hash,
    generate_orders,
    late_probability,
    load_orders,
    save_orders,
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


# --- late_probability --------------------------------------------------------------


def test_late_probability_follows_the_documented_logit():
    # Distinct weights, so a term with the wrong weight or sign cannot go unnoticed.
    truth = GroundTruth(
        intercept=-1.0,
        w_distance=0.1,
        w_prep=0.02,
        w_load=0.3,
        load_capacity=2,
        w_overload=0.9,
        w_peak_overload=0.35,
        w_peak=0.5,
        weather_effect={"clear": 0.0, "snow": 0.7},
        w_snow_distance=0.15,
        w_frost=0.08,
        district_effect={"center": 0.25},
        unknown_district_effect=-0.4,
    )
    features = pd.DataFrame(
        {
            "distance_km": [2.0, 5.0, 1.0, 3.0],
            "prep_time_min": [15.0, 25.0, 10.0, 15.0],
            "courier_load": [0, 3, 1, 4],  # capacity 2: one and two orders of overload
            "hour": [3, 19, 12, 3],  # 19 and 12 are peak hours
            "temperature_c": [5.0, -4.0, 0.0, -2.5],  # only frost (below 0 °C) counts
            "weather": ["clear", "snow", "hail", "clear"],  # "hail" has no effect
            "district": ["center", "center", "riverside", "center"],  # "riverside": unknown
        }
    )
    expected = [
        sigmoid(-1.0 + 0.1 * 2 + 0.02 * 0 + 0.3 * 0 + 0 + 0 + 0.0 + 0 + 0 + 0.25),
        sigmoid(
            -1.0
            + 0.1 * 5
            + 0.02 * 10
            + 0.3 * 3
            + (0.9 + 0.35) * 1
            + 0.5
            + 0.7
            + 0.15 * 5
            + 0.08 * 4
            + 0.25
        ),
        sigmoid(-1.0 + 0.1 * 1 + 0.02 * -5 + 0.3 * 1 + 0 + 0.5 + 0.0 + 0 + 0 - 0.4),
        sigmoid(-1.0 + 0.1 * 3 + 0 + 0.3 * 4 + 0.9 * 2 + 0 + 0.0 + 0 + 0.08 * 2.5 + 0.25),
    ]
    assert late_probability(features, truth) == pytest.approx(expected)


def test_labels_follow_late_probability():
    orders = generate_orders(20_000, seed=3)
    p = late_probability(orders, BASE_TRUTH)
    # Bernoulli labels: the late share matches the mean probability within 4 sigma.
    sigma = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(orders["is_late"].mean() - p.mean()) < 4 * sigma


# --- The time window ---------------------------------------------------------------


def test_hour_and_weekday_agree_with_the_timestamp():
    orders = generate_orders(2000, seed=1, start=pd.Timestamp("2025-03-05"), days=3)
    assert (orders["hour"] == orders[TIME_COLUMN].dt.hour).all()
    assert (orders["weekday"] == orders[TIME_COLUMN].dt.weekday).all()


def test_start_with_a_time_of_day_is_rejected():
    # Hours come from the daily profile, so a start at 18:00 would make them disagree
    # with the timestamp.
    with pytest.raises(ValueError, match="без времени"):
        generate_orders(100, seed=1, start="2025-03-03 18:00")


def test_orders_stay_inside_the_window():
    start = pd.Timestamp("2025-03-03")
    orders = generate_orders(3000, seed=2, start=start, days=2)
    assert orders[TIME_COLUMN].min() >= start
    assert orders[TIME_COLUMN].max() < start + pd.Timedelta(days=2)
    assert orders[TIME_COLUMN].dt.day.nunique() == 2


@pytest.mark.parametrize("days", [0.5, 1.5, 0, -1])
def test_days_must_be_a_whole_positive_number(days):
    with pytest.raises(ValueError, match="целым числом дней"):
        generate_orders(100, seed=5, days=days)


def test_whole_float_days_equal_int_days():
    assert frame_hash(generate_orders(500, seed=4, days=7.0)) == frame_hash(
        generate_orders(500, seed=4, days=7)
    )


# --- frame_hash --------------------------------------------------------------------


def test_frame_hash_changes_with_one_value_and_with_a_column_name():
    orders = generate_orders(300, seed=1)
    changed = orders.copy()
    changed.loc[150, "distance_km"] += 0.01
    renamed = orders.rename(columns={"prep_time_min": "prep_time"})
    hashes = {frame_hash(orders), frame_hash(changed), frame_hash(renamed)}
    assert len(hashes) == 3
    assert frame_hash(orders) == frame_hash(orders.copy())


def test_frame_hash_survives_a_csv_round_trip(tmp_path):
    orders = generate_orders(300, seed=1)
    loaded = load_orders(save_orders(orders, tmp_path / "orders.csv"))
    assert frame_hash(loaded) == frame_hash(orders)
    # And the bytes are deterministic: the same frame saves to the same file.
    again = save_orders(generate_orders(300, seed=1), tmp_path / "again.csv")
    assert again.read_bytes() == (tmp_path / "orders.csv").read_bytes()
