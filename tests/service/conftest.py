"""Shared fixtures of the service tests: two small models saved as MLflow model directories."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow.sklearn
import pandas as pd
import pytest

from mlops_course.config import SEED
from mlops_course.model.train import train_model
from mlops_course.scenario.generator import generate_orders
from mlops_course.serving.app import create_app
from mlops_course.serving.settings import ServingSettings
from mlops_course.versioning.tracking import SKOPS_TRUSTED_TYPES, model_requirements

with warnings.catch_warnings():  # starlette warns that its TestClient still uses httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def orders() -> pd.DataFrame:
    """Training orders (also the drift reference)."""
    return generate_orders(3000, SEED)


@pytest.fixture(scope="session")
def fresh_orders() -> pd.DataFrame:
    """Orders the models have not seen, with ids that do not clash with ``orders``."""
    return generate_orders(3000, SEED + 1, first_id=1_000_000)


@pytest.fixture(scope="session")
def models(orders: pd.DataFrame) -> dict[str, object]:
    """Champion and a visibly different challenger (strong regularisation)."""
    return {"champion": train_model(orders), "challenger": train_model(orders, C=0.001)}


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory, models: dict) -> dict[str, Path]:
    """The two models exported with ``mlflow.sklearn.save_model`` (what the service loads)."""
    base = tmp_path_factory.mktemp("models")
    paths = {}
    for name, model in models.items():
        paths[name] = base / name
        # Explicit requirements: MLflow would otherwise infer them in a slow subprocess.
        mlflow.sklearn.save_model(
            model,
            str(paths[name]),
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=model_requirements(),
        )
    return paths


@pytest.fixture
def settings(model_dirs: dict[str, Path], tmp_path: Path) -> ServingSettings:
    return ServingSettings(model_uri=str(model_dirs["champion"]), log_path=tmp_path / "log.sqlite")


@pytest.fixture
def client(settings: ServingSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Callable[[ServingSettings], TestClient]:
    """Factory of TestClients for apps with other settings (use each as a context manager)."""
    return lambda settings: TestClient(create_app(settings))
