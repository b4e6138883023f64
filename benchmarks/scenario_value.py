"""Does the scenario bite? Roubles per order of every policy, per scenario and seed.

Run: ``python benchmarks/scenario_value.py [--seeds 42 1 7]`` (about ten seconds). For the
base conditions and every data- and concept-drift scenario at full strength it scores, on
8,000 fresh orders, the true probabilities, the best constant policy, the stale champion
(trained on 20,000 reference orders, threshold tuned on their latest 25 %) and the same
pipeline retrained on 20,000 orders of the new conditions, for logistic regression and
gradient boosting (``mlops_course.model.scenario_value``). Prints a markdown table per seed
(₽/order and log loss), then the teaching properties per seed: ratios the course's story
relies on, with the targets they must meet.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from mlops_course.model.scenario_value import BASE, cost_matrix, scenario_value

POLICIES = {
    "truth": "true p",
    "constant": "best constant",
    "stale_logreg": "stale logreg",
    "retrained_logreg": "retrained logreg",
    "stale_hgb": "stale hgb",
    "retrained_hgb": "retrained hgb",
}


def seed_table(table: pd.DataFrame, seed: int) -> str:
    """One markdown table: a row per scenario, ``₽/order (log loss)`` per policy."""
    rows = table[table["seed"] == seed]
    policies = [p for p in POLICIES if p in set(rows["policy"])]
    header = ["scenario", "late rate", "drifted cols", *(POLICIES[p] for p in policies)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for scenario, group in rows.groupby("scenario", sort=False):
        by_policy = group.set_index("policy")
        cells = [
            scenario,
            f"{group['late_rate'].iloc[0]:.1%}",
            str(int(group["drifted_columns"].iloc[0])),
        ]
        for policy in policies:
            row = by_policy.loc[policy]
            cells.append(f"{row['cost_per_order']:.1f} ({row['log_loss']:.3f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def properties(table: pd.DataFrame) -> pd.DataFrame:
    """The targets, one row per seed: ratios of costs per order (see the column names)."""
    costs = cost_matrix(table)
    drifted = cost_matrix(table, "drifted_columns")
    auc = cost_matrix(table, "roc_auc")
    models = [m for m in ("logreg", "hgb") if f"stale_{m}" in costs.columns]
    rows = []
    for seed in table["seed"].unique():
        c = costs.loc[seed]
        row = {"seed": seed, "truth AUC (base)": auc.loc[(seed, BASE), "truth"]}
        for m in models:
            stale, fresh = c[f"stale_{m}"], c[f"retrained_{m}"]
            row[f"{m}: champion / constant (base) ≤ 0.75"] = stale[BASE] / c["constant"][BASE]
            for name in ("winter", "peak_load", "new_district", "routing_change"):
                row[f"{m}: stale / retrained, {name} ≥ 1.15"] = stale[name] / fresh[name]
            row[f"{m}: |campaign / base − 1| < 0.03"] = abs(
                stale["marketing_campaign"] / stale[BASE] - 1
            )
        # beyond the flags of the same samples without drift (chance alarms of the seed)
        row["drifted cols: routing_change − base = 0"] = (
            drifted.loc[(seed, "routing_change"), "truth"] - drifted.loc[(seed, BASE), "truth"]
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed").T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 7])
    parser.add_argument("--models", nargs="+", default=["logreg", "hgb"])
    args = parser.parse_args()
    started = time.perf_counter()
    table = scenario_value(args.seeds, models=args.models)
    for seed in args.seeds:
        print(f"\n### seed {seed}: ₽ per order (log loss) on 8,000 current orders\n")
        print(seed_table(table, seed))
    print("\n### Teaching properties per seed\n")
    print(properties(table).round(3).to_markdown())
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
