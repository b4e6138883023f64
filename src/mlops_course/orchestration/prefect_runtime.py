"""Prefect for the course: its state in the work directory, quiet logs, one local server.

A Prefect 3 flow reports every step to an API server. Without ``PREFECT_API_URL`` Prefect
starts a temporary ("ephemeral") one itself: a uvicorn subprocess with a sqlite database
under ``PREFECT_HOME``. What this module takes care of (measured with Prefect 3.9.1 on
the course's 2-core machine):

* **Settings are read when prefect is imported.** ``configure`` puts the course's settings
  into the environment (the work directory as ``PREFECT_HOME``, hence the database
  ``<work>/prefect/prefect.db``; log level WARNING; the server's start-up timeout; no
  analytics) and, if prefect is already imported, makes it read them again.
* **The server is slow to start**: 6–8 s with a migrated database and 11–23 s with a fresh
  one (≈ 120 migrations) on a quiet machine, two or three times that on a busy one (up to
  58 s measured): Prefect's default timeout of 20 s is too short, hence
  ``STARTUP_TIMEOUT_S``. A flow run then takes about a second, most of it the flow's
  heartbeat thread, which sleeps in 1-second steps, being joined at the end of the run.
  ``LocalPrefect.start`` starts it once, eagerly, and measures it (``startup_s``).
* **Prefect's console log is rich text** on stderr, which a notebook shows as output
  (and nbval compares): at level WARNING a normal run prints nothing.
* **The server must not outlive the notebook.** ``stop`` (or leaving the ``with``
  block, or the interpreter's exit) drains Prefect's log and event queues, stops the
  server and checks the process list; on Linux the server also gets SIGTERM when its
  parent dies without running any Python (a killed kernel).
* The ephemeral server runs no scheduler, and ``flow.serve`` cannot run in a notebook (its
  event loop is already running): schedules need ``prefect server start`` and a script.

In a notebook::

    prefect_server = start_prefect()          # <work>/prefect, ~10 s once
    result = continuous_training(week=8)      # mlops_course.orchestration.ct_flow
    prefect_server.stop()                     # no Prefect process left

or ``with local_prefect(home) as prefect_server: ...`` in a script or a test.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_course.config import work_dir
from mlops_course.serving.background import die_with_parent

STARTUP_TIMEOUT_S = 120
"""Seconds to wait for the ephemeral server: up to 58 s were measured on a busy machine."""

LOG_LEVEL = "WARNING"
SERVER_APP = "prefect.server.api.server:create_app"
"""The uvicorn app of the ephemeral server: how its process is recognised."""
SERVER_LOG = "server.log"
"""The server's own output, in ``PREFECT_HOME`` (a notebook cell stays clean)."""

# Settings that would send the flow runs elsewhere than the local server.
_FOREIGN_SETTINGS = ("PREFECT_API_URL", "PREFECT_PROFILE")


def prefect_home(home: str | Path | None = None) -> Path:
    """Prefect's folder: ``<home>/prefect`` (default home: the work directory)."""
    if home is None:
        return work_dir("prefect")
    path = Path(home).expanduser().resolve() / "prefect"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prefect_environment(
    home: str | Path | None = None, startup_timeout_s: int = STARTUP_TIMEOUT_S
) -> dict[str, str]:
    """The environment variables the course runs Prefect with (names from
    ``prefect/settings/models``)."""
    folder = prefect_home(home)
    return {
        "PREFECT_HOME": str(folder),  # the database (prefect.db), results, memo store
        "PREFECT_PROFILES_PATH": str(folder / "profiles.toml"),  # not ~/.prefect's
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(int(startup_timeout_s)),
        "PREFECT_LOGGING_LEVEL": LOG_LEVEL,
        "PREFECT_SERVER_LOGGING_LEVEL": LOG_LEVEL,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the server's analytics
        "DO_NOT_TRACK": "1",  # the client's (SDK) telemetry
    }


def configure(
    home: str | Path | None = None,
    *,
    startup_timeout_s: int = STARTUP_TIMEOUT_S,
    override: bool = True,
) -> dict[str, str]:
    """Put the course's Prefect settings into ``os.environ``; return the values it replaced
    or removed (variables that were not set are not in it).

    Call it before ``import prefect``; if prefect is already imported, its settings and
    log levels are re-read. ``override=False`` keeps variables that are already set;
    ``override=True`` also removes ``PREFECT_API_URL`` and ``PREFECT_PROFILE``.
    """
    wanted = prefect_environment(home, startup_timeout_s)
    replaced: dict[str, str] = {}
    for name, value in wanted.items():
        if name in os.environ and not override:
            continue
        if name in os.environ:
            replaced[name] = os.environ[name]
        os.environ[name] = value
    if override:
        replaced |= {name: os.environ.pop(name) for name in _FOREIGN_SETTINGS if name in os.environ}
    _reload_prefect_settings()
    return replaced


def _restore(replaced: dict[str, str]) -> None:
    """Put back what ``configure`` replaced. The variables it added stay: without them
    the next use of Prefect would create ``~/.prefect``, outside the work directory."""
    os.environ.update(replaced)
    _reload_prefect_settings()


def _reload_prefect_settings() -> None:
    """Make an imported prefect see the environment again (a no-op before its import)."""
    if "prefect.context" not in sys.modules:
        return  # ``import prefect`` will read the environment itself
    import prefect.context
    from prefect.logging.configuration import setup_logging

    prefect.context.refresh_global_settings_context()
    setup_logging()  # log levels are applied once, at import, otherwise


# --- The ephemeral server ------------------------------------------------------------------


def server_processes() -> list[Any]:
    """Ephemeral Prefect servers started by this process that are still alive (psutil)."""
    import psutil

    alive = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # it may exit while we look
            if SERVER_APP in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
    return alive


@functools.cache
def _server_class() -> type:
    """Prefect's ``SubprocessASGIServer``, launched so that it dies with its parent and
    writes its output to ``PREFECT_HOME/server.log``."""
    from prefect.server.api.server import SubprocessASGIServer

    class CourseServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:
            log = Path(os.environ["PREFECT_HOME"], SERVER_LOG).open("ab")  # noqa: SIM115
            options: dict[str, Any] = {"stdout": log, "stderr": subprocess.STDOUT}
            if (preexec := die_with_parent()) is not None:
                options["preexec_fn"] = preexec
            # Prefect builds the command and its environment; we add how to start it.
            popen = subprocess.Popen
            try:
                subprocess.Popen = functools.partial(popen, **options)  # type: ignore[misc]
                return super()._run_uvicorn_command()
            finally:
                subprocess.Popen = popen  # type: ignore[misc]
                log.close()  # the child holds its own descriptor

    return CourseServer


def _drain_prefect_queues() -> None:
    """Send the logs and events still queued before the server goes (as Prefect's test
    harness does), so nothing tries to reach a stopped server at exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):  # the log worker never started
            pending = APILogWorker.instance().drain()
            if hasattr(pending, "__await__"):
                await pending
        pending = EventsWorker.drain_all()
        if hasattr(pending, "__await__"):
            await pending

    run_coro_as_sync(drain())


def _stop_running_server() -> None:
    """Stop an ephemeral server this process already has (say, with other settings)."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer._instances.get(None)
    if server is not None and server.running:
        _drain_prefect_queues()
        server.stop()


def _end_stray_servers(timeout_s: float = 10.0) -> None:
    """End ephemeral servers this process started some other way (Prefect starts one by
    itself when a flow runs before ``start``), by pid; raise if one survives."""
    import psutil

    stray = server_processes()
    for process in stray:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(stray, timeout=timeout_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    left = [process.pid for process in server_processes()]
    if left:
        raise RuntimeError(f"Процессы сервера Prefect не остановились: {left}")


class LocalPrefect:
    """Prefect configured for the course, with its ephemeral server running.

    ``startup_s`` is how long the server took to answer ``/health``; ``pid`` its process.
    """

    def __init__(
        self, home: str | Path | None = None, startup_timeout_s: int = STARTUP_TIMEOUT_S
    ) -> None:
        self._course_home = home
        self.home = prefect_home(home)
        """Prefect's folder (``PREFECT_HOME``): ``<home>/prefect``."""
        self.startup_timeout_s = startup_timeout_s
        self.startup_s: float | None = None
        self.pid: int | None = None
        self._server: Any = None
        self._previous_env: dict[str, str] | None = None

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    @property
    def api_url(self) -> str | None:
        return self._server.api_url if self.running else None

    @property
    def database(self) -> Path:
        return self.home / "prefect.db"

    def start(self) -> LocalPrefect:
        """Configure Prefect and start its server (a server already running is replaced)."""
        if self.running:
            return self
        previous = configure(self._course_home, startup_timeout_s=self.startup_timeout_s)
        # Entering twice must not lose the values from before the first time.
        self._previous_env = previous if self._previous_env is None else self._previous_env
        _stop_running_server()
        # Registered under Prefect's default key: every client in this process finds it.
        server = _server_class()()
        started = time.perf_counter()
        try:
            server.start(timeout=self.startup_timeout_s)
        except Exception as error:
            server.stop()
            raise RuntimeError(
                f"Сервер Prefect не ответил за {self.startup_timeout_s} с: {error}\n"
                f"Его вывод: {self.home / SERVER_LOG}"
            ) from error
        self.startup_s = time.perf_counter() - started
        self._server, self.pid = server, server.server_process.pid
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server, restore the environment; make sure no server process is left."""
        if self.running:
            _drain_prefect_queues()
            self._server.stop()  # SIGTERM, SIGKILL after 5 s, and it reaps the process
        self._server = None
        if self._previous_env is not None:
            _restore(self._previous_env)
            self._previous_env = None
        atexit.unregister(self.stop)
        _end_stray_servers()

    def __enter__(self) -> LocalPrefect:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"запущен, pid {self.pid}" if self.running else "остановлен"
        return f"LocalPrefect({state})"


def start_prefect(
    home: str | Path | None = None, startup_timeout_s: int = STARTUP_TIMEOUT_S
) -> LocalPrefect:
    """Configure Prefect for the course and start its ephemeral server (see module doc)."""
    return LocalPrefect(home, startup_timeout_s).start()


@contextlib.contextmanager
def local_prefect(
    home: str | Path | None = None, startup_timeout_s: int = STARTUP_TIMEOUT_S
) -> Iterator[LocalPrefect]:
    """``with local_prefect(home) as prefect_server:`` — the server lives as long as the block."""
    with LocalPrefect(home, startup_timeout_s) as running:
        yield running
