"""CLI: ``python -m mlops_course.serving --model-uri models:/delivery@champion --port 8000``.

Serves on loopback (127.0.0.1) unless ``--host`` says otherwise. Every option can also come
from the environment (``MLOPS_SERVING_<OPTION>``, as in the Kubernetes manifests); command
line options win.

``--workers N`` (default 1) runs N uvicorn worker processes on one listening socket (each
with its own copy of the model; more workers than CPU cores only adds memory). Then each
worker loads its model before it accepts a connection, so no request meets a worker
without one; ``/metrics`` answers from whichever worker took the connection (each has its
own counters); the prediction log is one sqlite file shared by all. In Kubernetes the
course runs one worker per pod and scales pods instead (``deploy/k8s/hpa.yaml``).
"""

from __future__ import annotations

import argparse
import functools
import socket
from collections.abc import Mapping
from pathlib import Path

from mlops_course.serving.settings import DEFAULT_HOST, DEFAULT_PORT, ServingSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_course.serving",
        description="Сервис модели «Опоздает ли доставка?» (FastAPI + uvicorn).",
    )
    parser.add_argument(
        "--model-uri", help="models:/<имя>@<алиас>, models:/<имя>/<версия> или папка модели"
    )
    parser.add_argument("--challenger-uri", help="вторая модель для A/B-теста")
    parser.add_argument("--challenger-share", type=float, help="доля заказов для challenger (0..1)")
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking/registry URI (по умолчанию — реестр курса)"
    )
    parser.add_argument("--log-path", type=Path, help="файл sqlite журнала предсказаний")
    parser.add_argument("--max-rows", type=int, help="максимум строк в одном запросе")
    parser.add_argument(
        "--extension",
        type=Path,
        help="файл Python с доп. правилом проверки validate(batch) и метриками "
        "create_metrics(registry); загружается один раз при старте",
    )
    parser.add_argument("--host", default=None, help=f"адрес (по умолчанию {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, default=None, help=f"порт (по умолчанию {DEFAULT_PORT})"
    )
    parser.add_argument("--log-level", default="warning", help="уровень логов uvicorn")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="число процессов uvicorn на одном сокете (по умолчанию 1)",
    )
    # A socket already listening, inherited from the parent (start_service): no port race.
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"нужно целое число ≥ 1, получено {text}")
    return value


def worker_count(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``--workers``, else ``MLOPS_SERVING_WORKERS``, else 1."""
    if args.workers is not None:
        return args.workers
    return positive_int(environ.get("MLOPS_SERVING_WORKERS") or "1")


def listen_address(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, int]:
    """Host and port: the command line, else ``MLOPS_SERVING_HOST``/``_PORT``, else loopback
    and 8000. ``--port 0`` is kept (the system picks a free port)."""
    host = args.host or environ.get("MLOPS_SERVING_HOST") or DEFAULT_HOST
    if args.port is not None:
        return host, args.port
    return host, int(environ.get("MLOPS_SERVING_PORT") or DEFAULT_PORT)


def build_app(settings: ServingSettings):
    """The app for ``settings`` (imported here: a worker supervisor does not need it)."""
    from mlops_course.serving.app import create_app

    return create_app(settings)


def worker_factory():
    """``build_app`` as spawned workers can unpickle it: run with ``-m``, this module is
    ``__main__``, which a spawned child does not re-import, so refer to it by its name."""
    import importlib

    return importlib.import_module("mlops_course.serving.__main__").build_app


def main(argv: list[str] | None = None) -> None:
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    args = build_parser().parse_args(argv)
    workers = worker_count(args, os.environ)
    settings = ServingSettings.from_env(
        model_uri=args.model_uri,
        challenger_uri=args.challenger_uri,
        challenger_share=args.challenger_share,
        tracking_uri=args.tracking_uri,
        log_path=args.log_path,
        max_rows=args.max_rows,
        extension=args.extension,
        # One worker answers /health at once and /ready with 503 until the model is loaded.
        # Several workers share one socket: a worker accepts connections only once its
        # model is in, so no request lands on a worker that cannot answer it.
        wait_for_model=workers > 1,
    )
    host, port = listen_address(args, os.environ)
    sockets = None
    if args.fd is not None:
        inherited = socket.socket(fileno=args.fd)
        host, port = inherited.getsockname()[:2]
        sockets = [inherited]
    if settings.admin_exposed(host):
        # /admin can load any model URI: never open it to a network without a token.
        raise SystemExit(
            f"Сервис слушает {host}, а /admin открыт без пароля: задайте "
            "MLOPS_SERVING_ADMIN_TOKEN или выключите его (MLOPS_SERVING_ADMIN_ENABLED=false)."
        )
    config = uvicorn.Config(
        # Workers are spawned processes: each builds its own app from the (picklable)
        # factory, and the supervisor never imports the app (FastAPI, MLflow) itself.
        functools.partial(worker_factory(), settings) if workers > 1 else build_app(settings),
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level=args.log_level,
        access_log=False,  # requests are counted in /metrics; a log line each costs latency
        timeout_graceful_shutdown=10,
    )
    if workers > 1:
        Multiprocess(config, sockets=sockets or [config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run(sockets=sockets)
    if not server.started:  # as uvicorn.run: a failed start-up is a failed process
        raise SystemExit(3)


if __name__ == "__main__":
    main()
