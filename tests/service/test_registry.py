"""Serving from the MLflow registry: ``models:/<name>@champion``, reload after the alias moves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving.client import encode_orders
from mlops_course.serving.settings import ServingSettings
from mlops_course.versioning.registry import CHAMPION, MODEL_NAME, register, set_alias
from mlops_course.versioning.tracking import log_training_run, setup_tracking

pytestmark = pytest.mark.slow  # two MLflow runs logged and registered


def test_serves_the_alias_and_follows_it_on_reload(
    work_home, make_client, models, orders: pd.DataFrame, fresh_orders: pd.DataFrame
) -> None:
    setup_tracking()
    versions = {}
    for name, metric in (("champion", 0.71), ("challenger", 0.69)):
        info = log_training_run(
            models[name], orders, fresh_orders, params={"model": name}, metrics={"roc_auc": metric}
        )
        versions[name] = register(info.model_uri)
    set_alias(MODEL_NAME, CHAMPION, versions["champion"])

    settings = ServingSettings(
        model_uri=f"models:/{MODEL_NAME}@{CHAMPION}", log_path=work_home / "log.sqlite"
    )
    batch = fresh_orders.head(50)
    with make_client(settings) as client:
        info = client.get("/model").json()["champion"]
        assert (info["name"], info["alias"]) == (MODEL_NAME, CHAMPION)
        assert info["version"] == str(versions["champion"])
        assert info["metrics"]["roc_auc"] == pytest.approx(0.71)
        assert info["run_id"]
        first = client.post("/predict", content=encode_orders(batch)).json()
        assert set(first["model_version"]) == {str(versions["champion"])}

        # Promote another version in the registry; the running service switches on reload.
        set_alias(MODEL_NAME, CHAMPION, versions["challenger"])
        reloaded = client.post("/admin/reload")
        assert reloaded.status_code == 200
        assert reloaded.json()["champion"]["version"] == str(versions["challenger"])
        second = client.post("/predict", content=encode_orders(batch)).json()
    assert set(second["model_version"]) == {str(versions["challenger"])}
    expected = models["challenger"].predict_proba(batch[FEATURES])[:, 1]
    np.testing.assert_allclose(second["probability"], expected, rtol=1e-12)


def test_unknown_alias_is_a_readable_not_ready(work_home, make_client) -> None:
    setup_tracking()
    settings = ServingSettings(
        model_uri=f"models:/{MODEL_NAME}@nobody", log_path=work_home / "l.sqlite"
    )
    with make_client(settings) as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert "nobody" in ready.json()["reason"]
