"""Batch scoring over parquet partitions: pandas whole and Dask per partition agree."""

from __future__ import annotations

import pickle
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest

from mlops_course.model.train import train_model
from mlops_course.orchestration import batch_scoring
from mlops_course.scenario.generator import generate_orders


@pytest.fixture(scope="module")
def model():
    return train_model(generate_orders(2000, 1))


def test_partitions_hold_every_order_once(tmp_path: Path) -> None:
    paths = batch_scoring.write_partitions(tmp_path, 1003, 4, seed=5)
    assert [p.name for p in paths] == [f"part-0000{i}.parquet" for i in range(4)]
    frame = pd.read_parquet(tmp_path)
    assert len(frame) == 1003 and frame["order_id"].is_unique
    assert frame["order_id"].min() == 1 and frame["order_id"].max() == 1003
    again = batch_scoring.write_partitions(tmp_path, 1003, 2, seed=5)  # replaces old parts
    assert sorted(tmp_path.glob("part-*")) == again
    with pytest.raises(ValueError):
        batch_scoring.write_partitions(tmp_path, 3, 4, seed=5)


def test_pandas_and_dask_give_the_same_scores(tmp_path: Path, model) -> None:
    source = tmp_path / "orders"
    batch_scoring.write_partitions(source, 3000, 5, seed=2)
    whole = batch_scoring.score_with_pandas(source, model, tmp_path / "pandas.parquet")
    with dask.config.set(scheduler="synchronous"):
        parts = batch_scoring.score_with_dask(source, model, tmp_path / "dask")
    assert (whole.rows, whole.partitions) == (parts.rows, parts.partitions) == (3000, 5)
    assert whole.mean_probability == pytest.approx(parts.mean_probability, rel=1e-12)
    a = batch_scoring.read_scores(tmp_path / "pandas.parquet")
    b = batch_scoring.read_scores(tmp_path / "dask")
    assert list(a.columns) == batch_scoring.SCORE_COLUMNS
    assert a["order_id"].equals(b["order_id"])
    np.testing.assert_allclose(a["probability"], b["probability"], rtol=1e-12)
    expected = model.predict_proba(pd.read_parquet(source).sort_values("order_id"))[:, 1]
    np.testing.assert_allclose(a["probability"], expected, rtol=1e-12)


def test_memory_sampling_sees_an_allocation() -> None:
    start = batch_scoring.start_memory_sampling()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    report = batch_scoring.stop_memory_sampling()
    del block
    assert report["rss_before_mb"] == pytest.approx(start)
    assert report["peak_rss_mb"] - report["rss_before_mb"] > 50
    with pytest.raises(RuntimeError):
        batch_scoring.stop_memory_sampling()


@pytest.mark.slow
def test_the_job_runs_as_its_own_process(tmp_path: Path, model) -> None:
    source = tmp_path / "orders"
    batch_scoring.write_partitions(source, 2000, 2, seed=3)
    model_path = tmp_path / "model.pkl"
    model_path.write_bytes(pickle.dumps(model))
    report = batch_scoring.run_job("pandas", source, model_path, tmp_path / "out.parquet")
    assert report["rows"] == 2000 and report["partitions"] == 2
    assert report["peak_rss_mb"] >= report["rss_before_mb"] > 0
    assert len(batch_scoring.read_scores(tmp_path / "out.parquet")) == 2000
    with pytest.raises(RuntimeError, match="batch scoring failed"):
        batch_scoring.run_job("pandas", tmp_path / "missing", model_path, tmp_path / "x.parquet")
