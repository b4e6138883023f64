"""A small load generator for the service: N concurrent clients for a fixed time.

``load_test(url, bodies, concurrency=8, duration_s=3.0)`` runs a *closed loop*: each of
``concurrency`` asyncio tasks sends a pre-encoded body to ``POST /predict``, waits for the
whole answer and sends the next one, until the time is up (an httpx ``AsyncClient`` with
one keep-alive connection per task). Requests during the first ``warmup_s`` seconds are
sent but not counted. On a busy machine a window can pass before the first answer comes
back; then the clients go on until ``min_requests`` answers are counted (or
``max_duration_s`` has passed), so a figure is never a rate of zero answers. The result
has requests/s, latency percentiles, the status codes and how much CPU the generator
itself used: on a small machine the client competes with the server for the same cores,
and that belongs in the reading of any throughput figure.

Used by notebook 07 (throughput vs uvicorn workers) and ``benchmarks/serving.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np

from mlops_course.serving.settings import PREDICT_PATH

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class LoadResult:
    """What one load test measured (only requests sent after the warm-up count)."""

    latencies_s: np.ndarray = field(repr=False)
    """Seconds from sending to the end of the answer, per counted request (any status)."""
    statuses: Counter
    """HTTP status code -> number of counted requests; ``"error"`` for transport errors."""
    elapsed_s: float
    """Length of the counted window."""
    concurrency: int
    client_cpu_s: float
    """CPU seconds this process (the load generator) used during the counted window."""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def errors(self) -> int:
        return self.requests - self.ok

    @property
    def requests_per_s(self) -> float:
        """Successful answers per second of the counted window."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def latency_ms(self, percentile: float) -> float:
        if self.latencies_s.size == 0:
            return float("nan")
        return float(np.percentile(self.latencies_s, percentile) * 1e3)

    def summary(self) -> dict[str, float]:
        """One row for a table: requests/s, p50/p99 in ms, errors, the client's CPU share."""
        return {
            "requests": self.requests,
            "requests_per_s": self.requests_per_s,
            "p50_ms": self.latency_ms(50),
            "p99_ms": self.latency_ms(99),
            "errors": self.errors,
            "client_cpu_share": self.client_cpu_s / self.elapsed_s if self.elapsed_s else 0.0,
        }


async def run_load(
    url: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int = 8,
    duration_s: float = 3.0,
    warmup_s: float = 0.5,
    min_requests: int = 20,
    max_duration_s: float | None = None,
    path: str = PREDICT_PATH,
    timeout_s: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> LoadResult:
    """The closed-loop load test as a coroutine (``load_test`` runs it from sync code).

    ``transport`` replaces the network (tests pass an ``httpx.MockTransport``).
    ``max_duration_s`` (default: ten windows) bounds how long ``min_requests`` may extend
    the counted window.
    """
    if concurrency < 1 or duration_s <= 0 or warmup_s < 0 or min_requests < 0 or not bodies:
        raise ValueError(
            "нужны concurrency ≥ 1, duration_s > 0, warmup_s ≥ 0, min_requests ≥ 0 "
            "и хотя бы одно тело"
        )
    max_duration_s = 10 * duration_s if max_duration_s is None else max_duration_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    statuses: Counter = Counter()
    start = time.perf_counter()
    counted_from, stop_at = start + warmup_s, start + warmup_s + duration_s
    give_up_at = counted_from + max(max_duration_s, duration_s)
    cpu_at_start: list[float] = []

    async def mark_counted_window() -> None:
        await asyncio.sleep(max(counted_from - time.perf_counter(), 0.0))
        cpu_at_start.append(time.process_time())

    def keep_sending(now: float) -> bool:
        if now < stop_at:
            return True
        return len(latencies) < min_requests and now < give_up_at

    async def client_task(http: httpx.AsyncClient, index: int) -> None:
        sent = index
        while keep_sending(sent_at := time.perf_counter()):
            body = bodies[sent % len(bodies)]
            sent += concurrency
            try:
                response = await http.post(path, content=body, headers=JSON_HEADERS)
                await response.aread()
                status: int | str = response.status_code
            except httpx.HTTPError:
                status = "error"
            if sent_at >= counted_from:
                latencies.append(time.perf_counter() - sent_at)
                statuses[status] += 1

    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=timeout_s, transport=transport
    ) as http:
        await asyncio.gather(
            mark_counted_window(), *(client_task(http, i) for i in range(concurrency))
        )
    ended = time.perf_counter()
    cpu_used = time.process_time() - cpu_at_start[0] if cpu_at_start else 0.0
    return LoadResult(
        latencies_s=np.asarray(latencies),
        statuses=statuses,
        elapsed_s=max(ended - counted_from, 0.0),
        concurrency=concurrency,
        client_cpu_s=cpu_used,
    )


def load_test(url: str, bodies: Sequence[bytes], **options) -> LoadResult:
    """Run ``run_load`` to the end from synchronous code, a notebook cell included.

    A Jupyter kernel already runs an event loop in its main thread, where ``asyncio.run``
    refuses to start; then the test runs in a thread with its own loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_load(url, bodies, **options))
    outcome: dict[str, object] = {}

    def in_thread() -> None:
        try:
            outcome["result"] = asyncio.run(run_load(url, bodies, **options))
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=in_thread, name="load-test")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
