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

from mlops_course.config import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from mlops_course.monitoring import drift
from mlops_course.scenario import generator

WINTER = generator.Conditions(
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


def test_ties_merge_quantile_bins_and_each_tied_value_gets_its_own_bin() -> None:
    hours = np.random.default_rng(0).choice([12, 13, 19], size=1000)
    edges = drift.quantile_bin_edges(hours, bins=10)
    assert len(edges) < 9
    ref_counts, _ = drift.binned_counts(hours, hours, bins=10)
    # Every hour fills several quantile levels: each is alone in its bin.
    by_value = np.unique(hours, return_counts=True)[1]
    assert sorted(ref_counts[ref_counts > 0].tolist()) == sorted(by_value.tolist())


def classic_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """The textbook recipe (and the lab's): np.unique of the reference quantiles."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, reference, "right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, current, "right"), minlength=edges.size + 1)
    r, c = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def test_psi_is_the_classic_recipe_unless_a_tie_swallows_a_bin() -> None:
    continuous = numeric_pair("continuous", 2000, 1500, seed=21)
    rng = np.random.default_rng(22)
    # Poisson(2): ties at 0-3, but the next integer is the next edge, nothing is merged.
    integers = rng.poisson(2.0, 2000).astype(float), rng.poisson(3.0, 1000).astype(float)
    for reference, current in (continuous, integers):
        assert drift.psi(reference, current) == pytest.approx(classic_psi(reference, current))


def tied_shift_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Columns with few distinct values where all reference quantiles coincide."""
    rng = np.random.default_rng(23)
    return [
        ("flag 5% -> 60%", rng.random(5000) < 0.05, rng.random(5000) < 0.60),
        ("poisson 0.05 -> 2", rng.poisson(0.05, 5000), rng.poisson(2.0, 5000)),
        ("constant 1 -> 2", np.ones(100), np.full(100, 2.0)),
        ("constant 1 -> 0", np.ones(100), np.zeros(100)),
    ]


@pytest.mark.parametrize("bins", [2, 10])
@pytest.mark.parametrize(("name", "reference", "current"), tied_shift_cases())
def test_psi_and_js_see_a_shift_of_tied_values(
    name: str, reference: np.ndarray, current: np.ndarray, bins: int
) -> None:
    reference, current = reference.astype(float), current.astype(float)
    assert drift.psi(reference, current, bins=bins, categorical=False) > 0.25
    assert drift.jensen_shannon(reference, current, bins=bins, categorical=False) > 0.1
    table = drift.column_drift(
        pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}), method="psi"
    )
    assert table.loc[0, "drifted"]


def test_binary_numeric_column_is_binned_by_value_like_scipy() -> None:
    rng = np.random.default_rng(24)
    reference = (rng.random(4000) < 0.05).astype(float)
    current = (rng.random(3000) < 0.60).astype(float)
    ref_counts = np.bincount(reference.astype(int))
    cur_counts = np.bincount(current.astype(int))
    expected = distance.jensenshannon(ref_counts, cur_counts)
    ours = drift.jensen_shannon(reference, current, categorical=False)
    assert ours == pytest.approx(expected, rel=1e-9)
    categorical = drift.psi(reference, current, categorical=True)
    assert drift.psi(reference, current, categorical=False) == pytest.approx(categorical)


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


def test_psi_depends_on_epsilon_only_when_a_bin_is_empty() -> None:
    """The epsilon trap: with an empty bin PSI is mostly ln(share / epsilon)."""
    rng = np.random.default_rng(25)
    reference = rng.normal(0.0, 1.0, 2000)
    shifted = rng.normal(4.0, 0.3, 1000)  # every value in the top reference bin
    values = [drift.psi(reference, shifted, epsilon=e) for e in (1e-2, 1e-4, 1e-6)]
    assert values[0] < values[1] < values[2]
    assert values[2] - values[0] > 1.0
    # Without empty bins (no share below the largest epsilon) epsilon never enters the sum.
    current = rng.normal(0.2, 1.0, 1500)
    counts = np.bincount(np.searchsorted(drift.quantile_bin_edges(reference), current, "right"))
    assert counts.min() / counts.sum() > 1e-2
    same = [drift.psi(reference, current, epsilon=e) for e in (1e-2, 1e-4, 1e-6)]
    assert same[0] == same[1] == same[2]
    assert drift.psi(reference, current) == same[1]  # the default is PSI_EPSILON = 1e-4
    # Categories: an unseen one is an empty reference bin.
    categories_ref, categories_cur = category_pair(1000, 1000, seed=26)
    low = drift.psi(categories_ref, categories_cur, epsilon=1e-2)
    assert low < drift.psi(categories_ref, categories_cur, epsilon=1e-6)


def test_psi_without_drift_grows_as_the_sample_shrinks() -> None:
    """The documented pitfall: E[PSI] ~ (k - 1)(1/n + 1/m) with no drift at all."""
    rng = np.random.default_rng(15)
    for n in (100, 1000):
        values = [drift.psi(rng.normal(size=n), rng.normal(size=n)) for _ in range(300)]
        assert np.mean(values) == pytest.approx(9 * 2 / n, rel=0.15)


# --- Column table and multiple testing ---------------------------------------------------


@pytest.fixture(scope="module")
def orders_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generator.generate_orders(3000, seed=1), generator.generate_orders(3000, seed=2)


def test_column_drift_defaults(orders_pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = orders_pair
    table = drift.column_drift(reference, current, alpha=0.05)
    assert list(table.columns) == drift.RESULT_COLUMNS
    assert table["column"].tolist() == NUMERIC_FEATURES + CATEGORICAL_FEATURES
    methods = methods_by_column(table)
    discrete = ["courier_load", "hour", "weekday"]
    assert {methods[c] for c in discrete} == {"chi2"}
    assert {methods[c] for c in NUMERIC_FEATURES if c not in discrete} == {"ks"}
    assert {methods[c] for c in CATEGORICAL_FEATURES} == {"chi2"}
    assert (table["drifted"] == (table["score"] < 0.05)).all()
    expected = drift.ks_test(reference["distance_km"], current["distance_km"]).pvalue
    assert table.loc[0, "score"] == pytest.approx(expected)
    load = table.set_index("column").loc["courier_load", "score"]
    assert load == pytest.approx(
        drift.chi2_test(reference["courier_load"], current["courier_load"]).pvalue
    )
    # method="ks": KS for every numeric column, as before the discrete rule.
    ks_everywhere = methods_by_column(drift.column_drift(reference, current, method="ks"))
    assert {ks_everywhere[c] for c in NUMERIC_FEATURES} == {"ks"}
    assert {ks_everywhere[c] for c in CATEGORICAL_FEATURES} == {"chi2"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.arange(24).repeat(3), True),  # hour
        (np.arange(24).repeat(3).astype(float), True),  # whole numbers stored as floats
        (np.r_[np.arange(30.0), np.nan], True),  # missing values are ignored
        (np.arange(31), False),  # too many distinct values
        (np.arange(0, 3100, 100), False),  # 31 distinct values over a wide range
        (np.arange(0, 3000, 100), True),  # 30 of them
        (np.array([0.5, 1.0, 2.0]), False),  # not whole numbers
        (np.array([1.0, np.inf]), False),
        (np.array([True, False, True]), False),  # booleans are categories here
        (np.array(["1", "2"]), False),
        (np.array([np.nan, np.nan]), False),
    ],
)
def test_is_discrete_rule(values: np.ndarray, expected: bool) -> None:
    assert drift.is_discrete(values) is expected
    assert drift.DISCRETE_MAX_VALUES == 30


def test_discrete_columns_are_decided_by_the_reference_and_tested_over_the_union() -> None:
    rng = np.random.default_rng(31)
    reference = pd.DataFrame({"load": rng.poisson(2.0, 1500), "x": rng.normal(size=1500)})
    # The current load has values the reference never had: chi-square over the union.
    current = pd.DataFrame({"load": rng.poisson(2.0, 1500) + 25, "x": rng.normal(size=1500)})
    table = drift.column_drift(reference, current).set_index("column")
    assert table.loc["load", "method"] == "chi2" and table.loc["x", "method"] == "ks"
    assert table.loc["load", "score"] < 1e-10
    swapped = drift.column_drift(current.assign(load=current["load"] * 7.5), reference)
    assert methods_by_column(swapped)["load"] == "ks"  # not whole numbers in the reference
    # A dict can ask for chi-square on a discrete column, never on a continuous one.
    chosen = drift.column_drift(reference, current, method={"load": "ks"})
    assert methods_by_column(chosen)["load"] == "ks"
    with pytest.raises(ValueError, match="не подходит"):
        drift.column_drift(reference, current, method={"x": "chi2"})
    # One name "chi2": chi-square where it fits, KS stays on the continuous column.
    assert methods_by_column(drift.column_drift(reference, current, method="chi2")) == {
        "load": "chi2",
        "x": "ks",
    }


def test_dataset_drift_takes_a_method_but_only_p_value_tests(
    orders_pair: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = orders_pair
    result = drift.dataset_drift(reference, current, method="ks")
    assert methods_by_column(result.table)["hour"] == "ks"
    with pytest.raises(ValueError, match="расстояния"):
        drift.dataset_drift(reference, current, method="psi")


def test_ks_is_conservative_on_integer_columns_and_chi2_is_not() -> None:
    """Why discrete columns get chi-square: without drift KS alarms far less than alpha."""
    seeds, alpha = 300, 0.05
    ks_alarms, chi2_alarms = 0, 0
    for seed in range(seeds):
        reference = generator.generate_orders(500, seed=70_000 + seed)
        current = generator.generate_orders(500, seed=80_000 + seed)
        for column in ("courier_load", "hour", "weekday"):
            ks_alarms += drift.ks_test(reference[column], current[column]).pvalue < alpha
            chi2_alarms += drift.chi2_test(reference[column], current[column]).pvalue < alpha
    tests = 3 * seeds
    # chi-square: within a 1-in-1000 band around alpha; KS: below its lower end.
    low, high = stats.binom.ppf([0.0005, 0.9995], tests, alpha)
    assert low <= chi2_alarms <= high
    assert ks_alarms < low


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


@pytest.mark.parametrize("correction", drift.CORRECTIONS)
def test_adjust_pvalues_leaves_missing_pvalues_alone(correction: str) -> None:
    finite = np.random.default_rng(17).uniform(0, 0.1, size=6) ** 2
    with_gaps = np.r_[finite[:2], np.nan, finite[2:], np.nan]
    adjusted = drift.adjust_pvalues(with_gaps, correction)
    gaps = np.isnan(with_gaps)
    assert np.isnan(adjusted[gaps]).all()
    np.testing.assert_allclose(adjusted[~gaps], drift.adjust_pvalues(finite, correction))
    if correction == "bh":
        np.testing.assert_allclose(adjusted[~gaps], stats.false_discovery_control(finite))


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


def test_missing_or_empty_columns_get_a_row_with_a_note(
    orders_pair: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = orders_pair
    broken = current.drop(columns="weather").assign(temperature_c=np.nan)
    for method in (None, "psi"):
        table = drift.column_drift(reference, broken, method=method).set_index("column")
        assert table.index.tolist() == NUMERIC_FEATURES + CATEGORICAL_FEATURES
        for column in ("weather", "temperature_c"):
            assert np.isnan(table.loc[column, "score"]) and not table.loc[column, "drifted"]
        assert "нет" in table.loc["weather", "note"]
        assert "пропущены" in table.loc["temperature_c", "note"]
        assert np.isfinite(table.drop(index=["weather", "temperature_c"])["score"]).all()
        assert (table.drop(index=["weather", "temperature_c"])["note"] == "").all()
    empty = drift.column_drift(reference, current.iloc[:0])
    assert empty["score"].isna().all() and len(empty) == 9
    with pytest.raises(ValueError, match="«typo» нет ни в эталоне, ни в текущих данных"):
        drift.column_drift(reference, current, columns=["distance_km", "typo"])


def test_dataset_drift_decides_on_the_tested_columns_only(
    orders_pair: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = orders_pair
    winter = generator.generate_orders(3000, seed=3, conditions=WINTER)
    dead_sensor = winter.assign(distance_km=np.nan).drop(columns="district")
    result = drift.dataset_drift(reference, dead_sensor, correction="holm")
    table = result.table.set_index("column")
    assert result.untested == ["distance_km", "district"]
    tested = table.drop(index=result.untested)
    expected = drift.adjust_pvalues(tested["score"].to_numpy(), "holm")
    np.testing.assert_allclose(tested["adjusted_p"], expected)
    assert table.loc[result.untested, "adjusted_p"].isna().all()
    assert result.drift_detected and table.loc["temperature_c", "drifted"]
    assert result.drifted_share == pytest.approx(result.n_drifted / 7)
    assert result.to_dict()["untested"] == ["distance_km", "district"]
    nothing = drift.dataset_drift(reference, current.iloc[:0])
    assert not nothing.drift_detected and nothing.drifted_share == 0.0
    assert len(nothing.untested) == 9


def false_alarm_limit(trials: int, alpha: float) -> int:
    """Most false alarms a procedure with rate <= alpha shows, but for a 1-in-1000 fluke."""
    return int(stats.binom.ppf(0.999, trials, alpha))


def test_false_alarm_rate_without_drift_needs_a_correction() -> None:
    """200 pairs of samples from one process: Holm/Bonferroni keep the rate <= alpha."""
    seeds, alpha = 200, 0.05
    alarms = dict.fromkeys(drift.CORRECTIONS, 0)
    for seed in range(seeds):
        reference = generator.generate_orders(1000, seed=10_000 + seed)
        current = generator.generate_orders(1000, seed=20_000 + seed)
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
        reference = generator.generate_orders(1000, seed=100 + seed)
        current = generator.generate_orders(1000, seed=200 + seed, conditions=WINTER)
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
    reference = generator.generate_orders(10_500, seed=1)
    current = generator.generate_orders(2000, seed=2, conditions=WINTER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the wrapper must not let any warning out
        evidently = drift.evidently_drift(
            reference, current, method="ks", cat_method="chisquare", threshold=0.05, save_html=False
        )
    ours = drift.column_drift(reference, current, columns=NUMERIC_FEATURES, method="ks", alpha=0.05)
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
    reference = generator.generate_orders(1500, seed=3)
    current = generator.generate_orders(1500, seed=4)
    result = drift.evidently_drift(reference, current)
    html = Path(result.attrs["html_path"])
    assert html.is_file() and html.stat().st_size > 0
    assert html.is_relative_to(work_home / "reports")
    assert result["column"].tolist() == NUMERIC_FEATURES + CATEGORICAL_FEATURES
    # More than 1000 rows and no method given: Evidently picks distances, threshold 0.1.
    assert (result["threshold"] == 0.1).all()
    assert (result["drifted"] == (result["score"] >= 0.1)).all()


@pytest.mark.slow
def test_evidently_reports_missing_and_empty_columns_like_column_drift() -> None:
    reference = generator.generate_orders(800, seed=5)
    current = generator.generate_orders(800, seed=6).drop(columns="weather")
    current["temperature_c"] = np.nan
    evidently = drift.evidently_drift(reference, current, save_html=False).set_index("column")
    ours = drift.column_drift(reference, current).set_index("column")
    assert evidently.index.tolist() == ours.index.tolist()
    for column in ("weather", "temperature_c"):
        assert np.isnan(evidently.loc[column, "score"]) and not evidently.loc[column, "drifted"]
        assert evidently.loc[column, "note"] == ours.loc[column, "note"] != ""
    assert np.isfinite(evidently.drop(index=["weather", "temperature_c"])["score"]).all()
