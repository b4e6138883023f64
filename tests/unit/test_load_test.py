"""The load generator: closed loop, counted window, statuses, percentiles (no real server)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from mlops_course.serving.load_test import LoadResult, load_test, run_load

BODIES = [b'{"order_id": [1]}', b'{"order_id": [2]}', b"broken"]


def fake_service(seen: list[bytes], in_flight: list[int], peak: list[int]):
    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await asyncio.sleep(0.002)
        in_flight[0] -= 1
        seen.append(request.content)
        status = 422 if request.content == b"broken" else 200
        return httpx.Response(status, json={"ok": status == 200})

    return httpx.MockTransport(handler)


def test_closed_loop_counts_every_answer_in_the_window() -> None:
    seen, in_flight, peak = [], [0], [0]
    result = asyncio.run(
        run_load(
            "http://service", BODIES, concurrency=4, duration_s=0.3, warmup_s=0.1,
            transport=fake_service(seen, in_flight, peak),
        )
    )  # fmt: skip
    assert isinstance(result, LoadResult) and result.concurrency == 4
    assert peak[0] == 4  # exactly `concurrency` requests in flight at once
    assert 0 < result.requests < len(seen)  # the warm-up requests were sent, not counted
    assert set(result.statuses) == {200, 422}
    assert result.ok + result.errors == result.requests and result.errors > 0
    assert set(seen) == set(BODIES)  # bodies are cycled
    assert 0.3 <= result.elapsed_s < 3.5  # the window, at most ten windows on a busy machine
    assert result.requests_per_s == pytest.approx(result.ok / result.elapsed_s)
    summary = result.summary()
    assert summary["p50_ms"] <= summary["p99_ms"] and summary["p50_ms"] >= 2.0
    assert 0.0 <= summary["client_cpu_share"] <= 2.0


def test_transport_errors_are_counted_not_raised() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result = asyncio.run(
        run_load("http://x", BODIES[:1], concurrency=2, duration_s=0.05, warmup_s=0.0,
                 transport=httpx.MockTransport(refuse))
    )  # fmt: skip
    assert result.ok == 0 and result.statuses["error"] == result.requests > 0
    assert result.requests_per_s == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        asyncio.run(run_load("http://x", [], duration_s=1))
    with pytest.raises(ValueError):
        asyncio.run(run_load("http://x", BODIES, concurrency=0))


def test_load_test_runs_inside_a_running_event_loop() -> None:
    """A Jupyter kernel has a running loop: load_test must still work (in a thread)."""
    seen = []

    async def inside_a_loop() -> LoadResult:
        return load_test(
            "http://x", BODIES[:1], concurrency=1, duration_s=0.05, warmup_s=0.0,
            transport=fake_service(seen, [0], [0]),
        )  # fmt: skip

    result = asyncio.run(inside_a_loop())
    assert result.ok > 0 and threading.active_count() >= 1
    assert load_test(
        "http://x", BODIES[:1], concurrency=1, duration_s=0.05, warmup_s=0.0,
        transport=fake_service(seen, [0], [0]),
    ).ok > 0  # fmt: skip


def test_a_window_shorter_than_one_answer_still_counts_answers() -> None:
    """On a busy machine the first answers can take longer than the whole window."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json={})

    result = asyncio.run(
        run_load("http://x", BODIES[:1], concurrency=2, duration_s=0.01, warmup_s=0.02,
                 min_requests=6, max_duration_s=2.0, transport=httpx.MockTransport(slow))
    )  # fmt: skip
    assert result.ok >= 6 and result.elapsed_s >= 0.1  # 6 answers, 2 at a time, 0.05 s each
    gave_up = asyncio.run(
        run_load("http://x", BODIES[:1], concurrency=1, duration_s=0.01, warmup_s=0.0,
                 min_requests=1000, max_duration_s=0.2, transport=httpx.MockTransport(slow))
    )  # fmt: skip
    assert 0 < gave_up.ok < 1000 and gave_up.elapsed_s < 0.5
