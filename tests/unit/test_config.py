"""The work directory and path display: every run artefact stays out of the checkout."""

import subprocess
from pathlib import Path

from mlops_course import config
from tests.conftest import REPO_ROOT


def test_work_dir_follows_the_environment_variable(work_home: Path) -> None:
    reports = config.work_dir("reports", "drift")
    assert reports == work_home / "reports" / "drift"
    assert reports.is_dir()


def test_default_work_dir_is_inside_the_checkout_and_git_ignored(monkeypatch) -> None:
    monkeypatch.delenv(config.WORK_DIR_ENV, raising=False)
    default = config.work_dir()
    assert default == REPO_ROOT / ".work"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(default / "mlflow.db")], cwd=REPO_ROOT, check=False
    )
    assert ignored.returncode == 0, ".work/ must be ignored by git"


def test_display_path_never_prints_an_absolute_path(work_home: Path) -> None:
    assert config.display_path(config.work_dir("reports") / "drift.html") == (
        "<work>/reports/drift.html"
    )
    assert config.display_path(REPO_ROOT / "notebooks" / "x.ipynb") == "notebooks/x.ipynb"
    assert not config.display_path("/somewhere/else/file.txt").startswith("/")


def test_work_dir_origin_says_where_it_comes_from(monkeypatch, work_home: Path) -> None:
    assert config.WORK_DIR_ENV in config.work_dir_origin()
    monkeypatch.delenv(config.WORK_DIR_ENV)
    assert ".work/" in config.work_dir_origin()
