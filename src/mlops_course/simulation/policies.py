"""How a team operates its model: the operating policy, and the three maturity levels.

An ``OperatingPolicy`` answers, week by week, the questions of the lecture's maturity
levels: when is the model retrained (``trigger``), are the data checked (``validate_data``),
is the new model checked against the one in production (``gate``), who waits for whom
(``retrain_days``, ``approval_days``, ``deploy_days``: time a step waits for a person), is
live quality watched (``monitor``), and is a worse model rolled back by itself
(``auto_rollback``). ``LEVEL_0``, ``LEVEL_1`` and ``LEVEL_2`` differ in nothing else: the
same year, the same model family, the same training window.

A trigger is any callable ``trigger(observation) -> bool | list[str]`` (the reasons, in
Russian; empty or False: no retraining), so a student can write one. A gate is any callable
``gate(challenger, champion) -> GateDecision | bool | (bool, reason)`` over two
``ModelReport``. ``RetrainTrigger`` and ``MetricGate`` are the ready-made ones.

Delays are in days and become whole weeks, because the simulation moves a week at a time:
a decision taken at the end of week ``t`` whose steps wait ``d`` days in all serves from
week ``t + 1 + ceil(d / 7)`` (``deployment_week``). The days of several steps are added
before rounding: two waits of 3 days are one week, not two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_course.model.evaluate import LOWER_IS_BETTER, require_comparable


@dataclass(frozen=True)
class Observation:
    """What the team knows at the end of week ``week``: the trigger decides from this.

    Quality comes from delayed labels only: ``live_metric`` is the champion's ``metric``
    on the week whose labels arrived this week (NaN when none did, when that week's batch
    was refused, or without monitoring).
    """

    week: int
    champion_version: int
    weeks_since_deployment: int
    """Weeks the champion has been serving (0 in its first week)."""
    batch_valid: bool | None
    """The week's batch passed data validation; None: the policy does not validate."""
    drift_detected: bool | None
    """``drift.dataset_drift`` against the champion's training data; None: not monitored
    or the batch was refused."""
    drifted_columns: tuple[str, ...]
    metric: str
    live_metric: float
    reference_metric: float
    """The champion's ``metric`` on its own validation orders, measured when it was trained."""
    degraded: bool
    """``live_metric`` is worse than ``reference_metric`` by more than the tolerance."""
    alarms: tuple[str, ...]
    """Russian texts of this week's monitoring and validation alarms."""


Trigger = Callable[[Observation], Any]


@dataclass(frozen=True)
class RetrainTrigger:
    """The ready-made trigger: a calendar, data drift and/or degraded live quality.

    ``every_weeks`` fires at the end of weeks ``every_weeks - 1``, ``2 * every_weeks - 1``,
    ... (a calendar, not "since the last retrain"); None: no schedule.
    """

    every_weeks: int | None = None
    on_drift: bool = False
    on_degradation: bool = False

    def __post_init__(self) -> None:
        if self.every_weeks is not None and (
            not isinstance(self.every_weeks, int) or self.every_weeks < 1
        ):
            raise ValueError(
                f"every_weeks — целое число недель ≥ 1 или None, а не {self.every_weeks!r}."
            )

    def __call__(self, observation: Observation) -> list[str]:
        reasons = []
        if self.every_weeks and (observation.week + 1) % self.every_weeks == 0:
            reasons.append(f"по расписанию (каждые {self.every_weeks} нед.)")
        if self.on_drift and observation.drift_detected:
            reasons.append(f"дрейф данных: {', '.join(observation.drifted_columns)}")
        if self.on_degradation and observation.degraded:
            reasons.append(
                f"качество ухудшилось: {observation.metric} {observation.reference_metric:.3f}"
                f" → {observation.live_metric:.3f}"
            )
        return reasons

    def describe(self) -> str:
        parts = []
        if self.every_weeks:
            parts.append(f"каждые {self.every_weeks} нед.")
        if self.on_drift:
            parts.append("дрейф данных")
        if self.on_degradation:
            parts.append("падение качества")
        return ", ".join(parts) or "никогда"


NEVER = RetrainTrigger()


def trigger_reasons(result: Any) -> list[str]:
    """A trigger's answer as a list of reasons: True -> one generic reason, False -> none."""
    if isinstance(result, bool):
        return ["сработал триггер"] if result else []
    if result is None:
        return []
    if isinstance(result, str):
        return [result]
    if isinstance(result, Sequence):
        return [str(reason) for reason in result]
    raise ValueError(f"Триггер вернул {result!r}: ожидается True/False или список причин (строк).")


@dataclass(frozen=True)
class ModelReport:
    """One model as the gate sees it: metrics on the gate orders, and its training data."""

    version: int
    metrics: Mapping[str, float]
    """log_loss, cost_per_order (at the model's own threshold), roc_auc."""
    data_valid: bool | None
    """All training batches passed validation (None: the policy does not validate)."""
    trained_on: tuple[int, ...] = ()


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str


@dataclass(frozen=True)
class MetricGate:
    """Pass the challenger when its ``metric`` beats the champion's by more than ``margin``.

    A challenger whose training data failed validation never passes. Compare on
    ``log_loss`` by default: the gate orders are the challenger's validation split, on which
    its threshold was tuned, so its ₽ per order there is a little optimistic.
    """

    metric: str = "log_loss"
    margin: float = 0.0

    def __post_init__(self) -> None:
        require_comparable(self.metric)
        if not (isinstance(self.margin, int | float) and math.isfinite(self.margin)):
            raise ValueError(f"margin — конечное число, а не {self.margin!r}.")

    def __call__(self, challenger: ModelReport, champion: ModelReport) -> GateDecision:
        if challenger.data_valid is False:
            return GateDecision(False, f"v{challenger.version} обучена на непроверенных данных")
        new, old = challenger.metrics[self.metric], champion.metrics[self.metric]
        gain = old - new if self.metric in LOWER_IS_BETTER else new - old
        verdict = "пропущена" if gain > self.margin else "отклонена"
        return GateDecision(
            gain > self.margin,
            f"v{challenger.version} {verdict}: {self.metric} {new:.4f} против "
            f"{old:.4f} у v{champion.version} (прирост {gain:+.4f}, нужен > {self.margin})",
        )

    def describe(self) -> str:
        return f"{self.metric} лучше чемпиона более чем на {self.margin}"


def gate_decision(result: Any) -> GateDecision:
    """A gate's answer as a ``GateDecision`` (a bool or a ``(bool, reason)`` pair too)."""
    if isinstance(result, GateDecision):
        return result
    if isinstance(result, bool):
        return GateDecision(result, "пропущена воротами" if result else "отклонена воротами")
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        return GateDecision(result[0], str(result[1]))
    raise ValueError(
        f"Ворота вернули {result!r}: ожидается GateDecision, True/False или (bool, причина)."
    )


_DAY_FIELDS = ("retrain_days", "approval_days", "deploy_days")
_FLAG_FIELDS = ("validate_data", "monitor", "auto_rollback")


@dataclass(frozen=True)
class OperatingPolicy:
    """How a team runs its model through the year (see the module docstring).

    ``retrain_days``: from the trigger to a trained model (0: an automated pipeline);
    ``approval_days``: a person approves the gate's verdict; ``deploy_days``: a person
    deploys. ``waits`` says, in Russian, why each number is what it is.
    A refused batch (``validate_data``) is neither scored by the model nor trained on: the
    service falls back to the cheaper constant rule (flag every order or none) at the
    champion's training late rate, the rule it used before it had a model.
    """

    name: str
    description: str = ""
    trigger: Trigger = NEVER
    window_weeks: int = 4
    """A retrain learns from the last ``window_weeks`` labelled (and accepted) weeks."""
    validate_data: bool = False
    gate: Callable[[ModelReport, ModelReport], Any] | None = None
    """None: every trained model is deployed unchecked."""
    monitor: bool = False
    """Drift of each batch and live quality from delayed labels raise alarms."""
    auto_rollback: bool = False
    """Give production back to the previous champion when, on the delayed labels of the
    weeks the champion served, it is worse than the previous one (scored in shadow) by more
    than ``rollback_margin``. Needs ``monitor``."""
    retrain_days: float = 0.0
    approval_days: float = 0.0
    deploy_days: float = 0.0
    metric: str = "log_loss"
    """Metric of the live-quality alarm and of the rollback check."""
    tolerance: float = 0.05
    """Degradation alarm: live metric worse than the reference by more than this."""
    rollback_margin: float = 0.01
    drift_alpha: float = 0.05
    waits: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("name политики — непустая строка.")
        if not callable(self.trigger):
            raise ValueError(f"trigger — функция от Observation, а не {self.trigger!r}.")
        if self.gate is not None and not callable(self.gate):
            raise ValueError(f"gate — функция (претендент, чемпион) или None, а не {self.gate!r}.")
        for name in _FLAG_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} — True или False, а не {getattr(self, name)!r}.")
        for name in _DAY_FIELDS:
            _check_days(name, getattr(self, name))
        if not isinstance(self.window_weeks, int) or self.window_weeks < 1:
            raise ValueError(f"window_weeks — целое число недель ≥ 1, а не {self.window_weeks!r}.")
        require_comparable(self.metric)
        for name in ("tolerance", "rollback_margin"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} — конечное число ≥ 0, а не {value!r}.")
        if not (isinstance(self.drift_alpha, int | float) and 0 < self.drift_alpha < 1):
            raise ValueError(
                f"drift_alpha — уровень значимости в (0, 1), а не {self.drift_alpha!r}."
            )
        if self.auto_rollback and not self.monitor:
            raise ValueError(
                "auto_rollback=True требует monitor=True: без качества на отложенных метках "
                "не узнать, что новая модель хуже."
            )

    @property
    def delay_days(self) -> float:
        """Days a retrain waits for people, from the trigger to production."""
        return self.retrain_days + self.approval_days + self.deploy_days


def _check_days(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} — число дней, а не {value!r}.")
    if value < 0:
        raise ValueError(f"{name} не может быть отрицательным (получено {value} дн.).")


def delay_weeks(days: float) -> int:
    """Whole weeks a wait of ``days`` days moves the work: ``ceil(days / 7)``."""
    _check_days("days", days)
    return math.ceil(days / 7 - 1e-9)


def training_week(policy: OperatingPolicy, decision_week: int) -> int:
    """The week at whose end the model is trained (and gated) after a trigger at the end of
    ``decision_week``."""
    return decision_week + delay_weeks(policy.retrain_days)


def deployment_week(policy: OperatingPolicy, decision_week: int) -> int:
    """The first week the new model serves after a trigger at the end of ``decision_week``."""
    return decision_week + 1 + delay_weeks(policy.delay_days)


# --- The three maturity levels ---------------------------------------------------------

LEVEL_0 = OperatingPolicy(
    name="level_0",
    description="Уровень 0: обучили один раз в ноутбуке, обновляют вручную раз в квартал; "
    "данные и модель не проверяют, за качеством в production не следят.",
    trigger=RetrainTrigger(every_weeks=13),
    retrain_days=7.0,
    deploy_days=10.0,
    waits={
        "retrain_days": "7 дн.: задачу получает data scientist, у которого есть и другая работа; "
        "найти ноутбук, выгрузить свежие данные, перезапустить и проверить глазами — "
        "около рабочей недели (5 рабочих = 7 календарных дней).",
        "deploy_days": "10 дн.: файл модели передают команде эксплуатации, которая выкатывает "
        "релизы раз в две недели (в среднем 7 дней до ближайшего окна) плюс ~3 дня на заявку, "
        "упаковку и ручную проверку.",
    },
)

LEVEL_1 = OperatingPolicy(
    name="level_1",
    description="Уровень 1 (CT): автоматический конвейер обучения с проверкой данных и "
    "модели; запускается по расписанию, по дрейфу и по падению качества; выкатку "
    "претендента одобряет человек.",
    trigger=RetrainTrigger(every_weeks=4, on_drift=True, on_degradation=True),
    validate_data=True,
    gate=MetricGate("log_loss", 0.0),
    monitor=True,
    approval_days=3.0,
    waits={
        "retrain_days": "0 дн.: конвейер запускается сам, обучение идёт минуты.",
        "approval_days": "3 дн.: ответственный читает отчёт ворот и одобряет выкатку; с "
        "выходными и другими делами — около трёх календарных дней.",
        "deploy_days": "0 дн.: после одобрения модель выкатывает конвейер.",
    },
)

LEVEL_2 = OperatingPolicy(
    name="level_2",
    description="Уровень 2 (CI/CD/CT): то же, что уровень 1, но претендент, прошедший "
    "ворота, выкатывается сам, а модель, которая на отложенных метках хуже предыдущей, "
    "автоматически откатывается.",
    trigger=RetrainTrigger(every_weeks=4, on_drift=True, on_degradation=True),
    validate_data=True,
    gate=MetricGate("log_loss", 0.0),
    monitor=True,
    auto_rollback=True,
    waits={
        "retrain_days": "0 дн.: конвейер запускается сам.",
        "approval_days": "0 дн.: решение принимают ворота качества.",
        "deploy_days": "0 дн.: выкатка автоматическая (CD).",
    },
)

LEVELS: dict[str, OperatingPolicy] = {p.name: p for p in (LEVEL_0, LEVEL_1, LEVEL_2)}
LEVEL_NAMES = {"level_0": "уровень 0", "level_1": "уровень 1", "level_2": "уровень 2"}


def resolve_policy(policy: OperatingPolicy | str) -> OperatingPolicy:
    """A policy, or the name of one of ``LEVELS``."""
    if isinstance(policy, OperatingPolicy):
        return policy
    if isinstance(policy, str) and policy in LEVELS:
        return LEVELS[policy]
    raise ValueError(
        f"Неизвестная политика {policy!r}: передайте OperatingPolicy или одно из {list(LEVELS)}."
    )


def _describe(part: Any) -> str:
    describe = getattr(part, "describe", None)
    return describe() if callable(describe) else getattr(part, "__name__", repr(part))


def describe_policy(policy: OperatingPolicy) -> dict[str, str]:
    """One row for a notebook table: what the policy does, in Russian."""
    yes = {True: "да", False: "нет"}
    return {
        "политика": LEVEL_NAMES.get(policy.name, policy.name),
        "когда переобучать": _describe(policy.trigger),
        "проверка данных": yes[policy.validate_data],
        "проверка модели": "нет" if policy.gate is None else _describe(policy.gate),
        "мониторинг": yes[policy.monitor],
        "автооткат": yes[policy.auto_rollback],
        "ожидание людей, дн.": f"{policy.delay_days:g}",
        "от решения до production, нед.": str(deployment_week(policy, 0)),
    }
