"""Online drift detection over a stream of model errors: the Page-Hinkley test.

When labels arrive, every prediction becomes an error indicator (1 = wrong, 0 = right).
Concept drift shows up as a rise of the mean of this stream. The Page-Hinkley test
(E. S. Page, "Continuous inspection schemes", Biometrika 41, 1954; in the form used for
drift detection by H. Mouss, D. Mouss, N. Mouss, L. Sefouhi, "Test of Page-Hinkley, an
approach for fault detection in an agro-alimentary production system", Asian Control
Conference, 2004) keeps

* ``mean_t``  — the running mean of the stream so far,
* ``m_t = sum_{i<=t} (x_i - mean_i - delta)`` — the cumulative deviation above the mean,
* ``M_t = min_{i<=t} m_i`` — its lowest point,

and raises an alarm when ``m_t - M_t > threshold`` (λ): the stream has been running above
its mean, by more than the tolerated ``delta`` per item, long enough. After an alarm the
statistics restart from the next item (the model is usually retrained then).

Choosing the parameters. ``delta`` is the smallest rise of the error rate worth reacting
to; it also makes the statistic drift down when nothing happens. ``threshold`` trades
detection delay (about ``threshold / (rise - delta)`` items after a rise) for false alarms:
for a stationary Bernoulli(p) stream the CUSUM theory (Lundberg's inequality) bounds the
chance of any alarm in ``n`` items by ``n * exp(-theta * threshold)``, where ``theta > 0``
solves ``E exp(theta * (x - p - delta)) = 1``; see ``false_alarm_bound``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq


def _not_finite(value: float, where: str) -> ValueError:
    """A NaN (a missing label, say) would make the mean NaN and switch the test off."""
    return ValueError(
        f"Пейдж-Хинкли: значение {value} ({where}) — не конечное число; "
        "уберите пропуски (NaN) из потока ошибок."
    )


@dataclass
class PageHinkley:
    """The Page-Hinkley test, one item at a time (``update`` returns True on an alarm)."""

    delta: float = 0.005
    threshold: float = 50.0
    min_samples: int = 30
    """No alarm before this many items since the (re)start: the mean is too noisy."""
    n: int = field(default=0, init=False)
    mean: float = field(default=0.0, init=False)
    cumulative: float = field(default=0.0, init=False)
    minimum: float = field(default=0.0, init=False)

    def reset(self) -> None:
        self.n, self.mean, self.cumulative, self.minimum = 0, 0.0, 0.0, 0.0

    def update(self, value: float) -> bool:
        """Add one item; True when the test signals an increase of the mean (then resets).

        A non-finite item (NaN, e.g. a missing label) is refused with a ``ValueError``:
        it would make the mean NaN and switch the test off for good.
        """
        if not np.isfinite(value):
            raise _not_finite(value, f"элемент {self.n + 1} после (пере)запуска")
        self.n += 1
        self.mean += (value - self.mean) / self.n
        self.cumulative += value - self.mean - self.delta
        self.minimum = min(self.minimum, self.cumulative)
        if self.n >= self.min_samples and self.cumulative - self.minimum > self.threshold:
            self.reset()
            return True
        return False


def _first_alarm(values: np.ndarray, delta: float, threshold: float, min_samples: int) -> int:
    """Index of the first alarm of a fresh test over ``values`` (-1 if none), vectorised."""
    count = np.arange(1, values.size + 1)
    mean = np.cumsum(values) / count
    cumulative = np.cumsum(values - mean - delta)
    # M_t includes the starting value 0 (before any item), as in the streaming version.
    minimum = np.minimum(np.minimum.accumulate(cumulative), 0.0)
    alarms = np.flatnonzero((cumulative - minimum > threshold) & (count >= min_samples))
    return int(alarms[0]) if alarms.size else -1


FIRST_WINDOW = 1024
"""Items looked at after a (re)start before the look-ahead window is doubled."""


def page_hinkley_alarms(
    values: Any, delta: float = 0.005, threshold: float = 50.0, min_samples: int = 30
) -> list[int]:
    """Positions of all alarms of ``PageHinkley`` over a whole stream (restart after each).

    Same result as feeding ``PageHinkley.update`` item by item, but in numpy: fast enough
    to simulate hundreds of streams in a notebook cell. After each (re)start the test looks
    at a window of items that doubles until it holds an alarm, so the work per alarm is
    proportional to the gap to the next alarm, not to the rest of the stream (a stream with
    a thousand alarms stays linear). A longer window only adds items *after* the ones
    already seen, so the alarm it finds is the same as with the whole rest of the stream.
    Non-finite values (NaN, e.g. missing labels) are refused with a ``ValueError``.
    """
    values = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise _not_finite(values[bad[0]], f"позиция {bad[0]}, всего таких {bad.size}")
    alarms, start, window = [], 0, FIRST_WINDOW
    while start < values.size:
        position = _first_alarm(values[start : start + window], delta, threshold, min_samples)
        if position >= 0:
            alarms.append(start + position)
            start, window = start + position + 1, FIRST_WINDOW
        elif start + window >= values.size:  # the whole rest was searched: no more alarms
            break
        else:
            window *= 2
    return alarms


def _check_bernoulli_drift(p: float, delta: float) -> None:
    """The bound needs a walk with negative drift that can still go up: 0 <= p < p + delta < 1."""
    if delta <= 0:
        raise ValueError(f"Допуск должен быть положительным: delta > 0 (получено {delta}).")
    if not (p >= 0 and p + delta < 1):  # written so that a NaN fails too
        raise ValueError(
            "Доля ошибок p и допуск delta должны удовлетворять 0 <= p и p + delta < 1 "
            f"(получено p = {p}, delta = {delta}): иначе рост ошибок выше p + delta "
            "невозможен и оценка не имеет смысла."
        )


def lundberg_exponent(p: float, delta: float) -> float:
    """theta > 0 with E exp(theta * (x - p - delta)) = 1 for x ~ Bernoulli(p).

    Valid for ``delta > 0`` and ``0 <= p``, ``p + delta < 1`` (a ``ValueError`` otherwise:
    with p + delta >= 1 every step of the walk is <= 0 and no such theta exists). For
    ``p == 0`` every step is exactly ``-delta``: the walk never rises, any theta fits, and
    ``inf`` is returned (so ``false_alarm_bound`` is 0).
    """
    _check_bernoulli_drift(p, delta)
    if p == 0:
        return float(np.inf)

    def log_mgf(theta: float) -> float:
        return float(
            np.log(p * np.exp(theta * (1 - p - delta)) + (1 - p) * np.exp(-theta * (p + delta)))
        )

    upper = 1.0
    # The log-MGF is convex, negative near 0 and grows to +inf (as 1 - p - delta > 0).
    while log_mgf(upper) <= 0:
        upper *= 2
    return float(brentq(log_mgf, 1e-9, upper))


def false_alarm_bound(p: float, delta: float, threshold: float, n: int) -> float:
    """Upper bound on P(any alarm in ``n`` items) for a stationary Bernoulli(p) stream.

    For the CUSUM with the true mean, each start point exceeds ``threshold`` with
    probability at most exp(-theta * threshold) (Lundberg's inequality for a random walk
    with negative drift); a union bound over the ``n`` start points gives the rest. The
    Page-Hinkley test estimates the mean from the data, so the bound is approximate for it.
    Needs ``threshold > 0`` and the ranges of ``lundberg_exponent``; 0 when ``p == 0``.
    """
    if threshold <= 0:
        raise ValueError(f"Порог должен быть положительным: threshold > 0 (получено {threshold}).")
    theta = lundberg_exponent(p, delta)
    return min(1.0, n * float(np.exp(-theta * threshold)))


def simulate_detection(
    error_rate: float,
    rise: float,
    n_before: int,
    n_after: int,
    delta: float,
    threshold: float,
    n_seeds: int,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """False-alarm rate and detection delays of Page-Hinkley on simulated error streams.

    Each repetition draws a Bernoulli(``error_rate``) stream of ``n_before + n_after``
    items (no drift: any alarm is false) and a drifted copy whose last ``n_after`` items
    are Bernoulli(``error_rate + rise``). Returns the share of repetitions with a false
    alarm and, per repetition, the delay in items from the change to the first alarm
    after it (``inf`` when the drift is never found).
    """
    false_alarms, delays = 0, np.empty(n_seeds)
    for s in range(n_seeds):
        # The seed sequence includes the threshold: every threshold gets its own streams.
        rng = np.random.default_rng([seed, int(threshold), s])
        calm = rng.random(n_before + n_after) < error_rate
        false_alarms += bool(page_hinkley_alarms(calm, delta, threshold))
        drifted = np.r_[calm[:n_before], rng.random(n_after) < error_rate + rise]
        found = [a for a in page_hinkley_alarms(drifted, delta, threshold) if a >= n_before]
        delays[s] = found[0] - n_before if found else np.inf
    return false_alarms / n_seeds, delays


def threshold_tradeoff(
    thresholds: Sequence[float],
    error_rate: float,
    rise: float,
    n_before: int,
    n_after: int,
    delta: float = 0.005,
    n_seeds: int = 50,
    seed: int = 0,
    items_per_week: int = 1,
) -> pd.DataFrame:
    """Display table (Russian columns): per threshold λ, the false-alarm rate over the
    whole stream and the median and 90th-percentile delay, in weeks of ``items_per_week``.

    The 90th percentile is an observed delay (no interpolation), so it is ``inf`` (never
    found) when the drift is missed in about 10 % of the repetitions or more.
    """
    rows = []
    for threshold in thresholds:
        false_alarm, delays = simulate_detection(
            error_rate, rise, n_before, n_after, delta, threshold, n_seeds, seed
        )
        weeks = delays / items_per_week
        rows.append(
            {
                "λ": threshold,
                "ложная тревога за поток": false_alarm,
                "медианная задержка, нед.": np.median(weeks),
                "задержка 90%, нед.": np.percentile(weeks, 90, method="higher"),
            }
        )
    return pd.DataFrame(rows)
