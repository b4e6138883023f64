"""Does the course fit Binder? Peak memory of every notebook and solution.

A mybinder.org session has about 2 GB of memory, and it is shared by the Jupyter server and
every kernel the student keeps open. This runs each notebook in ``notebooks/`` and each
solution in ``solutions/`` as ``make course`` does (``tools/course.py``'s ``execute``: a copy,
through papermill, cwd = the notebook's folder), each with a fresh temporary
``MLOPS_COURSE_HOME``, and samples the memory of the kernel's whole process tree (the kernel
and every server or worker it starts: all descendants of this process) every 50 ms.

Two sums over the tree are reported:

* RSS: what ``top`` shows. Summed over processes it counts shared pages (libraries, forked
  workers' copy-on-write memory) once per process, so it overstates the tree;
* PSS (proportional set size, ``psutil``'s ``memory_full_info``): every shared page is split
  between the processes sharing it, so the sum counts each page once, closest to what the
  container's memory limit sees (which also counts page cache: written files).

A process that lives less than one sampling interval can be missed. Prints a table, largest
first, a verdict against 2 GB and writes a JSON under ``work_dir("benchmarks")``. Seconds
are wall time and depend on the machine's load; memory does not.

    python benchmarks/notebook_memory.py [NAME ...]   # source stems, default: all
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
import psutil

from mlops_course.config import WORK_DIR_ENV, work_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course  # noqa: E402  (tools/course.py: the builder's targets and execute)

BINDER_MB = 2048
INTERVAL_S = 0.05
MB = 1024 * 1024


class TreeSampler(threading.Thread):
    """Peak RSS and PSS summed over every descendant of this process, sampled from a thread."""

    def __init__(self, interval: float = INTERVAL_S):
        super().__init__(daemon=True)
        self.interval, self.stop = interval, threading.Event()
        self.me = psutil.Process()
        self.peak_rss = self.peak_pss = 0
        self.recent_pss: deque[int] = deque(maxlen=20)  # the last second of a living tree
        self.peak_processes = self.samples = 0
        self.sampling_s = 0.0

    def sample(self) -> tuple[int, int, int]:
        rss = pss = processes = 0
        for process in self.me.children(recursive=True):
            try:
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue  # ended between listing and reading
            rss, pss, processes = rss + info.rss, pss + info.pss, processes + 1
        return rss, pss, processes

    @property
    def end_pss(self) -> float:
        """The tree's memory when its notebook was done: median of its last second (the
        kernel's own shutdown, a few samples, does not move it)."""
        return statistics.median(self.recent_pss) if self.recent_pss else 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            rss, pss, processes = self.sample()
            self.sampling_s += time.perf_counter() - started
            self.samples += 1
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, processes)
            if pss:  # an exiting process reads as 0
                self.recent_pss.append(pss)
            self.stop.wait(max(0.0, self.interval - (time.perf_counter() - started)))


@dataclass
class Row:
    notebook: str
    peak_rss_mb: float
    peak_pss_mb: float
    end_pss_mb: float
    processes: int
    seconds: float
    sample_ms: float
    error: str = ""


def measure(target: course.Target) -> Row:
    name = target.output.relative_to(ROOT).as_posix()
    nb = nbformat.read(target.output, as_version=4)
    previous = os.environ.get(WORK_DIR_ENV)
    sampler, error = TreeSampler(), ""
    with tempfile.TemporaryDirectory(prefix="mlops-course-memory-") as home:
        os.environ[WORK_DIR_ENV] = home  # the kernel inherits it: nothing reaches .work/
        started = time.perf_counter()
        sampler.start()
        try:
            course.execute(nb, cwd=target.output.parent)
        except Exception as failure:  # measure the rest, report this one
            error = f"{type(failure).__name__}: {str(failure).strip()[:200]}"
        finally:
            seconds = time.perf_counter() - started
            sampler.stop.set()
            sampler.join()
            if previous is None:
                os.environ.pop(WORK_DIR_ENV, None)
            else:
                os.environ[WORK_DIR_ENV] = previous
    return Row(
        notebook=name,
        peak_rss_mb=sampler.peak_rss / MB,
        peak_pss_mb=sampler.peak_pss / MB,
        end_pss_mb=sampler.end_pss / MB,
        processes=sampler.peak_processes,
        seconds=seconds,
        sample_ms=1000 * sampler.sampling_s / max(sampler.samples, 1),
        error=error,
    )


def git_status() -> set[str]:
    result = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return set(result.stdout.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="source stems (default: every notebook)")
    args = parser.parse_args(argv)
    results = work_dir("benchmarks")  # before MLOPS_COURSE_HOME is pointed elsewhere
    chosen = [
        t
        for t in course.targets(ROOT)
        if t.executed and t.output.exists() and (not args.names or t.source.stem in args.names)
    ]
    before = git_status()
    rows = []
    for target in chosen:
        print(f"running {target.output.relative_to(ROOT).as_posix()} ...", flush=True)
        rows.append(measure(target))
    changed = sorted(git_status() - before)

    rows.sort(key=lambda row: row.peak_pss_mb, reverse=True)
    width = max(len(row.notebook) for row in rows)
    header = f"{'notebook':<{width}}  {'peak PSS, MB':>12}  {'peak RSS, MB':>12}"
    print(f"\n{header}  {'at end, MB':>10}  {'processes':>9}  {'seconds':>7}")
    for row in rows:
        print(
            f"{row.notebook:<{width}}  {row.peak_pss_mb:>12.0f}  {row.peak_rss_mb:>12.0f}  "
            f"{row.end_pss_mb:>10.0f}  {row.processes:>9}  {row.seconds:>7.1f}"
            + (f"  FAILED {row.error}" if row.error else "")
        )
    sample_ms = max(row.sample_ms for row in rows)
    interval_ms = INTERVAL_S * 1000
    print(f"(one sample of the tree took up to {sample_ms:.0f} ms; interval {interval_ms:.0f} ms)")

    largest = rows[0]
    kept_open = sum(row.end_pss_mb for row in rows)
    fits = largest.peak_pss_mb < BINDER_MB
    print(
        f"\nverdict: the largest, {largest.notebook}, peaks at {largest.peak_pss_mb:.0f} MB PSS "
        f"({largest.peak_rss_mb:.0f} MB RSS), {largest.peak_pss_mb / BINDER_MB:.0%} of Binder's "
        f"{BINDER_MB} MB: {'fits' if fits else 'does NOT fit'} (one notebook at a time, the "
        "Jupyter server's ~100-200 MB beside it). Kernels left running after their notebook "
        f"hold about {kept_open:.0f} MB together: "
        + ("fine." if kept_open < BINDER_MB / 2 else "tell students to shut kernels down.")
    )
    path = results / "notebook_memory.json"
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    payload = {"machine": machine, "binder_mb": BINDER_MB, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if changed:
        print(f"git status changed during the run (by it or by someone else): {changed}")
    failed = [row for row in rows if row.error]
    return 1 if failed or changed or not fits else 0


if __name__ == "__main__":
    sys.exit(main())
