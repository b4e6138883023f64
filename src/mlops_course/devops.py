"""DevOps helpers for notebook 02: run a test file with pytest, quietly, from a notebook."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest


def run_pytest(path: Path) -> int:
    """Run pytest quietly on one file; return its exit code (0 = all tests passed)."""
    path = Path(path)
    # Only pytest itself: no config or plugins of the course, so it starts in a second.
    args = ["-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(path.parent)]
    previous = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int(pytest.main([*args, str(path)]))
    finally:
        if previous is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = previous
