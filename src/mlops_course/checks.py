"""Friendly automatic checks for labs and self-check quizzes.

A check never ends with a bare ``assert``: it prints ✓ with what was confirmed, or ✗
with what is wrong and a hint how to fix it, and then raises ``CheckFailed`` so that a
notebook run (and CI) stops at the first wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


class CheckFailed(AssertionError):
    """A lab check found a wrong answer; the message says what to fix."""


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


def run_check(check: Callable[..., list[CheckResult]], *args, **kwargs) -> None:
    """Call a lab check; an exception inside the student's code becomes a hint, not a trace."""
    try:
        results = check(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # the student's code crashed: say so in words
        results = [
            CheckResult(
                False,
                f"проверка не смогла выполнить ваш код: {type(error).__name__}: {error}. "
                "Запустите ячейку с решением и посмотрите на ошибку.",
            )
        ]
    report(results)


@dataclass(frozen=True)
class Question:
    text: str
    options: dict[str, str]
    answer: str
    explanation: str


QUIZZES: dict[str, list[Question]] = {
    "00_course_map": [
        Question(
            "Откуда берутся файлы в папке notebooks/?",
            {
                "a": "их правят руками в JupyterLab",
                "b": "их генерирует сборщик из исходников в course/ (make notebooks)",
                "c": "их скачивают из интернета при запуске",
            },
            "b",
            "Единственный источник правды — course/; notebooks/, solutions/ и labs/ "
            "пересобираются командой make notebooks.",
        ),
        Question(
            "Куда курс пишет базы MLflow, кэши DVC и отчёты?",
            {
                "a": "в рабочую папку (MLOPS_COURSE_HOME, по умолчанию .work/)",
                "b": "прямо в папку с ноутбуками",
                "c": "в домашнюю папку пользователя, всегда",
            },
            "a",
            "Все артефакты запусков идут в рабочую папку: git status остаётся чистым.",
        ),
        Question(
            "Почему данные курса генерируются, а не скачиваются?",
            {
                "a": "так быстрее писать код",
                "b": "чтобы курс работал офлайн и воспроизводимо, а дрейф можно было "
                "дозировать и измерять",
                "c": "настоящих данных о доставке не бывает",
            },
            "b",
            "Генератор с seed даёт одни и те же данные везде и знает «истину», "
            "с которой сравниваются детекторы дрейфа.",
        ),
    ],
}


def show_quiz(name: str) -> None:
    """Print the questions of a quiz with their options."""
    for number, question in enumerate(QUIZZES[name], start=1):
        print(f"{number}. {question.text}")
        for key, option in question.options.items():
            print(f"   {key}) {option}")


def grade_quiz(name: str, answers: Mapping[int, str]) -> list[CheckResult | None]:
    """Verdict per question (None while unanswered); wrong answers are not corrected."""
    results: list[CheckResult | None] = []
    for number, question in enumerate(QUIZZES[name], start=1):
        given = str(answers.get(number) or "").strip().lower()
        if not given:
            results.append(None)
        elif given not in question.options:
            options = ", ".join(question.options)
            results.append(
                CheckResult(False, f"вопрос {number}: выберите один из вариантов {options}")
            )
        elif given == question.answer:
            results.append(CheckResult(True, f"вопрос {number}: верно. {question.explanation}"))
        else:
            results.append(
                CheckResult(False, f"вопрос {number}: «{given}» — неверно, перечитайте раздел")
            )
    return results


def check_quiz(name: str, answers: Mapping[int, str]) -> None:
    """Print ✓/✗ per answered question and the score.

    A quiz is a self-check, not a gate: it never raises, so a lecture notebook with the
    answers left blank still runs to the end.
    """
    results = grade_quiz(name, answers)
    for number, result in enumerate(results, start=1):
        print(result if result else f"? вопрос {number}: впишите букву ответа в answers")
    right = sum(1 for result in results if result and result.passed)
    print(f"Верно: {right} из {len(results)}")
