"""Measuring how cost grows with work (notebook 07 «Масштабируемость»).

* ``median_seconds(call, repeat)`` — the median wall time of a call (a noisy neighbour on a
  2-core machine hits one repeat, not the median);
* ``scaling_table(call, sizes, repeat)`` — seconds per size, ready for a log–log plot;
* ``fit_exponent(sizes, seconds)`` — the slope of log(time) against log(size): time ∝ size^k;
* ``loglog`` — points, the fitted line and its exponent on a log–log axis;
* ``amdahl_speedup`` / ``parallel_share`` — Amdahl's law both ways;
* ``throughput_rounds`` — load tests of several running services, interleaved round by
  round (noise from a neighbour hits all of them alike), with the CPU each one used;
* ``late_logit_row_loop`` — the generator's ground truth written as a Python row loop, the
  slow twin of ``scenario.generator.late_logit`` (same numbers, one row at a time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mlops_course.scenario.generator import BASE_TRUTH, PEAK_HOURS, GroundTruth

if TYPE_CHECKING:
    from mlops_course.serving.background import BackgroundService


def median_seconds(call: Callable[[], object], repeat: int = 3) -> float:
    """Median wall-clock seconds of ``call()`` over ``repeat`` runs."""
    if repeat < 1:
        raise ValueError(f"repeat должен быть ≥ 1, получено {repeat}")
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return float(np.median(timings))


def scaling_table(
    call: Callable[[int], object], sizes: Sequence[int], repeat: int = 3
) -> pd.Series:
    """Median seconds of ``call(size)`` for each size (index: size)."""
    seconds = [median_seconds(lambda size=size: call(size), repeat) for size in sizes]
    return pd.Series(seconds, index=pd.Index(list(sizes), name="size"), name="seconds")


def fit_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """``k`` in time ≈ c · size^k: least-squares slope of log(seconds) on log(size).

    k ≈ 1 — linear (twice the data, twice the time); k ≈ 0 — a fixed cost dominates;
    k ≈ 2 — quadratic.
    """
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float))
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError("нужно хотя бы два разных размера")
    return float(np.polyfit(x, y, 1)[0])


def loglog(
    ax: plt.Axes,
    table: pd.Series,
    label: str,
    *,
    fit_from: float | None = None,
    fit_to: float | None = None,
    color: str | None = None,
    marker: str = "o",
) -> float:
    """Plot ``table`` (seconds by size) on log–log axes with its fitted line; return ``k``.

    Only sizes in [``fit_from``, ``fit_to``] are fitted (the fixed cost of small sizes
    bends the curve); all are plotted.
    """
    low = table.index.min() if fit_from is None else fit_from
    high = table.index.max() if fit_to is None else fit_to
    fitted = table[(table.index >= low) & (table.index <= high)]
    k = fit_exponent(fitted.index, fitted.to_numpy())
    (points,) = ax.plot(table.index, table.to_numpy(), marker, color=color, label=None)
    intercept = np.mean(np.log(fitted.to_numpy()) - k * np.log(fitted.index.to_numpy(float)))
    xs = np.geomspace(fitted.index.min(), fitted.index.max(), 20)
    line = np.exp(intercept) * xs**k
    ax.plot(xs, line, "-", color=points.get_color(), label=f"{label}: k = {k:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    return k


def amdahl_speedup(parallel_share: float, workers: float) -> float:
    """Amdahl's law: speed-up with ``workers`` when ``parallel_share`` of the work splits."""
    if not 0.0 <= parallel_share <= 1.0 or workers < 1:
        raise ValueError("parallel_share в [0, 1], workers ≥ 1")
    return 1.0 / ((1.0 - parallel_share) + parallel_share / workers)


def parallel_share(speedup: float, workers: float) -> float:
    """The share of the work that ran in parallel, from a measured speed-up (Amdahl inverted).

    Clipped to [0, 1]: noise can make a measured speed-up slightly below 1 or above ``workers``.
    """
    if workers <= 1:
        raise ValueError("нужно workers > 1")
    share = (1.0 - 1.0 / speedup) / (1.0 - 1.0 / workers)
    return min(max(share, 0.0), 1.0)


def amdahl_ceiling(parallel_share: float) -> float:
    """The speed-up with unlimited workers: 1 / (serial share); infinite if nothing is serial."""
    serial = 1.0 - parallel_share
    return math.inf if serial <= 0 else 1.0 / serial


def throughput_rounds(
    services: Mapping[str, BackgroundService],
    bodies: Sequence[bytes],
    rounds: int = 3,
    **load_options: object,
) -> pd.DataFrame:
    """One row per (round, service): ``load_test`` summary plus the cores it kept busy.

    ``server_cores`` is the CPU time of the server's processes per second of the test,
    ``client_cores`` the same for the load generator (this process): their sum cannot
    exceed the machine's cores.
    """
    from mlops_course.serving.load_test import load_test

    rows = []
    for round_index in range(rounds):
        for name, service in services.items():
            cpu_before = service.cpu_seconds()
            result = load_test(service.url, bodies, **load_options)
            server_cores = (service.cpu_seconds() - cpu_before) / (
                result.elapsed_s + float(load_options.get("warmup_s", 0.5))
            )
            summary = result.summary()
            rows.append(
                {
                    "round": round_index,
                    "service": name,
                    **summary,
                    "server_cores": server_cores,
                    "client_cores": summary["client_cpu_share"],
                }
            )
    return pd.DataFrame(rows).drop(columns="client_cpu_share")


def late_logit_row_loop(frame: pd.DataFrame, truth: GroundTruth = BASE_TRUTH) -> np.ndarray:
    """``generator.late_logit`` computed one order at a time in plain Python.

    Deliberately the way a first version is often written; it gives the same numbers.
    """
    peak_hours = set(PEAK_HOURS)
    out = np.empty(len(frame))
    columns = ["distance_km", "prep_time_min", "courier_load", "hour", "temperature_c"]
    rows = frame[[*columns, "weather", "district"]].itertuples(index=False)
    for i, (distance, prep, load, hour, temperature, weather, district) in enumerate(rows):
        peak = hour in peak_hours
        overload = max(load - truth.load_capacity, 0)
        out[i] = (
            truth.intercept
            + truth.w_distance * distance
            + truth.w_prep * (prep - 15.0)
            + truth.w_load * load
            + (truth.w_overload + truth.w_peak_overload * peak) * overload
            + truth.w_peak * peak
            + truth.weather_effect.get(weather, 0.0)
            + truth.w_snow_distance * (weather == "snow") * distance
            + truth.w_frost * max(-temperature, 0.0)
            + truth.district_effect.get(district, truth.unknown_district_effect)
        )
    return out
