"""The notebook builder: labs lose their solutions, sync problems are caught by name."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import course  # noqa: E402

FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    """A miniature course: one notebook source (the real 00) and one fixture lab."""
    (tmp_path / "course" / "notebooks").mkdir(parents=True)
    shutil.copy(
        REPO_ROOT / "course" / "notebooks" / "00_course_map.py", tmp_path / "course" / "notebooks"
    )
    shutil.copytree(FIXTURES / "course" / "labs", tmp_path / "course" / "labs")
    for target in course.targets(tmp_path):
        # Write unexecuted renders: enough for the sync check, which compares sources.
        target.output.parent.mkdir(exist_ok=True)
        nb = course.render(target, tmp_path)
        if target.executed:
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.execution_count = 1
        nbformat.write(nb, target.output)
    return tmp_path


def lab_target(root: Path) -> course.Target:
    return next(t for t in course.targets(root) if t.kind == "lab")


def test_lab_solutions_become_todo_and_not_implemented() -> None:
    source = "def f(x):\n    ### BEGIN SOLUTION удвойте x\n    return 2 * x\n    ### END SOLUTION\n"
    stripped = course.strip_solutions(source)
    assert "return 2 * x" not in stripped
    assert "    # TODO: удвойте x\n" in stripped
    assert '    raise NotImplementedError("Упражнение не выполнено: удвойте x")' in stripped
    compile(stripped, "<lab>", "exec")  # the lab stays valid Python


def test_render_keeps_tags_adds_header_and_slides(course_root: Path) -> None:
    lab = course.render(lab_target(course_root), course_root)
    solution = course.render(course.targets(course_root)[1], course_root)
    assert "course/labs/lab00_fixture.py" in lab.cells[0].source
    assert any("parameters" in cell.metadata.get("tags", []) for cell in lab.cells)
    assert lab.cells[1].metadata["slideshow"]["slide_type"] == "slide"
    assert "return 2 * x" in "".join(cell.source for cell in solution.cells)
    assert "### BEGIN SOLUTION" not in "".join(cell.source for cell in solution.cells)
    assert [c.id for c in lab.cells] == [
        c.id for c in course.render(lab_target(course_root), course_root).cells
    ]


def test_a_long_section_continues_on_sub_slides_one_code_cell_each() -> None:
    # What fits a 1280 x 720 slide: the text, then one code cell with its output.
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    skipped = md("спрятано")
    skipped.metadata["slideshow"] = {"slide_type": "skip"}
    cells = [
        md("## Раздел"), code("a = 1"), code("b = 2"), md("Пояснение"), md("Ещё текст"),
        code("c = 3"), skipped, code("d = 4"), md("### Подраздел"), code("e = 5"), md("# Итоги"),
    ]  # fmt: skip
    assert course.slide_types(cells) == [
        "slide", "-", "subslide", "subslide", "-", "-", "skip", "subslide", "subslide", "-",
        "slide",
    ]  # fmt: skip


def test_fresh_course_is_in_sync(course_root: Path) -> None:
    assert course.check(course_root) == []


def test_changed_source_without_rebuild_names_the_stale_notebook(course_root: Path) -> None:
    source = course_root / "course" / "notebooks" / "00_course_map.py"
    source.write_text(source.read_text().replace("seed = 42", "seed = 43"))
    problems = course.check(course_root)
    assert problems and "notebooks/00_course_map.ipynb: out of sync" in problems[0]


def test_solution_pasted_into_a_lab_is_detected(course_root: Path) -> None:
    lab_path = lab_target(course_root).output
    lab = nbformat.read(lab_path, as_version=4)
    for cell in lab.cells:
        cell.source = cell.source.replace(
            'raise NotImplementedError("Упражнение не выполнено: удвойте x")', "return 2 * x"
        )
    nbformat.write(lab, lab_path)
    assert any("labs/lab00_fixture.ipynb: out of sync" in p for p in course.check(course_root))


def test_orphan_and_missing_notebooks_are_reported(course_root: Path) -> None:
    (course_root / "notebooks" / "00_course_map.ipynb").rename(
        course_root / "notebooks" / "99_orphan.ipynb"
    )
    problems = "\n".join(course.check(course_root))
    assert "notebooks/00_course_map.ipynb: missing" in problems
    assert "notebooks/99_orphan.ipynb: has no source" in problems


def test_normalise_strips_volatile_metadata() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata.update(papermill={"duration": 1.0}, kernelspec={"display_name": "venv"})
    nb.cells[0].metadata.update(papermill={"duration": 0.1}, execution={"t": "now"})
    nb = course.normalise(nb)
    assert "papermill" not in nb.metadata and nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].metadata == {}


def test_a_misspelled_name_is_an_error_not_an_empty_build(capsys) -> None:
    for command in ("build", "run"):
        with pytest.raises(SystemExit) as raised:
            course.main([command, "01_why_mlop"])
        assert raised.value.code == 2
        assert "no source named 01_why_mlop" in capsys.readouterr().err


def test_run_artefacts_tracked_by_git_are_found_at_any_depth(tmp_path: Path) -> None:
    artefacts = [
        "__pycache__/x.cpython-311.pyc",
        ".ipynb_checkpoints/a-checkpoint.ipynb",
        "notebooks/mlruns/0/meta.yaml",
        "data/raw/orders.csv",
        "course.db",
    ]
    sources = ["data/README.md", "data/.gitignore", "src/pkg/module.py", "README.md"]
    for path in artefacts + sources:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-f", "."], cwd=tmp_path, check=True)
    assert sorted(course.tracked_artefacts(tmp_path)) == sorted(artefacts)
