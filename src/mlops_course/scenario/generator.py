"""The scenario «Опоздает ли доставка?»: a seeded generator of food-delivery orders.

Every order is drawn from a documented process, so each lesson can change one part
of it and measure the effect:

* ``Conditions`` say how the features are distributed, P(X): weather, temperature,
  districts, courier load, order values. Changing them is *data (covariate) drift*.
* ``GroundTruth`` says how features turn into lateness, P(y | X): ``is_late ~
  Bernoulli(sigmoid(late_logit))`` (the Bernoulli draw is the label noise), with

  ``logit = intercept + w_distance * distance_km + w_prep * (prep_time_min - 15)
  + w_load * courier_load + (w_overload + w_peak_overload * is_peak) * overload
  + w_peak * is_peak + weather_effect[weather] + w_snow_distance * is_snow * distance_km
  + w_frost * frost + district_effect[district]``,

  where ``overload = max(courier_load - load_capacity, 0)`` and ``frost = max(-temperature_c,
  0)``. Changing the ground truth (``ROUTING_CHANGE``) is *concept drift*.

The terms are mechanisms a dispatcher would name, and several of them are nearly
invisible in ordinary (spring) data, so a model trained there can be right for spring
and wrong later:

* **Courier load saturates.** A courier's bag and route take ``load_capacity`` = 4 orders
  in one trip; every order beyond waits for a second trip (``w_overload``, worse in peak
  traffic: ``w_peak_overload``). Normally the dispatcher never assigns more than four
  (``Conditions.courier_load_max``), so the reference data has *no* overloaded courier
  and no model can learn the jump from it; the ``peak_load`` scenario lifts the cap.
* **Frost slows couriers** below 0 °C (``w_frost`` per degree: ice, slow bikes), and
  **snow makes each km slower** (``w_snow_distance``). Spring has a few frosty or snowy
  orders; winter is mostly them.
* **An unknown district** (``unknown_district_effect``): couriers do not know the
  addresses yet. A model has never seen the category.
* ``order_value`` has no effect at all, and ``temperature_c`` only below zero: a
  campaign that doubles the basket is harmless drift.

A linear model in the raw features (the course's logistic regression, with ``hour`` as a
number) cannot express the peak hours, the kinks or the interactions exactly; it fits
them well where the training data is, and extrapolates them wrongly where it is not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_course.config import (
    CATEGORICAL_FEATURES,
    ID_COLUMN,
    NUMERIC_FEATURES,
    SEED,
    TARGET,
    TIME_COLUMN,
)

COLUMNS = [ID_COLUMN, TIME_COLUMN, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES, TARGET]
WEATHER = ("clear", "rain", "snow", "fog")
DISTRICTS = ("center", "north", "south", "east", "west")
PEAK_HOURS = (12, 13, 18, 19, 20)
# Orders per hour of the day: quiet nights, a lunch peak and a bigger dinner peak.
HOURLY_PROFILE = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2, 2.5, 3, 4, 6, 6, 4, 3, 3.5, 5, 7, 8, 7, 5, 3, 2]
)


@dataclass(frozen=True)
class Conditions:
    """How the features are distributed: P(X)."""

    weather_probs: dict[str, float] = field(
        default_factory=lambda: {"clear": 0.65, "rain": 0.25, "snow": 0.02, "fog": 0.08}
    )
    temperature_mean: float = 12.0
    temperature_std: float = 7.0
    district_probs: dict[str, float] = field(
        default_factory=lambda: {
            "center": 0.30,
            "north": 0.20,
            "south": 0.20,
            "east": 0.15,
            "west": 0.15,
        }
    )
    distance_median_km: float = 3.0
    courier_load_base: float = 1.5
    courier_load_peak: float = 1.5
    courier_load_max: int = 4
    """The dispatcher's cap: normally no courier carries more than this many orders."""
    order_value_median: float = 1200.0


@dataclass(frozen=True)
class GroundTruth:
    """How features turn into lateness: P(y | X), a logistic model with kinks and interactions.

    Every term is a mechanism a dispatcher would recognise; see the module docstring.
    """

    intercept: float = -6.4
    w_distance: float = 0.7
    """Per km of the trip."""
    w_prep: float = 0.12
    """Per minute the kitchen needs beyond 15."""
    w_load: float = 0.2
    """Per order the courier carries (each is one more stop)."""
    load_capacity: int = 4
    """Orders a courier's bag and route take in one trip (the dispatcher's usual cap)."""
    w_overload: float = 1.0
    """Per order beyond ``load_capacity``: it waits for a second trip."""
    w_peak_overload: float = 0.5
    """Per order beyond capacity *at a peak hour*, on top: the second trip is in traffic."""
    w_peak: float = 0.7
    """Lunch and dinner traffic (``PEAK_HOURS``)."""
    weather_effect: dict[str, float] = field(
        default_factory=lambda: {"clear": 0.0, "rain": 0.7, "snow": 0.3, "fog": 0.5}
    )
    w_snow_distance: float = 0.3
    """Per km of the trip in snow, on top of ``weather_effect["snow"]``: slow, snowy roads."""
    w_frost: float = 0.22
    """Per degree below 0 °C: ice on roads and pavements, slow bikes and scooters."""
    district_effect: dict[str, float] = field(
        default_factory=lambda: {
            "center": 0.5,
            "north": 0.0,
            "south": 0.1,
            "east": -0.1,
            "west": 0.0,
        }
    )
    unknown_district_effect: float = 1.2
    """A district the couriers do not know yet: unfamiliar addresses, no known shortcuts."""


BASE_CONDITIONS = Conditions()
BASE_TRUTH = GroundTruth()
# A new routing system: routes are optimised, so long trips are no longer the problem, but
# it batches orders, so every order a courier carries (one more stop) matters five times more.
ROUTING_CHANGE = replace(
    BASE_TRUTH, intercept=-5.6, w_distance=0.1, w_snow_distance=0.1, w_load=1.0
)


def _draw_category(rng: np.random.Generator, probs: dict[str, float], n: int) -> np.ndarray:
    names = np.array(list(probs), dtype=object)
    weights = np.array(list(probs.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=weights / weights.sum())]


def late_logit(features: pd.DataFrame, truth: GroundTruth = BASE_TRUTH) -> np.ndarray:
    """The log-odds of being late under the given ground truth (see the module docstring)."""
    is_peak = features["hour"].isin(PEAK_HOURS).to_numpy()
    weather = features["weather"]
    is_snow = (weather == "snow").to_numpy()
    weather_effect = weather.map(truth.weather_effect).fillna(0.0).to_numpy()
    district = (
        features["district"].map(truth.district_effect).fillna(truth.unknown_district_effect)
    ).to_numpy()
    distance = features["distance_km"].to_numpy()
    load = features["courier_load"].to_numpy()
    overload = np.maximum(load - truth.load_capacity, 0)
    frost = np.maximum(-features["temperature_c"].to_numpy(), 0.0)
    return (
        truth.intercept
        + truth.w_distance * distance
        + truth.w_prep * (features["prep_time_min"].to_numpy() - 15.0)
        + truth.w_load * load
        + (truth.w_overload + truth.w_peak_overload * is_peak) * overload
        + truth.w_peak * is_peak
        + weather_effect
        + truth.w_snow_distance * is_snow * distance
        + truth.w_frost * frost
        + district
    )


def late_probability(features: pd.DataFrame, truth: GroundTruth = BASE_TRUTH) -> np.ndarray:
    """P(is_late = 1 | features) under the given ground truth: ``sigmoid(late_logit)``."""
    return 1.0 / (1.0 + np.exp(-late_logit(features, truth)))


def _check_window(start: str | pd.Timestamp, days: float) -> pd.Timestamp:
    """The start as a timestamp, after checking it is a date and ``days`` whole days."""
    start = pd.Timestamp(start)
    if start != start.normalize():
        raise ValueError(
            f"start должен быть датой без времени (полночь), а не {start}: час заказа "
            "берётся из суточного профиля и должен совпадать с часом в timestamp."
        )
    if not (float(days).is_integer() and days >= 1):
        raise ValueError(f"days должно быть целым числом дней ≥ 1, а не {days}.")
    return start


def generate_orders(
    n: int,
    seed: int = SEED,
    *,
    start: str | pd.Timestamp = "2025-03-03",
    days: float = 7.0,
    conditions: Conditions = BASE_CONDITIONS,
    truth: GroundTruth = BASE_TRUTH,
    first_id: int = 1,
) -> pd.DataFrame:
    """Generate ``n`` orders placed during ``days`` days from ``start``, sorted by time.

    ``start`` is a date (midnight) and ``days`` a whole number of days, because each
    order's hour of the day is drawn from ``HOURLY_PROFILE`` and must equal
    ``timestamp.hour``; anything else raises ``ValueError``.

    Same arguments -> identical frame (and identical bytes from ``save_orders``).

    Row pairing: the same seed under other ``conditions`` or ``truth`` gives the "same
    orders" only for some changes. New means or weights of existing categories (the
    winter, marketing_campaign and routing_change scenarios) change just those columns
    (and ``is_late``). A new district redraws ``district`` for most rows, not only the
    ones that move to it. A new courier-load rate (peak_load) makes the Poisson draw
    consume a different amount of the random stream, so ``order_value`` and
    ``district`` change too. Do not compare such frames row by row.
    """
    start = _check_window(start, days)
    rng = np.random.default_rng(seed)
    day = rng.integers(0, int(days), size=n)
    hour = rng.choice(24, size=n, p=HOURLY_PROFILE / HOURLY_PROFILE.sum())
    second = rng.integers(0, 3600, size=n)
    offsets = day * 86_400 + hour * 3600 + second
    order = np.argsort(offsets, kind="stable")
    offsets, hour = offsets[order], hour[order]
    timestamp = start + pd.to_timedelta(offsets, unit="s")

    weather = _draw_category(rng, conditions.weather_probs, n)
    temperature = rng.normal(conditions.temperature_mean, conditions.temperature_std, size=n)
    temperature = np.where(weather == "snow", np.minimum(temperature, -1.0), temperature)
    is_peak = np.isin(hour, PEAK_HOURS)
    load_rate = conditions.courier_load_base + conditions.courier_load_peak * is_peak

    frame = pd.DataFrame(
        {
            ID_COLUMN: np.arange(first_id, first_id + n, dtype=np.int64),
            TIME_COLUMN: timestamp,
            "distance_km": np.clip(
                rng.lognormal(np.log(conditions.distance_median_km), 0.6, size=n), 0.2, 30.0
            ).round(2),
            "prep_time_min": np.clip(rng.gamma(4.0, 4.0, size=n), 2.0, 90.0).round(1),
            "courier_load": np.minimum(rng.poisson(load_rate), conditions.courier_load_max).astype(
                np.int64
            ),
            "hour": hour.astype(np.int64),
            "weekday": timestamp.weekday.to_numpy().astype(np.int64),
            "temperature_c": temperature.round(1),
            "order_value": np.clip(
                rng.lognormal(np.log(conditions.order_value_median), 0.5, size=n), 150.0, 20_000.0
            ).round(0),
            "weather": weather,
            "district": _draw_category(rng, conditions.district_probs, n),
        }
    )
    frame[TARGET] = (rng.random(n) < late_probability(frame, truth)).astype(np.int64)
    return frame[COLUMNS]


def save_orders(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write orders as CSV with a fixed format, so equal frames give equal bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S", lineterminator="\n")
    return path


def load_orders(path: str | Path) -> pd.DataFrame:
    """Read orders written by ``save_orders`` (timestamps parsed)."""
    return pd.read_csv(path, parse_dates=[TIME_COLUMN])


def frame_hash(frame: pd.DataFrame) -> str:
    """A short content hash of a frame (values, column names and order), for versioning."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]
