"""Tests of the evaluation metrics and the business cost of wrong predictions."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mlops_course.config import TARGET
from mlops_course.model.evaluate import (
    CostTable,
    best_threshold,
    business_cost,
    cost_by_threshold,
    evaluate_model,
    format_roubles,
    require_comparable,
    score_metrics,
    tune_threshold,
)
from mlops_course.scenario.generator import generate_orders, late_probability

REQUIRED_KEYS = {
    "roc_auc",
    "f1",
    "log_loss",
    "accuracy",
    "late_rate",
    "cost_total",
    "cost_per_order",
}


class ConstantModel:
    """Predicts the same probability of being late for every order."""

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        p = np.full(len(features), self.probability)
        return np.column_stack([1 - p, p])


class OracleModel:
    """Knows the true P(late | X) of the generator: perfectly calibrated."""

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        p = late_probability(features)
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_orders(20_000, seed=8)


def test_business_cost_prices_each_outcome():
    y_true = [1, 1, 0, 0, 0]
    y_pred = [1, 0, 1, 0, 0]  # one late order caught, one missed, one false alarm
    costs = CostTable(late_damage=400, action=60, prevented=0.75)

    assert (costs.caught_late, costs.missed_late, costs.false_alarm) == (160, 400, 60)
    assert business_cost(y_true, y_pred, costs) == 160 + 400 + 60
    # On-time orders without an alarm cost nothing; a caught late order still costs the
    # action and the damage it does not prevent.
    assert business_cost([0, 0], [0, 0], costs) == 0
    assert business_cost([1], [1], CostTable(action=50, prevented=1.0)) == 50


def test_prevented_share_must_be_a_share():
    with pytest.raises(ValueError, match="prevented"):
        CostTable(prevented=1.5)


def test_doubling_the_miss_cost_doubles_the_cost_of_never_raising_an_alarm(orders):
    never_late = ConstantModel(0.0)
    base = evaluate_model(never_late, orders, costs=CostTable(late_damage=400, action=60))
    doubled = evaluate_model(never_late, orders, costs=CostTable(late_damage=800, action=60))
    free_action = evaluate_model(never_late, orders, costs=CostTable(late_damage=400, action=0))

    n_late = int(orders[TARGET].sum())
    assert base["cost_total"] == 400 * n_late
    assert doubled["cost_total"] == 2 * base["cost_total"]
    assert free_action["cost_total"] == base["cost_total"]  # no alarms, no action paid
    assert base["cost_per_order"] == pytest.approx(400 * orders[TARGET].mean())
    flag_none = CostTable().constant_costs(orders[TARGET].mean())["flag_none"]
    assert base["cost_per_order"] == pytest.approx(flag_none)


def test_always_raising_an_alarm_pays_the_action_for_every_order(orders):
    costs = CostTable(late_damage=400, action=50, prevented=0.75)
    metrics = evaluate_model(ConstantModel(1.0), orders, costs=costs)

    n_late = int(orders[TARGET].sum())
    assert metrics["cost_total"] == pytest.approx(50 * len(orders) + 100 * n_late)
    assert metrics["predicted_late_rate"] == 1.0
    flag_all = costs.constant_costs(orders[TARGET].mean())["flag_all"]
    assert metrics["cost_per_order"] == pytest.approx(flag_all)


def test_metrics_are_plain_floats_ready_for_mlflow_and_dvc(orders):
    metrics = evaluate_model(OracleModel(), orders)

    assert set(metrics) >= REQUIRED_KEYS
    assert all(type(value) is float for value in metrics.values())
    assert json.loads(json.dumps(metrics)) == metrics
    assert metrics["late_rate"] == pytest.approx(orders[TARGET].mean())


def test_perfect_and_constant_scores_bound_the_metrics():
    y_true = np.array([0, 1, 0, 1, 1, 0])
    perfect = score_metrics(y_true, y_true.astype(float))
    constant = score_metrics(y_true, np.full(len(y_true), 0.5))

    assert perfect["roc_auc"] == 1.0 and perfect["f1"] == 1.0 and perfect["accuracy"] == 1.0
    # Even a perfect forecast pays for acting on the late orders (3 of them).
    assert perfect["cost_total"] == 3 * CostTable().caught_late and perfect["log_loss"] < 1e-6
    assert constant["roc_auc"] == 0.5
    assert constant["log_loss"] == pytest.approx(math.log(2))


def test_roc_auc_is_nan_when_only_one_class_is_present():
    metrics = score_metrics([0, 0, 0], [0.1, 0.2, 0.3])

    assert math.isnan(metrics["roc_auc"])
    assert metrics["accuracy"] == 1.0


def test_best_threshold_is_the_minimum_of_the_cost_curve(orders):
    costs = CostTable()
    curve = cost_by_threshold(OracleModel(), orders, costs)
    best = best_threshold(OracleModel(), orders, costs)

    best_cost = evaluate_model(OracleModel(), orders, threshold=best, costs=costs)["cost_total"]
    assert best_cost == curve["cost_total"].min()
    assert best_cost < evaluate_model(OracleModel(), orders, threshold=0.5)["cost_total"]


def test_calibrated_probabilities_need_the_break_even_threshold(orders):
    # For true probabilities, act when the expected damage prevented exceeds the action's
    # price: p * prevented * late_damage > action.
    costs = CostTable()
    minimum = cost_by_threshold(OracleModel(), orders, costs)["cost_total"].min()
    at_break_even = evaluate_model(
        OracleModel(), orders, threshold=costs.break_even_threshold, costs=costs
    )["cost_total"]

    assert costs.break_even_threshold == pytest.approx(60 / (0.7 * 400))
    # The empirical curve is flat near its minimum: sampling noise moves the argmin a bit.
    assert at_break_even <= 1.02 * minimum
    assert abs(best_threshold(OracleModel(), orders, costs) - costs.break_even_threshold) < 0.05


def test_a_dearer_miss_never_raises_the_best_threshold(orders):
    thresholds = [
        best_threshold(OracleModel(), orders, CostTable(late_damage=damage, action=60))
        for damage in (120, 250, 400, 1200)
    ]

    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[0] > thresholds[-1]


@pytest.mark.parametrize(
    ("amount", "signed", "shown"),
    [
        (11775.4, False, "11\u202f775 ₽"),
        (11775.6, True, "+11\u202f776 ₽"),
        (-12.2, True, "-12 ₽"),
        (-0.4, True, "+0 ₽"),  # no "-0"
        (1_234_567, False, "1\u202f234\u202f567 ₽"),
    ],
)
def test_roubles_use_a_space_not_a_comma_between_thousands(amount, signed, shown) -> None:
    """A comma reads as a decimal point in Russian: 11,775 ₽ would be eleven roubles."""
    assert format_roubles(amount, signed=signed) == shown


def test_a_metric_without_a_known_direction_is_refused() -> None:
    require_comparable("log_loss")
    with pytest.raises(ValueError, match="не подходит для сравнения"):
        require_comparable("logloss")


def test_an_action_that_prevents_nothing_is_never_worth_taking():
    assert CostTable(prevented=0.0).break_even_threshold == 1.0
    assert CostTable(action=0.0).break_even_threshold == 0.0


def test_the_threshold_is_tuned_on_validation_orders_only(orders):
    validation = orders.iloc[:5000]
    judged = orders.iloc[5000:].copy()
    judged[TARGET] = 1 - judged[TARGET]  # labels that would pull any threshold elsewhere
    tuned = tune_threshold(OracleModel(), validation)

    assert tuned == best_threshold(OracleModel(), validation)
    assert tuned != best_threshold(OracleModel(), judged)
