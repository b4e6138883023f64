"""Labs as shipped stop at their first exercise; solutions pass every check.

Solutions are executed and compared by nbval (a failed check raises), so here we prove
the other half: each lab really asks the student for something, and its checks run.
"""

import shutil
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
    assert failure.value.ename == "NotImplementedError"
    assert "Упражнение не выполнено" in failure.value.evalue
    assert exercises[0] <= failure.value.cell_index < exercises[1]


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
