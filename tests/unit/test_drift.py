"""Drift statistics agree with scipy, corrections keep false alarms at alpha, shifts are found."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance
from scipy.special import rel_entr

from mlops_course import data, drift
from mlops_course.config import CATEGORICAL_FEATURES, NUMERIC_FEATURES

WINTER = data.Conditions(
    temperature_mean=-8.0,
    weather_probs={"clear": 0.30, "rain": 0.10, "snow": 0.50, "fog": 0.10},
)


def numeric_pair(kind: str, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric samples: continuous, or integers with many ties."""
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(0.0, 1.0, n), rng.normal(0.1, 1.2, m)
    return rng.poisson(3.0, n).astype(float), rng.poisson(3.3, m).astype(float)


def category_pair(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Categories where the current sample has an unseen one and lacks a reference one."""
    rng = np.random.default_rng(seed)
    reference = rng.choice(["a", "b", "c", "gone"], size=n, p=[0.5, 0.3, 0.15, 0.05])
    current = rng.choice(["a", "b", "c", "new"], size=m, p=[0.45, 0.3, 0.15, 0.1])
    return reference, current


def contingency(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """A 2 x k table built independently of the module (pandas crosstab)."""
    labels = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    return pd.crosstab(labels, np.r_[reference, current]).to_numpy()


def methods_by_column(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["column"], table["method"], strict=True))


# --- Statistics agree with scipy ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["continuous", "ties"])
@pytest.mark.parametrize(("n", "m"), [(40, 65), (900, 1300), (12_000, 7_000)])
def test_ks_matches_scipy(kind: str, n: int, m: int) -> None:
    reference, current = numeric_pair(kind, n, m, seed=n + m)
    ours = drift.ks_test(reference, current)
    asymptotic = stats.ks_2samp(reference, current, method="asymp")
    assert ours.statistic == pytest.approx(asymptotic.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(asymptotic.pvalue, rel=1e-9, abs=1e-12)
    if max(n, m) > 10_000:  # scipy's default is asymptotic too for large samples
        assert ours.pvalue == pytest.approx(stats.ks_2samp(reference, current).pvalue, rel=1e-9)


def test_ks_ignores_missing_values_and_is_zero_for_identical_samples() -> None:
    reference, _ = numeric_pair("continuous", 500, 500, seed=1)
    with_gaps = np.r_[reference, np.nan, np.nan]
    assert drift.ks_test(with_gaps, reference) == (0.0, 1.0)


@pytest.mark.parametrize("kind", ["continuous", "ties"])
def test_wasserstein_matches_scipy(kind: str) -> None:
    reference, current = numeric_pair(kind, 700, 1100, seed=3)
    expected = stats.wasserstein_distance(reference, current)
    assert drift.wasserstein(reference, current) == pytest.approx(expected, rel=1e-9)
    normalised = drift.wasserstein(reference, current, normalize=True)
    assert normalised == pytest.approx(expected / np.std(reference), rel=1e-9)


@pytest.mark.parametrize(("n", "m", "seed"), [(300, 500, 0), (2000, 1500, 1), (50, 40, 2)])
def test_chi2_matches_scipy_contingency_with_unseen_categories(n: int, m: int, seed: int) -> None:
    reference, current = category_pair(n, m, seed)
    table = contingency(reference, current)
    assert table.shape[1] == 5  # the union: a, b, c, gone, new
    expected = stats.chi2_contingency(table)
    ours = drift.chi2_test(reference, current)
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert ours.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_chi2_two_categories_uses_yates_like_scipy() -> None:
    rng = np.random.default_rng(5)
    reference = rng.choice(["yes", "no"], size=80, p=[0.3, 0.7])
    current = rng.choice(["yes", "no"], size=60, p=[0.45, 0.55])
    table = contingency(reference, current)
    for correction in (True, False):
        expected = stats.chi2_contingency(table, correction=correction)
        ours = drift.chi2_test(reference, current, correction=correction)
        assert ours.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi2_single_category_is_no_evidence() -> None:
    assert drift.chi2_test(["a"] * 10, ["a"] * 20) == (0.0, 1.0)


def test_a_new_category_alone_is_detected() -> None:
    reference = np.array(["center", "north"] * 500)
    current = np.array(["center", "north"] * 450 + ["new_district"] * 100)
    assert drift.chi2_test(reference, current).pvalue < 1e-10


def test_binned_counts_use_reference_quantiles_and_keep_outliers() -> None:
    reference, current = numeric_pair("continuous", 1000, 800, seed=7)
    current = np.r_[current, reference.max() + 10, reference.min() - 10]  # outside the range
    edges = drift.quantile_bin_edges(reference, bins=10)
    ref_counts, cur_counts = drift.binned_counts(reference, current, bins=10)
    assert len(edges) == 9
    assert np.all(np.abs(ref_counts - 100) <= 1)  # equal-frequency bins of the reference
    bounds = np.r_[-np.inf, edges, np.inf]
    manual = [
        np.sum((current >= lo) & (current < hi))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    assert cur_counts.tolist() == manual
    assert cur_counts.sum() == len(current)


def test_ties_merge_quantile_bins() -> None:
    hours = np.random.default_rng(0).choice([12, 13, 19], size=1000)
    assert len(drift.quantile_bin_edges(hours, bins=10)) < 9


@pytest.mark.parametrize("base", [None, 2.0])
def test_jensen_shannon_matches_scipy_on_the_same_histograms(base: float | None) -> None:
    reference, current = numeric_pair("continuous", 900, 600, seed=11)
    ref_counts, cur_counts = drift.binned_counts(reference, current, bins=8)
    expected = distance.jensenshannon(ref_counts, cur_counts, base=base)
    assert drift.jensen_shannon(reference, current, bins=8, base=base) == pytest.approx(
        expected, rel=1e-9
    )
    categories_ref, categories_cur = category_pair(900, 600, seed=12)
    table = contingency(categories_ref, categories_cur)
    expected = distance.jensenshannon(table[0], table[1], base=base)
    ours = drift.jensen_shannon(categories_ref, categories_cur, base=base)
    assert ours == pytest.approx(expected, rel=1e-9)


def test_psi_is_the_symmetric_kl_of_the_binned_shares() -> None:
    reference, current = numeric_pair("continuous", 2000, 1500, seed=13)
    ref_counts, cur_counts = drift.binned_counts(reference, current, bins=10)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    expected = np.sum(rel_entr(p, q) + rel_entr(q, p))
    assert drift.psi(reference, current) == pytest.approx(expected, rel=1e-9)
    assert drift.psi(reference, reference) == 0.0


def test_psi_categorical_uses_epsilon_for_unseen_categories() -> None:
    reference, current = category_pair(1000, 1000, seed=14)
    table = contingency(reference, current)
    p = np.maximum(table[0] / table[0].sum(), drift.PSI_EPSILON)
    q = np.maximum(table[1] / table[1].sum(), drift.PSI_EPSILON)
    expected = np.sum((q - p) * np.log(q / p))
    assert drift.psi(reference, current) == pytest.approx(expected, rel=1e-9)


def test_psi_without_drift_grows_as_the_sample_shrinks() -> None:
    """The documented pitfall: E[PSI] ~ (k - 1)(1/n + 1/m) with no drift at all."""
    rng = np.random.default_rng(15)
    for n in (100, 1000):
        values = [drift.psi(rng.normal(size=n), rng.normal(size=n)) for _ in range(300)]
        assert np.mean(values) == pytest.approx(9 * 2 / n, rel=0.15)


# --- Column table and multiple testing ---------------------------------------------------


@pytest.fixture(scope="module")
def orders_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    return data.generate_orders(3000, seed=1), data.generate_orders(3000, seed=2)


def test_column_drift_defaults(orders_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = orders_pair
    table = drift.column_drift(reference, current, alpha=0.05)
    assert list(table.columns) == drift.RESULT_COLUMNS
    assert table["column"].tolist() == NUMERIC_FEATURES + CATEGORICAL_FEATURES
    methods = methods_by_column(table)
    assert {methods[c] for c in NUMERIC_FEATURES} == {"ks"}
    assert {methods[c] for c in CATEGORICAL_FEATURES} == {"chi2"}
    assert (table["drifted"] == (table["score"] < 0.05)).all()
    expected = drift.ks_test(reference["distance_km"], current["distance_km"]).pvalue
    assert table.loc[0, "score"] == pytest.approx(expected)


def test_column_drift_selectable_methods(orders_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = orders_pair
    psi_table = drift.column_drift(reference, current, method="psi")
    assert set(psi_table["method"]) == {"psi"}
    assert (psi_table["threshold"] == drift.DISTANCE_THRESHOLDS["psi"]).all()
    # Wasserstein has no meaning for categories: they keep chi-square.
    table = drift.column_drift(reference, current, method="wasserstein", threshold=0.2)
    methods = methods_by_column(table)
    assert methods["weather"] == "chi2" and methods["distance_km"] == "wasserstein"
    row = table.set_index("column").loc["distance_km"]
    assert row["threshold"] == 0.2 and row["drifted"] == (row["score"] >= 0.2)
    mixed = drift.column_drift(reference, current, method={"weather": "jensen_shannon"})
    assert methods_by_column(mixed)["weather"] == "jensen_shannon"
    with pytest.raises(ValueError, match="не подходит"):
        drift.column_drift(reference, current, method={"weather": "ks"})
    with pytest.raises(ValueError, match="Неизвестный метод"):
        drift.column_drift(reference, current, method="t-test")


def test_adjust_pvalues_against_definitions() -> None:
    p = np.random.default_rng(16).uniform(0, 0.2, size=12) ** 2
    np.testing.assert_allclose(drift.adjust_pvalues(p, "none"), p)
    np.testing.assert_allclose(drift.adjust_pvalues(p, "bonferroni"), np.minimum(p * 12, 1))
    np.testing.assert_allclose(drift.adjust_pvalues(p, "bh"), stats.false_discovery_control(p))
    holm = drift.adjust_pvalues(p, "holm")
    for alpha in (0.001, 0.01, 0.05, 0.1):
        # Holm's step-down: reject the i-th smallest while p_(i) <= alpha / (k - i).
        rejected = np.zeros(p.size, dtype=bool)
        for step, index in enumerate(np.argsort(p)):
            if p[index] > alpha / (p.size - step):
                break
            rejected[index] = True
        assert ((holm <= alpha) == rejected).all()
    with pytest.raises(ValueError, match="Неизвестная поправка"):
        drift.adjust_pvalues(p, "sidak")


def test_dataset_drift_result(orders_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = orders_pair
    for correction in drift.CORRECTIONS:
        result = drift.dataset_drift(reference, current, alpha=0.05, correction=correction)
        expected = drift.adjust_pvalues(result.table["score"].to_numpy(), correction)
        np.testing.assert_allclose(result.table["adjusted_p"], expected)
        assert result.drift_detected == bool((expected < 0.05).any())
        assert result.n_drifted == int((expected < 0.05).sum())
        assert result.drifted_share == pytest.approx(result.n_drifted / 9)
        assert result.to_dict()["columns"][0]["column"] == "distance_km"


def false_alarm_limit(trials: int, alpha: float) -> int:
    """Most false alarms a procedure with rate <= alpha shows, but for a 1-in-1000 fluke."""
    return int(stats.binom.ppf(0.999, trials, alpha))


def test_false_alarm_rate_without_drift_needs_a_correction() -> None:
    """200 pairs of samples from one process: Holm/Bonferroni keep the rate <= alpha."""
    seeds, alpha = 200, 0.05
    alarms = dict.fromkeys(drift.CORRECTIONS, 0)
    for seed in range(seeds):
        reference = data.generate_orders(1000, seed=10_000 + seed)
        current = data.generate_orders(1000, seed=20_000 + seed)
        pvalues = drift.column_drift(reference, current)["score"].to_numpy()
        for correction in alarms:
            alarms[correction] += bool((drift.adjust_pvalues(pvalues, correction) < alpha).any())
    limit = false_alarm_limit(seeds, alpha)
    assert alarms["holm"] <= limit and alarms["bonferroni"] <= limit and alarms["bh"] <= limit
    # Nine uncorrected tests: far more alarms than a 5% procedure could produce.
    assert alarms["none"] > limit
    assert alarms["none"] > 2 * alarms["holm"]


def test_winter_is_detected_in_the_right_columns() -> None:
    for seed in range(10):
        reference = data.generate_orders(1000, seed=100 + seed)
        current = data.generate_orders(1000, seed=200 + seed, conditions=WINTER)
        result = drift.dataset_drift(reference, current, correction="holm")
        flagged = set(result.table.loc[result.table["drifted"], "column"])
        assert result.drift_detected
        assert {"temperature_c", "weather"} <= flagged


def test_a_mean_shift_in_one_of_many_columns_is_detected() -> None:
    seeds, detected, right_column = 50, 0, 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        reference = pd.DataFrame(rng.normal(size=(2000, 20))).add_prefix("x")
        current = pd.DataFrame(rng.normal(size=(2000, 20))).add_prefix("x")
        current["x7"] += 0.3  # a third of a standard deviation
        result = drift.dataset_drift(reference, current, correction="holm")
        detected += result.drift_detected
        right_column += bool(result.table.set_index("column").loc["x7", "drifted"])
    assert detected == seeds and right_column == seeds


# --- Evidently ---------------------------------------------------------------------------


@pytest.mark.slow  # Evidently's import alone takes several seconds
def test_evidently_ks_verdicts_match_column_drift() -> None:
    # More than 10,000 reference rows: scipy (inside Evidently) uses the asymptotic KS
    # p-value too, so both sides compute the very same number.
    reference = data.generate_orders(10_500, seed=1)
    current = data.generate_orders(2000, seed=2, conditions=WINTER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the wrapper must not let any warning out
        evidently = drift.evidently_drift(
            reference, current, method="ks", cat_method="chisquare", threshold=0.05, save_html=False
        )
    ours = drift.column_drift(reference, current, columns=NUMERIC_FEATURES, alpha=0.05)
    numeric = evidently.set_index("column").loc[NUMERIC_FEATURES]
    assert list(evidently.columns) == drift.RESULT_COLUMNS
    assert set(numeric["method"]) == {"ks"} and set(numeric["threshold"]) == {0.05}
    np.testing.assert_allclose(numeric["score"], ours["score"], rtol=1e-9, atol=1e-12)
    assert numeric["drifted"].tolist() == ours["drifted"].tolist()
    assert numeric.loc["temperature_c", "drifted"] and not numeric["drifted"].all()
    # Evidently's chi-square is a goodness-of-fit test: a different p-value, same story here.
    assert evidently.set_index("column").loc["weather", "drifted"]


@pytest.mark.slow
def test_evidently_html_goes_to_the_work_dir(work_home: Path) -> None:
    reference = data.generate_orders(1500, seed=3)
    current = data.generate_orders(1500, seed=4)
    result = drift.evidently_drift(reference, current)
    html = Path(result.attrs["html_path"])
    assert html.is_file() and html.stat().st_size > 0
    assert html.is_relative_to(work_home / "reports")
    assert result["column"].tolist() == NUMERIC_FEATURES + CATEGORICAL_FEATURES
    # More than 1000 rows and no method given: Evidently picks distances, threshold 0.1.
    assert (result["threshold"] == 0.1).all()
    assert (result["drifted"] == (result["score"] >= 0.1)).all()
