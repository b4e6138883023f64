"""A/B statistics for notebook 10: run times of the notebook-sized calls, the A/A peeking
table over seeds and simulation sizes against its exact value, sequential designs, and the
sample sizes the scenario's real champion/challenger effects need.

Run: ``python benchmarks/ab_peeking.py [--seeds 42 1 7] [--big 100000]`` (about half a
minute on 2 busy cores; ``--big 0`` skips the large simulations). Uses
``mlops_course.monitoring.ab_test`` only, plus the scenario for the effect sizes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from mlops_course.config import TARGET
from mlops_course.model import evaluate, scenario_value
from mlops_course.monitoring import ab_test as ab
from mlops_course.scenario import problems

LOOKS = (1, 5, 10, 100)
ORDERS_PER_WEEK = 2000  # problems.stream's default
EFFECT = (0.10, 0.07)  # late orders without an alarm: champion → challenger


def timed(make: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = make()
    return result, time.perf_counter() - started


def notebook_calls() -> None:
    """The calls a notebook cell makes, with their defaults, timed once each."""
    rng = np.random.default_rng(0)
    prices = np.array([400.0, 180.0, 60.0, 0.0])
    champion = rng.choice(prices, 5000, p=[0.10, 0.08, 0.12, 0.70])
    challenger = rng.choice(prices, 5000, p=[0.07, 0.10, 0.14, 0.69])
    n = ab.sample_size_two_proportions(*EFFECT)
    calls = {
        "sample_size_two_proportions": lambda: ab.sample_size_two_proportions(*EFFECT),
        "proportion_decision": lambda: ab.proportion_decision(500, 5000, 350, 5000),
        "cost_decision (5000 per arm, 2000 replicates)": lambda: ab.cost_decision(
            champion, challenger
        ),
        "peeking_false_positive_rates()": ab.peeking_false_positive_rates,
        "crossing_probability (100 looks)": lambda: ab.crossing_probability(np.full(100, 1.959964)),
        "compare_designs(0.10, 0.07, n, 5)": lambda: ab.compare_designs(*EFFECT, n, n_looks=5),
        "compare_designs(0.10, 0.07, n, 10)": lambda: ab.compare_designs(*EFFECT, n, n_looks=10),
    }
    print("\n### Notebook-sized calls (one run each, seconds)\n")
    for name, call in calls.items():
        _, seconds = timed(call)
        print(f"- {name}: {seconds:.2f} s")


def peeking_table(seeds: list[int], big: int) -> None:
    exact = {k: ab.crossing_probability(np.full(k, 1.959964)) for k in LOOKS}
    columns = {"exact": pd.Series(exact)}
    for seed in seeds:
        table, seconds = timed(lambda s=seed: ab.peeking_false_positive_rates(seed=s))
        columns[f"seed {seed} (10k, {seconds:.1f} s)"] = table.set_index("looks")[
            "false_positive_rate"
        ]
    if big:
        table, seconds = timed(lambda: ab.peeking_false_positive_rates(n_sims=big))
        columns[f"{big // 1000}k ({seconds:.1f} s)"] = table.set_index("looks")[
            "false_positive_rate"
        ]
    print("\n### A/A: share of experiments ever significant (p = 0.1, 10 000 orders per arm)\n")
    print(pd.DataFrame(columns).rename_axis("looks").to_markdown(floatfmt=".4f"))


def designs(seeds: list[int], big: int) -> None:
    n = ab.sample_size_two_proportions(*EFFECT)
    print(f"\n### Designs at the fixed horizon's n = {n} per arm, effect {EFFECT}\n")
    for looks in (5, 10):
        for seed in seeds[:1]:
            print(f"\n{looks} looks, 10k simulations, seed {seed}:\n")
            table = ab.compare_designs(*EFFECT, n, n_looks=looks, seed=seed)
            print(table.to_markdown(index=False, floatfmt=".4f"))
        if big:
            print(f"\n{looks} looks, {big // 1000}k simulations:\n")
            table = ab.compare_designs(*EFFECT, n, n_looks=looks, n_sims=big)
            print(table.to_markdown(index=False, floatfmt=".4f"))


def scenario_effects(seed: int = 42) -> pd.DataFrame:
    """Stale logreg champion vs the retrained challenger on each scenario's fresh orders."""
    stale = scenario_value.stale_champions(seed, ("logreg",))["logreg"]
    rows = []
    for name in ("base", "routing_change", "winter", "peak_load", "new_district"):
        chosen = () if name == "base" else (name,)
        current = problems.make_batch(8000, seed + 1, chosen, start="2025-03-17").frame
        retrain = problems.make_batch(20_000, seed + 2, chosen, start="2025-03-10").frame
        fresh = scenario_value.fit_champion(retrain, "logreg", seed)
        y = current[TARGET].to_numpy().astype(bool)
        arms = {}
        for arm, model in (("champion", stale), ("challenger", fresh)):
            alarms = evaluate.late_scores(model.model, current) >= model.threshold
            arms[arm] = (np.mean(y & ~alarms), ab.order_costs(y, alarms))
        (miss_c, cost_c), (miss_t, cost_t) = arms["champion"], arms["challenger"]
        delta = cost_t.mean() - cost_c.mean()
        rows.append({
            "scenario": name,
            "missed share": f"{miss_c:.3f} → {miss_t:.3f}",
            "n (share)": ab.sample_size_two_proportions(miss_c, miss_t),
            "₽/order": f"{cost_c.mean():.1f} → {cost_t.mean():.1f}",
            "sd ₽": round(float(cost_c.std()), 1),
            "n (₽)": ab.sample_size_mean_difference(cost_c.std(), delta) if delta else None,
        })  # fmt: skip
    return pd.DataFrame(rows)


def sample_sizes() -> None:
    print("\n### Orders per arm (α = 0.05, power 0.8)\n")
    share = {f"{p_c} → {p_t}": ab.sample_size_two_proportions(p_c, p_t)
             for p_c, p_t in [(0.10, 0.07), (0.10, 0.08), (0.15, 0.12), (0.04, 0.03)]}  # fmt: skip
    for name, n in share.items():
        weeks = 2 * n / ORDERS_PER_WEEK  # two arms at a 50 % share
        print(f"- share {name}: {n} per arm, {weeks:.1f} weeks at 50 % of {ORDERS_PER_WEEK}/week")
    for std, delta in [(100.0, 10.0), (100.0, 5.0), (95.0, 2.0)]:
        n = ab.sample_size_mean_difference(std, delta)
        print(f"- ₽: sd {std:.0f}, effect {delta:.0f} ₽: {n} per arm, "
              f"{2 * n / ORDERS_PER_WEEK:.1f} weeks")  # fmt: skip
    print("\nThe scenario's own effects (stale logreg vs retrained, seed 42):\n")
    print(scenario_effects().to_markdown(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 7])
    parser.add_argument("--big", type=int, default=100_000, help="0 skips the big runs")
    args = parser.parse_args()
    started = time.perf_counter()
    notebook_calls()
    peeking_table(args.seeds, args.big)
    designs(args.seeds, args.big)
    sample_sizes()
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
