"""Retraining strategies on a simulated weekly stream, with delayed labels.

A strategy decides, at the end of each week, whether to retrain the model and on which
labelled weeks. Labels of week ``k`` arrive in week ``k + label_delay_weeks``, so a
strategy can only learn from the past it already knows; the quality shown is measured on
each week's true labels (which the simulation knows, production would not yet).

Every model, the first one and each retrained one, is fitted on the earlier 75 % of its
training weeks and gets its alarm threshold tuned on the latest 25 %
(``train.split_validation``, ``evaluate.tune_threshold``); its weeks are then priced at
that threshold. Pricing at 0.5 would judge the strategies by a decision nobody makes.

Strategies (``STRATEGIES``):

* ``never``    — train once on the first weeks, never again (maturity level 0);
* ``periodic`` — every ``every_weeks`` weeks, retrain on *all* labelled weeks so far;
* ``sliding``  — every ``every_weeks`` weeks, retrain on the last ``window_weeks`` labelled;
* ``triggered`` — retrain on the last ``window_weeks`` labelled weeks when a Page-Hinkley
  test on the model's error stream (see ``online_drift``) raises an alarm.

With the same ``every_weeks``, ``periodic`` and ``sliding`` differ only in the training
window; with the same ``window_weeks``, ``sliding`` and ``triggered`` differ only in when
they retrain: ``change_steps`` shows what each single change did.
The number of retrains is the cost side of the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from mlops_course.config import SEED, TARGET
from mlops_course.model.evaluate import CostTable, business_cost, late_scores, tune_threshold
from mlops_course.model.train import split_validation, train_model
from mlops_course.monitoring.online_drift import PageHinkley
from mlops_course.scenario.problems import Batch

STRATEGIES = ("never", "periodic", "sliding", "triggered")
# Russian names of the strategies, as tables and plots show them.
STRATEGY_NAMES = {
    "never": "никогда",
    "periodic": "по расписанию",
    "sliding": "скользящее окно",
    "triggered": "по триггеру",
}


@dataclass(frozen=True)
class StrategyConfig:
    """Knobs of a retraining strategy (the defaults suit a 52-week stream).

    The three week counts must be at least 1 (a ``ValueError`` otherwise).
    """

    name: str = "never"
    initial_weeks: int = 4
    """Labelled weeks used for the first model (weeks 0..initial_weeks-1)."""
    every_weeks: int = 4
    window_weeks: int = 4
    delta: float = 0.005
    threshold: float = 40.0
    """λ of the Page-Hinkley test (``triggered`` only); not the alarm threshold of the model."""
    model: str = "logreg"
    costs: CostTable = CostTable()
    """Prices the weeks and tunes each model's alarm threshold."""
    label: str | None = None
    """The strategy's key in ``compare_strategies`` (default: ``name``): lets two variants
    of one strategy be compared side by side."""

    @property
    def key(self) -> str:
        return self.label or self.name

    def __post_init__(self) -> None:
        for knob in ("initial_weeks", "every_weeks", "window_weeks"):
            weeks = getattr(self, knob)
            if weeks < 1:
                raise ValueError(f"{knob} должно быть не меньше 1 недели (получено {weeks}).")


@dataclass
class StrategyResult:
    """Weekly quality of one strategy and the weeks it retrained."""

    name: str
    weekly: pd.DataFrame
    """week, roc_auc, error_rate and cost_per_order (at the model's tuned threshold),
    late_rate (the week's true share of late orders), threshold, retrained."""
    retrain_weeks: list[int]

    @property
    def n_retrains(self) -> int:
        return len(self.retrain_weeks)


def fit_with_threshold(
    frame: pd.DataFrame, model: str = "logreg", costs: CostTable | None = None, seed: int = SEED
) -> tuple[Any, float]:
    """A model fitted on the earlier orders of ``frame`` and its threshold tuned on the latest.

    The split is ``train.split_validation`` (by time); ``costs`` default to ``CostTable()``.
    The simulator of the maturity levels (``mlops_course.simulation``) trains this way too.
    """
    fit, validation = split_validation(frame)
    fitted = train_model(fit, model, seed)
    return fitted, tune_threshold(fitted, validation, costs or CostTable())


def _fit(frame: pd.DataFrame, config: StrategyConfig, seed: int) -> tuple[Any, float]:
    return fit_with_threshold(frame, config.model, config.costs, seed)


def _week_metrics(model: Any, threshold: float, frame: pd.DataFrame, costs: CostTable) -> dict:
    """The few metrics the comparison needs (cheaper than ``evaluate.score_metrics``)."""
    y_true = frame[TARGET].to_numpy().astype(bool)
    scores = late_scores(model, frame)
    predicted = scores >= threshold
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "error_rate": float(np.mean(predicted != y_true)),
        "cost_per_order": business_cost(y_true, predicted, costs) / len(frame),
        "late_rate": float(y_true.mean()),
        "threshold": threshold,
    }


def _labelled(batches: Sequence[Batch], weeks: range) -> pd.DataFrame:
    return pd.concat([batches[w].frame for w in weeks], ignore_index=True)


def _known_weeks(batch: Batch) -> int:
    """How many weeks' labels are known at the end of ``batch``'s week."""
    delay = batch.meta["labels_available_week"] - batch.week
    return batch.week - delay + 1


def simulate(batches: Sequence[Batch], config: StrategyConfig, seed: int = SEED) -> StrategyResult:
    """Run one strategy over the stream, week by week; score each week before adapting."""
    if config.name not in STRATEGIES:
        raise ValueError(f"Неизвестная стратегия {config.name!r}; есть: {STRATEGIES}.")
    # One BLAS/OpenMP thread: these small fits and predictions are 3-4x slower when the
    # threads of a few shared cores spin against each other (the results are the same).
    with threadpool_limits(limits=1):
        return _simulate(batches, config, seed)


def _simulate(batches: Sequence[Batch], config: StrategyConfig, seed: int) -> StrategyResult:
    start = config.initial_weeks
    model, alarm_threshold = _fit(_labelled(batches, range(start)), config, seed)
    detector = PageHinkley(config.delta, config.threshold)
    rows, retrain_weeks = [], []
    first_unseen_label = start  # labels before this week were already fed to the detector
    for batch in batches[start:]:
        week = batch.week
        metrics = _week_metrics(model, alarm_threshold, batch.frame, config.costs)
        known = _known_weeks(batch)
        retrain = False
        if config.name in ("periodic", "sliding"):
            retrain = (week - start + 1) % config.every_weeks == 0
        elif config.name == "triggered":
            # Errors of the current model on the weeks whose labels just arrived.
            for labelled_week in range(first_unseen_label, known):
                frame = batches[labelled_week].frame
                predicted = late_scores(model, frame) >= alarm_threshold
                errors = (predicted != frame[TARGET].to_numpy().astype(bool)).astype(float)
                if any(detector.update(error) for error in errors):
                    retrain = True
                    break
            first_unseen_label = max(first_unseen_label, known)
        # The policy may fire before any week's labels have arrived: nothing to refit on.
        retrained = retrain and known > 0
        if retrained:
            first = 0 if config.name == "periodic" else max(0, known - config.window_weeks)
            model, alarm_threshold = _fit(_labelled(batches, range(first, known)), config, seed)
            detector.reset()
            retrain_weeks.append(week)
        rows.append({"week": week, **metrics, "retrained": retrained})
    return StrategyResult(config.key, pd.DataFrame(rows), retrain_weeks)


def compare_strategies(
    batches: Sequence[Batch],
    configs: Sequence[StrategyConfig],
    change_week: int | None = None,
    seed: int = SEED,
) -> tuple[pd.DataFrame, dict[str, StrategyResult]]:
    """Simulate every strategy; a summary table (mean quality, retrains) and the results.

    With ``change_week`` the summary also shows the mean quality after the change.
    Results are keyed by ``StrategyConfig.key`` (the label, else the name), so each key may
    appear only once in ``configs``: give variants of one strategy their own labels.
    """
    names = [config.key for config in configs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"Стратегия {', '.join(map(repr, repeated))} задана несколько раз: результаты "
            "хранятся по её ключу, поэтому дайте вариантам разные метки (label=...)."
        )
    results = {config.key: simulate(batches, config, seed) for config in configs}
    rows = []
    for config, (name, result) in zip(configs, results.items(), strict=True):
        weekly = result.weekly
        row = {
            "strategy": name,
            **describe(config),
            "retrains": result.n_retrains,
            "mean_roc_auc": weekly["roc_auc"].mean(),
            "mean_cost_per_order": weekly["cost_per_order"].mean(),
        }
        if change_week is not None:
            after = weekly[weekly["week"] >= change_week]
            row["roc_auc_after_change"] = after["roc_auc"].mean()
            row["cost_per_order_after_change"] = after["cost_per_order"].mean()
        rows.append(row)
    return pd.DataFrame(rows), results


def describe(config: StrategyConfig) -> dict[str, str]:
    """When a strategy retrains and on which labelled weeks, in Russian (``schedule``,
    ``training_data``). Two strategies whose descriptions differ in one key differ in
    exactly that knob.
    """
    if config.name == "never":
        return {"schedule": "никогда", "training_data": f"первые {config.initial_weeks} нед."}
    if config.name == "triggered":
        schedule = f"по тревоге (λ = {config.threshold:g})"
    else:
        schedule = f"каждые {config.every_weeks} нед."
    if config.name == "periodic":
        data = "все недели"
    elif config.window_weeks == 1:
        data = "последняя неделя"
    else:
        data = f"последние {config.window_weeks} нед."
    return {"schedule": schedule, "training_data": data}


def change_steps(summary: pd.DataFrame, steps: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Display table (Russian columns): for each pair (from, to) of strategies in
    ``compare_strategies``' summary, how each knob changed (``"a → b"``, or ``"—"`` when it
    stayed) and what that did: retrains and the cost per order after the change.

    Compare strategies one knob at a time: with two knobs changed at once the table shows
    both, and the difference cannot be credited to either.
    """
    rows = summary.set_index("strategy")
    knobs = {"schedule": "расписание", "training_data": "данные"}
    table = []
    for before, after in steps:
        a, b = rows.loc[before], rows.loc[after]
        row = {"шаг": f"{STRATEGY_NAMES.get(before, before)} → {STRATEGY_NAMES.get(after, after)}"}
        row |= {name: "—" if a[k] == b[k] else f"{a[k]} → {b[k]}" for k, name in knobs.items()}
        row["Δ переобучений"] = int(b["retrains"] - a["retrains"])
        if "cost_per_order_after_change" in rows:
            row["Δ ₽ на заказ после смены"] = (
                b["cost_per_order_after_change"] - a["cost_per_order_after_change"]
            )
        table.append(row)
    return pd.DataFrame(table)


def detection_week(errors_by_week: Sequence[np.ndarray], delta: float, threshold: float) -> int:
    """First week whose items make a fresh Page-Hinkley test alarm (-1 if none)."""
    detector = PageHinkley(delta, threshold)
    for week, errors in enumerate(errors_by_week):
        if any(detector.update(float(error)) for error in errors):
            return week
    return -1


@dataclass(frozen=True)
class QualityAlarm:
    """Result of a fixed-limit rule on a weekly quality series."""

    first_week: int | None
    """First week at or after the change outside the limits (None: never)."""
    false_alarms: int
    """Weeks outside the limits before the change (there was nothing to find)."""
    limit: float = float("nan")
    """Half-width of the limits: ``n_sigmas`` binomial standard errors."""
    mean_shift: float = float("nan")
    """Mean of the weeks from the change on minus the baseline: the shift to be found.
    Much smaller than ``limit`` -> the first alarm is a matter of luck (noise)."""


def first_quality_alarm(
    series: pd.Series,
    change_week: int,
    share: float,
    orders_per_week: int,
    baseline_weeks: range = range(4, 12),
    n_sigmas: float = 3.0,
) -> QualityAlarm:
    """Alarm rule for a weekly metric (index = week) that is a difference of binomial shares.

    A week alarms when it is more than ``n_sigmas`` standard errors of a binomial share
    (``share`` of ``orders_per_week`` orders) away from the mean over ``baseline_weeks``.
    Weeks from the first baseline week up to ``change_week`` count as false alarms.
    ``share`` must lie strictly between 0 and 1 (a fraction, not percent).
    """
    if not 0 < share < 1:  # written so that a NaN fails too
        raise ValueError(f"Доля share должна быть между 0 и 1, не в процентах (получено {share}).")
    if not orders_per_week > 0:
        raise ValueError(f"orders_per_week должно быть больше 0 (получено {orders_per_week}).")
    baseline = series.loc[baseline_weeks].mean()
    limit = n_sigmas * np.sqrt(share * (1 - share) / orders_per_week)
    outside = (series - baseline).abs() > limit
    false_alarms = int(outside.loc[baseline_weeks.start : change_week - 1].sum())
    hits = outside.loc[change_week:]
    mean_shift = float(series.loc[change_week:].mean() - baseline)
    first_week = int(hits.idxmax()) if hits.any() else None
    return QualityAlarm(first_week, false_alarms, float(limit), mean_shift)


STRATEGY_COLUMNS = {
    "strategy": "стратегия",
    "schedule": "когда переобучать",
    "training_data": "на чём обучать",
    "retrains": "переобучений",
    "mean_roc_auc": "ROC AUC, среднее за год",
    "mean_cost_per_order": "₽ на заказ, за год",
    "roc_auc_after_change": "ROC AUC после смены",
    "cost_per_order_after_change": "₽ на заказ после смены",
}


def strategy_table(summary: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """``compare_strategies``' summary for display: Russian names and columns, rounded."""
    table = summary.assign(strategy=summary["strategy"].map(lambda s: STRATEGY_NAMES.get(s, s)))
    return table.rename(columns=STRATEGY_COLUMNS).round(decimals)


def quality_alarm_table(
    quality: pd.DataFrame,
    shares: dict[str, float],
    change_week: int,
    orders_per_week: int,
    label_delay_weeks: int,
    baseline_weeks: range = range(4, 12),
) -> pd.DataFrame:
    """Display table (Russian columns): ``first_quality_alarm`` for each metric in ``shares``
    (column of ``quality`` -> its binomial share), with the week its labels are known and
    the detection delay counted from ``change_week``. The mean shift after the change is
    shown next to the limit: a shift below the limit is found only by a lucky noisy week.
    """
    rows = []
    for metric, share in shares.items():
        alarm = first_quality_alarm(
            quality[metric], change_week, share, orders_per_week, baseline_weeks
        )
        known = None if alarm.first_week is None else alarm.first_week + label_delay_weeks
        rows.append(
            {
                "метрика": metric,
                "сдвиг после смены": alarm.mean_shift,
                "порог ±3σ": alarm.limit,
                "ложных тревог до смены": alarm.false_alarms,
                "первая неделя за порогом": alarm.first_week,
                "метки известны в неделю": known,
                "задержка, нед.": None if known is None else known - change_week,
            }
        )
    return pd.DataFrame(rows)
