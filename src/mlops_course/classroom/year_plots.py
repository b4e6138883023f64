"""Figures and tables of a simulated production year (notebooks 08-10, lab05).

One call draws what the maturity-level notebooks show again and again: the year's events
as a timeline, the weekly quality of one or more ``simulation.simulator.YearResult`` with
the oracle as a dashed line and a ▼ where a new model started serving, and the cumulative
₽ (above the oracle, or in all)::

    from mlops_course.classroom.year_plots import plot_year

    fig = plot_year({"уровень 0": result})                  # one level
    fig = plot_year({"уровень 1": r1, "уровень 2": r2},     # several, same year
                    metric="cost_per_order", cumulative="total")

The pieces are public too (``draw_event_lanes``, ``draw_event_starts``, ``draw_weekly``,
``draw_cumulative``, ``event_spans``, ``cumulative_rub``), so a notebook can put them on
its own axes. A level keeps its colour in every notebook (``LEVEL_COLORS``, by
``policy.name``). A week far above the rest (the batch in metres: log loss ≈ 28 against
≈ 0.3) would flatten every other week, so such weeks are drawn at the top edge with their
value written next to them.

Tables in Russian for the same notebooks: ``deployment_table`` (each deployment: decided,
trained on, served from, data age, better or worse than the model it replaced),
``event_outcomes`` (per event: detect, recover, when a model trained on it arrived), and
``model_weeks`` (any model on any weeks, for "what if the old model had stayed").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mlops_course.config import TARGET
from mlops_course.model.evaluate import CostTable, format_roubles, late_scores
from mlops_course.simulation.policies import LEVEL_NAMES
from mlops_course.simulation.quality import DEFAULT_COSTS, week_metrics
from mlops_course.simulation.year import KIND_NAMES

if TYPE_CHECKING:
    from mlops_course.simulation.simulator import YearResult
    from mlops_course.simulation.year import ProductionYear

LEVEL_COLORS = {"level_0": "tab:red", "level_1": "tab:blue", "level_2": "tab:green"}
OTHER_COLORS = ("tab:purple", "tab:orange", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")
EVENT_COLORS = ("#1b9e77", "#7570b3", "#e6ab02", "#d95f02", "#1f78b4", "#66a61e", "#a6761d")
ORACLE_LABEL = "оракул (модель на свежих данных своей недели)"
WEEKLY_METRICS = {
    "log_loss": "log loss за неделю",
    "cost_per_order": "₽ на заказ за неделю",
    "roc_auc": "ROC AUC за неделю",
    "gap": "log loss минус у оракула",
}
"""Columns of ``YearResult.weekly`` that ``draw_weekly`` plots, with their axis labels."""
OUTLIER_FACTOR = 5.0
"""A week above this many times the 90th percentile of the plotted values (in absolute
value) is drawn off-scale: it is not one of the year's ordinary bad weeks. Works for metrics
near zero too (the gap to the oracle), where a multiple of the median would not."""


def as_results(results: YearResult | Mapping[str, YearResult]) -> dict[str, YearResult]:
    """``{label: result}``; a single result is labelled by its level («уровень 0»)."""
    if isinstance(results, Mapping):
        chosen = dict(results)
    else:
        chosen = {LEVEL_NAMES.get(results.policy.name, results.policy.name): results}
    if not chosen:
        raise ValueError("Нет результатов: передайте {подпись: simulate_year(...)}.")
    keys = {result.year.key for result in chosen.values()}
    if len(keys) > 1:
        raise ValueError(
            "Результаты сыграны на разных годах (seed, недели, события): на одном графике "
            "их сравнивать нельзя. Передайте simulate_year с одинаковыми аргументами года."
        )
    return chosen


def level_color(result: YearResult, position: int) -> str:
    """The level's own colour, or the next of ``OTHER_COLORS`` for any other policy."""
    return LEVEL_COLORS.get(result.policy.name, OTHER_COLORS[position % len(OTHER_COLORS)])


def event_spans(year: ProductionYear) -> pd.DataFrame:
    """One row per event that happens within the year: key, name, first and last active week.

    Active means ``YearEvent.active`` (strength above zero): a ramping event is active from
    its first week, at a fraction of its strength.
    """
    rows = []
    for event in year.events:
        weeks = [week for week in range(year.weeks) if event.active(week)]
        if weeks:
            rows.append(
                {
                    "key": event.key,
                    "name": event.name,
                    "first_week": weeks[0],
                    "last_week": weeks[-1],
                    "ramp_weeks": event.event.ramp_weeks,
                }
            )
    return pd.DataFrame(rows, columns=["key", "name", "first_week", "last_week", "ramp_weeks"])


def draw_event_lanes(ax: plt.Axes, year: ProductionYear) -> plt.Axes:
    """The events as a timeline: one lane per event, a bar over its active weeks.

    Week ``w`` covers ``w - 0.5 .. w + 0.5``; a ramp (the event growing to full strength)
    is the lighter start of its bar. The event's name is written in its lane (left of the
    bar when the event starts in the second half of the year, so it stays on the axes).
    """
    spans = event_spans(year)
    for lane, span in enumerate(spans.itertuples(index=False)):
        color, stop = event_color(lane), span.last_week + 1
        full = min(span.first_week + span.ramp_weeks, stop)  # the first week at full strength
        if full > span.first_week:
            ax.barh(
                lane,
                full - span.first_week,
                left=span.first_week - 0.5,
                height=0.7,
                color=color,
                alpha=0.4,
                linewidth=0,
            )
        full = max(full, span.first_week)
        ax.barh(lane, stop - full, left=full - 0.5, height=0.7, color=color, linewidth=0)
        late = span.first_week > year.weeks / 2  # late in the year: name left of the bar
        ax.annotate(
            f"{span.name} (с нед. {span.first_week})",
            (span.first_week - 0.5, lane),
            xytext=(-3 if late else 3, 0),
            textcoords="offset points",
            ha="right" if late else "left",
            va="center",
            fontsize=8,
        )
    ax.set_ylim(len(spans) - 0.5, -0.5)
    ax.set_yticks([])
    ax.set_xlim(-0.5, year.weeks - 0.5)
    ax.set_title("События года (светлее — нарастание)", fontsize=10)
    return ax


def draw_event_starts(ax: plt.Axes, year: ProductionYear) -> plt.Axes:
    """A dotted vertical line, in the event's lane colour, where each event starts."""
    for lane, span in enumerate(event_spans(year).itertuples(index=False)):
        ax.axvline(span.first_week - 0.5, color=event_color(lane), linestyle=":", linewidth=1.5)
    return ax


def event_color(lane: int) -> str:
    return EVENT_COLORS[lane % len(EVENT_COLORS)]


def weekly_series(result: YearResult, metric: str = "log_loss") -> pd.Series:
    """One column of ``result.weekly`` indexed by week (see ``WEEKLY_METRICS``)."""
    if metric not in WEEKLY_METRICS:
        raise ValueError(f"Метрика {metric!r} не из {sorted(WEEKLY_METRICS)}.")
    return result.weekly.set_index("week")[metric]


def oracle_series(result: YearResult, metric: str = "log_loss") -> pd.Series | None:
    """The oracle's weekly ``metric`` (log loss or ₽ per order); None when not recorded."""
    weekly = result.weekly.set_index("week")
    if metric == "log_loss":
        return weekly["oracle_log_loss"]
    if metric == "cost_per_order":
        return weekly["oracle_cost_rub"] / result.year.orders_per_week
    if metric == "gap":
        return pd.Series(0.0, index=weekly.index)
    return None


def cumulative_rub(result: YearResult, versus_oracle: bool = True) -> pd.Series:
    """₽ lost so far by each week's end; ``versus_oracle``: above what the oracle lost."""
    weekly = result.weekly.set_index("week")
    cost = weekly["cost_rub"]
    if versus_oracle:
        cost = cost - weekly["oracle_cost_rub"]
    return cost.cumsum()


def _off_scale_limit(values: np.ndarray) -> float | None:
    """The top of the y axis when some values are outliers (None: no outliers)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    cap = OUTLIER_FACTOR * float(np.quantile(np.abs(values), 0.9))
    inside = values[values <= cap]
    if cap == 0 or inside.size == values.size or inside.size == 0:
        return None
    highest = float(inside.max())
    return highest + 0.15 * (highest - min(float(inside.min()), 0.0))


def _mark_off_scale(ax: plt.Axes, series: pd.Series, top: float, color: str) -> None:
    """Draw the weeks above ``top`` at the top edge, with their real value written."""
    above = series[series > top]
    if above.empty:
        return
    ax.plot(above.index, np.full(len(above), top), "^", color=color, markersize=9, clip_on=False)
    for week, value in above.items():
        ax.annotate(
            f"нед. {week}: {value:.3g} ↑",
            (week, top),
            xytext=(6, -12),
            textcoords="offset points",
            fontsize=8,
            color=color,
        )


def _deployment_weeks(result: YearResult, kind: str) -> list[int]:
    """Weeks in which a model of ``kind`` (deploy / rollback) started serving; v1 excluded."""
    deployments = result.deployments
    chosen = deployments[(deployments["kind"] == kind) & (deployments["week"] > 0)]
    return [week for week in chosen["week"] if week < result.year.weeks]


def draw_weekly(
    ax: plt.Axes,
    results: YearResult | Mapping[str, YearResult],
    metric: str = "log_loss",
    oracle: bool = True,
    mark_deployments: bool = True,
    ylim: tuple[float, float] | None = None,
    title: str = "",
) -> plt.Axes:
    """A weekly metric per result, the oracle's (dashed), and the new models' first weeks.

    ``mark_deployments``: a triangle ▼ on the curve where a new model starts serving (× for
    a rollback). Weeks above the axis (``ylim``, or automatically for outliers, see
    ``OUTLIER_FACTOR``) are drawn at its top edge with their value.
    """
    chosen = as_results(results)
    first = next(iter(chosen.values()))
    curves = {label: weekly_series(result, metric) for label, result in chosen.items()}
    reference = oracle_series(first, metric) if oracle else None
    every = [c.to_numpy(dtype=float) for c in curves.values()]
    if reference is not None:
        every.append(reference.to_numpy(dtype=float))
    top = ylim[1] if ylim is not None else _off_scale_limit(np.concatenate(every))
    if reference is not None:
        ax.plot(
            reference.index,
            reference.clip(upper=top).to_numpy(),
            "--",
            color="black",
            linewidth=1.2,
            label=ORACLE_LABEL,
        )
    for i, (label, result) in enumerate(chosen.items()):
        color, curve = level_color(result, i), curves[label]
        shown = curve.clip(upper=top)
        ax.plot(shown.index, shown.to_numpy(), marker=".", color=color, label=label)
        if mark_deployments:
            for kind, marker, name in (("deploy", "v", "новая модель"), ("rollback", "X", "откат")):
                weeks = _deployment_weeks(result, kind)
                if weeks:
                    ax.plot(
                        weeks,
                        shown.loc[weeks].to_numpy(),
                        marker,
                        color=color,
                        markersize=9,
                        markeredgecolor="black",
                        label=f"{name}: {label}",
                    )
        if top is not None:
            _mark_off_scale(ax, curve, top, color)
    if ylim is not None:
        ax.set_ylim(*ylim)
    elif top is not None:
        ax.set_ylim(top=top)
    ax.set_xlim(-0.5, first.year.weeks - 0.5)
    ax.set(xlabel="неделя года", ylabel=WEEKLY_METRICS[metric], title=title)
    return ax


def draw_cumulative(
    ax: plt.Axes,
    results: YearResult | Mapping[str, YearResult],
    versus_oracle: bool = True,
    title: str = "",
) -> plt.Axes:
    """Cumulative ₽ per result, in thousands; the year's total is in the legend.

    ``versus_oracle``: ₽ above the oracle (the oracle is the zero line), which shows the
    levels apart; otherwise all ₽, with the oracle's as a dashed line.
    """
    chosen = as_results(results)
    first = next(iter(chosen.values()))
    if versus_oracle:
        ax.axhline(0, color="black", linestyle="--", linewidth=1.2, label=ORACLE_LABEL)
    else:
        spent = first.weekly.set_index("week")["oracle_cost_rub"].cumsum() / 1000
        ax.plot(
            spent.index, spent.to_numpy(), "--", color="black", linewidth=1.2, label=ORACLE_LABEL
        )
    for i, (label, result) in enumerate(chosen.items()):
        total = cumulative_rub(result, versus_oracle) / 1000
        color = level_color(result, i)
        name = f"{label}: {format_roubles(1000 * total.iloc[-1])} за год"
        ax.plot(total.index, total.to_numpy(), color=color, linewidth=2, label=name)
    ax.set_xlim(-0.5, first.year.weeks - 0.5)
    ylabel = "тыс. ₽ сверх оракула" if versus_oracle else "тыс. ₽"
    ax.set(xlabel="неделя года", ylabel=ylabel, title=title)
    return ax


CUMULATIVE = {"excess": True, "total": False}


def plot_year(
    results: YearResult | Mapping[str, YearResult],
    year: ProductionYear | None = None,
    *,
    metric: str = "log_loss",
    cumulative: str | None = "excess",
    oracle: bool = True,
    mark_deployments: bool = True,
    ylim: tuple[float, float] | None = None,
    title: str | None = None,
    figsize: Sequence[float] = (12, 7),
) -> Figure:
    """The year in one figure: the events' timeline, the weekly ``metric``, the cumulative ₽.

    ``results``: ``{label: YearResult}`` (or one result), all from the same year; ``year``
    defaults to theirs (a different year raises). ``cumulative``: "excess" (₽ above the
    oracle), "total" (all ₽, the oracle dashed) or None (no lower panel). Dotted lines in
    the events' colours mark where each event starts; legends sit right of the plots.
    """
    chosen = as_results(results)
    first = next(iter(chosen.values()))
    if year is not None and year.key != first.year.key:
        raise ValueError("Год не тот, на котором сыграны результаты (другой seed или события).")
    year = first.year
    if metric not in WEEKLY_METRICS:
        raise ValueError(f"Метрика {metric!r} не из {sorted(WEEKLY_METRICS)}.")
    if cumulative is not None and cumulative not in CUMULATIVE:
        raise ValueError(
            f"cumulative — одно из {sorted(CUMULATIVE)} или None, а не {cumulative!r}."
        )
    heights = [1.1, 3] if cumulative is None else [1.1, 3, 2]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=tuple(figsize), sharex=True, gridspec_kw={"height_ratios": heights}
    )
    draw_event_lanes(axes[0], year)
    heading = title if title is not None else WEEKLY_METRICS[metric].capitalize()
    draw_weekly(axes[1], chosen, metric, oracle, mark_deployments, ylim, title=heading)
    if cumulative is not None:
        versus = CUMULATIVE[cumulative]
        name = "сверх оракула" if versus else "всего"
        draw_cumulative(axes[2], chosen, versus, title=f"Стоимость ошибок, накопленная: {name}")
    for ax in axes[1:]:
        draw_event_starts(ax, year)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in axes[:-1]:
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


# --- Tables of a year (Russian column names, for the notebooks) --------------------------


def model_weeks(
    year: ProductionYear,
    model: Any,
    threshold: float,
    weeks: Iterable[int],
    clean: bool = True,
    costs: CostTable = DEFAULT_COSTS,
) -> pd.DataFrame:
    """Any model's week, log_loss, cost_rub, cost_per_order, roc_auc on weeks of the year.

    ``clean``: on the orders a working pipe would have delivered (``clean_frame``), as the
    simulator judges deployments; otherwise on the batches as they arrived. Use it for
    "what if": the replaced model kept serving, a model trained on another window.
    """
    rows = []
    for week in weeks:
        frame = year.clean_frame(week) if clean else year.batch(week).frame
        y, scores = frame[TARGET].to_numpy(), late_scores(model, frame)
        rows.append({"week": week, **week_metrics(y, scores, threshold, costs, auc=True)})
    return pd.DataFrame(rows)


def weeks_to_learn(result: YearResult) -> pd.Series:
    """Per event key: weeks from its start to the first deployment trained on its weeks.

    That is when a model that has seen the changed world starts serving (NaN: never within
    the year). A rollback is not counted: it brings an old model back.
    """
    deploys = result.deployments[(result.deployments["kind"] == "deploy")]
    found = {}
    for event in result.year.events:
        weeks = [
            row.week
            for row in deploys.itertuples(index=False)
            if row.week >= event.start_week and any(event.active(w) for w in row.trained_on)
        ]
        found[event.key] = float(weeks[0] - event.start_week) if weeks else math.nan
    return pd.Series(found, dtype=float)


def week_span(weeks: Sequence[int]) -> str:
    """Training weeks as text: «8…11» when consecutive, else listed («25, 26, 27, 29»)."""
    weeks = sorted(weeks)
    if weeks == list(range(weeks[0], weeks[-1] + 1)):
        return str(weeks[0]) if len(weeks) == 1 else f"{weeks[0]}…{weeks[-1]}"
    return ", ".join(map(str, weeks))


def _weeks(value: float, missing: str) -> str:
    return missing if pd.isna(value) else f"{value:.0f}"


def event_outcomes(result: YearResult) -> pd.DataFrame:
    """One row per event (index: its Russian name): start, detect, recover, model learned.

    Weeks as text: «не обнаружено», «не до конца года» (no recovery within the year),
    «не навредило» (recovery 0 because the event never pushed the gap over the tolerance),
    «не было» (no model trained on the event's weeks served).
    """
    events = result.events.set_index("key")
    recover = [
        "не навредило" if not hurt else _weeks(value, "не до конца года")
        for value, hurt in zip(events["time_to_recover_weeks"], events["hurt"], strict=True)
    ]
    table = pd.DataFrame(
        {
            "событие": events["событие"],
            "тип": [KIND_NAMES[kind] for kind in events["kind"]],
            "неделя начала": events["start_week"],
            "обнаружено через, нед.": [
                _weeks(v, "не обнаружено") for v in events["time_to_detect_weeks"]
            ],
            "восстановление через, нед.": recover,
            "модель на данных события в production через, нед.": [
                _weeks(v, "не было") for v in weeks_to_learn(result).reindex(events.index)
            ],
        }
    )
    return table.set_index("событие")


def deployment_table(result: YearResult) -> pd.DataFrame:
    """The year's deployments and rollbacks (v1 left out: it is not a choice), in Russian.

    Per row: when it was decided, on which weeks the model learned, the first week it
    served, weeks from decision to production, how old its newest training week was on its
    first day, weeks served, its log loss minus the replaced model's on the true labels of
    those weeks, and whether that is worse by more than ``simulator.WORSE_MARGIN``.
    """
    deploys = result.deployments[result.deployments["week"] > 0]
    newest = [max(weeks) for weeks in deploys["trained_on"]]
    table = pd.DataFrame(
        {
            "версия": [f"v{v}" for v in deploys["version"]],
            "что": deploys["kind"].map({"deploy": "выкатка", "rollback": "откат"}),
            "решение в конце недели": deploys["decided_week"],
            "обучена на неделях": [week_span(t) for t in deploys["trained_on"]],
            "работает с недели": deploys["week"],
            "от решения до production, нед.": deploys["week"] - deploys["decided_week"],
            "возраст свежих данных при выкатке, нед.": deploys["week"] - newest,
            "недель в production": deploys["weeks_served"],
            "log loss против прежней": deploys["log_loss_change"].round(3),
            "хуже прежней": deploys["worse"].map({True: "да", False: "нет"}),
        }
    )
    return table.set_index("версия")
