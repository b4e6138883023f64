"""Tests of MLflow tracking, the registry aliases and the promotion gate.

Every test gets its own fresh sqlite database in its own work directory (``work_home``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from mlops_course.config import FEATURES, TARGET
from mlops_course.model.evaluate import evaluate_model
from mlops_course.model.train import split, train_model
from mlops_course.scenario.generator import frame_hash, generate_orders
from mlops_course.versioning import registry, tracking

NAME = "delivery-delay-test"


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return split(generate_orders(4000, seed=21), test_size=0.3)


@pytest.fixture(scope="module")
def good_model(frames):
    return train_model(frames[0])


@pytest.fixture(scope="module")
def bad_model(frames):
    # Trained on shuffled labels: it has learnt nothing, AUC about 0.5.
    train = frames[0]
    shuffled = train.assign(**{TARGET: train[TARGET].sample(frac=1.0, random_state=0).to_numpy()})
    return train_model(shuffled)


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    # Creating MLflow's schema runs ~100 migrations (~3 s): do it once, copy it per test.
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracked(work_home: Path, empty_db: Path) -> Path:
    """A fresh tracking database (a copy of an empty one) in this test's work dir."""
    target = work_home / "mlflow" / "mlflow.db"
    target.parent.mkdir(parents=True)
    shutil.copy(empty_db, target)
    tracking.setup_tracking()
    return work_home


def log_and_register(model, frames, name: str = NAME) -> int:
    train, test = frames
    info = tracking.log_training_run(
        model, train, test, {"model": "logreg"}, evaluate_model(model, test)
    )
    return registry.register(info.model_uri, name)


def test_setup_tracking_creates_a_quiet_sqlite_store_in_the_work_dir(work_home, capfd):
    experiment_id = tracking.setup_tracking("course-test")

    mlflow_dir = work_home.resolve() / "mlflow"
    assert mlflow.get_tracking_uri() == f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    assert mlflow.get_registry_uri() == mlflow.get_tracking_uri()
    assert (mlflow_dir / "mlflow.db").is_file()
    experiment = mlflow.get_experiment(experiment_id)
    assert experiment.name == "course-test"
    assert experiment.artifact_location == (mlflow_dir / "artifacts").as_uri()
    assert tracking.setup_tracking("course-test") == experiment_id  # idempotent
    assert not (work_home / "mlruns").exists() and not Path("mlruns").exists()  # no file store
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # no migration or INFO chatter


def test_log_register_alias_load_round_trip(tracked, frames, good_model):
    train, test = frames
    metrics = evaluate_model(good_model, test)
    info = tracking.log_training_run(good_model, train, test, {"model": "logreg"}, metrics)
    version = registry.register(info.model_uri, NAME)
    registry.set_alias(NAME, registry.CHAMPION, version)

    loaded = registry.load_model(NAME, alias="champion")

    np.testing.assert_array_equal(
        loaded.predict_proba(test[FEATURES]), good_model.predict_proba(test[FEATURES])
    )
    assert registry.get_alias_version(NAME, "champion") == version == 1
    run = mlflow.get_run(info.run_id)
    assert run.data.params["train_data_hash"] == frame_hash(train)
    assert run.data.params["eval_data_hash"] == frame_hash(test)
    assert run.data.metrics["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert run.data.tags["env.scikit-learn"] == tracking.environment_info()["scikit-learn"]
    assert run.data.tags["git_commit"] == (tracking.git_commit() or "unknown")
    assert run.data.tags["git_dirty"] in {"true", "false", "unknown"}
    assert (
        run.data.tags["git_dirty"]
        == {True: "true", False: "false", None: "unknown"}[tracking.git_dirty()]
    )
    model_dir = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    assert (model_dir / "input_example.json").is_file()
    assert mlflow.models.get_model_info(info.model_uri).signature is not None


def test_register_accepts_a_run_id_and_numbers_versions(tracked, frames, good_model):
    train, test = frames
    info = tracking.log_training_run(good_model, train, test, {}, {})

    first = registry.register(info.model_uri, NAME)
    second = registry.register(info.run_id, NAME)

    assert (first, second) == (1, 2)
    assert registry.model_version(NAME, second).source == info.model_uri


def test_missing_aliases_and_models_give_none(tracked, frames, good_model):
    assert registry.get_alias_version("no-such-model", "champion") is None
    version = log_and_register(good_model, frames)
    assert registry.get_alias_version(NAME, "champion") is None

    registry.set_alias(NAME, "challenger", version)
    assert registry.aliases(NAME) == {"challenger": version}
    registry.delete_alias(NAME, "challenger")
    assert registry.aliases(NAME) == {}


def test_git_commit_is_none_outside_a_repository(tmp_path):
    assert tracking.git_commit(tmp_path) is None
    assert tracking.git_dirty(tmp_path) is None


def test_git_dirty_tells_a_clean_tree_from_uncommitted_changes(tmp_path):
    def git(*args: str) -> str:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
        return subprocess.run(command, cwd=tmp_path, check=True, capture_output=True).stdout

    git("init", "-q")
    (tmp_path / "train.py").write_text("print(1)\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "first")

    assert tracking.git_commit(tmp_path) == git("rev-parse", "HEAD").decode().strip()
    assert tracking.git_dirty(tmp_path) is False
    (tmp_path / "train.py").write_text("print(2)\n")  # an uncommitted edit
    assert tracking.git_dirty(tmp_path) is True
    git("commit", "-q", "-am", "second")
    assert tracking.git_dirty(tmp_path) is False
    (tmp_path / "new_module.py").write_text("")  # untracked code counts too
    assert tracking.git_dirty(tmp_path) is True


def test_setup_tracking_again_after_the_database_was_deleted(tracked, frames, good_model):
    # Notebooks 02 and 03 start afresh: delete <home>/mlflow, set up again (same kernel).
    # The second setup creates MLflow's schema from scratch (~100 migrations, ~2 s).
    first = log_and_register(good_model, frames)
    shutil.rmtree(tracked / "mlflow")

    tracking.setup_tracking()
    second = log_and_register(good_model, frames)

    assert first == second == 1  # a new, empty registry
    registry.promote(NAME, second)
    assert registry.aliases(NAME) == {"champion": 1}


def test_gate_promotes_when_there_is_no_champion(tracked, frames, bad_model):
    version = log_and_register(bad_model, frames)

    decision = registry.promote_if_better(NAME, version, frames[1])

    assert decision.promoted and decision.champion_version is None
    assert registry.get_alias_version(NAME, "champion") == version


def test_gate_promotes_a_clearly_better_challenger(tracked, frames, good_model, bad_model):
    old = log_and_register(bad_model, frames)
    new = log_and_register(good_model, frames)
    registry.set_alias(NAME, "champion", old)
    registry.set_alias(NAME, "challenger", new)

    decision = registry.promote_if_better(NAME, new, frames[1])

    assert decision.promoted, decision.reason
    assert decision.challenger_score > decision.champion_score + 0.005  # the default margin
    assert "назначена чемпионом" in decision.reason
    assert registry.aliases(NAME) == {"champion": new, "previous_champion": old}
    assert registry.model_version(NAME, new).tags["gate.promoted"] == "true"


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
def test_gate_refuses_a_worse_challenger(tracked, frames, good_model, bad_model, metric):
    champion = log_and_register(good_model, frames)
    challenger = log_and_register(bad_model, frames)
    registry.set_alias(NAME, "champion", champion)

    decision = registry.promote_if_better(NAME, challenger, frames[1], metric=metric)

    assert not decision.promoted
    assert "Отклонено" in decision.reason
    assert registry.get_alias_version(NAME, "champion") == champion


def test_gate_refuses_an_equal_challenger(tracked, frames, good_model):
    champion = log_and_register(good_model, frames)
    twin = log_and_register(good_model, frames)
    registry.set_alias(NAME, "champion", champion)

    decision = registry.promote_if_better(NAME, twin, frames[1])

    assert not decision.promoted
    assert decision.challenger_score == decision.champion_score
    assert registry.get_alias_version(NAME, "champion") == champion


def test_gate_never_promotes_when_validation_failed(tracked, frames, good_model, bad_model):
    old = log_and_register(bad_model, frames)
    new = log_and_register(good_model, frames)
    registry.set_alias(NAME, "champion", old)

    decision = registry.promote_if_better(NAME, new, frames[1], validation_ok=False)

    assert not decision.promoted
    assert "валидац" in decision.reason
    assert registry.aliases(NAME) == {"champion": old}
    empty = registry.promote_if_better(NAME, new, frames[1], validation_ok=False)
    assert not empty.promoted


def test_gate_compares_with_the_previous_champion_when_the_champion_was_deleted(
    tracked, frames, good_model, bad_model
):
    first = log_and_register(good_model, frames)
    second = log_and_register(good_model, frames)
    registry.promote(NAME, first)
    registry.promote(NAME, second)
    mlflow.MlflowClient().delete_model_version(NAME, str(second))  # drops "champion" too
    assert registry.aliases(NAME) == {"previous_champion": first}
    challenger = log_and_register(bad_model, frames)

    decision = registry.promote_if_better(NAME, challenger, frames[1])

    assert not decision.promoted, decision.reason
    assert decision.champion_version == first
    assert "previous_champion" in decision.reason
    assert registry.aliases(NAME) == {"previous_champion": first}


def test_gate_refuses_a_rolled_back_version_unless_allowed(tracked, frames, good_model, bad_model):
    old = log_and_register(bad_model, frames)
    new = log_and_register(good_model, frames)
    registry.promote(NAME, old)
    registry.promote(NAME, new)
    registry.rollback(NAME)  # "new" is better on paper but broke production

    refused = registry.promote_if_better(NAME, new, frames[1])

    assert not refused.promoted
    assert "rolled_back" in refused.reason and "allow_rolled_back=True" in refused.reason
    assert registry.aliases(NAME) == {"champion": old}

    allowed = registry.promote_if_better(NAME, new, frames[1], allow_rolled_back=True)

    assert allowed.promoted, allowed.reason
    assert registry.get_alias_version(NAME, "champion") == new
    # in production again: a later gate compares it like any other version
    assert not registry.is_rolled_back(NAME, new)
    assert "rolled_back" not in registry.model_version(NAME, new).tags


def test_gate_does_not_promote_when_the_champion_changed_during_the_comparison(
    tracked, frames, good_model, bad_model, monkeypatch
):
    champion = log_and_register(bad_model, frames)
    faster = log_and_register(good_model, frames)  # another gate's challenger
    challenger = log_and_register(good_model, frames)
    registry.promote(NAME, champion)
    load_version = registry.load_version

    def load_while_another_gate_promotes(name, version):
        if int(version) == champion:  # scoring the champion: the other gate finishes now
            registry.promote(name, faster)
        return load_version(name, version)

    monkeypatch.setattr(registry, "load_version", load_while_another_gate_promotes)

    decision = registry.promote_if_better(NAME, challenger, frames[1])

    assert not decision.promoted
    assert f"стал: v{faster}" in decision.reason and "ещё раз" in decision.reason
    assert registry.aliases(NAME) == {"champion": faster, "previous_champion": champion}
    assert registry.model_version(NAME, challenger).tags["gate.promoted"] == "false"


def test_promote_with_an_expected_champion_is_a_compare_and_set(tracked, frames, good_model):
    first = log_and_register(good_model, frames)
    second = log_and_register(good_model, frames)
    registry.promote(NAME, first, expected_champion=None)

    with pytest.raises(registry.ChampionChangedError, match="сменился"):
        registry.promote(NAME, second, expected_champion=None)
    assert registry.aliases(NAME) == {"champion": first}

    registry.promote(NAME, second, expected_champion=first)
    assert registry.aliases(NAME) == {"champion": second, "previous_champion": first}


def test_rollback_restores_the_previous_champion(tracked, frames, good_model, bad_model):
    first = log_and_register(good_model, frames)
    second = log_and_register(bad_model, frames)
    registry.promote(NAME, first)
    registry.promote(NAME, second)  # a bad release reaches production

    restored = registry.rollback(NAME)

    assert restored == first
    assert registry.aliases(NAME) == {"champion": first}
    assert registry.model_version(NAME, second).tags["rolled_back"] == "true"
    with pytest.raises(LookupError, match="Откат невозможен"):
        registry.rollback(NAME)


def test_gate_rejects_an_unknown_metric(tracked, frames, good_model):
    version = log_and_register(good_model, frames)

    with pytest.raises(ValueError, match="Метрика"):
        registry.promote_if_better(NAME, version, frames[1], metric="late_rate")
