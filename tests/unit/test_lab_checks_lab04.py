"""lab04 checks accept the reference answers and name exactly the mistake of a wrong one.

The wrong answers live at module level: a check copies a function into an extension file
by its source, as the lab does, so a function must be self-contained to work (one of the
wrong answers below is not, on purpose).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
import time
import warnings
from collections import Counter

import httpx
import numpy as np
import pytest
from prometheus_client import REGISTRY, Gauge, Histogram, Summary

from mlops_course.classroom.checks import CheckFailed, ExerciseNotDone, run_check
from mlops_course.classroom.lab_checks import lab04_serving_monitoring as lab
from mlops_course.serving.load_test import LoadResult, run_load
from mlops_course.serving.schemas import RequestError, field_error

ZONE = 30.0  # a notebook variable: the extension file does not have it


def failed(results) -> str:
    return " ".join(result.message for result in results if not result.passed)


def verdicts(results) -> list[bool]:
    return [result.passed for result in results]


def feedback(check, *args, **kwargs) -> str:
    """What the notebook prints when ``check`` rejects the student's function."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(CheckFailed):
        run_check(check, *args, **kwargs)
    return out.getvalue()


# --- Exercise 1: the rule ------------------------------------------------------------


def right_rule(batch):
    distance = batch.columns["distance_km"]
    far = distance > 30.0
    if far.any():
        row = int(np.argmax(far))
        message = f"distance_km: {distance[row]:g} км в строке {row} — дальше зоны 30 км"
        raise RequestError(422, [field_error("distance_km", "outside_delivery_zone", message)])


def rule_value_error(batch):
    if (batch.columns["distance_km"] > 30).any():
        raise ValueError("distance_km дальше 30 км")


def rule_assert(batch):
    assert (batch.columns["distance_km"] <= 30).all(), "distance_km дальше 30 км"


def rule_http_exception(batch):
    from fastapi import HTTPException  # imported inside: the extension file has no such name

    if (batch.columns["distance_km"] > 30).any():
        raise HTTPException(422, detail="distance_km дальше 30 км")


def rule_status_400(batch):
    if (batch.columns["distance_km"] > 30).any():
        raise RequestError(400, [field_error("distance_km", "zone", "distance_km: дальше 30 км")])


def rule_errors_as_text(batch):
    if (batch.columns["distance_km"] > 30).any():
        raise RequestError(422, "distance_km: дальше 30 км")


def rule_without_field_name(batch):
    if (batch.columns["distance_km"] > 30).any():
        raise RequestError(422, [field_error("distance_km", "zone", "слишком далеко: > 30 км")])


def rule_field_none(batch):
    if (batch.columns["distance_km"] > 30).any():
        raise RequestError(422, [field_error(None, "zone", "distance_km: дальше 30 км")])


def rule_without_limit(batch):
    if (batch.columns["distance_km"] > 30).any():
        raise RequestError(422, [field_error("distance_km", "zone", "distance_km: слишком далеко")])


def rule_first_row_only(batch):
    if batch.columns["distance_km"][0] > 30:
        raise RequestError(422, [field_error("distance_km", "zone", "distance_km: дальше 30 км")])


def rule_edge_excluded(batch):
    if (batch.columns["distance_km"] >= 30).any():
        raise RequestError(422, [field_error("distance_km", "zone", "distance_km: от 30 км")])


def rule_limit_too_far(batch):
    if (batch.columns["distance_km"] > 40).any():
        raise RequestError(422, [field_error("distance_km", "zone", "distance_km: дальше 40 км")])


def rule_returns_verdict(batch):
    return not (batch.columns["distance_km"] > 30).any()


def rule_clips(batch):
    np.minimum(batch.columns["distance_km"], 30.0, out=batch.columns["distance_km"])


def rule_uses_notebook_variable(batch):
    if (batch.columns["distance_km"] > ZONE).any():
        raise RequestError(422, [field_error("distance_km", "zone", "distance_km: дальше 30 км")])


def rule_refuses_everything(batch):
    raise RequestError(422, [field_error("distance_km", "zone", "distance_km: дальше 30 км")])


def test_check_rule_accepts_the_reference_rule() -> None:
    results = lab.check_rule(right_rule)
    assert all(verdicts(results)) and len(results) == 4
    assert "distance_km: 45 км в строке 3" in results[2].message


@pytest.mark.parametrize(
    ("rule", "hint"),
    [
        (
            rule_value_error,
            "правило подняло ValueError: «distance_km дальше 30 км» — сервис ответит 500",
        ),
        (rule_assert, "правило подняло AssertionError"),
        (rule_errors_as_text, "RequestError получил str вместо списка ошибок"),
        (rule_http_exception, "HTTPException(422) отвечает строкой detail без поля"),
        (rule_status_400, "статус 400, а для ошибки в данных сервис отвечает 422"),
        (rule_first_row_only, "проверяются не все строки"),
        (rule_limit_too_far, "заказ 30.5 км принят, а 45 км — отклонён"),
        (rule_returns_verdict, "правило вернуло False, но сервис не смотрит на return"),
        (rule_clips, "правило изменило данные запроса"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_check_rule_names_why_an_order_beyond_the_zone_is_not_refused(rule, hint) -> None:
    results = lab.check_rule(rule)
    # Orders inside the zone are answered: only the refusal verdict fails, with its hint.
    assert verdicts(results) == [True, False], failed(results)
    assert hint in results[1].message
    other_hints = ["проверяются не все строки", "изменило данные", "не смотрит на return"]
    assert [h for h in other_hints if h in results[1].message and h not in hint] == []


def test_check_rule_names_a_message_without_the_field_or_the_limit() -> None:
    no_name = lab.check_rule(rule_without_field_name)
    assert verdicts(no_name) == [True, True, False, True]
    assert "нет имени поля distance_km" in no_name[2].message
    no_field = lab.check_rule(rule_field_none)
    assert verdicts(no_field) == [True, True, False, True]
    assert "field = None" in no_field[2].message
    no_limit = lab.check_rule(rule_without_limit)
    assert verdicts(no_limit) == [True, True, True, False]
    assert "нет границы зоны" in no_limit[3].message


def test_check_rule_names_a_rule_that_refuses_orders_inside_the_zone() -> None:
    edge = lab.check_rule(rule_edge_excluded)
    assert verdicts(edge) == [False, True, True, True]
    assert "заказ ровно 30 км отклонён" in edge[0].message
    everything = lab.check_rule(rule_refuses_everything)
    assert not everything[0].passed and "правило слишком строгое" in everything[0].message
    assert "ровно 30" not in failed(everything)


def test_a_rule_that_needs_a_notebook_variable_is_named_in_one_line() -> None:
    printed = feedback(lab.check_rule, rule_uses_notebook_variable)
    assert "имени «ZONE» нет в файле расширения" in printed
    assert printed.count("✗") == 1 and "Traceback" not in printed


def stub_rule(batch):
    raise NotImplementedError("Упражнение не выполнено: сравните весь столбец")


def test_an_unfinished_rule_is_reported_as_not_done() -> None:
    with pytest.raises(ExerciseNotDone, match="функция stub_rule ещё не написана"):
        run_check(lab.check_rule, stub_rule)


# --- Exercise 2: the metric ----------------------------------------------------------


def right_metrics(registry):
    histogram = Histogram(
        "prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry
    )

    def observe(batch, probability):
        for p in probability:
            histogram.observe(p)

    return observe


def metrics_in_global_registry(registry):
    histogram = Histogram("prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9))

    def observe(batch, probability):
        for p in probability:
            histogram.observe(p)

    return observe


def metrics_counter(registry):
    from prometheus_client import Counter  # as in the extension file: Prometheus's Counter

    counter = Counter("prediction_probability", "p", registry=registry)

    def observe(batch, probability):
        counter.inc(float(probability.sum()))

    return observe


def metrics_gauge(registry):
    gauge = Gauge("prediction_probability", "p", registry=registry)
    return lambda batch, probability: gauge.set(float(probability[-1]))


def metrics_summary(registry):
    summary = Summary("prediction_probability", "p", registry=registry)

    def observe(batch, probability):
        for p in probability:
            summary.observe(p)

    return observe


def metrics_other_name(registry):
    histogram = Histogram(
        "late_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry
    )
    return lambda batch, probability: [histogram.observe(p) for p in probability]


def metrics_never_observed(registry):
    Histogram("prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry)
    return lambda batch, probability: None


def metrics_per_request(registry):
    histogram = Histogram(
        "prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry
    )
    return lambda batch, probability: histogram.observe(float(probability.mean()))


def metrics_of_labels(registry):
    histogram = Histogram(
        "prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry
    )

    def observe(batch, probability):
        for p in probability:
            histogram.observe(int(p >= 0.5))

    return observe


def metrics_default_buckets(registry):
    histogram = Histogram("prediction_probability", "p", registry=registry)

    def observe(batch, probability):
        for p in probability:
            histogram.observe(p)

    return observe


def metrics_created_per_request(registry):
    def observe(batch, probability):
        histogram = Histogram(
            "prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry
        )
        for p in probability:
            histogram.observe(p)

    return observe


def metrics_whole_array(registry):
    histogram = Histogram(
        "prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry
    )
    return lambda batch, probability: histogram.observe(probability)


def metrics_returns_nothing(registry):
    Histogram("prediction_probability", "p", buckets=(0.1, 0.3, 0.5, 0.7, 0.9), registry=registry)


def test_check_metric_accepts_the_reference_metric() -> None:
    results = lab.check_metric(right_metrics)
    assert all(verdicts(results)) and len(results) == 3
    assert "55 наблюдений, сумма и корзины сходятся" in results[2].message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (metrics_in_global_registry, "метрика создана без registry=registry"),
        (metrics_counter, "prediction_probability — это counter, а нужна гистограмма"),
        (metrics_gauge, "это gauge"),
        (metrics_summary, "это summary"),
        (metrics_other_name, "в реестре сервиса метрики late_probability, а нужна"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_check_metric_names_a_metric_the_service_would_not_show(answer, hint) -> None:
    results = lab.check_metric(answer)
    assert verdicts(results) == [False] and hint in results[0].message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (metrics_never_observed, "observe не обновляет гистограмму"),
        (metrics_per_request, "одно наблюдение на запрос"),
        (metrics_of_labels, "наблюдается метка 0/1"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_check_metric_names_what_observe_got_wrong(answer, hint) -> None:
    results = lab.check_metric(answer)
    assert verdicts(results) == [True, True, False]
    assert hint in results[2].message
    assert sum(h in results[2].message for h in ["не обновляет", "на запрос", "метка 0/1"]) == 1


def test_check_metric_names_latency_buckets_only_when_they_are_used() -> None:
    results = lab.check_metric(metrics_default_buckets)
    assert verdicts(results) == [True, False, True]
    assert "границы корзин по умолчанию" in results[1].message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (metrics_created_per_request, "метрика создаётся внутри observe"),
        (metrics_whole_array, "Массив probability использован как одно число"),
        (metrics_returns_nothing, "функция ничего не вернула (None)"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_metric_that_breaks_in_the_service_gets_one_hint(answer, hint) -> None:
    printed = feedback(lab.check_metric, answer)
    assert hint in printed and printed.count("✗") == 1 and "Traceback" not in printed


def test_a_global_metric_leaves_nothing_behind_so_the_check_can_run_again() -> None:
    before = set(REGISTRY._collector_to_names)
    for _ in range(2):  # a second run would meet «Duplicated timeseries» otherwise
        assert "без registry=registry" in failed(lab.check_metric(metrics_in_global_registry))
    assert set(REGISTRY._collector_to_names) == before


# --- The live service ----------------------------------------------------------------


@pytest.fixture(scope="module")
def served_model():
    """A small model served as is: how the service loads it (MLflow) is not under test."""
    from mlops_course.model.train import train_model
    from mlops_course.scenario.generator import generate_orders
    from mlops_course.serving.router import ServedModel

    return ServedModel(train_model(generate_orders(600, 1), seed=1), "late", "1", "memory")


@pytest.fixture
def live_results(served_model, monkeypatch, tmp_path):
    """``check_live_service`` on the real app with an extension made from ``hooks``."""
    from mlops_course.serving import app
    from mlops_course.serving.settings import ServingSettings

    with warnings.catch_warnings():  # starlette warns that its TestClient still uses httpx
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    monkeypatch.setattr(app, "load_served_model", lambda uri, tracking_uri: served_model)

    def run(**hooks) -> list:
        extension = lab.write_extension(tmp_path / "extension.py", **hooks) if hooks else None
        settings = ServingSettings(
            model_uri="memory", log_path=tmp_path / "log.sqlite", extension=extension
        )
        with TestClient(app.create_app(settings), raise_server_exceptions=False) as client:
            return lab.check_live_service("http://testserver", http=client)

    return run


def test_check_live_service_accepts_the_reference_extension(live_results) -> None:
    results = live_results(validate=right_rule, create_metrics=right_metrics)
    assert all(verdicts(results)) and len(results) == 4, failed(results)
    assert 'type="outside_delivery_zone"} +1' in results[3].message


def test_check_live_service_names_a_service_started_without_the_extension(live_results) -> None:
    results = live_results()
    assert verdicts(results) == [False] and "без --extension" in results[0].message


def test_check_live_service_names_a_500_and_a_metric_that_does_not_move(live_results) -> None:
    results = live_results(validate=rule_value_error, create_metrics=metrics_never_observed)
    assert verdicts(results) == [True, False, False]
    assert "на заказ 45 км сервис ответил 500" in results[1].message
    assert "prediction_probability_count вырос на 0" in results[2].message


def test_check_live_service_names_a_refusal_that_skips_the_rejection_counter(
    live_results,
) -> None:
    results = live_results(validate=rule_http_exception, create_metrics=right_metrics)
    assert verdicts(results) == [True, False, True]
    assert "сервис ответил 422 «distance_km дальше 30 км», а нужно 422 с полем" in failed(results)


def test_service_processes_lists_this_processs_service_children() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "mlops_course.serving"]
    )
    try:
        assert child.pid in [process.pid for process in lab.service_processes()]
    finally:
        child.terminate()
        child.wait(10)
    assert child.pid not in [process.pid for process in lab.service_processes()]


# --- Exercise 3: the load test -------------------------------------------------------

JSON = {"Content-Type": "application/json"}


async def right_load_test(url, bodies, n_requests, concurrency):
    latencies_ms, statuses = [], Counter()

    async def client(http, first):
        for i in range(first, n_requests, concurrency):
            started = time.perf_counter()
            response = await http.post("/predict", content=bodies[i % len(bodies)])
            latencies_ms.append((time.perf_counter() - started) * 1e3)
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(client(http, k) for k in range(concurrency)))
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"requests": len(latencies_ms), "statuses": dict(statuses),
            "latencies_ms": latencies_ms, "p50_ms": float(p50), "p99_ms": float(p99)}  # fmt: skip


async def sequential_load_test(url, bodies, n_requests, concurrency):
    latencies_ms, statuses = [], Counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for i in range(n_requests):
            started = time.perf_counter()
            response = await http.post("/predict", content=bodies[i % len(bodies)])
            latencies_ms.append((time.perf_counter() - started) * 1e3)
            statuses[response.status_code] += 1
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"requests": n_requests, "statuses": dict(statuses),
            "latencies_ms": latencies_ms, "p50_ms": p50, "p99_ms": p99}  # fmt: skip


async def everything_at_once_load_test(url, bodies, n_requests, concurrency):
    """All requests launched together: the client's own queue is measured as latency."""
    latencies_ms, statuses = [], Counter()
    limits = httpx.Limits(max_connections=concurrency)

    async def one(http, i):
        started = time.perf_counter()
        response = await http.post("/predict", content=bodies[i % len(bodies)])
        latencies_ms.append((time.perf_counter() - started) * 1e3)
        statuses[response.status_code] += 1

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(*(one(http, i) for i in range(n_requests)))
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"requests": n_requests, "statuses": dict(statuses),
            "latencies_ms": latencies_ms, "p50_ms": p50, "p99_ms": p99}  # fmt: skip


async def unbounded_load_test(url, bodies, n_requests, concurrency):
    latencies_ms, statuses = [], Counter()

    async def one(http, i):
        started = time.perf_counter()
        response = await http.post("/predict", content=bodies[i % len(bodies)])
        latencies_ms.append((time.perf_counter() - started) * 1e3)
        statuses[response.status_code] += 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(one(http, i) for i in range(n_requests)))
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"requests": n_requests, "statuses": dict(statuses),
            "latencies_ms": latencies_ms, "p50_ms": p50, "p99_ms": p99}  # fmt: skip


def with_changes(result: dict, **changes) -> dict:
    return {**result, **changes}


async def only_ok_load_test(url, bodies, n_requests, concurrency):
    result = await right_load_test(url, bodies, n_requests, concurrency)
    return with_changes(result, statuses={200: result["requests"]})


async def seconds_load_test(url, bodies, n_requests, concurrency):
    result = await right_load_test(url, bodies, n_requests, concurrency)
    seconds = [value / 1e3 for value in result["latencies_ms"]]
    p50, p99 = np.percentile(seconds, [50, 99])
    return with_changes(result, latencies_ms=seconds, p50_ms=p50, p99_ms=p99)


async def fraction_percentile_load_test(url, bodies, n_requests, concurrency):
    result = await right_load_test(url, bodies, n_requests, concurrency)
    p50, p99 = np.percentile(result["latencies_ms"], [0.5, 0.99])
    return with_changes(result, p50_ms=p50, p99_ms=p99)


async def mean_as_median_load_test(url, bodies, n_requests, concurrency):
    result = await right_load_test(url, bodies, n_requests, concurrency)
    return with_changes(result, p50_ms=float(np.mean(result["latencies_ms"])))


async def raise_for_status_load_test(url, bodies, n_requests, concurrency):
    async with httpx.AsyncClient(base_url=url) as http:
        for i in range(n_requests):
            (await http.post("/predict", content=bodies[i % len(bodies)])).raise_for_status()


async def wrong_path_load_test(url, bodies, n_requests, concurrency):
    result = await right_load_test(url + "/v1", bodies, n_requests, concurrency)
    return result


async def json_body_load_test(url, bodies, n_requests, concurrency):
    latencies_ms, statuses = [], Counter()

    async def client(http, first):
        for i in range(first, n_requests, concurrency):
            started = time.perf_counter()
            response = await http.post("/predict", json=bodies[i % len(bodies)].decode())
            latencies_ms.append((time.perf_counter() - started) * 1e3)
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(base_url=url) as http:
        await asyncio.gather(*(client(http, k) for k in range(concurrency)))
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"requests": n_requests, "statuses": dict(statuses),
            "latencies_ms": latencies_ms, "p50_ms": p50, "p99_ms": p99}  # fmt: skip


def sync_load_test(url, bodies, n_requests, concurrency):
    return {"requests": 0}


async def list_load_test(url, bodies, n_requests, concurrency):
    result = await right_load_test(url, bodies, n_requests, concurrency)
    return [result["p50_ms"], result["p99_ms"]]


def live_run(p50_scale: float = 1.0, n: int = 200, seed: int = 0) -> tuple[dict, LoadResult]:
    """A plausible live result of the student's test and of serving.load_test (skewed, ms)."""
    rng = np.random.default_rng(seed)
    mine = list(rng.lognormal(np.log(60.0), 0.4, n) * p50_scale)
    course = LoadResult(rng.lognormal(np.log(0.05), 0.4, 150), Counter({200: 150}), 1.0, 8, 0.2)
    p50, p99 = np.percentile(mine, [50, 99])
    return {"requests": n, "statuses": {200: n}, "latencies_ms": mine,
            "p50_ms": float(p50), "p99_ms": float(p99)}, course  # fmt: skip


SPY_REQUESTS = 32  # 4 rounds of 8 clients (fewer hide a client-side queue); 4 answered 503


def load_results(load_test, mine=None, course=None) -> list:
    default_mine, default_course = live_run()
    return lab.check_load_test(
        load_test, mine or default_mine, course or default_course,
        n_requests=200, concurrency=8, spy_requests=SPY_REQUESTS,
    )  # fmt: skip


def test_check_load_test_accepts_the_reference_load_test() -> None:
    results = load_results(right_load_test)
    assert all(verdicts(results)) and len(results) == 11, failed(results)
    assert "коды ответов посчитаны верно: {200: 28, 503: 4}" in results[2].message


@pytest.mark.parametrize(
    ("load_test", "hint"),
    [
        (sequential_load_test, "запросы шли по одному (последовательно)"),
        (unbounded_load_test, "больше concurrency = 8"),
        (only_ok_load_test, "все ответы записаны как 200"),
        (fraction_percentile_load_test, "процентиль задан долей (0.5)"),
        (mean_as_median_load_test, "p50 = "),
        (seconds_load_test, "задержки похожи на секунды"),
        (everything_at_once_load_test, "время запроса считается не от его отправки"),
        (wrong_path_load_test, "запросы были POST /v1/predict, а нужен POST /predict"),
        (json_body_load_test, "тел не совпадают ни с одним из bodies"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_check_load_test_names_the_one_mistake_of_a_wrong_load_test(load_test, hint) -> None:
    results = load_results(load_test)
    wrong = [result for result in results if not result.passed]
    assert len(wrong) == 1 and hint in wrong[0].message, failed(results)


def test_a_mean_is_named_as_a_mean_and_a_maximum_as_a_maximum() -> None:
    mean = load_results(mean_as_median_load_test)
    assert "это среднее, а p50 — медиана" in failed(mean)
    mine, course = live_run()
    mine["p99_ms"] = max(mine["latencies_ms"])
    results = load_results(right_load_test, mine, course)
    assert "на сервисе: p99 = " in failed(results) and "это максимум" in failed(results)
    assert len([r for r in results if not r.passed]) == 1


def test_a_live_run_in_seconds_or_with_other_codes_is_named() -> None:
    mine, course = live_run(p50_scale=1e-3)
    seconds = load_results(right_load_test, mine, course)[-1]  # the order-of-magnitude verdict
    assert not seconds.passed and "похоже на секунды вместо мс" in seconds.message
    mine, course = live_run(p50_scale=3.0)  # three times slower: still the same order
    slower = load_results(right_load_test, mine, course)[-1]
    assert slower.passed and "того же порядка" in slower.message
    mine, course = live_run()
    mine["statuses"] = {200: 150, 422: 50}
    results = load_results(right_load_test, mine, course)
    assert (
        "у вас коды {200: 150, 422: 50}, у serving.load_test на том же сервисе — [200]"
        in failed(results)
    )


@pytest.mark.parametrize(
    ("load_test", "hint"),
    [
        (raise_for_status_load_test, "тест прервался на ответе 503 (raise_for_status?)"),
        (sync_load_test, "а нужна корутина: объявите её async def"),
        (list_load_test, "верните словарь с ключами requests, statuses"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_load_test_that_cannot_be_read_gets_one_hint(load_test, hint) -> None:
    default_mine, default_course = live_run()
    printed = feedback(lab.check_load_test, load_test, default_mine, default_course,
                       n_requests=200, concurrency=8, spy_requests=SPY_REQUESTS)  # fmt: skip
    assert hint in printed and printed.count("✗") == 1 and "Traceback" not in printed


async def stub_load_test(url, bodies, n_requests, concurrency):
    raise NotImplementedError("Упражнение не выполнено: concurrency задач")


def test_an_unfinished_load_test_is_reported_as_not_done() -> None:
    mine, course = live_run()
    with pytest.raises(ExerciseNotDone, match="функция stub_load_test ещё не написана"):
        run_check(lab.check_load_test, stub_load_test, mine, course,
                  n_requests=200, concurrency=8)  # fmt: skip


def test_the_spy_server_tells_the_truth_to_the_course_load_generator() -> None:
    with lab.SpyServer() as spy:
        result = asyncio.run(
            run_load(spy.url, [b"{}"], concurrency=4, duration_s=0.3, warmup_s=0.0)
        )
    assert spy.max_in_flight == 4
    assert result.requests == len(spy.requests) == sum(spy.statuses.values())
    assert dict(result.statuses) == dict(spy.statuses)
    assert spy.statuses[503] == len(spy.requests) // lab.SPY_ERROR_EVERY
    assert result.latency_ms(0) >= min(lab.SPY_DELAYS_S) * 1e3
