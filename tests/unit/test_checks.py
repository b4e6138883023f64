"""Lab checks and quizzes answer ✓/✗ with a hint, never a bare assert."""

import pytest

from mlops_course.classroom.checks import (
    CheckFailed,
    ExerciseNotDone,
    check_quiz,
    expect,
    grade_quiz,
    questions,
    quiz_names,
    report,
    run_check,
)


def test_report_passes_and_counts(capsys) -> None:
    report([expect(True, "всё хорошо", "подсказка")])
    out = capsys.readouterr().out
    assert "✓ всё хорошо" in out and "подсказка" not in out


def test_report_shows_the_hint_and_raises(capsys) -> None:
    with pytest.raises(CheckFailed, match="проверьте знак"):
        report([expect(True, "первое верно", "-"), expect(False, "-", "проверьте знак")])
    out = capsys.readouterr().out
    assert "✓ первое верно" in out and "✗ проверьте знак" in out


def test_a_crash_in_student_code_becomes_a_readable_hint(capsys) -> None:
    def broken_check():
        return [expect(1 / 0 == 0, "-", "-")]

    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        run_check(broken_check)


def test_an_unfinished_exercise_is_not_hidden_by_the_check() -> None:
    def unfinished():
        raise NotImplementedError("Упражнение не выполнено")

    with pytest.raises(NotImplementedError):
        run_check(unfinished)


def test_the_builders_stub_is_named_by_the_student_function_and_its_hint() -> None:
    def column_problems(frame):
        raise NotImplementedError("Упражнение не выполнено: сравните множества")

    def check(function):
        return [expect(function(None) == [], "-", "-")]

    with pytest.raises(ExerciseNotDone) as raised:
        run_check(check, column_problems)
    text = str(raised.value)
    assert text.startswith("Упражнение не выполнено: функция column_problems ещё не написана")
    assert "Подсказка: сравните множества." in text
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_another_not_implemented_error_is_left_alone() -> None:
    def check():
        raise NotImplementedError("a library feature")

    with pytest.raises(NotImplementedError, match="a library feature") as raised:
        run_check(check)
    assert not isinstance(raised.value, ExerciseNotDone)


@pytest.mark.parametrize(
    "error",
    [CheckFailed("Есть ошибки:\n- a\n- b"), ExerciseNotDone("Упражнение не выполнено: x")],
)
def test_course_errors_render_as_one_line_without_a_traceback(error) -> None:
    lines = error._render_traceback_()
    assert len(lines) == 1 and lines[0].startswith("✗ ")
    assert "Traceback" not in lines[0] and "File " not in lines[0]
    assert "\n- a" not in lines[0]  # the ✗ lines were printed already: not repeated


def test_a_failed_check_prints_each_verdict_once(capsys) -> None:
    with pytest.raises(CheckFailed) as raised:
        run_check(lambda: [expect(True, "верно", "-"), expect(False, "-", "исправьте знак")])
    out = capsys.readouterr().out
    assert out.count("исправьте знак") == 1 and out.count("✓ верно") == 1
    assert "исправьте знак" not in "".join(raised.value._render_traceback_())


def test_friendly_errors_are_not_installed_outside_ipython() -> None:
    from mlops_course.classroom.checks import install_friendly_errors

    assert install_friendly_errors() is False


@pytest.mark.parametrize("name", quiz_names())
def test_quiz_grading_right_wrong_and_unanswered(name: str, capsys) -> None:
    quiz = questions(name)
    right = {n: q.answer for n, q in enumerate(quiz, start=1)}
    wrong = {n: next(o for o in q.options if o != q.answer) for n, q in enumerate(quiz, 1)}
    assert all(result.passed for result in grade_quiz(name, right))
    assert not any(result.passed for result in grade_quiz(name, wrong))
    assert grade_quiz(name, {}) == [None] * len(quiz)
    assert not grade_quiz(name, {1: "z"})[0].passed
    check_quiz(name, right)
    assert f"Верно: {len(quiz)} из {len(quiz)}" in capsys.readouterr().out


def test_every_quiz_is_well_formed() -> None:
    assert "00_course_map" in quiz_names()
    for name in quiz_names():
        quiz = questions(name)
        assert len(quiz) >= 3, f"{name}: a quiz needs at least three questions"
        assert all(q.answer in q.options and len(q.options) >= 2 for q in quiz), name
        for number, q in enumerate(quiz, start=1):
            wrong = set(q.options) - {q.answer}
            assert set(q.why_wrong) == wrong, f"{name} #{number}: feedback for each of {wrong}"


def test_a_wrong_answer_gets_its_own_hint_but_not_the_answer(monkeypatch) -> None:
    import mlops_course.classroom.checks as checks

    quiz = [
        checks.Question(
            "2 + 2?",
            {"a": "4", "b": "22", "c": "5"},
            "a",
            "сложение чисел, а не строк",
            why_wrong={"b": "это склейка строк «2» и «2»"},
        )
    ]
    monkeypatch.setattr(checks, "questions", lambda name: quiz)
    with_hint, without_hint = grade_quiz("any", {1: "b"})[0], grade_quiz("any", {1: "c"})[0]
    assert not with_hint.passed and "склейка строк" in with_hint.message
    assert not without_hint.passed and "перечитайте раздел" in without_hint.message
    assert all("сложение чисел" not in r.message for r in (with_hint, without_hint))


def test_cyrillic_look_alike_letters_count_as_the_latin_options(monkeypatch) -> None:
    import mlops_course.classroom.checks as checks

    options = {"a": "1", "b": "2", "c": "3", "e": "4"}
    quiz = [checks.Question(f"{key}?", options, key, "-") for key in options]
    monkeypatch.setattr(checks, "questions", lambda name: quiz)
    # Typed on a Russian keyboard layout: а, В, с, Е are Cyrillic.
    results = grade_quiz("any", {1: "а", 2: "В", 3: "с", 4: "Е"})
    assert all(result.passed for result in results), [r.message for r in results]


def test_an_answer_that_is_not_an_option_names_the_latin_options(monkeypatch) -> None:
    import mlops_course.classroom.checks as checks

    quiz = [checks.Question("?", {"a": "1", "b": "2"}, "a", "-")]
    monkeypatch.setattr(checks, "questions", lambda name: quiz)
    (result,) = grade_quiz("any", {1: "ж"})
    assert not result.passed and "a, b" in result.message and "латинск" in result.message


def test_a_wrong_returned_value_is_named_without_the_run_the_cell_advice(capsys) -> None:
    import mlops_course.classroom.checks as checks

    def check(value, ok):
        checks.check_returned(value, ok, "верните список")
        return [expect(True, "-", "-")]

    with pytest.raises(CheckFailed):
        run_check(check, None, True)
    out = capsys.readouterr().out
    assert "ничего не вернула (None)" in out and "замените print на return" in out
    assert "Запустите ячейку" not in out
    with pytest.raises(CheckFailed):
        run_check(check, (1, 2), False)
    out = capsys.readouterr().out
    assert "tuple" in out and "верните список" in out and "Запустите ячейку" not in out
    run_check(check, [], True)
    assert "Все проверки пройдены" in capsys.readouterr().out


def quiz_abcd(monkeypatch, answer: str = "b") -> None:
    import mlops_course.classroom.checks as checks

    options = {"a": "1", "b": "2", "c": "3", "d": "4"}
    monkeypatch.setattr(
        checks, "questions", lambda name: [checks.Question("?", options, answer, "-")]
    )


def test_lowercase_cyrillic_ve_is_not_taken_for_latin_b(monkeypatch) -> None:
    # «в» is the third Russian option letter (and the Latin "d" key on a Russian layout).
    quiz_abcd(monkeypatch, answer="b")
    (result,) = grade_quiz("any", {1: "в"})
    assert not result.passed and "латинск" in result.message and "a, b, c, d" in result.message


@pytest.mark.parametrize("typed", [" b ", "B\n", "b)", "b.", "В"])
def test_spaces_case_and_a_trailing_bracket_or_dot_are_ignored(monkeypatch, typed) -> None:
    quiz_abcd(monkeypatch, answer="b")
    (result,) = grade_quiz("any", {1: typed})
    assert result.passed, (typed, result.message)


def test_answers_may_be_keyed_by_strings(monkeypatch) -> None:
    quiz_abcd(monkeypatch, answer="b")
    assert grade_quiz("any", {"1": "b"})[0].passed
    assert not grade_quiz("any", {"1": "c"})[0].passed
