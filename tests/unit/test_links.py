"""Links to a notebook's artefacts: relative to the notebook's folder, inside the checkout."""

from __future__ import annotations

from pathlib import Path

from mlops_course.classroom.links import file_link, relative_href
from mlops_course.config import repo_root


def test_a_file_in_the_checkout_is_linked_relative_to_the_notebook_folder(monkeypatch):
    root = repo_root()
    monkeypatch.chdir(root / "notebooks")
    report = root / ".work" / "reports" / "evidently_drift.html"
    assert relative_href(report) == "../.work/reports/evidently_drift.html"
    link = file_link(report, "HTML-отчёт").data
    assert link.startswith("HTML-отчёт: [`") and link.endswith(
        "](../.work/reports/evidently_drift.html)"
    )


def test_a_file_outside_the_checkout_is_named_but_not_linked(tmp_path: Path):
    outside = tmp_path / "report.html"
    assert relative_href(outside) is None
    assert "](" not in file_link(outside).data and "report.html" in file_link(outside).data
