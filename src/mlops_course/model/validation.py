"""Data validation of order batches: a declared schema, every violation listed.

Why pandera: the schema is plain Python next to the code that uses it (columns, dtypes,
ranges, categories, uniqueness), it validates a pandas frame directly without a server, a
project context or generated config, and lazy validation returns *all* failures as a tidy
frame in one pass, which is exactly what a readable batch report needs. Great Expectations
or Evidently test suites would add a heavy runtime and HTML for a check that fits on a page.

Policy:

* **Errors** make a batch invalid (``ValidationResult.ok`` is False): a missing or
  unexpected (e.g. renamed) column, a wrong dtype, NaN in a required column, values out of
  their physical range (``distance_km`` above 50 is metres, not kilometres), an unknown
  weather, duplicated ``order_id``.
* **Warnings** are reported but keep the batch valid: an *unseen district*. A new district
  is a business event (the service opened a new area), not a broken pipe; the values are
  well-formed and the model's encoder handles unknown categories, so blocking the batch
  would stop predictions exactly where the business grows. It is data drift: monitoring and
  retraining must react to it, so it is listed in ``ValidationResult.warnings``.
* The target ``is_late`` is required for training batches and optional for inference
  batches (``require_target=False``): labels arrive later than features.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlops_course.config import ID_COLUMN, TARGET, TIME_COLUMN
from mlops_course.scenario.generator import DISTRICTS, WEATHER

VIOLATION_COLUMNS = ["column", "check", "failing_count", "examples"]
MAX_EXAMPLES = 3

# Physical ranges: wide enough for any real order, narrow enough to catch wrong units.
RANGES = {
    "distance_km": (0.1, 50.0),
    "prep_time_min": (0.0, 180.0),
    "courier_load": (0, 30),
    "hour": (0, 23),
    "weekday": (0, 6),
    "temperature_c": (-50.0, 50.0),
    "order_value": (1.0, 100_000.0),
}
FLOAT_COLUMNS = ("distance_km", "prep_time_min", "temperature_c", "order_value")
INT_COLUMNS = ("courier_load", "hour", "weekday")

# Russian names of pandera's checks, for the notebook summary.
CHECK_NAMES_RU = {
    "column_in_dataframe": "колонка отсутствует",
    "column_in_schema": "неожиданная колонка (переименована?)",
    "not_nullable": "пропуски (NaN)",
    "dtype": "неверный тип данных",
    "in_range": "значения вне допустимого диапазона",
    "isin": "неизвестные категории",
    "field_uniqueness": "повторяющиеся значения",
}


def order_schema(require_target: bool = True) -> pa.DataFrameSchema:
    """The hard rules of an order batch (violations make it invalid)."""
    columns = {
        ID_COLUMN: pa.Column("int64", pa.Check.ge(1), unique=True),
        TIME_COLUMN: pa.Column("datetime64[ns]"),
        **{name: pa.Column("float64", pa.Check.in_range(*RANGES[name])) for name in FLOAT_COLUMNS},
        **{name: pa.Column("int64", pa.Check.in_range(*RANGES[name])) for name in INT_COLUMNS},
        "weather": pa.Column(str, pa.Check.isin(WEATHER)),
        "district": pa.Column(str),
        TARGET: pa.Column("int64", pa.Check.isin([0, 1]), required=require_target),
    }
    # strict: a renamed column shows up twice, as missing and as unexpected.
    return pa.DataFrameSchema(columns, strict=True, ordered=False, coerce=False, name="orders")


def district_schema() -> pa.DataFrameSchema:
    """The soft rule: districts the model was trained on (violations are warnings)."""
    known = pa.Check.isin(DISTRICTS)
    return pa.DataFrameSchema({"district": pa.Column(checks=known, nullable=True)})


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating one batch."""

    violations: pd.DataFrame
    """One row per violated check: column, check, failing_count, examples."""
    warnings: pd.DataFrame
    """Same columns; reported but the batch is still valid (e.g. a new district)."""
    n_rows: int

    @property
    def ok(self) -> bool:
        return self.violations.empty

    @property
    def failed_columns(self) -> set[str]:
        return set(self.violations["column"])

    def summary(self) -> str:
        """A short Russian report for notebooks."""
        if self.ok:
            lines = [f"✓ Данные прошли проверку (строк: {self.n_rows})."]
        else:
            lines = [
                f"✗ Данные не прошли проверку (строк: {self.n_rows}, "
                f"нарушений: {len(self.violations)}):"
            ]
            lines += [_describe(row) for row in self.violations.itertuples(index=False)]
        if not self.warnings.empty:
            lines.append("Предупреждения (партия допускается):")
            lines += [_describe(row) for row in self.warnings.itertuples(index=False)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def raise_for_violations(self) -> None:
        """Stop a pipeline step on an invalid batch, with the readable summary."""
        if not self.ok:
            raise DataValidationError(self.summary())


class DataValidationError(ValueError):
    """A batch broke the schema; the message lists every violation."""


def _describe(row) -> str:
    kind = row.check.split("(")[0]
    what = CHECK_NAMES_RU.get(kind, row.check)
    return (
        f"  • {row.column}: {what} [{row.check}] — значений: {row.failing_count}, "
        f"например: {row.examples}"
    )


def _format_value(value) -> str:
    if isinstance(value, float):
        return "NaN" if pd.isna(value) else f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _tidy(failures: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Turn pandera's failure cases (one row per failing value) into one row per check."""
    failures = failures.copy()
    # Whole-frame checks (missing / unexpected column) name the column in failure_case.
    frame_level = failures["schema_context"] == "DataFrameSchema"
    failures.loc[frame_level, "column"] = failures.loc[frame_level, "failure_case"]
    failures["column"] = failures["column"].astype(str)
    failures["check"] = failures["check"].astype(str)

    # On a column of the wrong type, value checks only repeat the dtype error.
    wrong_type = set(failures.loc[failures["check"].str.startswith("dtype"), "column"])
    noise = failures["column"].isin(wrong_type) & ~failures["check"].str.startswith(
        ("dtype", "not_nullable")
    )
    failures = failures[~noise]

    rows = []
    for (column, check), group in failures.groupby(["column", "check"], sort=False):
        if check.startswith("dtype") and column in frame:
            actual = frame[column]
            values = ", ".join(_format_value(v) for v in actual.head(MAX_EXAMPLES))
            examples = f"{actual.dtype}: {values}"
            count = len(actual)
        else:
            values = group["failure_case"].drop_duplicates().head(MAX_EXAMPLES)
            examples = ", ".join(_format_value(v) for v in values)
            count = len(group)
        rows.append(
            {"column": column, "check": check, "failing_count": count, "examples": examples}
        )
    return pd.DataFrame(rows, columns=VIOLATION_COLUMNS)


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # pandera concatenates all-NA failure cases; pandas 2.x warns about it.
            warnings.filterwarnings("ignore", "The behavior of DataFrame concat", FutureWarning)
            schema.validate(frame, lazy=True)
    except SchemaErrors as error:
        return _tidy(error.failure_cases, frame)
    return pd.DataFrame(columns=VIOLATION_COLUMNS)


def validate_orders(frame: pd.DataFrame, require_target: bool = True) -> ValidationResult:
    """Validate a batch of orders; every violation is listed, nothing raises.

    ``require_target=False`` for inference batches, whose labels are not known yet.
    """
    violations = _failures(order_schema(require_target), frame)
    new_categories = (
        _failures(district_schema(), frame)
        if "district" in frame
        else pd.DataFrame(columns=VIOLATION_COLUMNS)
    )
    return ValidationResult(violations=violations, warnings=new_categories, n_rows=len(frame))
