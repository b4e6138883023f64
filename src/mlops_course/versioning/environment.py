"""What the course runs on: versions of the key tools, read without importing them."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata

KEY_PACKAGES = [
    "mlops-course",
    "numpy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "pandera",
    "mlflow",
    "dvc",
    "evidently",
    "fastapi",
    "uvicorn",
    "prometheus-client",
    "prefect",
    "dask",
    "distributed",
    "jupyterlab",
    "papermill",
    "nbval",
    "jupytext",
    "pytest",
]


def python_minor(version: str | None = None) -> str:
    """``"3.11.9"`` -> ``"3.11"``; the running interpreter's when no version is given."""
    return ".".join((version or platform.python_version()).split(".")[:2])


def package_versions(packages: list[str] | None = None) -> dict[str, str]:
    """``{package: version}`` of installed packages (``"не установлен"`` if missing).

    ``python`` is the minor version ("3.11"): the one the course requires.
    """
    versions = {"python": python_minor()}
    for name in packages or KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "не установлен"
    return versions


def environment_record(packages: Iterable[str]) -> dict[str, str]:
    """What a model was trained in: ``packages``' versions, the exact Python and the platform.

    Stored with a model (MLflow run tags, model bundles) and compared on load by
    ``reproducibility.check_environment``.
    """
    return {
        **package_versions(list(packages)),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
