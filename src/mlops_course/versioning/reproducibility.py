"""Small reproducibility guards: fingerprints of files, arrays and models, environment checks.

A model is only reproducible together with what made it: the code, the data and the
environment. These helpers record short fingerprints of each and refuse to load a model
into an environment that differs from the one it was trained in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from mlops_course.versioning.environment import environment_record, python_minor

# What must match for a pickled scikit-learn model to behave the same. The platform
# string is recorded too, but a different machine is not a reason to refuse. Python is
# compared by minor version only: the course accepts any 3.11.x.
CHECKED_KEYS = ("python", "scikit-learn", "numpy", "pandas", "scipy")
HASH_LENGTH = 16


def current_environment() -> dict[str, str]:
    """Versions that decide how a model behaves, in the format of ``tracking.environment_info``.

    Read from package metadata, so it is cheap: nothing heavy (such as mlflow) is imported.
    """
    return environment_record(key for key in CHECKED_KEYS if key != "python")


class EnvironmentMismatchError(RuntimeError):
    """The current environment differs from the one a model was trained in."""


def file_hash(path: str | Path) -> str:
    """A short sha256 of a file's bytes (what DVC records for a data file)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:HASH_LENGTH]


def array_hash(*arrays: Any, decimals: int = 10) -> str:
    """A short hash of numeric arrays, rounded so that last-bit float noise is ignored."""
    digest = hashlib.sha256()
    for array in arrays:
        values = np.round(np.asarray(array, dtype=float), decimals) + 0.0  # -0.0 -> 0.0
        digest.update(values.tobytes())
    return digest.hexdigest()[:HASH_LENGTH]


def model_hash(model: Any) -> str:
    """Fingerprint of a fitted linear model or pipeline ending in one: its coefficients."""
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    return array_hash(estimator.coef_, estimator.intercept_)


def check_environment(
    recorded: Mapping[str, str],
    current: Mapping[str, str],
    keys: Iterable[str] = CHECKED_KEYS,
) -> list[str]:
    """Russian descriptions of every checked version that differs; empty if all match.

    Only ``keys`` present in ``recorded`` are compared: an old record without, say,
    scipy is not an error. Python is compared by minor version: 3.11.7 and 3.11.9 match.
    """
    problems = []
    for key in keys:
        if key not in recorded:
            continue
        was, now = str(recorded[key]), current.get(key)
        if now is None:
            problems.append(f"{key}: при обучении {was}, сейчас не установлен")
        elif _comparable(key, str(now)) != _comparable(key, was):
            problems.append(f"{key}: при обучении {was}, сейчас {now}")
    return problems


def _comparable(key: str, version: str) -> str:
    return python_minor(version) if key == "python" else version


def save_model_bundle(model: Any, path: str | Path, **metadata: Any) -> Path:
    """Save a model together with the environment it was trained in (and any metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bundle = {"model": model, "environment": current_environment(), "metadata": metadata}
    joblib.dump(bundle, path)
    return path


def load_model_bundle(
    path: str | Path, current: Mapping[str, str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Load ``(model, metadata)``; refuse if ``current`` (default: this one) differs."""
    bundle = joblib.load(path)
    recorded, current = bundle["environment"], current or current_environment()
    problems = check_environment(recorded, current)
    if problems:
        raise EnvironmentMismatchError(
            "Модель обучена в другом окружении, загрузка остановлена:\n- "
            + "\n- ".join(problems)
            + _advice(recorded, current)
        )
    return bundle["model"], bundle["metadata"]


def _advice(recorded: Mapping[str, str], current: Mapping[str, str]) -> str:
    """What to do about the differences; requirements.lock pins packages, not Python."""
    advice = ""
    if check_environment(recorded, current, keys=["python"]):
        advice += (
            f"\nНужен Python {python_minor(str(recorded['python']))} "
            "(подойдёт любой его выпуск): установите его или переобучите модель."
        )
    packages = [key for key in CHECKED_KEYS if key != "python"]
    if check_environment(recorded, current, keys=packages):
        advice += "\nВосстановите версии из requirements.lock или переобучите модель."
    return advice
