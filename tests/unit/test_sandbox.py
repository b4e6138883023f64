"""versioning.sandbox: a pipeline copy with its own git, never touching the checkout."""

import json

import pytest
import yaml

from mlops_course.versioning import sandbox
from tests.conftest import REPO_ROOT


@pytest.fixture
def box(tmp_path) -> sandbox.Sandbox:
    return sandbox.create(tmp_path / "copy", source=REPO_ROOT, site_cache=tmp_path / "site")


def test_a_copy_is_a_committed_git_repository_with_the_pipeline(box) -> None:
    for name in ("dvc.yaml", "dvc.lock", "params.yaml", ".dvc/config", "src/mlops_course"):
        assert box.path(name).exists(), name
    assert not list(box.root.rglob("__pycache__"))
    assert box.git("status", "--porcelain") == ""
    assert box.git("log", "--format=%s") == "A copy of the course pipeline"
    assert box.git("rev-parse", "--show-toplevel") == str(box.root)


def test_commits_are_deterministic(tmp_path) -> None:
    one = sandbox.create(tmp_path / "one", source=REPO_ROOT)
    two = sandbox.create(tmp_path / "two", source=REPO_ROOT)
    assert one.head() == two.head()


def test_params_change_before_the_first_commit_and_keep_the_file_when_unchanged(tmp_path) -> None:
    same = sandbox.create(tmp_path / "same", source=REPO_ROOT, params={"data.seed": 42})
    assert same.path("params.yaml").read_text() == (REPO_ROOT / "params.yaml").read_text()
    other = sandbox.create(tmp_path / "other", source=REPO_ROOT, params={"data.seed": 7})
    assert other.params()["data"]["seed"] == 7
    assert yaml.safe_load(other.git("show", "HEAD:params.yaml"))["data"]["seed"] == 7
    with pytest.raises(KeyError, match="data.sed"):
        other.set_params({"data.sed": 1})


def test_create_refuses_to_delete_a_folder_it_did_not_make(tmp_path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        sandbox.create(precious, source=REPO_ROOT)
    assert (precious / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError):
        sandbox.create(REPO_ROOT, source=REPO_ROOT)


def test_an_earlier_copy_is_replaced(tmp_path) -> None:
    first = sandbox.create(tmp_path / "copy", source=REPO_ROOT)
    first.path("stray.txt").write_text("x")
    again = sandbox.create(tmp_path / "copy", source=REPO_ROOT)
    assert not again.path("stray.txt").exists()


def test_commit_adds_the_uncached_metrics_despite_gitignore(box) -> None:
    assert "data/metrics/metrics.json" in box.uncached_outputs()
    box.path("data/metrics").mkdir(parents=True)
    box.path("data/metrics/metrics.json").write_text(json.dumps({"holdout": {"roc_auc": 0.9}}))
    box.commit("metrics")
    committed = json.loads(box.git("show", "HEAD:data/metrics/metrics.json"))
    assert committed["holdout"]["roc_auc"] == 0.9
    assert box.metrics() == {"holdout": {"roc_auc": 0.9}}


def test_lock_hashes_and_a_missing_workspace(box) -> None:
    hashes = box.lock_hashes()
    assert hashes == sandbox.lock_outputs((REPO_ROOT / "dvc.lock").read_text())
    assert "data/model/model.pkl" in hashes
    assert set(box.workspace_hashes().values()) == {None}  # nothing reproduced yet


def test_a_failing_command_raises_with_its_stderr(box) -> None:
    with pytest.raises(sandbox.SandboxCommandError, match="no-such-revision"):
        box.git("show", "no-such-revision")


def test_stage_report_reads_dvc_repro_output() -> None:
    output = (
        "Stage 'generate' didn't change, skipping\n"
        "Running stage 'train':\n> python -m stages train\n"
        "Running stage 'evaluate':\n"
    )
    assert sandbox.stage_report(output) == {"ran": ["train", "evaluate"], "skipped": ["generate"]}
