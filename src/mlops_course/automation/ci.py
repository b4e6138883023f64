"""DevOps helpers for notebook 02: run a test file with pytest, quietly, from a notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_pytest(path: Path) -> int:
    """Run pytest quietly on one file; return its exit code (0 = all tests passed).

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
        [sys.executable, "-m", "pytest", *args, str(path)],
        cwd=path.parent,
        env=env,
        capture_output=True,
        check=False,
    )
    return completed.returncode
