"""Property-based fuzzing of /predict: no generated request may produce a 5xx.

Bodies are built from the request schema (``schemas.FIELDS``) and broken on purpose: wrong
types, NaN-like strings, non-finite and huge numbers, missing/extra/renamed fields, empty
and unequal lists, nested values, random JSON and random bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_course.serving.schemas import FIELD_NAMES, FIELDS

N_EXAMPLES = 600
MAX_ROWS = 5  # small, so that generated batches also hit the row limit (413)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 5, max_value=2**80),  # beyond int64
    st.floats(),  # includes NaN and +-inf (written as NaN/Infinity by json.dumps)
    st.text(max_size=10),
    st.sampled_from(["NaN", "nan", "inf", "-Infinity", "1e400", "", "3.5", "null"]),
    st.sampled_from([1e308, -1e308, 1e-320, -0.0]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=8,
)


def plausible(spec) -> st.SearchStrategy:
    """Values of the right kind, inside and around the field's range."""
    if spec.kind == "int":
        return st.integers(int(spec.low) - 2, min(int(spec.high), 10**9) + 2)
    if spec.kind == "float":
        return st.floats(spec.low - 1, spec.high + 1, allow_nan=False)
    if spec.kind == "category":
        return st.sampled_from([*spec.choices, "hail"])
    return st.text(max_size=70)


@st.composite
def columnar_bodies(draw: st.DrawFn) -> bytes:
    n_rows = draw(st.integers(0, MAX_ROWS + 1))
    body: dict[str, Any] = {}
    for spec in FIELDS:
        element = st.one_of(plausible(spec), JSON_SCALARS)
        length = draw(st.sampled_from([n_rows, n_rows, n_rows, max(n_rows - 1, 0), n_rows + 1]))
        body[spec.name] = draw(
            st.one_of(st.lists(element, min_size=length, max_size=length), JSON_VALUES)
        )
    for _ in range(draw(st.integers(0, 2))):
        body.pop(draw(st.sampled_from(FIELD_NAMES)), None)
    body.update(draw(st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=2)))
    return json.dumps(body).encode()


@st.composite
def row_bodies(draw: st.DrawFn) -> bytes:
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {spec.name: st.one_of(plausible(spec), JSON_SCALARS) for spec in FIELDS},
                optional={"extra": JSON_VALUES},
            ),
            max_size=MAX_ROWS + 2,
        )
    )
    return json.dumps(rows).encode()


def valid(spec) -> st.SearchStrategy:
    """Any value the schema allows, edges and odd unicode included."""
    if spec.kind == "int":
        return st.integers(int(spec.low), min(int(spec.high), 2**63 - 1))
    if spec.kind == "float":
        return st.one_of(
            st.floats(spec.low, spec.high), st.integers(int(spec.low) + 1, int(spec.high))
        )
    if spec.kind == "category":
        return st.sampled_from(spec.choices)
    return st.text(min_size=1, max_size=int(spec.high))


@st.composite
def valid_bodies(draw: st.DrawFn) -> bytes:
    n_rows = draw(st.integers(1, MAX_ROWS))
    body = {
        spec.name: draw(
            st.lists(valid(spec), min_size=n_rows, max_size=n_rows, unique=spec.name == "order_id")
        )
        for spec in FIELDS
    }
    return json.dumps(body).encode()


BODIES = st.one_of(
    valid_bodies(),
    columnar_bodies(),
    row_bodies(),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
)


@pytest.mark.slow
def test_no_generated_request_gets_a_5xx(make_client, settings) -> None:
    with make_client(settings.with_changes(max_rows=MAX_ROWS)) as client:
        statuses = fuzz(client)
    assert len(statuses) >= 500
    assert sum(status >= 500 for status in statuses) == 0
    assert {200, 400, 413, 422} <= set(statuses)  # both paths and every refusal exercised


def fuzz(client) -> list[int]:
    """Send the generated requests; return their status codes."""
    statuses: list[int] = []

    @settings(
        max_examples=N_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(raw=BODIES)
    def send(raw: bytes) -> None:
        response = client.post(
            "/predict", content=raw, headers={"Content-Type": "application/json"}
        )
        statuses.append(response.status_code)
        assert response.status_code < 500, (raw, response.text)
        if response.status_code != 200:
            assert response.json()["detail"], raw  # every refusal explains itself

    send()
    # Nothing but the answered requests reached the log.
    assert client.app.state.service.log.count_rows() == _predicted_rows(client.get("/metrics").text)
    return statuses


def _predicted_rows(metrics_text: str) -> int:
    from mlops_course.serving.client import metric_value

    return int(
        sum(
            metric_value(metrics_text, "predictions_total", variant="champion", label=label)
            for label in "01"
        )
    )
