"""Page-Hinkley: streaming == vectorised, detects an abrupt rise fast, rarely false-alarms."""

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom

from mlops_course.monitoring import online_drift
from mlops_course.monitoring.online_drift import (
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


def streaming_alarms(values: np.ndarray, delta: float, threshold: float) -> list[int]:
    detector = PageHinkley(delta, threshold)
    return [i for i, value in enumerate(values) if detector.update(value)]


@pytest.mark.parametrize("kind", ["bernoulli", "continuous"])
def test_vectorised_alarms_equal_the_streaming_test_with_many_alarms(kind):
    """A low threshold: hundreds of restarts, each must happen where the stream restarts."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        if kind == "bernoulli":
            values = (rng.random(20_000) < 0.3).astype(float)
        else:  # a wandering mean: alarms at irregular gaps
            values = rng.normal(size=20_000).cumsum() * 0.01 + rng.normal(size=20_000)
        streaming = streaming_alarms(values, 0.005, 3.0)
        assert len(streaming) > 100
        assert streaming == page_hinkley_alarms(values, 0.005, 3.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_is_refused_with_its_position(bad):
    """One missing label must not switch the test off for good (NaN poisons the mean)."""
    values = bernoulli_stream(0, 2000, 5000)
    values[10] = bad
    with pytest.raises(ValueError, match="позици.* 10"):
        page_hinkley_alarms(values, DELTA, THRESHOLD)
    detector = PageHinkley(DELTA, THRESHOLD)
    for value in values[:10]:
        detector.update(value)
    with pytest.raises(ValueError, match="11"):  # the 11th item since the (re)start
        detector.update(bad)
    assert detector.n == 10  # the bad item was not counted


def call_promptly(function: Callable[..., Any], *args: Any, seconds: float = 10.0) -> Any:
    """Call ``function`` in a thread: fail (instead of hanging) if it does not return."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except Exception as error:  # re-raised below, in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__}{args} did not return in {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize(
    ("p", "delta"), [(0.999, 0.005), (0.995, 0.005), (1.0, 0.01), (1.5, 0.01), (-0.1, 0.01)]
)
def test_lundberg_exponent_rejects_p_plus_delta_outside_0_1(p, delta):
    with pytest.raises(ValueError, match=r"p \+ delta < 1"):
        call_promptly(lundberg_exponent, p, delta)
    with pytest.raises(ValueError, match=r"p \+ delta < 1"):
        call_promptly(false_alarm_bound, p, delta, THRESHOLD, 1000)


@pytest.mark.parametrize("delta", [0.0, -0.01])
def test_lundberg_exponent_needs_a_positive_delta(delta):
    with pytest.raises(ValueError, match="delta > 0"):
        call_promptly(lundberg_exponent, P_BEFORE, delta)


def test_an_error_free_stream_never_alarms():
    """p = 0: the walk only goes down, theta is infinite and the bound is 0."""
    assert call_promptly(lundberg_exponent, 0.0, DELTA) == np.inf
    assert call_promptly(false_alarm_bound, 0.0, DELTA, THRESHOLD, 10_000) == 0.0
    assert page_hinkley_alarms(np.zeros(10_000), DELTA, 1e-9) == []
    with pytest.raises(ValueError, match="threshold > 0"):
        call_promptly(false_alarm_bound, P_BEFORE, DELTA, 0.0, 1000)


def test_lundberg_exponent_near_the_upper_end_of_the_range():
    p, delta = 0.98, 0.01  # p + delta < 1, but barely
    theta = call_promptly(lundberg_exponent, p, delta)
    mgf = p * np.exp(theta * (1 - p - delta)) + (1 - p) * np.exp(-theta * (p + delta))
    assert theta > 0 and mgf == pytest.approx(1.0, abs=1e-9)


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


def test_simulate_detection_counts_false_alarms_over_the_whole_calm_stream():
    """Its false-alarm rate estimates the same probability as alarms on independent calm
    streams of the same length: two binomial estimates, compared within 4 sigma."""
    n_before, n_after, n_seeds, threshold = 2000, 2000, 200, 20.0  # P(alarm) near 0.5
    rate, _ = simulate_detection(P_BEFORE, 0.15, n_before, n_after, DELTA, threshold, n_seeds)
    independent = np.mean(
        [
            bool(
                page_hinkley_alarms(
                    bernoulli_stream(5000 + s, n_before + n_after), DELTA, threshold
                )
            )
            for s in range(n_seeds)
        ]
    )
    p = (rate + independent) / 2
    assert abs(rate - independent) <= 4 * np.sqrt(2 * p * (1 - p) / n_seeds) + 1 / n_seeds


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


def fake_delays(monkeypatch, delays) -> None:
    """Let ``threshold_tradeoff`` see these delays (in items) for every threshold."""
    monkeypatch.setattr(
        online_drift, "simulate_detection", lambda *args: (0.0, np.array(delays, dtype=float))
    )


def test_threshold_tradeoff_90_percent_delay_is_the_upper_tail(monkeypatch):
    fake_delays(monkeypatch, np.arange(1, 11) * 100)  # 1..10 weeks of 100 items
    row = threshold_tradeoff([50], 0.25, 0.15, 1000, 1000, items_per_week=100).iloc[0]
    assert row["медианная задержка, нед."] == pytest.approx(5.5)
    assert row["задержка 90%, нед."] == pytest.approx(10.0)


def test_threshold_tradeoff_90_percent_delay_is_never_when_drift_is_often_missed(monkeypatch):
    fake_delays(monkeypatch, [100] * 8 + [np.inf] * 2)  # 2 streams of 10 never alarm
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" from inf - inf
        row = threshold_tradeoff([50], 0.25, 0.15, 1000, 1000, items_per_week=100).iloc[0]
    assert row["медианная задержка, нед."] == 1.0
    assert row["задержка 90%, нед."] == np.inf
