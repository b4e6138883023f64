"""A/B statistics: sample sizes against statsmodels, decisions, the peeking problem and its
remedies against exact crossing probabilities. Tolerances of simulated rates are binomial
standard errors computed from the number of simulations, never copied results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)

from mlops_course.model.evaluate import CostTable, business_cost
from mlops_course.monitoring import ab_test as ab

GRID = [  # (p_control, p_treatment, alpha, power): small and large shares, both directions
    (0.10, 0.07, 0.05, 0.8),
    (0.07, 0.10, 0.05, 0.8),
    (0.15, 0.12, 0.05, 0.9),
    (0.04, 0.046, 0.01, 0.8),
    (0.50, 0.45, 0.10, 0.8),
    (0.30, 0.33, 0.05, 0.95),
    (0.0998, 0.0424, 0.05, 0.8),
    (0.80, 0.85, 0.05, 0.8),
]


def binomial_se(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n)


# --- Sample size ----------------------------------------------------------------------


@pytest.mark.parametrize(("p_c", "p_t", "alpha", "power"), GRID)
def test_arcsine_sample_size_equals_statsmodels_normal_ind_power(p_c, p_t, alpha, power):
    effect = abs(proportion_effectsize(p_t, p_c))
    assert ab.cohens_h(p_c, p_t) == pytest.approx(proportion_effectsize(p_t, p_c), abs=1e-15)
    expected = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power)
    # statsmodels also counts the far tail (a rejection in the wrong direction, < 1e-5 of
    # power here), so its n is smaller by a relative ~1e-6: the same whole number of orders.
    assert ab.sample_size_two_proportions(p_c, p_t, alpha, power, ab.ARCSINE) == math.ceil(expected)


@pytest.mark.parametrize(("p_c", "p_t", "alpha", "power"), GRID)
def test_pooled_sample_size_equals_statsmodels_one_tail_formula(p_c, p_t, alpha, power):
    expected = samplesize_proportions_2indep_onetail(p_t - p_c, p_c, power, alpha=alpha)
    assert ab.sample_size_two_proportions(p_c, p_t, alpha, power) == math.ceil(expected)
    assert ab.sample_size_two_proportions(p_t, p_c, alpha, power) == math.ceil(expected)


def pooled_vs_arcsine_leading_term(p_c: float, p_t: float, alpha: float, power: float) -> float:
    """(n_pooled − n_arcsine) / n_arcsine to second order in Δ = p_t − p_c.

    With p̄ = (p_c + p_t)/2, v = p̄(1 − p̄), u = 1 − 2p̄ and Z = z_{1-α/2} + z_power:
    h² = (Δ²/v)·(1 + Δ²·(3u²/(4v²) + 1/v)/12) (Taylor of 2·arcsin√p around p̄), and the
    pooled formula's alternative variance is 2v − Δ²/2, so
    relative difference ≈ Δ²·(u²/(16v²) + (1/12 − z_power/(4Z))/v).
    """
    delta, mean = p_t - p_c, (p_c + p_t) / 2
    v, u = mean * (1 - mean), 1 - 2 * mean
    z_power = stats.norm.ppf(power)
    z_sum = stats.norm.isf(alpha / 2) + z_power
    return delta**2 * (u**2 / (16 * v**2) + (1 / 12 - z_power / (4 * z_sum)) / v)


@pytest.mark.parametrize("p_c", [0.03, 0.1, 0.2, 0.5, 0.7])
@pytest.mark.parametrize("relative_effect", [-0.3, -0.1, 0.1, 0.3])
def test_pooled_and_arcsine_differ_by_the_second_order_term(p_c, relative_effect):
    p_t = p_c * (1 + relative_effect)
    arcsine = ab.sample_size_two_proportions(p_c, p_t, method=ab.ARCSINE)
    pooled = ab.sample_size_two_proportions(p_c, p_t)
    leading = pooled_vs_arcsine_leading_term(p_c, p_t, 0.05, 0.8)
    # Higher-order terms (Δ⁴) and rounding up (±1 order) are all that is left.
    assert abs((pooled - arcsine) / arcsine - leading) <= 0.3 * abs(leading) + 1.5 / arcsine


def test_the_difference_vanishes_as_the_effect_shrinks():
    def relative_gap(p_t: float) -> float:
        arcsine = ab.sample_size_two_proportions(0.1, p_t, method=ab.ARCSINE)
        return abs(ab.sample_size_two_proportions(0.1, p_t) - arcsine) / arcsine

    assert relative_gap(0.097) < relative_gap(0.07) / 20  # Δ ten times smaller


@pytest.mark.parametrize("method", [ab.POOLED, ab.ARCSINE])
def test_the_planned_sample_gives_the_promised_power(method):
    """Simulated z-tests at the planned n reject about 80 % of the time; at n/2 far less."""
    n = ab.sample_size_two_proportions(0.10, 0.07, method=method)
    n_sims = 20_000
    rng = np.random.default_rng(3)
    critical = stats.norm.isf(0.025)
    power = np.mean(np.abs(ab.simulate_z_paths(0.10, 0.07, n, 1, n_sims, rng)) >= critical)
    assert abs(power - 0.8) < 4 * binomial_se(0.8, n_sims)
    half = np.mean(np.abs(ab.simulate_z_paths(0.10, 0.07, n // 2, 1, n_sims, rng)) >= critical)
    assert half < power - 0.2


@pytest.mark.parametrize(("std", "delta", "alpha", "power"), [
    (100.0, 10.0, 0.05, 0.8), (95.0, -2.0, 0.05, 0.9), (123.0, 11.2, 0.01, 0.8),
])  # fmt: skip
def test_mean_sample_size_equals_statsmodels(std, delta, alpha, power):
    effect = abs(delta) / std
    expected = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power)
    assert ab.sample_size_mean_difference(std, delta, alpha, power) == math.ceil(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p_control": 0.0}, "строго между 0 и 1"),
        ({"p_control": 1.0}, "строго между 0 и 1"),
        ({"p_treatment": -0.1}, "строго между 0 и 1"),
        ({"p_treatment": 1.5}, "строго между 0 и 1"),
        ({"p_treatment": math.nan}, "строго между 0 и 1"),
        ({"p_treatment": 0.1}, "равны"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"power": 0.0}, "power"),
        ({"power": 1.2}, "power"),
        ({"method": "exact"}, "method"),
    ],
)
def test_sample_size_refuses_bad_arguments(kwargs, message):
    arguments = {"p_control": 0.1, "p_treatment": 0.07, **kwargs}
    with pytest.raises(ValueError, match=message):
        ab.sample_size_two_proportions(**arguments)


@pytest.mark.parametrize(("std", "delta"), [(0.0, 1.0), (-5.0, 1.0), (10.0, 0.0)])
def test_mean_sample_size_refuses_bad_arguments(std, delta):
    with pytest.raises(ValueError, match="должно быть"):
        ab.sample_size_mean_difference(std, delta)


# --- Decisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts", [(100, 1000, 60, 1000), (60, 1000, 100, 1000), (31, 400, 95, 1200), (5, 50, 5, 50)]
)
def test_ztest_equals_statsmodels_proportions_ztest(counts):
    x_c, n_c, x_t, n_t = counts
    z, p_value = ab.two_proportion_ztest(x_c, n_c, x_t, n_t)
    expected_z, expected_p = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert z == pytest.approx(expected_z, rel=1e-12, abs=1e-12)
    assert p_value == pytest.approx(expected_p, rel=1e-12, abs=1e-12)


def test_ztest_with_nothing_to_compare_and_bad_counts():
    assert ab.two_proportion_ztest(0, 100, 0, 50) == (0.0, 1.0)  # statsmodels gives NaN
    with pytest.raises(ValueError, match="успехов"):
        ab.two_proportion_ztest(11, 10, 0, 10)
    with pytest.raises(ValueError, match="успехов"):
        ab.two_proportion_ztest(0, 0, 0, 10)


def test_proportion_decision_in_every_direction():
    better = ab.proportion_decision(100, 1000, 60, 1000)
    assert (better.decision, better.reason) == (ab.ACCEPT, "претендент значимо лучше")
    low, high = confint_proportions_2indep(60, 1000, 100, 1000, method="wald")
    assert (better.ci_low, better.ci_high) == pytest.approx((low, high), rel=1e-12)
    worse = ab.proportion_decision(60, 1000, 100, 1000)
    assert worse.decision == ab.KEEP and "хуже" in worse.reason
    same = ab.proportion_decision(100, 1000, 98, 1000)
    assert same.decision == ab.KEEP and "не значима" in same.reason
    # Higher is better (say, the share of alarms that were late): the same counts flip.
    assert ab.proportion_decision(60, 1000, 100, 1000, lower_is_better=False).decision == ab.ACCEPT
    early = ab.proportion_decision(100, 1000, 60, 1000, planned_n=1356)
    assert early.decision == ab.TOO_LITTLE and "1356" in early.reason
    assert early.p_value == better.p_value  # the estimate is reported, the decision waits


def prices_sample(probabilities, n: int, rng: np.random.Generator) -> np.ndarray:
    """₽ per order: missed late, caught late, false alarm, nothing — with given shares."""
    costs = CostTable()
    prices = [costs.missed_late, costs.caught_late, costs.false_alarm, 0.0]
    return rng.choice(prices, size=n, p=probabilities)


CHAMPION_SHARES = [0.10, 0.08, 0.12, 0.70]  # like a stale champion after a drift
CHALLENGER_SHARES = [0.04, 0.14, 0.16, 0.66]  # fewer misses, more alarms


def welch_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    half = stats.norm.isf((1 - level) / 2) * se
    return b.mean() - a.mean() - half, b.mean() - a.mean() + half


def test_bootstrap_interval_agrees_with_normal_theory_on_large_samples():
    rng = np.random.default_rng(5)
    champion = prices_sample(CHAMPION_SHARES, 20_000, rng)
    challenger = prices_sample(CHALLENGER_SHARES, 20_000, rng)
    low, high = ab.bootstrap_mean_difference(champion, challenger, n_boot=2000, seed=1)
    normal_low, normal_high = welch_interval(champion, challenger)
    se = (normal_high - normal_low) / (2 * stats.norm.isf(0.025))
    # Monte Carlo error of a 2.5 % quantile from 2000 replicates is about 0.06 se.
    assert abs(low - normal_low) < 0.25 * se and abs(high - normal_high) < 0.25 * se


def test_bootstrap_interval_covers_the_true_difference_at_its_level():
    rng = np.random.default_rng(11)
    prices = np.array([400.0, 180.0, 60.0, 0.0])
    true_difference = prices @ CHALLENGER_SHARES - prices @ CHAMPION_SHARES
    n_experiments = 300
    covered = 0
    for seed in range(n_experiments):
        champion = prices_sample(CHAMPION_SHARES, 300, rng)
        challenger = prices_sample(CHALLENGER_SHARES, 300, rng)
        low, high = ab.bootstrap_mean_difference(champion, challenger, n_boot=1000, seed=seed)
        covered += low <= true_difference <= high
    assert abs(covered / n_experiments - 0.95) < 4 * binomial_se(0.95, n_experiments)


def test_bootstrap_is_seeded_and_chunks_many_distinct_values(monkeypatch):
    values = np.random.default_rng(2).normal(100.0, 30.0, size=500)  # 500 distinct values
    first = ab.bootstrap_means(values, 2000, np.random.default_rng(0))
    np.testing.assert_array_equal(first, ab.bootstrap_means(values, 2000, np.random.default_rng(0)))
    assert not np.array_equal(first, ab.bootstrap_means(values, 2000, np.random.default_rng(1)))
    monkeypatch.setattr(ab, "BOOTSTRAP_CHUNK", 500 * 7)  # 7 replicates at a time
    chunked = ab.bootstrap_means(values, 2000, np.random.default_rng(0))
    assert chunked.shape == (2000,)
    # Resampled means spread like the sample's std / √n (the sd of 2000 replicates is
    # itself known to ±1/√(2·2000) ≈ 1.6 %; allow 5 of those) and centre on its mean.
    expected_sd = values.std() / math.sqrt(values.size)
    for replicates in (first, chunked):
        assert abs(replicates.std() / expected_sd - 1) < 0.08
        assert abs(replicates.mean() - values.mean()) < 5 * expected_sd / math.sqrt(2000)


def test_cost_decision_in_every_direction():
    rng = np.random.default_rng(8)
    champion = prices_sample(CHAMPION_SHARES, 5000, rng)
    challenger = prices_sample(CHALLENGER_SHARES, 5000, rng)
    cheaper = ab.cost_decision(champion, challenger)
    assert cheaper.decision == ab.ACCEPT and cheaper.ci_high < 0 < cheaper.champion
    assert cheaper.difference == pytest.approx(challenger.mean() - champion.mean())
    assert math.isnan(cheaper.p_value) and cheaper.ci_low < cheaper.difference < cheaper.ci_high
    dearer = ab.cost_decision(challenger, champion)
    assert dearer.decision == ab.KEEP and "хуже" in dearer.reason
    same = ab.cost_decision(champion, champion.copy())
    assert same.decision == ab.KEEP and "не значима" in same.reason
    revenue = ab.cost_decision(challenger, champion, lower_is_better=False, metric="₽ выручки")
    assert revenue.decision == ab.ACCEPT
    early = ab.cost_decision(champion, challenger, planned_n=6000)
    assert early.decision == ab.TOO_LITTLE and "6000" in early.reason
    assert ab.cost_decision(champion, challenger, seed=3) == ab.cost_decision(
        champion, challenger, seed=3
    )
    with pytest.raises(ValueError, match="два заказа"):
        ab.cost_decision(champion[:1], challenger)


def test_bootstrap_on_a_share_agrees_with_the_z_test():
    """On 0/1 outcomes the mean is a share: both decisions and intervals must agree."""
    rng = np.random.default_rng(4)
    champion, challenger = rng.random(4000) < 0.10, rng.random(4000) < 0.075
    by_share = ab.proportion_decision(champion.sum(), 4000, challenger.sum(), 4000)
    by_bootstrap = ab.cost_decision(champion, challenger, n_boot=4000)
    assert by_share.decision == by_bootstrap.decision
    se = (by_share.ci_high - by_share.ci_low) / (2 * stats.norm.isf(0.025))
    assert abs(by_share.ci_low - by_bootstrap.ci_low) < 0.25 * se
    assert abs(by_share.ci_high - by_bootstrap.ci_high) < 0.25 * se


def test_order_costs_sum_to_the_business_cost():
    rng = np.random.default_rng(0)
    y_true, alarms = rng.random(3000) < 0.2, rng.random(3000) < 0.25
    costs = CostTable(late_damage=500.0, action=70.0, prevented=0.6)
    priced = ab.order_costs(y_true, alarms, costs)
    assert priced.sum() == pytest.approx(business_cost(y_true, alarms, costs))
    assert set(np.unique(priced)) == {0.0, 70.0, 270.0, 500.0}


def test_summary_names_the_arms_and_the_decision():
    line = ab.proportion_decision(100, 1000, 60, 1000, metric="доля пропущенных").summary()
    assert line.startswith("доля пропущенных: чемпион 0.1, претендент 0.06")
    assert "p = " in line and line.endswith(f"{ab.ACCEPT} (претендент значимо лучше)")
    assert "p = " not in ab.cost_decision([0.0, 60.0, 400.0], [0.0, 60.0, 60.0]).summary()


# --- Peeking --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def peeking():
    return ab.peeking_false_positive_rates()  # the defaults a notebook uses


N_SIMS = 10_000  # the default of peeking_false_positive_rates


def test_one_look_is_the_fixed_horizon_with_alpha_false_positives(peeking):
    one = peeking.set_index("looks").loc[1, "false_positive_rate"]
    assert abs(one - 0.05) < 4 * binomial_se(0.05, N_SIMS)


def test_more_looks_never_fewer_false_positives_and_many_looks_far_more(peeking):
    rates = peeking["false_positive_rate"].to_numpy()
    assert list(peeking["looks"]) == [1, 5, 10, 100]
    assert np.all(np.diff(rates) >= 0)
    errors = peeking["standard_error"].to_numpy()
    assert rates[-1] - rates[0] > 10 * (errors[-1] + errors[0])
    assert rates[1] - rates[0] > 4 * (errors[1] + errors[0])  # five looks already


@pytest.mark.parametrize("looks", [5, 10, 100])
def test_simulated_peeking_matches_the_exact_crossing_probability(peeking, looks):
    row = peeking.set_index("looks").loc[looks]
    exact = ab.crossing_probability(np.full(looks, stats.norm.isf(0.025)))
    assert abs(row["false_positive_rate"] - exact) < 4 * row["standard_error"]


def test_crossing_probability_against_closed_forms_and_scipy():
    for c in (1.96, 2.5):
        assert ab.crossing_probability(c) == pytest.approx(2 * stats.norm.sf(c), abs=1e-4)
    k = np.arange(1, 6)
    brownian = np.sqrt(np.minimum.outer(k, k) / np.maximum.outer(k, k))  # corr(Z_i, Z_j)
    for critical in (np.full(5, 1.96), 2.04 * np.sqrt(5 / k)):
        inside = stats.multivariate_normal(np.zeros(5), brownian, abseps=1e-5, releps=1e-5)
        expected = 1 - inside.cdf(critical, lower_limit=-critical, rng=np.random.default_rng(0))
        assert ab.crossing_probability(critical) == pytest.approx(expected, abs=2e-4)


def test_peeking_tables_are_deterministic_and_checked():
    small = {"n_per_arm": 2000, "looks": (1, 2, 4), "n_sims": 2000}
    first = ab.peeking_false_positive_rates(seed=1, **small)
    assert first.equals(ab.peeking_false_positive_rates(seed=1, **small))
    assert not first.equals(ab.peeking_false_positive_rates(seed=2, **small))
    with pytest.raises(ValueError, match="делить"):
        ab.peeking_false_positive_rates(looks=(1, 3, 10))
    with pytest.raises(ValueError, match="просмотров"):
        ab.simulate_z_paths(0.1, 0.1, 5, 10, 10, np.random.default_rng(0))


# --- Sequential designs ---------------------------------------------------------------


@pytest.mark.parametrize("shape", [ab.POCOCK, ab.OBRIEN_FLEMING])
@pytest.mark.parametrize("n_looks", [2, 5])
def test_calibrated_boundaries_cross_with_probability_alpha(shape, n_looks):
    boundary = ab.calibrate_boundary(n_looks, 0.05, shape)
    # The calibration's own Monte Carlo error: a 1 − α quantile of 100 000 paths moves the
    # crossing probability by about √(α(1 − α)/100 000) ≈ 0.0007.
    assert abs(ab.crossing_probability(boundary.critical_values) - 0.05) < 0.0025
    values = boundary.critical_values
    assert values.shape == (n_looks,) and values[-1] > stats.norm.isf(0.025)  # stricter
    if shape == ab.POCOCK:
        assert np.all(values == values[0])
    else:
        assert np.all(np.diff(values) < 0)  # strict early, near z_{1-α/2} at the end


def test_one_look_calibrates_to_the_fixed_horizon():
    one = ab.calibrate_boundary(1, 0.05)
    assert one.constant == pytest.approx(ab.Boundary.fixed(0.05).constant, abs=0.02)
    with pytest.raises(ValueError, match="Форма"):
        ab.calibrate_boundary(5, shape="haybittle")


@pytest.fixture(scope="module")
def designs():
    n = ab.sample_size_two_proportions(0.10, 0.07)
    return n, ab.compare_designs(0.10, 0.07, n, n_looks=5).set_index("looks", append=True)


def test_sequential_designs_bring_false_positives_back_to_alpha(designs):
    _, table = designs
    rates = table.reset_index("looks")["false_positive_rate"]
    tolerance = 4 * binomial_se(0.05, 10_000)
    fixed, naive, pocock, obf = rates.to_numpy()
    assert abs(fixed - 0.05) < tolerance and abs(pocock - 0.05) < tolerance
    assert abs(obf - 0.05) < tolerance
    assert naive > 0.05 + 4 * tolerance  # the same five looks, uncorrected


def test_sequential_designs_trade_power_for_earlier_stops(designs):
    n, table = designs
    table = table.reset_index("looks")
    fixed, naive, pocock, obf = table["power"].to_numpy()
    se = binomial_se(0.8, 10_000)
    assert abs(fixed - 0.8) < 4 * se  # the planned n delivers the planned power
    assert pocock < fixed - 8 * se  # a flat boundary pays for its early looks in power
    assert obf > pocock  # O'Brien-Fleming spends little α early and keeps most power
    assert naive >= pocock  # same paths, lower boundary: every Pocock stop is a naive one
    orders = table["mean_orders_per_arm"].to_numpy()
    assert orders[0] == n and np.all(orders[1:] < 0.9 * n)  # real effects stop early
