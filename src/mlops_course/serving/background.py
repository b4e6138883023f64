"""Run the real service (the CLI under uvicorn) in the background, from a notebook or a test.

``start_service(model_uri)`` picks a free loopback port, starts
``python -m mlops_course.serving`` as a child process, waits until ``/ready`` answers 200
and returns a handle with the URL; ``handle.stop()`` (or leaving a ``with`` block) stops it
with SIGTERM (graceful: uvicorn finishes requests and closes the log), killing it only if it
does not exit in time. The server's output goes to a file in the work directory, so a
notebook cell stays clean.

A service never outlives its parent: without ``stop()`` it is stopped when the handle is
garbage-collected or the interpreter exits, and on Linux the kernel sends it SIGTERM when
the parent dies without running any Python (a killed Jupyter kernel).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mlops_course.config import work_dir
from mlops_course.serving.settings import DEFAULT_HOST, READY_PATH

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ServiceStartError(RuntimeError):
    """The service did not become ready; the message includes the end of its output."""


def _terminate(
    process: subprocess.Popen, output: IO[str] | None, timeout: float = 15.0
) -> int | None:
    """Graceful stop (SIGTERM), then SIGKILL if it hangs; close its output file."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    if output is not None:
        output.close()
    return process.returncode


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when its parent dies; else None.

    The kernel watches the thread that forked the child, not the process: set it only
    from the main thread, which lives as long as the interpreter.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:  # looked up here: the forked child should only make the call
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: nobody would stop us
            os._exit(1)

    return set_parent_death_signal


@dataclass
class BackgroundService:
    """A running service process."""

    process: subprocess.Popen
    host: str
    port: int
    output_path: Path
    _output: IO[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Stops the process if stop() is never called: when the handle is garbage-collected
        # or at interpreter exit (a notebook kernel restarted without stop()).
        self._finalizer = weakref.finalize(self, _terminate, self.process, self._output)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process, in MiB."""
        import psutil

        return psutil.Process(self.pid).memory_info().rss / 2**20

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) used so far by the server and its worker processes
        (``--workers N`` runs N of them under a supervisor); a worker that has exited
        no longer counts."""
        import psutil

        total = 0.0
        root = psutil.Process(self.pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def output(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``/ready`` until it answers 200; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        reason = "нет ответа"
        while time.monotonic() < deadline:
            if not self.running():
                raise ServiceStartError(
                    f"Сервис завершился с кодом {self.process.returncode}:\n{self.output()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:  # 503 while the model loads
                reason = error.read().decode(errors="replace")
            except OSError as error:  # not listening yet
                reason = str(error)
            time.sleep(0.1)
        self.stop()
        raise ServiceStartError(
            f"Сервис не готов за {timeout:.0f} с: {reason}\n{self.output()[-2000:]}"
        )

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop (SIGTERM), then SIGKILL if it hangs; returns the exit code."""
        self._finalizer.detach()  # stopped here, nothing left to do at exit
        output, self._output = self._output, None
        return _terminate(self.process, output, timeout)

    def __enter__(self) -> BackgroundService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_service(
    model_uri: str,
    *,
    port: int | None = None,
    host: str = DEFAULT_HOST,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    wait: bool = True,
    python: str = sys.executable,
) -> BackgroundService:
    """Start ``python -m mlops_course.serving`` in the background and wait for ``/ready``.

    ``extra_args`` go to the CLI (e.g. ``["--challenger-uri", uri, "--challenger-share",
    "0.2"]``); ``env`` adds environment variables (e.g. ``MLOPS_COURSE_HOME``); ``python``
    is the interpreter to run it with (another environment's, say).
    """
    # The socket is bound here and handed to the child: a port picked now and bound seconds
    # later (after the child's imports) could meanwhile be taken by another process, whose
    # /ready we would then poll by mistake.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port or 0), family=family) as listener:
        port = listener.getsockname()[1]
        command = [
            python, "-m", "mlops_course.serving",
            "--model-uri", model_uri, "--host", host, "--port", str(port),
            "--fd", str(listener.fileno()),
            *(extra_args or []),
        ]  # fmt: skip
        output_path = work_dir("serving") / f"service-{port}.log"
        output = output_path.open("w")
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            pass_fds=[listener.fileno()],
            preexec_fn=die_with_parent(),
        )
    service = BackgroundService(process, host, port, output_path, _output=output)
    if wait:
        try:
            service.wait_ready(timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                service.stop()
            raise
    return service
