"""Labs as shipped stop at their first exercise; solutions pass every check.

Solutions are executed and compared by nbval (a failed check raises), so here we prove
the other half: each lab really asks the student for something, and its checks run.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
from papermill.exceptions import PapermillExecutionError  # noqa: E402

import course  # noqa: E402

MIN_EXERCISES = 3


def exercise_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "raise NotImplementedError(" in cell.source
    ]


def assert_stops_at_first_exercise(lab: nbformat.NotebookNode, cwd: Path) -> None:
    """Everything before exercise 1 runs; the run stops inside exercise 1 (the cell itself,
    or its check when the exercise is a function that is only called there)."""
    exercises = exercise_cells(lab) + [len(lab.cells)]
    with pytest.raises(PapermillExecutionError) as failure:
        course.execute(lab, cwd)
    # ExerciseNotDone (a NotImplementedError) when the stub is a function the check calls.
    assert failure.value.ename in {"NotImplementedError", "ExerciseNotDone"}
    assert failure.value.evalue.startswith("Упражнение не выполнено")
    assert exercises[0] <= failure.value.cell_index < exercises[1]
    # What the student sees there: one line, no traceback through the course package.
    assert len(failure.value.traceback) == 1, failure.value.traceback
    assert "checks.py" not in failure.value.traceback[0]


@pytest.mark.slow
def test_fixture_lab_stops_and_its_solution_passes(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "course", tmp_path / "course")
    (tmp_path / "course" / "notebooks").mkdir()
    solution, lab = course.targets(tmp_path)
    assert_stops_at_first_exercise(course.render(lab, tmp_path), tmp_path)
    executed = course.execute(course.render(solution, tmp_path), tmp_path)
    outputs = "".join(
        output.get("text", "") for cell in executed.cells for output in cell.get("outputs", [])
    )
    assert outputs.count("Все проверки пройдены") == 2


LABS = sorted((REPO_ROOT / "labs").glob("*.ipynb"))


@pytest.mark.slow
def test_every_shipped_lab_stops_at_its_first_exercise() -> None:
    for lab_path in LABS:
        lab = nbformat.read(lab_path, as_version=4)
        assert len(exercise_cells(lab)) >= MIN_EXERCISES, f"{lab_path.name}: < 3 exercises"
        assert_stops_at_first_exercise(lab, lab_path.parent)


def test_every_exercise_is_followed_by_a_check() -> None:
    for lab_path in LABS:
        lab = nbformat.read(lab_path, as_version=4)
        for index in exercise_cells(lab):
            following = "".join(cell.source for cell in lab.cells[index : index + 3])
            assert "run_check(" in following or "report(" in following, (
                f"exercise in cell {index} of {lab_path.name} has no check after it"
            )


def cell_errors(nb: nbformat.NotebookNode) -> list[dict]:
    return [
        output for cell in nb.cells for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]  # fmt: skip


@pytest.mark.slow
def test_what_the_student_sees_is_the_verdicts_and_one_line(tmp_path: Path) -> None:
    """In a real kernel: a failed check and an unfinished cell show no traceback."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "from mlops_course.classroom.checks import expect, run_check\n"
                "run_check(lambda: [expect(True, 'первое верно', '-'),"
                " expect(False, '-', 'подсказка к ошибке')])"
            ),
            nbformat.v4.new_code_cell(
                'raise NotImplementedError("Упражнение не выполнено: допишите код")'
            ),
            nbformat.v4.new_code_cell("1 / 0"),
        ]
    )
    client = NotebookClient(nb, kernel_name=course.KERNEL, allow_errors=True, timeout=60)
    client.execute(cwd=str(tmp_path))
    check, stub, other = nb.cells
    printed = "".join(o.get("text", "") for o in check.outputs if o.output_type == "stream")
    assert printed.count("подсказка к ошибке") == 1 and "✓ первое верно" in printed
    (failed,) = cell_errors(nbformat.v4.new_notebook(cells=[check]))
    assert failed.ename == "CheckFailed" and len(failed.traceback) == 1
    assert "подсказка" not in failed.traceback[0]
    (unfinished,) = cell_errors(nbformat.v4.new_notebook(cells=[stub]))
    assert unfinished.ename == "NotImplementedError" and len(unfinished.traceback) == 1
    assert "допишите код" in unfinished.traceback[0]
    (crash,) = cell_errors(nbformat.v4.new_notebook(cells=[other]))
    assert crash.ename == "ZeroDivisionError" and len(crash.traceback) > 1  # untouched


def test_the_student_copy_step_copies_once_and_never_overwrites(tmp_path: Path) -> None:
    """`make my-labs`: new labs are copied to my_labs/, existing answers are kept."""
    shutil.copy(REPO_ROOT / "Makefile", tmp_path)
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "lab01.ipynb").write_text("blank 1")

    def make() -> None:
        subprocess.run(["make", "-s", "-C", str(tmp_path), "my-labs"], check=True,
                       capture_output=True)  # fmt: skip

    make()
    (tmp_path / "my_labs" / "lab01.ipynb").write_text("my answers")
    (tmp_path / "labs" / "lab01.ipynb").write_text("blank 1, updated by git pull")
    (tmp_path / "labs" / "lab02.ipynb").write_text("blank 2")
    make()
    assert (tmp_path / "my_labs" / "lab01.ipynb").read_text() == "my answers"
    assert (tmp_path / "my_labs" / "lab02.ipynb").read_text() == "blank 2"


def test_the_student_copy_is_ignored_by_git_and_made_on_binder() -> None:
    assert "/my_labs/" in (REPO_ROOT / ".gitignore").read_text().split()
    post_build = (REPO_ROOT / "postBuild").read_text()
    assert 'test -e "my_labs/${lab#labs/}" || cp "$lab" my_labs/' in post_build


def test_a_lab_says_where_to_work_and_solutions_say_not_to_edit() -> None:
    for target in course.targets():
        note = course.header_cell(target, REPO_ROOT).source
        if target.kind == "lab":
            assert f"my_labs/{target.output.name}" in note and "git pull" in note
            assert "Не редактируйте" not in note
            assert f"(../solutions/{target.output.name})" in note  # same depth as labs/
        else:
            assert "Не редактируйте этот файл" in note
