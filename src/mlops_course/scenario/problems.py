"""Named problems of the delivery scenario, dialled into batches and weekly streams.

A lesson asks for a batch with a problem in it and gets back the frame *and* the ground
truth of what was injected (``Batch.meta``), so a detector can be scored against it:

* **data drift** (``"data_drift"``): the world changes P(X). Made by changing
  ``data.Conditions``, so the labels still follow the ground truth: ``winter``,
  ``new_district``, ``peak_load`` and ``marketing_campaign`` (harmless: order value has
  no effect on lateness);
* **concept drift** (``"concept_drift"``): ``routing_change`` changes P(y | X) towards
  ``data.ROUTING_CHANGE`` while P(X) stays the same (same seed -> same feature columns);
* **data-quality incidents** (``"quality"``): the world is fine, the pipe is broken. Applied
  to a generated frame: ``missing_values``, ``distance_in_metres``, ``renamed_column``,
  ``dropped_column``, ``wrong_dtype``.

``strength`` is a continuous knob in [0, 1]: 0 is no change at all (the clean frame),
1 is the full scenario as described in ``SCENARIOS``; values in between interpolate, so a
notebook can draw a detector's power against the size of the shift. The all-or-nothing
incidents ``wrong_dtype``, ``renamed_column`` and ``dropped_column`` have no "half
broken" state: any strength above 0 applies them in full.

Same seed, different scenarios: quality incidents and ``routing_change`` keep the rows
paired with the clean batch, ``winter`` and ``marketing_campaign`` change only their own
columns, but ``new_district`` and ``peak_load`` change other draws too (see
``data.generate_orders``), so do not compare those batches row by row.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from mlops_course.config import SEED, TARGET
from mlops_course.scenario.generator import (
    BASE_CONDITIONS,
    BASE_TRUTH,
    ROUTING_CHANGE,
    Conditions,
    GroundTruth,
    generate_orders,
)

DATA_DRIFT = "data_drift"
CONCEPT_DRIFT = "concept_drift"
QUALITY = "quality"
KINDS = (DATA_DRIFT, CONCEPT_DRIFT, QUALITY)

STREAM_START = "2025-03-03"  # a Monday: week k of a stream starts k weeks later
NEW_DISTRICT = "riverside"
WINTER_WEATHER = {"clear": 0.45, "rain": 0.05, "snow": 0.40, "fog": 0.10}
WINTER_TEMPERATURE_MEAN = -8.0
NEW_DISTRICT_SHARE = 0.25
PEAK_LOAD_MAX = 8
MISSING_SHARE = 0.30
RENAMED_TO = {"prep_time_min": "prep_time"}


@dataclass(frozen=True)
class Batch:
    """A batch of orders and the ground truth of what was injected into it."""

    frame: pd.DataFrame
    meta: dict[str, Any]

    @property
    def week(self) -> int | None:
        return self.meta.get("week")

    @property
    def labels_available_week(self) -> int | None:
        """The week from which this batch's labels (``is_late``) are known."""
        return self.meta.get("labels_available_week")

    @property
    def kinds(self) -> list[str]:
        return self.meta["kinds"]

    def without_labels(self) -> pd.DataFrame:
        """The frame as the model sees it at prediction time: no target yet."""
        return self.frame.drop(columns=[TARGET], errors="ignore")


# --- How each scenario changes the world or the frame ------------------------------


def _mix(base: Mapping[str, float], target: Mapping[str, float], strength: float) -> dict:
    """Interpolate two categorical distributions: strength 0 -> base, 1 -> target."""
    names = list(dict.fromkeys([*base, *target]))
    return {
        name: (1 - strength) * base.get(name, 0.0) + strength * target.get(name, 0.0)
        for name in names
    }


def _winter(conditions: Conditions, strength: float) -> Conditions:
    temperature = conditions.temperature_mean + strength * (
        WINTER_TEMPERATURE_MEAN - conditions.temperature_mean
    )
    weather = _mix(conditions.weather_probs, WINTER_WEATHER, strength)
    return replace(conditions, weather_probs=weather, temperature_mean=temperature)


def _new_district(conditions: Conditions, strength: float) -> Conditions:
    share = NEW_DISTRICT_SHARE * strength
    districts = {name: p * (1 - share) for name, p in conditions.district_probs.items()}
    districts[NEW_DISTRICT] = share * sum(conditions.district_probs.values())
    return replace(conditions, district_probs=districts)


def _peak_load(conditions: Conditions, strength: float) -> Conditions:
    # Strength 1 doubles the number of orders each courier carries: too few couriers, so
    # the dispatcher has to lift its cap (4 orders at once) to PEAK_LOAD_MAX.
    cap = conditions.courier_load_max
    return replace(
        conditions,
        courier_load_base=conditions.courier_load_base * (1 + strength),
        courier_load_peak=conditions.courier_load_peak * (1 + strength),
        courier_load_max=round(cap + strength * max(PEAK_LOAD_MAX - cap, 0)),
    )


def _marketing_campaign(conditions: Conditions, strength: float) -> Conditions:
    # Strength 1 doubles the typical basket; lateness does not depend on it.
    return replace(conditions, order_value_median=conditions.order_value_median * (1 + strength))


def _routing_change(truth: GroundTruth, strength: float) -> GroundTruth:
    """Every weight that ``ROUTING_CHANGE`` changes, moved ``strength`` of the way there."""

    def towards(start: Any, end: Any) -> Any:
        if isinstance(start, dict):
            return {key: towards(start.get(key, 0.0), end.get(key, 0.0)) for key in end}
        return start + strength * (end - start)

    changed = {
        f.name: towards(getattr(truth, f.name), getattr(ROUTING_CHANGE, f.name))
        for f in fields(GroundTruth)
        if getattr(ROUTING_CHANGE, f.name) != getattr(BASE_TRUTH, f.name)
    }
    return replace(truth, **changed)


def _incident_rows(frame: pd.DataFrame, share: float, rng: np.random.Generator) -> np.ndarray:
    """Positions of the rows hit by a row-level incident (at least one if share > 0)."""
    count = min(len(frame), max(1, round(share * len(frame))))
    return np.sort(rng.choice(len(frame), size=count, replace=False))


def _missing_values(frame: pd.DataFrame, strength: float, rng: np.random.Generator) -> int:
    # Sensors go silent on a share of orders: no thermometer reading, no GPS distance.
    rows = _incident_rows(frame, MISSING_SHARE * strength, rng)
    for column in SCENARIOS["missing_values"].columns:
        frame.iloc[rows, frame.columns.get_loc(column)] = np.nan
    return len(rows)


def _distance_in_metres(frame: pd.DataFrame, strength: float, rng: np.random.Generator) -> int:
    # A new app release (rolled out to a share of couriers) reports metres.
    rows = _incident_rows(frame, strength, rng)
    column = frame.columns.get_loc("distance_km")
    frame.iloc[rows, column] = frame.iloc[rows, column] * 1000
    return len(rows)


def _wrong_dtype(frame: pd.DataFrame, strength: float, rng: np.random.Generator) -> int:
    # An upstream API now sends numbers as JSON strings: "1200.0" instead of 1200.0.
    frame["order_value"] = frame["order_value"].astype(str)
    return len(frame)


def _renamed_column(frame: pd.DataFrame, strength: float, rng: np.random.Generator) -> int:
    frame.rename(columns=RENAMED_TO, inplace=True)
    return len(frame)


def _dropped_column(frame: pd.DataFrame, strength: float, rng: np.random.Generator) -> int:
    # The weather provider is down: the column is simply missing from the export.
    frame.drop(columns=["weather"], inplace=True)
    return len(frame)


@dataclass(frozen=True)
class Scenario:
    """One named problem: what kind it is, which columns it touches, and how."""

    name: str
    kind: str
    columns: tuple[str, ...]
    description: str
    """Russian description for notebook tables (what happens at strength 1)."""
    change_conditions: Callable[[Conditions, float], Conditions] | None = None
    change_truth: Callable[[GroundTruth, float], GroundTruth] | None = None
    break_frame: Callable[[pd.DataFrame, float, np.random.Generator], int] | None = None
    details: dict[str, Any] = field(default_factory=dict)


_ALL_SCENARIOS = [
    Scenario(
        "winter",
        DATA_DRIFT,
        ("weather", "temperature_c"),
        "Зима: средняя температура падает с 12 до −8 °C, доля снега растёт с 2% до 40%.",
        change_conditions=_winter,
    ),
    Scenario(
        "new_district",
        DATA_DRIFT,
        ("district",),
        f"Новый район «{NEW_DISTRICT}»: 25% заказов из района, которого не было в обучении.",
        change_conditions=_new_district,
        details={"new_category": NEW_DISTRICT},
    ),
    Scenario(
        "peak_load",
        DATA_DRIFT,
        ("courier_load",),
        f"Рост нагрузки: у каждого курьера вдвое больше заказов одновременно; диспетчер "
        f"снимает обычный предел в 4 заказа (до {PEAK_LOAD_MAX}).",
        change_conditions=_peak_load,
    ),
    Scenario(
        "marketing_campaign",
        DATA_DRIFT,
        ("order_value",),
        "Маркетинговая акция: средний чек вдвое больше (на опоздания не влияет — "
        "безвредный дрейф).",
        change_conditions=_marketing_campaign,
    ),
    Scenario(
        "routing_change",
        CONCEPT_DRIFT,
        ("distance_km", "courier_load"),
        "Новая система маршрутизации: расстояние почти не влияет на опоздание, "
        "каждый заказ в сумке курьера — впятеро сильнее; P(X) не меняется.",
        change_truth=_routing_change,
    ),
    Scenario(
        "missing_values",
        QUALITY,
        ("temperature_c", "distance_km"),
        "Пропуски: у 30% заказов нет показаний датчиков (температура, расстояние по GPS).",
        break_frame=_missing_values,
    ),
    Scenario(
        "distance_in_metres",
        QUALITY,
        ("distance_km",),
        "Расстояние в метрах вместо километров (значения ×1000) у всех заказов.",
        break_frame=_distance_in_metres,
    ),
    Scenario(
        "wrong_dtype",
        QUALITY,
        ("order_value",),
        "Неверный тип: сумма заказа приходит строкой («1200.0») вместо числа "
        "(всё или ничего: сила не важна).",
        break_frame=_wrong_dtype,
    ),
    Scenario(
        "renamed_column",
        QUALITY,
        ("prep_time_min",),
        "Переименованная колонка: prep_time_min стала prep_time (всё или ничего: сила не важна).",
        break_frame=_renamed_column,
        details={"renamed_to": RENAMED_TO["prep_time_min"]},
    ),
    Scenario(
        "dropped_column",
        QUALITY,
        ("weather",),
        "Пропавшая колонка: сервис погоды недоступен, колонки weather нет в выгрузке "
        "(всё или ничего: сила не важна).",
        break_frame=_dropped_column,
    ),
]
SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _ALL_SCENARIOS}
"""Every named scenario, in the order they are applied to a batch."""


def scenarios_table() -> pd.DataFrame:
    """The registry as a table for notebooks: name, kind, columns, Russian description."""
    return pd.DataFrame(
        [
            {
                "scenario": s.name,
                "kind": s.kind,
                "columns": ", ".join(s.columns),
                "description": s.description,
            }
            for s in SCENARIOS.values()
        ]
    )


# --- Batches -----------------------------------------------------------------------


def _strengths(scenarios: Iterable[str], strength: float | Mapping[str, float]) -> dict:
    """{name: strength} in registry order, without scenarios dialled down to zero."""
    names = [scenarios] if isinstance(scenarios, str) else list(scenarios)
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"Неизвестные сценарии: {unknown}. Доступны: {list(SCENARIOS)}.")
    if isinstance(strength, Mapping):
        missing = [name for name in SCENARIOS if name in names and name not in strength]
        if missing:
            raise ValueError(
                f"В словаре strength нет силы для сценариев {missing}: укажите "
                "{сценарий: сила} для каждого выбранного сценария или одно число для всех."
            )
    chosen = {}
    for name in SCENARIOS:
        if name not in names:
            continue
        value = float(strength[name] if isinstance(strength, Mapping) else strength)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"Сила сценария {name!r} должна быть в [0, 1], а не {value}.")
        if value > 0:
            chosen[name] = value
    return chosen


def _row_rng(seed: int, name: str) -> np.random.Generator:
    """A generator per (seed, incident), independent of the order-generating one."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _world(chosen: Mapping[str, float]) -> tuple[Conditions, GroundTruth]:
    conditions, truth = BASE_CONDITIONS, BASE_TRUTH
    for name, value in chosen.items():
        scenario = SCENARIOS[name]
        if scenario.change_conditions is not None:
            conditions = scenario.change_conditions(conditions, value)
        if scenario.change_truth is not None:
            truth = scenario.change_truth(truth, value)
    return conditions, truth


def world(
    scenarios: Sequence[str] | str = (), strength: float | Mapping[str, float] = 1.0
) -> tuple[Conditions, GroundTruth]:
    """The ``(Conditions, GroundTruth)`` that ``make_batch`` draws orders from.

    ``late_probability(batch.frame, world(names, strength)[1])`` is the true P(late | X) of
    a batch made with the same scenarios and strength (quality incidents change neither).
    """
    return _world(_strengths(scenarios, strength))


def make_batch(
    n: int,
    seed: int = SEED,
    scenarios: Sequence[str] | str = (),
    strength: float | Mapping[str, float] = 1.0,
    *,
    start: str | pd.Timestamp = STREAM_START,
    days: float = 7.0,
    first_id: int = 1,
    week: int | None = None,
    label_delay_weeks: int = 0,
    since_week: Mapping[str, int] | None = None,
) -> Batch:
    """Generate ``n`` orders with the named scenarios injected at the given strength.

    ``strength`` is one number for all scenarios or ``{name: strength}``. Drift scenarios
    change how the orders are generated; quality incidents then break the frame. Same
    arguments -> identical frame; ``meta`` records exactly what was injected.
    """
    chosen = _strengths(scenarios, strength)
    conditions, truth = _world(chosen)
    frame = generate_orders(
        n, seed, start=start, days=days, conditions=conditions, truth=truth, first_id=first_id
    )
    injections = []
    for name, value in chosen.items():
        scenario = SCENARIOS[name]
        rows = len(frame)
        if scenario.break_frame is not None:
            rows = scenario.break_frame(frame, value, _row_rng(seed, name))
        injection = {
            "scenario": name,
            "kind": scenario.kind,
            "columns": list(scenario.columns),
            "strength": value,
            "rows": int(rows),
            **scenario.details,
        }
        if since_week is not None and name in since_week:
            injection["since_week"] = int(since_week[name])
        injections.append(injection)

    start = pd.Timestamp(start)
    meta = {
        "scenarios": list(chosen),
        "kinds": [kind for kind in KINDS if any(i["kind"] == kind for i in injections)],
        "affected_columns": sorted({c for i in injections for c in i["columns"]}),
        "strength": dict(chosen),
        "injections": injections,
        "week": week,
        "start": start.isoformat(),
        "end": (start + pd.Timedelta(days=days)).isoformat(),
        "n_rows": int(n),
        "seed": int(seed),
        "first_id": int(first_id),
        "labels_available_week": None if week is None else week + label_delay_weeks,
    }
    return Batch(frame=frame, meta=meta)


# --- Weekly streams ----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A scenario active in a stream from ``start_week`` until ``end_week`` (exclusive).

    ``ramp_weeks`` > 0 makes the drift gradual: the strength grows linearly and reaches
    ``strength`` after ``ramp_weeks`` weeks; 0 is a sudden change.
    """

    scenario: str
    start_week: int
    end_week: int | None = None
    strength: float = 1.0
    ramp_weeks: int = 0

    def strength_at(self, week: int) -> float:
        if week < self.start_week or (self.end_week is not None and week >= self.end_week):
            return 0.0
        if self.ramp_weeks <= 0:
            return self.strength
        return self.strength * min(1.0, (week - self.start_week + 1) / self.ramp_weeks)


EventsSpec = Mapping[int, Sequence[str] | str] | Iterable[Event | tuple[int, str]] | None


_EVENT_SHAPES = (
    "ожидается {неделя: [сценарии]} или {неделя: сценарий}, либо список из "
    "Event(...) и пар (неделя, сценарий)"
)


def _event(week: Any, name: Any) -> Event:
    """One "from ``week`` on" event, with a readable error for a wrong shape."""
    try:
        start_week = int(week)
    except (TypeError, ValueError):
        start_week = None
    if start_week is None or not isinstance(name, str):
        raise ValueError(
            f"Не понимаю событие ({week!r}, {name!r}): {_EVENT_SHAPES}, "
            "например {3: ['winter']} или [(3, 'winter')]."
        )
    return Event(name, start_week)


def _names(names: Any) -> list:
    """``"winter"`` -> ``["winter"]``: one scenario per week needs no list."""
    return [names] if isinstance(names, str) or not isinstance(names, Iterable) else list(names)


def as_events(events: EventsSpec) -> list[Event]:
    """Normalise the ways to describe a stream's events into a list of ``Event``.

    ``{week: [names]}``, ``{week: name}`` and ``[(start_week, name), ...]`` all mean
    "from that week on, until the end of the stream"; use ``Event(..., end_week=...)``
    for a one-off incident.
    """
    if events is None:
        return []
    if isinstance(events, Mapping):
        return [_event(week, name) for week, names in events.items() for name in _names(names)]
    plan = []
    for item in events:
        if isinstance(item, Event):
            plan.append(item)
        elif isinstance(item, tuple | list) and len(item) == 2:
            plan.append(_event(*item))
        else:
            raise ValueError(f"Не понимаю событие {item!r}: {_EVENT_SHAPES}.")
    return plan


def week_seed(seed: int, week: int) -> int:
    """The generator seed of one week: independent weeks, fixed by (seed, week)."""
    return int(np.random.SeedSequence([seed, week]).generate_state(1)[0])


def stream(
    weeks: int = 52,
    orders_per_week: int = 2000,
    seed: int = SEED,
    events: EventsSpec = None,
    label_delay_weeks: int = 2,
    *,
    start: str | pd.Timestamp = STREAM_START,
) -> Iterator[Batch]:
    """Yield one ``Batch`` per week: a simulated production stream.

    Week ``k`` covers ``[start + k weeks, start + k + 1 weeks)``; order ids run on across
    weeks; the labels of week ``k`` become known in week ``k + label_delay_weeks``
    (``meta["labels_available_week"]``). A week's seed does not depend on the events, so
    the same week with and without concept drift has identical features.
    """
    plan = as_events(events)
    _strengths([e.scenario for e in plan], 0.0)  # fail early on unknown names
    start = pd.Timestamp(start)
    for week in range(weeks):
        strengths: dict[str, float] = {}
        since: dict[str, int] = {}
        for event in plan:
            value = event.strength_at(week)
            if value > 0:
                strengths[event.scenario] = max(value, strengths.get(event.scenario, 0.0))
                since[event.scenario] = min(event.start_week, since.get(event.scenario, week))
        yield make_batch(
            orders_per_week,
            week_seed(seed, week),
            scenarios=list(strengths),
            strength=strengths,
            start=start + pd.Timedelta(weeks=week),
            days=7.0,
            first_id=1 + week * orders_per_week,
            week=week,
            label_delay_weeks=label_delay_weeks,
            since_week=since,
        )


def labels_available(batches: Iterable[Batch], at_week: int) -> pd.DataFrame:
    """All orders whose labels are known in week ``at_week`` (with the target column).

    No labels yet -> an empty frame with the order schema (columns and dtypes). Weeks with
    different schemas (a quality incident renamed, dropped or retyped a column) raise
    ``ValueError`` instead of being glued into a frame of NaN and object columns.
    """
    known = [
        b
        for b in batches
        if b.labels_available_week is not None and b.labels_available_week <= at_week
    ]
    if not known:
        return generate_orders(0)  # zero orders: just the schema, with its dtypes
    first = known[0]
    differences = {b.week: _schema_difference(first.frame, b.frame) for b in known[1:]}
    differences = {week: columns for week, columns in differences.items() if columns}
    if differences:
        raise ValueError(
            f"Схема данных недель различается (по сравнению с неделей {first.week} "
            f"отличаются колонки или их типы: {differences}). Сначала проверьте партии "
            "(validation.validate_orders) и исключите сломанные."
        )
    return pd.concat([b.frame for b in known], ignore_index=True)


def _schema_difference(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Columns present in only one frame or with different dtypes, sorted."""
    # As strings: numpy reads None as float64, so a missing column would look alike.
    a_types, b_types = a.dtypes.astype(str).to_dict(), b.dtypes.astype(str).to_dict()
    return sorted(c for c in a_types.keys() | b_types.keys() if a_types.get(c) != b_types.get(c))
