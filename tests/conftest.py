"""Test-wide setup: every test run writes only to a temporary work directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Set before any test module imports the course package, so nothing reaches the checkout.
os.environ["MLOPS_COURSE_HOME"] = tempfile.mkdtemp(prefix="mlops-course-test-")
# pytest-xdist already uses every core: nested OpenMP threads (HistGradientBoosting)
# would oversubscribe them and slow a 0.3 s fit down to a minute.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def work_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty work directory for one test."""
    home = tmp_path / "work"
    monkeypatch.setenv("MLOPS_COURSE_HOME", str(home))
    return home
