"""Throughput of the order generator, and a determinism check of what it saves.

Run: ``python benchmarks/generator.py`` (about ten seconds). Prints rows/s of
``generate_orders`` and of ``make_batch`` with two scenarios (best of 3) for 10k, 100k
and 1M rows, then the sha256 of the CSV saved by two independent runs (separate Python
processes, so nothing cached in memory can make them agree). Files go to the work
directory (``$MLOPS_COURSE_HOME/benchmarks``), never into the checkout.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mlops_course.config import SEED, work_dir
from mlops_course.scenario.generator import generate_orders, save_orders
from mlops_course.scenario.problems import make_batch

SIZES = (10_000, 100_000, 1_000_000)
REPEATS = 3
TARGET_ROWS_PER_S = 500_000
CSV_ROWS = 100_000


def best_seconds(make: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` runs: the least disturbed by other processes."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        make()
        timings.append(time.perf_counter() - started)
    return min(timings)


def save_sample(path: Path) -> None:
    save_orders(generate_orders(CSV_ROWS, SEED), path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    generators = {
        "generate_orders": lambda n: generate_orders(n, SEED),
        "make_batch(winter, missing_values)": lambda n: make_batch(
            n, SEED, ["winter", "missing_values"]
        ),
    }
    print(f"{'generator':<36} {'rows':>10} {'best s':>8} {'rows/s':>12}  ≥ target")
    for name, generate in generators.items():
        for n in SIZES:
            seconds = best_seconds(lambda generate=generate, n=n: generate(n))
            rate = n / seconds
            verdict = "yes" if rate >= TARGET_ROWS_PER_S else "NO"
            print(f"{name:<36} {n:>10,} {seconds:>8.3f} {rate:>12,.0f}  {verdict}")

    folder = work_dir("benchmarks")
    paths = [folder / f"orders_run{run}.csv" for run in (1, 2)]
    for path in paths:
        subprocess.run([sys.executable, __file__, "--save", str(path)], check=True)
    digests = [sha256(path) for path in paths]
    print(f"\nDeterminism: {CSV_ROWS:,} rows saved as CSV by two separate processes")
    for path, digest in zip(paths, digests, strict=True):
        print(f"  {path.name}: sha256 {digest}")
    print("  identical:", "yes" if digests[0] == digests[1] else "NO")
    if digests[0] != digests[1]:
        raise SystemExit(1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--save"]:
        save_sample(Path(sys.argv[2]))
    else:
        main()
