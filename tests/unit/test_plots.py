"""Plot helpers: they draw what they are given (lines, bars, labels), on the Agg backend."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from mlops_course.classroom.plots import (  # noqa: E402
    alarm_rate_bars,
    compare_distributions,
    control_chart,
    late_share_by,
    quality_over_time,
    strategy_costs,
)
from mlops_course.model.evaluate import CostTable  # noqa: E402
from mlops_course.model.retraining import (
    STRATEGY_NAMES,  # noqa: E402
    StrategyResult,  # noqa: E402
)


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def test_alarm_rate_bars_colors_only_bars_above_the_band(ax):
    rates = pd.Series({"без поправки": 0.30, "Бонферрони": 0.04, "Холм": 0.05})
    alarm_rate_bars(ax, rates, alpha=0.05, n_trials=100)
    bars = ax.patches[: len(rates)]
    assert [b.get_height() for b in bars] == pytest.approx(rates.to_list())
    assert [b.get_facecolor() for b in bars] == [
        to_rgba("tab:red"),
        to_rgba("tab:green"),
        to_rgba("tab:green"),
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(rates.index)
    assert ax.get_legend() is not None


def test_alarm_rate_bars_keeps_bars_inside_the_band_green(ax):
    # alpha ± 2 standard errors for 100 trials: 0.05 ± 0.044
    rates = pd.Series({"чуть выше α": 0.07, "выше полосы": 0.10})
    alarm_rate_bars(ax, rates, alpha=0.05, n_trials=100)
    bars = ax.patches[: len(rates)]
    assert [b.get_facecolor() for b in bars] == [to_rgba("tab:green"), to_rgba("tab:red")]


def test_late_share_by_bins_plots_one_point_per_interval(ax):
    rng = np.random.default_rng(0)
    distance = rng.uniform(0.1, 12, 4000)
    frame = pd.DataFrame({"distance_km": distance, "is_late": distance > 5})
    bins = [0, 1, 2, 3, 4, 6, 9, 30]
    late_share_by(ax, {"до": frame, "после": frame.assign(is_late=True)}, "distance_km", bins)
    before, after = ax.get_lines()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # pd.cut intervals are closed on the right; the labels say so.
    assert labels == ["[0, 1]", "(1, 2]", "(2, 3]", "(3, 4]", "(4, 6]", "(6, 9]", "(9, 30]"]
    # orders over 5 km are late: none below 4 km, all above 6 km
    assert before.get_ydata()[:4].tolist() == [0, 0, 0, 0]
    assert before.get_ydata()[5:].tolist() == [1, 1]
    assert after.get_ydata().tolist() == [1] * 7
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["до", "после"]


def test_late_share_by_bins_keep_the_first_edge_and_label_what_they_count(ax):
    # Loads 0 and 1 fall in [0, 1], 2 in (1, 2], 3 in (2, 5]; 9 is outside every bin.
    frame = pd.DataFrame({"courier_load": [0, 0, 1, 2, 3, 9], "is_late": [0, 0, 1, 1, 0, 1]})
    late_share_by(ax, {"все": frame}, "courier_load", bins=[0, 1, 2, 5])
    (line,) = ax.get_lines()
    assert line.get_xdata().tolist() == [0, 1, 2]
    assert line.get_ydata().tolist() == pytest.approx([1 / 3, 1, 0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["[0, 1]", "(1, 2]", "(2, 5]"]


def test_late_share_by_two_edges_is_one_interval(ax):
    frame = pd.DataFrame({"distance_km": [0.0, 10.0, 30.0], "is_late": [0, 1, 1]})
    late_share_by(ax, {"все": frame}, "distance_km", bins=[0, 30])
    (line,) = ax.get_lines()
    assert line.get_ydata().tolist() == pytest.approx([2 / 3])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["[0, 30]"]


def test_compare_distributions_names_numbers_sent_as_strings(ax):
    reference = pd.Series(np.arange(100.0), name="order_value")
    as_strings = reference.astype(str)
    with pytest.raises(TypeError, match="строками"):
        compare_distributions(ax, reference, as_strings, "Сумма заказа")


def test_late_share_by_values_clips_the_top(ax):
    frame = pd.DataFrame({"courier_load": [1, 2, 6, 7, 9], "is_late": [0, 0, 1, 1, 0]})
    late_share_by(ax, {"все": frame}, "courier_load", upper=6)
    (line,) = ax.get_lines()
    assert line.get_xdata().tolist() == [1, 2, 6]
    assert line.get_ydata().tolist() == pytest.approx([0, 0, 2 / 3])


def test_strategy_costs_one_smoothed_line_per_strategy_and_retrain_marks(ax):
    weekly = pd.DataFrame({"week": [4, 5, 6, 7], "cost_per_order": [1.0, 3.0, 5.0, 7.0]})
    results = {
        "never": StrategyResult("never", weekly, []),
        "triggered": StrategyResult("triggered", weekly * 1.0, [5, 7]),
    }
    strategy_costs(ax, results, {"смена": 5}, smooth_weeks=2)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # the event and the retrains are named once each in the legend, not on the plot
    assert legend == [
        STRATEGY_NAMES["never"],
        STRATEGY_NAMES["triggered"],
        "смена (неделя 5)",
        f"переобучение «{STRATEGY_NAMES['triggered']}»",
    ]
    assert len(ax.texts) == 0
    curve = ax.get_lines()[0]
    assert curve.get_ydata().tolist() == pytest.approx([1.0, 2.0, 4.0, 6.0])
    # 2 curves + 1 event line + 2 retrain marks
    assert len(ax.get_lines()) == 5
    assert "2 нед." in ax.get_ylabel()


def test_strategy_costs_without_the_marked_strategy_draws_no_marks(ax):
    weekly = pd.DataFrame({"week": [4, 5, 6], "cost_per_order": [1.0, 2.0, 3.0]})
    results = {
        "never": StrategyResult("never", weekly, []),
        "periodic": StrategyResult("periodic", weekly, [5]),
    }
    strategy_costs(ax, results)  # marks the "triggered" strategy by default: absent here
    assert len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        STRATEGY_NAMES["never"],
        STRATEGY_NAMES["periodic"],
    ]
    strategy_costs(ax, results, mark_retrains="periodic")
    assert len(ax.get_lines()) == 2 + 2 + 1  # the periodic retrain at week 5 is marked


def test_quality_over_time_names_events_in_the_legend_without_text_on_the_plot(ax):
    curves = {"доля ошибок": pd.Series([0.2, 0.3], index=[4, 5])}
    quality_over_time(ax, curves, {"смена": 5})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "доля ошибок",
        "смена (неделя 5)",
    ]
    assert len(ax.texts) == 0


def test_compare_distributions_uses_the_given_axis_label(ax):
    reference = pd.Series(np.arange(100.0), name="temperature_c")
    compare_distributions(ax, reference, reference + 5, "Зима", xlabel="температура, °C")
    assert ax.get_xlabel() == "температура, °C"
    compare_distributions(ax, reference, reference + 5, "Зима")
    assert ax.get_xlabel() == "temperature_c"


def test_strategy_costs_draws_the_policies_without_a_model_at_each_weeks_late_rate(ax):
    weekly = pd.DataFrame({"week": [4, 5], "cost_per_order": [40.0, 50.0], "late_rate": [0.1, 0.2]})
    costs = CostTable()
    strategy_costs(ax, {"never": StrategyResult("never", weekly, [])}, smooth_weeks=1, costs=costs)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["без тревог"].get_ydata().tolist() == pytest.approx([40.0, 80.0])
    flag_all = [costs.constant_costs(rate)["flag_all"] for rate in (0.1, 0.2)]
    assert lines["тревога на каждый заказ"].get_ydata().tolist() == pytest.approx(flag_all)


def test_control_chart_marks_only_the_weeks_outside_the_band(ax):
    series = pd.Series([0.10, 0.12, 0.30, 0.11], index=[4, 5, 6, 7])
    control_chart(ax, series, baseline=0.11, limit=0.05, events={"смена": 6}, ylabel="доля")
    (outside,) = [line for line in ax.get_lines() if line.get_label() == "за границей"]
    assert outside.get_xdata().tolist() == [6]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["±3σ", "базовый уровень 0.110"]
    assert "смена (неделя 6)" in legend
    (band,) = ax.patches
    assert band.get_y() == pytest.approx(0.06)
