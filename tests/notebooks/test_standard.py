"""The notebook standard (blueprint 5a), checked on every committed notebook and solution.

These are the rules a reviewer would otherwise check by eye: structure (Цели, parameters,
Итоги, a checked quiz), evidence (a PNG figure), presentability (sections are slides, short
cells) and clean outputs (no warnings, errors, absolute paths, cut tables or huge blobs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from mlops_course.classroom.checks import questions, quiz_names
from tests.conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
MAX_CELL_LINES = 18  # "about 15 lines at most"
MAX_OUTPUT_BYTES = 1_000_000  # Evidently's HTML is ~4 MB: it belongs in the work dir
ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:home|root|tmp|work|Users|var/folders)/")
CUT_TABLE_CELL = re.compile(r"\.\.\.</td>")  # pandas' display.max_colwidth at work


def ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def headings(nb: nbformat.NotebookNode) -> list[str]:
    return [
        line[3:].strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in nb.cells for output in cell.get("outputs", [])]


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=ids(NOTEBOOKS + SOLUTIONS))
def test_structure_goals_parameters_summary(path: Path) -> None:
    nb = read(path)
    sections = headings(nb)
    assert sections and sections[0] == "Цели", "the first section must be «Цели»"
    assert "Итоги" in sections, "a notebook ends with «Итоги»"
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "seed =" in parameters[0].source, "one parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_lecture_notebook_ends_with_a_checked_quiz(path: Path) -> None:
    source = "".join(cell.source for cell in read(path).cells if cell.cell_type == "code")
    assert path.stem in quiz_names(), f"no src/mlops_course/quizzes/q{path.stem}.py"
    assert len(questions(path.stem)) >= 3
    assert f'show_quiz("{path.stem}")' in source and f'check_quiz("{path.stem}"' in source


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=ids(NOTEBOOKS + SOLUTIONS))
def test_evidence_and_presentation(path: Path) -> None:
    nb = read(path)
    data = [output.get("data", {}) for output in outputs(nb)]
    assert any("image/png" in d for d in data), "at least one figure (PNG)"
    assert not any("image/svg+xml" in d for d in data), "figures are PNG (nbval compares SVG)"
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            assert cell.metadata.get("slideshow", {}).get("slide_type") == "slide", cell.source
        # A `%%writefile` cell is a whole file a lab has the student write (a script a DVC
        # stage runs), not notebook logic that could move to the package.
        if cell.cell_type == "code" and not cell.source.startswith("%%writefile"):
            lines = len(cell.source.splitlines())
            assert lines <= MAX_CELL_LINES, f"a {lines}-line cell: move logic to mlops_course"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=ids(NOTEBOOKS + SOLUTIONS))
def test_outputs_are_clean(path: Path) -> None:
    for output in outputs(read(path)):
        assert output["output_type"] != "error", output.get("evalue")
        assert output.get("name") != "stderr", f"stderr in the output: {output.get('text')!r}"
        text = json.dumps(output, ensure_ascii=False)
        assert len(text.encode()) < MAX_OUTPUT_BYTES, "a multi-megabyte output"
        without_images = json.dumps(
            {k: v for k, v in output.get("data", {}).items() if not k.startswith("image/")}
            | {"text": output.get("text", "")},
            ensure_ascii=False,
        )
        assert not ABSOLUTE_PATH.search(without_images), "an absolute path in the output"
        assert not CUT_TABLE_CELL.search(without_images), "a table cell cut with '...'"
