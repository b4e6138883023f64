import pandas as pd
import pytest

from mlops_course.data import COLUMNS
from mlops_course.lab_checks.lab01_data_validation import (
    check_column_problems,
    check_dtype_problems,
    check_range_problems,
    check_validate_batch,
)
from mlops_course.validation import RANGES


def right_columns(frame: pd.DataFrame) -> list[str]:
    missing = [f"нет {name}" for name in COLUMNS if name not in frame]
    return missing + [f"лишняя {name}" for name in frame if name not in COLUMNS]


def right_dtypes(frame: pd.DataFrame) -> list[str]:
    return [
        name for name in RANGES if name in frame and not pd.api.types.is_numeric_dtype(frame[name])
    ]


def right_ranges(frame: pd.DataFrame) -> list[str]:
    problems = []
    for name, (low, high) in RANGES.items():
        if name in frame and pd.api.types.is_numeric_dtype(frame[name]):
            values = frame[name]
            if values.isna().any() or (values.notna() & ~values.between(low, high)).any():
                problems.append(name)
    return problems


def right_batch(frame: pd.DataFrame) -> list[str]:
    return right_columns(frame) + right_dtypes(frame) + right_ranges(frame)


def passed(results) -> bool:
    return all(result.passed for result in results)


def test_right_answers_pass():
    assert passed(check_column_problems(right_columns))
    assert passed(check_dtype_problems(right_dtypes))
    assert passed(check_range_problems(right_ranges))
    assert passed(check_validate_batch(right_batch))


def test_missing_columns_only_misses_the_renamed_one():
    def only_missing(frame):
        return [f"нет {name}" for name in COLUMNS if name not in frame]

    results = check_column_problems(only_missing)
    assert not passed(results)
    failed = [r.message for r in results if not r.passed]
    assert len(failed) == 1 and "prep_time" in failed[0] and "лишняя колонка" in failed[0]


def test_checker_that_always_complains_fails_on_clean_batch():
    results = check_dtype_problems(lambda frame: ["всё плохо"])
    assert not results[0].passed and "чистой партии" in results[0].message


def test_mean_based_range_check_misses_a_few_metres():
    def by_mean(frame):
        values = frame["distance_km"]
        return ["distance_km"] if values.isna().any() or values.mean() > 50 else []

    results = check_range_problems(by_mean)
    assert results[1].passed  # all metres: the mean sees it
    assert not results[-1].passed and "среднее" in results[-1].message


def test_validate_batch_without_dtype_check_misses_wrong_dtype():
    results = check_validate_batch(lambda frame: right_columns(frame) + right_ranges(frame))
    failed = [r.message for r in results if not r.passed]
    assert len(failed) == 1 and "wrong_dtype" in failed[0]


def test_dtype_check_by_float64_flags_integer_columns_and_hints_is_numeric():
    def by_float(frame):
        return [name for name in RANGES if name in frame and frame[name].dtype != "float64"]

    results = check_dtype_problems(by_float)
    assert not results[0].passed and "is_numeric_dtype" in results[0].message


def test_checks_that_crash_on_a_missing_column_say_so():
    def unguarded_dtypes(frame):
        return [n for n in RANGES if not pd.api.types.is_numeric_dtype(frame[n])]

    failed = [r.message for r in check_dtype_problems(unguarded_dtypes) if not r.passed]
    assert len(failed) == 1 and "renamed_column" in failed[0] and "упала" in failed[0]
    assert "frame.columns" in failed[0]


def test_range_check_on_strings_crashes_and_is_told_to_skip_them():
    def unguarded_ranges(frame):
        return [n for n, (lo, hi) in RANGES.items() if n in frame and (frame[n] > hi).any()]

    results = check_range_problems(unguarded_ranges)
    failed = [r.message for r in results if not r.passed]
    assert any("wrong_dtype" in m and "is_numeric_dtype" in m for m in failed)
    assert any("missing_values" in m and "isna" in m for m in failed)  # NaN > hi is False


def test_validate_batch_hint_names_the_missing_function():
    results = check_validate_batch(right_columns)
    failed = [r.message for r in results if not r.passed]
    assert any("wrong_dtype" in m and "dtype_problems" in m for m in failed)
    assert any("distance_in_metres" in m and "range_problems" in m for m in failed)


def test_unfinished_exercise_stops_the_check():
    def unfinished(frame):
        raise NotImplementedError("Упражнение не выполнено")

    with pytest.raises(NotImplementedError):
        check_range_problems(unfinished)
