"""The course's DVC pipeline: a fresh `dvc repro` gives exactly the committed dvc.lock,
and a bad batch stops it at `validate` while the last good model stays in place."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

PIPELINE_FILES = [
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    ".dvcignore",
    ".dvc/config",
    "data/.gitignore",
    "data/README.md",
]


def run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the pipeline (as in a new clone), reproduced from scratch."""
    root = tmp_path_factory.mktemp("pipeline")
    for name in PIPELINE_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, root / name)
    shutil.copytree(
        REPO_ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    run(["git", "init", "-q"], root)
    run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "copy",
            "--allow-empty",
        ],
        root,
    )
    run(["dvc", "repro"], root)
    return root


@pytest.mark.slow
def test_repro_from_scratch_gives_the_committed_lock(reproduced: Path) -> None:
    committed = yaml.safe_load((REPO_ROOT / "dvc.lock").read_text())
    fresh = yaml.safe_load((reproduced / "dvc.lock").read_text())
    assert fresh == committed, (
        "dvc.lock is stale or the pipeline is not deterministic: run `dvc repro` "
        "(make pipeline) and commit dvc.lock"
    )
    status = run(["dvc", "status"], reproduced).stdout
    assert "up to date" in status


@pytest.mark.slow
def test_bad_batch_stops_the_pipeline_and_keeps_the_last_good_model(reproduced: Path) -> None:
    model = reproduced / "data" / "model" / "model.pkl"
    good_model = model.read_bytes()
    params = yaml.safe_load((reproduced / "params.yaml").read_text())
    params["data"]["current_scenarios"] = ["distance_in_metres"]
    (reproduced / "params.yaml").write_text(yaml.safe_dump(params))

    result = run(["dvc", "repro"], reproduced, check=False)

    assert result.returncode != 0
    assert "не прошла проверку" in result.stderr
    assert "distance_km" in result.stderr
    assert model.read_bytes() == good_model
