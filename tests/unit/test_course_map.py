"""The course map: box titles wrap at spaces or at a marked hyphen, never mid-word."""

from __future__ import annotations

import pytest

from mlops_course.classroom.course_map import NOTEBOOKS, wrap_title


@pytest.mark.parametrize("title", [title for _, _, title, _ in NOTEBOOKS])
def test_wrapped_title_reads_back_as_the_title_and_fits_the_box(title: str) -> None:
    wrapped = wrap_title(title)
    assert wrapped.replace("-\n", "").replace("\n", " ") == title
    assert max(len(line) for line in wrapped.splitlines()) <= 12
