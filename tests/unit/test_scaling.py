"""The teaching-side measuring helpers of notebook 07 (behaviour only, no timings)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mlops_course.classroom import scaling  # noqa: E402
from mlops_course.scenario import generator  # noqa: E402


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 2.0])
def test_fit_exponent_recovers_the_power(k: float) -> None:
    sizes = np.array([10, 100, 1000, 10_000])
    assert scaling.fit_exponent(sizes, 3e-4 * sizes**k) == pytest.approx(k, abs=1e-9)


def test_fit_exponent_needs_two_sizes() -> None:
    with pytest.raises(ValueError):
        scaling.fit_exponent([10, 10], [1.0, 2.0])


def test_median_seconds_calls_repeat_times() -> None:
    calls = []
    seconds = scaling.median_seconds(lambda: calls.append(1), repeat=5)
    assert len(calls) == 5 and seconds >= 0
    with pytest.raises(ValueError):
        scaling.median_seconds(lambda: None, repeat=0)


def test_scaling_table_is_indexed_by_size() -> None:
    seen = []
    table = scaling.scaling_table(seen.append, [1, 10, 100], repeat=2)
    assert list(table.index) == [1, 10, 100] and seen == [1, 1, 10, 10, 100, 100]


def test_loglog_fits_only_the_chosen_range_and_plots_everything() -> None:
    sizes = np.array([1, 10, 100, 1000, 10_000])
    table = pd.Series(np.where(sizes < 100, 1e-3, 1e-5 * sizes), index=sizes)
    fig, ax = plt.subplots()
    k = scaling.loglog(ax, table, "x", fit_from=100)
    assert k == pytest.approx(1.0)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines[0].get_xdata()) == len(sizes)  # every point is drawn
    assert scaling.loglog(ax, table, "y", fit_to=10) == pytest.approx(0.0, abs=1e-9)
    plt.close(fig)


def test_amdahl_both_ways() -> None:
    assert scaling.amdahl_speedup(1.0, 2) == pytest.approx(2.0)
    assert scaling.amdahl_speedup(0.0, 8) == pytest.approx(1.0)
    assert scaling.parallel_share(1.6, 2) == pytest.approx(0.75)
    assert scaling.amdahl_speedup(0.75, 2) == pytest.approx(1.6)
    assert scaling.amdahl_ceiling(0.75) == pytest.approx(4.0)
    assert math.isinf(scaling.amdahl_ceiling(1.0))
    # noise: a speed-up below 1 or above the worker count is clipped, not extrapolated
    assert scaling.parallel_share(0.7, 2) == 0.0 and scaling.parallel_share(2.3, 2) == 1.0
    with pytest.raises(ValueError):
        scaling.parallel_share(1.5, 1)


@pytest.mark.parametrize("truth", [generator.BASE_TRUTH, generator.ROUTING_CHANGE])
def test_row_loop_gives_the_vectorised_numbers(truth) -> None:
    orders = generator.generate_orders(2000, 3)
    orders.loc[orders.index[:5], "district"] = "new_district"  # the unknown-district effect
    expected = generator.late_logit(orders, truth)
    np.testing.assert_allclose(scaling.late_logit_row_loop(orders, truth), expected, rtol=1e-12)
