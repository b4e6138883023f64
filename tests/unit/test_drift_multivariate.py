"""The domain classifier is a valid test that sees joint shifts; detector_power measures it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops_course.config import FEATURES
from mlops_course.monitoring import drift
from mlops_course.scenario import problems
from mlops_course.scenario.generator import frame_hash


def batch(n: int, seed: int, scenario: str | None = None, strength: float = 1.0) -> pd.DataFrame:
    chosen = () if scenario is None else (scenario,)
    return problems.make_batch(n, seed=seed, scenarios=chosen, strength=strength).frame


def alarm_limit(trials: int, alpha: float) -> int:
    """Most alarms a level-alpha test gives in ``trials`` runs, but for a 1-in-1000 fluke."""
    return int(stats.binom.ppf(0.999, trials, alpha))


# --- The domain classifier ---------------------------------------------------------------


@pytest.mark.parametrize("model", drift.DOMAIN_MODELS)
def test_domain_classifier_false_alarms_stay_near_alpha(model: str) -> None:
    """No drift: p-values look uniform, so about alpha of them fall below alpha."""
    seeds, alpha = 60, 0.05
    p_values = np.array(
        [
            drift.domain_classifier_test(
                batch(300, 1000 + 2 * s), batch(300, 1001 + 2 * s), seed=s, model=model
            ).p_value
            for s in range(seeds)
        ]
    )
    assert (p_values < alpha).sum() <= alarm_limit(seeds, alpha)
    # Uniform p-values, not merely few small ones: a test that always said p = 1 fails here.
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    assert 0.35 < p_values.mean() < 0.65


@pytest.mark.parametrize("model", drift.DOMAIN_MODELS)
def test_domain_classifier_detects_a_full_winter(model: str) -> None:
    result = drift.domain_classifier_test(
        batch(500, 1), batch(500, 2, "winter"), seed=3, model=model
    )
    assert result.drift and result.p_value < 1e-3
    assert result.statistic > 0.8  # held-out AUC
    assert (result.n_reference, result.n_current, result.n_held_out) == (500, 500, 500)
    assert result.columns == tuple(FEATURES) and result.model == model
    assert result.alpha == 0.05 and result.importance == () and result.top_columns == []


def test_domain_classifier_is_deterministic_for_a_seed() -> None:
    reference, current = batch(400, 11), batch(400, 12, "winter", 0.2)
    first = drift.domain_classifier_test(reference, current, seed=5, importance=True)
    again = drift.domain_classifier_test(reference, current, seed=5, importance=True)
    other = drift.domain_classifier_test(reference, current, seed=6)
    assert first == again
    assert other.statistic != first.statistic  # another split, another fit


def test_domain_classifier_statistic_is_the_held_out_auc_and_p_matches_mann_whitney() -> None:
    # One column, no model freedom: the score is monotone in the value for a linear model,
    # so the held-out AUC is the AUC of the raw column on the held-out rows.
    rng = np.random.default_rng(8)
    reference = pd.DataFrame({"x": rng.normal(0.0, 1.0, 600)})
    current = pd.DataFrame({"x": rng.normal(0.5, 1.0, 400)})
    result = drift.domain_classifier_test(reference, current, columns=["x"], model="logreg")
    split = np.random.default_rng(drift.SEED)
    held_ref = np.delete(reference["x"].to_numpy(), split.permutation(600)[:300])
    held_cur = np.delete(current["x"].to_numpy(), split.permutation(400)[:200])
    test = stats.mannwhitneyu(held_cur, held_ref, alternative="greater")
    assert result.n_held_out == 300 + 200
    assert result.statistic == pytest.approx(test.statistic / (300 * 200))
    assert result.p_value == pytest.approx(test.pvalue)
    assert result.p_value < 1e-3


def test_domain_classifier_sees_a_joint_shift_that_no_column_shows() -> None:
    """Courier load no longer higher at peak hours: every column keeps its distribution."""
    reference, clean = batch(5000, 21), batch(5000, 22)
    decoupled = drift.decouple_column(clean, "courier_load", share=1.0, seed=23)
    assert sorted(decoupled["courier_load"]) == sorted(clean["courier_load"])
    assert not decoupled["courier_load"].equals(clean["courier_load"])
    assert decoupled.drop(columns="courier_load").equals(clean.drop(columns="courier_load"))
    # Column by column the decoupled batch is the clean one: the same p-values exactly.
    pd.testing.assert_frame_equal(
        drift.dataset_drift(reference, decoupled).table,
        drift.dataset_drift(reference, clean).table,
    )
    boosting = drift.domain_classifier_test(reference, decoupled, seed=24, importance=True)
    assert boosting.p_value < 1e-3
    assert set(boosting.top_columns[:2]) == {"courier_load", "hour"}
    # A linear model only sees each column's mean: the joint shift is invisible to it.
    linear = drift.domain_classifier_test(reference, decoupled, seed=24, model="logreg")
    assert linear.p_value > 0.01


def test_domain_classifier_importance_names_the_shifted_columns() -> None:
    result = drift.domain_classifier_test(
        batch(1000, 31), batch(1000, 32, "winter", 0.5), seed=33, importance=True
    )
    assert result.top_columns[0] == "temperature_c"
    assert [column for column, _ in result.importance] != list(FEATURES)  # sorted by loss
    losses = [loss for _, loss in result.importance]
    assert losses == sorted(losses, reverse=True)
    assert set(result.to_dict()["importance"]) == set(FEATURES)


def test_domain_classifier_handles_new_categories_and_missing_values() -> None:
    reference = batch(800, 41)
    new_district = batch(800, 42, "new_district")
    assert drift.domain_classifier_test(reference, new_district, seed=1).p_value < 1e-3
    with_gaps = batch(800, 43, "missing_values")  # 30% of rows without two readings
    assert with_gaps["temperature_c"].isna().any()
    for model in drift.DOMAIN_MODELS:  # the missing values themselves are a change
        assert drift.domain_classifier_test(reference, with_gaps, model=model).p_value < 1e-3


def test_domain_classifier_refuses_what_it_cannot_compare() -> None:
    reference, current = batch(100, 51), batch(100, 52)
    with pytest.raises(ValueError, match="нет в текущих данных"):
        drift.domain_classifier_test(reference, current.drop(columns="weather"))
    with pytest.raises(ValueError, match="Неизвестная модель"):
        drift.domain_classifier_test(reference, current, model="svm")
    with pytest.raises(ValueError, match="хотя бы 4 строки"):
        drift.domain_classifier_test(reference, current.iloc[:3])
    with pytest.raises(ValueError, match="должен быть числовым"):
        drift.domain_classifier_test(reference, current.assign(order_value="1 200 ₽"))
    with pytest.raises(ValueError, match="columns явно"):
        drift.domain_classifier_test(pd.DataFrame({"a": [1.0] * 8}), pd.DataFrame({"a": [2.0] * 8}))


# --- Power ----------------------------------------------------------------------------


def test_detector_power_without_drift_is_a_false_alarm_rate_near_alpha() -> None:
    trials, alpha = 80, 0.05
    table = drift.detector_power(None, 200, trials=trials, alpha=alpha, seed=3)
    assert list(table.columns) == drift.POWER_COLUMNS
    assert table["detector"].tolist() == list(drift.DEFAULT_DETECTORS)
    assert (table["scenario"] == drift.NO_DRIFT).all() and (table["strength"] == 0).all()
    assert (table["trials"] == trials).all() and (table["n"] == 200).all()
    assert (table["alarms"] <= alarm_limit(trials, alpha)).all()
    np.testing.assert_allclose(table["rate"], table["alarms"] / trials)
    assert ((table["ci_low"] <= table["rate"]) & (table["rate"] <= table["ci_high"])).all()
    assert (table["ms_per_check"] > 0).all()


def test_detector_power_finds_a_full_shift_with_every_detector() -> None:
    table = drift.detector_power("winter", 300, trials=5, detectors=list(drift.DETECTORS))
    assert table["detector"].tolist() == list(drift.DETECTORS)
    assert (table["rate"] == 1.0).all()
    assert (table["scenario"] == "winter").all() and (table["strength"] == 1.0).all()


def test_detector_power_gives_every_trial_its_own_pair_and_seed() -> None:
    seen: list[tuple[str, str, float, int]] = []

    def spy(reference: pd.DataFrame, current: pd.DataFrame, alpha: float, seed: int) -> bool:
        fingerprint = (frame_hash(reference), frame_hash(current))
        seen.append((*fingerprint, alpha, seed))
        return seed % 2 == 0

    table = drift.detector_power(
        "peak_load", 50, strength=0.3, trials=6, alpha=0.01, seed=100, detectors={"spy": spy}
    )
    assert table.loc[0, "alarms"] == 3 and table.loc[0, "rate"] == 0.5
    references, currents, alphas, seeds = zip(*seen, strict=True)
    assert len(set(references) | set(currents)) == 12  # twelve different batches
    assert set(alphas) == {0.01} and list(seeds) == list(range(100, 106))


def test_detector_power_rejects_unknown_detectors_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Неизвестные детекторы"):
        drift.detector_power(None, 50, trials=1, detectors=["t-test"])
    with pytest.raises(ValueError, match="alpha"):
        drift.detector_power(None, 50, trials=1, alpha=5)
    with pytest.raises(ValueError, match="trials"):
        drift.detector_power(None, 50, trials=0)
    with pytest.raises(ValueError, match="Неизвестные сценарии"):
        drift.detector_power("typo", 50, trials=1)
