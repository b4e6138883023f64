"""JupyterLab as a student sees it: a real `jupyter lab` server driven by headless Chromium.

Chromium is a system package (``apt-get install chromium``): see ``tests.conftest.system_tool``
for what happens without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_course.serving.background import free_port
from tests.browser.devtools import BROWSERS, CHROMIUM_FLAGS, DevTools
from tests.conftest import REPO_ROOT, system_tool, wait_until


@pytest.fixture(scope="session")
def chromium() -> str:
    return system_tool(*BROWSERS, package="chromium")


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the course, so nothing the browser does can touch the checkout."""
    root = tmp_path_factory.mktemp("course") / "course"
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".work", "data", "__pycache__", "*.egg-info", ".*_cache", "my_labs"
    )
    shutil.copytree(REPO_ROOT, root, ignore=ignore)
    return root


@pytest.fixture(scope="module")
def lab_url(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jupyter lab`` on a free loopback port, as ``make lab`` starts it; yields its URL."""
    state = tmp_path_factory.mktemp("jupyter")
    port, token = free_port(), "browser-test"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={lab_root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to read kernel status
    ] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
    log = (state / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                return True
        except OSError:
            return server.poll() is not None  # stop waiting if it died

    try:
        wait_until(answers, 90, "jupyter lab answering")
        assert server.poll() is None, (state / "server.log").read_text()[-2000:]
        yield f"{base}/lab/tree/{{path}}?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[DevTools]:
    """A fresh headless Chromium page with network events recorded."""
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until(port_file.exists, 60, "Chromium's DevTools port")
        port = wait_until(lambda: port_file.read_text().split("\n")[0], 10, "DevTools port")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            page = next(t for t in json.load(reply) if t["type"] == "page")
        devtools = DevTools(page["webSocketDebuggerUrl"])
        devtools.call("Network.enable")
        yield devtools
        devtools.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
