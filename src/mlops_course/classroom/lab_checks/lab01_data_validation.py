"""Checks of lab 01 «Валидация данных»: do the student's checks catch every incident?

Each check runs the student's function on a clean batch (must report nothing) and on
batches from ``scenarios.make_batch`` with a data-quality incident (must report it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from mlops_course.classroom.checks import AnswerProblem, CheckResult, check_returned, expect
from mlops_course.model.validation import RANGES
from mlops_course.scenario.problems import SCENARIOS, make_batch

CHECK_ROWS = 400
CHECK_SEED = 2024
# Incidents that hide in a few rows: the check must not rely on averages.
SUBTLE_METRES_SHARE = 0.005  # 2 of 400 orders
# Three incidents in one batch, and the column each one must be named by.
MIXED_INCIDENTS = {
    "renamed_column": "prep_time_min",
    "wrong_dtype": "order_value",
    "distance_in_metres": "distance_km",
}

Checker = Callable[[pd.DataFrame], list[str]]

ABSENT_COLUMN_HINT = (
    "Колонки может не быть в партии: пропускайте такие колонки "
    "(if name not in frame.columns: continue) — о пропавших колонках сообщает упражнение 1."
)
RANGE_HINT = (
    "Вне диапазона — значение меньше low ИЛИ больше high: (x < low) | (x > high) "
    "(через |, а не &), то есть ~x.between(low, high); проверяйте каждое значение."
)
# Words that say a column is missing or extra: only a message with the opposite words and
# none of its own counts as swapped (any other wording is accepted).
MISSING_WORDS = re.compile(
    r"\bнет\b|отсутств|пропал|пропущ|не хватает|не найден|missing|absent|not found|no column",
    re.I,
)
EXTRA_WORDS = re.compile(
    r"лишн|неожидан|не ожида|неизвест|посторонн|\bнов|unexpected|extra|unknown|additional", re.I
)
# Numbers and missing-value tokens in a message: what differs between two batches.
VALUES = re.compile(r"-?\d+(?:[.,]\d+)?(?:e[-+]?\d+)?|\b(?:nan|none|null|na|<na>)\b", re.I)
# A bare count of zero ("пропусков 0"), not a bound like "[0, 30]" or a decimal "0.1".
ZERO_COUNT = re.compile(r"(?<![\w.\[(])0(?![\w.,\]])")


def _batch(scenarios: str | Sequence[str] = (), strength: float = 1.0) -> pd.DataFrame:
    return make_batch(CHECK_ROWS, CHECK_SEED, scenarios, strength).frame


def _list_problem(value: object) -> str:
    """What is wrong with a returned value ("" if it is a flat list)."""
    if not isinstance(value, list):
        return "верните список строк (list[str]): [...] или list(...)."
    if any(isinstance(item, list | tuple | set) for item in value):
        return (
            "это список списков: склейте списки через + "
            "(column_problems(frame) + dtype_problems(frame) + ...), а не [a, b, c]."
        )
    return ""


def _problems(check: Checker, frame: pd.DataFrame) -> list[str]:
    """What ``check`` reports on a copy of ``frame``; it must return a list and not edit it."""
    given = frame.copy()
    problems = check(given)
    problem = _list_problem(problems)
    check_returned(problems, not problem, problem)
    if not given.equals(frame):
        raise AnswerProblem(
            "функция изменила переданную партию: не изменяйте frame: работайте с копией "
            "(frame.copy()) или только читайте его — проверка сообщает, а не чинит."
        )
    return [str(problem) for problem in problems]


def _clean_passes(check: Checker, hint: str = "") -> CheckResult:
    problems = _problems(check, _batch())
    if any(ZERO_COUNT.search(problem) for problem in problems):
        hint = "Не добавляйте строку, если проблем 0: пишите только о найденных проблемах."
    return expect(
        problems == [],
        "чистая партия проходит без замечаний",
        f"на чистой партии функция нашла проблемы, которых нет: {problems[:3]}. "
        + (hint or "Проверьте, что вы сравниваете с правильным списком/диапазоном."),
    )


def _whole_word(word: str) -> re.Pattern:
    """``word`` as a whole word: "prep_time" is not found in "prep_time_min"."""
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")


def _mentioning(problems: list[str], word: str) -> list[str]:
    """The problems that name ``word`` as a whole word."""
    pattern = _whole_word(word)
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
    except (NotImplementedError, AnswerProblem):
        raise
    except Exception as error:  # the student's code crashed on a broken batch
        return CheckResult(
            False,
            f"на партии «{scenario}» функция упала ({type(error).__name__}: {error}). {hint}",
        )
    return CheckResult(True, f"на партии «{scenario}» функция не падает")


def _templates(problems: list[str], column: str) -> set[str]:
    """How the messages naming ``column`` read with the name and the numbers taken out:
    two batches that differ only in which column is broken give the same templates."""
    name = _whole_word(column)
    return {VALUES.sub("#", name.sub("{}", problem)) for problem in _mentioning(problems, column)}


def _says_opposite(templates: set[str], opposite: re.Pattern, own: re.Pattern) -> bool:
    return any(opposite.search(text) and not own.search(text) for text in templates)


def _reported_as(renamed: list[str], column: str, other: set[str]) -> bool:
    """``column`` is named, and not in the words used for the other kind of problem."""
    templates = _templates(renamed, column)
    return bool(templates) and not templates & other


def _how(templates: set[str]) -> str:
    return f"пишет о ней {sorted(templates)}" if templates else "её не назвала"


def check_column_problems(column_problems: Checker) -> list[CheckResult]:
    """Exercise 1: missing and unexpected columns.

    The wording is free; the check compares how a missing column (``weather`` dropped) and
    an extra one (``courier_rating`` added) are reported, then expects the renamed column's
    two names (``prep_time_min`` gone, ``prep_time`` new) to be reported the same way.
    """
    gone = _templates(_problems(column_problems, _batch("dropped_column")), "weather")
    extra = _batch().assign(courier_rating=5.0)
    added = _templates(_problems(column_problems, extra), "courier_rating")
    renamed = _problems(column_problems, _batch("renamed_column"))
    distinct = bool(gone) and bool(added) and not gone & added
    gone_as_extra = _says_opposite(gone, EXTRA_WORDS, MISSING_WORDS)
    added_as_missing = _says_opposite(added, MISSING_WORDS, EXTRA_WORDS)
    swapped = (
        "set(COLUMNS) - set(frame.columns) — пропавшие колонки, set(frame.columns) - "
        "set(COLUMNS) — лишние; не перепутайте, какая строка о какой."
    )
    return [
        _clean_passes(column_problems),
        expect(
            bool(gone) and not gone_as_extra,
            "пропавшая колонка названа",
            f"колонки weather нет в партии, а функция {_how(gone)}: "
            "верните строку «нет колонки weather». " + swapped * gone_as_extra,
        ),
        expect(
            bool(added) and not added_as_missing,
            "лишняя колонка названа",
            f"в партии лишняя колонка courier_rating, а функция {_how(added)}: "
            "верните строку «лишняя колонка courier_rating». " + swapped * added_as_missing,
        ),
        expect(
            distinct or not (gone and added),
            "о пропавшей и о лишней колонке сообщения разные",
            f"о пропавшей и о лишней колонке функция пишет одно и то же ({sorted(gone)}): "
            "скажите, что с колонкой, — «нет колонки …» или «лишняя колонка …».",
        ),
        expect(
            _reported_as(renamed, "prep_time_min", added),
            "переименование: prep_time_min названа пропавшей",
            "при переименовании колонка prep_time_min пропала, а функция назвала её лишней "
            f"или не назвала: {_mentioning(renamed, 'prep_time_min')}. " + swapped,
        ),
        expect(
            _reported_as(renamed, "prep_time", gone),
            "переименование: prep_time названа лишней",
            "при переименовании колонка prep_time лишняя, а функция назвала её пропавшей "
            f"или не назвала: {_mentioning(renamed, 'prep_time')}. " + swapped,
        ),
    ]


def check_dtype_problems(dtype_problems: Checker) -> list[CheckResult]:
    """Exercise 2: numeric columns must hold numbers."""
    clean = (
        "Проверяйте только колонки из RANGES (timestamp, weather, district и не должны быть "
        "числами). Целые int64 — тоже числа: используйте pd.api.types.is_numeric_dtype, а не "
        "сравнение с float64."
    )
    by_dtype = (
        "Проверяйте dtype колонки (pd.api.types.is_numeric_dtype), а не то, получается ли "
        "привести значения к числу: строку «1200.0» привести можно, но числом она не стала."
    )
    return [
        _clean_passes(dtype_problems, clean),
        _caught(dtype_problems, "wrong_dtype", "order_value", hint=by_dtype),
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
        _caught(range_problems, "distance_in_metres", "distance_km", hint=RANGE_HINT),
        _caught(range_problems, "missing_values", "temperature_c", hint=missing),
        _survives(range_problems, "renamed_column", ABSENT_COLUMN_HINT),
        _survives(
            range_problems,
            "wrong_dtype",
            "Строку с диапазоном не сравнить: пропускайте нечисловые колонки "
            "(pd.api.types.is_numeric_dtype) — о них сообщает упражнение 2.",
        ),
    ]
    return [
        *results,
        _few_metres_caught(range_problems),
        _below_low_caught(range_problems),
        _gaps_and_range_apart(range_problems),
    ]


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


def _below_low_caught(range_problems: Checker) -> CheckResult:
    """A value below the low bound, in a column other than distance_km."""
    column, low = "prep_time_min", RANGES["prep_time_min"][0]
    frame = _batch()
    frame.loc[:2, column] = low - 5
    matching = _mentioning(_problems(range_problems, frame), column)
    return expect(
        bool(matching),
        f"значение ниже нижней границы поймано: {matching[0] if matching else ''}",
        f"{column} = {low - 5:g} (ниже нижней границы {low:g}) не поймано: проверяйте обе "
        "границы, (x < low) | (x > high), а не только верхнюю.",
    )


def _gaps_and_range_apart(range_problems: Checker) -> CheckResult:
    """Gaps and out-of-range values in one column are two problems, told apart.

    Batch A has only gaps in ``temperature_c``, batch B only values above its range, batch
    C both: A and B must be reported differently (a gap is not a value out of range) and C
    with two lines. The wording is free.
    """
    column, high = "temperature_c", RANGES["temperature_c"][1]
    gaps, outside, both = _batch(), _batch(), _batch()
    for frame in (gaps, both):
        frame.loc[:4, column] = np.nan
    for frame in (outside, both):
        frame.loc[5:7, column] = high + 20
    said = {
        name: _templates(_problems(range_problems, frame), column)
        for name, frame in (("gaps", gaps), ("outside", outside))
    }
    lines = _mentioning(_problems(range_problems, both), column)
    hints = []
    if said["gaps"] & said["outside"]:
        hints.append(
            f"5 пропусков в {column} функция описала так же, как 3 значения {high + 20:g} "
            f"(выше {high:g}): {sorted(said['gaps'])}. Пропуск — не выход за диапазон: "
            "о пропусках — своя строка (isna().sum()), а вне диапазона считайте только "
            "известные значения: values.notna() & ~values.between(low, high)."
        )
    if len(lines) < 2:
        hints.append(
            f"В {column} 5 пропусков и 3 значения {high + 20:g}, а строк о ней {len(lines)}: "
            f"{lines}. Нужны две: одна о пропусках, другая о значениях вне диапазона."
        )
    return expect(
        not hints,
        "пропуски и выход за диапазон в одной колонке — две разные строки",
        " ".join(hints),
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
    return [
        _clean_passes(validate_batch),
        *(
            _caught(validate_batch, scenario, word, hint=f"Добавьте в результат {function}(frame).")
            for scenario, (word, function) in words.items()
        ),
        _every_incident_named(validate_batch),
    ]


def _every_incident_named(validate_batch: Checker) -> CheckResult:
    """Several incidents in one batch: each affected column is named."""
    problems = _problems(validate_batch, _batch(tuple(MIXED_INCIDENTS)))
    missed = [column for column in MIXED_INCIDENTS.values() if not _mentioning(problems, column)]
    incidents = ", ".join(MIXED_INCIDENTS)
    return expect(
        not missed,
        f"партия с несколькими инцидентами ({incidents}): названы все колонки",
        f"в партии сразу несколько инцидентов ({incidents}), а колонки {missed} не названы: "
        "верните проблемы всех трёх функций, column_problems(frame) + dtype_problems(frame) "
        "+ range_problems(frame); «a or b or c» останавливается на первом непустом списке.",
    )
