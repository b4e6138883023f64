"""Checks of lab 01 «Валидация данных»: do the student's checks catch every incident?

Each check runs the student's function on a clean batch (must report nothing) and on
batches from ``scenarios.make_batch`` with a data-quality incident (must report it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_course.classroom.checks import AnswerProblem, CheckResult, check_returned, expect
from mlops_course.model.validation import RANGES
from mlops_course.monitoring import drift
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


def _how(lines: list[str]) -> str:
    return f"пишет о ней {lines[:3]}" if lines else "её не назвала"


SWAPPED = (
    "Похоже, перепутаны разности множеств: set(COLUMNS) - set(frame.columns) — пропавшие "
    "колонки («нет колонки …»), set(frame.columns) - set(COLUMNS) — лишние («лишняя колонка …»)."
)


@dataclass(frozen=True)
class Kind:
    """One kind of column problem: the words that name it and how the student wrote it."""

    name: str  # "пропавшей" / "лишней"
    state: str  # "пропала" / "— новая, лишняя"
    words: re.Pattern
    seen: set[str]  # the student's templates for a column of this kind


def _renamed_result(renamed: list[str], column: str, own: Kind, other: Kind) -> CheckResult:
    """After a rename, ``column`` must be reported as ``own`` (not as ``other``).

    Each hint names only what the function did: did not name the column, named it with
    the other kind's words (a swap), or wrote about it exactly as about the other kind.
    """
    templates = _templates(renamed, column)
    lines = _mentioning(renamed, column)
    success = f"переименование: {column} названа {own.name}"
    if not templates:
        return CheckResult(
            False,
            f"при переименовании колонка {column} {own.state}, а функция её не назвала "
            f"(вернула {renamed[:3]}): сообщите и о ней.",
        )
    if _says_opposite(templates, other.words, own.words):
        return CheckResult(
            False,
            f"при переименовании колонка {column} {own.state}, а функция назвала её "
            f"{other.name}: {lines}. " + SWAPPED,
        )
    if templates & other.seen:
        return CheckResult(
            False,
            f"при переименовании колонка {column} {own.state}, а функция пишет о ней так "
            f"же, как о {other.name} колонке: {lines}. Скажите, что с колонкой, — "
            "«нет колонки …» или «лишняя колонка …».",
        )
    return CheckResult(True, success)


def check_column_problems(column_problems: Checker) -> list[CheckResult]:
    """Exercise 1: missing and unexpected columns.

    The wording is free; the check compares how a missing column (``weather`` dropped) and
    an extra one (``courier_rating`` added) are reported, then expects the renamed column's
    two names (``prep_time_min`` gone, ``prep_time`` new) to be reported the same way. A
    message that uses the other kind's words (and none of its own) counts as swapped.
    """
    dropped = _problems(column_problems, _batch("dropped_column"))
    gone = _templates(dropped, "weather")
    extra = _problems(column_problems, _batch().assign(courier_rating=5.0))
    added = _templates(extra, "courier_rating")
    renamed = _problems(column_problems, _batch("renamed_column"))
    missing_kind = Kind("пропавшей", "пропала", MISSING_WORDS, gone)
    extra_kind = Kind("лишней", "— новая, лишняя", EXTRA_WORDS, added)
    gone_as_extra = _says_opposite(gone, EXTRA_WORDS, MISSING_WORDS)
    added_as_missing = _says_opposite(added, MISSING_WORDS, EXTRA_WORDS)
    same = bool(gone) and bool(added) and bool(gone & added)
    results = [
        _clean_passes(column_problems),
        expect(
            bool(gone) and not gone_as_extra,
            "пропавшая колонка названа",
            f"колонки weather нет в партии, а функция {_how(_mentioning(dropped, 'weather'))}: "
            "верните строку «нет колонки weather». " + (SWAPPED if gone_as_extra else ""),
        ),
        expect(
            bool(added) and not added_as_missing,
            "лишняя колонка названа",
            "в партии лишняя колонка courier_rating, а функция "
            f"{_how(_mentioning(extra, 'courier_rating'))}: верните строку «лишняя колонка "
            "courier_rating». " + (SWAPPED if added_as_missing else ""),
        ),
        expect(
            not same,
            "о пропавшей и о лишней колонке сообщения разные",
            f"о пропавшей и о лишней колонке функция пишет одно и то же ({sorted(gone)}): "
            "скажите, что с колонкой, — «нет колонки …» или «лишняя колонка …».",
        ),
        _renamed_result(renamed, "prep_time_min", missing_kind, extra_kind),
        _renamed_result(renamed, "prep_time", extra_kind, missing_kind),
    ]
    return _say_once(results, SWAPPED, "Разности множеств перепутаны (см. выше).")


def _say_once(results: list[CheckResult], hint: str, later: str) -> list[CheckResult]:
    """``hint`` in full in the first failed verdict that gives it, ``later`` in the rest."""
    said, shown = False, []
    for result in results:
        message = result.message
        if hint in message:
            message, said = (message if not said else message.replace(hint, later)), True
        shown.append(CheckResult(result.passed, message.strip()))
    return shown


def check_dtype_problems(dtype_problems: Checker) -> list[CheckResult]:
    """Exercise 2: numeric columns must hold numbers."""
    clean = (
        "Проверяйте только колонки из RANGES (timestamp, weather, district и не должны быть "
        "числами). Целые int64 — тоже числа: используйте pd.api.types.is_numeric_dtype, а не "
        "сравнение с float64."
    )
    by_dtype = (
        "Проверяйте dtype колонки: pd.api.types.is_numeric_dtype(frame[name]). Строка «1200.0» "
        "— не число, хотя привести её к числу можно."
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
            _caught(
                validate_batch,
                scenario,
                word,
                hint=f"Проверьте, что в результат входит {function}(frame).",
            )
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
        "+ range_problems(frame) (например, «a or b or c» остановилось бы на первом непустом "
        "списке).",
    )


# --- Exercise 5: a unit mix-up inside the valid range ---------------------------------

MILES_PER_KM = 0.621
SHIFT_ALPHA = 0.001
# Clean batches from other seeds than the reference: the same generator, so no shift.
CLEAN_SEEDS = (CHECK_SEED + 1, CHECK_SEED + 2, CHECK_SEED + 3)
TINY_ALPHA = 1e-300  # the miles' KS p-value (about 1e-17) is far above it

ShiftChecker = Callable[..., list[str]]


def in_miles(frame: pd.DataFrame) -> pd.DataFrame:
    """The batch with distances sent in miles: every value shrinks to 0.621 of itself."""
    return frame.assign(distance_km=frame["distance_km"] * MILES_PER_KM)


def _shift_problems(
    check: ShiftChecker, frame: pd.DataFrame, reference: pd.DataFrame, alpha: float
) -> list[str]:
    """What ``check(frame, reference, alpha)`` reports; it must not edit the reference."""
    given = reference.copy()
    problems = _problems(lambda batch: check(batch, given, alpha), frame)
    if not given.equals(reference):
        raise AnswerProblem(
            "функция изменила эталон reference: только читайте его — проверка сообщает, а не чинит."
        )
    return problems


def check_shift_problems(shift_problems: ShiftChecker) -> list[CheckResult]:
    """Exercise 5: distances in miles stay inside the range; only the reference shows them.

    ``shift_problems(frame, reference, alpha)`` must stay silent on clean batches from other
    seeds, name ``distance_km`` on the miles batch, compare with ``alpha`` (not a constant),
    and survive a renamed column and a text column.
    """
    reference = _batch()
    clean = {seed: make_batch(CHECK_ROWS, seed).frame for seed in CLEAN_SEEDS}
    said = {
        seed: _shift_problems(shift_problems, frame, reference, SHIFT_ALPHA)
        for seed, frame in clean.items()
    }
    false_alarms = {seed: problems for seed, problems in said.items() if problems}
    miles = in_miles(clean[CLEAN_SEEDS[0]])
    caught = _mentioning(
        _shift_problems(shift_problems, miles, reference, SHIFT_ALPHA), "distance_km"
    )
    ratio = miles["distance_km"].median() / reference["distance_km"].median()
    results = [
        expect(
            not false_alarms,
            f"чистые партии ({len(clean)} шт., другие seed) проходят без замечаний",
            f"на чистых партиях (тот же генератор, другие seed) функция нашла сдвиг: "
            f"{list(false_alarms.values())[:1]}. Маленькое p-value — признак различия: "
            f"строка нужна, только если p < alpha (здесь alpha = {SHIFT_ALPHA}).",
        ),
        expect(
            bool(caught),
            f"мили пойманы: {caught[0] if caught else ''}",
            f"расстояния в милях (все × {MILES_PER_KM}, медиана × {ratio:.2f} к эталону) не "
            "пойманы. Все значения внутри допустимого диапазона, поэтому диапазон их не видит: "
            "сравните распределение колонки партии с эталоном, "
            "drift.ks_test(reference[name], frame[name]).pvalue < alpha.",
        ),
    ]
    if caught:  # only then does a tiny alpha tell whether the argument is used
        miles_p = drift.ks_test(reference["distance_km"], miles["distance_km"]).pvalue
        strict = _mentioning(
            _shift_problems(shift_problems, miles, reference, TINY_ALPHA), "distance_km"
        )
        results.append(
            expect(
                not strict,
                "порог — аргумент alpha",
                f"при alpha = {TINY_ALPHA:g} p-value миль ({miles_p:.0e}) больше порога, а "
                f"функция всё равно сообщила: {strict[:1]}. Сравнивайте p-value с аргументом "
                "alpha.",
            )
        )
    hint = (
        "Пропускайте колонки, которых нет в партии или которые не числовые "
        "(pd.api.types.is_numeric_dtype): о них сообщают упражнения 1 и 2."
    )
    for scenario in ("renamed_column", "wrong_dtype"):
        results.append(_shift_survives(shift_problems, reference, scenario, hint))
    return results


def _shift_survives(
    shift_problems: ShiftChecker, reference: pd.DataFrame, scenario: str, hint: str
) -> CheckResult:
    try:
        _shift_problems(shift_problems, _batch(scenario), reference, SHIFT_ALPHA)
    except (NotImplementedError, AnswerProblem):
        raise
    except Exception as error:  # the student's code crashed on a broken batch
        return CheckResult(
            False,
            f"на партии «{scenario}» функция упала ({type(error).__name__}: {error}). {hint}",
        )
    return CheckResult(True, f"на партии «{scenario}» функция не падает")
