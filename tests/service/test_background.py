"""A background service never outlives the Python process that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

# What a notebook kernel does: start the service, then exit (or die) without stop().
SCRIPT = """
import sys, time
from mlops_course.serving.background import start_service

service = start_service(sys.argv[1], extra_args=["--log-path", sys.argv[2]])
print(service.pid, flush=True)
if sys.argv[3] == "hang":
    time.sleep(300)
"""


def is_gone(pid: int) -> bool:
    """No such process, or a zombie (dead, only its exit code waits for a parent to read)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.1)
    return is_gone(pid)


@pytest.fixture
def service_pids() -> Iterator[list[int]]:
    """PIDs of services the test started: any survivor is killed (checked to be ours)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if "mlops_course.serving" in process.cmdline():
                process.kill()
        except psutil.Error:
            pass


def run_script(mode: str, model_dirs: dict, tmp_path: Path) -> subprocess.Popen:
    script = tmp_path / "start_and_leave.py"
    script.write_text(SCRIPT)
    log_path = tmp_path / "log.sqlite"
    command = [sys.executable, str(script), str(model_dirs["champion"]), str(log_path), mode]
    env = {**os.environ, "MLOPS_COURSE_HOME": str(tmp_path / "work")}
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_service_stops_when_the_parent_exits_without_stop(
    model_dirs: dict, tmp_path: Path, service_pids: list[int]
) -> None:
    parent = run_script("exit", model_dirs, tmp_path)
    output, _ = parent.communicate(timeout=120)
    service_pids.append(int(output.split()[0]))
    assert parent.returncode == 0
    # Stopped (and reaped) by the parent before it exited, not by a signal afterwards.
    assert is_gone(service_pids[0]), "the service outlived its parent"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG exists only on Linux")
def test_service_dies_with_a_killed_parent(
    model_dirs: dict, tmp_path: Path, service_pids: list[int]
) -> None:
    parent = run_script("hang", model_dirs, tmp_path)
    try:
        service_pids.append(int(parent.stdout.readline()))
        assert not is_gone(service_pids[0])
        parent.send_signal(signal.SIGKILL)  # a Jupyter kernel killed: no Python code runs
        parent.wait(timeout=10)
    finally:
        parent.kill()
        parent.stdout.close()
    assert wait_gone(service_pids[0]), "the service outlived its killed parent"


@pytest.mark.slow
def test_the_port_is_the_services_from_the_moment_it_starts(
    model_dirs: dict, tmp_path: Path
) -> None:
    """The listening socket is bound before the child starts importing: nobody can take the
    port in between, and a client that connects early waits in the backlog."""
    from mlops_course.serving.background import start_service

    log = ["--log-path", str(tmp_path / "log.sqlite")]
    service = start_service(str(model_dirs["champion"]), extra_args=log, wait=False)
    try:
        with socket.create_connection((service.host, service.port), timeout=2):
            pass  # accepted by the kernel while the service is still importing
        with pytest.raises(OSError):
            socket.create_server((service.host, service.port))  # already taken: by the service
        service.wait_ready(60)
    finally:
        service.stop()
