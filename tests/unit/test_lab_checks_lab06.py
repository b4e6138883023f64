"""lab06 checks accept the reference solution and name only the mistake a wrong answer made.

One real stack for the module: an MLflow registry in a temporary folder, a champion, a live
service (started once, stopped at the end) with its prediction log, a week of winter orders.
"""

from __future__ import annotations

import contextlib
import io

import httpx
import pandas as pd
import pytest

from mlops_course.classroom.checks import CheckFailed, run_check
from mlops_course.classroom.lab_checks import lab06_capstone as lab
from mlops_course.model.evaluate import CostTable, evaluate_model, tune_threshold
from mlops_course.model.train import split, split_validation, train_model
from mlops_course.model.validation import validate_orders
from mlops_course.scenario.problems import make_batch
from mlops_course.serving import start_service
from mlops_course.serving.background import free_port
from mlops_course.serving.client import ServiceClient
from mlops_course.serving.prediction_log import read_prediction_log
from mlops_course.versioning import registry, tracking

SEED = 3
COSTS = CostTable()


# --- Reference solutions (as in the lab) ------------------------------------------------


def prepare(frame):
    validate_orders(frame).raise_for_violations()
    return split(frame)


def fit_and_log(train, test, threshold_on=None, log_threshold=True):
    fit, validation = split_validation(train)
    model = train_model(fit, seed=SEED)
    threshold = tune_threshold(model, validation if threshold_on is None else threshold_on, COSTS)
    metrics = evaluate_model(model, test, threshold, COSTS)
    params = {"model": "logreg", "seed": SEED}
    if log_threshold:
        params["threshold"] = threshold
    info = tracking.log_training_run(model, train, test, params, metrics)
    return registry.register(info.model_uri), threshold, metrics


def train_and_register(train, test):
    version, threshold, metrics = fit_and_log(train, test)
    registry.promote_if_better(
        registry.MODEL_NAME, version, test, "log_loss", threshold=threshold, costs=COSTS
    )
    return version, threshold, metrics


def send_traffic(url, orders, part_size=200):
    with ServiceClient(url) as client:
        parts = [
            client.predict(orders.iloc[i : i + part_size]) for i in range(0, len(orders), part_size)
        ]
    return pd.concat(parts, ignore_index=True)


def gate(version, eval_frame, threshold):
    return registry.promote_if_better(
        registry.MODEL_NAME, version, eval_frame, "log_loss", threshold=threshold, costs=COSTS
    )


def retrain_and_deploy(labelled, url, gate=gate, reload=True):
    train, test = prepare(labelled)
    version, threshold, _ = fit_and_log(train, test)
    if gate(version, test, threshold).promoted and reload:
        httpx.post(url + "/admin/reload", timeout=30).raise_for_status()
    return version


# --- The stack --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("lab06")
    tracking.setup_tracking(home=home)
    spring = make_batch(2000, SEED).frame
    train, test = prepare(spring)
    version, threshold, metrics = train_and_register(train, test)
    log_path = home / "predictions.sqlite"
    service = start_service(
        f"models:/{registry.MODEL_NAME}@champion",
        extra_args=["--tracking-uri", tracking.tracking_uri(home), "--log-path", str(log_path)],
        env={"MLOPS_SERVING_THRESHOLD": str(threshold)},
        timeout=120,
    )
    winter = make_batch(1000, SEED + 1, ["winter"], start="2025-12-01", first_id=100_001).frame
    send_traffic(service.url, winter)
    yield {
        "home": home, "spring": spring, "train": train, "test": test, "version": version,
        "threshold": threshold, "metrics": metrics, "service": service, "log_path": log_path,
        "winter": winter,
    }  # fmt: skip
    service.stop()
    assert not lab.service_processes()


def restore_champion(stack) -> None:
    """Put the first version back as champion, in the registry and in the service."""
    registry.promote(registry.MODEL_NAME, stack["version"])
    httpx.post(stack["service"].url + "/admin/reload", timeout=30).raise_for_status()


def verdicts(results) -> dict[str, bool]:
    return {result.message: result.passed for result in results}


def failed(results) -> list[str]:
    return [result.message for result in results if not result.passed]


def feedback(check, *args, **kwargs) -> str:
    """What the notebook prints when ``check`` rejects the answer."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(CheckFailed):
        run_check(check, *args, **kwargs)
    return out.getvalue()


# --- Exercise 1 ---------------------------------------------------------------------------


def test_prepare_accepts_validation_then_a_time_split():
    assert not failed(lab.check_prepare(prepare, seed=SEED))


def random_split(frame):
    validate_orders(frame).raise_for_violations()
    return split(frame, by_time=False)


def target_dropped(frame):
    return tuple(part.drop(columns=["is_late"]) for part in prepare(frame))


def wrong_size(frame):
    validate_orders(frame).raise_for_violations()
    return split(frame, test_size=0.4)


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        (split, "метрах"),  # no validation: the broken batch goes on
        (random_split, "по времени"),
        (target_dropped, "is_late"),
        (wrong_size, "четверть"),
    ],
    ids=["no-validation", "random-split", "target-dropped", "wrong-size"],
)
def test_prepare_names_only_the_mistake(wrong, named):
    problems = failed(lab.check_prepare(wrong, seed=SEED))
    assert len(problems) == 1 and named in problems[0], problems


def test_prepare_without_return_says_so():
    assert "ничего не вернула" in feedback(lab.check_prepare, lambda frame: None, seed=SEED)


# --- Exercise 2 ---------------------------------------------------------------------------


def test_champion_accepts_the_registered_champion(stack):
    result = (stack["version"], stack["threshold"], stack["metrics"])
    assert not failed(lab.check_champion(result, stack["train"]))


def test_champion_registered_without_alias_names_the_gate(stack):
    registry.delete_alias(registry.MODEL_NAME, registry.CHAMPION)  # no champion yet
    try:
        result = fit_and_log(stack["train"], stack["test"])
        problems = failed(lab.check_champion(result, stack["train"]))
    finally:
        restore_champion(stack)
    assert len(problems) == 1 and "promote_if_better" in problems[0], problems


def test_champion_threshold_tuned_on_test_is_named(stack):
    version, threshold, metrics = fit_and_log(stack["train"], stack["test"], stack["test"])
    registry.promote(registry.MODEL_NAME, version)
    try:
        problems = failed(lab.check_champion((version, threshold, metrics), stack["train"]))
    finally:
        restore_champion(stack)
    assert len(problems) == 1 and "на валидации" in problems[0], problems


def test_champion_run_without_the_threshold_is_named(stack):
    version, threshold, metrics = fit_and_log(stack["train"], stack["test"], log_threshold=False)
    registry.promote(registry.MODEL_NAME, version)
    try:
        problems = failed(lab.check_champion((version, threshold, metrics), stack["train"]))
    finally:
        restore_champion(stack)
    assert len(problems) == 1 and "нет: threshold" in problems[0], problems


def test_champion_wrong_shape_is_a_hint(stack):
    out = feedback(lab.check_champion, stack["version"], stack["train"])
    assert "тройку" in out


# --- Exercise 3 ---------------------------------------------------------------------------


def winter_week(stack, n=400, first_id=500_001):
    # a new seed per call: the same rows logged twice would look like drift to the tests
    return make_batch(n, first_id, ["winter"], start="2025-12-08", first_id=first_id).frame


def test_traffic_accepts_every_order_answered_and_logged(stack):
    orders = winter_week(stack, first_id=400_001)
    results = lab.check_traffic(
        send_traffic, stack["service"].url, orders, stack["log_path"], stack["version"]
    )
    assert not failed(results)


def test_traffic_answered_by_another_version_is_named(stack):
    orders = winter_week(stack, n=100, first_id=800_001)
    url, log_path = stack["service"].url, stack["log_path"]
    problems = failed(lab.check_traffic(send_traffic, url, orders, log_path, stack["version"] + 7))
    assert len(problems) == 1 and "версии" in problems[0], problems


def test_traffic_to_the_wrong_port_is_named(stack):
    wrong = f"http://127.0.0.1:{free_port()}"
    out = feedback(
        lab.check_traffic,
        lambda url, orders: send_traffic(wrong, orders),
        stack["service"].url, winter_week(stack), stack["log_path"], stack["version"],
    )  # fmt: skip
    assert "service.url" in out and out.count("✗") == 1


def test_traffic_keeping_only_the_last_part_is_named(stack):
    results = lab.check_traffic(
        lambda url, orders: send_traffic(url, orders).tail(200),
        stack["service"].url, winter_week(stack, first_id=600_001), stack["log_path"],
        stack["version"],
    )  # fmt: skip
    problems = failed(results)
    assert len(problems) == 1 and "pd.concat" in problems[0], problems


def test_traffic_sent_twice_is_named(stack):
    def twice(url, orders):
        send_traffic(url, orders)
        return send_traffic(url, orders)

    results = lab.check_traffic(
        twice, stack["service"].url, winter_week(stack, first_id=700_001), stack["log_path"],
        stack["version"],
    )  # fmt: skip
    problems = failed(results)
    assert len(problems) == 1 and "ровно один раз" in problems[0], problems


# --- Exercise 4 ---------------------------------------------------------------------------


def monitor(reference, log_path, labels, trained_metrics, drift=None, threshold=0.5):
    from mlops_course.automation.triggers import retraining_trigger
    from mlops_course.monitoring.job import run_monitoring

    report = run_monitoring(reference, log_path, labels, threshold=threshold)
    live = report.quality.loc["all", "log_loss"]
    detected = report.drift_detected if drift is None else drift
    retrain, reasons = retraining_trigger(detected, live, trained_metrics["log_loss"], "log_loss")
    return report, retrain, reasons


def monitoring_args(stack):
    n_logged = len(read_prediction_log(stack["log_path"]))
    labels = stack["winter"][["order_id", "is_late"]]
    return stack["log_path"], labels, stack["metrics"], n_logged


def test_monitoring_accepts_the_job_and_the_trigger(stack):
    log_path, labels, metrics, n = monitoring_args(stack)
    assert not failed(lab.check_monitoring(monitor, stack["spring"], log_path, labels, metrics, n))


def test_monitoring_against_winter_data_names_the_reference(stack):
    log_path, labels, metrics, n = monitoring_args(stack)
    winter = stack["winter"]
    problems = failed(
        lab.check_monitoring(
            lambda ref, *args: monitor(winter, *args), stack["spring"], log_path, labels,
            metrics, n,
        )
    )  # fmt: skip
    # compared with itself: no drift, so neither the drift nor the drift reason
    assert len(problems) == 2 and "reference" in problems[0] and "drift_detected" in problems[1]


def test_monitoring_trigger_without_drift_names_the_argument(stack):
    log_path, labels, metrics, n = monitoring_args(stack)
    problems = failed(
        lab.check_monitoring(
            lambda *args: monitor(*args, drift=False), stack["spring"], log_path, labels,
            metrics, n,
        )
    )  # fmt: skip
    assert len(problems) == 1 and "drift_detected" in problems[0], problems


def test_monitoring_trigger_against_the_live_metric_names_the_quality(stack):
    log_path, labels, metrics, n = monitoring_args(stack)

    def live_as_trained(reference, log_path, labels, trained):
        report, _, _ = monitor(reference, log_path, labels, trained)
        live = {"log_loss": report.quality.loc["all", "log_loss"]}  # wrong: no loss to see
        return monitor(reference, log_path, labels, live)

    problems = failed(
        lab.check_monitoring(live_as_trained, stack["spring"], log_path, labels, metrics, n)
    )
    assert len(problems) == 1 and "trained_metrics" in problems[0], problems


def test_monitoring_ignoring_the_reference_argument_is_named(stack):
    log_path, labels, metrics, n = monitoring_args(stack)
    spring = stack["spring"]
    problems = failed(
        lab.check_monitoring(
            lambda ref, *args: monitor(spring, *args), spring, log_path, labels, metrics, n
        )
    )
    assert len(problems) == 1 and "глобальной" in problems[0], problems


def test_monitoring_wrong_window_is_named(stack):
    log_path, labels, metrics, n = monitoring_args(stack)
    problems = failed(
        lab.check_monitoring(monitor, stack["spring"], log_path, labels, metrics, n + 5)
    )
    assert len(problems) == 1 and "log_path" in problems[0], problems


# --- Exercise 5 ---------------------------------------------------------------------------


def winter_test(stack):
    return prepare(stack["winter"])[1]


def test_gate_refusing_a_worse_model_passes(stack):
    restore_champion(stack)
    results = lab.check_gate(gate, stack["train"], winter_test(stack), stack["threshold"])
    assert not failed(results)
    assert registry.aliases()["champion"] == stack["version"]


def backwards_gate(version, eval_frame, threshold):
    """Wrong: promotes when the challenger's log loss is *higher*."""
    champion = registry.aliases()["champion"]
    score = {
        v: evaluate_model(registry.load_version(registry.MODEL_NAME, v), eval_frame)["log_loss"]
        for v in (version, champion)
    }
    promoted = score[version] > score[champion]
    if promoted:
        registry.promote(registry.MODEL_NAME, version)
    return promoted


@pytest.mark.parametrize(
    "wrong",
    [backwards_gate, lambda version, *_: registry.promote(registry.MODEL_NAME, version) or True],
    ids=["compares-backwards", "always-promotes"],
)
def test_gate_letting_a_worse_model_through_is_named_and_undone(stack, wrong):
    restore_champion(stack)
    out = feedback(lab.check_gate, wrong, stack["train"], winter_test(stack), stack["threshold"])
    assert "меньше — лучше" in out and "возвращён" in out
    assert registry.aliases()["champion"] == stack["version"]


# --- Exercise 6 ---------------------------------------------------------------------------


def sample():
    return make_batch(30, SEED + 9, ["winter"], start="2025-12-15", first_id=900_001).frame


def test_redeploy_accepts_promote_and_reload(stack):
    restore_champion(stack)
    results = lab.check_redeployed(
        retrain_and_deploy, stack["winter"], stack["service"].url, sample()
    )
    assert not failed(results)
    assert registry.aliases()["champion"] != stack["version"]


def test_redeploy_without_reload_names_the_reload(stack):
    restore_champion(stack)
    results = lab.check_redeployed(
        lambda labelled, url: retrain_and_deploy(labelled, url, reload=False),
        stack["winter"], stack["service"].url, sample(),
    )  # fmt: skip
    problems = failed(results)
    assert len(problems) == 1 and "/admin/reload" in problems[0], problems


def test_redeploy_with_a_gate_that_refuses_everything_names_the_gate(stack):
    restore_champion(stack)
    refuse = lambda version, eval_frame, threshold: registry.PromotionDecision(  # noqa: E731
        False, "нет", "log_loss", version
    )
    results = lab.check_redeployed(
        lambda labelled, url: retrain_and_deploy(labelled, url, gate=refuse),
        stack["winter"], stack["service"].url, sample(),
    )  # fmt: skip
    problems = failed(results)
    assert len(problems) == 1 and "ворота" in problems[0], problems


def test_redeploy_trained_without_labels_names_the_labels(stack):
    restore_champion(stack)
    out = feedback(
        lab.check_redeployed,
        lambda labelled, url: retrain_and_deploy(labelled.drop(columns=["is_late"]), url),
        stack["winter"], stack["service"].url, sample(),
    )  # fmt: skip
    assert "без колонки is_late" in out and out.count("✗") == 1
