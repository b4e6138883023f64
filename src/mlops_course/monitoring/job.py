"""The monitoring job: what the service predicted, compared with what it was trained on.

``run_monitoring`` reads the prediction log (``serving.prediction_log``), then

1. computes data drift of every feature against the reference (training) data with the
   course's ``drift`` module (per-column tests, multiple-testing corrected verdict);
2. when delayed labels have arrived (``labels``: order id -> is_late), joins them to the
   logged predictions and computes the *live* quality, overall and per A/B variant;
3. exports the results as Prometheus gauges (``MonitoringExporter``: into any registry,
   e.g. the service's, and/or a textfile for node-exporter) and, optionally, an
   Evidently HTML report in the work directory.

Data drift needs no labels and answers at once; quality needs labels and answers late.
Both are needed: concept drift changes quality while the inputs look the same.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd
from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from mlops_course.config import FEATURES, ID_COLUMN, TARGET, work_dir
from mlops_course.model.evaluate import score_metrics
from mlops_course.monitoring.drift import DatasetDrift, dataset_drift, evidently_drift

QUALITY_METRICS = ("roc_auc", "accuracy", "f1", "log_loss", "late_rate", "predicted_late_rate")
MIN_ROWS = 30  # fewer predictions than this make drift tests meaningless


@dataclass
class MonitoringResult:
    """Everything one monitoring run found."""

    n_predictions: int
    drift: DatasetDrift | None
    """Per-column tests and the dataset verdict; None when there were too few predictions."""
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per variant (and "all"): n_labelled + ``QUALITY_METRICS``; empty without labels."""
    html_path: Path | None = None

    @property
    def drift_detected(self) -> bool:
        return bool(self.drift is not None and self.drift.drift_detected)

    def summary(self) -> str:
        """A short Russian report for notebooks."""
        lines = [f"Предсказаний в журнале: {self.n_predictions}"]
        if self.drift is None:
            lines.append(f"Дрейф не проверялся: нужно хотя бы {MIN_ROWS} предсказаний.")
        else:
            drifted = self.drift.table.loc[self.drift.table["drifted"], "column"].tolist()
            untested = self.drift.untested
            verdict = "обнаружен" if self.drift.drift_detected else "не обнаружен"
            lines.append(
                f"Дрейф данных {verdict} "
                f"({self.drift.n_drifted} из {len(self.drift.table) - len(untested)} признаков"
                + (f": {', '.join(drifted)}" if drifted else "")
                + ")"
            )
            if untested:  # a dead sensor or a dropped column: no test, not "no drift"
                lines.append(f"Не проверены (нет данных): {', '.join(untested)}")
        if not self.quality.empty:
            overall = self.quality.loc["all"]
            lines.append(
                f"Качество на размеченных ({int(overall['n_labelled'])}): "
                f"ROC AUC = {overall['roc_auc']:.3f}, accuracy = {overall['accuracy']:.3f}"
            )
        if self.html_path is not None:
            lines.append(f"Отчёт Evidently: {self.html_path.name}")
        return "\n".join(lines)


def join_labels(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Logged predictions that have a label by now (inner join on the order id).

    ``labels`` needs ``order_id`` and ``is_late``; orders without a label yet are left out.
    An order predicted more than once (a client retry, the same orders resent after an A/B
    switch) keeps only its latest prediction, the last of its rows in ``predictions`` (the
    log is read in the order it was written), so each labelled order counts once.
    """
    latest = predictions.drop_duplicates(ID_COLUMN, keep="last")
    known = labels[[ID_COLUMN, TARGET]].drop_duplicates(ID_COLUMN, keep="last")
    return latest.merge(known, on=ID_COLUMN, how="inner", validate="one_to_one")


def live_quality(joined: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Quality of the logged probabilities against the labels, per variant and overall."""
    rows = {}
    groups = [("all", joined)] + [
        (str(v), part) for v, part in joined.groupby("variant", sort=True)
    ]
    for name, part in groups:
        if part.empty:
            continue
        metrics = score_metrics(part[TARGET], part["probability"], threshold)
        rows[name] = {"n_labelled": len(part), **{key: metrics[key] for key in QUALITY_METRICS}}
    return pd.DataFrame.from_dict(rows, orient="index")


class _Gauges(NamedTuple):
    drift_score: Gauge
    column_drifted: Gauge
    dataset_drifted: Gauge
    drifted_share: Gauge
    predictions: Gauge
    quality: Gauge
    last_run: Gauge


# A registry refuses a second gauge of the same name (re-running a notebook cell would
# raise DuplicateTimeseries), so every exporter on one registry shares its gauges.
_GAUGES_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, _Gauges] = (
    weakref.WeakKeyDictionary()
)
_NO_DRIFT_TEST = "; NaN when the last run had too few predictions to test drift"


def _create_gauges(registry: CollectorRegistry) -> _Gauges:
    gauges = _Gauges(
        drift_score=Gauge(
            "monitoring_drift_score", "Drift test score per feature (p-value or distance)",
            ["column", "method"], registry=registry,
        ),
        column_drifted=Gauge(
            "monitoring_column_drifted", "1 if the feature drifted (after correction)",
            ["column"], registry=registry,
        ),
        dataset_drifted=Gauge(
            "monitoring_dataset_drift", "1 if the dataset drifted, 0 if not" + _NO_DRIFT_TEST,
            registry=registry,
        ),
        drifted_share=Gauge(
            "monitoring_drifted_share", "Share of drifted features" + _NO_DRIFT_TEST,
            registry=registry,
        ),
        predictions=Gauge(
            "monitoring_predictions", "Predictions read from the log", registry=registry
        ),
        quality=Gauge(
            "monitoring_live_quality", "Live quality on labelled predictions",
            ["variant", "metric"], registry=registry,
        ),
        last_run=Gauge(
            "monitoring_last_run_timestamp_seconds", "When the job last ran", registry=registry
        ),
    )  # fmt: skip
    # No verdict before the first run either: 0 would read as "no drift".
    gauges.dataset_drifted.set(math.nan)
    gauges.drifted_share.set(math.nan)
    return gauges


class MonitoringExporter:
    """Prometheus gauges for monitoring results, in their own or a given registry.

    Pass the service's registry (``app.state.service.metrics.registry``) to expose the job's
    results on the service's ``/metrics``, or write them to a textfile with ``write``.
    Exporters created on the same registry share its gauges (creating one again is safe).
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        gauges = _GAUGES_BY_REGISTRY.get(self.registry)
        if gauges is None:
            gauges = _GAUGES_BY_REGISTRY[self.registry] = _create_gauges(self.registry)
        self.drift_score = gauges.drift_score
        self.column_drifted = gauges.column_drifted
        self.dataset_drifted = gauges.dataset_drifted
        self.drifted_share = gauges.drifted_share
        self.predictions = gauges.predictions
        self.quality = gauges.quality
        self.last_run = gauges.last_run

    def update(self, result: MonitoringResult) -> None:
        self.predictions.set(result.n_predictions)
        self.drift_score.clear()
        self.column_drifted.clear()
        if result.drift is not None:
            for row in result.drift.table.itertuples(index=False):
                self.drift_score.labels(row.column, row.method).set(row.score)
                self.column_drifted.labels(row.column).set(int(row.drifted))
            self.dataset_drifted.set(int(result.drift.drift_detected))
            self.drifted_share.set(result.drift.drifted_share)
        else:  # no test this run: an old verdict must not keep an alert firing
            self.dataset_drifted.set(math.nan)
            self.drifted_share.set(math.nan)
        self.quality.clear()
        for variant, metrics in result.quality.iterrows():
            for metric in ("n_labelled", *QUALITY_METRICS):
                value = float(metrics[metric])
                if not math.isnan(value):
                    self.quality.labels(variant, metric).set(value)
        self.last_run.set_to_current_time()

    def write(self, path: str | Path | None = None) -> Path:
        """Write the gauges in the Prometheus text format (node-exporter textfile)."""
        path = Path(path) if path else work_dir("monitoring") / "monitoring.prom"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), self.registry)
        return path


def run_monitoring(
    reference: pd.DataFrame,
    log_path: str | Path | None = None,
    labels: pd.DataFrame | None = None,
    *,
    since: float | pd.Timestamp | None = None,
    last_requests: int | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    threshold: float = 0.5,
    evidently_html: bool | str | Path = False,
    exporter: MonitoringExporter | None = None,
) -> MonitoringResult:
    """One monitoring run over the prediction log (see the module docstring).

    ``log_path`` defaults to the service's default log; ``since``/``last_requests`` choose
    the window. ``evidently_html``: True writes ``work_dir("reports")/monitoring_drift.html``,
    a path writes there (a few MB and a few seconds; off by default).
    """
    from mlops_course.serving.prediction_log import read_prediction_log
    from mlops_course.serving.settings import default_log_path

    predictions = read_prediction_log(
        log_path or default_log_path(), since=since, last_requests=last_requests
    )
    result = MonitoringResult(n_predictions=len(predictions), drift=None)
    if len(predictions) >= MIN_ROWS:
        result.drift = dataset_drift(
            reference[FEATURES], predictions[FEATURES], alpha=alpha, correction=correction
        )
        if evidently_html:
            html_path = (
                work_dir("reports") / "monitoring_drift.html"
                if evidently_html is True
                else Path(evidently_html)
            )
            evidently_drift(reference[FEATURES], predictions[FEATURES], html_path=html_path)
            result.html_path = html_path
    if labels is not None and len(predictions):
        joined = join_labels(predictions, labels)
        if len(joined):
            result.quality = live_quality(joined, threshold)
    if exporter is not None:
        exporter.update(result)
    return result
