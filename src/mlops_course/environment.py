"""What the course runs on: versions of the key tools, read without importing them."""

from __future__ import annotations

import platform
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


def package_versions(packages: list[str] | None = None) -> dict[str, str]:
    """``{package: version}`` of installed packages (``"не установлен"`` if missing)."""
    versions = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in packages or KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "не установлен"
    return versions
