"""The order schema accepts clean batches and names every broken column."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_course.config import ID_COLUMN, TARGET
from mlops_course.model.validation import (
    VIOLATION_COLUMNS,
    DataValidationError,
    validate_orders,
)
from mlops_course.scenario.generator import load_orders, save_orders
from mlops_course.scenario.problems import NEW_DISTRICT, SCENARIOS, make_batch

N = 2000
SEED = 11


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return make_batch(N, SEED).frame


def test_clean_batch_passes(clean, tmp_path):
    result = validate_orders(clean)
    assert result.ok, result.summary()
    assert list(result.violations.columns) == VIOLATION_COLUMNS
    assert result.warnings.empty
    assert "✓" in str(result)
    # A batch that went through CSV (how batches travel in the pipeline) passes too.
    assert validate_orders(load_orders(save_orders(clean, tmp_path / "orders.csv"))).ok


@pytest.mark.parametrize(
    ("incident", "columns", "check"),
    [
        ("missing_values", {"temperature_c", "distance_km"}, "not_nullable"),
        ("distance_in_metres", {"distance_km"}, "in_range"),
        ("wrong_dtype", {"order_value"}, "dtype"),
        ("renamed_column", {"prep_time_min", "prep_time"}, "column_in_"),
        ("dropped_column", {"weather"}, "column_in_dataframe"),
    ],
)
def test_each_incident_is_caught_and_names_its_column(incident, columns, check):
    result = validate_orders(make_batch(N, SEED, [incident], strength=0.2).frame)
    assert not result.ok
    assert result.failed_columns == columns
    assert result.violations["check"].str.startswith(check).all()
    assert set(SCENARIOS[incident].columns) <= result.failed_columns
    for column in columns:
        assert column in result.summary()


def test_violation_rows_are_readable():
    result = validate_orders(make_batch(N, SEED, ["distance_in_metres"], strength=0.1).frame)
    row = result.violations.iloc[0]
    assert row["column"] == "distance_km"
    assert row["failing_count"] == round(0.1 * N)
    examples = row["examples"].split(", ")
    assert 1 <= len(examples) <= 3
    assert all(float(value) > 50 for value in examples)  # metres, not kilometres


def test_wrong_dtype_reports_the_type_not_a_crash():
    result = validate_orders(make_batch(N, SEED, ["wrong_dtype"]).frame)
    assert len(result.violations) == 1  # no follow-up noise from range checks on strings
    row = result.violations.iloc[0]
    assert "float64" in row["check"] and row["examples"].startswith("object")


def test_every_violation_is_listed_at_once():
    incidents = [s.name for s in SCENARIOS.values() if s.kind == "quality"]
    result = validate_orders(make_batch(N, SEED, incidents).frame)
    expected = {"temperature_c", "distance_km", "order_value", "prep_time_min", "prep_time"}
    assert result.failed_columns == expected | {"weather"}


@pytest.mark.parametrize(
    "scenario", ["winter", "peak_load", "marketing_campaign", "routing_change"]
)
def test_drift_is_not_a_data_error(scenario):
    result = validate_orders(make_batch(N, SEED, [scenario]).frame)
    assert result.ok and result.warnings.empty


def test_new_district_is_a_warning_not_an_error():
    result = validate_orders(make_batch(N, SEED, ["new_district"]).frame)
    assert result.ok
    assert list(result.warnings["column"]) == ["district"]
    assert NEW_DISTRICT in result.warnings["examples"].iloc[0]
    assert "Предупреждения" in result.summary()


def test_target_is_optional_for_inference(clean):
    features = clean.drop(columns=TARGET)
    assert validate_orders(features, require_target=False).ok
    result = validate_orders(features)
    assert not result.ok and result.failed_columns == {TARGET}
    # When present, the target is still checked.
    bad_labels = clean.assign(**{TARGET: clean[TARGET] * 2})
    assert validate_orders(bad_labels, require_target=False).failed_columns == {TARGET}


def test_hand_made_errors(clean):
    broken = clean.copy()
    broken.loc[5, ID_COLUMN] = broken.loc[6, ID_COLUMN]
    broken.loc[7, "weather"] = "storm"
    broken.loc[8, "hour"] = 24
    broken.loc[9, "weekday"] = -1
    result = validate_orders(broken)
    assert result.failed_columns == {ID_COLUMN, "weather", "hour", "weekday"}
    weather = result.violations.set_index("column").loc["weather"]
    assert weather["failing_count"] == 1 and "storm" in weather["examples"]


def test_summary_is_russian_and_raise_for_violations():
    result = validate_orders(make_batch(N, SEED, ["missing_values"]).frame)
    text = result.summary()
    assert text.startswith("✗") and "пропуски" in text
    with pytest.raises(DataValidationError, match="temperature_c"):
        result.raise_for_violations()
    validate_orders(make_batch(N, SEED).frame).raise_for_violations()  # no error


@pytest.mark.parametrize("n_rows", [1, 3, 21])
def test_summary_of_a_clean_batch_counts_rows_without_a_plural_form(n_rows):
    # "(1 строк)" is wrong Russian; "(строк: N)" is right for every N.
    text = validate_orders(make_batch(n_rows, SEED).frame).summary()
    assert text == f"✓ Данные прошли проверку (строк: {n_rows})."
