"""lab03 checks accept the reference answers and name exactly the mistake of a wrong one.

Every wrong answer below is the right one with a single source of non-determinism (or a
single slip) left in; its verdict must fail and its messages must name that source and
no other. The pipeline runs are real subprocesses in copies of a real project.
"""

import contextlib
import io
import json
import shutil
from pathlib import Path

import mlflow
import pytest
import yaml

from mlops_course.classroom.checks import ExerciseNotDone, run_check
from mlops_course.classroom.lab_checks import lab03_reproducible_pipeline as lab
from mlops_course.versioning import sandbox, tracking

PREPARE = """\
import os

import pandas as pd

RAW = "data/raw"
names = sorted(os.listdir(RAW))
frames = [pd.read_csv(os.path.join(RAW, name)) for name in names]
orders = pd.concat(frames, ignore_index=True).sort_values("order_id", ignore_index=True)
orders.to_csv("data/orders.csv", index=False)
"""

PARAMS = """\
train:
  seed: 42
  C: 0.3
  test_size: 0.25
"""

TRAIN = """\
import json
import os
import pickle

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

with open("params.yaml") as file:
    params = yaml.safe_load(file)["train"]
orders = pd.read_csv("data/orders.csv")
features = sorted(set(orders.columns) - {"order_id", "timestamp", "is_late"})
X = pd.get_dummies(orders[features], dtype=float)
X_fit, X_test, y_fit, y_test = train_test_split(
    X, orders["is_late"], test_size=params["test_size"], random_state=params["seed"]
)
model = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=1000))
model.fit(X_fit, y_fit)
p_late = model.predict_proba(X_test)[:, 1]
metrics = {"roc_auc": roc_auc_score(y_test, p_late), "log_loss": log_loss(y_test, p_late)}
with open("model.pkl", "wb") as file:
    pickle.dump(model, file)
with open("metrics.json", "w") as file:
    json.dump({name: round(value, 6) for name, value in metrics.items()}, file)
"""

DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    deps:
      - prepare.py
      - data/raw
    outs:
      - data/orders.csv
  train:
    cmd: OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1 python train.py
    deps:
      - train.py
      - data/orders.csv
    params:
      - train
    outs:
      - model.pkl
    metrics:
      - metrics.json:
          cache: false
"""

RIGHT = {"prepare.py": PREPARE, "params.yaml": PARAMS, "train.py": TRAIN, "dvc.yaml": DVC_YAML}


def changed(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced: the wrong answer really differs from the right one."""
    assert old in text, old
    return text.replace(old, new)


def passed(results) -> bool:
    return all(result.passed for result in results)


def failed_messages(results) -> str:
    return " ".join(result.message for result in results if not result.passed)


def named_sources(results) -> set[str]:
    """The sources of non-determinism the failed verdicts name."""
    text = failed_messages(results)
    return {source.key for source in lab.SOURCES if source.title in text}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The colleague's project as the lab creates it (small: 3 days of 300 orders)."""
    root = tmp_path_factory.mktemp("lab03") / "project"
    return lab.create_project(root, seed=7, days=3, orders_per_day=300).root


@pytest.fixture
def project(template, tmp_path) -> Path:
    """A copy of the template with the right answers written."""
    root = tmp_path / "project"
    shutil.copytree(template, root)
    write(root, RIGHT)
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).write_text(text)


def test_a_new_project_is_the_colleagues_committed_with_dvc_initialised(template):
    box = sandbox.Sandbox(template, template.parent / "site")
    assert box.git("status", "--porcelain") == ""
    assert len(box.git("log", "--format=%H").splitlines()) == 1
    assert len(list((template / lab.RAW_DIR).glob("orders-*.csv"))) == 3
    assert (template / "train.py").read_text() == (lab.ASSETS / "train.py").read_text()
    dvc = sandbox.Sandbox(template, template.parent / "site").dvc
    assert dvc("config", "core.analytics").strip() == "false"
    assert dvc("config", "core.check_update").strip() == "false"


def test_a_copy_has_no_git_no_outputs_and_the_raw_files_in_the_chosen_order(project, tmp_path):
    for name in ("model.pkl", "metrics.json", "data/orders.csv"):
        (project / name).write_text("stale output")
    ascending = lab.copy_project(project, tmp_path / "a")
    descending = lab.copy_project(project, tmp_path / "b", descending=True)
    for copy in (ascending, descending):
        assert not (copy / ".git").exists()
        assert not any((copy / name).exists() for name in lab.OUTPUTS)
        assert (copy / "train.py").read_text() == TRAIN
    raw = sorted(path.name for path in (project / lab.RAW_DIR).iterdir())
    assert sorted(path.name for path in (descending / lab.RAW_DIR).iterdir()) == raw


# --- Exercise 1 --------------------------------------------------------------------


def test_check_prepare_accepts_the_right_answer(project):
    assert passed(lab.check_prepare(project))


def test_the_colleagues_prepare_is_blamed_on_the_file_order_only(project):
    shutil.copy(lab.ASSETS / "prepare.py", project / "prepare.py")
    results = lab.check_prepare(project)
    assert not passed(results)
    assert named_sources(results) == {"order"}


def test_a_generator_without_seed_is_reported_alone(project):
    shuffle = "orders = orders.sample(frac=1, random_state=np.random.default_rng())\n"
    shuffled = "import numpy as np\n" + changed(PREPARE, "orders.to_csv", shuffle + "orders.to_csv")
    write(project, {"prepare.py": shuffled})
    results = lab.check_prepare(project)
    assert named_sources(results) == {"noise"}
    # nothing else can be measured while the output changes by itself
    assert len(results) == 2 and not results[1].passed


def test_lost_rows_are_reported_and_no_source_is_blamed(project):
    write(project, {"prepare.py": changed(PREPARE, "for name in names]", "for name in names[1:]]")})
    results = lab.check_prepare(project)
    assert not results[0].passed and "склейте все файлы" in results[0].message
    assert named_sources(results) == set()


def test_a_crashing_script_is_named_with_its_error(project):
    write(project, {"prepare.py": changed(PREPARE, '"data/raw"', '"data/missing"')})
    (message,) = [result.message for result in lab.check_prepare(project)]
    assert "prepare.py упал: FileNotFoundError" in message


def test_the_stub_stops_at_the_exercise_with_its_hint(project):
    stub = '# TODO: sort\nraise NotImplementedError("Упражнение не выполнено: sorted(...)")\n'
    write(project, {"prepare.py": stub})
    with pytest.raises(ExerciseNotDone, match=r"^Упражнение не выполнено: в prepare\.py .*sorted"):
        run_check(lab.check_prepare, project)


def test_without_fork_every_script_gets_its_own_interpreter_and_the_same_md5(
    project, tmp_path, monkeypatch
):
    shutil.copy(lab.ASSETS / "prepare.py", project / "prepare.py")
    runs = [lab.BASELINE, next(source.run for source in lab.SOURCES if source.key == "order")]
    forked = lab.run_scripts(project, [lab.PREPARE], runs, tmp_path / "forked")
    monkeypatch.setattr(lab, "FORK", False)
    spawned = lab.run_scripts(project, [lab.PREPARE], runs, tmp_path / "spawned")
    assert [o.hashes for o in spawned.values()] == [o.hashes for o in forked.values()]
    assert spawned["baseline"].hashes[lab.ORDERS] != spawned["order"].hashes[lab.ORDERS]


def test_a_fork_server_that_has_exited_is_started_again(project):
    lab.check_prepare(project)  # the servers are up
    for server in lab._SERVERS.values():
        server.process.kill()  # as if it had exited, idle
        server.process.wait()
    assert passed(lab.check_prepare(project))


# --- Exercise 2 --------------------------------------------------------------------


def test_check_train_accepts_the_right_answer(project):
    results = lab.check_train(project)
    assert passed(results), failed_messages(results)
    assert len(results) == 1 + len(lab.SOURCES) + 2  # metrics, sources, C and seed used


ENV_C = 'C=float(os.environ.get("LATE_MODEL_C", params["C"]))'


@pytest.mark.parametrize(
    ("source", "old", "new"),
    [
        ("rng", ', random_state=params["seed"]', ""),
        ("hash", "sorted(set(orders.columns)", "list(set(orders.columns)"),
        ("env", 'C=params["C"]', ENV_C),
    ],
)
def test_check_train_names_the_one_source_left_in(project, source, old, new):
    write(project, {"train.py": changed(TRAIN, old, new)})
    results = lab.check_train(project)
    assert not passed(results)
    assert named_sources(results) == {source}, failed_messages(results)


def test_parameters_written_in_the_code_are_named_and_nothing_else(project):
    hard_coded = changed(TRAIN, 'C=params["C"]', "C=0.3")
    hard_coded = changed(hard_coded, 'random_state=params["seed"]', "random_state=42")
    write(project, {"train.py": hard_coded})
    results = lab.check_train(project)
    text = failed_messages(results)
    assert "train.C = 3.0" in text and "train.seed = 43" in text
    assert named_sources(results) == set()


def test_params_yaml_without_a_key_says_which(project):
    write(project, {"params.yaml": changed(PARAMS, "  C: 0.3\n", "")})
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(AssertionError):
        run_check(lab.check_train, project)
    assert "в секции train файла params.yaml нет C" in out.getvalue()


# --- Exercise 3 --------------------------------------------------------------------


def test_check_dvc_stages_accepts_the_right_answer(project):
    results = lab.check_dvc_stages(project)
    assert passed(results), failed_messages(results)
    md5 = {result.message.split()[0]: result.message.split()[2] for result in results[-3:]}
    assert set(md5) == {f"{name}:" for name in lab.OUTPUTS}


DVC_MISTAKES = {
    "params": "в params стадии train",
    "pin": "не закрепляет ядро OpenBLAS",
    "metrics": "в metrics стадии train",
    "deps": "в deps стадии train",
}


@pytest.mark.parametrize(
    ("mistake", "old", "new"),
    [
        ("params", "    params:\n      - train\n", ""),
        ("params", "      - train\n", "      - train.C\n      - train.seed\n"),
        ("pin", "OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1 ", ""),
        ("metrics", "    metrics:\n      - metrics.json:\n          cache: false\n", ""),
        ("deps", "      - train.py\n      - data/orders.csv\n", "      - train.py\n"),
    ],
)
def test_dvc_yaml_mistakes_are_named_without_running_dvc(project, mistake, old, new):
    write(project, {"dvc.yaml": changed(DVC_YAML, old, new)})
    results = lab.check_dvc_stages(project)
    text = failed_messages(results)
    assert len(results) == 3  # dvc.yaml only: no copies were made
    for name, phrase in DVC_MISTAKES.items():
        assert (phrase in text) == (name == mistake), (name, text)


def test_copies_that_differ_are_explained_by_the_measured_source(project):
    write(project, {"train.py": changed(TRAIN, 'C=params["C"]', ENV_C)})
    results = lab.check_dvc_stages(project)
    assert not passed(results)
    assert "model.pkl: в dvc.lock копии A" in failed_messages(results)
    assert named_sources(results) == {"env"}


# --- Exercise 4 --------------------------------------------------------------------


@pytest.fixture(scope="module")
def reproduced(template, tmp_path_factory) -> Path:
    """The project after the right answers, `dvc repro` and a commit."""
    root = tmp_path_factory.mktemp("lab03-reproduced") / "project"
    shutil.copytree(template, root)
    write(root, RIGHT)
    box = sandbox.Sandbox(root, root.parent / "site")
    box.dvc("repro")
    box.commit("reproducible")
    tracking.setup_tracking(home=root.parent)
    return root


def right_log_run(project_dir: Path, **skip: bool) -> str:
    params = yaml.safe_load((project_dir / "params.yaml").read_text())
    metrics = json.loads((project_dir / "metrics.json").read_text())
    data_md5 = sandbox.lock_outputs((project_dir / "dvc.lock").read_text())["data/orders.csv"]
    with mlflow.start_run() as run:
        mlflow.log_params(params if skip.get("nested") else lab.flat_params(params))
        mlflow.log_metrics(metrics)
        if not skip.get("data"):
            mlflow.set_tag("data.md5", "0123abcd" if skip.get("other_hash") else data_md5)
        if not skip.get("env"):
            mlflow.set_tags({f"env.{k}": v for k, v in tracking.environment_info().items()})
        commit = tracking.git_commit() if skip.get("course") else tracking.git_commit(project_dir)
        mlflow.set_tag("git_commit", commit)
    return run.info.run_id


def left_open_log_run(project_dir: Path) -> str:
    run_id = right_log_run(project_dir)
    return mlflow.start_run(run_id=run_id).info.run_id  # reopened and never ended


MLFLOW_MISTAKES = {
    "open": "остался открытым",
    "nested": "записаны целиком",
    "data": "нет тега data.md5",
    "other_hash": "а в dvc.lock у data/orders.csv md5",
    "env": "нет тегов окружения",
    "course": "коммит папки курса",
    "dirty": "незакоммиченные изменения",
}


def test_check_mlflow_run_accepts_the_right_answer(reproduced):
    results = lab.check_mlflow_run(right_log_run, reproduced)
    assert passed(results), failed_messages(results)
    assert len(results) == 7


@pytest.mark.parametrize("mistake", ["nested", "data", "other_hash", "env", "course"])
def test_mlflow_mistakes_are_named_alone(reproduced, mistake):
    results = lab.check_mlflow_run(lambda p: right_log_run(p, **{mistake: True}), reproduced)
    text = failed_messages(results)
    for name, phrase in MLFLOW_MISTAKES.items():
        assert (phrase in text) == (name == mistake), (name, text)


def test_a_run_left_open_is_named_and_closed(reproduced):
    results = lab.check_mlflow_run(left_open_log_run, reproduced)
    text = failed_messages(results)
    assert mlflow.active_run() is None
    for name, phrase in MLFLOW_MISTAKES.items():
        assert (phrase in text) == (name == "open"), (name, text)


def test_an_uncommitted_project_is_named(reproduced):
    (reproduced / "notes.txt").write_text("not committed")
    try:
        results = lab.check_mlflow_run(right_log_run, reproduced)
    finally:
        (reproduced / "notes.txt").unlink()
    text = failed_messages(results)
    for name, phrase in MLFLOW_MISTAKES.items():
        assert (phrase in text) == (name == "dirty"), (name, text)


def test_a_function_that_returns_nothing_is_told_to_return_the_id(reproduced):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(AssertionError):
        run_check(lab.check_mlflow_run, lambda p: print(right_log_run(p)), reproduced)
    assert "замените print на return" in out.getvalue()
