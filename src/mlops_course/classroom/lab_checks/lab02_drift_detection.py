"""Checks of lab02 «Обнаружение дрейфа»: PSI, a corrected multi-feature detector, its power,
thresholds calibrated to one false-alarm rate, Page-Hinkley on a stream of model errors.

Each check compares the student's function with the course package (``drift.psi``, the
per-feature tests and ``drift.adjust_pvalues``, ``online_drift.page_hinkley_alarms``) or
with a statistical bound, and says in Russian what to fix.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import binom

from mlops_course.classroom.checks import AnswerProblem, CheckResult, check_returned, expect
from mlops_course.config import FEATURES, NUMERIC_FEATURES
from mlops_course.monitoring import drift
from mlops_course.monitoring.online_drift import page_hinkley_alarms
from mlops_course.scenario import problems
from mlops_course.scenario.generator import frame_hash

FALSE_ALARM_CONFIDENCE = 0.999
"""The false-alarm check fails a correct detector with probability at most 0.1%."""


def _fee(rng: np.random.Generator, n: int, share_above: float) -> np.ndarray:
    """Delivery fees: 40% below 199, most of the rest exactly 199, ``share_above`` above it."""
    kind = rng.random(n)
    return np.where(
        kind < 0.4,
        rng.uniform(50.0, 199.0, n),
        np.where(kind < 1.0 - share_above, 199.0, rng.uniform(200.0, 600.0, n)),
    )


TIE_CASES = ("флаг 0/1: 5 % → 60 % единиц", "тариф: у половины заказов ровно 199")
"""The cases where quantile edges merged by np.unique alone hide the shift."""


def _psi_cases(seed: int) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """Inputs that catch the usual PSI mistakes: shift, ties, outside values, bin count.

    The two tie cases (``TIE_CASES``) are where np.unique of the quantiles merges a value
    that fills several quantile levels with the values above it: that recipe sees PSI 0
    on the flag, as notebook 04 shows.
    """
    rng = np.random.default_rng(seed)
    normal = rng.normal(0.0, 1.0, 2000)
    cases = [
        ("без сдвига", normal, rng.normal(0.0, 1.0, 1500), 10),
        ("сдвиг среднего", normal, rng.normal(0.5, 1.0, 1500), 10),
        ("значения вне диапазона эталона", normal, rng.normal(3.0, 1.0, 1000), 10),
        ("целые значения с повторами", rng.poisson(2.0, 2000), rng.poisson(3.0, 1000), 10),
        ("5 корзин", normal, rng.normal(0.3, 1.5, 800), 5),
    ]
    flag = (rng.random(2000) < 0.05).astype(float), (rng.random(2000) < 0.60).astype(float)
    fee = _fee(rng, 2000, 0.05), _fee(rng, 1500, 0.30)
    return [*cases, (TIE_CASES[0], *flag, 10), (TIE_CASES[1], *fee, 10)]


PSI_RECIPE = (
    "Корзины — по квантилям эталона уровней 0, 1/bins, …, 1; внутренние границы — "
    "levels[1:-1], а значению, которое занимает два уровня и больше, — своя корзина "
    "(граница np.nextafter(v, np.inf) сразу после него; np.union1d склеит совпадающие "
    "границы). Крайние корзины открыты (np.searchsorted(edges, x, 'right')), пустым долям "
    "— эпсилон 1e-4."
)


def merged_ties_psi(reference, current, bins: int = 10) -> float:
    """PSI with edges ``np.unique(np.quantile(reference, inner levels))`` only: the recipe
    that merges a tied value with the values above it (notebook 04's ``psi_by_hand``)."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    n_bins = edges.size + 1
    shares = [
        np.maximum(np.bincount(np.searchsorted(edges, x, "right"), minlength=n_bins) / x.size, 1e-4)
        for x in (reference, current)
    ]
    return float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0])))


def _is_number(value: object) -> bool:
    """One real number (a Python or NumPy scalar, or a 0-d array), not a list or an array."""
    return isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0)


def _rounded(got: float, expected: float) -> bool:
    """``got`` is ``expected`` rounded to some number of decimals (a ``round`` call)."""
    return any(
        got == round(got, decimals) and abs(got - expected) <= 0.5 * 10**-decimals
        for decimals in range(1, 7)
    )


def _psi_hint(
    got: float, expected: float, reference: np.ndarray, current: np.ndarray, bins: int
) -> str:
    """What a wrong PSI most likely got wrong, recognised from its value."""
    if not np.isfinite(got):
        return (
            "получилась бесконечность или nan: в какой-то корзине доля 0, и логарифм "
            "уходит в бесконечность. Замените пустые доли на 1e-4: np.maximum(share, 1e-4)."
        )
    if _rounded(got, expected):
        return "Совпадает с точностью до округления: не округляйте результат (уберите round)."
    if np.isclose(got, drift.psi(current, reference, bins=bins), rtol=1e-6, atol=1e-9):
        return (
            "похоже, эталон и текущая выборка перепутаны: корзины строятся по квантилям "
            "эталона — первого аргумента reference."
        )
    if bins != 10 and np.isclose(got, drift.psi(reference, current), rtol=1e-6, atol=1e-9):
        return f"получился PSI для 10 корзин, а просили bins={bins}: используйте аргумент bins."
    if np.isclose(got, merged_ties_psi(reference, current, bins), rtol=1e-6, atol=1e-9):
        levels = np.quantile(np.asarray(reference, float), np.linspace(0, 1, bins + 1))
        values, repeats = np.unique(levels, return_counts=True)
        tied = ", ".join(f"{value:g}" for value in values[repeats > 1])
        return (
            f"значение {tied} занимает несколько квантилей эталона, и np.unique склеил "
            "границы: корзина, которая начинается с него, забрала и значения выше — сдвиг "
            "не виден. Дайте повторяющемуся значению свою корзину: уровни квантилей с 0 и 1 "
            "(np.linspace(0, 1, bins + 1)), значения, встретившиеся среди уровней дважды и "
            "больше (np.unique(..., return_counts=True)), и границы "
            "np.union1d(levels[1:-1], np.nextafter(tied, np.inf))."
        )
    return PSI_RECIPE


def check_psi(student_psi: Callable[..., float], seed: int = 0) -> list[CheckResult]:
    """``student_psi(reference, current, bins)`` must equal ``drift.psi`` on every case."""
    results = []
    for name, reference, current, bins in _psi_cases(seed):
        expected = drift.psi(reference, current, bins=bins)
        got = student_psi(reference, current, bins)
        check_returned(got, _is_number(got), "верните одно число: сумму по корзинам (np.sum).")
        got = float(got)
        ok = bool(np.isclose(got, expected, rtol=1e-6, atol=1e-9))
        results.append(
            expect(
                ok,
                f"PSI «{name}»: {got:.4f} совпадает с drift.psi",
                f"PSI «{name}»: у вас {got:.6g}, ожидалось {expected:.6g}. "
                + ("" if ok else _psi_hint(got, expected, reference, current, bins)),
            )
        )
    return results


# No drift, yet one raw p-value is 0.033 < 0.05 while every Holm-adjusted one is >= 0.295:
# a verdict taken from the raw p-values says "drift" here.
RAW_P_TRAP_SEEDS = (1, 1001)
# A weak winter (strength 0.05): the smallest Holm p-value is 0.012, so the verdict is
# "drift" at alpha = 0.05 and "no drift" at ALPHA_TRAP: a hard-coded 0.05 says "drift".
ALPHA_TRAP_SEEDS = (1, 5)
ALPHA_TRAP = 0.01


def _frames(
    seeds: tuple[int, int], scenario: str | None = None, strength: float = 1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference batch and a current one (with ``scenario`` at ``strength``), 800 orders."""
    chosen = () if scenario is None else (scenario,)
    reference = problems.make_batch(800, seed=seeds[0]).frame
    return reference, problems.make_batch(800, seeds[1], chosen, strength).frame


def _drift_cases() -> list[tuple[str, pd.DataFrame, pd.DataFrame, float]]:
    """(name, reference, current, alpha): plain cases, then the two traps above."""
    return [
        ("без дрейфа", *_frames((1, 2)), 0.05),
        ("зима", *_frames((1, 3), "winter"), 0.05),
        ("новый район, слабый", *_frames((1, 4), "new_district", 0.2), 0.05),
        ("без дрейфа, но одно сырое p < α", *_frames(RAW_P_TRAP_SEEDS), 0.05),
        (f"слабая зима, α = {ALPHA_TRAP}", *_frames(ALPHA_TRAP_SEEDS, "winter", 0.05), ALPHA_TRAP),
    ]


def _holm_hint(got: np.ndarray, raw: np.ndarray) -> str:
    """What a wrong corrected p-value vector most likely got wrong."""
    same = {"rtol": 1e-6, "atol": 1e-12}
    if np.allclose(got, raw, **same):
        return "Это p-value без поправки: примените к ним поправку Холма."
    if np.allclose(got, np.minimum(raw * raw.size, 1.0), **same):
        return (
            "Это поправка Бонферрони (все p умножены на k). У Холма i-е по возрастанию "
            "(с нуля) p-value умножается на (k − i): наименьшее на k, следующее на k − 1, …"
        )
    if np.nanmax(got) > 1.0:
        return "Есть p-value больше 1: обрежьте сверху единицей (np.minimum(..., 1.0))."
    return (
        "p-value считайте drift.ks_test для числовых и drift.chi2_test для категориальных "
        "признаков (scipy.stats.ks_2samp по умолчанию даёт точные p-value — они другие). "
        "Холм: i-е по возрастанию p умножьте на (k − i), сделайте последовательность "
        "неубывающей (np.maximum.accumulate), обрежьте на 1 и верните значения на места "
        "признаков."
    )


def _pair_problem(result: object) -> str:
    """What is wrong with a detector's returned value ("" if it is a (bool, dict) pair)."""
    if not (isinstance(result, tuple | list) and len(result) == 2):
        return "верните пару (drift, p_values): return drift_detected, {признак: p-value}."
    if not isinstance(result[0], bool | np.bool_):
        return "первым элементом пары нужен вердикт True/False: bool((adjusted < alpha).any())."
    if not isinstance(result[1], dict):
        return (
            "вторым элементом пары нужен словарь {признак: p-value}: dict(zip(FEATURES, adjusted))."
        )
    return ""


def _detect(student_detect: Callable[..., Any], reference, current, alpha: float) -> tuple:
    """The student's (verdict, p-values); KS on a text column becomes a hint."""
    try:
        result = student_detect(reference, current, alpha)
    except ValueError as error:
        if "could not convert string to float" not in str(error):
            raise
        raise AnswerProblem(
            f"ваш код упал: ValueError: {error}. Категориальные признаки проверяйте "
            "хи-квадратом: drift.chi2_test; drift.ks_test — только для NUMERIC_FEATURES."
        ) from error
    problem = _pair_problem(result)
    check_returned(result, not problem, problem)
    return result


class ExpectedDrift(NamedTuple):
    """The exercise's answer for one pair of frames."""

    raw: pd.Series  # p-value per feature
    adjusted: pd.Series  # Holm-adjusted
    alpha: float

    @property
    def drift_detected(self) -> bool:
        return bool((self.adjusted < self.alpha).any())


def expected_drift(reference: pd.DataFrame, current: pd.DataFrame, alpha: float) -> ExpectedDrift:
    """Exercise 2 as the lab states it: ``drift.ks_test`` for ``NUMERIC_FEATURES``,
    ``drift.chi2_test`` for the other ``FEATURES``, then ``drift.adjust_pvalues`` (Holm).

    Written from the exercise, not from ``drift.dataset_drift``, so that a change of the
    package's default test per column does not change what the student must write.
    """
    raw = pd.Series(
        {
            column: (drift.ks_test if column in NUMERIC_FEATURES else drift.chi2_test)(
                reference[column], current[column]
            ).pvalue
            for column in FEATURES
        },
        dtype=float,
    )
    adjusted = pd.Series(drift.adjust_pvalues(raw.to_numpy(), "holm"), index=raw.index)
    return ExpectedDrift(raw, adjusted, alpha)


def check_detector(student_detect: Callable[..., tuple[bool, Any]]) -> list[CheckResult]:
    """``student_detect(reference, current, alpha)`` -> (drift?, {column: adjusted p}).

    Compared with ``expected_drift`` (KS / chi-square per feature, Holm) on pairs of frames.
    """
    results = []
    for name, reference, current, alpha in _drift_cases():
        expected = expected_drift(reference, current, alpha)
        detected, adjusted = _detect(student_detect, reference, current, alpha)
        results += _detector_results(name, expected, detected, pd.Series(adjusted, dtype=float))
    return results


def _detector_results(
    name: str, expected: ExpectedDrift, detected: bool, adjusted: pd.Series
) -> list[CheckResult]:
    """Verdicts for one pair of frames: columns, Holm p-values, drift or not."""
    expected_p = expected.adjusted
    same_columns = set(adjusted.index) == set(expected_p.index)
    columns = expect(
        same_columns,
        f"«{name}»: проверены все {len(expected_p)} признаков",
        f"«{name}»: проверены признаки {sorted(adjusted.index)}, а нужны "
        f"{sorted(expected_p.index)} (config.FEATURES).",
    )
    if not same_columns:
        return [columns]
    got = adjusted[expected_p.index].to_numpy()
    raw = expected.raw[expected_p.index].to_numpy()
    close = np.allclose(got, expected_p, rtol=1e-6, atol=1e-12)
    alpha = expected.alpha
    not_05 = f" Сравнивайте с аргументом alpha (здесь {alpha}), а не с числом 0.05."
    return [
        columns,
        expect(
            close,
            f"«{name}»: скорректированные p-value совпадают с поправкой Холма",
            f"«{name}»: p-value не совпадают с поправкой Холма (drift.adjust_pvalues). "
            + ("" if close else _holm_hint(got, raw)),
        ),
        expect(
            bool(detected) == expected.drift_detected,
            f"«{name}»: вердикт «дрейф = {expected.drift_detected}» верный",
            f"«{name}»: вердикт {bool(detected)}, а должен быть {expected.drift_detected}: "
            "дрейф есть, если хотя бы одно скорректированное (по Холму, а не сырое) p-value "
            "< alpha." + (not_05 if alpha != 0.05 else ""),
        ),
    ]


def false_alarm_bound(alpha: float, n_seeds: int, confidence: float = FALSE_ALARM_CONFIDENCE):
    """The highest false-alarm rate a detector with level ``alpha`` shows with ``confidence``.

    With no drift each run alarms with probability <= alpha, independently, so the number
    of alarms is at most Binomial(n_seeds, alpha) (stochastically); its ``confidence``
    quantile divided by ``n_seeds`` bounds the observed rate.
    """
    return float(binom.ppf(confidence, n_seeds, alpha)) / n_seeds


class SpyCall(NamedTuple):
    """What the spy detector was given in one run of the student's simulation."""

    reference: str  # frame hashes
    current: str
    rows: int  # both samples together
    cooling: float  # mean temperature of the reference minus the current, °C


# A full winter cools the current sample by 20 °C; a simulation run at strength 0 that
# still shows this much has applied the scenario anyway (noise at 50 rows: about 1.4 °C).
WINTER_APPLIED_COOLING = 10.0


def _spy_detector(calls: list[SpyCall]) -> Callable[..., bool]:
    """A detector that records what it was given and alarms on every second call."""

    def detector(reference: pd.DataFrame, current: pd.DataFrame) -> bool:
        if not (isinstance(reference, pd.DataFrame) and isinstance(current, pd.DataFrame)):
            raise AnswerProblem(
                f"детектор получил {type(reference).__name__} и {type(current).__name__}, "
                "а детектору нужен DataFrame: make_batch(...).frame."
            )
        cooling = reference["temperature_c"].mean() - current["temperature_c"].mean()
        calls.append(
            SpyCall(
                frame_hash(reference), frame_hash(current), len(reference) + len(current), cooling
            )
        )
        return len(calls) % 2 == 0

    return detector


def _independence_hint(calls: list[SpyCall]) -> str:
    """Empty when every run got fresh frames; otherwise what was reused and how to fix it."""
    if any(call.reference == call.current for call in calls):
        return (
            "в повторе эталон и текущая выборка совпадают (одинаковый seed): без дрейфа "
            "детектор сравнивает данные сами с собой. Дайте им разные seed."
        )
    frames = [frame for call in calls for frame in (call.reference, call.current)]
    if len(set(frames)) < len(frames):
        return (
            "одни и те же данные попадают в несколько повторов (например, seed + i для "
            "эталона и seed + i + 1 для текущей: текущая повтора i — это эталон повтора "
            "i + 1). Повторы должны быть независимыми: seed + 2 * i и seed + 2 * i + 1."
        )
    return ""


def _rate(student_alarm_rate: Callable[..., float], *args: Any) -> float:
    """What ``student_alarm_rate(*args)`` returned; it must be one number."""
    rate = student_alarm_rate(*args)
    check_returned(
        rate, _is_number(rate), "верните одно число — долю повторов с тревогой (тревог / n_seeds)."
    )
    return float(rate)


def _false_alarm_hint(calls: list[SpyCall]) -> str:
    """Too many false alarms: a simulation that applied the scenario at strength 0 (seen by
    the spy), or else a detector without the multiple-testing correction."""
    if calls and np.median([call.cooling for call in calls]) > WINTER_APPLIED_COOLING:
        return (
            "ошибка в симуляции: при strength=0 текущая выборка всё равно зимняя (холоднее "
            "эталона на 20 °C). Передайте strength=strength в make_batch текущей выборки; "
            "эталон — без сценария."
        )
    return (
        "детектор без поправки на множественное тестирование? Используйте detect_drift с "
        "поправкой Холма (вердикт — по скорректированным p-value)."
    )


def check_alarm_rate(
    student_alarm_rate: Callable[..., float],
    detector: Callable[[pd.DataFrame, pd.DataFrame], bool],
    alpha: float = 0.05,
    n_orders: int = 300,
    n_seeds: int = 100,
    seed: int = 0,
) -> list[CheckResult]:
    """``student_alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed)``.

    A spy detector checks the simulation itself (fresh, independent frames each run);
    then the student's detector must show a false-alarm rate within the binomial bound of
    ``alpha`` with no drift, and a power of at least 0.9 for a full winter.
    """
    calls: list[SpyCall] = []
    return [
        *_spy_results(student_alarm_rate, seed, calls),
        _false_alarm_result(student_alarm_rate, detector, alpha, n_orders, n_seeds, seed, calls),
        _power_result(student_alarm_rate, detector, n_orders, max(n_seeds // 4, 10), seed),
    ]


def _spy_results(
    student_alarm_rate: Callable[..., float], seed: int, calls: list[SpyCall]
) -> list[CheckResult]:
    """The simulation itself, seen by a spy detector (its ``calls``): calls, sizes, data."""
    spy_rate = _rate(student_alarm_rate, _spy_detector(calls), "winter", 0.0, 50, 10, seed)
    reused = _independence_hint(calls)
    return [
        expect(
            len(calls) == 10 and np.isclose(spy_rate, 0.5),
            "детектор вызывается n_seeds раз, доля тревог считается верно",
            f"при n_seeds=10 детектор вызван {len(calls)} раз, доля тревог {spy_rate}: "
            "вызовите детектор один раз на каждый повтор и верните долю True "
            "(число тревог / n_seeds).",
        ),
        expect(
            all(call.rows == 2 * 50 for call in calls),
            "эталон и текущая выборка — по n_orders заказов",
            "при n_orders=50 детектор получил выборки другого размера: передайте n_orders "
            "в оба вызова make_batch.",
        ),
        expect(
            not reused,
            "каждый повтор — новые данные, эталон и текущая выборка разные",
            reused,
        ),
    ]


def _false_alarm_result(
    student_alarm_rate: Callable[..., float],
    detector: Callable[..., bool],
    alpha: float,
    n_orders: int,
    n_seeds: int,
    seed: int,
    calls: list[SpyCall],
) -> CheckResult:
    """No drift: the alarm rate stays within the binomial bound of ``alpha``; ``calls``
    (what the spy saw) tell a wrong simulation from a wrong detector."""
    rate = _rate(student_alarm_rate, detector, "winter", 0.0, n_orders, n_seeds, seed)
    bound = false_alarm_bound(alpha, n_seeds)
    if rate <= bound:
        return CheckResult(
            True,
            f"без дрейфа доля ложных тревог {rate:.3f} ≤ {bound:.3f} "
            f"(биномиальная граница для α = {alpha}, {n_seeds} повторов)",
        )
    return CheckResult(
        False,
        f"без дрейфа доля ложных тревог {rate:.3f} > {bound:.3f}: " + _false_alarm_hint(calls),
    )


def _power_result(
    student_alarm_rate: Callable[..., float],
    detector: Callable[..., bool],
    n_orders: int,
    n_seeds: int,
    seed: int,
) -> CheckResult:
    """A full winter: the detector alarms in at least 90% of the runs."""
    power = _rate(student_alarm_rate, detector, "winter", 1.0, n_orders, n_seeds, seed)
    return expect(
        power >= 0.9,
        f"сильный сдвиг (зима, сила 1) пойман в {power:.0%} повторов",
        f"сильный сдвиг пойман лишь в {power:.0%} повторов (нужно ≥ 90%): текущая выборка "
        "должна быть make_batch(..., scenarios=[scenario], strength=strength).frame; "
        "эталон — без сценария: make_batch(n_orders, seed=...).frame.",
    )


# --- Exercise 4: thresholds calibrated to the same false-alarm rate --------------------


def minimal_threshold(null_scores: Any, alpha: float) -> float:
    """The smallest observed no-drift score t with share(null_scores > t) <= alpha."""
    ordered = np.sort(np.asarray(null_scores, dtype=float))
    allowed = int(np.floor(alpha * ordered.size + 1e-9))  # alarms allowed on the null sample
    return float(ordered[ordered.size - 1 - allowed])


def _threshold_cases(seed: int) -> list[tuple[str, np.ndarray, float]]:
    """(name, no-drift scores, alpha): continuous scores, another alpha, ties, a small n."""
    rng = np.random.default_rng(seed)
    return [
        ("100 повторов, α = 0.05", rng.normal(1.0, 0.3, 100), 0.05),
        ("200 повторов, α = 0.01", rng.exponential(1.0, 200), 0.01),
        ("целые счёты с повторами, α = 0.1", rng.poisson(3.0, 100).astype(float), 0.1),
        ("30 повторов, α = 0.05", rng.normal(0.0, 1.0, 30), 0.05),
    ]


def _threshold_hint(got: float, scores: np.ndarray, alpha: float, allowed: int) -> str:
    """What a wrong threshold does on the no-drift scores, and what the rule is."""
    above = int(np.sum(scores > got))
    rule = (
        "Тревога — когда счёт больше порога, поэтому порог — верхний квантиль уровня "
        "1 − alpha, округлённый вверх до наблюдённого счёта: "
        "np.quantile(null_scores, 1 - alpha, method='higher') (уровень от 0 до 1)."
    )
    if above > allowed:
        return (
            f"с этим порогом без дрейфа тревог {above} из {scores.size} "
            f"({above / scores.size:.1%}), больше α = {alpha} (допустимо {allowed}). " + rule
        )
    return (
        f"с этим порогом без дрейфа тревог {above} из {scores.size}, а при α = {alpha} "
        f"допустимо {allowed}: порог строже нужного, и детектор зря теряет мощность. " + rule
    )


def check_calibrated_threshold(
    student_threshold: Callable[..., float], seed: int = 0
) -> list[CheckResult]:
    """``student_threshold(null_scores, alpha)``: alarms (score > t) on at most ``alpha`` of
    the no-drift scores, and at least as many as the (1 - alpha) quantile rounded up to an
    observed score (``method="higher"``) gives; the smallest such threshold is accepted too.
    """
    results = []
    for name, scores, alpha in _threshold_cases(seed):
        got = student_threshold(scores.copy(), alpha)
        check_returned(got, _is_number(got), "верните одно число — порог счёта.")
        got = float(got)
        allowed = int(np.sum(scores > minimal_threshold(scores, alpha)))
        fewest = int(np.sum(scores > np.quantile(scores, 1 - alpha, method="higher")))
        above = int(np.sum(scores > got))
        ok = fewest <= above <= allowed
        results.append(
            expect(
                ok,
                f"порог «{name}»: без дрейфа тревог {above} из {scores.size} (≤ α)",
                f"порог «{name}»: " + ("" if ok else _threshold_hint(got, scores, alpha, allowed)),
            )
        )
    return results


# --- Exercise 5: Page-Hinkley on a stream of model errors ------------------------------


def page_hinkley_answer(
    errors: Any, change_at: int, delta: float, threshold: float
) -> tuple[int, int | None]:
    """(false alarms before ``change_at``, items from ``change_at`` to the first alarm at or
    after it, or None), from ``online_drift.page_hinkley_alarms``."""
    alarms = page_hinkley_alarms(errors, delta, threshold)
    after = [alarm for alarm in alarms if alarm >= change_at]
    return sum(alarm < change_at for alarm in alarms), (after[0] - change_at if after else None)


def error_stream(seed: int, n_before: int, n_after: int, rate: float, rise: float) -> np.ndarray:
    """0/1 errors: Bernoulli(rate) for ``n_before`` items, then Bernoulli(rate + rise)."""
    rng = np.random.default_rng(seed)
    return np.r_[rng.random(n_before) < rate, rng.random(n_after) < rate + rise].astype(float)


def _stream_cases() -> list[tuple[str, np.ndarray, int, float, float]]:
    """(name, errors, change_at, delta, threshold)."""
    return [
        (
            "рост ошибок 0.20 → 0.30, λ = 30",
            error_stream(1, 2000, 2000, 0.2, 0.1),
            2000,
            0.005,
            30.0,
        ),
        ("без роста, λ = 30", error_stream(2, 2000, 2000, 0.2, 0.0), 2000, 0.005, 30.0),
        ("низкий порог λ = 5", error_stream(3, 2000, 1000, 0.2, 0.1), 2000, 0.005, 5.0),
        ("δ = 0.05, λ = 20", error_stream(4, 1500, 1500, 0.2, 0.15), 1500, 0.05, 20.0),
    ]


def _pair_of_counts_problem(result: object) -> str:
    if not (isinstance(result, tuple | list) and len(result) == 2):
        return "верните пару (ложных_тревог, задержка): return false_alarms, delay."
    false_alarms, delay = result
    if not isinstance(false_alarms, numbers.Integral):
        return "первым элементом нужно целое число — ложные тревоги до change_at."
    if delay is not None and not isinstance(delay, numbers.Integral):
        return "вторым элементом нужно целое число (задержка в элементах) или None."
    return ""


def _page_hinkley_hint(got: tuple, expected: tuple, errors, change_at, delta, threshold) -> str:
    """What a wrong (false alarms, delay) most likely got wrong, each from its own evidence."""
    hints = []
    alarms = page_hinkley_alarms(errors, delta, threshold)
    false_alarms, delay = got
    if false_alarms != expected[0] and false_alarms == len(alarms):
        hints.append(
            "ложные тревоги — только до change_at: вы посчитали все тревоги потока "
            f"({len(alarms)}), а до смены их {expected[0]}."
        )
    if delay != expected[1] and expected[1] is not None and delay is not None:
        if delay == expected[1] + 1:
            hints.append(
                "задержка на 1 больше: тревога на элементе i (с нуля) — задержка i − change_at."
            )
        elif delay == expected[1] + change_at:
            hints.append("задержку считайте от change_at, а не от начала потока.")
    if expected[1] is None and delay is not None:
        hints.append(
            f"после change_at тревоги нет, а у вас задержка {delay}: верните None, если "
            "дрейф не пойман."
        )
    if not hints:
        hints.append(
            "Создайте PageHinkley(delta=delta, threshold=threshold) внутри функции, подайте "
            "ему ошибки по одной (update возвращает True на тревоге и сам начинает заново); "
            "тревоги до change_at — ложные, первая тревога с номером ≥ change_at даёт "
            "задержку (номер − change_at)."
        )
    return " ".join(hints)


def check_page_hinkley(student_report: Callable[..., tuple]) -> list[CheckResult]:
    """``student_report(errors, change_at, delta, threshold)`` -> (false alarms, delay).

    Compared with ``page_hinkley_alarms`` on four streams, then called twice on the same
    stream: a detector kept between calls (created outside the function) answers
    differently the second time.
    """
    results = []
    for name, errors, change_at, delta, threshold in _stream_cases():
        got = student_report(errors.copy(), change_at, delta, threshold)
        problem = _pair_of_counts_problem(got)
        check_returned(got, not problem, problem)
        got = (int(got[0]), None if got[1] is None else int(got[1]))
        expected = page_hinkley_answer(errors, change_at, delta, threshold)
        ok = got == expected
        results.append(
            expect(
                ok,
                f"«{name}»: ложных тревог {expected[0]}, задержка {expected[1]} — верно",
                f"«{name}»: у вас (ложных тревог, задержка) = {got}, ожидалось {expected}. "
                + (
                    ""
                    if ok
                    else _page_hinkley_hint(got, expected, errors, change_at, delta, threshold)
                ),
            )
        )
    name, errors, change_at, delta, threshold = _stream_cases()[0]
    first = student_report(errors.copy(), change_at, delta, threshold)
    second = student_report(errors.copy(), change_at, delta, threshold)
    results.append(
        expect(
            tuple(first) == tuple(second),
            "повторный вызов на том же потоке даёт тот же ответ",
            f"на одном и том же потоке функция ответила {tuple(first)}, потом {tuple(second)}: "
            "детектор хранит состояние между вызовами. Создавайте новый "
            "PageHinkley(delta=delta, threshold=threshold) внутри функции.",
        )
    )
    return results
