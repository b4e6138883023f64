"""Tests of the training pipeline: robustness, determinism, and that it learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from mlops_course.config import FEATURES, ID_COLUMN, TARGET, TIME_COLUMN
from mlops_course.model.train import MODELS, build_pipeline, split, split_validation, train_model
from mlops_course.scenario.generator import generate_orders, late_probability


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    # Gradient boosting uses OpenMP; on 2 shared cores (parallel test workers) extra
    # threads spin against each other and a 0.2 s fit can take a minute.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_orders(6000, seed=3)


@pytest.mark.parametrize("model", MODELS)
def test_pipeline_survives_unseen_category_and_missing_values(orders, model):
    fitted = train_model(orders.iloc[:3000], model)
    incoming = orders.iloc[3000:3006].copy()
    incoming["district"] = incoming["district"].astype(object)
    incoming.loc[incoming.index[0], "district"] = "new_district"  # never seen in training
    incoming.loc[incoming.index[1], "weather"] = None
    incoming.loc[incoming.index[2], "weather"] = np.nan
    incoming.loc[incoming.index[3], "distance_km"] = np.nan
    incoming["courier_load"] = incoming["courier_load"].astype(float)
    incoming.loc[incoming.index[4], "courier_load"] = np.nan  # a sensor went silent

    proba = fitted.predict_proba(incoming[FEATURES])[:, 1]

    assert proba.shape == (len(incoming),)
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))


def test_pipeline_trains_on_missing_values(orders):
    dirty = orders.iloc[:3000].copy()
    dirty.loc[dirty.index[:100], "weather"] = None
    dirty.loc[dirty.index[100:200], "distance_km"] = np.nan

    proba = train_model(dirty).predict_proba(orders.iloc[3000:][FEATURES])[:, 1]

    assert np.all(np.isfinite(proba))


def test_pipeline_ignores_columns_that_are_not_features(orders):
    fitted = train_model(orders.iloc[:3000])
    extra = orders.iloc[3000:].assign(unexpected_column="x")

    expected = fitted.predict_proba(orders.iloc[3000:][FEATURES])
    np.testing.assert_array_equal(fitted.predict_proba(extra), expected)


@pytest.mark.parametrize("model", MODELS)
def test_training_is_deterministic(orders, model):
    first = train_model(orders, model, seed=11).predict_proba(orders[FEATURES])
    second = train_model(orders, model, seed=11).predict_proba(orders[FEATURES])

    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("model", MODELS)
def test_model_recovers_most_of_the_learnable_signal(orders, model):
    train, test = split(orders, test_size=0.3)
    fitted = train_model(train, model)
    y_test = test[TARGET]
    model_proba = fitted.predict_proba(test[FEATURES])[:, 1]

    # A constant prediction has AUC 0.5; the true P(late | X) is the best any model can do.
    model_auc = roc_auc_score(y_test, model_proba)
    oracle_auc = roc_auc_score(y_test, late_probability(test))
    assert model_auc > 0.5 + 0.8 * (oracle_auc - 0.5)
    assert model_auc < oracle_auc + 0.01  # beating the truth by a lot would mean a leak

    constant = np.full(len(test), train[TARGET].mean())
    assert log_loss(y_test, model_proba) < log_loss(y_test, constant) - 0.02


def test_split_by_time_puts_the_latest_orders_in_test(orders):
    train, test = split(orders.sample(frac=1.0, random_state=0), test_size=0.25)

    assert len(test) == round(0.25 * len(orders))
    assert train[TIME_COLUMN].max() <= test[TIME_COLUMN].min()
    assert sorted([*train[ID_COLUMN], *test[ID_COLUMN]]) == sorted(orders[ID_COLUMN])


def test_stratified_split_is_reproducible_and_keeps_the_late_rate(orders):
    train, test = split(orders, test_size=0.25, seed=5, by_time=False)
    again, _ = split(orders, test_size=0.25, seed=5, by_time=False)
    other, _ = split(orders, test_size=0.25, seed=6, by_time=False)

    pd.testing.assert_frame_equal(train, again)
    assert not train[ID_COLUMN].equals(other[ID_COLUMN])
    assert abs(train[TARGET].mean() - test[TARGET].mean()) < 0.005
    assert set(train[ID_COLUMN]).isdisjoint(test[ID_COLUMN])


def test_validation_is_carved_from_the_latest_training_orders(orders):
    train, test = split(orders, test_size=0.25)
    fit, validation = split_validation(train, validation_size=0.2)

    assert len(validation) == round(0.2 * len(train))
    assert fit[TIME_COLUMN].max() <= validation[TIME_COLUMN].min()
    assert validation[TIME_COLUMN].max() <= test[TIME_COLUMN].min()  # the test stays unseen
    assert sorted([*fit[ID_COLUMN], *validation[ID_COLUMN]]) == sorted(train[ID_COLUMN])


def test_split_rejects_a_bad_test_size(orders):
    with pytest.raises(ValueError, match="test_size"):
        split(orders, test_size=1.5)


def test_params_reach_the_classifier_and_unknown_models_fail():
    pipeline = build_pipeline("logreg", seed=7, C=0.1)

    assert pipeline.named_steps["classifier"].C == 0.1
    assert pipeline.named_steps["classifier"].random_state == 7
    with pytest.raises(ValueError, match="Неизвестная модель"):
        build_pipeline("random_forest")
