"""What a model is worth in each scenario: roubles per order of the policies a service has.

For one scenario and one seed, ``score_scenario`` builds three batches of orders, like a
service that trained a model in March and meets a changed world later:

* **reference** (``reference_rows``, seed ``seed``, base conditions): the training period
  of the *stale champion*;
* **retraining sample** (as many orders, seed ``seed + 2``, the scenario at full
  strength): what a retrained model would learn from;
* **current** (``current_rows``, seed ``seed + 1``, the scenario): the orders that judge
  every policy. Nothing is fitted or tuned on them.

A pipeline fits on the earlier 75 % of its training orders and tunes its alarm threshold
on the latest 25 % (``train.split_validation``, ``evaluate.tune_threshold``). The
policies scored on the current orders:

* ``truth`` — the true ``data.late_probability`` at the break-even threshold (the best any
  model can do on average);
* ``constant`` — the cheaper of "flag every order" and "flag none" on the current orders
  (chosen in hindsight: a generous baseline), scored with the current late rate as its
  probability;
* ``stale_<model>`` — trained on the reference period, threshold tuned there;
* ``retrained_<model>`` — the same pipeline trained on the retraining sample.

``scenario_drift`` runs the data-drift suite (``drift.dataset_drift``) on reference vs
current. The benchmark ``benchmarks/scenario_value.py`` and the unit test
``tests/unit/test_scenario_properties.py`` both call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from mlops_course.config import TARGET
from mlops_course.model import evaluate, train
from mlops_course.monitoring import drift
from mlops_course.scenario import problems
from mlops_course.scenario.generator import late_probability

BASE = "base"
"""The scenario name of "nothing changed"."""
REFERENCE_ROWS = 20_000
CURRENT_ROWS = 8_000
CURRENT_START = "2025-03-17"  # two weeks after the reference week (a Monday too)
RETRAIN_START = "2025-03-10"
DEFAULT_COSTS = evaluate.CostTable()


def drift_scenarios() -> list[str]:
    """The data- and concept-drift scenarios of ``problems.SCENARIOS``, in registry order."""
    kinds = (problems.DATA_DRIFT, problems.CONCEPT_DRIFT)
    return [name for name, s in problems.SCENARIOS.items() if s.kind in kinds]


def _batch(name: str, n: int, seed: int, start: str) -> pd.DataFrame:
    chosen = () if name == BASE else (name,)
    return problems.make_batch(n, seed, chosen, start=start).frame


@dataclass(frozen=True)
class Champion:
    """A fitted pipeline and the alarm threshold tuned on its validation orders."""

    model: Any
    threshold: float


def fit_champion(
    frame: pd.DataFrame,
    model: str = "logreg",
    seed: int = 42,
    costs: evaluate.CostTable = DEFAULT_COSTS,
) -> Champion:
    """Fit on the earlier orders of ``frame``, tune the threshold on the latest ones."""
    fit, validation = train.split_validation(frame)
    # One OpenMP thread: on a few shared cores gradient boosting's threads spin against
    # each other and a 0.3 s fit takes seconds (the fitted model is the same).
    with threadpool_limits(limits=1, user_api="openmp"):
        fitted = train.train_model(fit, model=model, seed=seed)
    return Champion(fitted, evaluate.tune_threshold(fitted, validation, costs))


def _row(policy: str, y: np.ndarray, p: np.ndarray, threshold: float, costs) -> dict:
    alarms = p >= threshold
    return {
        "policy": policy,
        "cost_per_order": evaluate.business_cost(y, alarms, costs) / len(y),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "roc_auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else np.nan,
        "threshold": float(threshold),
        "alarm_rate": float(alarms.mean()),
        "late_rate": float(y.mean()),
    }


def score_scenario(
    name: str,
    seed: int = 42,
    models: Sequence[str] = ("logreg", "hgb"),
    costs: evaluate.CostTable = DEFAULT_COSTS,
    *,
    reference_rows: int = REFERENCE_ROWS,
    current_rows: int = CURRENT_ROWS,
    stale: dict[str, Champion] | None = None,
) -> pd.DataFrame:
    """Cost per order, log loss and ROC AUC of every policy on the scenario's current orders.

    ``name`` is ``"base"`` or a drift scenario. ``stale`` maps a model family to an already
    fitted stale champion (see ``stale_champions``), so a loop over scenarios trains it once.
    One row per policy, plus the columns ``scenario`` and ``seed``.
    """
    with threadpool_limits(limits=1, user_api="openmp"):  # see fit_champion
        return _score_scenario(name, seed, models, costs, reference_rows, current_rows, stale=stale)


def _score_scenario(name, seed, models, costs, reference_rows, current_rows, stale):
    if stale is None:
        stale = stale_champions(seed, models, costs, reference_rows=reference_rows)
    current = _batch(name, current_rows, seed + 1, CURRENT_START)
    y = current[TARGET].to_numpy()
    truth = _current_truth(name, current)
    rows = [_row("truth", y, truth, costs.break_even_threshold, costs)]

    constant = costs.constant_costs(float(y.mean()))
    flag_all = constant["flag_all"] < constant["flag_none"]
    rows.append(_row("constant", y, np.full(len(y), y.mean()), 0.0 if flag_all else 2.0, costs))
    rows[-1]["policy_detail"] = "flag_all" if flag_all else "flag_none"

    retrain_frame = None
    for family in models:
        champion = stale[family]
        scores = evaluate.late_scores(champion.model, current)
        rows.append(_row(f"stale_{family}", y, scores, champion.threshold, costs))
        if retrain_frame is None:
            retrain_frame = _batch(name, reference_rows, seed + 2, RETRAIN_START)
        fresh = fit_champion(retrain_frame, family, seed, costs)
        scores = evaluate.late_scores(fresh.model, current)
        rows.append(_row(f"retrained_{family}", y, scores, fresh.threshold, costs))
    table = pd.DataFrame(rows)
    table.insert(0, "seed", seed)
    table.insert(0, "scenario", name)
    return table


def _current_truth(name: str, current: pd.DataFrame) -> np.ndarray:
    """The true P(late | X) the current orders were drawn with."""
    _, truth = problems.world(() if name == BASE else (name,))
    return late_probability(current, truth)


def stale_champions(
    seed: int = 42,
    models: Iterable[str] = ("logreg", "hgb"),
    costs: evaluate.CostTable = DEFAULT_COSTS,
    *,
    reference_rows: int = REFERENCE_ROWS,
) -> dict[str, Champion]:
    """The champions trained on the reference period (base conditions), one per family."""
    reference = _batch(BASE, reference_rows, seed, problems.STREAM_START)
    return {family: fit_champion(reference, family, seed, costs) for family in models}


def scenario_drift(
    name: str,
    seed: int = 42,
    *,
    reference_rows: int = REFERENCE_ROWS,
    current_rows: int = CURRENT_ROWS,
) -> drift.DatasetDrift:
    """The data-drift suite (KS / chi-square, Holm-corrected) on reference vs current."""
    reference = _batch(BASE, reference_rows, seed, problems.STREAM_START)
    current = _batch(name, current_rows, seed + 1, CURRENT_START)
    return drift.dataset_drift(reference, current)


def scenario_value(
    seeds: Iterable[int] = (42, 1, 7),
    names: Sequence[str] | None = None,
    models: Sequence[str] = ("logreg", "hgb"),
    costs: evaluate.CostTable = DEFAULT_COSTS,
    **sizes: int,
) -> pd.DataFrame:
    """``score_scenario`` for the base and every drift scenario, over seeds, in one table.

    Adds ``drifted_columns``: how many features the data-drift suite flags.
    """
    names = [BASE, *drift_scenarios()] if names is None else list(names)
    ref_rows = sizes.get("reference_rows", REFERENCE_ROWS)
    tables = []
    for seed in seeds:
        stale = stale_champions(seed, models, costs, reference_rows=ref_rows)
        for name in names:
            table = score_scenario(name, seed, models, costs, stale=stale, **sizes)
            table["drifted_columns"] = scenario_drift(name, seed, **sizes).n_drifted
            tables.append(table)
    return pd.concat(tables, ignore_index=True)


def cost_matrix(table: pd.DataFrame, value: str = "cost_per_order") -> pd.DataFrame:
    """``scenario_value`` output as (seed, scenario) x policy, e.g. for cost ratios."""
    return table.pivot_table(index=["seed", "scenario"], columns="policy", values=value, sort=False)
