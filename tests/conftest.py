"""Test-wide setup: every test run writes only to a temporary work directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Set before any test module imports the course package, so nothing reaches the checkout.
os.environ["MLOPS_COURSE_HOME"] = tempfile.mkdtemp(prefix="mlops-course-test-")


@pytest.fixture
def work_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty work directory for one test."""
    home = tmp_path / "work"
    monkeypatch.setenv("MLOPS_COURSE_HOME", str(home))
    return home
