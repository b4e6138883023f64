"""Page-Hinkley: streaming == vectorised, detects an abrupt rise fast, rarely false-alarms."""

import numpy as np
import pytest
from scipy.stats import binom

from mlops_course.online_drift import (
    PageHinkley,
    false_alarm_bound,
    lundberg_exponent,
    page_hinkley_alarms,
    simulate_detection,
    threshold_tradeoff,
)

P_BEFORE, P_AFTER, DELTA, THRESHOLD = 0.25, 0.40, 0.01, 120.0


def bernoulli_stream(seed: int, n_before: int, n_after: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.r_[np.full(n_before, P_BEFORE), np.full(n_after, P_AFTER)]
    return (rng.random(p.size) < p).astype(float)


def test_vectorised_alarms_equal_the_streaming_test():
    for seed in range(5):
        values = bernoulli_stream(seed, 3000, 12000)
        detector = PageHinkley(DELTA, THRESHOLD)
        streaming = [i for i, value in enumerate(values) if detector.update(value)]
        assert streaming == page_hinkley_alarms(values, DELTA, THRESHOLD)
        assert streaming  # the rise is found at least once


def test_lundberg_exponent_solves_its_equation():
    theta = lundberg_exponent(P_BEFORE, DELTA)
    mgf = P_BEFORE * np.exp(theta * (1 - P_BEFORE - DELTA)) + (1 - P_BEFORE) * np.exp(
        -theta * (P_BEFORE + DELTA)
    )
    assert theta > 0
    assert mgf == pytest.approx(1.0, abs=1e-9)
    # small-drift approximation theta ~ 2 delta / variance
    assert theta == pytest.approx(2 * DELTA / (P_BEFORE * (1 - P_BEFORE)), rel=0.1)


def test_detects_an_abrupt_rise_within_a_bounded_delay():
    # Expected delay ~ threshold / (rise - delta) = 120 / 0.14 ~ 860 items; the running
    # mean also rises after the change, so allow 2.5x that.
    bound = 2.5 * THRESHOLD / (P_AFTER - P_BEFORE - DELTA)
    delays = []
    for seed in range(100):
        alarms = page_hinkley_alarms(bernoulli_stream(seed, 2000, 3000), DELTA, THRESHOLD)
        after = [a for a in alarms if a >= 2000]
        delays.append(after[0] - 2000 if after else np.inf)
    assert np.mean(np.array(delays) <= bound) >= 0.95


def test_few_false_alarms_on_a_stationary_stream():
    n, n_seeds = 5000, 300
    bound = false_alarm_bound(P_BEFORE, DELTA, THRESHOLD, n)
    assert bound < 0.05  # the chosen threshold is meant to be quiet
    false_alarms = sum(
        bool(page_hinkley_alarms(bernoulli_stream(1000 + s, n), DELTA, THRESHOLD))
        for s in range(n_seeds)
    )
    # Alarms ~ Binomial(n_seeds, <= bound): fail only above its 99.9% quantile.
    assert false_alarms <= binom.ppf(0.999, n_seeds, bound)


def test_a_lower_threshold_raises_more_false_alarms():
    values = [bernoulli_stream(2000 + s, 5000) for s in range(50)]
    low = sum(len(page_hinkley_alarms(v, DELTA, 10.0)) for v in values)
    high = sum(len(page_hinkley_alarms(v, DELTA, THRESHOLD)) for v in values)
    assert low > high


def test_simulate_detection_finds_a_big_rise_and_is_reproducible():
    args = dict(error_rate=0.25, rise=0.15, n_before=2000, n_after=3000, delta=DELTA)
    rate, delays = simulate_detection(**args, threshold=THRESHOLD, n_seeds=20, seed=1)
    assert 0.0 <= rate <= 1.0
    assert delays.shape == (20,)
    assert np.isfinite(delays).all()  # a rise of 0.15 is always found within 3000 items
    assert (delays >= 0).all()
    again = simulate_detection(**args, threshold=THRESHOLD, n_seeds=20, seed=1)
    assert again[0] == rate and np.array_equal(again[1], delays)


def test_simulate_detection_without_rise_never_detects_with_a_huge_threshold():
    rate, delays = simulate_detection(0.25, 0.0, 500, 500, DELTA, 1e6, n_seeds=5, seed=2)
    assert rate == 0.0
    assert np.isinf(delays).all()


def test_threshold_tradeoff_lower_threshold_alarms_more_and_detects_faster():
    table = threshold_tradeoff(
        [10, THRESHOLD], 0.25, 0.15, 3000, 3000, DELTA, n_seeds=30, seed=3, items_per_week=500
    )
    assert table["λ"].tolist() == [10, THRESHOLD]
    low, high = table.iloc[0], table.iloc[1]
    assert low["ложная тревога за поток"] > high["ложная тревога за поток"]
    assert low["медианная задержка, нед."] < high["медианная задержка, нед."]
    # delays are reported in weeks: the expected ~860 items are about 2 weeks of 500
    assert 0 < high["медианная задержка, нед."] < 2.5 * THRESHOLD / (0.15 - DELTA) / 500
