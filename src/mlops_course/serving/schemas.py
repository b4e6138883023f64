"""The request and response formats of ``/predict`` and their validation.

One table, ``FIELDS``, derived from the data schema (``config`` + ``validation.RANGES``),
drives two validators that must agree:

* ``parse_orders`` — the hot path: the JSON body is decoded once with orjson and every
  column is checked *as a whole* with numpy (types, finiteness, ranges, lengths). Checking
  1000 rows costs a few hundred microseconds instead of the milliseconds that one pydantic
  object per row costs, which is what keeps the service close to the model's own latency.
* ``request_model`` — the same rules as a strict pydantic v2 model. It documents the API
  (OpenAPI schema, ``/docs``) and is the reference the fast validator is tested against.

The fast format is *columnar*: ``{"order_id": [...], "distance_km": [...], ...}``, one list
per column. A list of row objects ``[{"order_id": 1, ...}, ...]`` is accepted as well and
converted to columns (a little slower, same rules).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import orjson
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from mlops_course.config import CATEGORICAL_FEATURES, FEATURES, ID_COLUMN, NUMERIC_FEATURES
from mlops_course.model.validation import FLOAT_COLUMNS, INT_COLUMNS, RANGES
from mlops_course.scenario.generator import WEATHER

MAX_ID = 2**63 - 1  # order ids are int64 everywhere in the course
MAX_TEXT_LENGTH = 64
SHOWN_BAD_VALUES = 3


@dataclass(frozen=True)
class FieldSpec:
    """How one request column is checked."""

    name: str
    kind: Literal["int", "float", "category", "text"]
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    description: str = ""


def _numeric_spec(name: str) -> FieldSpec:
    kind = "int" if name in INT_COLUMNS else "float"
    assert name in INT_COLUMNS or name in FLOAT_COLUMNS, name
    low, high = RANGES[name]
    return FieldSpec(name, kind, low, high, description=f"{name} ∈ [{low}, {high}]")


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(ID_COLUMN, "int", 1, MAX_ID, description="unique order id (A/B routing key)"),
    *(_numeric_spec(name) for name in NUMERIC_FEATURES),
    FieldSpec("weather", "category", choices=WEATHER, description="one of " + ", ".join(WEATHER)),
    # Any district name is accepted: a new district is drift to monitor, not a broken request.
    FieldSpec("district", "text", 1, MAX_TEXT_LENGTH, description="district name"),
)
FIELD_NAMES = tuple(spec.name for spec in FIELDS)
assert set(FIELD_NAMES) == {ID_COLUMN, *FEATURES}, "FIELDS must cover the data schema"
assert {s.name for s in FIELDS if s.kind in ("category", "text")} == set(CATEGORICAL_FEATURES)

# Which JSON value types (after decoding) each kind accepts; bool is not a number here.
_ALLOWED_TYPES = {"int": {int}, "float": {int, float}, "category": {str}, "text": {str}}
_TYPE_NAMES_RU = {"int": "целое число", "float": "число", "category": "строка", "text": "строка"}


# --- errors ---------------------------------------------------------------------------


class RequestError(Exception):
    """A request that cannot be answered: HTTP status + errors naming field and problem."""

    def __init__(self, status_code: int, errors: list[dict[str, Any]]):
        super().__init__(errors[0]["msg"] if errors else str(status_code))
        self.status_code = status_code
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        return {"detail": self.errors}


def field_error(field: str | None, error_type: str, message: str) -> dict[str, Any]:
    """One error in the shape FastAPI uses (``loc``/``msg``/``type``), plus ``field``."""
    loc = ["body"] if field is None else ["body", field]
    return {"loc": loc, "field": field, "type": error_type, "msg": message}


def _fail(status: int, field: str | None, error_type: str, message: str) -> RequestError:
    return RequestError(status, [field_error(field, error_type, message)])


# --- the fast path --------------------------------------------------------------------


@dataclass(frozen=True)
class OrdersBatch:
    """A validated batch: numpy columns ready for the model, and its canonical JSON."""

    columns: dict[str, np.ndarray]
    n_rows: int
    raw_json: bytes
    """The columnar JSON of exactly these columns (kept for the prediction log)."""

    @property
    def order_ids(self) -> np.ndarray:
        return self.columns[ID_COLUMN]

    def features(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """The model's input frame (``config.FEATURES``), optionally only some rows."""
        if rows is None:
            return pd.DataFrame({name: self.columns[name] for name in FEATURES}, copy=False)
        return pd.DataFrame({name: self.columns[name][rows] for name in FEATURES}, copy=False)


def decode_json(body: bytes) -> Any:
    """Decode a request body; 400 with the parser's message if it is not JSON.

    orjson follows the JSON standard and refuses ``NaN``/``Infinity``/``1e999``. Those bodies
    are decoded again leniently so that the answer names the field holding the non-finite
    number (a 422 from the column checks) instead of a bare "malformed JSON". The lenient
    result is used only if it does hold such a number: the column checks then always refuse
    it, so nothing the standard parser rejected (a lone surrogate, a BOM) is ever served
    or logged.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if b"NaN" in body or b"Infinity" in body or "infinity" in str(error):
            try:
                lenient = json.loads(body)
            except (ValueError, RecursionError):
                lenient = None
            if _has_unrepresentable_number(lenient):
                return lenient
        raise _fail(
            400, None, "json_invalid", f"Тело запроса — не корректный JSON: {error}"
        ) from None


def _has_unrepresentable_number(value: Any) -> bool:
    """Whether a decoded JSON value holds NaN, ±inf or an integer beyond the float range:
    the numbers orjson refuses (iterative, so no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, int) and abs(item) > sys.float_info.max:
            return True
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def parse_orders(body: bytes, max_rows: int) -> OrdersBatch:
    """Decode and validate a ``/predict`` body (columnar object or list of row objects).

    Raises ``RequestError``: 400 malformed JSON, 413 more than ``max_rows`` rows, 422 any
    other problem (every broken field listed, each message names the field).
    """
    data = decode_json(body)
    if isinstance(data, list):
        data = _rows_to_columns(data, max_rows)
        raw_json = None
    elif isinstance(data, dict):
        raw_json = body
    else:
        raise _fail(
            422,
            None,
            "body_type",
            'Ожидается JSON-объект с колонками {"order_id": [...], ...} '
            f"или список заказов, получено: {type(data).__name__}",
        )
    n_rows = _check_structure(data, max_rows)
    columns: dict[str, np.ndarray] = {}
    errors: list[dict[str, Any]] = []
    for spec in FIELDS:
        try:
            columns[spec.name] = _check_column(spec, data[spec.name])
        except RequestError as error:
            errors.extend(error.errors)
    if errors:
        raise RequestError(422, errors)
    if raw_json is None:  # rows were converted: store the columnar form
        raw_json = orjson.dumps(data)
    return OrdersBatch(columns=columns, n_rows=n_rows, raw_json=raw_json)


def _rows_to_columns(rows: list[Any], max_rows: int) -> dict[str, list[Any]]:
    """``[{"order_id": 1, ...}, ...]`` -> ``{"order_id": [1, ...], ...}`` with key checks."""
    if not rows:
        raise _fail(422, None, "empty_batch", "Пустой запрос: нужен хотя бы один заказ")
    if len(rows) > max_rows:
        raise _too_many_rows(len(rows), max_rows)
    expected = set(FIELD_NAMES)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _fail(
                422,
                None,
                "row_type",
                f"Заказ {index}: ожидается объект, получено {type(row).__name__}",
            )
        if row.keys() != expected:
            errors = _key_errors(set(row), where=f"заказ {index}: ")
            raise RequestError(422, errors)
    return {name: [row[name] for row in rows] for name in FIELD_NAMES}


def _key_errors(keys: set[str], where: str = "") -> list[dict[str, Any]]:
    errors = [
        field_error(name, "missing", f"{where}{name}: обязательное поле отсутствует")
        for name in FIELD_NAMES
        if name not in keys
    ]
    errors += [
        field_error(
            name, "extra_forbidden", f"{where}{name}: неизвестное поле (лишнее или переименованное)"
        )
        for name in sorted(keys - set(FIELD_NAMES), key=str)
    ]
    return errors


def _too_many_rows(n_rows: int, max_rows: int) -> RequestError:
    return _fail(
        413, None, "too_many_rows", f"Слишком много строк: {n_rows}, максимум {max_rows} за запрос"
    )


def _check_structure(data: dict[str, Any], max_rows: int) -> int:
    """Exactly the schema's fields, each a list, all of one length in 1..max_rows."""
    if data.keys() != set(FIELD_NAMES):
        raise RequestError(422, _key_errors(set(data)))
    errors = [
        field_error(
            name, "list_type", f"{name}: ожидается список значений, получено {type(value).__name__}"
        )
        for name, value in data.items()
        if not isinstance(value, list)
    ]
    if errors:
        raise RequestError(422, errors)
    lengths = {name: len(data[name]) for name in FIELD_NAMES}
    n_rows = max(lengths.values())
    if n_rows > max_rows:
        raise _too_many_rows(n_rows, max_rows)
    if n_rows == 0:
        raise _fail(422, None, "empty_batch", "Пустой запрос: нужен хотя бы один заказ")
    if len(set(lengths.values())) > 1:
        raise RequestError(
            422,
            [
                field_error(
                    name,
                    "length_mismatch",
                    f"{name}: {length} значений, а в {ID_COLUMN} — {lengths[ID_COLUMN]}",
                )
                for name, length in lengths.items()
                if length != lengths[ID_COLUMN]
            ],
        )
    return n_rows


def _check_column(spec: FieldSpec, values: list[Any]) -> np.ndarray:
    """Validate one column as a whole; return it as a numpy array of the model's dtype."""
    allowed = _ALLOWED_TYPES[spec.kind]
    types = set(map(type, values))
    if not types <= allowed:
        index = next(i for i, value in enumerate(values) if type(value) not in allowed)
        if spec.kind == "int" and _is_huge_whole_number(values[index]):
            # JSON parsers read integers beyond 64 bits as floats: the problem is the range.
            raise _out_of_range(spec, 1, index, values[index])
        if values[index] is None:  # what a NaN in a pandas frame becomes in JSON
            raise _fail(
                422,
                spec.name,
                "wrong_type",
                f"{spec.name}: пропущено значение (null) в строке {index}; сервис не заполняет "
                f"пропуски, ожидается {_TYPE_NAMES_RU[spec.kind]}",
            )
        raise _fail(
            422,
            spec.name,
            "wrong_type",
            f"{spec.name}: ожидается {_TYPE_NAMES_RU[spec.kind]}, в строке {index} "
            f"получено {_describe(values[index])}",
        )
    if spec.kind in ("category", "text"):
        return _check_strings(spec, values)
    return _check_numbers(spec, values)


def _check_numbers(spec: FieldSpec, values: list[Any]) -> np.ndarray:
    dtype = np.int64 if spec.kind == "int" else np.float64
    try:
        array = np.array(values, dtype=dtype)
    except OverflowError:  # an integer too big for int64/float64
        index = next((i for i, value in enumerate(values) if abs(value) > MAX_ID), 0)
        raise _out_of_range(spec, 1, index, values[index]) from None
    if spec.kind == "float":
        not_finite = ~np.isfinite(array)
        if not_finite.any():
            index = int(np.argmax(not_finite))
            raise _fail(
                422,
                spec.name,
                "finite_number",
                f"{spec.name}: NaN и бесконечность недопустимы, в строке {index}: {values[index]}",
            )
    bad = (array < spec.low) | (array > spec.high)
    if bad.any():
        index = int(np.argmax(bad))
        raise _out_of_range(spec, int(bad.sum()), index, values[index])
    if spec.name == ID_COLUMN and np.unique(array).size != array.size:
        raise _fail(422, spec.name, "duplicate", f"{spec.name}: номера заказов повторяются")
    return array


def _is_huge_whole_number(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and abs(value) > MAX_ID


def _out_of_range(spec: FieldSpec, n_bad: int, index: int, value: Any) -> RequestError:
    return _fail(
        422,
        spec.name,
        "out_of_range",
        f"{spec.name}: строк со значением вне диапазона [{spec.low}, {spec.high}]: {n_bad}; "
        f"первая — строка {index}: {_describe(value)}",
    )


def _check_strings(spec: FieldSpec, values: list[str]) -> np.ndarray:
    if spec.kind == "category":
        unknown = set(values) - set(spec.choices)
        if unknown:
            shown = ", ".join(repr(value) for value in sorted(unknown)[:SHOWN_BAD_VALUES])
            raise _fail(
                422,
                spec.name,
                "literal_error",
                f"{spec.name}: неизвестные значения {shown}; допустимы: {', '.join(spec.choices)}",
            )
    else:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        bad = (lengths < spec.low) | (lengths > spec.high)
        if bad.any():
            index = int(np.argmax(bad))
            raise _fail(
                422,
                spec.name,
                "string_length",
                f"{spec.name}: длина строки должна быть от {spec.low:g} до {spec.high:g} символов, "
                f"в строке {index}: {_describe(values[index])}",
            )
    return np.array(values, dtype=object)


def _describe(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} ({type(value).__name__})"


# --- the same rules as pydantic models (documentation and reference) -------------------


def _item_type(spec: FieldSpec) -> Any:
    if spec.kind == "int":
        return Annotated[int, Field(ge=spec.low, le=spec.high)]
    if spec.kind == "float":
        return Annotated[float, Field(ge=spec.low, le=spec.high, allow_inf_nan=False)]
    if spec.kind == "category":
        return Literal[spec.choices]  # type: ignore[valid-type]
    return Annotated[str, Field(min_length=int(spec.low), max_length=int(spec.high))]


class _Columnar(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    @model_validator(mode="after")
    def _same_length_and_unique_ids(self) -> _Columnar:
        lengths = {len(getattr(self, name)) for name in FIELD_NAMES}
        if len(lengths) != 1:
            raise ValueError("all columns must have the same length")
        ids = getattr(self, ID_COLUMN)
        if len(set(ids)) != len(ids):
            raise ValueError(f"{ID_COLUMN} must be unique")
        return self


def request_model(max_rows: int) -> type[BaseModel]:
    """The columnar ``/predict`` request as a strict pydantic model (``max_rows`` rows max)."""
    fields = {
        spec.name: (
            list[_item_type(spec)],
            Field(min_length=1, max_length=max_rows, description=spec.description),
        )
        for spec in FIELDS
    }
    return create_model("OrdersColumns", __base__=_Columnar, **fields)


Order = create_model(
    "Order",
    __config__=ConfigDict(strict=True, extra="forbid"),
    **{spec.name: (_item_type(spec), Field(description=spec.description)) for spec in FIELDS},
)
"""One order in the row format (a list of these is also accepted by ``/predict``)."""


class PredictResponse(BaseModel):
    """Per row: probability of being late, label, the A/B variant and the model version."""

    request_id: str
    n_rows: int
    order_id: list[int]
    probability: list[float]
    label: list[int]
    variant: list[Literal["champion", "challenger"]]
    model_version: list[str]


class ErrorItem(BaseModel):
    loc: list[str | int]
    field: str | None = None
    type: str
    msg: str


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] | str


def orders_payload(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The columnar request body for the orders in ``frame`` (extra columns are dropped)."""
    return {name: frame[name].tolist() for name in FIELD_NAMES}
