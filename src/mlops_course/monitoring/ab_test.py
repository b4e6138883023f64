"""A/B testing champion vs challenger: how many orders, which decision, and why not to peek.

The service's router (``serving.router``) sends each order to the champion or the
challenger by a hash of its id; once the labels arrive, each arm is a sample of orders with
an outcome. Three questions, one section each:

* **How many orders?** ``sample_size_two_proportions`` for a share (say, of orders that
  were late without an alarm) and ``sample_size_mean_difference`` for a mean (₽ per
  order), both per arm, for the smallest effect worth acting on.
* **Which decision?** ``proportion_decision`` (a two-proportion z-test) and
  ``cost_decision`` (a bootstrap confidence interval of the difference in ₽ per order)
  return an ``ABResult`` with one of three decisions: «принять претендента», «оставить
  чемпиона», «данных мало» (the planned horizon is not reached yet).
* **Why not look every day?** Each look at a running test is another chance of a false
  positive. ``peeking_false_positive_rates`` measures it with an A/A simulation (both arms
  the same model), ``calibrate_boundary`` builds a sequential design (Pocock or
  O'Brien-Fleming boundaries) that may look K times and still errs with probability α,
  and ``compare_designs`` sets its false-positive rate, power and average sample size
  beside the fixed horizon's.

Conventions: ``control`` is the champion, ``treatment`` the challenger; a difference is
challenger minus champion. Tests are two-sided at level α; a challenger is accepted only
if it is significantly *better* (so its error rate is α/2 in the direction that matters).
Everything random takes a seed and uses one ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlops_course.config import SEED
from mlops_course.model.evaluate import CostTable

ACCEPT = "принять претендента"
KEEP = "оставить чемпиона"
TOO_LITTLE = "данных мало"
DECISIONS = (ACCEPT, KEEP, TOO_LITTLE)

POOLED = "pooled"
ARCSINE = "arcsine"
POCOCK = "pocock"
OBRIEN_FLEMING = "obrien_fleming"
DEFAULT_COSTS = CostTable()


# --- Checks of the arguments ---------------------------------------------------------


def _check_open_unit(value: float, name: str) -> None:
    if not (np.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"{name} должно быть строго между 0 и 1, получено {value}.")


def _check_levels(alpha: float, power: float | None = None) -> None:
    _check_open_unit(alpha, "alpha (уровень значимости)")
    if power is not None:
        _check_open_unit(power, "power (мощность)")


def _z_sum(alpha: float, power: float) -> float:
    """z_{1-α/2} + z_{power}: the two-sided critical value plus the power quantile."""
    return float(stats.norm.isf(alpha / 2) + stats.norm.ppf(power))


# --- How many orders ------------------------------------------------------------------


def cohens_h(p_control: float, p_treatment: float) -> float:
    """Cohen's h = 2·arcsin√p_treatment − 2·arcsin√p_control.

    The arcsine square root stabilises the variance of a share: 2·arcsin√p̂ has variance
    about 1/n whatever p is, so h is a difference in standard-deviation units (the same
    quantity as ``statsmodels.stats.proportion.proportion_effectsize(p_treatment,
    p_control)``).
    """
    return float(2 * np.arcsin(np.sqrt(p_treatment)) - 2 * np.arcsin(np.sqrt(p_control)))


def sample_size_two_proportions(
    p_control: float,
    p_treatment: float,
    alpha: float = 0.05,
    power: float = 0.8,
    method: str = POOLED,
) -> int:
    """Orders per arm for a two-sided two-proportion z-test to detect p_control → p_treatment.

    ``method="pooled"`` — the classical normal-approximation formula (Fleiss, *Statistical
    Methods for Rates and Proportions*, without continuity correction): under H0 both arms
    share the pooled p̄ = (p_c + p_t)/2, under H1 each has its own variance::

        n = (z_{1-α/2}·√(2·p̄(1-p̄)) + z_{power}·√(p_c(1-p_c) + p_t(1-p_t)))² / (p_t - p_c)²

    It is the test ``two_proportion_ztest`` runs (pooled variance under H0).

    ``method="arcsine"`` — through Cohen's h (``cohens_h``), whose variance is 1/n per
    arm whatever p is::

        n = 2·(z_{1-α/2} + z_{power})² / h²

    (what ``statsmodels``' ``NormalIndPower`` solves for with ``proportion_effectsize``).
    Both ignore the far tail of the two-sided test (a rejection in the wrong direction,
    probability below 1e-5 at the usual α and power). The two methods differ by a term of
    second order in the difference p_t − p_c. The result is rounded up.
    """
    _check_open_unit(p_control, "p_control (доля у чемпиона)")
    _check_open_unit(p_treatment, "p_treatment (доля у претендента)")
    _check_levels(alpha, power)
    if p_control == p_treatment:
        raise ValueError(
            "p_control и p_treatment равны: нулевой эффект нельзя обнаружить "
            "ни на какой выборке — задайте наименьший эффект, который важен."
        )
    if method == ARCSINE:
        n = 2 * (_z_sum(alpha, power) / cohens_h(p_control, p_treatment)) ** 2
    elif method == POOLED:
        pooled = (p_control + p_treatment) / 2
        null_sd = math.sqrt(2 * pooled * (1 - pooled))
        alt_sd = math.sqrt(p_control * (1 - p_control) + p_treatment * (1 - p_treatment))
        numerator = stats.norm.isf(alpha / 2) * null_sd + stats.norm.ppf(power) * alt_sd
        n = (numerator / (p_treatment - p_control)) ** 2
    else:
        raise ValueError(f"method — {POOLED!r} или {ARCSINE!r}, а не {method!r}.")
    return math.ceil(n)


def sample_size_mean_difference(
    std: float, min_difference: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Orders per arm to detect a difference ``min_difference`` of means (₽ per order).

    The normal-approximation formula for two equal arms with a common standard deviation
    ``std`` (take it from the champion's own history)::

        n = 2·((z_{1-α/2} + z_{power})·std / min_difference)²

    ``NormalIndPower().solve_power(effect_size=min_difference / std, ...)`` solves the same
    equation (with the negligible far tail). Rounded up.
    """
    _check_levels(alpha, power)
    if not (np.isfinite(std) and std > 0):
        raise ValueError(f"std должно быть положительным числом, получено {std}.")
    if not (np.isfinite(min_difference) and min_difference != 0):
        raise ValueError(
            f"min_difference должно быть ненулевым числом, получено {min_difference}: "
            "нулевой эффект нельзя обнаружить ни на какой выборке."
        )
    return math.ceil(2 * (_z_sum(alpha, power) * std / min_difference) ** 2)


# --- Which decision -------------------------------------------------------------------


@dataclass(frozen=True)
class ABResult:
    """The outcome of one A/B comparison (champion = control, challenger = treatment)."""

    metric: str
    champion: float
    challenger: float
    difference: float
    """challenger − champion."""
    ci_low: float
    ci_high: float
    """Confidence interval of ``difference`` (Wald for shares, bootstrap for ₽)."""
    p_value: float
    """Two-sided p-value of the z-test; NaN for the bootstrap (it gives an interval)."""
    n_champion: int
    n_challenger: int
    decision: str
    """One of ``DECISIONS``."""
    reason: str
    """Why, in Russian, for a notebook's output."""

    def summary(self) -> str:
        """One Russian line: estimates, interval, p-value, decision and reason."""
        p_value = "" if math.isnan(self.p_value) else f", p = {self.p_value:.3g}"
        return (
            f"{self.metric}: чемпион {self.champion:.4g}, претендент {self.challenger:.4g}, "
            f"разница {self.difference:+.4g} [ДИ {self.ci_low:+.4g}; {self.ci_high:+.4g}]"
            f"{p_value}; заказов {self.n_champion} и {self.n_challenger} → "
            f"{self.decision} ({self.reason})"
        )


def _pooled_z(x_control: Any, n_control: Any, x_treatment: Any, n_treatment: Any) -> Any:
    """z = (p̂_t − p̂_c) / se with the pooled share under H0; 0 where se is 0 (no signal)."""
    pooled = (x_control + x_treatment) / (n_control + n_treatment)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    diff = x_treatment / n_treatment - x_control / n_control
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, diff / np.where(se > 0, se, 1.0), 0.0)


def two_proportion_ztest(
    successes_control: int, n_control: int, successes_treatment: int, n_treatment: int
) -> tuple[float, float]:
    """``(z, p_value)`` of the two-sided z-test of p_treatment = p_control, pooled variance.

    The same statistic as ``statsmodels.stats.proportion.proportions_ztest([x_t, x_c],
    [n_t, n_c])``; a positive z means the challenger's share is higher. When both arms
    have only zeros (or only ones) the test has nothing to compare: z = 0, p = 1.
    """
    for count, n, arm in (
        (successes_control, n_control, "чемпиона"),
        (successes_treatment, n_treatment, "претендента"),
    ):
        if n < 1 or not 0 <= count <= n:
            raise ValueError(f"У {arm}: успехов {count} из {n} — нужно 0 ≤ успехи ≤ n, n ≥ 1.")
    z = float(_pooled_z(successes_control, n_control, successes_treatment, n_treatment))
    return z, float(2 * stats.norm.sf(abs(z)))


def _horizon_reached(n_champion: int, n_challenger: int, planned_n: int | None) -> bool:
    return planned_n is None or min(n_champion, n_challenger) >= planned_n


def _decide(better: bool, worse: bool) -> tuple[str, str]:
    if better:
        return ACCEPT, "претендент значимо лучше"
    if worse:
        return KEEP, "претендент значимо хуже"
    return KEEP, "разница не значима: нет оснований менять модель"


def _too_little(n_champion: int, n_challenger: int, planned_n: int | None) -> str:
    return (
        f"горизонт — {planned_n} заказов в каждой группе, пока "
        f"{min(n_champion, n_challenger)}: решать раньше — это подглядывание"
    )


def proportion_decision(
    successes_champion: int,
    n_champion: int,
    successes_challenger: int,
    n_challenger: int,
    *,
    alpha: float = 0.05,
    lower_is_better: bool = True,
    planned_n: int | None = None,
    metric: str = "доля",
) -> ABResult:
    """Decide on a share (e.g. late orders without an alarm) by ``two_proportion_ztest``.

    «данных мало» until each arm has ``planned_n`` orders (the fixed horizon from
    ``sample_size_two_proportions``; ``None`` = decide on what there is). Then the
    challenger is accepted when p < α and its share moved in the good direction
    (``lower_is_better``). The interval is the (unpooled) Wald interval at 1 − α.
    """
    _check_levels(alpha)
    z, p_value = two_proportion_ztest(
        successes_champion, n_champion, successes_challenger, n_challenger
    )
    p_c, p_t = successes_champion / n_champion, successes_challenger / n_challenger
    se = math.sqrt(p_c * (1 - p_c) / n_champion + p_t * (1 - p_t) / n_challenger)
    half = stats.norm.isf(alpha / 2) * se
    if not _horizon_reached(n_champion, n_challenger, planned_n):
        decision, reason = TOO_LITTLE, _too_little(n_champion, n_challenger, planned_n)
    else:
        significant, lower = p_value < alpha, z < 0
        decision, reason = _decide(
            significant and lower == lower_is_better,
            significant and lower != lower_is_better,
        )
    return ABResult(
        metric, p_c, p_t, p_t - p_c, p_t - p_c - half, p_t - p_c + half, p_value,
        int(n_champion), int(n_challenger), decision, reason,
    )  # fmt: skip


BOOTSTRAP_CHUNK = 2_000_000
"""Cells of the (replicates × distinct values) count matrix drawn at once: bounds memory."""


def bootstrap_means(values: Any, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the mean of ``values``, vectorised.

    Resampling n rows with replacement is the same as drawing how many times each
    *distinct* value is taken, Multinomial(n, observed frequencies): ₽ per order takes a
    handful of prices (see ``order_costs``), so a replicate costs a few numbers, not n
    indices. Values with many distinct levels still work, in chunks of replicates.
    """
    levels, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    n = int(counts.sum())
    chunk = max(1, BOOTSTRAP_CHUNK // levels.size)
    means = [
        rng.multinomial(n, counts / n, size=min(chunk, n_boot - start)) @ levels / n
        for start in range(0, n_boot, chunk)
    ]
    return np.concatenate(means)


def bootstrap_mean_difference(
    champion: Any,
    challenger: Any,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(challenger) − mean(champion).

    Each arm is resampled on its own (its size fixed, as the router fixed it), with one
    seeded ``numpy.random.Generator``.
    """
    _check_open_unit(confidence, "confidence (уровень доверия)")
    rng = np.random.default_rng(seed)
    diffs = bootstrap_means(challenger, n_boot, rng) - bootstrap_means(champion, n_boot, rng)
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return float(low), float(high)


def cost_decision(
    champion_costs: Any,
    challenger_costs: Any,
    *,
    alpha: float = 0.05,
    lower_is_better: bool = True,
    planned_n: int | None = None,
    n_boot: int = 2000,
    seed: int = SEED,
    metric: str = "₽ на заказ",
) -> ABResult:
    """Decide on a mean per order (₽ by default: lower is better) by a bootstrap interval.

    «данных мало» until each arm has ``planned_n`` orders (``sample_size_mean_difference``);
    then the challenger is accepted when the whole 1 − α interval of the difference lies on
    the good side of zero, and the champion stays otherwise.
    """
    _check_levels(alpha)
    champion_costs = np.asarray(champion_costs, dtype=float)
    challenger_costs = np.asarray(challenger_costs, dtype=float)
    if min(champion_costs.size, challenger_costs.size) < 2:
        raise ValueError("В каждой группе нужно хотя бы два заказа для бутстрепа.")
    low, high = bootstrap_mean_difference(
        champion_costs, challenger_costs, n_boot=n_boot, confidence=1 - alpha, seed=seed
    )
    n_c, n_t = champion_costs.size, challenger_costs.size
    if not _horizon_reached(n_c, n_t, planned_n):
        decision, reason = TOO_LITTLE, _too_little(n_c, n_t, planned_n)
    else:
        below, above = high < 0, low > 0
        decision, reason = _decide(
            below if lower_is_better else above,
            above if lower_is_better else below,
        )
    mean_c, mean_t = float(champion_costs.mean()), float(challenger_costs.mean())
    return ABResult(
        metric, mean_c, mean_t, mean_t - mean_c, low, high, math.nan, n_c, n_t, decision, reason
    )


def order_costs(y_true: Any, alarms: Any, costs: CostTable = DEFAULT_COSTS) -> np.ndarray:
    """₽ per order: the ``CostTable`` price of each order's outcome (sums to
    ``evaluate.business_cost``): missed late, caught late, false alarm or nothing."""
    y_true = np.asarray(y_true).astype(bool)
    alarms = np.asarray(alarms).astype(bool)
    priced = np.select(
        [y_true & ~alarms, y_true & alarms, ~y_true & alarms],
        [costs.missed_late, costs.caught_late, costs.false_alarm],
        default=0.0,
    )
    return priced.astype(float)


# --- Why not to peek ------------------------------------------------------------------


def _look_sizes(n_per_arm: int, n_looks: int) -> np.ndarray:
    """Cumulative orders per arm at each of ``n_looks`` equally spaced looks."""
    if n_looks < 1 or n_per_arm < n_looks:
        raise ValueError(
            f"Нужно 1 ≤ число просмотров ≤ заказов в группе, получено {n_looks} и {n_per_arm}."
        )
    return np.round(np.linspace(0, n_per_arm, n_looks + 1)[1:]).astype(np.int64)


def simulate_z_paths(
    p_control: float,
    p_treatment: float,
    n_per_arm: int,
    n_looks: int,
    n_sims: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """z statistics of ``n_sims`` experiments at each of ``n_looks`` equally spaced looks.

    Shape ``(n_sims, n_looks)``. Each arm's successes between two looks are one binomial
    draw, accumulated over the looks: the whole simulation is four numpy calls.
    """
    _check_open_unit(p_control, "p_control")
    _check_open_unit(p_treatment, "p_treatment")
    sizes = _look_sizes(n_per_arm, n_looks)
    blocks = np.diff(sizes, prepend=0)
    control = rng.binomial(blocks, p_control, size=(n_sims, n_looks)).cumsum(axis=1)
    treatment = rng.binomial(blocks, p_treatment, size=(n_sims, n_looks)).cumsum(axis=1)
    return _pooled_z(control, sizes, treatment, sizes)


def first_crossing(z_paths: np.ndarray, critical: Any) -> np.ndarray:
    """Index of the first look where |z| ≥ its critical value, per experiment (−1: never)."""
    crossed = np.abs(z_paths) >= np.broadcast_to(critical, z_paths.shape[1:])
    return np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)


def peeking_false_positive_rates(
    p: float = 0.1,
    n_per_arm: int = 10_000,
    looks: Sequence[int] = (1, 5, 10, 100),
    alpha: float = 0.05,
    n_sims: int = 10_000,
    seed: int = SEED,
) -> pd.DataFrame:
    """A/A simulation: how often an experiment with no effect is ever "significant".

    Both arms have the same share ``p``; each experiment is looked at after ``K`` equally
    spaced batches (K in ``looks``) and stopped at the first look with p < α (|z| ≥
    z_{1-α/2}). All K share the same simulated experiments, observed on the finest grid
    of ``max(looks)`` looks, so each K must divide ``max(looks)`` (then the looks of a
    smaller K are a subset of a larger one's, and the rate cannot fall as K grows).
    Columns: ``looks``, ``false_positive_rate``, ``standard_error`` (binomial, from
    ``n_sims``).
    """
    _check_levels(alpha)
    finest = max(looks)
    if any(k < 1 or finest % k for k in looks):
        raise ValueError(f"Каждое число просмотров должно делить {finest}: получено {looks}.")
    rng = np.random.default_rng(seed)
    z_paths = simulate_z_paths(p, p, n_per_arm, finest, n_sims, rng)
    critical = stats.norm.isf(alpha / 2)
    rows = []
    for k in looks:
        observed = z_paths[:, finest // k - 1 :: finest // k]  # looks k/K, 2k/K, ..., 1
        rate = float(np.mean(first_crossing(observed, critical) >= 0))
        rows.append({"looks": k, "false_positive_rate": rate,
                     "standard_error": math.sqrt(rate * (1 - rate) / n_sims)})  # fmt: skip
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Boundary:
    """Critical |z| values of a group-sequential test with ``n_looks`` equally spaced looks.

    ``pocock`` — the same value at every look (Pocock, Biometrika 64, 1977);
    ``obrien_fleming`` — ``constant · √(K / k)`` at look k: very strict early, close to
    the fixed-horizon value at the end (O'Brien & Fleming, Biometrics 35, 1979). One look
    with ``constant = z_{1-α/2}`` is the fixed-horizon test (``Boundary.fixed``).
    """

    n_looks: int
    constant: float
    shape: str = POCOCK
    alpha: float = 0.05

    @classmethod
    def fixed(cls, alpha: float = 0.05) -> Boundary:
        """The fixed horizon: one look at the planned sample size, |z| ≥ z_{1-α/2}."""
        return cls(1, float(stats.norm.isf(alpha / 2)), POCOCK, alpha)

    @classmethod
    def naive(cls, n_looks: int, alpha: float = 0.05) -> Boundary:
        """Peeking: the fixed-horizon critical value reused at every look (wrong)."""
        return cls(n_looks, float(stats.norm.isf(alpha / 2)), POCOCK, alpha)

    @property
    def critical_values(self) -> np.ndarray:
        return self.constant * _shape(self.shape, self.n_looks)


def _shape(shape: str, n_looks: int) -> np.ndarray:
    if shape == POCOCK:
        return np.ones(n_looks)
    if shape == OBRIEN_FLEMING:
        return np.sqrt(n_looks / np.arange(1, n_looks + 1))
    raise ValueError(f"Форма границы — {POCOCK!r} или {OBRIEN_FLEMING!r}, а не {shape!r}.")


def calibrate_boundary(
    n_looks: int,
    alpha: float = 0.05,
    shape: str = POCOCK,
    n_sims: int = 100_000,
    seed: int = SEED,
) -> Boundary:
    """The boundary's constant for which an A/A experiment crosses it with probability α.

    Under H0 the z statistics at equally spaced looks behave like a scaled Brownian
    motion: Z_k = S_k / √k with S_k a sum of k independent standard normals (the
    normal approximation of the binomial counts). The constant is the 1 − α quantile of
    max_k |Z_k| / shape_k over ``n_sims`` such paths. Calibrating on normals, not on one
    set of binomial experiments, makes the boundary depend on K and α only, and leaves
    the binomial simulation of ``compare_designs`` an independent check.
    """
    _check_levels(alpha)
    shape_k = _shape(shape, n_looks)
    rng = np.random.default_rng(seed)
    paths = rng.standard_normal((n_sims, n_looks)).cumsum(axis=1) / np.sqrt(
        np.arange(1, n_looks + 1)
    )
    constant = float(np.quantile(np.max(np.abs(paths) / shape_k, axis=1), 1 - alpha))
    return Boundary(n_looks, constant, shape, alpha)


def crossing_probability(critical_values: Any, step: float = 0.05) -> float:
    """P(|Z_k| ≥ c_k at some look k) under H0, by numerical integration, not simulation.

    The recursive integration of Armitage, McPherson & Rowe (J. R. Stat. Soc. A 132, 1969):
    on the sum scale S_k = √k·Z_k (a random walk with standard normal steps) carry the
    density of the paths that have not crossed yet from look to look, convolving it with
    the step's normal density on a grid of ``step`` and cutting it at ±c_k·√k (a grid
    cell cut by the boundary counts by the part of it inside). The theoretical value the
    A/A simulations estimate.
    """
    critical_values = np.atleast_1d(np.asarray(critical_values, dtype=float))
    limits = critical_values * np.sqrt(np.arange(1, critical_values.size + 1))
    half = math.ceil(limits.max() / step) + 1
    grid = step * np.arange(-half, half + 1)  # cell centres, symmetric around 0

    def inside(limit: float) -> np.ndarray:
        return np.clip((limit - np.abs(grid)) / step + 0.5, 0.0, 1.0)

    density = stats.norm.pdf(grid) * inside(limits[0])
    kernel = stats.norm.pdf(grid[:, None] - grid[None, :]) * step
    for limit in limits[1:]:
        density = (kernel @ density) * inside(limit)
    return float(1 - density.sum() * step)


@dataclass(frozen=True)
class OperatingCharacteristics:
    """How a design behaves on simulated experiments with given shares in the two arms."""

    rejection_rate: float
    """Share of experiments that reject H0: the false-positive rate when the shares are
    equal, the power when they differ."""
    mean_orders_per_arm: float
    """Orders per arm used on average (an experiment stops at its first rejection)."""
    stopped_early: float
    """Share of experiments that stopped before the last look."""


def operating_characteristics(
    boundary: Boundary,
    p_control: float,
    p_treatment: float,
    n_per_arm: int,
    n_sims: int = 10_000,
    seed: int = SEED,
) -> OperatingCharacteristics:
    """Run ``boundary`` on ``n_sims`` simulated experiments of at most ``n_per_arm`` orders."""
    rng = np.random.default_rng(seed)
    z_paths = simulate_z_paths(p_control, p_treatment, n_per_arm, boundary.n_looks, n_sims, rng)
    crossing = first_crossing(z_paths, boundary.critical_values)
    sizes = _look_sizes(n_per_arm, boundary.n_looks)
    used = np.where(crossing >= 0, sizes[crossing], n_per_arm)
    return OperatingCharacteristics(
        rejection_rate=float(np.mean(crossing >= 0)),
        mean_orders_per_arm=float(used.mean()),
        stopped_early=float(np.mean((crossing >= 0) & (crossing < boundary.n_looks - 1))),
    )


def compare_designs(
    p_control: float,
    p_treatment: float,
    n_per_arm: int,
    n_looks: int = 10,
    alpha: float = 0.05,
    n_sims: int = 10_000,
    seed: int = SEED,
) -> pd.DataFrame:
    """Fixed horizon vs peeking vs sequential designs, on the same maximum sample.

    One row per design (fixed horizon; naive peeking, Pocock and O'Brien-Fleming with
    ``n_looks`` looks): the A/A false-positive rate (both arms ``p_control``), the power
    on the effect ``p_control → p_treatment`` and the average orders per arm used then.
    The A/A and the effect experiments are separate simulations (seeds ``seed`` and
    ``seed + 1``); the sequential boundaries are calibrated on normal paths (``seed + 2``).
    """
    designs = {
        "фиксированный горизонт": Boundary.fixed(alpha),
        f"подглядывание ×{n_looks}": Boundary.naive(n_looks, alpha),
        f"Pocock ×{n_looks}": calibrate_boundary(n_looks, alpha, POCOCK, seed=seed + 2),
        f"O'Brien-Fleming ×{n_looks}": calibrate_boundary(
            n_looks, alpha, OBRIEN_FLEMING, seed=seed + 2
        ),
    }
    rows = []
    for name, boundary in designs.items():
        null = operating_characteristics(boundary, p_control, p_control, n_per_arm, n_sims, seed)
        effect = operating_characteristics(
            boundary, p_control, p_treatment, n_per_arm, n_sims, seed + 1
        )
        rows.append({
            "design": name,
            "looks": boundary.n_looks,
            "final_critical_z": float(boundary.critical_values[-1]),
            "false_positive_rate": null.rejection_rate,
            "power": effect.rejection_rate,
            "mean_orders_per_arm": effect.mean_orders_per_arm,
        })  # fmt: skip
    return pd.DataFrame(rows)
