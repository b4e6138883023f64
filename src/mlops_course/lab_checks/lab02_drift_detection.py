"""Checks of lab02 «Обнаружение дрейфа»: PSI, a corrected multi-feature detector, its power.

Each check compares the student's function with the course package (``drift.psi``,
``drift.dataset_drift``) or with a statistical bound, and says in Russian what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from mlops_course import drift, scenarios
from mlops_course.checks import CheckResult, expect
from mlops_course.data import frame_hash

FALSE_ALARM_CONFIDENCE = 0.999
"""The false-alarm check fails a correct detector with probability at most 0.1%."""


def _psi_cases(seed: int) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """Inputs that catch the usual PSI mistakes: shift, ties, outside values, bin count."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(0.0, 1.0, 2000)
    return [
        ("без сдвига", normal, rng.normal(0.0, 1.0, 1500), 10),
        ("сдвиг среднего", normal, rng.normal(0.5, 1.0, 1500), 10),
        ("значения вне диапазона эталона", normal, rng.normal(3.0, 1.0, 1000), 10),
        ("целые значения с повторами", rng.poisson(2.0, 2000), rng.poisson(3.0, 1000), 10),
        ("5 корзин", normal, rng.normal(0.3, 1.5, 800), 5),
    ]


PSI_RECIPE = (
    "Корзины — по квантилям эталона (np.quantile, затем np.unique для повторов), крайние "
    "корзины открыты (np.searchsorted(edges, x, 'right')), пустым долям — эпсилон 1e-4."
)


def _psi_hint(got: float, reference: np.ndarray, current: np.ndarray, bins: int) -> str:
    """What a wrong PSI most likely got wrong, recognised from its value."""
    if not np.isfinite(got):
        return (
            "получилась бесконечность или nan: в какой-то корзине доля 0, и логарифм "
            "уходит в бесконечность. Замените пустые доли на 1e-4: np.maximum(share, 1e-4)."
        )
    if np.isclose(got, drift.psi(current, reference, bins=bins), rtol=1e-6, atol=1e-9):
        return (
            "похоже, эталон и текущая выборка перепутаны: корзины строятся по квантилям "
            "эталона — первого аргумента reference."
        )
    if bins != 10 and np.isclose(got, drift.psi(reference, current), rtol=1e-6, atol=1e-9):
        return f"получился PSI для 10 корзин, а просили bins={bins}: используйте аргумент bins."
    return PSI_RECIPE


def check_psi(student_psi: Callable[..., float], seed: int = 0) -> list[CheckResult]:
    """``student_psi(reference, current, bins)`` must equal ``drift.psi`` on every case."""
    results = []
    for name, reference, current, bins in _psi_cases(seed):
        expected = drift.psi(reference, current, bins=bins)
        got = float(student_psi(reference, current, bins))
        ok = bool(np.isclose(got, expected, rtol=1e-6, atol=1e-9))
        results.append(
            expect(
                ok,
                f"PSI «{name}»: {got:.4f} совпадает с drift.psi",
                f"PSI «{name}»: у вас {got:.4f}, ожидалось {expected:.4f}. "
                + ("" if ok else _psi_hint(got, reference, current, bins)),
            )
        )
    return results


def _drift_cases(seed: int) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    reference = scenarios.make_batch(800, seed=seed).frame
    return [
        ("без дрейфа", reference, scenarios.make_batch(800, seed=seed + 1).frame),
        ("зима", reference, scenarios.make_batch(800, seed=seed + 2, scenarios="winter").frame),
        (
            "новый район, слабый",
            reference,
            scenarios.make_batch(800, seed=seed + 3, scenarios="new_district", strength=0.2).frame,
        ),
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
        "KS для числовых, хи-квадрат для категориальных; Холм: i-е по возрастанию p "
        "умножьте на (k − i), сделайте последовательность неубывающей "
        "(np.maximum.accumulate), обрежьте на 1 и верните значения на места признаков."
    )


def check_detector(
    student_detect: Callable[..., tuple[bool, Any]], alpha: float = 0.05, seed: int = 1
) -> list[CheckResult]:
    """``student_detect(reference, current, alpha)`` -> (drift?, {column: adjusted p}).

    Compared with ``drift.dataset_drift(..., correction="holm")`` on three pairs of frames.
    """
    results = []
    for name, reference, current in _drift_cases(seed):
        expected = drift.dataset_drift(reference, current, alpha=alpha, correction="holm")
        expected_p = expected.table.set_index("column")["adjusted_p"]
        detected, adjusted = student_detect(reference, current, alpha)
        if not isinstance(adjusted, dict):
            results.append(
                expect(
                    False,
                    "",
                    f"«{name}»: вторым элементом пары нужен словарь {{признак: p-value}}, "
                    f"а получен {type(adjusted).__name__}: dict(zip(FEATURES, adjusted)).",
                )
            )
            continue
        adjusted = pd.Series(adjusted, dtype=float)
        same_columns = set(adjusted.index) == set(expected_p.index)
        results.append(
            expect(
                same_columns,
                f"«{name}»: проверены все {len(expected_p)} признаков",
                f"«{name}»: проверены признаки {sorted(adjusted.index)}, а нужны "
                f"{sorted(expected_p.index)} (config.FEATURES).",
            )
        )
        if not same_columns:
            continue
        got = adjusted[expected_p.index].to_numpy()
        raw = expected.table.set_index("column")["score"].to_numpy()
        close = np.allclose(got, expected_p, rtol=1e-6, atol=1e-12)
        results.append(
            expect(
                close,
                f"«{name}»: скорректированные p-value совпадают с поправкой Холма",
                f"«{name}»: p-value не совпадают с drift.dataset_drift(correction='holm'). "
                + ("" if close else _holm_hint(got, raw)),
            )
        )
        results.append(
            expect(
                bool(detected) == expected.drift_detected,
                f"«{name}»: вердикт «дрейф = {expected.drift_detected}» верный",
                f"«{name}»: вердикт {bool(detected)}, а должен быть {expected.drift_detected}: "
                "дрейф есть, если хотя бы одно скорректированное p-value < alpha.",
            )
        )
    return results


def false_alarm_bound(alpha: float, n_seeds: int, confidence: float = FALSE_ALARM_CONFIDENCE):
    """The highest false-alarm rate a detector with level ``alpha`` shows with ``confidence``.

    With no drift each run alarms with probability <= alpha, independently, so the number
    of alarms is at most Binomial(n_seeds, alpha) (stochastically); its ``confidence``
    quantile divided by ``n_seeds`` bounds the observed rate.
    """
    return float(binom.ppf(confidence, n_seeds, alpha)) / n_seeds


def _spy_detector(calls: list[tuple[str, str, int]]) -> Callable[..., bool]:
    """A detector that records what it was given and alarms on every second call."""

    def detector(reference: pd.DataFrame, current: pd.DataFrame) -> bool:
        calls.append((frame_hash(reference), frame_hash(current), len(reference) + len(current)))
        return len(calls) % 2 == 0

    return detector


def _independence_hint(calls: list[tuple[str, str, int]]) -> str:
    """Empty when every run got fresh frames; otherwise what was reused and how to fix it."""
    if any(reference == current for reference, current, _ in calls):
        return (
            "в повторе эталон и текущая выборка совпадают (одинаковый seed): без дрейфа "
            "детектор сравнивает данные сами с собой. Дайте им разные seed."
        )
    frames = [frame for reference, current, _ in calls for frame in (reference, current)]
    if len(set(frames)) < len(frames):
        return (
            "одни и те же данные попадают в несколько повторов (например, seed + i для "
            "эталона и seed + i + 1 для текущей: текущая повтора i — это эталон повтора "
            "i + 1). Повторы должны быть независимыми: seed + 2 * i и seed + 2 * i + 1."
        )
    return ""


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
    calls: list[tuple[str, str, int]] = []
    spy_rate = student_alarm_rate(_spy_detector(calls), "winter", 0.0, 50, 10, seed)
    reused = _independence_hint(calls)
    results = [
        expect(
            len(calls) == 10 and np.isclose(spy_rate, 0.5),
            "детектор вызывается n_seeds раз, доля тревог считается верно",
            f"при n_seeds=10 детектор вызван {len(calls)} раз, доля тревог {spy_rate}: "
            "вызовите детектор один раз на каждый повтор и верните долю True "
            "(число тревог / n_seeds).",
        ),
        expect(
            all(total == 2 * 50 for _, _, total in calls),
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
    false_alarms = student_alarm_rate(detector, "winter", 0.0, n_orders, n_seeds, seed)
    bound = false_alarm_bound(alpha, n_seeds)
    results.append(
        expect(
            false_alarms <= bound,
            f"без дрейфа доля ложных тревог {false_alarms:.3f} ≤ {bound:.3f} "
            f"(биномиальная граница для α = {alpha}, {n_seeds} повторов)",
            f"без дрейфа доля ложных тревог {false_alarms:.3f} > {bound:.3f}: детектор без "
            "поправки на множественное тестирование? Используйте detect_drift с поправкой Холма.",
        )
    )
    power = student_alarm_rate(detector, "winter", 1.0, n_orders, max(n_seeds // 4, 10), seed)
    results.append(
        expect(
            power >= 0.9,
            f"сильный сдвиг (зима, сила 1) пойман в {power:.0%} повторов",
            f"сильный сдвиг пойман лишь в {power:.0%} повторов (нужно ≥ 90%): текущая выборка "
            "должна быть make_batch(..., scenarios=[scenario], strength=strength).",
        )
    )
    return results
