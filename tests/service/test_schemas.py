"""The fast columnar validator: every bad input answered with the right status and field."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mlops_course.config import FEATURES, ID_COLUMN
from mlops_course.serving.schemas import (
    FIELD_NAMES,
    FIELDS,
    FieldSpec,
    RequestError,
    orders_payload,
    parse_orders,
    request_model,
)

MAX_ROWS = 50


@pytest.fixture
def payload(fresh_orders: pd.DataFrame) -> dict[str, list[Any]]:
    return orders_payload(fresh_orders.head(5))


def error_of(raw: bytes, max_rows: int = MAX_ROWS) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_orders(raw, max_rows)
    return caught.value


def test_valid_batch_has_model_dtypes(payload: dict, fresh_orders: pd.DataFrame) -> None:
    batch = parse_orders(orjson.dumps(payload), MAX_ROWS)
    assert batch.n_rows == 5
    frame = batch.features()
    expected = fresh_orders.head(5)[FEATURES].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected, check_dtype=True)
    assert batch.order_ids.dtype == np.int64


def test_row_format_gives_the_same_batch(payload: dict) -> None:
    rows = [
        dict(zip(payload, values, strict=True)) for values in zip(*payload.values(), strict=True)
    ]
    from_rows = parse_orders(orjson.dumps(rows), MAX_ROWS)
    from_columns = parse_orders(orjson.dumps(payload), MAX_ROWS)
    pd.testing.assert_frame_equal(from_rows.features(), from_columns.features())
    assert orjson.loads(from_rows.raw_json) == payload


def mutate(payload: dict, field: str, index: int, value: Any) -> bytes:
    changed = {name: list(values) for name, values in payload.items()}
    changed[field][index] = value
    return json.dumps(changed).encode()  # stdlib json: also writes ints beyond 64 bits


@pytest.mark.parametrize(
    ("field", "value", "error_type"),
    [
        ("distance_km", "3.5", "wrong_type"),  # a number sent as a string
        ("distance_km", "NaN", "wrong_type"),
        ("distance_km", True, "wrong_type"),  # bool is not a number here
        ("distance_km", None, "wrong_type"),  # missing value
        ("distance_km", [1.0], "wrong_type"),
        ("distance_km", 3500.0, "out_of_range"),  # metres instead of kilometres
        ("distance_km", 1e300, "out_of_range"),
        ("distance_km", 10**400, "out_of_range"),  # beyond float64: orjson refuses the body
        ("hour", 24, "out_of_range"),
        ("hour", 12.5, "wrong_type"),
        ("courier_load", -1, "out_of_range"),
        (ID_COLUMN, 0, "out_of_range"),
        (ID_COLUMN, 2**70, "out_of_range"),  # orjson reads it as a float: still a range problem
        ("weather", "hail", "literal_error"),
        ("weather", 1, "wrong_type"),
        ("district", "", "string_length"),
        ("district", "x" * 500, "string_length"),
    ],
)
def test_bad_value_names_field(payload: dict, field: str, value: Any, error_type: str) -> None:
    error = error_of(mutate(payload, field, 2, value))
    assert error.status_code == 422
    assert [(e["field"], e["type"]) for e in error.errors] == [(field, error_type)]
    assert field in error.errors[0]["msg"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_number_names_field(fresh_orders: pd.DataFrame, literal: bytes) -> None:
    one_row = orders_payload(fresh_orders.head(1))
    one_row["distance_km"] = [12345.678]  # a marker replaced by the literal JSON cannot hold
    raw = orjson.dumps(one_row).replace(b"12345.678", literal)
    error = error_of(raw)
    assert error.status_code == 422
    assert [(e["field"], e["type"]) for e in error.errors] == [("distance_km", "finite_number")]


def test_lenient_decoding_never_accepts_what_orjson_refuses(
    payload: dict, fresh_orders: pd.DataFrame
) -> None:
    """A body orjson refuses for another reason (a lone surrogate, a BOM) is malformed JSON,
    even when "NaN" appears in it as text: it must not reach the model or the log."""
    one_row = orders_payload(fresh_orders.head(1))
    one_row["district"] = ["NaNville \ud800"]  # "NaN" only as text, plus a lone surrogate
    rows = [{name: values[0] for name, values in one_row.items()}]
    for body in (json.dumps(one_row).encode(), json.dumps(rows).encode()):
        error = error_of(body)
        assert (error.status_code, error.errors[0]["type"]) == (400, "json_invalid")
    one_row["district"] = ["NaNville"]
    error = error_of(b"\xef\xbb\xbf" + json.dumps(one_row).encode())  # UTF-8 BOM
    assert (error.status_code, error.errors[0]["type"]) == (400, "json_invalid")


def test_several_broken_fields_are_all_listed(payload: dict) -> None:
    changed = {name: list(values) for name, values in payload.items()}
    changed["hour"][0] = 99
    changed["weather"][1] = "hail"
    error = error_of(orjson.dumps(changed))
    assert {e["field"] for e in error.errors} == {"hour", "weather"}


@pytest.mark.parametrize(
    ("raw", "status", "error_type"),
    [
        (b'{"order_id": [1,', 400, "json_invalid"),
        (b"", 400, "json_invalid"),
        (b"\xff\xfe", 400, "json_invalid"),
        (b"42", 422, "body_type"),
        (b'"orders"', 422, "body_type"),
        (b"[]", 422, "empty_batch"),
        (b"[1, 2]", 422, "row_type"),
    ],
)
def test_body_level_errors(raw: bytes, status: int, error_type: str) -> None:
    error = error_of(raw)
    assert (error.status_code, error.errors[0]["type"]) == (status, error_type)


def test_missing_extra_and_renamed_fields(payload: dict) -> None:
    renamed = dict(payload)
    renamed["dist_km"] = renamed.pop("distance_km")
    error = error_of(orjson.dumps(renamed))
    assert {(e["field"], e["type"]) for e in error.errors} == {
        ("distance_km", "missing"),
        ("dist_km", "extra_forbidden"),
    }


def test_row_with_extra_key_is_rejected(payload: dict) -> None:
    rows = [
        dict(zip(payload, values, strict=True)) for values in zip(*payload.values(), strict=True)
    ]
    rows[3]["comment"] = "leave at the door"
    error = error_of(orjson.dumps(rows))
    assert error.status_code == 422
    assert error.errors[0]["field"] == "comment" and "заказ 3" in error.errors[0]["msg"]


def test_length_mismatch_empty_batch_and_duplicates(payload: dict) -> None:
    short = dict(payload, hour=payload["hour"][:-1])
    error = error_of(orjson.dumps(short))
    assert [(e["field"], e["type"]) for e in error.errors] == [("hour", "length_mismatch")]
    empty = {name: [] for name in FIELD_NAMES}
    assert error_of(orjson.dumps(empty)).errors[0]["type"] == "empty_batch"
    duplicated = dict(payload, order_id=[7] * len(payload[ID_COLUMN]))
    assert error_of(orjson.dumps(duplicated)).errors[0]["type"] == "duplicate"
    not_a_list = dict(payload, hour=12)
    assert [(e["field"], e["type"]) for e in error_of(orjson.dumps(not_a_list)).errors] == [
        ("hour", "list_type")
    ]


def test_too_many_rows_is_413(fresh_orders: pd.DataFrame) -> None:
    raw = orjson.dumps(orders_payload(fresh_orders.head(MAX_ROWS + 1)))
    error = error_of(raw)
    assert (error.status_code, error.errors[0]["type"]) == (413, "too_many_rows")
    assert (
        parse_orders(orjson.dumps(orders_payload(fresh_orders.head(MAX_ROWS))), MAX_ROWS).n_rows
        == MAX_ROWS
    )


# --- the fast validator and the pydantic model agree -----------------------------------


def rarely(common: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``rare`` about once in 20 draws, else ``common`` (``one_of`` would pick each half)."""
    return st.integers(0, 19).flatmap(lambda k: rare if k == 19 else common)


def good_values(spec: FieldSpec) -> st.SearchStrategy:
    """Mostly valid values of one field, sometimes its range edges or just beyond."""
    if spec.kind == "int":
        edges = st.sampled_from(
            [int(spec.low) - 1, int(spec.low), int(spec.high), int(spec.high) + 1]
        )
        return rarely(st.integers(int(spec.low), min(int(spec.high), 10**6)), edges)
    if spec.kind == "float":
        edges = st.sampled_from([spec.low - 0.01, spec.low, spec.high, spec.high + 0.01])
        valid = st.one_of(
            st.floats(spec.low, spec.high), st.integers(int(spec.low) + 1, int(spec.high))
        )
        return rarely(valid, edges)
    if spec.kind == "category":
        return rarely(st.sampled_from(spec.choices), st.just("hail"))
    return rarely(st.text(min_size=1, max_size=int(spec.high)), st.sampled_from(["", "x" * 65]))


ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.floats(), st.integers(), st.just([1])
)


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> bytes:
    """Columnar bodies that are often valid and often broken in exactly one subtle way."""
    n_rows = draw(st.integers(1, 4)) if draw(st.integers(0, 9)) else 0
    columns: dict[str, Any] = {}
    for spec in FIELDS:
        values = rarely(good_values(spec), ODD_VALUES)
        unique = spec.name == ID_COLUMN and draw(st.integers(0, 9)) < 9
        columns[spec.name] = draw(
            st.lists(values, min_size=n_rows, max_size=n_rows, unique_by=repr if unique else None)
        )
    change = draw(st.sampled_from(["none"] * 7 + ["drop", "extra", "short"]))
    if change == "drop":
        columns.pop(draw(st.sampled_from(FIELD_NAMES)))
    elif change == "extra":
        columns["extra"] = [1] * n_rows
    elif change == "short" and n_rows:
        columns["hour"] = columns["hour"][:-1]
    return json.dumps(columns).encode()  # stdlib json: may write NaN/Infinity


@pytest.mark.slow  # 300 generated bodies through both validators
@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(raw=near_valid_bodies())
def test_fast_validator_agrees_with_pydantic_model(raw: bytes) -> None:
    model = request_model(MAX_ROWS)
    try:
        model.model_validate_json(raw)
        pydantic_ok = True
    except ValidationError:
        pydantic_ok = False
    try:
        parse_orders(raw, MAX_ROWS)
        fast_ok = True
    except RequestError as error:
        fast_ok = False
        assert 400 <= error.status_code < 500
    event("accepted" if fast_ok else "rejected")
    assert fast_ok == pydantic_ok, raw
