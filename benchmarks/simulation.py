"""The maturity levels on the production year: the level table per seed, and the time it takes.

Run: ``python benchmarks/simulation.py [--seeds 42 1 7]`` (about a minute on 2 cores). For
each seed it builds the year, its oracle and the validation of its batches once (timed:
all three are cached per year and shared by the levels), then simulates ``LEVEL_0``,
``LEVEL_1`` and ``LEVEL_2`` (timed, seconds per year per level: wall clock and CPU), and
prints the table of ``compare_levels`` for that seed. Then the ranges over the seeds, and
the calm-weeks gap to the oracle (weeks 0-7, before any event) that the recovery tolerance
must stand clear of.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from mlops_course.simulation import outcomes
from mlops_course.simulation.policies import LEVELS
from mlops_course.simulation.simulator import level_ranges, oracle_quality, simulate_year
from mlops_course.simulation.year import make_year

SHOWN = [
    "cost_rub",
    "oracle_cost_rub",
    "cost_per_order",
    "mean_log_loss",
    "median_log_loss",
    "retrains",
    "deployments",
    "rollbacks",
    "alarms",
    "false_alarms",
    "incidents_in_production",
]


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 7])
    args = parser.parse_args()
    rows, timings, calm = [], [], []
    for seed in args.seeds:
        year, wall, cpu = timed(make_year, seed)
        timings.append({"seed": seed, "step": "year", "wall_s": wall, "cpu_s": cpu})
        _, wall, cpu = timed(oracle_quality, year)
        timings.append({"seed": seed, "step": "oracle", "wall_s": wall, "cpu_s": cpu})
        # data validation is memoised per year (every validating level asks the same)
        _, wall, cpu = timed(lambda y=year: [y.validation(w) for w in range(y.weeks)])
        timings.append({"seed": seed, "step": "validation", "wall_s": wall, "cpu_s": cpu})
        for name, policy in LEVELS.items():
            result, wall, cpu = timed(simulate_year, policy, seed)
            timings.append({"seed": seed, "step": name, "wall_s": wall, "cpu_s": cpu})
            rows.append(result.summary())
            gap = result.weekly.set_index("week")["gap"].loc[0:7]
            calm.append({"seed": seed, "level": name, "min": gap.min(), "max": gap.max()})
        table = pd.DataFrame(rows)
        print(f"\n### seed {seed}\n")
        print(
            table[table["seed"] == seed]
            .set_index("level")
            .drop(columns="seed")
            .T.to_markdown(floatfmt=".3g")
        )
    table = pd.DataFrame(rows)
    print("\n### ranges over seeds", args.seeds, "\n")
    print(level_ranges(table).to_markdown())
    print(f"\n### calm weeks 0-7: gap to the oracle (tolerance {outcomes.RECOVERY_TOLERANCE})\n")
    print(pd.DataFrame(calm).to_markdown(index=False, floatfmt=".4f"))
    print("\n### seconds\n")
    times = pd.DataFrame(timings)
    print(times.pivot(index="step", columns="seed", values="wall_s").to_markdown(floatfmt=".2f"))
    print("\nCPU seconds:")
    print(times.pivot(index="step", columns="seed", values="cpu_s").to_markdown(floatfmt=".2f"))


if __name__ == "__main__":
    main()
