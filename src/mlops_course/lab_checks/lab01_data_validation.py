"""Checks of lab 01 «Валидация данных»: do the student's checks catch every incident?

Each check runs the student's function on a clean batch (must report nothing) and on
batches from ``scenarios.make_batch`` with a data-quality incident (must report it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from mlops_course.checks import CheckResult, expect
from mlops_course.scenarios import SCENARIOS, make_batch

CHECK_ROWS = 400
CHECK_SEED = 2024
QUALITY_INCIDENTS = ("missing_values", "distance_in_metres", "wrong_dtype", "renamed_column")
# Incidents that hide in a few rows: the check must not rely on averages.
SUBTLE_METRES_SHARE = 0.005  # 2 of 400 orders

Checker = Callable[[pd.DataFrame], list[str]]

ABSENT_COLUMN_HINT = (
    "Колонки может не быть в партии: пропускайте такие колонки "
    "(if name not in frame.columns: continue) — о пропавших колонках сообщает упражнение 1."
)


def _batch(scenario: str | None = None, strength: float = 1.0) -> pd.DataFrame:
    scenarios = () if scenario is None else (scenario,)
    return make_batch(CHECK_ROWS, CHECK_SEED, scenarios, strength).frame


def _problems(check: Checker, frame: pd.DataFrame) -> list[str]:
    problems = check(frame.copy())
    if not isinstance(problems, list):
        raise TypeError(f"функция должна вернуть list[str], а вернула {type(problems).__name__}")
    return [str(problem) for problem in problems]


def _clean_passes(check: Checker, hint: str = "") -> CheckResult:
    problems = _problems(check, _batch())
    return expect(
        problems == [],
        "чистая партия проходит без замечаний",
        f"на чистой партии функция нашла проблемы, которых нет: {problems[:3]}. "
        + (hint or "Проверьте, что вы сравниваете с правильным списком/диапазоном."),
    )


def _mentioning(problems: list[str], word: str) -> list[str]:
    """The problems that name ``word`` as a whole word ("prep_time" is not in "prep_time_min")."""
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
    return [problem for problem in problems if pattern.search(problem)]


def _caught(check: Checker, scenario: str, word: str, hint: str = "") -> CheckResult:
    problems = _problems(check, _batch(scenario))
    matching = _mentioning(problems, word)
    return expect(
        bool(matching),
        f"инцидент «{scenario}» пойман: {matching[0] if matching else ''}",
        f"инцидент «{scenario}» не пойман: {SCENARIOS[scenario].description} "
        f"Функция вернула {problems[:3]}, а в сообщении должна быть колонка «{word}». " + hint,
    )


def _survives(check: Checker, scenario: str, hint: str) -> CheckResult:
    """A broken batch must give a list of problems, not a crash: one check, one concern."""
    try:
        _problems(check, _batch(scenario))
    except NotImplementedError:
        raise
    except Exception as error:  # the student's code crashed on a broken batch
        return CheckResult(
            False,
            f"на партии «{scenario}» функция упала ({type(error).__name__}: {error}). {hint}",
        )
    return CheckResult(True, f"на партии «{scenario}» функция не падает")


def check_column_problems(column_problems: Checker) -> list[CheckResult]:
    """Exercise 1: missing and unexpected columns."""
    missing = "Для каждой колонки из COLUMNS, которой нет в frame.columns, верните «нет колонки …»."
    unexpected = (
        "Лишние колонки — тоже проблема: для каждой колонки frame, которой нет в COLUMNS, "
        "верните «лишняя колонка …»."
    )
    return [
        _clean_passes(column_problems),
        _caught(column_problems, "renamed_column", "prep_time_min", hint=missing),
        _caught(column_problems, "renamed_column", "prep_time", hint=unexpected),
        _caught(column_problems, "dropped_column", "weather", hint=missing),
    ]


def check_dtype_problems(dtype_problems: Checker) -> list[CheckResult]:
    """Exercise 2: numeric columns must hold numbers."""
    clean = (
        "Проверяйте только колонки из RANGES (timestamp, weather, district и не должны быть "
        "числами). Целые int64 — тоже числа: используйте pd.api.types.is_numeric_dtype, а не "
        "сравнение с float64."
    )
    return [
        _clean_passes(dtype_problems, clean),
        _caught(dtype_problems, "wrong_dtype", "order_value"),
        _survives(dtype_problems, "renamed_column", ABSENT_COLUMN_HINT),
    ]


def check_range_problems(range_problems: Checker) -> list[CheckResult]:
    """Exercise 3: missing values and physical ranges (metres instead of kilometres)."""
    clean = "Границы включаются: low <= x <= high (Series.between(low, high))."
    missing = (
        "Пропуск (NaN) не больше и не меньше границы, сравнение его не видит: "
        "считайте пропуски отдельно, frame[name].isna().sum()."
    )
    results = [
        _clean_passes(range_problems, clean),
        _caught(range_problems, "distance_in_metres", "distance_km"),
        _caught(range_problems, "missing_values", "temperature_c", hint=missing),
        _survives(range_problems, "renamed_column", ABSENT_COLUMN_HINT),
        _survives(
            range_problems,
            "wrong_dtype",
            "Строку с диапазоном не сравнить: пропускайте нечисловые колонки "
            "(pd.api.types.is_numeric_dtype) — о них сообщает упражнение 2.",
        ),
    ]
    return [*results, _few_metres_caught(range_problems)]


def _few_metres_caught(range_problems: Checker) -> CheckResult:
    """Metres in a handful of rows: invisible in the mean, obvious in the maximum."""
    problems = _problems(range_problems, _batch("distance_in_metres", SUBTLE_METRES_SHARE))
    matching = _mentioning(problems, "distance_km")
    few = f"метры лишь у {round(SUBTLE_METRES_SHARE * CHECK_ROWS)} заказов из {CHECK_ROWS}"
    return expect(
        bool(matching),
        f"{few} тоже пойманы: {matching[0] if matching else ''}",
        f"{few} не пойманы: проверяйте каждое значение (max или any), а не среднее или медиану.",
    )


def check_validate_batch(validate_batch: Checker) -> list[CheckResult]:
    """Exercise 4: one function catches every incident and passes a clean batch."""
    # scenario -> (column named in the message, which exercise catches it)
    words = {
        "missing_values": ("distance_km", "range_problems"),
        "distance_in_metres": ("distance_km", "range_problems"),
        "wrong_dtype": ("order_value", "dtype_problems"),
        "renamed_column": ("prep_time_min", "column_problems"),
        "dropped_column": ("weather", "column_problems"),
    }
    return [_clean_passes(validate_batch)] + [
        _caught(validate_batch, scenario, word, hint=f"Добавьте в результат {function}(frame).")
        for scenario, (word, function) in words.items()
    ]
