"""What an event did to a policy: time to detect, time to recover, incidents in production.

Definitions (all in weeks, counted from the event's start week ``s``):

* **detect** — the first alarm of the policy, raised at or after ``s``, that the event
  could have caused: its evidence (the batch a drift or validation alarm looked at, the
  labelled week a quality alarm judged) is a week in which the event is *in play* — active,
  or in the ``AFTERMATH_WEEKS`` after it ended, when models trained on its weeks meet the
  world without it — and its kind fits the event (``CAUSES``): data-quality incidents
  show in validation, drift and quality; data drift in drift and new categories (when the
  alarm names one of the event's columns) or in quality; concept drift only in quality,
  since P(X) does not change. ``time_to_detect = alarm week - s``; NaN when no such alarm
  comes. A scheduled retrain is not an alarm: it does not know anything happened.
* **recover** — ``gap(w)`` is the serving model's log loss in week ``w`` minus the
  oracle's (a model of the same family fitted on fresh orders of week ``w``'s own world,
  judged on the same orders, see ``simulator.oracle_quality``). The event *hurts* from the
  first week of its *onset* with ``gap > tolerance``: the onset is its ramp plus
  ``ONSET_WEEKS`` weeks at full strength (and no later than its end), because later damage
  (a new district is there for good) is more likely another event's. It is recovered at
  the first later week
  ``r`` that starts ``RECOVERY_RUN`` weeks in a row with ``gap <= tolerance`` (one lucky
  week is not a recovery). ``time_to_recover = r - s``; NaN when it never happens within the
  year; 0 (and ``hurt`` False) when the event never pushed the gap over the tolerance.
  Events that overlap share the weeks, so they can share a recovery.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from mlops_course.scenario import problems
from mlops_course.simulation.year import YearEvent

VALIDATION = "validation"
NEW_CATEGORY = "new_category"
DRIFT = "drift"
DEGRADATION = "degradation"
ROLLBACK = "rollback"
SERVICE_ERROR = "service_error"
ALARM_KINDS = (VALIDATION, NEW_CATEGORY, DRIFT, DEGRADATION, ROLLBACK, SERVICE_ERROR)
ALARM_COLUMNS = ["week", "kind", "evidence_weeks", "columns", "text"]

CAUSES = {
    problems.QUALITY: {VALIDATION, DRIFT, DEGRADATION, ROLLBACK, SERVICE_ERROR},
    problems.DATA_DRIFT: {DRIFT, NEW_CATEGORY, DEGRADATION, ROLLBACK},
    problems.CONCEPT_DRIFT: {DEGRADATION, ROLLBACK},
}
"""Alarm kinds each kind of event can cause."""
NAMES_COLUMNS = {VALIDATION, NEW_CATEGORY, DRIFT}
"""Alarms that name columns: they count for an event only through one of its columns."""

RECOVERY_TOLERANCE = 0.02
"""Log-loss gap to the oracle still counted as recovered (see ``simulator`` for the noise
it sits above)."""
RECOVERY_RUN = 2
ONSET_WEEKS = 4
"""Weeks at full strength in which an event may first hurt (after its ramp)."""
AFTERMATH_WEEKS = 6
"""Weeks after an event ends during which it can still cause alarms: a retrain's window (4
weeks) plus the label delay (2), so a model trained on the event's weeks may still serve."""


def onset_weeks(event: YearEvent) -> range:
    """The weeks in which the event may first hurt: its ramp, then ``ONSET_WEEKS`` more."""
    start, end = event.start_week, event.event.end_week
    stop = start + max(event.event.ramp_weeks, 1) + ONSET_WEEKS - 1
    return range(start, stop if end is None else min(stop, end))


def in_play(event: YearEvent, week: int) -> bool:
    """The event is active in ``week``, or ended less than ``AFTERMATH_WEEKS`` before it."""
    end = event.event.end_week
    return event.active(week) or (end is not None and end <= week < end + AFTERMATH_WEEKS)


def could_cause(event: YearEvent, kind: str, evidence_weeks: Iterable[int], columns) -> bool:
    """Whether ``event`` could have raised an alarm of ``kind`` on these weeks and columns."""
    if kind not in CAUSES[event.kind]:
        return False
    if not any(in_play(event, week) for week in evidence_weeks):
        return False
    return kind not in NAMES_COLUMNS or bool(set(columns) & set(event.columns))


def time_to_detect(alarms: pd.DataFrame, event: YearEvent) -> float:
    """Weeks from the event's start to the first alarm it could have caused (NaN: none)."""
    for alarm in alarms.sort_values("week", kind="stable").itertuples(index=False):
        if alarm.week >= event.start_week and could_cause(
            event, alarm.kind, alarm.evidence_weeks, alarm.columns
        ):
            return float(alarm.week - event.start_week)
    return math.nan


def time_to_recover(
    gap: pd.Series,
    event: YearEvent,
    tolerance: float = RECOVERY_TOLERANCE,
    run: int = RECOVERY_RUN,
) -> tuple[float, bool]:
    """``(weeks from the start to recovery, hurt)`` for a weekly gap series (index = week).

    See the module docstring; NaN weeks when the gap never comes back within the series.
    """
    gap = gap.sort_index()
    weeks = list(gap.index)
    onset = onset_weeks(event)
    hurt_weeks = [w for w in weeks if w in onset and gap[w] > tolerance]
    if not hurt_weeks:
        return 0.0, False
    for position, week in enumerate(weeks):
        if week <= hurt_weeks[0]:
            continue
        window = gap.iloc[position : position + run]
        if len(window) == run and (window <= tolerance).all():
            return float(week - event.start_week), True
    return math.nan, True


def is_false_alarm(alarm, events: Iterable[YearEvent]) -> bool:
    """An alarm no event could have caused (the calm world's noise, or a model's own fault)."""
    return not any(
        could_cause(event, alarm.kind, alarm.evidence_weeks, alarm.columns) for event in events
    )
