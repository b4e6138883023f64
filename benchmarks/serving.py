"""Benchmark of the model service over real HTTP on loopback.

Side by side, in one run, on the same pre-encoded JSON bodies (1 row and 1000 rows):

* ``in-process`` — what the model itself costs: decode the body, build the frame,
  ``predict_proba`` (no HTTP, no validation, no log);
* ``service`` — ``python -m mlops_course.serving`` under uvicorn (validation, A/B routing,
  sqlite prediction log, Prometheus metrics), started with ``start_service``;
* ``load-per-request`` — a naive FastAPI handler that loads the model on every request
  with ``mlflow.pyfunc.load_model``, the call MLflow's registry documentation shows for
  using a registered model (and the interface ``mlflow models serve`` uses).

Then throughput under concurrent load (``serving.load_test``, the generator notebook 07
uses): requests/s and p99 of 1-row requests from ``THROUGHPUT_CLIENTS`` clients, with 1 and
2 uvicorn workers (``--workers``), rounds interleaved as well.

Runs are interleaved (baseline, service, naive, again and again) and each figure is the
median over rounds, so a noisy neighbour on the 2-core machine hits all three alike. Prints
a table and writes JSON to ``work_dir("benchmarks") / "serving.json"``; also reports the
server's resident memory with one model and with champion + challenger.

    .venv/bin/python benchmarks/serving.py            # full run (~1-2 minutes)
    .venv/bin/python benchmarks/serving.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request, Response

from mlops_course.config import FEATURES, SEED, work_dir
from mlops_course.model.train import train_model
from mlops_course.scenario.generator import generate_orders
from mlops_course.serving.background import free_port, start_service
from mlops_course.serving.load_test import load_test
from mlops_course.serving.schemas import orders_payload

BATCH_SIZES = (1, 1000)
WORKERS = (1, 2)
THROUGHPUT_CLIENTS = 8
HOST = "127.0.0.1"


# --- the naive server: loads the model for every request ---------------------------------


def naive_app(model_uri: str):
    """A FastAPI app whose handler loads the model on each request (the anti-pattern)."""
    import mlflow.pyfunc

    from mlops_course.versioning.tracking import setup_tracking

    setup_tracking()

    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        model = mlflow.pyfunc.load_model(model_uri)  # the mistake being measured
        data = orjson.loads(await request.body())
        # predict_proba of the underlying pipeline, as in the other two variants
        pipeline = model.get_raw_model()
        probability = pipeline.predict_proba(pd.DataFrame({c: data[c] for c in FEATURES}))[:, 1]
        return Response(
            orjson.dumps({"probability": probability.tolist()}), media_type="application/json"
        )

    return app


def run_naive_server(model_uri: str, port: int) -> None:
    import uvicorn

    uvicorn.run(naive_app(model_uri), host=HOST, port=port, log_level="warning", access_log=False)


def start_naive_server(model_uri: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--naive-server", model_uri, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("naive server did not start")


# --- timing ---------------------------------------------------------------------------------


def time_http(port: int, bodies: list[bytes], repeat: int) -> np.ndarray:
    """Seconds per request: send a pre-encoded body, read the whole answer (keep-alive)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    timings = np.empty(repeat)
    for i in range(repeat):
        body = bodies[i % len(bodies)]
        start = time.perf_counter()
        connection.request("POST", "/predict", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        timings[i] = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    connection.close()
    return timings


def time_in_process(model, bodies: list[bytes], repeat: int) -> np.ndarray:
    """Seconds per call of decode + frame + predict_proba on the same bodies."""
    timings = np.empty(repeat)
    for i in range(repeat):
        body = bodies[i % len(bodies)]
        start = time.perf_counter()
        data = orjson.loads(body)
        model.predict_proba(pd.DataFrame({c: data[c] for c in FEATURES}))[:, 1]
        timings[i] = time.perf_counter() - start
    return timings


def time_load(model_uri: str, repeat: int) -> np.ndarray:
    """Seconds per ``mlflow.pyfunc.load_model`` alone: what the naive handler adds."""
    import mlflow.pyfunc

    timings = np.empty(repeat)
    for i in range(repeat):
        start = time.perf_counter()
        mlflow.pyfunc.load_model(model_uri)
        timings[i] = time.perf_counter() - start
    return timings


def percentiles(timings: np.ndarray) -> dict[str, float]:
    p50, p95, p99 = np.percentile(timings, [50, 95, 99]) * 1e3
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "mean_ms": timings.mean() * 1e3}


def median_over_rounds(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.median([r[key] for r in rounds])) for key in rounds[0]}


# --- the benchmark ----------------------------------------------------------------------------


def make_bodies(frame: pd.DataFrame, rows: int, count: int) -> list[bytes]:
    """``count`` different request bodies of ``rows`` rows each (columnar JSON)."""
    bodies = []
    for i in range(count):
        start = (i * rows) % max(len(frame) - rows, 1)
        bodies.append(orjson.dumps(orders_payload(frame.iloc[start : start + rows])))
    return bodies


def register_models() -> tuple[str, str, object]:
    """Train logreg (champion) and gradient boosting (challenger) into the course registry."""
    import mlflow
    import mlflow.sklearn

    from mlops_course.versioning.registry import MODEL_NAME, register, set_alias
    from mlops_course.versioning.tracking import (
        SKOPS_TRUSTED_TYPES,
        model_requirements,
        setup_tracking,
    )

    setup_tracking()
    train = generate_orders(10_000, SEED)
    for alias, kind in (("champion", "logreg"), ("challenger", "hgb")):
        with mlflow.start_run(run_name=f"benchmark-{kind}"):
            info = mlflow.sklearn.log_model(
                train_model(train, model=kind),
                name="model",
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                pip_requirements=model_requirements(),  # no slow requirement inference
            )
        set_alias(MODEL_NAME, alias, register(info.model_uri))
    champion = f"models:/{MODEL_NAME}@champion"
    return champion, f"models:/{MODEL_NAME}@challenger", mlflow.sklearn.load_model(champion)


def measure_throughput(
    model_uri: str, bodies: list[bytes], rounds: int, seconds: float, out_dir
) -> dict[str, dict[str, float]]:
    """Median over interleaved rounds of ``load_test`` per worker count."""
    services = {
        workers: start_service(
            model_uri,
            extra_args=[
                "--workers",
                str(workers),
                "--log-path",
                str(out_dir / f"serving-workers-{workers}.sqlite"),
            ],
        )
        for workers in WORKERS
    }
    results: dict[int, list[dict[str, float]]] = {workers: [] for workers in WORKERS}
    try:
        for _ in range(rounds):
            for workers, service in services.items():
                result = load_test(
                    service.url, bodies, concurrency=THROUGHPUT_CLIENTS, duration_s=seconds
                )
                results[workers].append(result.summary())
    finally:
        for service in services.values():
            service.stop()
    return {str(workers): median_over_rounds(rows) for workers, rows in results.items()}


def run(rounds: int, requests: int, naive_requests: int) -> dict:
    out_dir = work_dir("benchmarks")
    champion_uri, challenger_uri, model = register_models()
    frame = generate_orders(20_000, SEED + 1, first_id=10_000_000)
    bodies = {rows: make_bodies(frame, rows, 50) for rows in BATCH_SIZES}
    log_path = out_dir / "serving-predictions.sqlite"
    log_path.unlink(missing_ok=True)

    service = start_service(champion_uri, extra_args=["--log-path", str(log_path)])
    naive, naive_port = start_naive_server(champion_uri)
    results: dict[str, dict[int, list]] = {"in_process": {}, "service": {}, "load_per_request": {}}
    try:
        for rows in BATCH_SIZES:  # warm-up: imports, caches, the sqlite file
            time_http(service.port, bodies[rows], 50)
            time_in_process(model, bodies[rows], 50)
            time_http(naive_port, bodies[rows], 2)
        for _ in range(rounds):
            for rows in BATCH_SIZES:
                for name, measure in (
                    ("in_process", lambda b: time_in_process(model, b, requests)),
                    ("service", lambda b: time_http(service.port, b, requests)),
                    ("load_per_request", lambda b: time_http(naive_port, b, naive_requests)),
                ):
                    results[name].setdefault(rows, []).append(percentiles(measure(bodies[rows])))
        load_alone = percentiles(time_load(champion_uri, 3 * naive_requests))
        rss_one_model = service.rss_mb()
    finally:
        service.stop()
        naive.terminate()
        naive.wait(timeout=30)

    two_models = start_service(
        champion_uri,
        extra_args=["--challenger-uri", challenger_uri, "--challenger-share", "0.5",
                    "--log-path", str(out_dir / "serving-ab.sqlite")],
    )  # fmt: skip
    try:
        for rows in BATCH_SIZES:
            time_http(two_models.port, bodies[rows], 50)
        rss_two_models = two_models.rss_mb()
    finally:
        two_models.stop()

    throughput = measure_throughput(
        champion_uri, bodies[1], rounds, 2.0 if requests >= 200 else 0.5, out_dir
    )

    report = {
        "throughput_by_workers": throughput,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": os.getloadavg()[0],
        },
        "settings": {"rounds": rounds, "requests": requests, "naive_requests": naive_requests},
        "rss_mb": {"one_model": rss_one_model, "champion_and_challenger": rss_two_models},
        "model_load_ms": load_alone,
        "batches": {},
    }
    for rows in BATCH_SIZES:
        summary = {name: median_over_rounds(results[name][rows]) for name in results}
        base, served, naive_result = (
            summary["in_process"],
            summary["service"],
            summary["load_per_request"],
        )
        summary["overhead_p50"] = served["p50_ms"] / base["p50_ms"]
        summary["p99_over_p50"] = served["p99_ms"] / served["p50_ms"]
        summary["speedup_vs_load_per_request"] = naive_result["p50_ms"] / served["p50_ms"]
        # A service can at best cost what the model costs (the in-process baseline), so
        # the speed-up over load-per-request cannot exceed (load + baseline) / baseline.
        summary["speedup_ceiling"] = (load_alone["p50_ms"] + base["p50_ms"]) / base["p50_ms"]
        summary["share_of_ceiling"] = (
            summary["speedup_vs_load_per_request"] / summary["speedup_ceiling"]
        )
        summary["service_rows_per_s"] = rows / (served["mean_ms"] / 1e3)
        report["batches"][str(rows)] = summary
    path = out_dir / "serving.json"
    path.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nJSON: {path}")
    return report


def print_table(report: dict) -> None:
    header = f"{'rows':>5} {'variant':<17} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}"
    print(header)
    print("-" * len(header))
    for rows, summary in report["batches"].items():
        for name in ("in_process", "service", "load_per_request"):
            r = summary[name]
            print(
                f"{rows:>5} {name:<17} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{1e3 / r['mean_ms']:8.1f}"
            )
        print(
            f"{'':>5} service/in-process p50 = {summary['overhead_p50']:.2f}x, "
            f"p99/p50 = {summary['p99_over_p50']:.2f}, "
            f"vs load-per-request: {summary['speedup_vs_load_per_request']:.1f}x faster "
            f"(ceiling {summary['speedup_ceiling']:.1f}x, "
            f"{summary['share_of_ceiling']:.0%} of it), "
            f"{summary['service_rows_per_s']:.0f} rows/s"
        )
    print(f"mlflow.pyfunc.load_model alone: p50 {report['model_load_ms']['p50_ms']:.1f} ms")
    print(f"\nthroughput, 1-row requests, {THROUGHPUT_CLIENTS} concurrent clients:")
    for workers, row in report["throughput_by_workers"].items():
        print(
            f"  {workers} worker(s): {row['requests_per_s']:.0f} req/s, "
            f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, errors {row['errors']:.0f}, "
            f"client CPU {row['client_cpu_share']:.0%} of a core"
        )
    rss = report["rss_mb"]
    print(
        f"RSS: {rss['one_model']:.0f} MiB with one model, "
        f"{rss['champion_and_challenger']:.0f} MiB with champion + challenger"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200, help="requests per round and size")
    parser.add_argument("--naive-requests", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 50 requests")
    parser.add_argument("--naive-server", metavar="MODEL_URI", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_server:
        run_naive_server(args.naive_server, args.port)
        return
    if args.quick:
        args.rounds, args.requests, args.naive_requests = 2, 50, 3
    run(args.rounds, args.requests, args.naive_requests)


if __name__ == "__main__":
    main()
