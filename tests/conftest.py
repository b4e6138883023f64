"""Test-wide setup: every test run writes only to a temporary work directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Set before any test module imports the course package, so nothing reaches the checkout.
# One per process: each pytest-xdist worker imports this file and gets its own.
SESSION_HOME = tempfile.mkdtemp(prefix="mlops-course-test-")
os.environ["MLOPS_COURSE_HOME"] = SESSION_HOME
# pytest-xdist already uses every core: nested OpenMP threads (HistGradientBoosting)
# would oversubscribe them and slow a 0.3 s fit down to a minute.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.hookimpl(trylast=True)  # after session fixtures (servers writing there) are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove this process's work directory: left behind, they pile up in the temp dir."""
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


@pytest.fixture
def work_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty work directory for one test."""
    home = tmp_path / "work"
    monkeypatch.setenv("MLOPS_COURSE_HOME", str(home))
    return home


def system_tool(*names: str, package: str) -> str:
    """Path of the first of ``names`` on PATH, for tests that need a system program.

    Chromium and Prometheus are Debian packages, not Python ones: without them the test is
    skipped with the install command, so ``make test`` still works on a laptop. ``.ci/run``
    installs them and sets ``MLOPS_COURSE_REQUIRE_SYSTEM_TOOLS=1``, which makes a missing
    program a failure instead.
    """
    path = next((found for name in names if (found := shutil.which(name))), None)
    if path is None:
        message = f"{names[0]} is not installed (Debian: apt-get install {package})"
        if os.environ.get("MLOPS_COURSE_REQUIRE_SYSTEM_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, show: Callable[[], Any] = str
) -> Any:
    """Poll ``condition`` until it is truthy; on timeout say what ``show()`` saw last."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s (last seen: {show()})")
