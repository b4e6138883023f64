"""A/B routing: deterministic by order id, the configured share, switch and roll back live."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_course.config import FEATURES
from mlops_course.serving.client import encode_orders, metric_value, parse_metrics
from mlops_course.serving.prediction_log import read_prediction_log
from mlops_course.serving.router import route_buckets


def test_route_buckets_are_deterministic_uniform_and_salted() -> None:
    ids = np.arange(1, 40_001)
    buckets = route_buckets(ids, "exp-1")
    np.testing.assert_array_equal(buckets, route_buckets(ids.copy(), "exp-1"))
    assert buckets.min() >= 0.0 and buckets.max() < 1.0
    counts, _ = np.histogram(buckets, bins=10, range=(0, 1))
    expected = len(ids) / 10
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # ~5 sigma
    other_salt = route_buckets(ids, "exp-2") < 0.5
    agreement = np.mean(other_salt == (buckets < 0.5))
    assert 0.45 < agreement < 0.55  # a new salt reshuffles (independent assignment)


def share_tolerance(share: float, n: int) -> float:
    return 4 * np.sqrt(share * (1 - share) / n)  # 4 binomial standard errors


@pytest.fixture
def ab_settings(settings, model_dirs):
    return settings.with_changes(challenger_uri=str(model_dirs["challenger"]), challenger_share=0.3)


def test_split_follows_the_share_and_each_order_keeps_its_variant(
    make_client, ab_settings, models, fresh_orders: pd.DataFrame
) -> None:
    orders = fresh_orders.head(2000)
    with make_client(ab_settings) as client:
        first = client.post("/predict", content=encode_orders(orders)).json()
        again = client.post("/predict", content=encode_orders(orders.iloc[::-1])).json()
        metrics = parse_metrics(client.get("/metrics").text)
        info = client.get("/model").json()
    variant = np.array(first["variant"])
    share = np.mean(variant == "challenger")
    assert abs(share - 0.3) < share_tolerance(0.3, len(orders))
    assert again["variant"][::-1] == first["variant"]  # same order -> same model
    # Each row was scored by the model of its variant, and reports that model's version.
    for name in ("champion", "challenger"):
        rows = variant == name
        expected = models[name].predict_proba(orders.loc[rows, FEATURES])[:, 1]
        np.testing.assert_allclose(np.array(first["probability"])[rows], expected, rtol=1e-12)
        assert set(np.array(first["model_version"])[rows]) == {info[name]["version"]}
    assert info["champion"]["version"] != info["challenger"]["version"]
    # Per-variant prediction counters match the two requests.
    labels = np.array(first["label"])
    for name in ("champion", "challenger"):
        for label in (0, 1):
            sent = 2 * int(np.sum((variant == name) & (labels == label)))
            assert (
                metric_value(metrics, "predictions_total", variant=name, label=str(label)) == sent
            )
    assert metric_value(metrics, "ab_challenger_share") == 0.3


def test_switch_and_roll_back_the_challenger_without_restart(
    client, model_dirs, fresh_orders: pd.DataFrame
) -> None:
    orders = encode_orders(fresh_orders.head(1000))
    assert set(client.post("/predict", content=orders).json()["variant"]) == {"champion"}

    switched = client.put(
        "/admin/challenger", json={"model_uri": str(model_dirs["challenger"]), "share": 0.5}
    )
    assert switched.status_code == 200 and switched.json()["challenger"]["name"] == "challenger"
    during = np.array(client.post("/predict", content=orders).json()["variant"])
    assert abs(np.mean(during == "challenger") - 0.5) < share_tolerance(0.5, 1000)
    metrics = parse_metrics(client.get("/metrics").text)
    assert metric_value(metrics, "ab_challenger_share") == 0.5
    version = switched.json()["challenger"]["version"]
    assert (
        metric_value(
            metrics,
            "model_info",
            variant="challenger",
            name="challenger",
            version=version,
            alias="",
        )
        == 1
    )

    rolled_back = client.delete("/admin/challenger")
    assert rolled_back.status_code == 200 and rolled_back.json()["challenger"] is None
    assert set(client.post("/predict", content=orders).json()["variant"]) == {"champion"}
    metrics = parse_metrics(client.get("/metrics").text)
    assert (
        metric_value(
            metrics,
            "model_info",
            variant="challenger",
            name="challenger",
            version=version,
            alias="",
        )
        == 0
    )

    log = read_prediction_log(client.app.state.service.settings.log_path)
    assert len(log) == 3000
    assert log.groupby("request_id", sort=False)["variant"].apply(set).tolist() == [
        {"champion"}, {"champion", "challenger"}, {"champion"}
    ]  # fmt: skip


def test_a_broken_challenger_is_refused_and_changes_nothing(client, tmp_path) -> None:
    before = client.get("/model").json()
    refused = client.put(
        "/admin/challenger", json={"model_uri": str(tmp_path / "nothing"), "share": 0.5}
    )
    assert refused.status_code == 422 and "nothing" in refused.json()["detail"]
    assert client.put("/admin/challenger", json={"model_uri": "x", "share": 1.5}).status_code == 422
    assert client.get("/model").json() == before


def test_a_challenger_that_fails_at_startup_leaves_the_champion_serving(
    make_client, settings, fresh_orders, model_dirs, tmp_path
) -> None:
    broken = settings.with_changes(challenger_uri=str(tmp_path / "nothing"), challenger_share=0.5)
    with make_client(broken) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200 and "nothing" in ready.json()["warning"]
        assert "nothing" in client.get("/model").json()["challenger_error"]
        answer = client.post("/predict", content=encode_orders(fresh_orders.head(50))).json()
        assert set(answer["variant"]) == {"champion"}
        fixed = {"model_uri": str(model_dirs["challenger"]), "share": 0.5}
        assert client.put("/admin/challenger", json=fixed).status_code == 200
        assert "warning" not in client.get("/ready").json()
        assert "challenger_error" not in client.get("/model").json()


def test_admin_routes_can_be_disabled(make_client, settings) -> None:
    with make_client(settings.with_changes(admin_enabled=False)) as client:
        assert client.delete("/admin/challenger").status_code in (404, 405)


def test_admin_requires_the_token_when_one_is_set(make_client, settings) -> None:
    with make_client(settings.with_changes(admin_token="s3cret")) as client:
        missing = client.delete("/admin/challenger")
        assert missing.status_code == 401 and "Authorization" in missing.json()["detail"]
        wrong = client.delete("/admin/challenger", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = client.delete("/admin/challenger", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        assert client.post("/predict", content=b"{}").status_code != 401  # only /admin


def test_admin_refuses_a_page_of_another_site(client) -> None:
    """A form on any web site can POST to loopback without a CORS preflight."""
    before = client.get("/model").json()
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9999"):
        refused = client.post("/admin/reload", headers={"Origin": origin})
        assert refused.status_code == 403 and "другого сайта" in refused.json()["detail"]
        assert client.delete("/admin/challenger", headers={"Origin": origin}).status_code == 403
    assert client.get("/model").json() == before
    own_docs = client.delete("/admin/challenger", headers={"Origin": "http://testserver"})
    assert own_docs.status_code == 200  # the service's own /docs page


@pytest.mark.parametrize(
    ("host", "changes", "exposed"),
    [
        ("127.0.0.1", {}, False),
        ("localhost", {}, False),
        ("::1", {}, False),
        ("0.0.0.0", {}, True),
        ("service.example", {}, True),
        ("0.0.0.0", {"admin_token": "t"}, False),
        ("0.0.0.0", {"admin_enabled": False}, False),
    ],
)
def test_admin_exposed_only_off_loopback_without_a_token(settings, host, changes, exposed):
    assert settings.with_changes(**changes).admin_exposed(host) is exposed


def test_cli_refuses_to_open_admin_to_the_network(monkeypatch) -> None:
    from mlops_course.serving.__main__ import main

    monkeypatch.delenv("MLOPS_SERVING_ADMIN_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="MLOPS_SERVING_ADMIN_TOKEN"):
        main(["--model-uri", "models:/m@champion", "--host", "0.0.0.0"])


def test_the_admin_token_is_not_in_the_settings_repr(settings) -> None:
    assert "s3cret" not in repr(settings.with_changes(admin_token="s3cret"))
