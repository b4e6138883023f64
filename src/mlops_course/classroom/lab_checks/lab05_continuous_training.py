"""Checks of lab05 «Непрерывное обучение»: the retraining trigger, the quality gate, alias
promotion with rollback on the MLflow registry, and the student's operating policy played
through the production year (``mlops_course.simulation``).

* **Trigger.** Replayed on the observations of one year as level 2's monitoring saw them
  (``observe_year``: one simulated year, cached per seed). For each drift event the
  trigger gets its first ``FIRST_EVIDENCE_WEEKS`` weeks of evidence as that event alone
  would show it (only its own alarms: a drift of its columns, or degraded quality) and
  must fire on one of them; it must stay quiet in calm weeks (no alarm at all) and on a
  batch the data validation refused. A replay, not a simulation of the student's trigger:
  the check is instant and every answer meets the same weeks; exercise 4 plays the
  student's policy for real.
* **Gate.** Pairs of ``ModelReport`` (``GATE_CASES``) with numbers like those of the year:
  a clearly better challenger, a stale champion, a worse one, one better by noise, ones
  trained on refused or unchecked data. Probes (arguments swapped, another champion)
  tell a reversed comparison from one that ignores the champion.
* **Registry.** Each step starts from aliases set with the package's ``registry`` and
  judges one of the student's functions, on the real MLflow registry of the work dir.
* **Policy.** The student's year must cost less than level 0's (the same year).

Every hint names only a mistake the answer was seen to make (``tests/unit``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mlops_course.classroom.checks import (
    NOT_DONE_PREFIX,
    AnswerProblem,
    CheckResult,
    ExerciseNotDone,
    expect,
)
from mlops_course.config import SEED
from mlops_course.model.evaluate import LOWER_IS_BETTER
from mlops_course.scenario import problems
from mlops_course.simulation import outcomes
from mlops_course.simulation.policies import (
    LEVEL_2,
    LEVEL_NAMES,
    GateDecision,
    ModelReport,
    Observation,
    OperatingPolicy,
    gate_decision,
    trigger_reasons,
)
from mlops_course.simulation.simulator import YearResult, simulate_year
from mlops_course.simulation.year import YearEvent

LAB = "lab05_continuous_training"
CHECK_MODEL = "lab05-check"
"""The registered model the registry check works on (recreated on every run)."""
MODEL = "lab05-delivery-delay"
"""The registered model of the lab's own demo."""

FIRST_EVIDENCE_WEEKS = 2
"""An event counts as caught when the trigger fires in one of its first two weeks of
evidence: a reaction, not a calendar that happens to come by."""
MAX_FALSE_TRIGGERS = 2
"""Calm weeks the trigger may fire in: a safety net such as «a model older than a quarter»
fires once or twice a year; a 4-week schedule fires 13 times."""

CALM, REFUSED, NOISE, EVIDENCE = "спокойная", "партия отклонена", "ложная тревога", "событие"
"""Kinds of week in the replay: no alarm; the batch refused by data validation; only
alarms no event explains (the drift detector's noise); an alarm some event explains."""

EVENT_KINDS = {problems.DATA_DRIFT: "дрейф данных", problems.CONCEPT_DRIFT: "концептуальный дрейф"}
PROBE_COLUMNS = ("temperature_c", "weather")


# --- The year the trigger is replayed on ------------------------------------------------


@dataclass(frozen=True, eq=False)
class ObservedYear:
    """One year as level 2's monitoring saw it: its run and one ``Observation`` a week."""

    result: YearResult
    observations: tuple[Observation, ...]

    @property
    def events(self) -> tuple[YearEvent, ...]:
        return self.result.year.events

    def alarms_of(self, week: int) -> pd.DataFrame:
        alarms = self.result.alarms
        return alarms[alarms["week"] == week]


@functools.lru_cache(maxsize=4)
def observe_year(seed: int = SEED) -> ObservedYear:
    """Play ``LEVEL_2`` through the year and keep what its trigger saw each week (cached).

    The recorder answers as level 2's own trigger, so the run is level 2's year exactly.
    Treat the result as read-only: it is shared.
    """
    seen: list[Observation] = []

    def recorder(observation: Observation) -> list[str]:
        seen.append(observation)
        return LEVEL_2.trigger(observation)

    result = simulate_year(replace(LEVEL_2, trigger=recorder), seed)
    return ObservedYear(result, tuple(seen))


def _explained(observed: ObservedYear, alarm: Any) -> list[YearEvent]:
    """The events that could have raised ``alarm`` (``outcomes.could_cause``)."""
    return [
        event
        for event in observed.events
        if outcomes.could_cause(event, alarm.kind, alarm.evidence_weeks, alarm.columns)
    ]


def week_kinds(observed: ObservedYear) -> pd.DataFrame:
    """Per week: its kind (``CALM``, ``REFUSED``, ``NOISE``, ``EVIDENCE``) and the events its
    monitoring alarms point to. A validation alarm is not a reason to retrain: its batch is
    neither scored nor trained on, so the week is ``REFUSED`` unless another alarm counts."""
    rows = []
    for observation in observed.observations:
        signals = observed.alarms_of(observation.week)
        signals = signals[signals["kind"] != outcomes.VALIDATION]
        events = sorted(
            {
                e.key
                for alarm in signals.itertuples(index=False)
                for e in _explained(observed, alarm)
            }
        )
        if events:
            kind = EVIDENCE
        elif observation.batch_valid is False:
            kind = REFUSED
        elif signals.empty:
            kind = CALM
        else:
            kind = NOISE
        rows.append({"week": observation.week, "kind": kind, "events": tuple(events)})
    return pd.DataFrame(rows)


def _event_alarms(observed: ObservedYear, event: YearEvent, week: int) -> list[Any]:
    return [
        alarm
        for alarm in observed.alarms_of(week).itertuples(index=False)
        if alarm.kind != outcomes.VALIDATION and event in _explained(observed, alarm)
    ]


def _alone(observation: Observation, event: YearEvent, alarms: list[Any]) -> Observation:
    """``observation`` with only ``event``'s own evidence: its alarms, its drifted columns."""
    drift = [alarm for alarm in alarms if alarm.kind == outcomes.DRIFT]
    columns = tuple(c for c in observation.drifted_columns if c in event.columns)
    degraded = any(alarm.kind == outcomes.DEGRADATION for alarm in alarms)
    texts = [
        f"дрейф данных: {', '.join(columns)}" if alarm.kind == outcomes.DRIFT else alarm.text
        for alarm in alarms
    ]
    return replace(
        observation,
        batch_valid=True,
        drift_detected=bool(drift),
        drifted_columns=columns if drift else (),
        degraded=degraded,
        live_metric=observation.live_metric if degraded else observation.reference_metric,
        alarms=tuple(texts),
    )


def event_evidence(observed: ObservedYear, event: YearEvent) -> list[Observation]:
    """The first ``FIRST_EVIDENCE_WEEKS`` weeks from the event's start with an alarm it could
    have caused, each as an observation holding that evidence alone (``_alone``)."""
    found = []
    for observation in observed.observations:
        if observation.week < event.start_week:
            continue
        alarms = _event_alarms(observed, event, observation.week)
        if alarms:
            found.append(_alone(observation, event, alarms))
        if len(found) == FIRST_EVIDENCE_WEEKS:
            break
    return found


def _evidence_text(observation: Observation) -> str:
    parts = []
    if observation.drift_detected:
        parts.append(f"дрейф {', '.join(observation.drifted_columns)}")
    if observation.degraded:
        parts.append(
            f"{observation.metric} {observation.reference_metric:.3f} → "
            f"{observation.live_metric:.3f} (degraded)"
        )
    return " и ".join(parts) or "; ".join(observation.alarms)


# --- Exercise 1: the trigger -------------------------------------------------------------


def _answer(trigger: Callable[[Observation], Any], observation: Observation) -> list[str]:
    """The trigger's reasons for one observation; a value the simulator refuses is a hint."""
    return _reasons(trigger(observation))


def _reasons(value: Any) -> list[str]:
    """A trigger's answer as reasons (``policies.trigger_reasons``), or a hint what to return."""
    if isinstance(value, np.bool_):
        raise AnswerProblem(
            f"триггер вернул numpy-значение {value!r} (np.bool_): симулятор принимает True/False "
            "Python или список причин — оберните условие в bool(...)."
        )
    try:
        return trigger_reasons(value)
    except ValueError:
        raise AnswerProblem(
            f"триггер вернул {type(value).__name__} {value!r}: верните True/False или список "
            "причин (строк), пустой — не переобучать."
        ) from None


def _fires(trigger: Callable[[Observation], Any], observation: Observation) -> bool:
    return bool(_answer(trigger, observation))


def trigger_weeks(trigger: Callable[[Observation], Any], observed: ObservedYear) -> pd.DataFrame:
    """The trigger on each week's observation, in order: week, kind, events, fired, reasons."""
    table = week_kinds(observed)
    values = [trigger(observation) for observation in observed.observations]
    answers = [_reasons(value) for value in values]
    if all(value is None for value in values):
        raise AnswerProblem(
            "функция ничего не вернула (None) ни в одну неделю: замените print на return "
            "(или допишите return в конце функции)."
        )
    table["fired"] = [bool(reasons) for reasons in answers]
    table["reasons"] = ["; ".join(reasons) for reasons in answers]
    return table


def _quiet(observation: Observation) -> Observation:
    """The same week with nothing to report: batch accepted, no drift, quality as trained."""
    return replace(
        observation,
        batch_valid=True,
        drift_detected=False,
        drifted_columns=(),
        degraded=False,
        live_metric=observation.reference_metric,
        alarms=(),
    )


def _with_drift(observation: Observation) -> Observation:
    return replace(
        _quiet(observation),
        drift_detected=True,
        drifted_columns=PROBE_COLUMNS,
        alarms=(f"дрейф данных: {', '.join(PROBE_COLUMNS)}",),
    )


def _with_degradation(observation: Observation) -> Observation:
    worse = 0.1 if observation.metric in LOWER_IS_BETTER else -0.1
    live = observation.reference_metric + worse
    return replace(
        _quiet(observation),
        degraded=True,
        live_metric=live,
        alarms=(f"качество ухудшилось: {observation.metric} {live:.3f}",),
    )


@dataclass(frozen=True)
class TriggerProbes:
    """How the trigger answers each week made quiet, or given one kind of evidence."""

    quiet: tuple[bool, ...]
    drift: tuple[bool, ...]
    degradation: tuple[bool, ...]
    fresh: tuple[bool, ...]
    """Quiet, with the champion deployed this week (``weeks_since_deployment=0``)."""

    @classmethod
    def of(cls, trigger: Callable[[Observation], Any], observed: ObservedYear) -> TriggerProbes:
        weeks = observed.observations
        return cls(
            quiet=tuple(_fires(trigger, _quiet(o)) for o in weeks),
            drift=tuple(_fires(trigger, _with_drift(o)) for o in weeks),
            degradation=tuple(_fires(trigger, _with_degradation(o)) for o in weeks),
            fresh=tuple(
                _fires(trigger, replace(_quiet(o), weeks_since_deployment=0)) for o in weeks
            ),
        )

    @property
    def reacts_to_drift(self) -> bool:
        return any(d and not q for d, q in zip(self.drift, self.quiet, strict=True))

    @property
    def reacts_to_degradation(self) -> bool:
        return any(d and not q for d, q in zip(self.degradation, self.quiet, strict=True))

    @property
    def always(self) -> bool:
        return all(self.quiet)

    def aged(self, week: int) -> bool:
        """Fires on quiet week ``week`` only because the champion is old."""
        return self.quiet[week] and not self.fresh[week]


def _weeks_text(weeks: Iterable[int]) -> str:
    """«неделя 7» or «недели 3, 7, 11» (at most 8 numbers, then «…»)."""
    weeks = list(weeks)
    shown = ", ".join(str(w) for w in weeks[:8]) + (", …" if len(weeks) > 8 else "")
    return f"неделя {shown}" if len(weeks) == 1 else f"недели {shown}"


def _times(count: int) -> str:
    """«1 раз», «2 раза», «5 раз»."""
    few = count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14)
    return f"{count} раза" if few else f"{count} раз"


def _event_result(
    trigger: Callable[[Observation], Any],
    observed: ObservedYear,
    event: YearEvent,
    probes: TriggerProbes,
) -> CheckResult:
    kind = EVENT_KINDS[event.kind]
    title = f"«{event.name}» ({kind}, с недели {event.start_week})"
    evidence = event_evidence(observed, event)
    if not evidence:
        return CheckResult(True, f"{title}: в наблюдениях года нет его признаков — не проверяется")
    fired = [o for o in evidence if _fires(trigger, o)]
    if fired:
        first = fired[0]
        return CheckResult(
            True, f"{title}: сработал на неделе {first.week} ({_evidence_text(first)})"
        )
    seen = "; ".join(f"неделя {o.week}: {_evidence_text(o)}" for o in evidence)
    return CheckResult(
        False,
        f"{title}: не сработал ни в одну из первых недель с его признаками ({seen}). "
        + _missed_hint(event, evidence, probes),
    )


def _missed_hint(event: YearEvent, evidence: list[Observation], probes: TriggerProbes) -> str:
    """Why an event was missed, from the probes (each hint only when its probe shows it)."""
    if not any(probes.quiet + probes.drift + probes.degradation):
        return "Триггер не сработал ни разу: верните True (или причины), когда есть признаки."
    hints = []
    if any(o.drift_detected for o in evidence) and not probes.reacts_to_drift:
        hints.append(
            "Триггер не реагирует на дрейф данных: при drift_detected=True он молчит — "
            "проверьте observation.drift_detected."
        )
    if any(o.degraded for o in evidence) and not probes.reacts_to_degradation:
        hints.append(
            "Триггер не реагирует на падение качества (degraded=True): концептуальный дрейф "
            "меняет P(y | X), а не входы, поэтому дрейф данных его не видит — только качество "
            "на отложенных метках (observation.degraded или live_metric против reference_metric)."
        )
    if not hints:
        hints.append(
            "На такие признаки в других неделях триггер срабатывает, а здесь нет: посмотрите, "
            f"что он отвечает на observed.observations[{evidence[0].week}] и почему."
        )
    return " ".join(hints)


def _calm_result(table: pd.DataFrame, observed: ObservedYear, probes: TriggerProbes) -> CheckResult:
    calm = table[table["kind"] == CALM]
    fired = calm.loc[calm["fired"], "week"].tolist()
    head = f"в спокойные недели (нет ни одной тревоги мониторинга, партия принята: {len(calm)})"
    if len(fired) <= MAX_FALSE_TRIGGERS:
        where = f" ({_weeks_text(fired)})" if fired else ""
        return CheckResult(True, f"{head} ложных срабатываний {len(fired)}{where}")
    return CheckResult(
        False,
        f"{head} ложных срабатываний {len(fired)} ({_weeks_text(fired)}), а допустимо не "
        f"больше {MAX_FALSE_TRIGGERS}: каждое — лишнее переобучение, пока конвейер занят, "
        "настоящее событие ждёт. " + _calm_hint(fired, observed, probes),
    )


def _calm_hint(fired: list[int], observed: ObservedYear, probes: TriggerProbes) -> str:
    if probes.always:
        return (
            "Триггер срабатывает каждую неделю, не глядя на наблюдение: возвращайте причины "
            "только при признаках (drift_detected, degraded)."
        )
    if not (probes.reacts_to_drift or probes.reacts_to_degradation):
        return (
            "Триггер срабатывает по календарю, а не по наблюдению: на дрейф и на падение "
            "качества он не реагирует. Расписание — не триггер по событиям."
        )
    if all(probes.aged(week) for week in fired):
        return (
            "Срабатывает по возрасту модели (weeks_since_deployment): в этом году чемпион "
            "меняется каждые несколько недель — страховка по возрасту нужна не чаще раза в "
            "квартал (≥ 13 недель)."
        )
    by_week = {o.week: o for o in observed.observations}
    live = [by_week[w] for w in fired]
    if all(_worse_than_trained(o) for o in live):
        return (
            "В эти недели качество хуже, чем при обучении, но в пределах шума: degraded=False. "
            "Сравнивайте с допуском — используйте observation.degraded (допуск 0.05)."
        )
    return (
        "В эти недели drift_detected=False и degraded=False, тревог нет: проверьте условие "
        "(drifted_columns — кортеж, и пустой кортеж не None; drift_detected бывает None)."
    )


def _worse_than_trained(observation: Observation) -> bool:
    live, reference = observation.live_metric, observation.reference_metric
    if math.isnan(live):
        return False
    return live > reference if observation.metric in LOWER_IS_BETTER else live < reference


def _refused_result(table: pd.DataFrame) -> CheckResult | None:
    refused = table[table["kind"] == REFUSED]
    if refused.empty:
        return None
    fired = refused.loc[refused["fired"], "week"].tolist()
    return expect(
        not fired,
        f"{_weeks_text(refused['week'])} (партия отклонена проверкой данных): не сработал",
        f"{_weeks_text(fired)}: сработал, хотя партию отклонила проверка данных "
        "(batch_valid=False): модель её не видит ни в работе, ни в обучении, переобучение "
        "ничего не исправит — чинить надо поставку данных. Не переобучайте из-за "
        "batch_valid=False.",
    )


def _summary_result(table: pd.DataFrame) -> CheckResult:
    noise = table[(table["kind"] == NOISE) & table["fired"]]["week"].tolist()
    text = f"за год ({len(table)} нед.) сработал {_times(int(table['fired'].sum()))}"
    if noise:
        text += (
            f"; по ложным тревогам мониторинга — {_times(len(noise))} ({_weeks_text(noise)}): "
            "это шум детектора дрейфа, модели без улучшения отсеют ворота"
        )
    return CheckResult(True, text)


def check_trigger(
    trigger: Callable[[Observation], Any], observed: ObservedYear
) -> list[CheckResult]:
    """``trigger(observation) -> bool | list[str]`` replayed on ``observed`` (see the module
    docstring): each drift event caught, calm weeks and a refused batch left alone."""
    table = trigger_weeks(trigger, observed)
    probes = TriggerProbes.of(trigger, observed)
    results = [
        _event_result(trigger, observed, event, probes)
        for event in observed.events
        if event.kind in EVENT_KINDS
    ]
    results.append(_calm_result(table, observed, probes))
    refused = _refused_result(table)
    if refused is not None:
        results.append(refused)
    results.append(_summary_result(table))
    return results


# --- Exercise 2: the quality gate ---------------------------------------------------------

GATE_ORDERS = 1000
"""Orders a gate compares on: the validation quarter of a 4-week window of 1,000 a week."""


def model_report(
    version: int,
    log_loss: float,
    cost_per_order: float,
    roc_auc: float,
    data_valid: bool | None = True,
) -> ModelReport:
    """A ``ModelReport`` with the metrics the simulator gives its gate."""
    metrics = {
        "log_loss": log_loss,
        "cost_rub": cost_per_order * GATE_ORDERS,
        "cost_per_order": cost_per_order,
        "roc_auc": roc_auc,
    }
    return ModelReport(version, metrics, data_valid, trained_on=(20, 21, 22, 23))


@dataclass(frozen=True)
class GateCase:
    """One (challenger, champion) pair and what a right gate does with it."""

    key: str
    name: str
    challenger: ModelReport
    champion: ModelReport
    should_pass: bool


# The numbers are like those of the year: a champion at log loss 0.33 and 72 ₽ per order;
# after the routing change a stale champion at 0.60 (notebooks 08-10); noise between two
# models of one window is about 0.001 (the gate margin of notebooks 02-03 is 0.005).
CHAMPION = model_report(4, 0.330, 72.0, 0.780)
STALE_CHAMPION = model_report(4, 0.600, 90.0, 0.700)
BETTER = model_report(5, 0.300, 69.0, 0.805)
GATE_CASES = (
    GateCase("better", "заметно лучше чемпиона", BETTER, CHAMPION, True),
    GateCase(
        "stale",
        "чемпион устарел после смены маршрутизации",
        model_report(5, 0.360, 66.0, 0.840),
        STALE_CHAMPION,
        True,
    ),
    GateCase("worse", "хуже чемпиона", model_report(5, 0.350, 74.0, 0.765), CHAMPION, False),
    GateCase(
        "noise",
        "лучше чемпиона на величину шума",
        model_report(5, 0.3297, 71.97, 0.7803),
        CHAMPION,
        False,
    ),
    GateCase(
        "refused_data",
        "обучена на партии, которую отклонила проверка данных",
        replace(BETTER, data_valid=False),
        CHAMPION,
        False,
    ),
    GateCase(
        "unchecked_data",
        "обучена на данных, которые никто не проверял",
        replace(BETTER, data_valid=None),
        CHAMPION,
        False,
    ),
)


def _pair_text(case: GateCase) -> str:
    new, old = case.challenger.metrics, case.champion.metrics
    text = (
        f"log loss {new['log_loss']:.4f} против {old['log_loss']:.4f}, ₽ на заказ "
        f"{new['cost_per_order']:.2f} против {old['cost_per_order']:.2f}"
    )
    if case.challenger.data_valid is not True:
        text += f", data_valid={case.challenger.data_valid}"
    return text


@dataclass(frozen=True)
class GateAnswer:
    decision: GateDecision
    explained: bool
    """The gate gave a reason of its own (not a bare True/False)."""


def _gate(gate: Callable[[ModelReport, ModelReport], Any], challenger, champion) -> GateAnswer:
    value = gate(challenger, champion)
    if isinstance(value, np.bool_):
        raise AnswerProblem(
            f"ворота вернули numpy-значение {value!r} (np.bool_): верните "
            "GateDecision(bool(...), причина) или (bool(...), причина)."
        )
    try:
        decision = gate_decision(value)
    except ValueError:
        raise AnswerProblem(
            f"ворота вернули {type(value).__name__} {value!r}: верните "
            "GateDecision(пропустить, причина) или пару (True/False, причина)."
        ) from None
    explained = not isinstance(value, bool) and bool(decision.reason.strip())
    return GateAnswer(decision, explained)


@dataclass(frozen=True)
class GateDiagnosis:
    """What the gate does with each case and with two probes."""

    passed: dict[str, bool]
    swapped_passes: bool
    """It passes the champion as a challenger against the better model (arguments swapped)."""
    same_verdict_any_champion: bool
    """The same challenger gets the same verdict against a worse and a better champion."""

    @classmethod
    def of(cls, gate, answers: dict[str, GateAnswer]) -> GateDiagnosis:
        passed = {key: answer.decision.passed for key, answer in answers.items()}
        swapped = _gate(gate, replace(CHAMPION, version=5), replace(BETTER, version=4))
        strong = model_report(4, 0.270, 66.0, 0.830)  # a champion better than BETTER
        against_strong = _gate(gate, BETTER, strong).decision.passed
        return cls(passed, swapped.decision.passed, against_strong == passed["better"])

    @property
    def reversed(self) -> bool:
        return not self.passed["better"] and self.swapped_passes

    @property
    def passes_all(self) -> bool:
        return all(self.passed.values())

    @property
    def ignores_champion(self) -> bool:
        """It gives both verdicts, but the champion does not change them."""
        one_verdict = self.passes_all or self.refuses_valid
        return not (self.reversed or one_verdict) and self.same_verdict_any_champion

    @property
    def refuses_valid(self) -> bool:
        """It refuses both clearly better challengers trained on checked data."""
        return not (self.passed["better"] or self.passed["stale"] or self.reversed)


REVERSED_HINT = (
    "Сравнение перевёрнуто: ворота пропускают модель хуже и отклоняют лучшую. Для log_loss и "
    "₽ на заказ меньше — лучше: прирост = champion − challenger, пропуск при приросте > margin."
)
IGNORES_CHAMPION_HINT = (
    "Ворота не смотрят на чемпиона: один и тот же претендент получает один вердикт и против "
    "более слабого, и против более сильного чемпиона. Сравнивайте challenger.metrics с "
    "champion.metrics, а не с постоянным числом."
)
PASSES_ALL_HINT = "Ворота пропускают любую модель: проверьте условие пропуска."


def _case_hint(case: GateCase, diagnosis: GateDiagnosis) -> str:
    """The hint for a wrong verdict on ``case``, from the mistakes the diagnosis shows."""
    if case.key in ("better", "stale", "worse") and diagnosis.reversed:
        return REVERSED_HINT
    if case.key == "worse" and diagnosis.passes_all:
        return PASSES_ALL_HINT
    if case.key in ("stale", "worse") and diagnosis.ignores_champion:
        return IGNORES_CHAMPION_HINT
    if case.key in ("better", "stale") and diagnosis.refuses_valid:
        return (
            "Ворота не пропустили ни одной модели, даже заметно лучшей с проверенными данными "
            "(data_valid=True): проверьте условия отказа."
        )
    if case.key == "better":
        return (
            "Запас слишком велик: модель лучше на 0.03 log loss (3 ₽ на заказ) — уже не шум. "
            "Запас на шум — около 0.005 log loss (как в ноутбуках 02–03) или 1 ₽ на заказ."
        )
    if case.key == "noise":
        return (
            PASSES_ALL_HINT
            if diagnosis.passes_all
            else (
                "Нет запаса на шум: прирост 0.0003 log loss (0.03 ₽ на заказ) — случайность "
                "проверочной выборки; пропускайте, только если прирост больше margin "
                "(например 0.005 log loss)."
            )
        )
    if case.key == "refused_data":
        return (
            "Ворота не смотрят на challenger.data_valid: False значит, одна из обучающих "
            "партий не прошла проверку, и метрики на её же заказах ничего не доказывают."
        )
    if case.key == "unchecked_data":
        if diagnosis.passed["refused_data"]:
            return "Эту модель ворота пропустили по той же причине, что и предыдущую."
        return (
            "data_valid=None значит, данные не проверяли вовсе (так прошла бы партия в метрах): "
            "пропускайте только при data_valid is True."
        )
    return PASSES_ALL_HINT if diagnosis.passes_all else "Модель хуже чемпиона: отклоните её."


def _case_result(case: GateCase, answer: GateAnswer, diagnosis: GateDiagnosis) -> CheckResult:
    verdict = "пропущена" if answer.decision.passed else "отклонена"
    expected = "пропустить" if case.should_pass else "отклонить"
    title = f"«{case.name}» ({_pair_text(case)})"
    if answer.decision.passed == case.should_pass:
        reason = f": {answer.decision.reason}" if answer.explained else ""
        return CheckResult(True, f"{title}: {verdict}{reason}")
    return CheckResult(
        False, f"{title}: {verdict}, а надо {expected}. " + _case_hint(case, diagnosis)
    )


def check_gate(gate: Callable[[ModelReport, ModelReport], Any]) -> list[CheckResult]:
    """``gate(challenger, champion) -> GateDecision | (bool, reason)`` on ``GATE_CASES``."""
    answers = {case.key: _gate(gate, case.challenger, case.champion) for case in GATE_CASES}
    diagnosis = GateDiagnosis.of(gate, answers)
    results = [_case_result(case, answers[case.key], diagnosis) for case in GATE_CASES]
    results.append(
        expect(
            all(answer.explained for answer in answers.values()),
            "каждое решение ворот объяснено причиной",
            "верните и причину решения: GateDecision(passed, reason) или (passed, reason) — "
            "её прочтёт тот, кто разбирает, почему модель не вышла в production.",
        )
    )
    return results


# --- Exercise 3: promotion and rollback on the MLflow registry ---------------------------


def _registry():
    from mlops_course.versioning import registry  # MLflow is imported only when needed

    return registry


def recreate_model(name: str) -> None:
    """Delete the registered model ``name`` (its versions and aliases) if there is one, so
    that its next version is 1 again."""
    import mlflow

    client = mlflow.MlflowClient()
    if client.search_registered_models(filter_string=f"name = '{name}'"):
        client.delete_registered_model(name)


def fresh_model(model_uri: str, name: str = CHECK_MODEL, versions: int = 3) -> list[int]:
    """Versions 1..``versions`` of ``name``: kept when they are all there (each check step
    sets its own aliases), else ``model_uri`` registered that many times afresh."""
    import mlflow

    wanted = list(range(1, versions + 1))
    found = mlflow.MlflowClient().search_model_versions(f"name = '{name}'")
    if sorted(int(v.version) for v in found) == wanted:
        return wanted
    recreate_model(name)
    return [_registry().register(model_uri, name) for _ in wanted]


def _set_aliases(name: str, wanted: dict[str, int]) -> None:
    registry = _registry()
    for alias in registry.aliases(name):
        registry.delete_alias(name, alias)
    for alias, version in wanted.items():
        registry.set_alias(name, alias, version)


def aliases_text(aliases: dict[str, int]) -> str:
    """Aliases as «champion → v2, previous_champion → v1» (or «алиасов нет»)."""
    if not aliases:
        return "алиасов нет"
    return ", ".join(f"{alias} → v{version}" for alias, version in sorted(aliases.items()))


@dataclass(frozen=True)
class RegistryStep:
    key: str
    name: str
    start: dict[str, int]
    expected: dict[str, int]


REGISTRY_STEPS = (
    RegistryStep("first", "promote(v1) в пустом реестре", {}, {"champion": 1}),
    RegistryStep(
        "promote",
        "promote(v2) при чемпионе v1",
        {"champion": 1},
        {"champion": 2, "previous_champion": 1},
    ),
    RegistryStep(
        "again",
        "promote(v2) ещё раз",
        {"champion": 2, "previous_champion": 1},
        {"champion": 2, "previous_champion": 1},
    ),
    RegistryStep(
        "rollback", "rollback()", {"champion": 2, "previous_champion": 1}, {"champion": 1}
    ),
    RegistryStep(
        "no_way_back", "rollback() без previous_champion", {"champion": 1}, {"champion": 1}
    ),
    RegistryStep(
        "refused",
        "release(v3), ворота отклонили",
        {"champion": 2, "previous_champion": 1},
        {"champion": 2, "previous_champion": 1, "challenger": 3},
    ),
    RegistryStep(
        "passed",
        "release(v3), ворота пропустили",
        {"champion": 2, "previous_champion": 1},
        {"champion": 3, "previous_champion": 2},
    ),
)


def _step_hint(step: RegistryStep, got: dict[str, int], failed: set[str]) -> str:
    """What a wrong alias state after ``step`` says about the function that made it."""
    champion, previous = got.get("champion"), got.get("previous_champion")
    want_champion = step.expected["champion"]
    hints = []
    if step.key in ("rollback", "no_way_back") and champion is None:
        hints.append(
            "После отката алиаса champion нет — сервису нечего загрузить: откат передвигает "
            "champion на previous_champion (set_alias), а не удаляет его."
        )
    elif step.key == "no_way_back" and champion != want_champion:
        hints.append("Без previous_champion откатываться некуда: оставьте champion как есть.")
    elif step.key == "refused" and champion == 3:
        hints.append(
            "Отклонённая модель стала чемпионом: продвигайте, только если decision.passed."
        )
    elif champion != want_champion:
        hints.append(f"Алиас champion должен указывать на v{want_champion}.")
    if step.key == "first" and previous is not None:
        hints.append("Чемпиона не было: алиасу previous_champion указывать не на что.")
    if step.key == "promote" and previous != 1:
        hints.append(
            "Алиас previous_champion не указывает на прежнего чемпиона v1 — откатываться некуда: "
            "перед тем как передвинуть champion, запишите его прежнюю версию в previous_champion."
        )
    if step.key == "again" and previous != 1:
        hints.append(
            "Повторная выкатка той же версии затёрла previous_champion: путь назад к v1 "
            "потерян. Если версия уже чемпион, previous_champion не трогайте."
        )
    if step.key == "rollback" and previous is not None:
        hints.append(
            "Алиас previous_champion указывает на откатанную v2: второй откат вернул бы плохую "
            "модель. Удалите алиас (registry.delete_alias)."
            if previous == 2
            else "Алиас previous_champion остался: откатываться больше некуда — удалите алиас "
            "(registry.delete_alias)."
        )
    if step.key == "refused" and champion != 3 and got.get("challenger") != 3:
        hints.append("Отметьте новую версию алиасом challenger: её разберут люди.")
    if step.key == "refused" and champion == 2 and previous != 1:
        hints.append("Алиас previous_champion изменился, хотя чемпион прежний.")
    if step.key == "passed" and got.get("challenger") == 3:
        hints.append(
            "Версия v3 уже чемпион: снимите с неё алиас challenger (registry.delete_alias)."
        )
    if step.key == "passed" and champion == 3 and previous != 2:
        hints.append(
            "Алиас previous_champion не на v2 — это та же ошибка promote, что выше: release должен "
            "менять чемпиона через promote."
            if "promote" in failed
            else "Алиас previous_champion не на v2: release должен менять чемпиона через promote."
        )
    return " ".join(hints) or "Сравните алиасы с ожидаемыми."


def _student(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, with the builder's stub reported as that function's exercise (the
    check gets three functions: ``run_check`` alone would name the first of them)."""

    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except NotImplementedError as error:
            if not str(error).startswith(NOT_DONE_PREFIX):
                raise
            hint = str(error).removeprefix(NOT_DONE_PREFIX).strip(" :")
            raise ExerciseNotDone(
                f"{NOT_DONE_PREFIX}: функция {function.__name__} ещё не написана (в ней raise "
                "NotImplementedError). Напишите её в ячейке упражнения выше, запустите ту "
                "ячейку, затем эту." + (f" Подсказка: {hint}." if hint else "")
            ) from None

    return call


def _run_step(step: RegistryStep, name: str, promote, rollback, release) -> None:
    promote, rollback, release = _student(promote), _student(rollback), _student(release)
    if step.key in ("first", "promote", "again"):
        promote(name, step.expected["champion"])
    elif step.key == "rollback":
        rollback(name)
    elif step.key == "no_way_back":
        try:
            rollback(name)
        except ExerciseNotDone:
            raise
        except Exception:  # refusing to roll back (LookupError or any other) is right here
            pass
    else:
        passed = step.key == "passed"
        reason = "v3 лучше чемпиона" if passed else "v3 не лучше чемпиона"
        release(name, 3, GateDecision(passed, reason))


def _result(key: str, expected: dict[str, int], got: dict[str, int], step, failed) -> CheckResult:
    ok = got == expected
    title = f"{step.name}: {aliases_text(got)}"
    if ok:
        return CheckResult(True, title)
    failed.add(key)
    return CheckResult(
        False, f"{title}, а ожидалось {aliases_text(expected)}. " + _step_hint(step, got, failed)
    )


def check_registry(
    promote: Callable[[str, int], Any],
    rollback: Callable[[str], Any],
    release: Callable[[str, int, GateDecision], Any],
    model_uri: str,
    name: str = CHECK_MODEL,
) -> list[CheckResult]:
    """The student's ``promote``, ``rollback``, ``release`` on the active MLflow registry.

    ``name`` has versions 1, 2, 3 (``model_uri`` registered three times, ``fresh_model``);
    each step of ``REGISTRY_STEPS`` sets its starting aliases with ``registry.set_alias``
    and compares the aliases after the student's call with the expected ones.
    """
    fresh_model(model_uri, name)
    registry, failed, results = _registry(), set(), []
    for step in REGISTRY_STEPS:
        _set_aliases(name, step.start)
        _run_step(step, name, promote, rollback, release)
        results.append(_result(step.key, step.expected, registry.aliases(name), step, failed))
    return results


# --- Exercise 4: the student's policy through the year ----------------------------------


def _same_year(first: YearResult, second: YearResult) -> bool:
    return first.year.key == second.year.key


def _policy_hints(policy: OperatingPolicy, result: YearResult) -> str:
    summary = result.summary()
    hints = []
    if not policy.monitor:
        hints.append(
            "monitor=False: триггер не видит ни дрейфа (drift_detected=None), ни качества "
            "(live_metric=NaN, degraded=False) — включите monitor=True."
        )
    if not policy.validate_data:
        refused = summary["retrains"] > 0 and summary["deployments"] == 0
        hints.append(
            "validate_data=False: партии не проверяются, у каждой новой модели data_valid=None"
            + (", и ваши ворота отклонили все." if refused else ".")
            + " Включите validate_data=True."
        )
    if not hints and summary["retrains"] == 0:
        hints.append("Триггер не сработал за год ни разу: проверьте его на наблюдениях года.")
    if not hints and summary["deployments"] == 0:
        reasons = [r for r in result.weekly["gate"] if r]
        example = f" (например: «{reasons[0]}»)" if reasons else ""
        hints.append(
            f"Ворота отклонили все {summary['retrains']} обученных моделей{example}: "
            "запас велик или условие отказа срабатывает всегда."
        )
    if not hints:
        hints.append(
            "Посмотрите result.weekly (столбцы cost_rub, trigger, gate): в какие недели ваша "
            "политика теряет больше уровня 0 и почему."
        )
    return " ".join(hints)


def check_policy(
    result: YearResult,
    level_0: YearResult,
    trigger: Callable[[Observation], Any],
    gate: Callable[[ModelReport, ModelReport], Any],
) -> list[CheckResult]:
    """``result = simulate_year(policy, seed)`` of the student's policy against level 0's year:
    the policy uses the student's trigger and gate, and its year costs fewer ₽."""
    if not isinstance(result, YearResult):
        raise AnswerProblem(
            f"передан {type(result).__name__}, а нужен год вашей политики: "
            "simulate_year(my_policy, seed)."
        )
    if level_0.policy.name != "level_0" or not _same_year(result, level_0):
        raise AnswerProblem(
            "сравнивать надо с уровнем 0 на том же году: simulate_year(LEVEL_0, seed) "
            "с тем же seed, что и у вашей политики."
        )
    policy = result.policy
    ours, theirs = result.summary()["cost_rub"], level_0.summary()["cost_rub"]
    saving = (theirs - ours) / theirs
    return [
        expect(
            policy.trigger is trigger and policy.gate is gate,
            f"политика «{policy.name}» использует ваши триггер и ворота",
            "в политике не ваши функции: передайте trigger=retrain_trigger, "
            "gate=quality_gate (сами функции, без вызова).",
        ),
        expect(
            ours < theirs,
            f"за год {_rub(ours)} против {_rub(theirs)} у уровня 0 (дешевле на {saving:.1%})",
            f"за год {_rub(ours)}, а у уровня 0 — {_rub(theirs)}: политика не лучше ручной. "
            + ("" if ours < theirs else _policy_hints(policy, result)),
        ),
    ]


def _rub(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f") + " ₽"


def _weeks_or_dash(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.0f}"


def policy_name(policy: OperatingPolicy) -> str:
    """«уровень 1» for the levels, the policy's own name otherwise."""
    return LEVEL_NAMES.get(policy.name, policy.name)


def _genitive(policy: OperatingPolicy) -> str:
    """«уровня 1» for the levels, «имя» otherwise (after «против», «у»)."""
    name = policy_name(policy)
    return "уровня" + name.removeprefix("уровень") if name.startswith("уровень") else f"«{name}»"


def _versus(mine: dict, other: dict, name: str) -> str:
    difference = mine["cost_rub"] - other["cost_rub"]
    sign = "+" if difference > 0 else "−" if difference < 0 else "±"
    return (
        f"против {name}: {sign}{_rub(abs(difference))} за год "
        f"(выкаток {mine['deployments']} против {other['deployments']})"
    )


def policy_comparison(mine: YearResult, *others: YearResult) -> str:
    """One line: the student's ₽ and deployments against each other policy, and rollbacks."""
    ours = mine.summary()
    parts = [_versus(ours, other.summary(), _genitive(other.policy)) for other in others]
    rollbacks = ", ".join(
        f"{policy_name(r.policy)} {r.summary()['rollbacks']}" for r in (mine, *others)
    )
    return f"{policy_name(mine.policy)} " + "; ".join(parts) + f". Откатов за год: {rollbacks}."


def policy_table(results: Sequence[YearResult]) -> pd.DataFrame:
    """Policies side by side on one year: ₽, deployments, retrains, incidents, weeks to detect
    each event (— : never). Columns in the order given; the first is the base for «₽ к первой»."""
    base = results[0].summary()["cost_rub"]
    columns = {}
    for result in results:
        summary = result.summary()
        column = {
            "₽ за год": _rub(summary["cost_rub"]),
            f"₽ против {_genitive(results[0].policy)}": (
                f"{(summary['cost_rub'] - base) / base:+.1%}"
            ),
            "выкаток": summary["deployments"],
            "переобучений": summary["retrains"],
            "инцидентов в production": summary["incidents_in_production"],
        }
        for event in result.year.events:
            column[f"обнаружение: {event.name}, нед."] = _weeks_or_dash(
                summary[f"detect_{event.key}"]
            )
        columns[policy_name(result.policy)] = column
    return pd.DataFrame(columns)
