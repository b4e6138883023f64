"""The production year, played week by week under one operating policy.

Each week ``t`` of ``simulate_year``:

1. deployments due this week take effect (the champion alias moves);
2. the batch arrives; a validating policy checks it (``validation.validate_orders``) and
   refuses a broken one: the model neither scores it nor trains on it later, the service
   serves the fallback rule instead (see ``policies.OperatingPolicy``);
3. the champion scores the batch. The week's quality and ₽ are measured on the week's
   *true* labels at the champion's tuned threshold: the simulation knows them, the policy
   does not yet;
4. a monitoring policy checks drift (``drift.dataset_drift`` against the champion's
   training orders) and the live quality of the week whose labels arrived now (``t -
   label_delay``; ``triggers.retraining_trigger`` against the champion's validation
   quality); with ``auto_rollback`` it also compares the champion with the previous one on
   those delayed labels and rolls back when the champion is worse;
5. the trigger sees an ``Observation`` and may ask for a retrain. One retrain at a time:
   while a model is being trained or waits for deployment, triggers are noted, not acted
   on. The model is trained ``retrain_days`` later on the last ``window_weeks`` labelled
   (and accepted) weeks (``retraining.fit_with_threshold``), checked by the ``gate`` if
   there is one, and serves from ``policies.deployment_week``.

The initial model (v1), identical for every policy, is trained on the history weeks.
``YearResult.events`` applies the definitions of ``outcomes`` (detect, recover); the
oracle that recovery is measured against is computed once per year and cached.
One BLAS thread, logistic regression by default: a year takes a few seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlops_course.automation.triggers import retraining_trigger
from mlops_course.config import CATEGORICAL_FEATURES, FEATURES, SEED, TARGET
from mlops_course.model.evaluate import (
    LOWER_IS_BETTER,
    CostTable,
    late_scores,
)
from mlops_course.model.retraining import fit_with_threshold
from mlops_course.model.train import split_validation
from mlops_course.monitoring.drift import dataset_drift
from mlops_course.scenario import problems
from mlops_course.simulation import outcomes
from mlops_course.simulation.oracle import oracle_quality
from mlops_course.simulation.policies import (
    LEVEL_NAMES,
    LEVELS,
    ModelReport,
    Observation,
    OperatingPolicy,
    deployment_week,
    gate_decision,
    resolve_policy,
    training_week,
    trigger_reasons,
)
from mlops_course.simulation.quality import DEFAULT_COSTS, log_loss, metric_value, week_metrics
from mlops_course.simulation.shelf import ModelShelf, ShelvedModel
from mlops_course.simulation.year import (
    HISTORY_WEEKS,
    LABEL_DELAY_WEEKS,
    ORDERS_PER_WEEK,
    YEAR_EVENTS,
    YEAR_WEEKS,
    ProductionYear,
    YearEvent,
    make_year,
    week_start,
)
from mlops_course.versioning.registry import CHALLENGER, PREVIOUS_CHAMPION

WORSE_MARGIN = outcomes.RECOVERY_TOLERANCE
"""A deployment made production worse when, on the true labels of the weeks it served, the
new model's log loss is above the replaced model's by more than this."""


def _gain(metric: str, new: float, old: float) -> float:
    """How much better ``new`` is than ``old`` (positive: better)."""
    return old - new if metric in LOWER_IS_BETTER else new - old


@dataclass
class _Served:
    version: int
    scores: np.ndarray | None
    """None: the fallback served the week."""


@dataclass
class YearResult:
    """One policy's year: per week, per event, per deployment, per alarm."""

    policy: OperatingPolicy
    year: ProductionYear
    weekly: pd.DataFrame
    """week, date, model_version, fallback, log_loss, roc_auc, cost_rub, cost_per_order,
    late_rate, deployments, retrained, alarms, trigger, gate, bad_batch_served,
    oracle_log_loss, oracle_cost_rub, gap (log loss minus the oracle's)."""
    events: pd.DataFrame
    """One row per event: time_to_detect_weeks, time_to_recover_weeks, hurt,
    bad_batch_reached_production (quality incidents; else NaN), worse_model_deployed."""
    deployments: pd.DataFrame
    """week (first week served), version, replaced, kind (deploy/rollback), reason,
    decided_week, trained_on, weeks_served, log_loss_change (vs the replaced model on the
    true labels of those weeks), worse."""
    alarms: pd.DataFrame
    """week, kind, evidence_weeks, columns, text, false_alarm."""
    shelf: ModelShelf = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """The year in one row: the columns of ``compare_levels``."""
        weekly, events = self.weekly, self.events.set_index("key")
        deploys = self.deployments[self.deployments["week"] > 0]  # v1 is not a choice
        row = {
            "level": self.policy.name,
            "seed": self.year.seed,
            "cost_rub": weekly["cost_rub"].sum(),
            "oracle_cost_rub": weekly["oracle_cost_rub"].sum(),
            "cost_per_order": weekly["cost_rub"].sum() / (len(weekly) * self.year.orders_per_week),
            "mean_log_loss": weekly["log_loss"].mean(),
            "median_log_loss": weekly["log_loss"].median(),
            "retrains": int(weekly["retrained"].sum()),
            "deployments": int((deploys["kind"] == "deploy").sum()),
            "rollbacks": int((deploys["kind"] == "rollback").sum()),
            "alarms": len(self.alarms),
            "false_alarms": int(self.alarms["false_alarm"].sum()),
            "incidents_in_production": int(
                (events["bad_batch_reached_production"] == True).sum()  # noqa: E712 (NaN too)
                + deploys["worse"].sum()
            ),
        }
        for key, event in events.iterrows():
            row[f"detect_{key}"] = event["time_to_detect_weeks"]
            row[f"recover_{key}"] = event["time_to_recover_weeks"]
        return row


class _Run:
    """The mutable state of one policy's year (kept out of the public API)."""

    def __init__(self, policy: OperatingPolicy, year: ProductionYear, model: str, costs) -> None:
        self.policy, self.year, self.model, self.costs = policy, year, model, costs
        self.shelf = ModelShelf()
        self.verdicts: dict[int, bool | None] = {}
        self.served: dict[int, _Served] = {}
        self.predictions: dict[tuple[int, int, bool], np.ndarray] = {}
        self.alarms: list[dict] = []
        self.rows: list[dict] = []
        self.pending_training: list[tuple[int, int, list[str]]] = []  # (train, decided, why)
        self.pending_deploy: list[tuple[int, int, int, str]] = []  # (serve, version, decided, why)
        self.deployments: list[dict] = []
        self.champion_since = 0
        first = self._train(-1)
        if first is None:
            raise ValueError("Не удалось обучить первую модель на истории.")
        self.shelf.promote(first.version)
        self._log_deploy(0, first.version, None, "deploy", "первая модель", -1)

    # --- the week, step by step --------------------------------------------------------

    def play(self) -> None:
        for week in range(self.year.weeks):
            self._week(week)

    def _week(self, week: int) -> None:
        deployed = self._deploy_due(week)
        batch = self.year.batches[week]
        valid = self._validate(week, batch)
        quality = self._serve(week, batch, valid)
        observation = self._monitor(week, batch, valid)
        if self.policy.auto_rollback:
            self._check_rollback(week)
        reasons = trigger_reasons(self.policy.trigger(observation))
        busy = bool(self.pending_training or self.pending_deploy)
        if reasons and not busy:
            self.pending_training.append((training_week(self.policy, week), week, reasons))
        trained, gate = self._train_due(week)
        self.rows.append(
            {
                "week": week,
                "date": week_start(week),
                "model_version": self.served[week].version,
                "fallback": self.served[week].scores is None,
                **quality,
                "late_rate": float(batch.frame[TARGET].mean()),
                "deployments": deployed,
                "retrained": trained,
                "alarms": "; ".join(self._week_alarms(week)),
                "trigger": "; ".join(reasons) + (" (конвейер занят)" if reasons and busy else ""),
                "gate": gate,
                "bad_batch_served": problems.QUALITY in batch.kinds
                and self.served[week].scores is not None,
            }
        )

    def _alarm(self, week: int, kind: str, evidence: Sequence[int], columns, text: str) -> str:
        self.alarms.append(
            {
                "week": week,
                "kind": kind,
                "evidence_weeks": tuple(evidence),
                "columns": tuple(sorted(columns)),
                "text": text,
            }
        )
        return text

    def _scores(self, model: ShelvedModel, week: int, clean: bool = False) -> np.ndarray:
        """P(late) of ``model`` for week ``week`` (its clean orders if asked), memoised."""
        clean = clean and week in self.year.clean
        key = (model.version, week, clean)
        if key not in self.predictions:
            frame = self.year.clean_frame(week) if clean else self.year.batches[week].frame
            self.predictions[key] = late_scores(model.model, frame)
        return self.predictions[key]

    def _week_alarms(self, week: int) -> tuple[str, ...]:
        return tuple(a["text"] for a in self.alarms if a["week"] == week)

    def _validate(self, week: int, batch) -> bool | None:
        if not self.policy.validate_data:
            self.verdicts[week] = None
            return None
        result = self.year.validation(week)
        self.verdicts[week] = result.ok
        if not result.ok:
            columns = sorted(result.failed_columns)
            self._alarm(
                week,
                outcomes.VALIDATION,
                [week],
                columns,
                f"партия отклонена проверкой данных: {', '.join(columns)}",
            )
        champion = self.shelf.champion
        for column in CATEGORICAL_FEATURES:
            if column in batch.frame and column in champion.features:
                unseen = sorted(set(batch.frame[column].dropna()) - set(champion.features[column]))
                if unseen:
                    self._alarm(
                        week,
                        outcomes.NEW_CATEGORY,
                        [week],
                        [column],
                        f"{column}: значения, которых модель не видела: {unseen}",
                    )
        return result.ok

    def _fallback(self, champion: ShelvedModel, n: int) -> tuple[np.ndarray, float]:
        """The constant rule: the champion's training late rate, flag all or none."""
        constant = self.costs.constant_costs(champion.late_rate)
        threshold = 0.0 if constant["flag_all"] < constant["flag_none"] else math.inf
        return np.full(n, champion.late_rate), threshold

    def _serve(self, week: int, batch, valid: bool | None) -> dict:
        champion, frame = self.shelf.champion, batch.frame
        scores = None
        if valid is not False:
            try:
                scores = self._scores(champion, week)
            except (KeyError, ValueError, TypeError) as error:
                self._alarm(
                    week,
                    outcomes.SERVICE_ERROR,
                    [week],
                    [],
                    f"сервис не смог предсказать: {type(error).__name__}",
                )
        self.served[week] = _Served(champion.version, scores)
        if scores is None:
            shown, threshold = self._fallback(champion, len(frame))
        else:
            shown, threshold = scores, champion.threshold
        return week_metrics(frame[TARGET].to_numpy(), shown, threshold, self.costs, auc=True)

    def _drift(self, week: int, batch, champion: ShelvedModel) -> tuple[bool, tuple[str, ...]]:
        result = dataset_drift(
            champion.features,
            batch.without_labels(),
            columns=FEATURES,
            alpha=self.policy.drift_alpha,
        )
        drifted = tuple(result.table.loc[result.table["drifted"], "column"])
        if result.drift_detected:
            self._alarm(
                week, outcomes.DRIFT, [week], drifted, f"дрейф данных: {', '.join(drifted)}"
            )
        return result.drift_detected, drifted

    def _livemetric_value(self, week: int, champion: ShelvedModel) -> float:
        """The champion's metric on the week whose labels arrived now (NaN: none, or the
        batch was refused). The champion is scored on it whichever model served it, as
        ``retraining``'s triggered strategy does: no blind spot after a deployment."""
        labelled = week - self.year.label_delay_weeks
        if labelled < 0 or self.verdicts.get(labelled) is False:
            return math.nan
        y = self.year.batches[labelled].frame[TARGET].to_numpy()
        try:
            scores = self._scores(champion, labelled)
        except (KeyError, ValueError, TypeError):  # the batch the service could not read
            return math.nan
        return metric_value(self.policy.metric, y, scores, champion.threshold, self.costs)

    def _monitor(self, week: int, batch, valid: bool | None) -> Observation:
        champion, policy = self.shelf.champion, self.policy
        drift, drifted, live, degraded = None, (), math.nan, False
        reference = champion.reference_metrics[policy.metric]
        if policy.monitor:
            if valid is not False:
                drift, drifted = self._drift(week, batch, champion)
            live = self._livemetric_value(week, champion)
            degraded, reasons = retraining_trigger(
                False, live, reference, policy.metric, policy.tolerance
            )
            if degraded:
                evidence = [week - self.year.label_delay_weeks]
                self._alarm(week, outcomes.DEGRADATION, evidence, [], reasons[0])
        return Observation(
            week=week,
            champion_version=champion.version,
            weeks_since_deployment=week - self.champion_since,
            batch_valid=valid,
            drift_detected=drift,
            drifted_columns=drifted,
            metric=policy.metric,
            live_metric=live,
            reference_metric=reference,
            degraded=degraded,
            alarms=self._week_alarms(week),
        )

    # --- models: training, the gate, deployment, rollback ------------------------------

    def _train(self, week: int) -> ShelvedModel | None:
        known = self.year.labelled_weeks(max(week, 0))  # the first model: all the history
        accepted = [w for w in known if self.verdicts.get(w) is not False]
        weeks = accepted[-self.policy.window_weeks :]
        if not weeks:
            return None
        frame = pd.concat([self.year.batch(w).frame for w in weeks], ignore_index=True)
        try:
            model, threshold = fit_with_threshold(frame, self.model, self.costs, self.year.seed)
            validation = split_validation(frame)[1]  # the split fit_with_threshold tuned on
            scores = late_scores(model, validation)
        except (KeyError, ValueError, TypeError) as error:
            self._alarm(
                week,
                outcomes.SERVICE_ERROR,
                weeks,
                [],
                f"обучение не удалось: {type(error).__name__}",
            )
            return None
        y = validation[TARGET].to_numpy()
        reference = week_metrics(y, scores, threshold, self.costs, auc=True)
        reference[self.policy.metric] = metric_value(
            self.policy.metric, y, scores, threshold, self.costs
        )
        bad = tuple(w for w in weeks if w >= 0 and problems.QUALITY in self.year.batch(w).kinds)
        return self.shelf.add(
            ShelvedModel(
                version=self.shelf.next_version(),
                model=model,
                threshold=threshold,
                trained_on=tuple(weeks),
                trained_week=week,
                data_valid=True if self.policy.validate_data else None,
                reference_metrics=reference,
                late_rate=float(frame[TARGET].mean()),
                features=frame[FEATURES],
                validation=validation,
                validation_scores=scores,
                bad_weeks=bad,
            )
        )

    def _report(self, model: ShelvedModel, challenger: ShelvedModel) -> ModelReport:
        """``model`` on the challenger's validation orders (the gate's common ground)."""
        frame = challenger.validation
        if model is challenger:
            scores = challenger.validation_scores
        else:
            scores = late_scores(model.model, frame)
        metrics = week_metrics(
            frame[TARGET].to_numpy(), scores, model.threshold, self.costs, auc=True
        )
        return ModelReport(model.version, metrics, model.data_valid, model.trained_on)

    def _train_due(self, week: int) -> tuple[bool, str]:
        due = [p for p in self.pending_training if p[0] == week]
        self.pending_training = [p for p in self.pending_training if p[0] != week]
        trained, verdicts = False, []
        for _, decided, reasons in due:
            challenger = self._train(week)
            if challenger is None:
                continue
            trained = True
            if self.policy.gate is not None:
                reports = (self._report(m, challenger) for m in (challenger, self.shelf.champion))
                decision = gate_decision(self.policy.gate(*reports))
                verdicts.append(decision.reason)
                if not decision.passed:
                    continue
                self.shelf.set_alias(CHALLENGER, challenger.version)
            serve = deployment_week(self.policy, decided)
            self.pending_deploy.append((serve, challenger.version, decided, "; ".join(reasons)))
        return trained, "; ".join(verdicts)

    def _log_deploy(self, week, version, replaced, kind, reason, decided) -> None:
        self.deployments.append(
            {
                "week": week,
                "version": version,
                "replaced": replaced,
                "kind": kind,
                "reason": reason,
                "decided_week": decided,
                "trained_on": self.shelf.versions[version].trained_on,
            }
        )

    def _deploy_due(self, week: int) -> int:
        due = [p for p in self.pending_deploy if p[0] == week]
        self.pending_deploy = [p for p in self.pending_deploy if p[0] != week]
        for _, version, decided, reason in due:
            replaced = self.shelf.champion.version
            self.shelf.promote(version)
            self.champion_since = week
            self._log_deploy(week, version, replaced, "deploy", reason, decided)
        rollbacks = [d for d in self.deployments if d["week"] == week and d["kind"] == "rollback"]
        return len(due) + len(rollbacks)

    def _check_rollback(self, week: int) -> None:
        """Roll back when the champion's delayed labels say the previous one was better."""
        champion, previous = self.shelf.champion, self.shelf.get(PREVIOUS_CHAMPION)
        newest = week - self.year.label_delay_weeks
        weeks = [
            w
            for w in range(self.champion_since, newest + 1)
            if self.served[w].version == champion.version and self.served[w].scores is not None
        ]
        if previous is None or not weeks or weeks[-1] != newest:
            return
        frames = [self.year.batches[w].frame for w in weeks]
        y = np.concatenate([f[TARGET].to_numpy() for f in frames])
        ours = np.concatenate([self.served[w].scores for w in weeks])
        theirs = np.concatenate([self._scores(previous, w) for w in weeks])
        metric = self.policy.metric
        now = metric_value(metric, y, ours, champion.threshold, self.costs)
        before = metric_value(metric, y, theirs, previous.threshold, self.costs)
        if _gain(metric, before, now) <= self.policy.rollback_margin:
            return
        self.shelf.rollback()
        self.champion_since = week + 1
        text = (
            f"откат v{champion.version} → v{previous.version}: {metric} {now:.4f} против "
            f"{before:.4f} на неделях {weeks[0]}–{weeks[-1]}"
        )
        self._alarm(week, outcomes.ROLLBACK, weeks, [], text)
        self._log_deploy(week + 1, previous.version, champion.version, "rollback", text, week)


# --- Outcomes of the year -------------------------------------------------------------


def _weeks_served(weekly: pd.DataFrame, deployments: pd.DataFrame) -> list[list[int]]:
    """For each deployment, the weeks its model served until the next deployment."""
    starts = deployments["week"].tolist() + [len(weekly)]
    served = []
    for start, stop in zip(starts[:-1], starts[1:], strict=True):
        span = weekly[(weekly["week"] >= start) & (weekly["week"] < stop)]
        served.append(span.loc[~span["fallback"], "week"].tolist())
    return served


def _judge_deployments(run: _Run, weekly: pd.DataFrame) -> pd.DataFrame:
    """Did each deployment make production worse, on the true labels of its weeks?"""
    deployments = pd.DataFrame(run.deployments)
    deployments["replaced"] = deployments["replaced"].astype("Int64")
    changes, served = [], _weeks_served(weekly, deployments)
    for row, weeks in zip(deployments.itertuples(index=False), served, strict=True):
        if pd.isna(row.replaced) or not weeks:
            changes.append(math.nan)
            continue
        y = np.concatenate([run.year.clean_frame(w)[TARGET].to_numpy() for w in weeks])
        new, old = (run.shelf.versions[v] for v in (row.version, int(row.replaced)))
        losses = [
            log_loss(y, np.concatenate([run._scores(m, w, clean=True) for w in weeks]))
            for m in (new, old)
        ]
        changes.append(losses[0] - losses[1])
    deployments["weeks_served"] = [len(weeks) for weeks in served]
    deployments["log_loss_change"] = changes
    deployments["worse"] = deployments["log_loss_change"] > WORSE_MARGIN
    return deployments


def _event_rows(
    year: ProductionYear, weekly: pd.DataFrame, alarms: pd.DataFrame, deployments: pd.DataFrame
) -> pd.DataFrame:
    gap = weekly.set_index("week")["gap"]
    rows = []
    for event in year.events:
        active = {w for w in range(year.weeks) if event.active(w)}
        recover, hurt = outcomes.time_to_recover(gap, event)
        trained_on_it = deployments[[bool(set(t) & active) for t in deployments["trained_on"]]]
        # A worse model is blamed on an event only if it learnt from the event's onset: a
        # lasting event (winter, the routing change) is active in every later window.
        onset = set(outcomes.onset_weeks(event))
        learnt_onset = deployments[[bool(set(t) & onset) for t in deployments["trained_on"]]]
        row = {
            "key": event.key,
            "событие": event.name,
            "kind": event.kind,
            "start_week": event.start_week,
            "time_to_detect_weeks": outcomes.time_to_detect(alarms, event),
            "time_to_recover_weeks": recover,
            "hurt": hurt,
            "bad_batch_reached_production": math.nan,
            "worse_model_deployed": bool(learnt_onset["worse"].any()),
        }
        if event.kind == problems.QUALITY and active:
            scored = bool(weekly.loc[weekly["week"].isin(active), "bad_batch_served"].any())
            served_trained = bool((trained_on_it["weeks_served"] > 0).any())
            row["bad_batch_reached_production"] = scored or served_trained
        rows.append(row)
    return pd.DataFrame(rows)


def _result(run: _Run, costs: CostTable) -> YearResult:
    weekly = pd.DataFrame(run.rows)
    oracle = oracle_quality(run.year, run.model, costs)
    weekly = weekly.merge(oracle[["week", "oracle_log_loss", "oracle_cost_rub"]], on="week")
    weekly["gap"] = weekly["log_loss"] - weekly["oracle_log_loss"]
    alarms = pd.DataFrame(run.alarms, columns=outcomes.ALARM_COLUMNS)
    alarms["false_alarm"] = [
        outcomes.is_false_alarm(a, run.year.events) for a in alarms.itertuples(index=False)
    ]
    deployments = _judge_deployments(run, weekly)
    events = _event_rows(run.year, weekly, alarms, deployments)
    return YearResult(run.policy, run.year, weekly, events, deployments, alarms, run.shelf)


def simulate_year(
    policy: OperatingPolicy | str,
    seed: int = SEED,
    *,
    weeks: int = YEAR_WEEKS,
    orders_per_week: int = ORDERS_PER_WEEK,
    history_weeks: int = HISTORY_WEEKS,
    label_delay_weeks: int = LABEL_DELAY_WEEKS,
    events: Sequence[YearEvent] = YEAR_EVENTS,
    model: str = "logreg",
    costs: CostTable = DEFAULT_COSTS,
) -> YearResult:
    """Play the production year under ``policy`` (an ``OperatingPolicy`` or a level name).

    The year is ``year.make_year(seed, weeks, ...)``: every policy given the same arguments
    meets the same batches. Same arguments -> identical tables.
    """
    policy = resolve_policy(policy)
    year = make_year(seed, weeks, orders_per_week, history_weeks, label_delay_weeks, tuple(events))
    # One BLAS/OpenMP thread: small fits and predictions run 3-4x slower when the threads
    # of a few shared cores spin against each other (see model.retraining).
    with threadpool_limits(limits=1):
        run = _Run(policy, year, model, costs)
        run.play()
        return _result(run, costs)


def compare_levels(
    seeds: Iterable[int] = (42, 1, 7),
    levels: Mapping[str, OperatingPolicy] | Sequence[OperatingPolicy | str] = LEVELS,
    **year: Any,
) -> pd.DataFrame:
    """One row per (seed, level): ``YearResult.summary()`` (cumulative ₽, mean log loss,
    deployments, rollbacks, alarms, detect/recover weeks per event, incidents in
    production). ``year`` goes to ``simulate_year`` (weeks, orders_per_week, ...)."""
    policies = list(levels.values()) if isinstance(levels, Mapping) else list(levels)
    policies = [resolve_policy(p) for p in policies]
    rows = [simulate_year(p, seed, **year).summary() for seed in seeds for p in policies]
    return pd.DataFrame(rows)


def _number(value: float) -> str:
    """Roubles as ``4 092 540``, small numbers with three significant digits, counts as ints."""
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", "\u202f")
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def level_ranges(table: pd.DataFrame) -> pd.DataFrame:
    """``compare_levels`` over several seeds as "min – max" per column (rows) and level.

    A cell notes how many seeds had NaN (never detected / never recovered).
    """
    columns = [c for c in table.columns if c not in ("level", "seed")]

    def span(values: pd.Series) -> str:
        known = values.dropna()
        missing = len(values) - len(known)
        if known.empty:
            return "—"
        low, high = _number(known.min()), _number(known.max())
        text = low if low == high else f"{low} – {high}"
        return text + (f" (нет в {missing} из {len(values)})" if missing else "")

    groups = table.groupby("level", sort=False)
    return pd.DataFrame({level: group[columns].apply(span) for level, group in groups})


LEVEL_COLUMNS = {
    "cost_rub": "₽ за год",
    "oracle_cost_rub": "₽ за год у оракула",
    "cost_per_order": "₽ на заказ",
    "mean_log_loss": "log loss, среднее по неделям",
    "median_log_loss": "log loss, медиана по неделям",
    "retrains": "переобучений",
    "deployments": "выкаток",
    "rollbacks": "откатов",
    "alarms": "тревог",
    "false_alarms": "ложных тревог",
    "incidents_in_production": "инцидентов в production",
}


def level_table(table: pd.DataFrame, events: Sequence[YearEvent] = YEAR_EVENTS) -> pd.DataFrame:
    """A ``compare_levels`` table (or ``level_ranges``) with Russian row and column names."""
    names = dict(LEVEL_COLUMNS)
    for event in events:
        names[f"detect_{event.key}"] = f"обнаружение: {event.name}, нед."
        names[f"recover_{event.key}"] = f"восстановление: {event.name}, нед."
    if "level" in table.columns:  # compare_levels: one row per (seed, level)
        shown = table.assign(level=table["level"].map(lambda n: LEVEL_NAMES.get(n, n)))
        return shown.rename(columns={**names, "level": "уровень", "seed": "seed"})
    return table.rename(index=names, columns=lambda n: LEVEL_NAMES.get(n, n))
