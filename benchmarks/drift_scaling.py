"""How the cost of drift detection grows with the number of rows.

Times the univariate suite (``column_drift`` with its default tests: KS for numeric,
chi-square for categorical columns) and Evidently's ``DataDriftPreset`` report (its own
choice of tests, without writing the HTML) on 10k, 100k and 1M rows x 10 columns (the
9 features and the label) of generated orders: reference seed 1, current seed 2.
Prints a table and the growth exponents (slope of log time vs log rows: 1 = linear) and
writes a JSON under ``work_dir("benchmarks")``.

Target: the suite on 1M rows in under 2 s on a 2-core machine, exponent <= 1.1.

    python benchmarks/drift_scaling.py [--max-rows N] [--repeats R] [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import numpy as np

from mlops_course.config import CATEGORICAL_FEATURES, NUMERIC_FEATURES, TARGET, work_dir
from mlops_course.monitoring import drift
from mlops_course.scenario import generator

SIZES = (10_000, 100_000, 1_000_000)
NUMERIC = list(NUMERIC_FEATURES)
CATEGORICAL = [*CATEGORICAL_FEATURES, TARGET]  # the label is binary: a category
COLUMNS = NUMERIC + CATEGORICAL
SUITE_TARGET_SECONDS = 2.0
EXPONENT_TARGET = 1.1


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` wall-clock runs (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def growth_exponent(rows: list[int], seconds: list[float]) -> float:
    """Slope of log(seconds) against log(rows): time ~ rows ** exponent."""
    if len(rows) < 2:
        return float("nan")
    return float(np.polyfit(np.log(rows), np.log(seconds), 1)[0])


def measure(n_rows: int, repeats: int, with_evidently: bool) -> dict[str, float | int | None]:
    reference = generator.generate_orders(n_rows, seed=1)
    current = generator.generate_orders(n_rows, seed=2)

    def run_suite() -> object:
        return drift.column_drift(reference, current, columns=COLUMNS)

    def run_evidently() -> object:
        return drift.evidently_drift(
            reference, current, numeric=NUMERIC, categorical=CATEGORICAL, save_html=False
        )

    run_suite()  # warm-up: imports, caches
    suite = best_time(run_suite, repeats)
    # Evidently takes seconds per run: one run is enough to see its growth.
    evidently = best_time(run_evidently, 1) if with_evidently else None
    return {"rows": n_rows, "suite_seconds": suite, "evidently_seconds": evidently}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=max(SIZES))
    parser.add_argument("--repeats", type=int, default=3, help="runs of the suite per size")
    parser.add_argument("--no-evidently", action="store_true", help="time only the suite")
    args = parser.parse_args()

    sizes = [n for n in SIZES if n <= args.max_rows] or [args.max_rows]
    if not args.no_evidently:
        measure(2_000, 1, with_evidently=True)  # warm-up: Evidently's first run imports a lot
    results = []
    print(f"{'rows':>10} {'suite, s':>10} {'evidently, s':>13}")
    for n_rows in sizes:
        row = measure(n_rows, args.repeats, with_evidently=not args.no_evidently)
        results.append(row)
        evidently = row["evidently_seconds"]
        evidently_text = f"{evidently:13.2f}" if evidently is not None else f"{'-':>13}"
        print(f"{n_rows:>10,} {row['suite_seconds']:10.3f} {evidently_text}", flush=True)

    rows = [r["rows"] for r in results]
    suite_exponent = growth_exponent(rows, [r["suite_seconds"] for r in results])
    evidently_times = [r["evidently_seconds"] for r in results]
    evidently_exponent = (
        growth_exponent(rows, evidently_times) if None not in evidently_times else None
    )
    print(f"growth exponent, suite: {suite_exponent:.2f} (target <= {EXPONENT_TARGET})")
    if len(rows) >= 3:
        # Small sizes are dominated by fixed costs: the last step shows the true slope.
        last_step = growth_exponent(rows[-2:], [r["suite_seconds"] for r in results[-2:]])
        print(f"growth exponent, suite, {rows[-2]:,} -> {rows[-1]:,} rows: {last_step:.2f}")
    if evidently_exponent is not None:
        print(f"growth exponent, evidently: {evidently_exponent:.2f}")
    largest = results[-1]
    if largest["rows"] >= 1_000_000:
        verdict = "OK" if largest["suite_seconds"] < SUITE_TARGET_SECONDS else "TOO SLOW"
        print(f"suite on {largest['rows']:,} rows: {largest['suite_seconds']:.3f} s ({verdict})")

    report = {
        "columns": COLUMNS,
        "results": results,
        "suite_exponent": suite_exponent,
        "evidently_exponent": evidently_exponent,
        "targets": {"suite_seconds_1m": SUITE_TARGET_SECONDS, "exponent": EXPONENT_TARGET},
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
    }
    path = work_dir("benchmarks") / "drift_scaling.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
