"""The production year: 52 weekly batches of orders with the events of one delivery year.

Week 0 starts on ``problems.STREAM_START`` (Monday 3 March 2025); week ``k`` starts ``k``
weeks later, so week 51 is the last week of February 2026. Before the year come
``history_weeks`` calm weeks (numbered -history_weeks..-1, all labelled by week 0): the
initial model, the same for every maturity level, is trained on them.

The events (``YEAR_EVENTS``) are placed where they would fall in such a year:

* spring, week 8 (28 April): a new district opens; its share grows over 4 weeks;
* summer, week 18 (7 July): the new routing system (concept drift, sudden);
* autumn, week 28 (15 September): a courier-app release reports distances in metres for
  one week (a data-quality incident, ``end_week = start + 1``);
* November-December, weeks 35-43 (3 November - 4 January): the peak-load season, growing
  over 4 weeks;
* from week 37 (17 November) to the end: winter, a gradual covariate drift reaching its
  full strength after 8 weeks (5 January).

The dates are the calendar's, not chosen to flatter any policy. Labels arrive
``label_delay_weeks`` (2) weeks after their week. Same arguments -> the same year
(``make_year`` caches the last few), so every level meets exactly the same batches.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from mlops_course.config import SEED
from mlops_course.model.validation import ValidationResult, validate_orders
from mlops_course.scenario import problems
from mlops_course.scenario.problems import STREAM_START, Batch, Event

YEAR_WEEKS = 52
ORDERS_PER_WEEK = 1000
HISTORY_WEEKS = 4
"""Calm labelled weeks before the year: the training data of the initial model (the same
length as ``retraining.StrategyConfig.initial_weeks``)."""
LABEL_DELAY_WEEKS = 2
"""A week's lateness is known two weeks later (complaints and courier reports come in)."""

KIND_NAMES = {
    problems.DATA_DRIFT: "дрейф данных",
    problems.CONCEPT_DRIFT: "концептуальный дрейф",
    problems.QUALITY: "инцидент качества данных",
}


@dataclass(frozen=True)
class YearEvent:
    """One scheduled event of the year: a ``problems.Event`` with a key and a Russian name."""

    key: str
    name: str
    event: Event

    @property
    def scenario(self) -> str:
        return self.event.scenario

    @property
    def kind(self) -> str:
        return problems.SCENARIOS[self.event.scenario].kind

    @property
    def columns(self) -> tuple[str, ...]:
        return problems.SCENARIOS[self.event.scenario].columns

    @property
    def start_week(self) -> int:
        return self.event.start_week

    def active(self, week: int) -> bool:
        """Whether the event changes week ``week`` (strength above zero)."""
        return self.event.strength_at(week) > 0


YEAR_EVENTS: tuple[YearEvent, ...] = (
    YearEvent("new_district", "Новый район", Event("new_district", 8, ramp_weeks=4)),
    YearEvent("routing_change", "Новая маршрутизация", Event("routing_change", 18)),
    YearEvent("metres", "Расстояние в метрах", Event("distance_in_metres", 28, end_week=29)),
    YearEvent("peak_load", "Сезон пиковой нагрузки", Event("peak_load", 35, 44, ramp_weeks=4)),
    YearEvent("winter", "Зима", Event("winter", 37, ramp_weeks=8)),
)


def week_start(week: int) -> pd.Timestamp:
    """The Monday that starts week ``week`` of the year (week 0: ``STREAM_START``)."""
    return pd.Timestamp(STREAM_START) + pd.Timedelta(weeks=week)


@dataclass(frozen=True, eq=False)
class ProductionYear:
    """The batches every maturity level meets, and what the simulation knows about them.

    ``history`` holds weeks -history_weeks..-1 and ``batches`` weeks 0..weeks-1 (a
    batch's ``week`` and ``labels_available_week`` use this numbering). ``clean`` holds,
    for each week broken by a data-quality incident, the same orders without the
    incident: what a working pipe would have delivered (the oracle is judged on it).
    Treat the frames as read-only: every level shares them.
    """

    seed: int
    orders_per_week: int
    label_delay_weeks: int
    events: tuple[YearEvent, ...]
    history: tuple[Batch, ...]
    batches: tuple[Batch, ...]
    clean: dict[int, pd.DataFrame] = field(default_factory=dict)
    _validations: dict[int, ValidationResult] = field(default_factory=dict, repr=False)

    @property
    def weeks(self) -> int:
        return len(self.batches)

    @property
    def key(self) -> tuple:
        """What identifies the year (for caches of results computed on it)."""
        return (
            self.seed,
            self.weeks,
            self.orders_per_week,
            len(self.history),
            self.label_delay_weeks,
            self.events,
        )

    def batch(self, week: int) -> Batch:
        """The batch of any week, history (negative weeks) included."""
        if week < 0:
            return self.history[len(self.history) + week]
        return self.batches[week]

    def clean_frame(self, week: int) -> pd.DataFrame:
        """Week ``week``'s orders as a working pipe would deliver them."""
        return self.clean.get(week, self.batch(week).frame)

    def validation(self, week: int) -> ValidationResult:
        """``validate_orders`` of week ``week``'s batch as it arrives (no labels yet).

        Memoised: the verdict depends on the batch only, and every validating policy asks.
        """
        if week not in self._validations:
            frame = self.batches[week].without_labels()
            self._validations[week] = validate_orders(frame, require_target=False)
        return self._validations[week]

    def labelled_weeks(self, at_week: int) -> list[int]:
        """Weeks (history included) whose labels are known in week ``at_week``."""
        every = (*self.history, *self.batches)
        return [b.week for b in every if b.labels_available_week <= at_week]

    def active_events(self, week: int) -> list[YearEvent]:
        return [e for e in self.events if e.active(week)]

    def events_table(self) -> pd.DataFrame:
        """The events for notebooks: Russian name, kind, start week and date, duration."""
        rows = []
        for e in self.events:
            end = e.event.end_week
            rows.append(
                {
                    "событие": e.name,
                    "сценарий": e.scenario,
                    "тип": KIND_NAMES[e.kind],
                    "неделя начала": e.start_week,
                    "дата начала": week_start(e.start_week).date().isoformat(),
                    "до недели": "конца года" if end is None else end - 1,
                    "нарастает, нед.": e.event.ramp_weeks,
                }
            )
        return pd.DataFrame(rows)


def _check(weeks: int, orders_per_week: int, history_weeks: int, delay: int) -> None:
    for name, value, least in (
        ("weeks", weeks, 1),
        ("orders_per_week", orders_per_week, 50),
        ("history_weeks", history_weeks, 1),
        ("label_delay_weeks", delay, 0),
    ):
        if int(value) != value or value < least:
            raise ValueError(
                f"{name} должно быть целым числом не меньше {least} (получено {value})."
            )


def _shifted(event: Event, weeks: int) -> Event:
    end = None if event.end_week is None else event.end_week + weeks
    return replace(event, start_week=event.start_week + weeks, end_week=end)


def _renumbered(batch: Batch, offset: int) -> Batch:
    """The stream counts weeks from the first history week; the year from week 0."""
    meta, week = dict(batch.meta), batch.week - offset
    meta["week"] = week
    labels = batch.labels_available_week - offset
    # The history is the past before the launch: all its labels are in by week 0.
    meta["labels_available_week"] = min(labels, 0) if week < 0 else labels
    meta["injections"] = [
        {**i, "since_week": i["since_week"] - offset} if "since_week" in i else i
        for i in batch.meta["injections"]
    ]
    return Batch(frame=batch.frame, meta=meta)


def _stream(events: Sequence[Event], seed, weeks, orders, history, delay) -> list[Batch]:
    start = week_start(-history)
    plan = [_shifted(e, history) for e in events]
    batches = problems.stream(history + weeks, orders, seed, plan, delay, start=start)
    return [_renumbered(b, history) for b in batches]


def make_year(
    seed: int = SEED,
    weeks: int = YEAR_WEEKS,
    orders_per_week: int = ORDERS_PER_WEEK,
    history_weeks: int = HISTORY_WEEKS,
    label_delay_weeks: int = LABEL_DELAY_WEEKS,
    events: Sequence[YearEvent] = YEAR_EVENTS,
) -> ProductionYear:
    """Generate the year (``problems.stream`` over history + year); cached per arguments.

    Events outside ``weeks`` (a short test year) simply never happen. The same arguments
    return the same (cached, shared) object: treat it as read-only.
    """
    _check(weeks, orders_per_week, history_weeks, label_delay_weeks)
    events = tuple(events)
    if not all(isinstance(e, YearEvent) for e in events):
        raise ValueError("events — последовательность YearEvent(ключ, название, Event(...)).")
    return _make_year(seed, weeks, orders_per_week, history_weeks, label_delay_weeks, events)


@functools.lru_cache(maxsize=8)
def _make_year(seed, weeks, orders_per_week, history_weeks, label_delay_weeks, events):
    args = (seed, weeks, orders_per_week, history_weeks, label_delay_weeks)
    every = _stream([e.event for e in events], *args)
    quality = {e.key for e in events if e.kind == problems.QUALITY}
    clean = {}
    if quality:
        world_only = [e.event for e in events if e.key not in quality]
        for batch, unbroken in zip(every, _stream(world_only, *args), strict=True):
            if problems.QUALITY in batch.kinds:
                clean[batch.week] = unbroken.frame
    return ProductionYear(
        seed=seed,
        orders_per_week=orders_per_week,
        label_delay_weeks=label_delay_weeks,
        events=events,
        history=tuple(every[:history_weeks]),
        batches=tuple(every[history_weeks:]),
        clean=clean,
    )
