import contextlib
import io

import pandas as pd
import pytest

from mlops_course.classroom.checks import CheckFailed, run_check
from mlops_course.classroom.lab_checks.lab01_data_validation import (
    check_column_problems,
    check_dtype_problems,
    check_range_problems,
    check_shift_problems,
    check_validate_batch,
)
from mlops_course.model.validation import RANGES
from mlops_course.monitoring import drift
from mlops_course.scenario.generator import COLUMNS


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
            if values.isna().any():
                problems.append(f"{name}: NaN")
            if (values.notna() & ~values.between(low, high)).any():
                problems.append(f"{name}: out of [{low}, {high}]")
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


def test_missing_columns_only_misses_the_extra_ones():
    def only_missing(frame):
        return [f"нет {name}" for name in COLUMNS if name not in frame]

    failed = [r.message for r in check_column_problems(only_missing) if not r.passed]
    assert len(failed) == 2
    assert "лишняя колонка courier_rating" in failed[0] and "не назвала" in failed[0]
    assert "prep_time — новая, лишняя" in failed[1] and "не назвала" in failed[1]


def test_checker_that_always_complains_fails_on_clean_batch():
    results = check_dtype_problems(lambda frame: ["всё плохо"])
    assert not results[0].passed and "чистой партии" in results[0].message


def test_mean_based_range_check_misses_a_few_metres():
    def by_mean(frame):
        values = frame["distance_km"]
        return ["distance_km"] if values.isna().any() or values.mean() > 50 else []

    results = check_range_problems(by_mean)
    assert results[1].passed  # all metres: the mean sees it
    few_metres = [r for r in results if "метры лишь у" in r.message]
    assert len(few_metres) == 1 and not few_metres[0].passed
    assert "среднее" in few_metres[0].message


def test_validate_batch_without_dtype_check_misses_wrong_dtype():
    results = check_validate_batch(lambda frame: right_columns(frame) + right_ranges(frame))
    failed = [r.message for r in results if not r.passed]
    assert len(failed) == 2 and "wrong_dtype" in failed[0]  # alone, then in a mixed batch
    assert all("order_value" in m and "dtype_problems(frame)" in m for m in failed)


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


def feedback(check, student_function) -> str:
    """What the notebook prints when ``check`` rejects ``student_function``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(CheckFailed):
        run_check(check, student_function)
    return out.getvalue()


def failed(results) -> str:
    return "\n".join(result.message for result in results if not result.passed)


def test_print_instead_of_return_is_named():
    out = feedback(check_validate_batch, lambda frame: print(right_batch(frame)))
    assert "ничего не вернула (None)" in out and "замените print на return" in out
    assert "Запустите ячейку" not in out


def test_a_list_of_lists_is_told_to_concatenate():
    def nested(frame):
        return [right_columns(frame), right_dtypes(frame), right_ranges(frame)]

    out = feedback(check_validate_batch, nested)
    assert "склейте списки через +" in out and "Запустите ячейку" not in out


def test_a_tuple_is_told_to_return_a_list():
    out = feedback(check_column_problems, lambda frame: tuple(right_columns(frame)))
    assert "tuple" in out and "list" in out and "Запустите ячейку" not in out


def test_swapped_missing_and_extra_labels_are_rejected():
    def swapped(frame):
        missing = set(frame.columns) - set(COLUMNS)  # the set difference is reversed
        extra = set(COLUMNS) - set(frame.columns)
        return [f"нет колонки {c}" for c in missing] + [f"лишняя колонка {c}" for c in extra]

    results = check_column_problems(swapped)
    assert not passed(results)
    assert "перепутаны разности множеств" in failed(results)
    assert "нет колонки weather" in failed(results)
    # No false ✓ for the renamed column: the function called prep_time_min «лишняя».
    assert not any(r.passed and "переименование" in r.message for r in results)


def test_bare_column_names_are_rejected():
    results = check_column_problems(lambda frame: sorted(set(COLUMNS) ^ set(frame.columns)))
    assert not passed(results)
    assert "пишет одно и то же" in failed(results) and "нет колонки" in failed(results)


@pytest.mark.parametrize(
    ("gone", "new"),
    [
        ("отсутствует колонка «{}»", "неожиданная колонка «{}»"),
        ("колонка {} не найдена", "неизвестная колонка {}"),
        ("missing column {}", "unknown column {}"),
        ("пропущена колонка {}", "новая колонка {}"),
        ("no column '{}'", "колонка {} не ожидалась"),
        ("нет колонки {}", "лишняя колонка {} (её нет в COLUMNS)"),
        ("{} — missing", "unexpected column {} (not found in schema)"),
    ],
)
def test_other_wordings_of_missing_and_extra_columns_pass(gone, new):
    def wordy(frame):
        missing = [gone.format(c) for c in COLUMNS if c not in frame]
        return missing + [new.format(c) for c in frame if c not in COLUMNS]

    assert passed(check_column_problems(wordy))


def test_dtype_check_by_conversion_is_told_to_look_at_the_dtype():
    def by_conversion(frame):
        problems = []
        for name in RANGES:
            try:
                if name in frame:
                    frame[name].astype(float)
            except (TypeError, ValueError):
                problems.append(name)
        return problems

    text = failed(check_dtype_problems(by_conversion))
    assert "wrong_dtype" in text and "is_numeric_dtype" in text and "привести" in text


def test_upper_bound_only_is_rejected():
    def upper_only(frame):
        problems = []
        for name, (_low, high) in RANGES.items():
            if name in frame and pd.api.types.is_numeric_dtype(frame[name]):
                if frame[name].isna().any():
                    problems.append(f"{name}: пропуски")
                if (frame[name] > high).any():
                    problems.append(f"{name}: больше {high}")
        return problems

    text = failed(check_range_problems(upper_only))
    assert "prep_time_min" in text and "нижней границы" in text and "(x < low)" in text


def test_missing_values_reported_as_out_of_range_are_rejected():
    def between_all(frame):
        return [
            f"{name}: значения вне [{low}, {high}]"
            for name, (low, high) in RANGES.items()
            if name in frame
            and pd.api.types.is_numeric_dtype(frame[name])
            and not frame[name].between(low, high).all()
        ]

    text = failed(check_range_problems(between_all))
    assert "temperature_c" in text and "о пропусках" in text and "notna()" in text


def test_gaps_and_range_in_one_line_are_told_to_split():
    def one_line(frame):
        problems = []
        for name, (low, high) in RANGES.items():
            if name in frame and pd.api.types.is_numeric_dtype(frame[name]):
                gaps, outside = frame[name].isna().sum(), (frame[name].dropna() > high).sum()
                outside += (frame[name].dropna() < low).sum()
                if gaps or outside:
                    problems.append(f"{name}: пропусков {gaps}, вне диапазона {outside}")
        return problems

    text = failed(check_range_problems(one_line))
    assert "строк о ней 1" in text and "Нужны две" in text


def test_nan_values_listed_as_out_of_range_are_rejected():
    """One line per bad value, NaN among them: the word "nan" is not a report of gaps."""

    def per_value(frame):
        problems = []
        for name, (low, high) in RANGES.items():
            if name in frame and pd.api.types.is_numeric_dtype(frame[name]):
                bad = frame[name][~frame[name].between(low, high)]
                problems += [f"{name}: значение {value} вне диапазона" for value in bad]
        return problems

    text = failed(check_range_problems(per_value))
    assert "Пропуск — не выход за диапазон" in text and "notna()" in text


@pytest.mark.parametrize(
    "gap_line",
    [
        "{}: пропущенных значений {}",
        "{}: у {} заказов значение отсутствует",
        "{}: не заполнено {} из 400",
        "{}: {} empty values",
        "{}: {} NA",
        "{}: ниже допустимого минимума или выше максимума: проверьте {} строк",
    ],
)
def test_any_wording_of_gaps_passes(gap_line):
    def right(frame):
        problems = []
        for name, (low, high) in RANGES.items():
            if name in frame and pd.api.types.is_numeric_dtype(frame[name]):
                values = frame[name]
                if values.isna().any():
                    problems.append(gap_line.format(name, values.isna().sum()))
                outside = values.notna() & ~values.between(low, high)
                if outside.any():
                    problems.append(f"{name}: {outside.sum()} вне [{low}, {high}]")
        return problems

    assert passed(check_range_problems(right))


def test_and_instead_of_or_gets_a_hint_on_metres():
    def and_not_or(frame):
        return [
            name
            for name, (low, high) in RANGES.items()
            if name in frame
            and pd.api.types.is_numeric_dtype(frame[name])
            and (frame[name].isna().any() or ((frame[name] < low) & (frame[name] > high)).any())
        ]

    text = failed(check_range_problems(and_not_or))
    assert "distance_in_metres" in text and "(x < low) | (x > high)" in text


def test_lines_with_zero_counts_are_told_to_be_left_out():
    def always_counts(frame):
        return [
            f"{name}: пропусков {frame[name].isna().sum()}"
            for name in RANGES
            if name in frame and pd.api.types.is_numeric_dtype(frame[name])
        ]

    results = check_range_problems(always_counts)
    assert not results[0].passed and "проблем 0" in results[0].message


def test_short_circuit_or_misses_incidents_of_a_mixed_batch():
    def short_circuit(frame):
        return right_columns(frame) or right_dtypes(frame) or right_ranges(frame)

    results = check_validate_batch(short_circuit)
    assert not results[-1].passed and all(r.passed for r in results[:-1])
    assert "order_value" in results[-1].message and "distance_km" in results[-1].message
    assert "column_problems(frame) + dtype_problems(frame)" in results[-1].message


def fixing_ranges(frame):
    # wrong: "cleans" the batch it was asked to check
    problems = right_ranges(frame)
    for name in RANGES:
        if name in frame and pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = frame[name].fillna(frame[name].median())
    return problems


@pytest.mark.parametrize(
    "check, function",
    [
        (check_range_problems, fixing_ranges),
        (check_validate_batch, lambda f: right_columns(f) + right_dtypes(f) + fixing_ranges(f)),
    ],
)
def test_a_function_that_edits_the_frame_in_place_is_rejected(check, function):
    out = feedback(check, function)
    assert "не изменяйте frame" in out and "Запустите ячейку" not in out


# --- Every hint is right for the mistake it names -------------------------------------

# The phrase each hint of exercise 1 uses for the mistake it names.
COLUMN_MISTAKES = {
    "swapped": "перепутаны",
    "not named": "не назвала",
    "same words": "одно и то же",
    "as the other kind": "так же, как о",
    "false alarm on clean": "на чистой партии",
}


def only_missing_columns(frame):
    return [f"нет колонки {name}" for name in COLUMNS if name not in frame.columns]


def only_extra_columns(frame):
    return [f"лишняя колонка {name}" for name in frame.columns if name not in COLUMNS]


def swapped_set_differences(frame):
    missing = set(frame.columns) - set(COLUMNS)  # reversed
    extra = set(COLUMNS) - set(frame.columns)  # reversed
    return [f"нет колонки {c}" for c in missing] + [f"лишняя колонка {c}" for c in extra]


def bare_names(frame):
    return sorted(set(COLUMNS) ^ set(frame.columns))


def every_column(frame):
    return [f"нет колонки {name}" for name in COLUMNS]


@pytest.mark.parametrize(
    ("answer", "made", "failing"),
    [
        (only_missing_columns, {"not named"}, 2),
        (only_extra_columns, {"not named"}, 2),
        (swapped_set_differences, {"swapped"}, 4),
        (bare_names, {"same words", "as the other kind"}, 3),
        (every_column, {"false alarm on clean", "not named"}, None),
    ],
)
def test_column_hints_name_only_the_mistakes_made(answer, made, failing):
    results = check_column_problems(answer)
    messages = failed(results)
    assert not passed(results)
    if failing is not None:
        assert sum(not r.passed for r in results) == failing, messages
    for mistake, phrase in COLUMN_MISTAKES.items():
        assert (phrase in messages) == (mistake in made), (mistake, messages)


def test_a_swap_hint_is_given_in_full_once():
    messages = failed(check_column_problems(swapped_set_differences))
    assert messages.count("set(COLUMNS) - set(frame.columns)") == 1
    assert messages.count("перепутаны (см. выше)") == 3


def test_each_passed_verdict_of_a_partial_answer_is_true():
    results = check_column_problems(only_missing_columns)
    shown = {r.message for r in results if r.passed}
    assert "переименование: prep_time_min названа пропавшей" in shown
    assert not any("prep_time названа" in message for message in shown)


# --- Exercise 5: miles --------------------------------------------------------------


def right_shift(frame, reference, alpha=0.001):
    problems = []
    for name in RANGES:
        if name in frame and name in reference and pd.api.types.is_numeric_dtype(frame[name]):
            pvalue = drift.ks_test(reference[name], frame[name]).pvalue
            if pvalue < alpha:
                problems.append(f"{name}: p = {pvalue:.1e}")
    return problems


def range_only_shift(frame, reference, alpha=0.001):
    return right_ranges(frame)  # wrong: the reference is never looked at


def reversed_shift(frame, reference, alpha=0.001):
    return [
        name
        for name in RANGES
        if name in frame
        and pd.api.types.is_numeric_dtype(frame[name])
        and drift.ks_test(reference[name], frame[name]).pvalue > alpha  # wrong: reversed
    ]


def hard_coded_alpha_shift(frame, reference, alpha=0.001):
    return right_shift(frame, reference, 0.001)  # wrong: ignores the argument


def crashing_shift(frame, reference, alpha=0.001):
    return [  # wrong: no check of presence or dtype
        name for name in RANGES if drift.ks_test(reference[name], frame[name]).pvalue < alpha
    ]


SHIFT_MISTAKES = {
    "false alarms": "на чистых партиях",
    "missed": "не пойманы",
    "constant alpha": "аргументом alpha",
    "crash": "упала",
}


def test_right_shift_check_passes():
    assert passed(check_shift_problems(right_shift))


@pytest.mark.parametrize(
    ("answer", "made"),
    [
        (range_only_shift, {"missed"}),
        (reversed_shift, {"false alarms", "missed"}),
        (hard_coded_alpha_shift, {"constant alpha"}),
        (crashing_shift, {"crash"}),
    ],
)
def test_shift_hints_name_only_the_mistakes_made(answer, made):
    results = check_shift_problems(answer)
    messages = failed(results)
    assert not passed(results)
    for mistake, phrase in SHIFT_MISTAKES.items():
        assert (phrase in messages) == (mistake in made), (mistake, messages)


def test_miles_stay_inside_the_range_so_the_range_check_misses_them():
    from mlops_course.classroom.lab_checks.lab01_data_validation import in_miles
    from mlops_course.scenario.problems import make_batch

    miles = in_miles(make_batch(400, 1).frame)
    assert right_ranges(miles) == []
    assert any("distance_km" in line for line in right_shift(miles, make_batch(400, 2).frame))
