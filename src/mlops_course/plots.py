"""Plotting helpers shared by the drift notebooks (04, 05 and lab02).

Small functions that draw on a given matplotlib ``Axes``, so a notebook cell stays a
few lines long. Titles and labels are Russian: they are what the student reads.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

REFERENCE_COLOR = "tab:blue"
CURRENT_COLOR = "tab:orange"


def compare_distributions(
    ax: plt.Axes, reference: pd.Series, current: pd.Series, title: str, bins: int = 30
) -> plt.Axes:
    """Reference vs current distribution of one column: histograms or category shares."""
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
    ax.set_xlabel(str(reference.name))
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
    """Lines of a weekly metric (index = week), with vertical marks for named events."""
    for label, values in curves.items():
        ax.plot(values.index, values.to_numpy(), marker=".", label=label)
    for label, week in (events or {}).items():
        ax.axvline(week, color="grey", linestyle="--")
        ax.annotate(
            label, (week, 1.0), xycoords=("data", "axes fraction"), fontsize=8, ha="left", va="top"
        )
    ax.set_xlabel("неделя")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax
