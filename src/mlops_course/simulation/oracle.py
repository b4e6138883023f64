"""The oracle: what the model family could serve each week with perfect, instant data.

Recovery from an event is measured against it (``outcomes``): for week ``w`` the same
pipeline is fitted on ``ORACLE_WEEKS`` weeks' worth of fresh orders drawn from week ``w``'s
own world (its drift at its strength that week; never a quality incident), threshold tuned
on their latest quarter, and judged on week ``w``'s clean orders. Computed once per year,
model and costs, and cached.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlops_course.config import TARGET
from mlops_course.model.evaluate import CostTable, late_scores
from mlops_course.model.retraining import fit_with_threshold
from mlops_course.scenario import problems
from mlops_course.simulation.quality import DEFAULT_COSTS, week_metrics
from mlops_course.simulation.year import HISTORY_WEEKS, ProductionYear, make_year, week_start

ORACLE_WEEKS = HISTORY_WEEKS
"""The oracle learns from as many orders as a retrain (weeks x orders per week)."""


def _oracle_seed(seed: int, week: int) -> int:
    # A stream of its own: never the orders of any week of the year.
    return int(np.random.SeedSequence([seed, week, 7_777]).generate_state(1)[0])


def _world_strengths(year: ProductionYear, week: int) -> dict[str, float]:
    """Drift scenarios active in ``week`` and their strengths (quality incidents left out)."""
    strengths: dict[str, float] = {}
    for e in year.events:
        value = e.event.strength_at(week)
        if value > 0 and e.kind != problems.QUALITY:
            strengths[e.scenario] = max(value, strengths.get(e.scenario, 0.0))
    return strengths


@functools.lru_cache(maxsize=16)
def _oracle(key: tuple, model: str, costs: CostTable) -> pd.DataFrame:
    year = make_year(*key)
    rows = []
    with threadpool_limits(limits=1):
        for week in range(year.weeks):
            strengths = _world_strengths(year, week)
            sample = problems.make_batch(
                ORACLE_WEEKS * year.orders_per_week,
                _oracle_seed(year.seed, week),
                scenarios=list(strengths),
                strength=strengths,
                start=week_start(week - ORACLE_WEEKS),
                days=7 * ORACLE_WEEKS,
            ).frame
            fitted, threshold = fit_with_threshold(sample, model, costs, year.seed)
            frame = year.clean_frame(week)
            y, scores = frame[TARGET].to_numpy(), late_scores(fitted, frame)
            metrics = week_metrics(y, scores, threshold, costs, auc=True)
            rows.append({"week": week, **{f"oracle_{k}": v for k, v in metrics.items()}})
    return pd.DataFrame(rows)


def oracle_quality(
    year: ProductionYear, model: str = "logreg", costs: CostTable = DEFAULT_COSTS
) -> pd.DataFrame:
    """Per week: the oracle's log loss, ROC AUC and ₽ on the week's (clean) orders.

    The oracle is the same pipeline fitted on ``ORACLE_WEEKS`` weeks' worth of fresh orders
    drawn from week ``w``'s own world (its drift at its strength that week; no quality
    incident), threshold tuned on their latest quarter: what a team that reacts instantly
    and perfectly would serve. Cached per year, model and costs.
    """
    return _oracle(year.key, model, costs).copy()
