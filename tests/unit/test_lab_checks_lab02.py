"""lab02 checks accept the reference solutions and reject typical wrong answers."""

import contextlib
import io

import numpy as np
import pytest
from scipy import stats

from mlops_course.classroom.checks import CheckFailed, run_check
from mlops_course.classroom.lab_checks import lab02_drift_detection as lab
from mlops_course.config import FEATURES, NUMERIC_FEATURES
from mlops_course.monitoring import drift
from mlops_course.monitoring.online_drift import PageHinkley, page_hinkley_alarms
from mlops_course.scenario import problems


def passed(results) -> bool:
    return all(result.passed for result in results)


def feedback(check, *args, **kwargs) -> str:
    """What the notebook prints when ``check`` rejects the student's function."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(CheckFailed):
        run_check(check, *args, **kwargs)
    return out.getvalue()


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
    raw = [
        (drift.ks_test if c in NUMERIC_FEATURES else drift.chi2_test)(reference[c], current[c])
        for c in FEATURES
    ]
    adjusted = drift.adjust_pvalues(np.array([r.pvalue for r in raw]), "holm")
    return bool((adjusted < alpha).any()), dict(zip(FEATURES, adjusted, strict=True))


def uncorrected_detector(reference, current, alpha=0.05):
    raw = {
        c: (drift.ks_test if c in NUMERIC_FEATURES else drift.chi2_test)(
            reference[c], current[c]
        ).pvalue
        for c in FEATURES
    }
    return any(p < alpha for p in raw.values()), raw


def test_check_detector_accepts_holm_and_rejects_no_correction():
    assert passed(lab.check_detector(right_detector))
    results = lab.check_detector(uncorrected_detector)
    assert not passed(results)
    assert any("Холм" in r.message for r in results if not r.passed)


def right_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    alarms = 0
    for i in range(n_seeds):
        reference = problems.make_batch(n_orders, seed=seed + 2 * i).frame
        current = problems.make_batch(
            n_orders, seed=seed + 2 * i + 1, scenarios=[scenario], strength=strength
        ).frame
        alarms += bool(detector(reference, current))
    return alarms / n_seeds


def same_seed_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: reference and current share a seed, so without drift they are identical
    alarms = 0
    for i in range(n_seeds):
        reference = problems.make_batch(n_orders, seed=seed + i).frame
        current = problems.make_batch(
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
    as_list = feedback(lab.check_detector, list_detector)
    assert "словарь" in as_list and "Запустите ячейку" not in as_list


def overlapping_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: the current sample of run i is the reference of run i + 1
    alarms = 0
    for i in range(n_seeds):
        reference = problems.make_batch(n_orders, seed=seed + i).frame
        current = problems.make_batch(
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


def holm_p(p):
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))), 1)
    return adjusted


def test_print_instead_of_return_is_named_in_every_exercise():
    outputs = [
        feedback(lab.check_psi, lambda r, c, bins=10: print(right_psi(r, c, bins))),
        feedback(lab.check_detector, lambda r, c, alpha=0.05: print(right_detector(r, c, alpha))),
        feedback(
            lab.check_alarm_rate,
            lambda *a: print(right_alarm_rate(*a)),
            holm,
            n_orders=100,
            n_seeds=20,
        ),
    ]
    for out in outputs:
        assert "ничего не вернула (None)" in out and "замените print на return" in out
        assert "Запустите ячейку" not in out


def test_wrong_return_types_get_a_hint_of_what_to_return():
    array = feedback(lab.check_psi, lambda r, c, bins=10: np.full(3, right_psi(r, c, bins)))
    assert "верните одно число" in array and "np.sum" in array
    verdict_only = feedback(lab.check_detector, lambda r, c, alpha=0.05: right_detector(r, c)[0])
    assert "верните пару (drift, p_values)" in verdict_only
    as_list = feedback(
        lab.check_alarm_rate, lambda *a: [right_alarm_rate(*a)], holm, n_orders=100, n_seeds=20
    )
    assert "одно число" in as_list
    for out in (array, verdict_only, as_list):
        assert "Запустите ячейку" not in out


def batch_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: make_batch(...) without .frame, as the instructions used to read
    alarms = 0
    for i in range(n_seeds):
        reference = problems.make_batch(n_orders, seed=seed + 2 * i)
        current = problems.make_batch(n_orders, seed + 2 * i + 1, [scenario], strength)
        alarms += bool(detector(reference, current))
    return alarms / n_seeds


def test_a_batch_instead_of_a_frame_is_named():
    out = feedback(lab.check_alarm_rate, batch_alarm_rate, holm, n_orders=100, n_seeds=20)
    assert "детектору нужен DataFrame: make_batch(...).frame" in out
    assert "Запустите ячейку" not in out


@pytest.mark.parametrize("decimals", [3, 4])
def test_rounded_psi_is_told_not_to_round(decimals):
    rounded = lab.check_psi(lambda r, c, bins=10: round(right_psi(r, c, bins), decimals))
    text = failed_messages(rounded)
    assert text.count("не округляйте") == len(lab._psi_cases(0)) and "0.00513623" in text


def test_a_psi_off_by_a_little_is_not_told_about_rounding():
    text = failed_messages(lab.check_psi(lambda r, c, bins=10: right_psi(r, c, bins) + 3e-5))
    assert "округл" not in text and "Корзины" in text


def raw_p(reference, current):
    tests = {c: drift.ks_test if c in NUMERIC_FEATURES else drift.chi2_test for c in FEATURES}
    return np.array([tests[c](reference[c], current[c]).pvalue for c in FEATURES])


def test_the_raw_p_trap_has_a_raw_p_below_alpha_and_no_holm_p_below_it():
    reference, current = lab._frames(lab.RAW_P_TRAP_SEEDS)
    expected = lab.expected_drift(reference, current, alpha=0.05)
    assert expected.raw.min() < 0.05 <= expected.adjusted.min()


def test_a_verdict_from_raw_p_values_is_rejected():
    def raw_verdict(reference, current, alpha=0.05):
        _, adjusted = right_detector(reference, current, alpha)
        return bool((raw_p(reference, current) < alpha).any()), adjusted

    text = failed_messages(lab.check_detector(raw_verdict))
    assert "сырое p < α" in text and "а не сырое" in text


def test_the_alpha_trap_changes_its_verdict_with_alpha():
    reference, current = lab._frames(lab.ALPHA_TRAP_SEEDS, "winter", 0.05)
    assert lab.expected_drift(reference, current, alpha=0.05).drift_detected
    assert not lab.expected_drift(reference, current, alpha=lab.ALPHA_TRAP).drift_detected


def test_a_hard_coded_alpha_is_rejected():
    text = failed_messages(lab.check_detector(lambda r, c, alpha=0.05: right_detector(r, c)))
    assert f"α = {lab.ALPHA_TRAP}" in text and "аргументом alpha" in text


def test_scipy_ks_2samp_and_ks_on_categories_are_told_to_use_the_course_tests():
    def with_scipy(reference, current, alpha=0.05):
        p = np.array(
            [
                stats.ks_2samp(reference[c], current[c]).pvalue
                if c in NUMERIC_FEATURES
                else drift.chi2_test(reference[c], current[c]).pvalue
                for c in FEATURES
            ]
        )
        adjusted = holm_p(p)
        return bool((adjusted < alpha).any()), dict(zip(FEATURES, adjusted, strict=True))

    assert "drift.ks_test" in failed_messages(lab.check_detector(with_scipy))

    def ks_everywhere(reference, current, alpha=0.05):
        adjusted = holm_p(
            np.array([drift.ks_test(reference[c], current[c]).pvalue for c in FEATURES])
        )
        return bool((adjusted < alpha).any()), dict(zip(FEATURES, adjusted, strict=True))

    out = feedback(lab.check_detector, ks_everywhere)
    assert "категориальные признаки проверяйте хи-квадратом: drift.chi2_test" in out.lower()
    assert "Запустите ячейку" not in out


def no_strength_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: strength is not passed, so the scenario is applied in full even at strength 0
    return right_alarm_rate(detector, scenario, 1.0, n_orders, n_seeds, seed)


def scenario_everywhere_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    # wrong: the reference gets the scenario too, so there is never a difference
    alarms = 0
    for i in range(n_seeds):
        frames = [
            problems.make_batch(n_orders, seed + 2 * i + j, [scenario], strength).frame
            for j in (0, 1)
        ]
        alarms += bool(detector(*frames))
    return alarms / n_seeds


def test_too_many_false_alarms_from_the_simulation_blame_the_simulation():
    text = failed_messages(
        lab.check_alarm_rate(no_strength_alarm_rate, holm, n_orders=100, n_seeds=20)
    )
    assert "strength=strength" in text and "эталон — без сценария" in text
    assert "без поправки" not in text
    # the detector is still blamed when it is the culprit
    text = failed_messages(
        lab.check_alarm_rate(right_alarm_rate, no_correction, n_orders=200, n_seeds=60)
    )
    assert "без поправки" in text and "strength=strength" not in text


def test_a_scenario_in_the_reference_gets_a_power_hint():
    results = lab.check_alarm_rate(scenario_everywhere_alarm_rate, holm, n_orders=100, n_seeds=20)
    assert not results[-1].passed and "эталон — без сценария" in results[-1].message


# --- Every hint is right for the mistake it names -------------------------------------


def tie_safe_psi(reference, current, bins=10):
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    levels = np.quantile(reference, np.linspace(0, 1, bins + 1))
    values, repeats = np.unique(levels, return_counts=True)
    edges = np.union1d(levels[1:-1], np.nextafter(values[repeats > 1], np.inf))
    n_bins = edges.size + 1
    r = np.bincount(np.searchsorted(edges, reference, "right"), minlength=n_bins) / reference.size
    c = np.bincount(np.searchsorted(edges, current, "right"), minlength=n_bins) / current.size
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def test_the_tie_safe_recipe_of_the_lab_passes():
    assert passed(lab.check_psi(tie_safe_psi))


PSI_MISTAKES = {
    "merged ties": "np.unique склеил",
    "swapped": "перепутаны",
    "rounded": "округл",
    "bins ignored": "используйте аргумент bins",
    "infinite": "бесконечность",
}


def swapped_psi(reference, current, bins=10):
    return drift.psi(current, reference, bins=bins, categorical=False)


@pytest.mark.parametrize(
    ("answer", "made", "failing_cases"),
    [
        (lab.merged_ties_psi, {"merged ties"}, set(lab.TIE_CASES)),
        (swapped_psi, {"swapped"}, None),
    ],
)
def test_psi_hints_name_only_the_mistakes_made(answer, made, failing_cases):
    results = lab.check_psi(answer)
    messages = failed_messages(results)
    assert not passed(results)
    if failing_cases is not None:
        failing = {case for case in lab.TIE_CASES + ("без сдвига",) for r in results
                   if not r.passed and f"«{case}»" in r.message}  # fmt: skip
        assert failing == failing_cases, messages
    for mistake, phrase in PSI_MISTAKES.items():
        assert (phrase in messages) == (mistake in made), (mistake, messages)


def test_the_merged_ties_recipe_misses_the_flag_shift_entirely():
    rng = np.random.default_rng(0)
    flag_ref = (rng.random(2000) < 0.05).astype(float)
    flag_cur = (rng.random(2000) < 0.60).astype(float)
    assert lab.merged_ties_psi(flag_ref, flag_cur) == 0.0
    assert tie_safe_psi(flag_ref, flag_cur) == pytest.approx(drift.psi(flag_ref, flag_cur))
    assert drift.psi(flag_ref, flag_cur) > 1.0


THRESHOLD_MISTAKES = {"too many": "больше α", "too strict": "строже нужного"}


@pytest.mark.parametrize(
    "answer",
    [
        lambda scores, alpha: np.quantile(scores, 1 - alpha, method="higher"),
        lab.minimal_threshold,
        lambda scores, alpha: np.sort(scores)[-int(np.floor(alpha * len(scores))) - 1],
    ],
)
def test_calibrated_threshold_accepts_right_answers(answer):
    assert passed(lab.check_calibrated_threshold(answer))


@pytest.mark.parametrize(
    ("answer", "made"),
    [
        (lambda scores, alpha: np.quantile(scores, alpha), {"too many"}),  # lower tail
        (lambda scores, alpha: np.quantile(scores, 1 - alpha), {"too many"}),  # interpolated
        (lambda scores, alpha: np.percentile(scores, 1 - alpha), {"too many"}),  # % vs share
        (lambda scores, alpha: np.max(scores), {"too strict"}),
    ],
)
def test_threshold_hints_name_only_the_mistakes_made(answer, made):
    results = lab.check_calibrated_threshold(answer)
    messages = failed_messages(results)
    assert not passed(results)
    for mistake, phrase in THRESHOLD_MISTAKES.items():
        assert (phrase in messages) == (mistake in made), (mistake, messages)


def right_page_hinkley(errors, change_at, delta, threshold):
    detector = PageHinkley(delta=delta, threshold=threshold)
    false_alarms = 0
    for i, error in enumerate(errors):
        if detector.update(error):
            if i >= change_at:
                return false_alarms, i - change_at
            false_alarms += 1
    return false_alarms, None


SHARED = PageHinkley(delta=0.005, threshold=30.0)


def shared_detector(errors, change_at, delta, threshold):  # wrong: one detector for all calls
    false_alarms, delay = 0, None
    for i, error in enumerate(errors):
        if SHARED.update(error):
            if i < change_at:
                false_alarms += 1
            elif delay is None:
                delay = i - change_at
    return false_alarms, delay


def all_alarms_false(errors, change_at, delta, threshold):  # wrong: every alarm counted
    alarms = page_hinkley_alarms(errors, delta, threshold)
    after = [a for a in alarms if a >= change_at]
    return len(alarms), (after[0] - change_at if after else None)


def one_based_delay(errors, change_at, delta, threshold):  # wrong: off by one
    false_alarms, delay = right_page_hinkley(errors, change_at, delta, threshold)
    return false_alarms, None if delay is None else delay + 1


def delay_from_start(errors, change_at, delta, threshold):  # wrong: the alarm's position
    false_alarms, delay = right_page_hinkley(errors, change_at, delta, threshold)
    return false_alarms, None if delay is None else delay + change_at


def zero_when_missed(errors, change_at, delta, threshold):  # wrong: 0 instead of None
    false_alarms, delay = right_page_hinkley(errors, change_at, delta, threshold)
    return false_alarms, 0 if delay is None else delay


PAGE_HINKLEY_MISTAKES = {
    "all alarms": "вы посчитали все тревоги",
    "off by one": "задержка на 1 больше",
    "from start": "от change_at, а не от начала",
    "not None": "верните None",
    "state kept": "хранит состояние",
}


def test_page_hinkley_check_accepts_the_right_answer():
    assert passed(lab.check_page_hinkley(right_page_hinkley))


@pytest.mark.parametrize(
    ("answer", "made"),
    [
        (all_alarms_false, {"all alarms"}),
        (one_based_delay, {"off by one"}),
        (delay_from_start, {"from start"}),
        (zero_when_missed, {"not None"}),
        (shared_detector, {"state kept"}),
    ],
)
def test_page_hinkley_hints_name_only_the_mistakes_made(answer, made):
    results = lab.check_page_hinkley(answer)
    messages = failed_messages(results)
    assert not passed(results)
    for mistake, phrase in PAGE_HINKLEY_MISTAKES.items():
        assert (phrase in messages) == (mistake in made), (mistake, messages)
