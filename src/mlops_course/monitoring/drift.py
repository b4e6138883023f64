"""Data drift: univariate statistics by hand, a dataset-level decision, and Evidently.

Each statistic compares one column of a *reference* sample (the data the model was
trained on) with a *current* sample (what production sees now):

* ``ks_test`` — two-sample Kolmogorov-Smirnov for continuous numeric columns: the
  largest gap between the two empirical CDFs, with a p-value;
* ``chi2_test`` — chi-square test of homogeneity for categories (and for discrete numeric
  columns such as hour or courier load, see ``is_discrete``), over the *union* of the
  observed values, so a category never seen in the reference counts as drift;
* ``psi`` — Population Stability Index over bins from the reference quantiles;
* ``wasserstein`` — the earth mover's distance (optionally in reference std units);
* ``jensen_shannon`` — Jensen-Shannon distance between two histograms.

``column_drift`` applies them to a frame and returns a tidy table; ``dataset_drift`` turns
the per-column p-values into one decision with a multiple-testing correction;
``evidently_drift`` runs the same comparison in Evidently and returns the same table.
A column that cannot be compared (missing from a frame, or without a single value) does
not stop the others: it gets a row with a NaN score and a Russian ``note`` saying why.

All of these look at one column at a time. ``domain_classifier_test`` is the multivariate
detector: a classifier learns to tell reference rows from current ones, and its held-out
ROC AUC is tested against 0.5, so it also sees a change in how columns go *together*.
``detector_power`` measures how often each detector alarms on simulated batches (the
comparison of Rabanser, Günnemann & Lipton, "Failing Loudly", NeurIPS 2019).

Two thresholds families, do not mix them up:

* p-value tests (KS, chi-square): ``score`` is the p-value and a column drifts when
  ``p < alpha``. With a big sample *any* tiny shift is significant: the p-value answers
  "is there a difference?", not "is the difference large?".
* distances (PSI, Wasserstein, JS): ``score`` is the size of the difference and a column
  drifts when ``score >= threshold``. The thresholds (0.1 for all three, as in Evidently)
  are rules of thumb, not error rates.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import chi2 as chi2_distribution
from scipy.stats import distributions, mannwhitneyu, rankdata

from mlops_course.config import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    SEED,
    TARGET,
    work_dir,
)

RESULT_COLUMNS = ["column", "method", "score", "threshold", "drifted", "note"]
P_VALUE_METHODS = ("ks", "chi2")
DISTANCE_THRESHOLDS = {"psi": 0.1, "wasserstein": 0.1, "jensen_shannon": 0.1}
METHODS_BY_KIND = {
    "numeric": ("ks", "psi", "wasserstein", "jensen_shannon"),
    "categorical": ("chi2", "psi", "jensen_shannon"),
}
DEFAULT_METHOD = {"numeric": "ks", "categorical": "chi2"}
DISCRETE_MAX_VALUES = 30
"""A numeric column whose reference values are whole numbers with at most this many
distinct values (hour: 24, weekday: 7, courier load: 5) is *discrete*: by default it is
tested with chi-square over the union of the observed values, not with KS (see
``is_discrete``)."""
CORRECTIONS = ("none", "bonferroni", "holm", "bh")
PSI_EPSILON = 1e-4
"""Share given to an empty bin, so that PSI's log stays finite (a common convention)."""


class TestResult(NamedTuple):
    """A statistic and its p-value."""

    __test__ = False  # not a pytest test class

    statistic: float
    pvalue: float


# --- Input cleaning --------------------------------------------------------------------


def _numeric_values(values: Any) -> np.ndarray:
    """A float array without missing values."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        raise ValueError("Пустая выборка: нет ни одного значения без пропусков.")
    return array


def _category_counts(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of every category of the union in both samples (missing values dropped).

    One ``pd.factorize`` over both samples gives shared integer codes, so a category seen
    only in one sample still gets a column (with a zero count in the other).
    """
    reference, current = np.asarray(reference), np.asarray(current)
    codes, categories = pd.factorize(np.concatenate([reference, current]))
    ref_codes, cur_codes = codes[: len(reference)], codes[len(reference) :]
    # factorize marks missing values with -1: drop them.
    ref_codes, cur_codes = ref_codes[ref_codes >= 0], cur_codes[cur_codes >= 0]
    if ref_codes.size == 0 or cur_codes.size == 0:
        raise ValueError("Пустая выборка: нет ни одного значения без пропусков.")
    ref_counts = np.bincount(ref_codes, minlength=len(categories))
    cur_counts = np.bincount(cur_codes, minlength=len(categories))
    return np.asarray(categories), ref_counts, cur_counts


# --- Numeric statistics ----------------------------------------------------------------


def _tie_group_ends(sorted_values: np.ndarray) -> np.ndarray:
    """Positions of the last element of each run of equal values in a sorted array."""
    is_last = np.empty(sorted_values.size, dtype=bool)
    is_last[:-1] = sorted_values[1:] != sorted_values[:-1]
    is_last[-1] = True
    return np.flatnonzero(is_last)


def _ks_statistic_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """KS statistic of two *sorted* samples: max |F_ref(x) - F_cur(x)| over all points.

    The gap between two step functions is largest at one of the sample points, so it is
    enough to look at each distinct value once (the last of a run of ties, where the
    ECDF has finished its step). Looking each sample up in the other costs
    O(n log m), and with ties far fewer look-ups are needed.
    """
    n, m = ref_sorted.size, cur_sorted.size
    ref_ends, cur_ends = _tie_group_ends(ref_sorted), _tie_group_ends(cur_sorted)
    # At the reference points: F_ref is known from the position, F_cur is looked up.
    gap_at_ref = (ref_ends + 1) / n - np.searchsorted(cur_sorted, ref_sorted[ref_ends], "right") / m
    gap_at_cur = np.searchsorted(ref_sorted, cur_sorted[cur_ends], "right") / n - (cur_ends + 1) / m
    return float(max(np.abs(gap_at_ref).max(), np.abs(gap_at_cur).max()))


def _ks_pvalue(statistic: float, n: int, m: int) -> float:
    """Two-sided p-value from Smirnov's asymptotic distribution (as scipy's ``asymp``)."""
    effective_n = n * m / (n + m)
    return float(np.clip(distributions.kstwo.sf(statistic, np.round(effective_n)), 0.0, 1.0))


def ks_test(reference: Any, current: Any) -> TestResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided); missing values are dropped.

    The p-value is Smirnov's asymptotic one: identical to
    ``scipy.stats.ks_2samp(..., method="asymp")``, and to scipy's default whenever a
    sample has more than 10,000 values (where scipy switches to it as well). With fewer
    values scipy's default computes the exact p-value, and the asymptotic one is only an
    approximation of it: for two normal samples the largest differences we measured were
    about 0.12 at 10 + 10 values, 0.07 at 30 + 30, 0.04 at 100 + 100 and under 0.01 from
    1000 + 100 on. At 100 + 100 the asymptotic test is slightly liberal (about 6% false
    alarms at alpha = 0.05 instead of 5%); below ~50 values per sample prefer
    ``scipy.stats.ks_2samp`` (exact). With ties (integer columns) KS is conservative.
    """
    ref_sorted = np.sort(_numeric_values(reference))
    cur_sorted = np.sort(_numeric_values(current))
    statistic = _ks_statistic_sorted(ref_sorted, cur_sorted)
    return TestResult(statistic, _ks_pvalue(statistic, ref_sorted.size, cur_sorted.size))


def wasserstein(reference: Any, current: Any, normalize: bool = False) -> float:
    """First Wasserstein distance (earth mover's distance): the area between the ECDFs.

    In the units of the column ("how far, on average, mass had to move"), so a threshold
    for kilometres does not fit roubles. ``normalize=True`` divides by the reference
    standard deviation (at least 0.001, as Evidently does): then 0.1 means "moved by a
    tenth of a typical spread" in any column, and one threshold fits all columns. This is
    Evidently's "Wasserstein distance (normed)".
    """
    ref_sorted = np.sort(_numeric_values(reference))
    cur_sorted = np.sort(_numeric_values(current))
    distance = _wasserstein_sorted(ref_sorted, cur_sorted)
    if normalize:
        distance /= max(float(np.std(ref_sorted)), 0.001)
    return distance


def _wasserstein_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Area between the ECDFs of two sorted samples: sum of |F_ref - F_cur| * step width."""
    points = np.sort(np.concatenate([ref_sorted, cur_sorted]), kind="stable")  # a merge
    widths = np.diff(points)
    ref_cdf = np.searchsorted(ref_sorted, points[:-1], "right") / ref_sorted.size
    cur_cdf = np.searchsorted(cur_sorted, points[:-1], "right") / cur_sorted.size
    return float(np.sum(np.abs(ref_cdf - cur_cdf) * widths))


# --- Binning for PSI and Jensen-Shannon ------------------------------------------------


def quantile_bin_edges(reference: Any, bins: int = 10) -> np.ndarray:
    """Inner edges of ``bins`` equal-frequency bins of the reference sample.

    The outer bins are open (-inf, e1) and [ek, +inf), so current values outside the
    reference range still land in a bin. Edges that coincide (ties) are merged, so a
    column with few distinct values gets fewer bins than asked for.

    A value that fills two or more of the quantile levels 0, 1/bins, ..., 1 (minimum and
    maximum included) gets a bin of its own, [v, v + 1 ulp), which holds exactly v.
    Otherwise a 0/1 flag with 5% ones has the single edge 0 and one bin [0, +inf) for
    both values: PSI would be 0 whether the current share of ones is 5% or 60%. Without
    such ties the edges are the classic ``np.unique(np.quantile(...))``.
    """
    if bins < 2:
        raise ValueError("Нужно хотя бы 2 корзины (bins >= 2).")
    values = _numeric_values(reference)
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, bins + 1))  # with min and max
    distinct, repeats = np.unique(quantiles, return_counts=True)
    tied = distinct[repeats > 1]
    # np.nextafter(v, inf) is the next float after v: it closes the bin that holds only v.
    return np.union1d(quantiles[1:-1], np.nextafter(tied, np.inf))


def binned_counts(reference: Any, current: Any, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both numeric samples in the reference-quantile bins.

    Bin i holds values in [edge_{i-1}, edge_i): ``searchsorted(..., "right")`` is the bin.
    """
    edges = quantile_bin_edges(reference, bins)
    n_bins = edges.size + 1
    ref_bins = np.searchsorted(edges, _numeric_values(reference), side="right")
    cur_bins = np.searchsorted(edges, _numeric_values(current), side="right")
    return np.bincount(ref_bins, minlength=n_bins), np.bincount(cur_bins, minlength=n_bins)


def _histograms(
    reference: Any, current: Any, bins: int, categorical: bool | None
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin (numeric) or per category of the union (categorical)."""
    if categorical is None:
        categorical = not _is_numeric_array(reference)
    if categorical:
        _, ref_counts, cur_counts = _category_counts(reference, current)
        return ref_counts, cur_counts
    return binned_counts(reference, current, bins)


def _is_numeric_array(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        dtype = np.asarray(values).dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def psi(
    reference: Any,
    current: Any,
    bins: int = 10,
    categorical: bool | None = None,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population Stability Index: sum over bins of (c - r) * ln(c / r).

    ``r`` and ``c`` are the shares of the reference and the current sample in each bin
    (numeric: ``bins`` equal-frequency bins from the *reference* quantiles; categorical:
    each category of the union). Shares below ``epsilon`` (empty bins) are raised to
    ``epsilon``, so that the log stays finite. ``categorical=None``
    decides by dtype. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large shift.

    Binning pitfalls (PSI measures the bins as much as the data):

    * The bins come from the reference. Bins from the current or the combined sample,
      equal-width bins, or another ``bins`` give a different number for the same data.
    * Ties: a column with few distinct values (hour, courier load) has coinciding
      quantiles; they are merged, so it gets fewer bins than asked for, and a value that
      fills several quantile levels gets a bin of its own (see ``quantile_bin_edges``).
    * Sample size: without any drift, PSI is about (k - 1) * (1/n + 1/m) for k bins, by
      chance alone. With 10 bins and 100 rows per sample that is ~0.18, above the 0.1
      threshold, so small samples give false alarms.
    * ``epsilon`` sets the penalty for a bin that is empty on one side, and then it is
      part of the answer: a bin with share c in the current data and none in the
      reference adds about c * ln(c / epsilon). On a full winter (temperature below all
      but the lowest reference bin) PSI of ``temperature_c`` is about 3.7, 6.1 and 8.0
      for ``epsilon`` = 1e-2, 1e-4 (the default) and 1e-6. Such a PSI says "huge shift",
      not how huge; without empty bins (no share below ``epsilon``) it does not depend on
      ``epsilon`` at all.
    """
    ref_counts, cur_counts = _histograms(reference, current, bins, categorical)
    ref_share = np.maximum(ref_counts / ref_counts.sum(), epsilon)
    cur_share = np.maximum(cur_counts / cur_counts.sum(), epsilon)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def jensen_shannon(
    reference: Any,
    current: Any,
    bins: int = 10,
    categorical: bool | None = None,
    base: float | None = None,
) -> float:
    """Jensen-Shannon distance between the histograms of the two samples.

    Histograms as in ``psi`` (reference-quantile bins or categories of the union), no
    epsilon needed: JS is finite even when a bin is empty on one side. With the natural
    log (``base=None``, scipy's default) it lies in [0, sqrt(ln 2)] ~ [0, 0.83]; with
    ``base=2`` in [0, 1].
    """
    ref_counts, cur_counts = _histograms(reference, current, bins, categorical)
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    middle = (p + q) / 2
    divergence = _kl_divergence(p, middle) + _kl_divergence(q, middle)
    if base is not None:
        divergence /= np.log(base)
    return float(np.sqrt(max(divergence, 0.0) / 2))


def _kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) with 0 * log 0 = 0."""
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


# --- Categorical test ------------------------------------------------------------------


def chi2_test(reference: Any, current: Any, correction: bool = True) -> TestResult:
    """Chi-square test of homogeneity of two categorical samples.

    The 2 x k contingency table is built over the union of the categories, so a category
    seen only in the current data (a new district) is part of the test. As in
    ``scipy.stats.chi2_contingency``, Yates' continuity correction is applied when the
    table has one degree of freedom (two categories) and ``correction`` is true.

    Evidently's "chisquare" is a different test (goodness of fit of the current counts to
    the reference shares), so its p-values differ from this one.
    """
    _, ref_counts, cur_counts = _category_counts(reference, current)
    observed = np.vstack([ref_counts, cur_counts]).astype(float)
    degrees_of_freedom = observed.shape[1] - 1
    if degrees_of_freedom == 0:  # a single category on both sides: nothing can differ
        return TestResult(0.0, 1.0)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    if degrees_of_freedom == 1 and correction:
        # Yates: move each count up to 0.5 towards its expected value.
        difference = expected - observed
        observed = observed + np.sign(difference) * np.minimum(0.5, np.abs(difference))
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return TestResult(statistic, float(chi2_distribution.sf(statistic, degrees_of_freedom)))


# --- Frame level ------------------------------------------------------------------------


def column_kind(frame: pd.DataFrame, column: str) -> str:
    """'numeric' or 'categorical': from the course schema, else from the dtype.

    The label ``is_late`` counts as categorical: a change in the share of late orders
    (label drift) is a change of category frequencies.
    """
    if column in NUMERIC_FEATURES:
        return "numeric"
    if column in CATEGORICAL_FEATURES or column == TARGET:
        return "categorical"
    return "numeric" if _is_numeric_array(frame[column]) else "categorical"


def default_columns(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """The course features of the reference, else all its columns.

    Chosen from the reference alone: a column that is missing from ``current`` must show
    up in the result (as untestable), not vanish from it.
    """
    features = [c for c in NUMERIC_FEATURES + CATEGORICAL_FEATURES if c in reference.columns]
    return features or list(reference.columns)


def _frame_with(column: str, reference: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The frame to read the column's dtype from (the reference, if it has the column)."""
    for frame in (reference, current):
        if column in frame.columns:
            return frame
    raise ValueError(f"Столбца «{column}» нет ни в эталоне, ни в текущих данных.")


def untestable_reason(reference: pd.DataFrame, current: pd.DataFrame, column: str) -> str:
    """Why ``column`` cannot be compared (a Russian note), or "" when it can.

    The rule shared by ``column_drift`` and ``evidently_drift``: the column must exist in
    both frames and have at least one non-missing value in each.
    """
    for frame, where in ((reference, "эталоне"), (current, "текущих данных")):
        if column not in frame.columns:
            return f"столбца нет в {where}"
        if not frame[column].notna().any():
            return f"в {where} нет ни одного значения (все пропущены)"
    return ""


def is_discrete(values: Any, max_values: int = DISCRETE_MAX_VALUES) -> bool:
    """Whole numbers only, with at most ``max_values`` distinct ones (missing values dropped).

    The rule that sends a numeric column to chi-square instead of KS. KS's p-value comes
    from the null distribution of the statistic for *continuous* data; with ties (24
    hours, 7 weekdays, a courier load of 0-4 orders) the statistic can take fewer values
    and the test is conservative: without any drift it alarms less often than alpha
    (about 2% instead of 5% for the integer course columns at 500 rows), so it also
    misses more real shifts. Chi-square over the union of the observed values is close
    to alpha there, and it counts a value never seen in the reference (a fifth order
    per courier, above the usual cap of four) as a change, as it does a new category.
    (Evidently has a similar rule: chi-square for numeric columns with at most 5 values.)

    Continuous columns (distance, prep time, temperature) and integer columns with many
    distinct values (order value in whole roubles) are not discrete and keep KS. Booleans
    are not numeric here (see ``column_kind``).
    """
    if not _is_numeric_array(values):
        return False
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer):
        array = array.astype(float, copy=False)
        array = array[~np.isnan(array)]
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            return False
    if array.size == 0:
        return False
    if array.max() - array.min() < max_values:  # few possible values: no need to count
        return True
    return pd.unique(array).size <= max_values  # a hash table: linear time


def _allowed_methods(kind: str, discrete: bool) -> tuple[str, ...]:
    """Methods that fit a column: a discrete numeric column also takes chi-square."""
    if kind == "numeric" and discrete:
        return (*METHODS_BY_KIND["numeric"], "chi2")
    return METHODS_BY_KIND[kind]


def _choose_method(
    column: str, kind: str, method: str | Mapping[str, str] | None, discrete: bool = False
) -> str:
    """Per-column method: a dict entry must fit; one name applies where it fits.

    The default is KS for numeric columns, chi-square for categorical and for discrete
    numeric columns (``discrete``: see ``is_discrete``).
    """
    default = "chi2" if kind == "numeric" and discrete else DEFAULT_METHOD[kind]
    allowed = _allowed_methods(kind, discrete)
    if isinstance(method, Mapping):
        chosen = method.get(column, default)
        if chosen not in allowed:
            raise ValueError(
                f"Метод «{chosen}» не подходит для столбца «{column}» ({kind}); "
                f"можно: {', '.join(allowed)}."
            )
        return chosen
    if method is None:
        return default
    known = set(METHODS_BY_KIND["numeric"]) | set(METHODS_BY_KIND["categorical"])
    if method not in known:
        raise ValueError(f"Неизвестный метод «{method}»; можно: {', '.join(sorted(known))}.")
    # e.g. "wasserstein" has no meaning for a categorical column, nor chi-square for a
    # continuous one: keep the column's default there.
    return method if method in allowed else default


def _column_score(reference: Any, current: Any, kind: str, method: str) -> float:
    """Score of one column: a p-value for KS / chi-square, a distance otherwise."""
    categorical = kind == "categorical"
    if method == "ks":
        return ks_test(reference, current).pvalue
    if method == "chi2":
        return chi2_test(reference, current).pvalue
    if method == "psi":
        return psi(reference, current, categorical=categorical)
    if method == "jensen_shannon":
        return jensen_shannon(reference, current, categorical=categorical)
    return wasserstein(reference, current, normalize=True)


def column_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Iterable[str] | None = None,
    method: str | Mapping[str, str] | None = None,
    alpha: float = 0.05,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Drift of each column, as a tidy table (column, method, score, threshold, drifted).

    ``method``: None -> KS for continuous numeric columns, chi-square for categorical and
    for discrete numeric ones (whole numbers with at most ``DISCRETE_MAX_VALUES`` distinct
    values in the reference: hour, weekday, courier load; see ``is_discrete``); one name
    ("ks", "chi2", "psi", "wasserstein", "jensen_shannon") -> used for every column it
    fits, the others keep their default (``method="ks"``: KS for every numeric column,
    discrete ones too, chi-square for categorical ones); a dict column -> name for full
    control. Discreteness is read from the reference alone, so a fixed reference gives
    every check the same method per column.
    For p-value tests the score is the p-value and ``drifted = p < alpha``; for distances
    ``drifted = score >= threshold`` (default ``DISTANCE_THRESHOLDS``; Wasserstein is
    normalised by the reference std). No multiple-testing correction here: see
    ``dataset_drift``.

    Default columns: the course features of the reference (else all its columns). A column
    missing from a frame or without any value there (a dead sensor) gets score NaN,
    ``drifted = False`` and a ``note`` saying why; the note is "" for the other rows.
    """
    columns = default_columns(reference, current) if columns is None else list(columns)
    rows = []
    for column in columns:
        note = untestable_reason(reference, current, column)
        kind = column_kind(_frame_with(column, reference, current), column)
        # From the reference (the same every week), else from what there is.
        values = _frame_with(column, reference, current)[column]
        discrete = kind == "numeric" and values.notna().any() and is_discrete(values)
        chosen = _choose_method(column, kind, method, discrete)
        if note:
            score = np.nan
        else:
            # .to_numpy() once per column: the statistics work on plain arrays.
            score = _column_score(
                reference[column].to_numpy(), current[column].to_numpy(), kind, chosen
            )
            if np.isnan(score):  # e.g. KS with a single value on each side
                note = "статистика не определена: слишком мало значений"
        if chosen in P_VALUE_METHODS:
            limit, drifted = alpha, score < alpha
        else:
            limit = DISTANCE_THRESHOLDS[chosen] if threshold is None else threshold
            drifted = score >= limit
        rows.append((column, chosen, score, limit, bool(drifted), note))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


# --- Dataset level: many columns, one decision --------------------------------------------


def adjust_pvalues(pvalues: Any, correction: str = "holm") -> np.ndarray:
    """Adjusted p-values for testing many columns at once (compare them with alpha).

    * "none": as they are. With k columns and no drift anywhere, the chance that at least
      one p < alpha is 1 - (1 - alpha)^k (about 37% for 9 columns): a false alarm is
      almost guaranteed over a few checks.
    * "bonferroni": p * k. Controls that chance (family-wise error rate) at alpha.
    * "holm": the step-down Bonferroni: same guarantee, never less powerful.
    * "bh": Benjamini-Hochberg. Controls the expected share of false alarms among the
      flagged columns (FDR); with no drift at all this equals the family-wise rate.

    A NaN p-value (a column that could not be tested) stays NaN and is not counted: the
    correction is over the k finite p-values, the tests actually made.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"Неизвестная поправка «{correction}»; можно: {', '.join(CORRECTIONS)}.")
    adjusted = np.array(pvalues, dtype=float)  # a copy: NaN stay where they are
    tested = ~np.isnan(adjusted)
    adjusted[tested] = _adjust_finite(adjusted[tested], correction)
    return adjusted


def _adjust_finite(p: np.ndarray, correction: str) -> np.ndarray:
    """``adjust_pvalues`` for p-values without NaN."""
    k = p.size
    if correction == "none" or k == 0:
        return p
    if correction == "bonferroni":
        return np.minimum(p * k, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if correction == "holm":
        # The i-th smallest p (from 0) is multiplied by k - i; monotone from the smallest up.
        adjusted_sorted = np.maximum.accumulate(ranked * (k - np.arange(k)))
    else:  # "bh": the i-th smallest (from 1) times k / i; monotone from the largest down.
        adjusted_sorted = np.minimum.accumulate((ranked * k / np.arange(1, k + 1))[::-1])[::-1]
    adjusted = np.empty(k)
    adjusted[order] = np.minimum(adjusted_sorted, 1.0)
    return adjusted


@dataclass
class DatasetDrift:
    """The dataset-level verdict and the per-column table behind it."""

    table: pd.DataFrame
    """column, method, score (raw p-value), adjusted_p, threshold (alpha), drifted, note."""
    drift_detected: bool
    """True when at least one column is significant after the correction."""
    drifted_share: float
    """Share of the *tested* columns that drifted (0 when none could be tested)."""
    n_drifted: int
    correction: str
    alpha: float
    untested: list[str] = field(default_factory=list)
    """Columns without a p-value (missing, empty, too few values): see their ``note``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types (for JSON, MLflow or a monitoring job)."""
        return {
            "drift_detected": self.drift_detected,
            "drifted_share": self.drifted_share,
            "n_drifted": self.n_drifted,
            "correction": self.correction,
            "alpha": self.alpha,
            "untested": list(self.untested),
            "columns": self.table.to_dict(orient="records"),
        }


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Iterable[str] | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    method: str | Mapping[str, str] | None = None,
) -> DatasetDrift:
    """Is the dataset drifting? KS / chi-square per column, p-values corrected together.

    The test per column is ``column_drift``'s default: KS for continuous numeric columns,
    chi-square for categorical and discrete numeric ones (``is_discrete``). ``method="ks"``
    keeps KS for every numeric column; ``method`` must choose p-value tests ("ks",
    "chi2"), since distances cannot be corrected like p-values.

    The dataset drifts when any column's adjusted p-value is below ``alpha``; with "holm"
    or "bonferroni" the chance of a false alarm when nothing drifts stays <= alpha however
    many columns are checked (see ``adjust_pvalues``).

    Columns that cannot be tested (missing from ``current``, all values missing, see
    ``column_drift``) are listed in ``untested``: they keep a NaN p-value, are left out of
    the correction and of ``drifted_share``, and never count as drift. A dead sensor is a
    data-quality incident (``validation`` catches it), not evidence of a shift, and the
    other columns are still checked.
    """
    table = column_drift(reference, current, columns=columns, method=method, alpha=alpha)
    not_tests = sorted(set(table["method"]) - set(P_VALUE_METHODS))
    if not_tests:
        raise ValueError(
            f"dataset_drift корректирует p-value, а {', '.join(not_tests)} — расстояния, "
            "не p-value: выберите method из ks, chi2 (или None)."
        )
    table.insert(3, "adjusted_p", adjust_pvalues(table["score"].to_numpy(), correction))
    table["drifted"] = table["adjusted_p"] < alpha  # NaN < alpha is False
    untested = table.loc[table["score"].isna(), "column"].tolist()
    n_tested, n_drifted = len(table) - len(untested), int(table["drifted"].sum())
    return DatasetDrift(
        table=table,
        drift_detected=n_drifted > 0,
        drifted_share=n_drifted / n_tested if n_tested else 0.0,
        n_drifted=n_drifted,
        correction=correction,
        alpha=alpha,
        untested=untested,
    )


# --- Multivariate: the domain classifier ---------------------------------------------------

DOMAIN_MODELS = ("hgb", "logreg")
"""Classifiers of ``domain_classifier_test``: gradient boosting (sees interactions) or a
linear model (faster, sees shifts of each column's mean only)."""
DOMAIN_HGB_PARAMS = {"max_iter": 30, "learning_rate": 0.1, "max_leaf_nodes": 8}
"""A small boosting model: 20-40 ms for 2 x 1000 rows on one core, and on the course
batches as powerful as the bigger ones we tried (more trees, more leaves, smaller leaves)."""
_MAX_CATEGORIES = 250  # the boosting model's categorical support takes < 255 categories


@dataclass(frozen=True)
class DomainClassifierResult:
    """The verdict of ``domain_classifier_test``."""

    statistic: float
    """Held-out ROC AUC of "current vs reference": 0.5 — cannot tell them apart."""
    p_value: float
    """One-sided (AUC > 0.5), from the null distribution of the Mann-Whitney U."""
    drift: bool
    """``p_value < alpha``."""
    alpha: float
    n_reference: int
    n_current: int
    n_held_out: int
    """Rows (both samples) the AUC was measured on: about half of all rows."""
    model: str
    columns: tuple[str, ...]
    importance: tuple[tuple[str, float], ...] = ()
    """(column, AUC lost when the column is shuffled in the held-out rows), largest first.
    Empty unless asked for (``importance=True``)."""

    @property
    def top_columns(self) -> list[str]:
        """Columns whose shuffling lowered the AUC, most informative first."""
        return [column for column, loss in self.importance if loss > 0]

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types (for JSON, MLflow or a monitoring job)."""
        return {
            "statistic": self.statistic,
            "p_value": self.p_value,
            "drift": self.drift,
            "alpha": self.alpha,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "n_held_out": self.n_held_out,
            "model": self.model,
            "columns": list(self.columns),
            "importance": dict(self.importance),
        }


def _domain_columns(
    reference: pd.DataFrame, current: pd.DataFrame, columns: Iterable[str] | None
) -> list[str]:
    """The classifier's columns: the course features by default, all present in both."""
    if columns is None:
        columns = [c for c in NUMERIC_FEATURES + CATEGORICAL_FEATURES if c in reference.columns]
        if not columns:
            raise ValueError(
                "В эталоне нет признаков курса: передайте columns явно (без id и времени — "
                "по ним классификатор отличит любые две выборки)."
            )
    columns = list(columns)
    for frame, where in ((reference, "эталоне"), (current, "текущих данных")):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"Столбцов {missing} нет в {where}: доменный классификатор сравнивает только "
                "общие столбцы. Это инцидент качества данных (см. validation), не дрейф."
            )
    return columns


def _category_codes(values: pd.Series) -> np.ndarray:
    """Integer codes as floats (NaN for missing); rare categories share one code if many."""
    codes, categories = pd.factorize(values)
    if len(categories) > _MAX_CATEGORIES:
        counts = np.bincount(codes[codes >= 0], minlength=len(categories))
        rank = np.empty(len(categories), dtype=np.int64)
        rank[np.argsort(-counts, kind="stable")] = np.arange(len(categories))
        codes = np.where(codes >= 0, np.minimum(rank[codes], _MAX_CATEGORIES - 1), -1)
    return np.where(codes >= 0, codes, np.nan)


def _numeric_column(values: pd.Series, column: str) -> np.ndarray:
    try:
        return values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Столбец «{column}» должен быть числовым, а в нём {values.dtype}: {error}. "
            "Проверьте типы (validation) или передайте columns без него."
        ) from error


def _domain_matrix(
    both: pd.DataFrame, columns: list[str], kinds: list[str], model: str
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Design matrix, the matrix columns of each input column, and the categorical mask.

    "hgb": one matrix column per input column, numeric as is (NaN allowed: the model
    handles it), categorical as integer codes (native categorical splits). "logreg": the
    course's preprocessing idea — numeric imputed with the median and standardised (plus a
    0/1 "missing" column where values are missing), categorical one-hot encoded.
    The encodings use the pooled rows without their labels, so the test stays exact.
    """
    blocks: list[np.ndarray] = []
    categorical_mask: list[bool] = []
    for column, kind in zip(columns, kinds, strict=True):
        if kind == "categorical":
            codes = _category_codes(both[column])
            if model == "hgb":
                block = codes[:, None]
            else:
                present = ~np.isnan(codes)
                width = int(np.nanmax(codes)) + 1 if present.any() else 0
                block = np.zeros((codes.size, width))
                block[np.flatnonzero(present), codes[present].astype(np.int64)] = 1.0
            is_categorical = model == "hgb"
        else:
            values = _numeric_column(both[column], column)
            if model == "hgb":
                block = values[:, None]
            else:
                missing = np.isnan(values)
                fill = float(np.median(values[~missing])) if (~missing).any() else 0.0
                filled = np.where(missing, fill, values)
                scale = float(filled.std()) or 1.0
                block = ((filled - filled.mean()) / scale)[:, None]
                if missing.any():
                    block = np.column_stack([block, missing.astype(float)])
            is_categorical = False
        blocks.append(block)
        categorical_mask += [is_categorical] * block.shape[1]
    widths = np.cumsum([0] + [block.shape[1] for block in blocks])
    groups = [np.arange(start, end) for start, end in zip(widths[:-1], widths[1:], strict=True)]
    return np.column_stack(blocks), groups, np.array(categorical_mask, dtype=bool)


@functools.cache
def _threadpools() -> Any:
    """A cached ``ThreadpoolController`` (building one scans the loaded libraries: ~20 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _domain_classifier(model: str, categorical_mask: np.ndarray, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if model == "logreg":
        return LogisticRegression(max_iter=1000)
    return HistGradientBoostingClassifier(
        **DOMAIN_HGB_PARAMS,
        early_stopping=False,  # every fit the same size: no validation split inside
        categorical_features=categorical_mask if categorical_mask.any() else None,
        random_state=seed,
    )


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC from ranks (ties count one half), labels 1 = current."""
    ranks = rankdata(scores)
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def domain_classifier_test(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Iterable[str] | None = None,
    *,
    alpha: float = 0.05,
    seed: int = SEED,
    model: str = "hgb",
    importance: bool = False,
) -> DomainClassifierResult:
    """Can a classifier tell current rows from reference rows? A classifier two-sample test.

    Reference rows get the label 0, current rows 1. Each sample is split in half at random
    (``seed``); a classifier is fitted on the two fit halves and scores the held-out rows.
    If nothing changed, no classifier can do better than chance on new rows: the held-out
    ROC AUC (the ``statistic``) is 0.5 up to noise, and its exact null distribution is that
    of the Mann-Whitney U of the held-out scores (``scipy.stats.mannwhitneyu``, one-sided:
    AUC > 0.5; asymptotic with a ties correction for larger samples). The p-value is valid
    whatever the classifier, however badly it fits: a poor classifier only costs power.

    What it sees that per-column tests cannot: a change in the *joint* distribution in
    which every column keeps its own distribution (courier load no longer higher at peak
    hours; snow no longer cold), interactions (a shift only in one district at night),
    and many small shifts that no single column shows significantly — and it gives one
    p-value, so there is nothing to correct for multiple testing. ``model="hgb"`` (small
    gradient boosting, ``DOMAIN_HGB_PARAMS``) can learn interactions; ``model="logreg"``
    (one-hot + standardised columns) is faster, but linear: it sees shifts in each column's
    mean and misses a changed dependence between columns.

    What it costs: a model fit per check (boosting: 20-40 ms for 2 x 1000 rows, 30-70 ms
    for 2 x 5000 on one core; "logreg" 3-4 times less; the per-column tests 5-15 ms), half
    of the data spent on fitting (the AUC is measured on the other half), and a verdict
    that is harder to explain: "the AUC is 0.56" does not say which column moved.
    ``importance=True`` shuffles each column in the held-out rows and reports how much AUC
    it loses (one shuffle per column: noisy for small samples; ~1 ms a column).
    Per-column tests on the full sample are usually more powerful for a shift in one
    column, especially a new category (see ``detector_power``).

    Columns: the course features by default. Never include ids or timestamps: they grow
    with time, so they tell a reference from a later batch perfectly (AUC 1) without any
    drift. Missing values are allowed; a column missing from a frame is an error (a
    data-quality incident). Fits run on one thread: for a few thousand rows threads cost
    more than they give.
    """
    if model not in DOMAIN_MODELS:
        raise ValueError(f"Неизвестная модель «{model}»; можно: {', '.join(DOMAIN_MODELS)}.")
    columns = _domain_columns(reference, current, columns)
    n_reference, n_current = len(reference), len(current)
    if min(n_reference, n_current) < 4:
        raise ValueError(
            "Нужно хотя бы 4 строки в каждой выборке: половина идёт на обучение "
            "классификатора, половина — на проверку."
        )
    kinds = [column_kind(reference, column) for column in columns]
    both = pd.concat([reference[columns], current[columns]], ignore_index=True)
    matrix, groups, categorical_mask = _domain_matrix(both, columns, kinds, model)
    labels = np.r_[np.zeros(n_reference, dtype=np.int64), np.ones(n_current, dtype=np.int64)]

    rng = np.random.default_rng(seed)
    fit = np.zeros(labels.size, dtype=bool)
    for start, size in ((0, n_reference), (n_reference, n_current)):  # stratified halves
        fit[start + rng.permutation(size)[: size // 2]] = True
    held_matrix, held_labels = matrix[~fit], labels[~fit]

    classifier = _domain_classifier(model, categorical_mask, seed)
    with _threadpools().limit(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. lbfgs on perfectly separable data
        classifier.fit(matrix[fit], labels[fit])
        scores = classifier.decision_function(held_matrix)
        losses = []
        if importance:
            auc = _auc(scores, held_labels)
            for column, group in zip(columns, groups, strict=True):
                shuffled = held_matrix.copy()
                shuffled[:, group] = held_matrix[rng.permutation(len(held_matrix))][:, group]
                shuffled_auc = _auc(classifier.decision_function(shuffled), held_labels)
                losses.append((column, auc - shuffled_auc))

    test = mannwhitneyu(scores[held_labels == 1], scores[held_labels == 0], alternative="greater")
    n_pos, n_neg = int(held_labels.sum()), int((held_labels == 0).sum())
    p_value = float(test.pvalue)
    return DomainClassifierResult(
        statistic=float(test.statistic) / (n_pos * n_neg),
        p_value=p_value,
        drift=bool(p_value < alpha),
        alpha=alpha,
        n_reference=n_reference,
        n_current=n_current,
        n_held_out=int(held_labels.size),
        model=model,
        columns=tuple(columns),
        importance=tuple(sorted(losses, key=lambda item: -item[1])),
    )


# --- Power: how often each detector alarms ------------------------------------------------

NO_DRIFT = "no_drift"
"""The ``scenario`` label of ``detector_power`` rows without any drift (false alarms)."""
JOINT_SHIFT = "decoupled_load"
"""A shift no single column shows (not a ``problems`` scenario): courier load stops
depending on the hour of the day — ``decouple_column`` on a clean batch."""

Detector = Callable[[pd.DataFrame, pd.DataFrame, float, int], bool]
"""``detector(reference, current, alpha, seed) -> drift?``"""


def _univariate_holm(method: str | None) -> Detector:
    def detect(reference: pd.DataFrame, current: pd.DataFrame, alpha: float, seed: int) -> bool:
        return dataset_drift(
            reference, current, alpha=alpha, correction="holm", method=method
        ).drift_detected

    return detect


def _domain(model: str) -> Detector:
    def detect(reference: pd.DataFrame, current: pd.DataFrame, alpha: float, seed: int) -> bool:
        return domain_classifier_test(reference, current, alpha=alpha, seed=seed, model=model).drift

    return detect


DETECTORS: dict[str, Detector] = {
    "univariate_holm": _univariate_holm(None),
    "univariate_holm_ks": _univariate_holm("ks"),
    "domain_classifier": _domain("hgb"),
    "domain_classifier_logreg": _domain("logreg"),
}
"""Detectors ``detector_power`` knows by name, all on the course features:

* "univariate_holm": ``dataset_drift`` — a test per column (KS for continuous columns,
  chi-square for categorical and discrete ones), Holm's correction;
* "univariate_holm_ks": the same with KS for every numeric column, discrete ones too;
* "domain_classifier": ``domain_classifier_test`` with gradient boosting;
* "domain_classifier_logreg": ``domain_classifier_test`` with logistic regression.
"""
DEFAULT_DETECTORS = ("univariate_holm", "domain_classifier")
POWER_COLUMNS = [
    "scenario",
    "strength",
    "n",
    "detector",
    "trials",
    "alarms",
    "rate",
    "ci_low",
    "ci_high",
    "ms_per_check",
]


def decouple_column(
    frame: pd.DataFrame, column: str = "courier_load", share: float = 1.0, seed: int = SEED
) -> pd.DataFrame:
    """A copy of ``frame`` in which ``column`` is shuffled among a random ``share`` of rows.

    The values of the column stay the same values (its distribution does not change at
    all), and so do all other columns; only the link between the column and the others
    weakens (``share=1``: gone). In the course batches courier load is about twice as
    high at peak hours; decoupled, it no longer depends on the hour. No per-column test
    can see this change, by construction: the batch passes as "no drift" column by column.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share должна быть в [0, 1], а не {share}.")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frame), size=round(share * len(frame)), replace=False))
    result = frame.copy()
    position = result.columns.get_loc(column)
    values = result.iloc[rows, position].to_numpy()
    result.iloc[rows, position] = values[rng.permutation(rows.size)]
    return result


def _current_batch(scenario: str | None, n: int, strength: float, seed: int) -> pd.DataFrame:
    from mlops_course.scenario.problems import make_batch

    if scenario is None:
        return make_batch(n, seed=seed).frame
    if scenario == JOINT_SHIFT:
        return decouple_column(make_batch(n, seed=seed).frame, "courier_load", strength, seed)
    return make_batch(n, seed=seed, scenarios=[scenario], strength=strength).frame


def _chosen_detectors(detectors: Iterable[str] | Mapping[str, Detector]) -> dict[str, Detector]:
    if isinstance(detectors, Mapping):
        return dict(detectors)
    names = [detectors] if isinstance(detectors, str) else list(detectors)
    unknown = [name for name in names if name not in DETECTORS]
    if unknown:
        raise ValueError(f"Неизвестные детекторы {unknown}; можно: {', '.join(DETECTORS)}.")
    return {name: DETECTORS[name] for name in names}


def detector_power(
    scenario: str | None,
    n: int,
    *,
    strength: float = 1.0,
    trials: int = 50,
    alpha: float = 0.05,
    seed: int = SEED,
    detectors: Iterable[str] | Mapping[str, Detector] = DEFAULT_DETECTORS,
    n_reference: int | None = None,
) -> pd.DataFrame:
    """Share of ``trials`` simulated checks in which each detector alarms, as a tidy table.

    Each trial draws a fresh reference batch (``n_reference`` orders, default ``n``) and a
    current batch of ``n`` orders with ``scenario`` at ``strength`` (a name from
    ``problems.SCENARIOS``, or ``JOINT_SHIFT``), with seeds of their own: reference
    ``seed + 2t``, current ``seed + 2t + 1``, detector ``seed + t`` for trial t. Every
    detector sees the same pairs, at the same ``alpha``, so their rates are comparable
    (and calls with the same seed and another scenario reuse the same references).

    With a drift scenario ``rate`` is the detector's power; with ``scenario=None`` (or
    strength 0) it is the false-alarm rate, which must stay about ``alpha``. At full
    strength every detector finds every course scenario: compare them at small strengths
    (0.1-0.3). Concept drift (``routing_change``) does not change the features: feature
    detectors are *supposed* to stay at ``alpha`` there.

    ``detectors``: names from ``DETECTORS`` or ``{name: detector(reference, current,
    alpha, seed) -> bool}``. Columns: scenario (``NO_DRIFT`` without drift), strength, n,
    detector, trials, alarms, rate, ci_low / ci_high (exact 95% Clopper-Pearson interval
    of the rate: with 50 trials a rate of 0.05 is anything from 0.005 to 0.17) and
    ms_per_check (mean time of one check).
    """
    from scipy.stats import binomtest

    from mlops_course.scenario.problems import make_batch

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha должна быть в (0, 1), а не {alpha}.")
    if trials < 1:
        raise ValueError(f"Нужен хотя бы один повтор (trials >= 1), а не {trials}.")
    chosen = _chosen_detectors(detectors)
    n_reference = n if n_reference is None else n_reference
    alarms = dict.fromkeys(chosen, 0)
    seconds = dict.fromkeys(chosen, 0.0)
    for trial in range(trials):
        reference = make_batch(n_reference, seed=seed + 2 * trial).frame
        current = _current_batch(scenario, n, strength, seed + 2 * trial + 1)
        for name, detector in chosen.items():
            started = time.perf_counter()
            alarms[name] += bool(detector(reference, current, alpha, seed + trial))
            seconds[name] += time.perf_counter() - started
    no_drift = scenario is None or strength == 0
    rows = []
    for name in chosen:
        interval = binomtest(alarms[name], trials).proportion_ci(0.95, method="exact")
        rows.append(
            (
                NO_DRIFT if no_drift else scenario,
                0.0 if no_drift else float(strength),
                n,
                name,
                trials,
                alarms[name],
                alarms[name] / trials,
                interval.low,
                interval.high,
                1000 * seconds[name] / trials,
            )
        )
    return pd.DataFrame(rows, columns=POWER_COLUMNS)


# --- Evidently ----------------------------------------------------------------------------


def evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    method: str | None = None,
    cat_method: str | None = None,
    threshold: float | None = None,
    html_path: str | Path | None = None,
    save_html: bool = True,
) -> pd.DataFrame:
    """Evidently's ``DataDriftPreset`` on the same columns, as a tidy table.

    ``method`` is the Evidently test for numeric columns ("ks", "wasserstein", "psi", ...),
    ``cat_method`` for categorical ones ("chisquare", "jensenshannon", ...). None lets
    Evidently choose per column, from the reference size and the number of distinct values
    in both samples together:

    * at most 1000 reference rows — p-value tests at 0.05: for numeric columns KS, but with
      at most 5 distinct values chi-square (Z-test for two values); for categorical columns
      chi-square (Z-test for two categories);
    * more than 1000 reference rows — distances at 0.1: for numeric columns the normed
      Wasserstein distance, but with at most 5 distinct values Jensen-Shannon; for
      categorical columns Jensen-Shannon.

    ``threshold`` is a p-value level for p-value tests and a distance for distances. The
    ``drifted`` verdicts are Evidently's own. Default columns: the course features of the
    reference. Columns that cannot be compared (same rule as ``column_drift``: missing from
    a frame or without any value) are not given to Evidently, which would stop on them; they
    get a row with score NaN and a ``note``.

    The HTML report (~MBs) goes to ``html_path`` or ``work_dir("reports")``, never into the
    repository; its path is in ``result.attrs["html_path"]`` (None when no column could be
    compared and no report was made).
    """
    if numeric is None:
        numeric = [c for c in NUMERIC_FEATURES if c in reference.columns]
    if categorical is None:
        categorical = [c for c in CATEGORICAL_FEATURES if c in reference.columns]
    columns = list(numeric) + list(categorical)
    notes = {column: untestable_reason(reference, current, column) for column in columns}
    testable_numeric = [c for c in numeric if not notes[c]]
    testable_categorical = [c for c in categorical if not notes[c]]
    rows: dict[str, tuple[Any, ...]] = {}
    path = None
    if testable_numeric or testable_categorical:
        snapshot = _run_evidently(
            reference,
            current,
            testable_numeric,
            testable_categorical,
            method,
            cat_method,
            threshold,
        )
        tested = _tidy_evidently(snapshot.dict())
        rows = {row[0]: tuple(row) for row in tested.itertuples(index=False)}
        if save_html:
            path = Path(html_path) if html_path else work_dir("reports") / "evidently_drift.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                snapshot.save_html(str(path))
    for column, note in notes.items():
        if note:
            chosen = method if column in numeric else cat_method
            limit = np.nan if threshold is None else threshold
            rows[column] = (column, chosen or "—", np.nan, limit, False, note)
    # In the order of the requested columns, as column_drift.
    result = pd.DataFrame([rows[column] for column in columns], columns=RESULT_COLUMNS)
    if save_html:
        result.attrs["html_path"] = str(path) if path else None
    return result


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    method: str | None,
    cat_method: str | None,
    threshold: float | None,
) -> Any:
    """Evidently's snapshot of ``DataDriftPreset`` on the given columns."""
    columns = numeric + categorical
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Evidently and its dependencies warn a lot, on import too (numpy.core, litestar,
        # pandas, scipy): keep the notebook's stderr clean.
        warnings.simplefilter("ignore")
        # Imported here: evidently is slow to import and only this function needs it.
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        preset = DataDriftPreset(
            columns=columns, num_method=method, cat_method=cat_method, threshold=threshold
        )
        return Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(current[columns], data_definition=definition),
            reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
        )


def _tidy_evidently(snapshot: dict[str, Any]) -> pd.DataFrame:
    """One row per ``ValueDrift`` metric; the verdict is its test's status (FAIL = drift)."""
    failed = {
        test["metric_config"]["metric_id"]: test["status"] == "FAIL"
        for test in snapshot.get("tests", [])
    }
    rows = []
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if not config["type"].endswith(":ValueDrift"):
            continue
        rows.append(
            (
                config["column"],
                config["method"],
                float(metric["value"]),
                float(config["threshold"]),
                bool(failed[metric["id"]]),
                "",
            )
        )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
