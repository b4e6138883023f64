"""Paths, the work directory, seeds and the data schema shared by the whole course.

Everything a run produces (MLflow database, DVC cache, reports, logs) goes to the
*work directory*, so running the course never dirties the git checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

SEED = 42
"""Default seed of every notebook, generator and model in the course."""

WORK_DIR_ENV = "MLOPS_COURSE_HOME"
"""Environment variable that overrides the work directory."""

PACKAGE_DIR = Path(__file__).resolve().parent

# Tools used by the course must never phone home: the course runs offline.
OFFLINE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "GIT_PYTHON_REFRESH": "quiet",
}
for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)


# --- The scenario «Опоздает ли доставка?»: column names used everywhere -------------

ID_COLUMN = "order_id"
TIME_COLUMN = "timestamp"
TARGET = "is_late"
NUMERIC_FEATURES = [
    "distance_km",
    "prep_time_min",
    "courier_load",
    "hour",
    "weekday",
    "temperature_c",
    "order_value",
]
CATEGORICAL_FEATURES = ["weather", "district"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES


def repo_root() -> Path | None:
    """The course checkout this package was installed from (editable install), if any."""
    candidate = PACKAGE_DIR.parents[1]
    if (candidate / "pyproject.toml").is_file() and (candidate / "course").is_dir():
        return candidate
    return None


def work_dir(*parts: str) -> Path:
    """Resolve (and create) the work directory, or a sub-directory of it.

    Order: ``$MLOPS_COURSE_HOME``; else ``<checkout>/.work`` (git-ignored); else
    ``~/.mlops_course`` when the package is installed outside a checkout.
    """
    override = os.environ.get(WORK_DIR_ENV)
    if override:
        base = Path(override).expanduser().resolve()
    elif (root := repo_root()) is not None:
        base = root / ".work"
    else:
        base = Path.home() / ".mlops_course"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def display_path(path: str | Path) -> str:
    """A path as a notebook should print it: never absolute, so outputs stay reproducible.

    Paths in the work directory print as ``<work>/...``; paths in the checkout relative
    to its root.
    """
    path = Path(path).resolve()
    for base, label in ((work_dir(), "<work>"), (repo_root(), None)):
        if base is not None and path.is_relative_to(base):
            relative = path.relative_to(base).as_posix()
            if label is None:
                return relative
            return label if relative == "." else f"{label}/{relative}"
    return path.name


def work_dir_origin() -> str:
    """In words: where the work directory comes from (no absolute path, for notebooks)."""
    if os.environ.get(WORK_DIR_ENV):
        return f"задана переменной окружения {WORK_DIR_ENV}"
    if repo_root() is not None:
        return ".work/ в корне курса (по умолчанию)"
    return "~/.mlops_course (пакет установлен вне папки курса)"
