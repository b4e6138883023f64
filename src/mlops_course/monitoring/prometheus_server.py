"""A real Prometheus scraping the live service, and the same questions answered without it.

    prometheus = start_prometheus(service.port, folder)   # Debian's `prometheus` binary
    prometheus.value('sum(http_requests_total{endpoint="/predict"})')
    prometheus.stop()

``start_prometheus`` runs the ``prometheus`` program on a free loopback port with the
course's ``deploy/prometheus.yml`` changed only where it must be: the scrape target is the
live service's port instead of 8000, and the scrape interval is 1 s instead of 15 s (a
notebook cannot wait a minute for four samples). The time-series database goes to
``folder``; readiness is Prometheus's own ``/-/ready``; queries go to the HTTP API
(``/api/v1/query``).

Where Prometheus is not installed, ``MetricsText`` answers the same PromQL from the text
of ``/metrics`` itself, for the few forms the course uses::

    sum(NAME{label="value", ...})
    sum by (LABEL) (NAME{...})
    histogram_quantile(Q, sum by (le) (NAME_bucket{...}))

That is what Prometheus computes from the counters at one instant; a rate is the
difference of two snapshots over the seconds between them (``MetricsText.since``).
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import subprocess
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from mlops_course.config import repo_root
from mlops_course.serving.background import (
    BackgroundService,
    ServiceStartError,
    die_with_parent,
    free_port,
)
from mlops_course.serving.client import parse_metrics
from mlops_course.serving.settings import DEFAULT_HOST

JOB = "delivery-delay-service"
"""The scrape job of the service in ``deploy/prometheus.yml``."""
READY_PATH = "/-/ready"
QUERY_PATH = "/api/v1/query"
SCRAPE_INTERVAL = "1s"


def find_prometheus() -> str | None:
    """Path of the ``prometheus`` program (Debian: ``apt-get install prometheus``), or None."""
    return shutil.which("prometheus")


def course_config_path() -> Path:
    """``deploy/prometheus.yml`` of the course checkout."""
    root = repo_root()
    if root is None or not (root / "deploy" / "prometheus.yml").is_file():
        raise FileNotFoundError("Нет deploy/prometheus.yml: нужна папка курса (git clone).")
    return root / "deploy" / "prometheus.yml"


def adapted_config(
    service_port: int, *, scrape_interval: str = SCRAPE_INTERVAL, source: Path | None = None
) -> dict:
    """The course's scrape config with the service's port and a short scrape interval."""
    config = yaml.safe_load((source or course_config_path()).read_text())
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = scrape_interval
    (job,) = (j for j in config["scrape_configs"] if j["job_name"] == JOB)
    for static in job["static_configs"]:
        hosts = [target.rsplit(":", 1)[0] for target in static["targets"]]
        static["targets"] = [f"{host}:{service_port}" for host in hosts]
    return config


# --- Answers: the HTTP API of a running Prometheus, or the text of /metrics ---------------


def _label_of(metric: dict[str, str], by: str | None) -> str:
    return metric.get(by, "") if by else ""


@dataclass
class PrometheusServer(BackgroundService):
    """A running Prometheus; ``value`` and ``values`` ask it PromQL over its HTTP API."""

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        """The raw result vector of an instant query (evaluated now or at unix time ``at``)."""
        params = {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {})
        reply = httpx.get(self.url + QUERY_PATH, params=params, timeout=10).raise_for_status()
        body = reply.json()
        if body["data"]["resultType"] != "vector":
            raise ValueError(f"Ожидался вектор, а не {body['data']['resultType']}: {promql}")
        return body["data"]["result"]

    def value(self, promql: str, at: float | None = None) -> float | None:
        """The single value of a query; None while Prometheus has no sample for it."""
        result = self.query(promql, at)
        if len(result) > 1:
            raise ValueError(f"Запрос вернул {len(result)} рядов, а не один: {promql}")
        return float(result[0]["value"][1]) if result else None

    def values(self, promql: str, by: str, at: float | None = None) -> dict[str, float]:
        """``{label value: value}`` of a ``sum by (by) (...)`` query."""
        return {_label_of(r["metric"], by): float(r["value"][1]) for r in self.query(promql, at)}

    def wait_for(self, promql: str, expected: float, timeout: float = 30.0) -> float:
        """Poll until the query's value equals ``expected`` (the scrapes caught up)."""
        deadline, seen = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            seen = self.value(promql)
            if seen is not None and math.isclose(seen, expected):
                return seen
            time.sleep(0.2)
        raise TimeoutError(f"Prometheus: {promql} = {seen}, ожидалось {expected}")

    def target_health(self, job: str = JOB) -> str:
        """``up``, ``down`` or ``unknown`` (not scraped yet) for the job's first target."""
        reply = httpx.get(self.url + "/api/v1/targets", timeout=10).raise_for_status()
        active = reply.json()["data"]["activeTargets"]
        found = [t["health"] for t in active if t["labels"].get("job") == job]
        return found[0] if found else "unknown"

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll ``/-/ready`` until it answers 200; fail early if Prometheus exits."""
        deadline, reason = time.monotonic() + timeout, "нет ответа"
        while time.monotonic() < deadline:
            if not self.running():
                raise ServiceStartError(
                    f"Prometheus завершился с кодом {self.process.returncode}:\n"
                    f"{self.output()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError as error:  # not listening yet, or 503 while it replays its WAL
                reason = str(error)
            time.sleep(0.1)
        self.stop()
        raise ServiceStartError(f"Prometheus не готов за {timeout:.0f} с: {reason}")


def start_prometheus(
    service_port: int,
    folder: str | Path,
    *,
    binary: str | None = None,
    scrape_interval: str = SCRAPE_INTERVAL,
    timeout: float = 30.0,
    wait: bool = True,
) -> PrometheusServer:
    """Start Prometheus on a free loopback port, scraping the service on ``service_port``.

    ``folder`` holds the adapted ``prometheus.yml``, the database (``data/``) and the log.
    """
    binary = binary or find_prometheus()
    if binary is None:
        raise FileNotFoundError("Prometheus не установлен (Debian: apt-get install prometheus).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "prometheus.yml"
    config = adapted_config(service_port, scrape_interval=scrape_interval)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port(DEFAULT_HOST)
    output_path = folder / "prometheus.log"
    output = output_path.open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config_file}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address={DEFAULT_HOST}:{port}"],
        stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder,
        preexec_fn=die_with_parent(),
    )  # fmt: skip
    server = PrometheusServer(process, DEFAULT_HOST, port, output_path, _output=output)
    if wait:
        try:
            server.wait_ready(timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                server.stop()
            raise
    return server


# --- The same PromQL from the text of /metrics -------------------------------------------

_SELECTOR = r"(?P<name>[a-zA-Z_:][\w:]*)\s*(?:\{(?P<matchers>[^}]*)\})?"
_SUM = re.compile(rf"^sum\s*\(\s*{_SELECTOR}\s*\)$")
_SUM_BY = re.compile(rf"^sum\s+by\s*\(\s*(?P<by>\w+)\s*\)\s*\(\s*{_SELECTOR}\s*\)$")
_QUANTILE = re.compile(
    rf"^histogram_quantile\s*\(\s*(?P<q>[\d.]+)\s*,\s*sum\s+by\s*\(\s*le\s*\)\s*\(\s*{_SELECTOR}"
    r"\s*\)\s*\)$"
)
_MATCHER = re.compile(r'\s*(\w+)\s*=\s*"([^"]*)"\s*(?:,|$)')


def _matchers(text: str | None) -> dict[str, str]:
    """``job="x", endpoint="/predict"`` -> a dict (only equality matchers)."""
    text = (text or "").strip()
    found, position = {}, 0
    while position < len(text):
        match = _MATCHER.match(text, position)
        if match is None:
            raise ValueError(f'Поддерживаются только метки вида label="value": {text}')
        found[match[1]] = match[2]
        position = match.end()
    return found


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's ``histogram_quantile`` of cumulative bucket counts ``{le: count}``.

    Linear interpolation inside the bucket where the rank ``q · total`` falls (the first
    bucket starts at 0); a rank in the ``+Inf`` bucket gives the highest finite bound;
    no observations give NaN (as ``promql/quantile.go``).
    """
    if q < 0 or q > 1:
        return -math.inf if q < 0 else math.inf
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]) or len(bounds) < 2:
        return math.nan
    counts = [buckets[bound] for bound in bounds]
    for i in range(1, len(counts)):  # counts from separate scrapes may dip: keep them monotonic
        counts[i] = max(counts[i], counts[i - 1])
    total = counts[-1]
    if total == 0:
        return math.nan
    rank = q * total
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(bounds) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start = bounds[index - 1] if index > 0 else 0.0
    below = counts[index - 1] if index > 0 else 0.0
    if counts[index] == below:  # q = 0 and an empty first bucket: 0/0 in Prometheus too
        return math.nan
    # the operations in Prometheus's order, so the last bit agrees too
    return start + (bounds[index] - start) * ((rank - below) / (counts[index] - below))


class MetricsText:
    """The samples of one ``/metrics`` text, queried with the course's PromQL forms.

    Labels Prometheus adds when it scrapes (``job``, ``instance``, ``env`` from the
    config) are not in the text; matchers on them are accepted and ignored.
    """

    SCRAPE_LABELS = frozenset({"job", "instance", "env"})

    def __init__(self, text_or_samples: str | dict):
        self.samples = (
            parse_metrics(text_or_samples) if isinstance(text_or_samples, str) else text_or_samples
        )

    def since(self, earlier: MetricsText) -> MetricsText:
        """How much every sample grew since ``earlier`` (counters and histogram buckets)."""
        return MetricsText(
            {key: value - earlier.samples.get(key, 0.0) for key, value in self.samples.items()}
        )

    def _select(self, name: str, matchers: str | None) -> list[tuple[dict[str, str], float]]:
        wanted = {k: v for k, v in _matchers(matchers).items() if k not in self.SCRAPE_LABELS}
        chosen = []
        for (sample, labels), value in self.samples.items():
            labels = dict(labels)
            if sample == name and all(labels.get(k) == v for k, v in wanted.items()):
                chosen.append((labels, value))
        return chosen

    def _sum_by(self, by: str, name: str, matchers: str | None) -> dict[str, float]:
        sums: dict[str, float] = defaultdict(float)
        for labels, value in self._select(name, matchers):
            sums[labels.get(by, "")] += value
        return dict(sums)

    def value(self, promql: str) -> float | None:
        """``sum(...)`` or ``histogram_quantile(...)``; None when no sample matches."""
        promql = promql.strip()
        if match := _SUM.match(promql):
            chosen = self._select(match["name"], match["matchers"])
            return sum(value for _, value in chosen) if chosen else None
        if match := _QUANTILE.match(promql):
            by_le = self._sum_by("le", match["name"], match["matchers"])
            if not by_le:
                return None
            return histogram_quantile(float(match["q"]), {float(le): n for le, n in by_le.items()})
        raise ValueError(f"Без Prometheus поддерживаются sum(...) и histogram_quantile: {promql}")

    def values(self, promql: str, by: str) -> dict[str, float]:
        """``sum by (by) (...)`` as ``{label value: value}``."""
        match = _SUM_BY.match(promql.strip())
        if match is None or match["by"] != by:
            raise ValueError(f"Ожидался запрос sum by ({by}) (...): {promql}")
        return self._sum_by(by, match["name"], match["matchers"])
