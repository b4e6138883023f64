"""The course map: box titles wrap cleanly; status and links follow the files that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_course.classroom.course_map import (
    NOTEBOOKS,
    PLANNED,
    READY,
    labs_markdown,
    labs_table,
    notebooks_markdown,
    notebooks_table,
    wrap_title,
)


@pytest.mark.parametrize("title", [title for _, _, title, _ in NOTEBOOKS])
def test_wrapped_title_reads_back_as_the_title_and_fits_the_box(title: str) -> None:
    wrapped = wrap_title(title)
    assert wrapped.replace("-\n", "").replace("\n", " ") == title
    assert max(len(line) for line in wrapped.splitlines()) <= 12


def fake_checkout(tmp_path: Path, *files: str) -> Path:
    for relative in files:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("{}")
    return tmp_path


def test_status_comes_from_the_files_in_the_checkout(tmp_path: Path) -> None:
    root = fake_checkout(
        tmp_path, "notebooks/01_why_mlops.ipynb", "labs/lab01_data_validation.ipynb"
    )
    notebooks = notebooks_table(root)
    assert notebooks.loc["01", "статус"] == READY
    assert notebooks.loc["02", "статус"] == PLANNED
    labs = labs_table(root).set_index("лабораторная")
    assert labs.loc["lab01_data_validation", "статус"] == READY
    assert labs.loc["lab02_drift_detection", "статус"] == PLANNED


def test_markdown_links_only_what_exists_and_marks_the_start(tmp_path: Path) -> None:
    root = fake_checkout(
        tmp_path, "notebooks/01_why_mlops.ipynb", "labs/lab01_data_validation.ipynb"
    )
    notebooks = notebooks_markdown(root).data
    assert "[01_why_mlops](01_why_mlops.ipynb)" in notebooks
    assert "начните отсюда" in notebooks.splitlines()[3]  # header, rule, 00, then 01
    assert "07_scalability (готовится)" in notebooks and "(07_scalability.ipynb)" not in notebooks
    labs = labs_markdown(root).data
    assert "[lab01_data_validation](../my_labs/lab01_data_validation.ipynb)" in labs
    assert "[решение](../solutions/lab01_data_validation.ipynb)" in labs
    assert "lab02_drift_detection (готовится)" in labs


def test_the_real_checkout_has_every_listed_ready_notebook() -> None:
    # The status must not drift from the files: notebook 00 itself is always there.
    assert notebooks_table().loc["00", "статус"] == READY
