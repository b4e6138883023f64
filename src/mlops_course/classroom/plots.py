"""Plotting helpers shared by the drift notebooks (04, 05 and lab02).

Small functions that draw on a given matplotlib ``Axes``, so a notebook cell stays a
few lines long. Titles and labels are Russian: they are what the student reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mlops_course.model.evaluate import CostTable
from mlops_course.model.retraining import STRATEGY_NAMES

if TYPE_CHECKING:
    from mlops_course.model.retraining import StrategyResult

REFERENCE_COLOR = "tab:blue"
CURRENT_COLOR = "tab:orange"


def compare_distributions(
    ax: plt.Axes,
    reference: pd.Series,
    current: pd.Series,
    title: str,
    bins: int = 30,
    xlabel: str | None = None,
) -> plt.Axes:
    """Reference vs current distribution of one column: histograms or category shares.

    ``xlabel`` defaults to the column's name; pass a Russian one for the student. A numeric
    reference against a non-numeric current column (numbers sent as strings) raises a
    ``TypeError`` that names the problem instead of failing inside matplotlib.
    """
    if pd.api.types.is_numeric_dtype(reference) and not pd.api.types.is_numeric_dtype(current):
        raise TypeError(
            f"Колонка {current.name!r}: в эталоне числа, а в текущих данных тип "
            f"{current.dtype} (числа пришли строками?). Это инцидент качества данных, "
            "а не дрейф: сначала проверьте схему (validation.validate_orders)."
        )
    numeric = pd.api.types.is_numeric_dtype(reference) and reference.nunique() > 15
    if numeric:
        edges = np.histogram_bin_edges(pd.concat([reference, current]).dropna(), bins=bins)
        ax.hist(reference, edges, density=True, alpha=0.5, color=REFERENCE_COLOR, label="эталон")
        ax.hist(current, edges, density=True, alpha=0.5, color=CURRENT_COLOR, label="текущие")
        ax.set_ylabel("плотность")
    else:
        shares = pd.DataFrame(
            {
                "эталон": reference.value_counts(normalize=True),
                "текущие": current.value_counts(normalize=True),
            }
        ).fillna(0.0)
        shares = shares.sort_index()
        positions = np.arange(len(shares))
        ax.bar(positions - 0.2, shares["эталон"], 0.4, color=REFERENCE_COLOR, label="эталон")
        ax.bar(positions + 0.2, shares["текущие"], 0.4, color=CURRENT_COLOR, label="текущие")
        ax.set_xticks(positions, [str(name) for name in shares.index], rotation=30)
        ax.set_ylabel("доля")
    ax.set_title(title)
    ax.set_xlabel(str(reference.name) if xlabel is None else xlabel)
    ax.legend()
    return ax


def power_curves(
    ax: plt.Axes, rates: pd.DataFrame, alpha: float | None = None, title: str = ""
) -> plt.Axes:
    """Detection rate vs sample size, one line per column of ``rates`` (index = sizes)."""
    for label, values in rates.items():
        ax.plot(rates.index, values, marker="o", label=str(label))
    if alpha is not None:
        ax.axhline(alpha, color="grey", linestyle="--", label=f"α = {alpha}")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("размер текущей выборки, заказов")
    ax.set_ylabel("доля срабатываний")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def quality_over_time(
    ax: plt.Axes,
    curves: Mapping[str, pd.Series],
    events: Mapping[str, int] | None = None,
    ylabel: str = "ROC AUC",
    title: str = "",
) -> plt.Axes:
    """Lines of a weekly metric (index = week), with vertical marks for named events.

    The events are named in the legend, not on the plot, so no text covers the data.
    """
    for label, values in curves.items():
        ax.plot(values.index, values.to_numpy(), marker=".", label=label)
    for label, week in (events or {}).items():
        ax.axvline(week, color="grey", linestyle="--", label=f"{label} (неделя {week})")
    ax.set_xlabel("неделя")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def control_chart(
    ax: plt.Axes,
    series: pd.Series,
    baseline: float,
    limit: float,
    events: Mapping[str, int] | None = None,
    ylabel: str = "",
    title: str = "",
    band_label: str = "±3σ",
) -> plt.Axes:
    """A weekly metric (index = week) inside its band ``baseline ± limit`` (e.g. ±3σ).

    Weeks outside the band are marked with red dots: they are the alarms of the rule
    «a week beyond the limits». Events are named in the legend, as in ``quality_over_time``.
    """
    ax.axhspan(baseline - limit, baseline + limit, color="grey", alpha=0.15, label=band_label)
    ax.axhline(baseline, color="grey", linewidth=1, label=f"базовый уровень {baseline:.3f}")
    quality_over_time(ax, {ylabel or "значение": series}, events, ylabel=ylabel, title=title)
    outside = series[(series - baseline).abs() > limit]
    ax.plot(outside.index, outside.to_numpy(), "o", color="tab:red", label="за границей")
    ax.legend(fontsize=8)
    return ax


def alarm_rate_bars(
    ax: plt.Axes, rates: pd.Series, alpha: float, n_trials: int, title: str = ""
) -> plt.Axes:
    """Measured false-alarm rates (one bar per index label) against the promised ``alpha``.

    The grey band is alpha ± 2 binomial standard errors for ``n_trials`` repetitions: a bar
    inside it is consistent with alpha. Bars above the band are red, the others green.
    """
    half_width = 2 * np.sqrt(alpha * (1 - alpha) / n_trials)
    colors = np.where(rates.to_numpy() > alpha + half_width, "tab:red", "tab:green")
    ax.bar([str(label) for label in rates.index], rates.to_numpy(), color=colors)
    ax.axhline(alpha, color="grey", linestyle="--", label=f"α = {alpha}")
    band = (max(alpha - half_width, 0), alpha + half_width)
    ax.axhspan(*band, color="grey", alpha=0.15, label="α ± 2 ст. ошибки")
    ax.set_ylabel("доля ложных тревог")
    ax.set_title(title)
    ax.legend()
    return ax


def _interval_labels(bins: Sequence[float]) -> list[str]:
    """ "[0, 1]", "(1, 2]", ..., "(9, 30]" for bins [0, 1, 2, ..., 9, 30].

    The intervals of ``pd.cut(..., right=True, include_lowest=True)``: closed on the right,
    and the first one also holds its left edge.
    """
    labels = [f"({low:g}, {high:g}]" for low, high in zip(bins[:-1], bins[1:], strict=True)]
    labels[0] = "[" + labels[0][1:]
    return labels


def late_share_by(
    ax: plt.Axes,
    frames: Mapping[str, pd.DataFrame],
    column: str,
    bins: Sequence[float] | None = None,
    upper: float | None = None,
    target: str = "is_late",
) -> plt.Axes:
    """Share of late orders by ``column``, one line per frame (e.g. before / after a change).

    With ``bins`` the column is cut into intervals ``[b0, b1], (b1, b2], ...`` (one tick
    each; values outside ``[b0, b_last]`` are left out), otherwise grouped by its values
    clipped at ``upper`` (the last point then means "``upper`` or more").
    """
    for label, frame in frames.items():
        if bins is not None:
            groups = pd.cut(frame[column], bins, include_lowest=True).cat.codes
        else:
            groups = frame[column].clip(upper=upper)
        shares = frame[target].groupby(groups).mean().drop(index=-1, errors="ignore")
        ax.plot(shares.index, shares.to_numpy(), marker="o", label=label)
    if bins is not None:
        ax.set_xticks(range(len(bins) - 1), _interval_labels(bins))
    ax.set(xlabel=column, ylabel="доля опозданий")
    ax.legend()
    return ax


CONSTANT_POLICY_NAMES = {"flag_all": "тревога на каждый заказ", "flag_none": "без тревог"}


def strategy_costs(
    ax: plt.Axes,
    results: Mapping[str, StrategyResult],
    events: Mapping[str, int] | None = None,
    smooth_weeks: int = 3,
    mark_retrains: str | None = "triggered",
    title: str = "",
    costs: CostTable | None = None,
) -> plt.Axes:
    """Weekly cost per order of each retraining strategy, smoothed over ``smooth_weeks``.

    Red vertical lines mark the retrain weeks of the strategy ``mark_retrains`` (one
    legend entry for all of them); none when ``results`` has no such strategy. With
    ``costs`` the two policies that need no model (``CostTable.constant_costs`` at each
    week's true late rate: flag every order, flag none) are drawn as black lines, smoothed
    the same way: a strategy above them costs more than no model at all.
    """
    curves = {
        STRATEGY_NAMES.get(name, name): result.weekly.set_index("week")["cost_per_order"]
        .rolling(smooth_weeks, min_periods=1)
        .mean()
        for name, result in results.items()
    }
    ylabel = f"₽ на заказ (среднее за {smooth_weeks} нед.)"
    quality_over_time(ax, curves, events, ylabel=ylabel, title=title)
    if costs is not None and results:
        late_rate = next(iter(results.values())).weekly.set_index("week")["late_rate"]
        constant = pd.DataFrame([costs.constant_costs(rate) for rate in late_rate], late_rate.index)
        for (policy, values), style in zip(constant.items(), ("-.", ":"), strict=True):
            smoothed = values.rolling(smooth_weeks, min_periods=1).mean()
            label = CONSTANT_POLICY_NAMES.get(policy, policy)
            ax.plot(
                smoothed.index, smoothed.to_numpy(), color="black", linestyle=style, label=label
            )
    if mark_retrains in results:
        name = STRATEGY_NAMES.get(mark_retrains, mark_retrains)
        for i, week in enumerate(results[mark_retrains].retrain_weeks):
            label = f"переобучение «{name}»" if i == 0 else None
            ax.axvline(week, color="tab:red", alpha=0.3, label=label)
    ax.legend(fontsize=8)
    return ax
