"""The prediction log: every answered prediction, persisted durably in sqlite (WAL mode).

One record per ``/predict`` request holds the validated request (columnar JSON) and the
exact response that was sent (probabilities, labels, variants, model versions), plus when
it was answered. Why one record per request rather than one per row:

* **atomic**: a request is one ``INSERT`` = one transaction; either all its rows are logged
  or none (a request that fails validation writes nothing at all);
* **cheap on the hot path**: two byte strings that already exist are stored, no per-row
  work, so logging 1000 rows costs about as much as logging one;
* **nothing lost under concurrency**: writes are serialised by a lock on one connection,
  WAL lets readers (the monitoring job) read while the service writes.

``read_prediction_log`` expands the records into one row per prediction for monitoring and
for the delayed label join.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from mlops_course.config import FEATURES, ID_COLUMN
from mlops_course.serving.schemas import FIELDS

TABLE = "prediction_requests"
OUTPUT_COLUMNS = ["probability", "label", "variant", "model_version"]
LOG_COLUMNS = ["request_id", "logged_at", ID_COLUMN, *FEATURES, *OUTPUT_COLUMNS]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    logged_at REAL NOT NULL,          -- unix time (seconds, UTC) of the answer
    n_rows INTEGER NOT NULL,
    n_challenger INTEGER NOT NULL,
    request BLOB NOT NULL,            -- validated columnar JSON of the inputs
    response BLOB NOT NULL            -- the JSON answer sent to the client
)
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in WAL mode, autocommit (each statement is its own transaction)."""
    connection = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=30.0
    )
    connection.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is still crash-safe for the application (a committed request
    # survives a process crash); only an OS crash/power loss may drop the last commits.
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


class PredictionLog:
    """Append-only writer of the prediction log, safe to share between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = connect(self.path)
        self._connection.execute(_SCHEMA)

    def append(
        self,
        request_id: str,
        logged_at: float,
        n_rows: int,
        n_challenger: int,
        request_json: bytes,
        response_json: bytes,
    ) -> None:
        """Store one answered request (all its rows) in one transaction."""
        with self._lock:
            self._connection.execute(
                f"INSERT INTO {TABLE}"
                " (request_id, logged_at, n_rows, n_challenger, request, response)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (request_id, logged_at, n_rows, n_challenger, request_json, response_json),
            )

    def count_rows(self) -> int:
        """Number of logged predictions (rows, not requests)."""
        with self._lock:
            (total,) = self._connection.execute(
                f"SELECT COALESCE(SUM(n_rows), 0) FROM {TABLE}"
            ).fetchone()
        return int(total)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def read_prediction_log(
    path: str | Path, since: float | pd.Timestamp | None = None, last_requests: int | None = None
) -> pd.DataFrame:
    """One row per logged prediction: ``LOG_COLUMNS`` (inputs, outputs, variant, version).

    ``since`` keeps answers logged at or after that time (unix seconds or a timestamp);
    ``last_requests`` keeps only the most recent requests. ``logged_at`` is a UTC timestamp.
    """
    path = Path(path)
    if not path.is_file() or (last_requests is not None and last_requests <= 0):
        return _empty_log()
    query = f"SELECT request_id, logged_at, n_rows, request, response FROM {TABLE}"
    params: list[object] = []
    if since is not None:
        if isinstance(since, pd.Timestamp):
            since = (since.tz_localize("UTC") if since.tzinfo is None else since).timestamp()
        query += " WHERE logged_at >= ?"
        params.append(float(since))
    if last_requests is None:
        query += " ORDER BY id"
    else:  # let sqlite pick the newest requests: the log grows for as long as the service runs
        query += " ORDER BY id DESC LIMIT ?"
        params.append(last_requests)
    connection = connect(path)
    try:
        records = connection.execute(query, params).fetchall()
    finally:
        connection.close()
    if last_requests is not None:
        records.reverse()  # back to the order they were logged in
    if not records:
        return _empty_log()
    return _expand(records)


def _expand(records: list[tuple]) -> pd.DataFrame:
    """Concatenate the columnar records into one frame (lists first, one DataFrame at the end)."""
    columns: dict[str, list] = {name: [] for name in LOG_COLUMNS}
    for request_id, logged_at, n_rows, request_json, response_json in records:
        request = orjson.loads(request_json)
        response = orjson.loads(response_json)
        columns["request_id"].extend([request_id] * n_rows)
        columns["logged_at"].extend([logged_at] * n_rows)
        for name in (ID_COLUMN, *FEATURES):
            columns[name].extend(request[name])
        for name in OUTPUT_COLUMNS:
            columns[name].extend(response[name])
    frame = pd.DataFrame(columns)
    frame["logged_at"] = pd.to_datetime(frame["logged_at"], unit="s", utc=True)
    return frame.astype(_dtypes())


def _dtypes() -> dict[str, object]:
    kinds = {"int": np.int64, "float": np.float64, "category": object, "text": object}
    dtypes: dict[str, object] = {spec.name: kinds[spec.kind] for spec in FIELDS}
    dtypes.update(probability=np.float64, label=np.int64, variant=object, model_version=object)
    dtypes["request_id"] = object
    return dtypes


def _empty_log() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in _dtypes().items()})
    frame["logged_at"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame[LOG_COLUMNS]
