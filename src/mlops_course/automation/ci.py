"""Continuous integration's first step, from a notebook: run a test file with pytest, quietly."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


def _pytest(path: Path, *extra: str) -> int:
    """Run pytest on one file in a fresh process; return its exit code.

    pytest runs in a fresh Python process: inside the notebook's own process it would reuse
    the modules it imported on the first call, so after an edit of the tests or of the code
    under test a re-run would report the old verdict.
    """
    path = Path(path).resolve()
    # Only pytest itself: no config or plugins of the course, so it starts in a second,
    # and no cache: the run writes nothing next to the tests or into the checkout.
    args = ["-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(path.parent)]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *args, *extra, str(path)],
        cwd=path.parent,
        env=env,
        capture_output=True,
        check=False,
    )
    return completed.returncode


def run_pytest(path: Path) -> int:
    """Run pytest quietly on one file; return its exit code (0 = all tests passed)."""
    return _pytest(path)


def pytest_outcomes(path: Path) -> dict[str, str]:
    """Run pytest quietly on one file; return each test's outcome by name, in file order.

    Outcomes are ``passed``, ``failed`` (an assertion did not hold), ``error`` (the test
    could not run; a file whose imports fail is one ``error`` named after the file) or
    ``skipped``, read from pytest's JUnit XML report (written to a temporary file, so
    nothing lands next to the tests).
    """
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        _pytest(path, f"--junitxml={report}")
        if not report.exists():  # pytest could not even collect the file
            return {}
        cases = ET.parse(report).getroot().iter("testcase")
        return {case.get("name"): _outcome(case) for case in cases}


def _outcome(case: ET.Element) -> str:
    for tag, outcome in (("failure", FAILED), ("error", ERROR), ("skipped", SKIPPED)):
        if case.find(tag) is not None:
            return outcome
    return PASSED
