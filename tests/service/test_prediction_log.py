"""The sqlite prediction log and the settings, without HTTP."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import orjson
import pandas as pd
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving import prediction_log
from mlops_course.serving.prediction_log import (
    LOG_COLUMNS,
    PredictionLog,
    connect,
    read_prediction_log,
)
from mlops_course.serving.schemas import orders_payload
from mlops_course.serving.settings import ServingSettings


def record(frame: pd.DataFrame, request_id: str, logged_at: float = 1_700_000_000.0) -> tuple:
    payload = orders_payload(frame)
    n = len(frame)
    response = {
        "probability": [0.25] * n,
        "label": [0] * n,
        "variant": ["champion"] * n,
        "model_version": ["7"] * n,
    }
    return request_id, logged_at, n, 0, orjson.dumps(payload), orjson.dumps(response)


def test_round_trip_and_wal_mode(tmp_path: Path, fresh_orders: pd.DataFrame) -> None:
    log = PredictionLog(tmp_path / "sub" / "log.sqlite")
    log.append(*record(fresh_orders.head(3), "a"))
    log.append(*record(fresh_orders.iloc[3:5], "b"))
    assert log.count_rows() == 5
    frame = read_prediction_log(log.path)
    assert frame.columns.tolist() == LOG_COLUMNS
    pd.testing.assert_frame_equal(
        frame[FEATURES], fresh_orders[FEATURES].head(5).reset_index(drop=True)
    )
    assert frame["request_id"].tolist() == ["a"] * 3 + ["b"] * 2
    assert str(frame["logged_at"].dt.tz) == "UTC"
    (mode,) = sqlite3.connect(log.path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"
    assert len(read_prediction_log(log.path, last_requests=1)) == 2
    assert read_prediction_log(log.path, since=1_800_000_000.0).empty
    log.close()


@pytest.fixture
def ten_requests(tmp_path: Path, fresh_orders: pd.DataFrame) -> Path:
    """A log of ten requests of 1..10 rows, one second apart."""
    log = PredictionLog(tmp_path / "log.sqlite")
    for i in range(10):
        rows = fresh_orders.iloc[i * 10 : i * 10 + i + 1]
        log.append(*record(rows, f"r{i}", logged_at=1_700_000_000.0 + i))
    log.close()
    return log.path


@pytest.mark.parametrize("last", [0, 1, 3, 10, 50])
@pytest.mark.parametrize("since", [None, 1_700_000_004.0])
def test_last_requests_are_the_tail_of_the_log(ten_requests: Path, last: int, since) -> None:
    everything = read_prediction_log(ten_requests, since=since)
    kept_ids = everything["request_id"].drop_duplicates().tolist()[-last:] if last else []
    expected = everything[everything["request_id"].isin(kept_ids)].reset_index(drop=True)
    window = read_prediction_log(ten_requests, since=since, last_requests=last)
    pd.testing.assert_frame_equal(window, expected, check_index_type=False)


def test_last_requests_reads_only_those_requests(
    ten_requests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = []

    def remember(cursor, row: tuple) -> tuple:
        fetched.append(row)
        return row

    def counting_connect(path):  # records every row sqlite hands back to Python
        connection = connect(path)
        connection.row_factory = remember
        return connection

    monkeypatch.setattr(prediction_log, "connect", counting_connect)
    frame = read_prediction_log(ten_requests, last_requests=2)
    assert frame["request_id"].unique().tolist() == ["r8", "r9"]
    request_records = [row for row in fetched if len(row) == 5]  # not the PRAGMA answers
    assert len(request_records) == 2


def test_missing_log_reads_as_empty_frame(tmp_path: Path) -> None:
    frame = read_prediction_log(tmp_path / "none.sqlite")
    assert frame.empty and frame.columns.tolist() == LOG_COLUMNS


def test_a_request_is_all_or_nothing(tmp_path: Path, fresh_orders: pd.DataFrame) -> None:
    log = PredictionLog(tmp_path / "log.sqlite")
    log.append(*record(fresh_orders.head(4), "same-id"))
    with pytest.raises(sqlite3.IntegrityError):  # a duplicated request id: nothing of it lands
        log.append(*record(fresh_orders.iloc[4:9], "same-id"))
    assert log.count_rows() == 4


def test_threads_share_one_log(tmp_path: Path, fresh_orders: pd.DataFrame) -> None:
    log = PredictionLog(tmp_path / "log.sqlite")

    def write(worker: int) -> None:
        for i in range(50):
            log.append(*record(fresh_orders.iloc[i : i + 2], f"{worker}-{i}"))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.count_rows() == 8 * 50 * 2
    assert len(read_prediction_log(log.path)) == 800


def test_settings_from_environment(tmp_path: Path) -> None:
    env = {
        "MLOPS_SERVING_MODEL_URI": "models:/delivery-delay@champion",
        "MLOPS_SERVING_CHALLENGER_SHARE": "0.25",
        "MLOPS_SERVING_MAX_ROWS": "500",
        "MLOPS_SERVING_ADMIN_ENABLED": "false",
        "MLOPS_SERVING_LOG_PATH": str(tmp_path / "x.sqlite"),
    }
    settings = ServingSettings.from_env(env, max_rows=None)
    assert settings.model_uri == "models:/delivery-delay@champion"
    assert (settings.challenger_share, settings.max_rows, settings.admin_enabled) == (
        0.25,
        500,
        False,
    )
    assert settings.log_path == tmp_path / "x.sqlite"
    assert ServingSettings.from_env(env, max_rows=7).max_rows == 7  # explicit values win
    with pytest.raises(ValueError, match="challenger_share"):
        ServingSettings(challenger_share=1.5)
