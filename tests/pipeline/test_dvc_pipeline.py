"""The course's DVC pipeline: a fresh `dvc repro` gives exactly the committed dvc.lock,
and a bad batch stops it at `validate` while the last good model stays in place."""

import itertools
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_course.versioning import sandbox
from mlops_course.versioning.reproducibility import kernel_fingerprints, supported_kernels
from tests.conftest import REPO_ROOT


def run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> sandbox.Sandbox:
    """A fresh copy of the pipeline with its own git repository (as in a new clone),
    reproduced from scratch."""
    root = tmp_path_factory.mktemp("pipeline")
    box = sandbox.create(root / "copy", source=REPO_ROOT, site_cache=root / "dvc-site")
    box.dvc("repro")
    return box


@pytest.fixture(scope="module")
def reproduced(copy: sandbox.Sandbox) -> Path:
    return copy.root


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


# Runs one stage and prints the course modules it imported, from their files.
TRACE_STAGE = """
import sys
from mlops_course.orchestration import stages
stages.main([sys.argv[1]])
print(" ".join(sorted({m.__file__ for name, m in sys.modules.items()
                       if name.startswith("mlops_course") and getattr(m, "__file__", None)})))
"""


def stage_env(cmd: str) -> dict[str, str]:
    """The ``NAME=value`` assignments a stage's command starts with (the BLAS kernel pin):
    a stage run by hand must run as `dvc repro` runs it, or it rewrites its outputs."""
    assignments = itertools.takewhile(lambda word: "=" in word, shlex.split(cmd))
    return dict(word.split("=", 1) for word in assignments)


@pytest.mark.slow
def test_every_stage_depends_on_the_course_code_it_runs(reproduced: Path) -> None:
    """A stage must list each course module it imports: else editing one (config.py, say)
    leaves `dvc repro` saying "up to date" over stale outputs."""
    stages = yaml.safe_load((reproduced / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        env = {**os.environ, **stage_env(stage["cmd"]), "PYTHONPATH": str(reproduced / "src")}
        traced = subprocess.run(
            [sys.executable, "-c", TRACE_STAGE, name],
            cwd=reproduced, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        imported = {
            Path(path).relative_to(reproduced).as_posix()
            for path in traced.stdout.split()
            if Path(path).name != "__init__.py"
        }
        missing = imported - set(stage["deps"])
        assert not missing, f"stage {name} runs {sorted(missing)} but does not depend on it"


@pytest.mark.slow
def test_a_stage_run_from_another_folder_uses_the_pipelines_files(reproduced: Path) -> None:
    elsewhere = reproduced / "notebooks"  # where a notebook's kernel runs
    elsewhere.mkdir()
    stage = [sys.executable, "-m", "mlops_course.orchestration.stages", "drift"]
    missing = run(stage, elsewhere, check=False)
    assert missing.returncode == 2 and "--params" in missing.stderr
    run([*stage, "--params", "../params.yaml"], elsewhere)
    assert not (elsewhere / "data").exists(), "the stage wrote outside the pipeline's data/"
    assert "up to date" in run(["dvc", "status"], reproduced).stdout


@pytest.mark.slow
def test_training_fingerprint_is_the_train_stage_and_the_kernel_pin_holds(reproduced: Path) -> None:
    """``reproducibility.training_fingerprint`` (notebook 06) trains as stage `train` does:
    with the kernel dvc.yaml pins, its md5 is the model.pkl that `dvc repro` recorded."""
    if not supported_kernels()["Prescott"]:
        pytest.skip("not an x86-64 CPU: OpenBLAS has no SSE3 kernel here")
    locked = yaml.safe_load((reproduced / "dvc.lock").read_text())["stages"]["train"]["outs"]
    fingerprint = kernel_fingerprints(reproduced, ["Prescott"])["Prescott"]
    assert fingerprint["md5"] == locked[0]["md5"]


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
