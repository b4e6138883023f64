"""lab02 checks accept the reference solutions and reject typical wrong answers."""

import numpy as np

from mlops_course import drift, scenarios
from mlops_course.config import FEATURES
from mlops_course.lab_checks import lab02_drift_detection as lab


def passed(results) -> bool:
    return all(result.passed for result in results)


def right_psi(reference, current, bins=10):
    return drift.psi(reference, current, bins=bins, categorical=False)


def psi_with_combined_bins(reference, current, bins=10):
    both = np.concatenate([reference, current])
    edges = np.unique(np.quantile(both, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, reference, "right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, current, "right"), minlength=edges.size + 1)
    r, c = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def test_check_psi_accepts_right_and_rejects_wrong_binning():
    assert passed(lab.check_psi(right_psi))
    assert not passed(lab.check_psi(psi_with_combined_bins))


def right_detector(reference, current, alpha=0.05):
    result = drift.dataset_drift(reference, current, columns=FEATURES, alpha=alpha)
    return result.drift_detected, result.table.set_index("column")["adjusted_p"].to_dict()


def uncorrected_detector(reference, current, alpha=0.05):
    table = drift.column_drift(reference, current, columns=FEATURES, alpha=alpha)
    return bool(table["drifted"].any()), table.set_index("column")["score"].to_dict()


def test_check_detector_accepts_holm_and_rejects_no_correction():
    assert passed(lab.check_detector(right_detector))
    results = lab.check_detector(uncorrected_detector)
    assert not passed(results)
    assert any("Холм" in r.message for r in results if not r.passed)


def right_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    alarms = 0
    for i in range(n_seeds):
        reference = scenarios.make_batch(n_orders, seed=seed + 2 * i).frame
        current = scenarios.make_batch(
            n_orders, seed=seed + 2 * i + 1, scenarios=[scenario], strength=strength
        ).frame
        alarms += bool(detector(reference, current))
    return alarms / n_seeds


def same_seed_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: reference and current share a seed, so without drift they are identical
    alarms = 0
    for i in range(n_seeds):
        reference = scenarios.make_batch(n_orders, seed=seed + i).frame
        current = scenarios.make_batch(
            n_orders, seed=seed + i, scenarios=[scenario], strength=strength
        ).frame
        alarms += bool(detector(reference, current))
    return alarms / n_seeds


def holm(reference, current):
    return drift.dataset_drift(reference, current).drift_detected


def no_correction(reference, current):
    return bool((drift.column_drift(reference, current)["score"] < 0.05).any())


def test_check_alarm_rate_accepts_a_right_simulation():
    assert passed(lab.check_alarm_rate(right_alarm_rate, holm, n_orders=200, n_seeds=60))


def test_check_alarm_rate_rejects_shared_seeds_and_uncorrected_detector():
    assert not passed(lab.check_alarm_rate(same_seed_alarm_rate, holm, n_orders=200, n_seeds=60))
    results = lab.check_alarm_rate(right_alarm_rate, no_correction, n_orders=200, n_seeds=60)
    assert not passed(results)


def test_false_alarm_bound_is_a_binomial_quantile():
    # more repetitions -> the bound tightens towards alpha
    assert lab.false_alarm_bound(0.05, 1000) < lab.false_alarm_bound(0.05, 100)
    assert lab.false_alarm_bound(0.05, 1000) > 0.05


def failed_messages(results) -> str:
    return " ".join(result.message for result in results if not result.passed)


def psi_without_epsilon(reference, current, bins=10):
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, reference, "right"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, current, "right"), minlength=edges.size + 1)
    r, c = r / r.sum(), c / c.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum((c - r) * np.log(c / r)))


def test_check_psi_names_the_typical_mistake():
    no_epsilon = lab.check_psi(psi_without_epsilon)
    assert not passed(no_epsilon)
    assert "1e-4" in failed_messages(no_epsilon)
    swapped = lab.check_psi(lambda reference, current, bins=10: right_psi(current, reference, bins))
    assert "перепутаны" in failed_messages(swapped)
    fixed_bins = lab.check_psi(lambda reference, current, bins=10: right_psi(reference, current))
    assert not passed(fixed_bins)
    assert "bins=5" in failed_messages(fixed_bins)


def bonferroni_detector(reference, current, alpha=0.05):
    table = drift.column_drift(reference, current, columns=FEATURES, alpha=alpha)
    adjusted = np.minimum(table["score"].to_numpy() * len(table), 1.0)
    return bool((adjusted < alpha).any()), dict(zip(table["column"], adjusted, strict=True))


def list_detector(reference, current, alpha=0.05):
    detected, adjusted = right_detector(reference, current, alpha)
    return detected, list(adjusted.values())


def test_check_detector_names_the_typical_mistake():
    assert "без поправки" in failed_messages(lab.check_detector(uncorrected_detector))
    bonferroni = lab.check_detector(bonferroni_detector)
    assert not passed(bonferroni)
    assert "Бонферрони" in failed_messages(bonferroni)
    as_list = lab.check_detector(list_detector)
    assert not passed(as_list)
    assert "словарь" in failed_messages(as_list)


def overlapping_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: the current sample of run i is the reference of run i + 1
    alarms = 0
    for i in range(n_seeds):
        reference = scenarios.make_batch(n_orders, seed=seed + i).frame
        current = scenarios.make_batch(
            n_orders, seed=seed + i + 1, scenarios=[scenario], strength=strength
        ).frame
        alarms += bool(detector(reference, current))
    return alarms / n_seeds


def fixed_size_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: ignores n_orders
    return right_alarm_rate(detector, scenario, strength, 120, n_seeds, seed)


def test_check_alarm_rate_names_reused_data_and_wrong_sizes():
    shared = lab.check_alarm_rate(same_seed_alarm_rate, holm, n_orders=100, n_seeds=20)
    assert "совпадают" in failed_messages(shared)
    overlapping = lab.check_alarm_rate(overlapping_alarm_rate, holm, n_orders=100, n_seeds=20)
    assert not passed(overlapping)
    assert "seed + 2 * i" in failed_messages(overlapping)
    sizes = lab.check_alarm_rate(fixed_size_alarm_rate, holm, n_orders=100, n_seeds=20)
    assert "n_orders" in failed_messages(sizes)
