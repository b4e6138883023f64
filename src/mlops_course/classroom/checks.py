"""Friendly automatic checks for labs and self-check quizzes.

Each lab's checks live in ``mlops_course.classroom.lab_checks.<lab>``, each notebook's quiz in
``mlops_course.classroom.quizzes.q<notebook>`` (``QUESTIONS``), so they can grow independently.

A check never ends with a bare ``assert``: it prints ✓ with what was confirmed, or ✗
with what is wrong and a hint how to fix it, and then raises ``CheckFailed`` so that a
notebook run (and CI) stops at the first wrong answer.

What the student sees is the ✓/✗ lines and one short line, never a traceback through this
package: ``CheckFailed`` and ``ExerciseNotDone`` render themselves in IPython as that one line
(``_render_traceback_``), and an exercise left as the builder shipped it (its
``raise NotImplementedError("Упражнение не выполнено: …")``) says so in one line as well.
"""

from __future__ import annotations

import importlib
import pkgutil
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

NOT_DONE_PREFIX = "Упражнение не выполнено"
"""How the builder's stub starts its message (``tools/course.py``, ``strip_solutions``)."""


class CheckFailed(AssertionError):
    """A lab check found a wrong answer; the ✗ lines printed above say what to fix.

    In IPython it shows one line instead of a traceback, and the cell still fails, so Run
    All stops here. The message (``str``) lists the failed verdicts, for logs and CI.
    """

    def _render_traceback_(self) -> list[str]:
        return [
            "✗ Проверка не пройдена: исправьте то, что отмечено ✗ выше, и запустите ячейки снова."
        ]


class ExerciseNotDone(NotImplementedError):
    """The student's function still raises the builder's ``NotImplementedError``.

    One line in IPython (no traceback); the cell fails, so Run All stops at this exercise.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"✗ {self}"]


def _not_done(error: BaseException) -> bool:
    return isinstance(error, NotImplementedError) and str(error).startswith(NOT_DONE_PREFIX)


class AnswerProblem(Exception):
    """The check recognised what is wrong with the student's code (a wrong returned value,
    a known mistake): the message is the whole hint, so no traceback advice is added."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.message}"


def expect(condition: bool, success: str, hint: str) -> CheckResult:
    """One verdict: ``success`` if ``condition`` holds, else ``hint``."""
    return CheckResult(bool(condition), success if condition else hint)


def report(results: list[CheckResult]) -> None:
    """Print every verdict; raise ``CheckFailed`` listing the failed ones."""
    for result in results:
        print(result)
    failed = [result.message for result in results if not result.passed]
    if failed:
        raise CheckFailed("Есть ошибки:\n- " + "\n- ".join(failed))
    print(f"Все проверки пройдены ({len(results)}).")


def check_returned(value: object, ok: bool, hint: str) -> None:
    """Raise ``AnswerProblem`` unless a student's function returned what the exercise asks.

    ``ok`` says whether ``value`` has the right type and shape, ``hint`` what to return
    instead. ``None`` has its own hint: it nearly always means print instead of return.
    """
    if value is None:
        raise AnswerProblem(
            "функция ничего не вернула (None): замените print на return "
            "(или допишите return в конце функции)."
        )
    if not ok:
        raise AnswerProblem(f"функция вернула {type(value).__name__} {reprlib.repr(value)}: {hint}")


def _unfinished(args: tuple, error: NotImplementedError) -> ExerciseNotDone:
    """An ``ExerciseNotDone`` naming the student's function that is still a stub."""
    names = [getattr(arg, "__name__", "") for arg in args if callable(arg)]
    names = [name for name in names if name and name != "<lambda>"]
    where = (
        f"функция {names[0]} ещё не написана (в ней raise NotImplementedError). Напишите её "
        "в ячейке упражнения выше, запустите ту ячейку, затем эту."
        if names
        else "допишите код упражнения выше, запустите его ячейку, затем эту."
    )
    hint = str(error).removeprefix(NOT_DONE_PREFIX).strip(" :")
    return ExerciseNotDone(f"{NOT_DONE_PREFIX}: {where}" + (f" Подсказка: {hint}." if hint else ""))


def run_check(check: Callable[..., list[CheckResult]], *args, **kwargs) -> None:
    """Call a lab check; an exception inside the student's code becomes a hint, not a trace.

    Prints each verdict once; raises ``CheckFailed`` if one failed, ``ExerciseNotDone`` if
    the exercise is still the builder's stub (both show one line in IPython, no traceback).
    """
    try:
        results = check(*args, **kwargs)
    except ExerciseNotDone:
        raise
    except NotImplementedError as error:
        if _not_done(error):
            raise _unfinished(args, error) from None
        raise
    except CheckFailed:
        raise
    except AnswerProblem as problem:  # recognised: the message already says what to fix
        results = [CheckResult(False, str(problem))]
    except Exception as error:  # the student's code crashed: say so in words
        results = [
            CheckResult(
                False,
                f"проверка не смогла выполнить ваш код: {type(error).__name__}: {error}. "
                "Запустите ячейку с решением и посмотрите на ошибку.",
            )
        ]
    report(results)


def _show_unfinished(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython handler for ``NotImplementedError``: the builder's stub, raised right in an
    exercise cell, shows one line; any other one shows as IPython would show it."""
    if _not_done(value) and not hasattr(value, "_render_traceback_"):
        line = f"✗ {value}. Замените raise NotImplementedError своим кодом и запустите ячейку."
        shell._showtraceback(etype, value, [line])
    else:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def install_friendly_errors() -> bool:
    """In an IPython kernel, show the stub's ``NotImplementedError`` without a traceback.

    Called when this module is imported (every lab imports it before its exercises); a
    no-op outside IPython. Returns whether it was installed.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is always installed in the course
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((NotImplementedError,), _show_unfinished)
    return True


install_friendly_errors()


@dataclass(frozen=True)
class Question:
    """A multiple-choice question. ``why_wrong`` maps a wrong option to feedback that says
    what the misconception is without giving the right answer away."""

    text: str
    options: dict[str, str]
    answer: str
    explanation: str
    why_wrong: dict[str, str] = field(default_factory=dict)


def questions(name: str) -> list[Question]:
    """The quiz of notebook ``name`` (e.g. "00_course_map"), from ``classroom.quizzes``."""
    return importlib.import_module(f"mlops_course.classroom.quizzes.q{name}").QUESTIONS


def quiz_names() -> list[str]:
    """Every notebook that has a quiz."""
    package = importlib.import_module("mlops_course.classroom.quizzes")
    return sorted(
        module.name[1:]
        for module in pkgutil.iter_modules(package.__path__)
        if module.name.startswith("q")
    )


def show_quiz(name: str) -> None:
    """Print the questions of a quiz with their options."""
    for number, question in enumerate(questions(name), start=1):
        print(f"{number}. {question.text}")
        for key, option in question.options.items():
            print(f"   {key}) {option}")


# Cyrillic letters that look like the Latin option letters: typed on a Russian keyboard
# layout they are indistinguishable on screen, so they count as the Latin ones. Only true
# look-alikes, translated before lower-casing: a lowercase «в» does not look like "b" (it
# is the third Russian option letter, and the Latin "d" key types it), so it stays.
CYRILLIC_LOOKALIKES = str.maketrans("АВСЕасе", "ABCEace")


def normalize_answer(answer: object) -> str:
    """An answer as an option key: trimmed, Cyrillic look-alikes made Latin, lower case,
    without a trailing ")" or "." ("b)" and "b." are "b")."""
    text = str(answer or "").strip().translate(CYRILLIC_LOOKALIKES).lower()
    return text.rstrip(").").strip()


def grade_quiz(name: str, answers: Mapping[int | str, str]) -> list[CheckResult | None]:
    """Verdict per question (None while unanswered); wrong answers are not corrected.

    ``answers`` maps the question number (1, 2, ... or "1", "2", ...) to an option key.
    """
    results: list[CheckResult | None] = []
    for number, question in enumerate(questions(name), start=1):
        given = normalize_answer(answers.get(number) or answers.get(str(number)))
        if not given:
            results.append(None)
        elif given not in question.options:
            options = ", ".join(question.options)
            results.append(
                CheckResult(
                    False,
                    f"вопрос {number}: выберите один из вариантов {options} (латинские буквы)",
                )
            )
        elif given == question.answer:
            results.append(CheckResult(True, f"вопрос {number}: верно. {question.explanation}"))
        else:
            hint = question.why_wrong.get(given, "перечитайте раздел и попробуйте ещё раз.")
            results.append(CheckResult(False, f"вопрос {number}: «{given}» — неверно: {hint}"))
    return results


def check_quiz(name: str, answers: Mapping[int | str, str]) -> None:
    """Print ✓/✗ per answered question and the score.

    A quiz is a self-check, not a gate: it never raises, so a lecture notebook with the
    answers left blank still runs to the end.
    """
    results = grade_quiz(name, answers)
    for number, result in enumerate(results, start=1):
        print(result if result else f"? вопрос {number}: впишите букву ответа в answers")
    right = sum(1 for result in results if result and result.passed)
    print(f"Верно: {right} из {len(results)}")
