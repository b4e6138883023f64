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


def _batch(scenario: str | None = None, strength: float = 1.0) -> pd.DataFrame:
    scenarios = () if scenario is None else (scenario,)
    return make_batch(CHECK_ROWS, CHECK_SEED, scenarios, strength).frame


def _problems(check: Checker, frame: pd.DataFrame) -> list[str]:
    problems = check(frame.copy())
    if not isinstance(problems, list):
        raise TypeError(f"функция должна вернуть list[str], а вернула {type(problems).__name__}")
    return [str(problem) for problem in problems]


def _clean_passes(check: Checker) -> CheckResult:
    problems = _problems(check, _batch())
    return expect(
        problems == [],
        "чистая партия проходит без замечаний",
        f"на чистой партии функция нашла проблемы, которых нет: {problems[:3]}. "
        "Проверьте, что вы сравниваете с правильным списком/диапазоном.",
    )


def _caught(check: Checker, scenario: str, word: str, strength: float = 1.0) -> CheckResult:
    problems = _problems(check, _batch(scenario, strength))
    # A whole word: "prep_time" must not be found inside "prep_time_min".
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
    matching = [problem for problem in problems if pattern.search(problem)]
    return expect(
        bool(matching),
        f"инцидент «{scenario}» пойман: {matching[0] if matching else ''}",
        f"инцидент «{scenario}» не пойман: {SCENARIOS[scenario].description} "
        f"Функция вернула {problems[:3]}, а в сообщении должна быть колонка «{word}».",
    )


def check_column_problems(column_problems: Checker) -> list[CheckResult]:
    """Exercise 1: missing and unexpected columns."""
    return [
        _clean_passes(column_problems),
        _caught(column_problems, "renamed_column", "prep_time_min"),
        _caught(column_problems, "renamed_column", "prep_time"),
        _caught(column_problems, "dropped_column", "weather"),
    ]


def check_dtype_problems(dtype_problems: Checker) -> list[CheckResult]:
    """Exercise 2: numeric columns must hold numbers."""
    return [_clean_passes(dtype_problems), _caught(dtype_problems, "wrong_dtype", "order_value")]


def check_range_problems(range_problems: Checker) -> list[CheckResult]:
    """Exercise 3: missing values and physical ranges (metres instead of kilometres)."""
    results = [
        _clean_passes(range_problems),
        _caught(range_problems, "distance_in_metres", "distance_km"),
        _caught(range_problems, "missing_values", "temperature_c"),
    ]
    subtle = _caught(range_problems, "distance_in_metres", "distance_km", SUBTLE_METRES_SHARE)
    if not subtle.passed:
        subtle = CheckResult(
            False,
            "метры лишь у нескольких заказов не пойманы: проверяйте каждое "
            "значение (max или any), а не среднее или медиану.",
        )
    return [*results, subtle]


def check_validate_batch(validate_batch: Checker) -> list[CheckResult]:
    """Exercise 4: one function catches every incident and passes a clean batch."""
    words = {
        "missing_values": "distance_km",
        "distance_in_metres": "distance_km",
        "wrong_dtype": "order_value",
        "renamed_column": "prep_time_min",
        "dropped_column": "weather",
    }
    return [_clean_passes(validate_batch)] + [
        _caught(validate_batch, scenario, word) for scenario, word in words.items()
    ]
