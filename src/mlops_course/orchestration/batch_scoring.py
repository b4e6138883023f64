"""Batch scoring over a data set partitioned on disk (parquet): pandas whole, or Dask streaming.

* ``write_partitions(directory, n_rows, n_partitions, seed)`` — generate orders part by part
  (``part-00000.parquet``, ...), never holding the whole set in memory;
* ``score_with_pandas(source, model, target)`` — read everything into one frame, score it,
  write one file: memory grows with the data;
* ``score_with_dask(source, model, target)`` — the same scoring per partition with
  ``dask.dataframe``, written part by part: memory grows with a partition, not the data.
  It runs on whatever Dask scheduler is active: a ``distributed.Client`` of a
  ``LocalCluster`` on this machine, or of a cluster of many machines
  (``Client("tcp://scheduler:8786")``) — the scoring code does not change.

Both write ``order_id`` and ``probability`` (P(late) from ``predict_proba``) and return a
``ScoringSummary`` (rows, mean probability), so the two can be compared.

As a batch job in its own process (what a scheduler would run), with its peak memory::

    python -m mlops_course.orchestration.batch_scoring pandas SOURCE MODEL.pkl TARGET
    python -m mlops_course.orchestration.batch_scoring dask SOURCE MODEL.pkl TARGET \
        --scheduler tcp://scheduler:8786

It prints one JSON line: rows, seconds, resident memory before scoring (after the imports)
and its peak during scoring (sampled every 10 ms).
``run_job`` starts it from Python and returns that line as a dict.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_course.config import FEATURES, ID_COLUMN
from mlops_course.scenario.generator import generate_orders

PART_PATTERN = "part-{:05d}.parquet"
SCORE_COLUMNS = [ID_COLUMN, "probability"]


@dataclass(frozen=True)
class ScoringSummary:
    rows: int
    partitions: int
    mean_probability: float


def write_partitions(
    directory: str | Path, n_rows: int, n_partitions: int, seed: int, **generator_options: Any
) -> list[Path]:
    """Write ``n_rows`` generated orders as ``n_partitions`` parquet files (ids unique).

    Partition ``i`` is ``generate_orders(size, seed + i, first_id=...)``: the same arguments
    give the same files. Existing ``part-*.parquet`` files in ``directory`` are replaced.
    """
    if n_partitions < 1 or n_rows < n_partitions:
        raise ValueError(f"нужно 1 ≤ n_partitions ≤ n_rows, получено {n_partitions}, {n_rows}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("part-*.parquet"):
        old.unlink()
    sizes = np.full(n_partitions, n_rows // n_partitions)
    sizes[: n_rows % n_partitions] += 1
    paths, first_id = [], 1
    for index, size in enumerate(sizes):
        frame = generate_orders(int(size), seed + index, first_id=first_id, **generator_options)
        path = directory / PART_PATTERN.format(index)
        frame.to_parquet(path, index=False)
        paths.append(path)
        first_id += int(size)
    return paths


def score_frame(frame: pd.DataFrame, model: Any) -> pd.DataFrame:
    """``order_id`` and P(late) for every order of ``frame``: the unit of work of both ways."""
    probability = model.predict_proba(frame[FEATURES])[:, 1]
    return pd.DataFrame({ID_COLUMN: frame[ID_COLUMN].to_numpy(), "probability": probability})


def _summary(scores: pd.DataFrame, partitions: int) -> ScoringSummary:
    return ScoringSummary(len(scores), partitions, float(scores["probability"].mean()))


def score_with_pandas(source: str | Path, model: Any, target: str | Path) -> ScoringSummary:
    """Load the whole partitioned set into one frame, score it, write ``target`` (a file)."""
    source = Path(source)
    frame = pd.read_parquet(source)  # every partition at once: memory grows with the data
    scores = score_frame(frame, model)
    del frame
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(target, index=False)
    return _summary(scores, len(list(source.glob("part-*.parquet"))))


def score_with_dask(source: str | Path, model: Any, target: str | Path) -> ScoringSummary:
    """Score partition by partition with Dask; write ``target`` (a folder of parquet parts).

    Each task reads one partition, scores it and writes its part, so at any moment a worker
    holds one partition (per thread). The mean is reduced from per-part sums, not from the
    scores brought back.
    """
    import dask.dataframe as dd

    orders = dd.read_parquet(str(source), columns=[ID_COLUMN, *FEATURES])
    meta = pd.DataFrame({ID_COLUMN: pd.Series(dtype="int64"), "probability": pd.Series(dtype="f8")})
    scores = orders.map_partitions(score_frame, model, meta=meta)
    scores.to_parquet(str(target), write_index=False, overwrite=True)
    written = dd.read_parquet(str(target))
    total, rows = dd.compute(written["probability"].sum(), written.shape[0])
    return ScoringSummary(int(rows), orders.npartitions, float(total) / int(rows))


def read_scores(path: str | Path) -> pd.DataFrame:
    """Scores written by either function (a file or a folder of parts), sorted by order id."""
    return pd.read_parquet(path).sort_values(ID_COLUMN, ignore_index=True)


# --- memory of a process, and the job as a process ---------------------------------------


def rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class RssSampler:
    """Samples this process's resident memory in a background thread; keeps the maximum.

    ``ru_maxrss`` cannot be reset, so a peak during one job would be hidden by an earlier
    one (the imports of a fresh process, say); sampling every few milliseconds is not.
    """

    def __init__(self, interval_s: float = 0.01):
        import psutil

        self._process = psutil.Process()
        self.interval_s = interval_s
        self.start_mb = self.peak_mb = self._process.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)

    def stop(self) -> dict[str, float]:
        """Stop sampling: memory at the start and the peak since, in MiB."""
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())
        return {"rss_before_mb": self.start_mb, "peak_rss_mb": self.peak_mb}


_SAMPLER: RssSampler | None = None


def start_memory_sampling() -> float:
    """Start sampling this process's memory (e.g. on every Dask worker via ``client.run``);
    returns the current RSS in MiB."""
    global _SAMPLER
    _SAMPLER = RssSampler()
    return _SAMPLER.start_mb


def stop_memory_sampling() -> dict[str, float]:
    """Stop the sampling started by ``start_memory_sampling``; its start and peak RSS."""
    global _SAMPLER
    if _SAMPLER is None:
        raise RuntimeError("start_memory_sampling() не вызывался в этом процессе")
    sampler, _SAMPLER = _SAMPLER, None
    return sampler.stop()


def run_job(
    engine: str, source: str | Path, model_path: str | Path, target: str | Path, *extra: str
) -> dict[str, Any]:
    """Run the scoring job in a fresh Python process; its JSON report as a dict."""
    command = [
        sys.executable, "-m", "mlops_course.orchestration.batch_scoring",
        engine, str(source), str(model_path), str(target), *extra,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"batch scoring failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlops_course.orchestration.batch_scoring")
    parser.add_argument("engine", choices=["pandas", "dask"])
    parser.add_argument("source", type=Path, help="folder of part-*.parquet")
    parser.add_argument("model", type=Path, help="a pickled scikit-learn pipeline")
    parser.add_argument("target", type=Path, help="where the scores go")
    parser.add_argument("--scheduler", help="address of a Dask scheduler (default: in-process)")
    args = parser.parse_args(argv)
    import pyarrow.parquet  # noqa: F401  (imported before the baseline, as the job needs it)
    import sklearn  # noqa: F401

    with args.model.open("rb") as file:
        model = pickle.load(file)
    client = None
    if args.engine == "dask" and args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    sampler = RssSampler()
    started = time.perf_counter()
    score = score_with_pandas if args.engine == "pandas" else score_with_dask
    summary = score(args.source, model, args.target)
    seconds = time.perf_counter() - started
    report = {**asdict(summary), "seconds": seconds, **sampler.stop()}
    if client is not None:
        client.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
