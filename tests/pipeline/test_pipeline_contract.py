"""The pipeline's own tests (pipeline CI): what must hold before a changed pipeline is used.

Data, training, artefacts and an end-to-end run of every stage of ``dvc.yaml``, on the
pipeline's own ``params.yaml`` with fewer orders, in temporary folders: seconds, not the
minutes of a real retraining. ``continuous-training.yml`` runs them before ``dvc repro``,
so a broken change of the pipeline stops there instead of reaching the registry.

They test the checkout they are in (``src/`` two folders up), and need nothing but
pytest, pyyaml and the package — no conftest — so a copy of the course with a deliberately
broken change (a sandbox, notebook 10) runs them on its own, from its root:

    python -m pytest -q -p no:cacheprovider tests/pipeline/test_pipeline_contract.py
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import pickle
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The code under test is this checkout's, also where the venv has another one installed.
sys.path.insert(0, str(ROOT / "src"))

from mlops_course.config import FEATURES, ID_COLUMN, TARGET, TIME_COLUMN  # noqa: E402
from mlops_course.model import evaluate  # noqa: E402
from mlops_course.orchestration import stages  # noqa: E402

STAGE_MODULE = "mlops_course.orchestration.stages"
# A small world: the pipeline's own parameters with fewer orders (same ratios as 40000 /
# 10000), enough for a logistic regression to learn the scenario in well under a second.
SMALL = {"data.reference_rows": 8000, "data.current_rows": 2000}


def pipeline() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def declared_outputs(stage: dict[str, Any]) -> list[str]:
    """Paths a stage writes: its ``outs``, ``metrics`` and ``plots`` (plain or with options)."""
    entries = [entry for kind in ("outs", "metrics", "plots") for entry in stage.get(kind, [])]
    return [name for entry in entries for name in (entry if isinstance(entry, dict) else [entry])]


def stage_argv(cmd: str) -> list[str]:
    """``A=1 PYTHONPATH=src python -m <module> <stage>`` -> ``[<module>, <stage>]``."""
    words = list(itertools.dropwhile(lambda word: "=" in word, shlex.split(cmd)))
    assert words[:2] == ["python", "-m"], f"стадия запускает не `python -m ...`: {cmd}"
    return words[2:]


def dotted(tree: dict[str, Any], name: str) -> Any:
    for key in name.split("."):
        tree = tree[key]
    return tree


def write_params(folder: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, value in overrides.items():
        *parents, leaf = name.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[leaf] = value
    (folder / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    return params


def run_pipeline(folder: Path, overrides: dict[str, Any]) -> dict[str, int]:
    """Every stage of ``dvc.yaml`` in its order, in ``folder``, stopping at the first failure
    (as ``dvc repro`` does); the exit code of each stage that ran."""
    folder.mkdir(parents=True, exist_ok=True)
    write_params(folder, overrides)
    codes = {}
    with contextlib.chdir(folder):  # stages.main moves into the folder of params.yaml
        for name, stage in pipeline().items():
            module, *args = stage_argv(stage["cmd"])
            assert module == STAGE_MODULE, f"стадия {name}: неизвестный модуль {module}"
            codes[name] = stages.main([*args, "--params", str(folder / "params.yaml")])
            if codes[name] != 0:
                break
    return codes


def file_md5s(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.md5(path.read_bytes()).hexdigest()
        for path in sorted((folder / "data").rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole pipeline, run once on the small world."""
    folder = tmp_path_factory.mktemp("world")
    codes = run_pipeline(folder, SMALL)
    assert set(codes.values()) == {0}, f"пайплайн упал на малом мире: {codes}"
    return folder


@pytest.fixture(scope="module")
def params(world: Path) -> dict[str, Any]:
    return yaml.safe_load((world / "params.yaml").read_text())


@pytest.fixture(scope="module")
def model(world: Path) -> Any:
    return pickle.loads((world / stages.MODEL_PKL).read_bytes())


@pytest.fixture(scope="module")
def splits(world: Path, params: dict[str, Any]) -> tuple[Any, Any, Any]:
    with contextlib.chdir(world):
        return stages.reference_splits(params)


# --- The pipeline's definition ---------------------------------------------------------


def test_the_code_under_test_is_this_checkouts() -> None:
    assert Path(stages.__file__).resolve().is_relative_to(ROOT / "src"), (
        f"тесты проверяют код из {stages.__file__}, а не {ROOT / 'src'}"
    )


def test_every_stage_runs_a_known_stage_with_existing_params() -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in pipeline().items():
        module, *args = stage_argv(stage["cmd"])
        assert module == STAGE_MODULE and args == [name], f"стадия {name}: {stage['cmd']}"
        assert name in stages.STAGES
        for key in stage.get("params", []):
            dotted(params, key)  # KeyError names a parameter dvc.yaml expects and lacks


def test_stages_come_after_the_stages_whose_outputs_they_read() -> None:
    written: set[str] = set()
    every_output = {out for stage in pipeline().values() for out in declared_outputs(stage)}
    for name, stage in pipeline().items():
        missing = {dep for dep in stage["deps"] if dep in every_output} - written
        assert not missing, f"стадия {name} читает {sorted(missing)} раньше, чем их пишут"
        written |= set(declared_outputs(stage))


# --- Data --------------------------------------------------------------------------------


def test_the_generated_batches_pass_validation(world: Path, params: dict[str, Any]) -> None:
    report = json.loads((world / stages.VALIDATION_JSON).read_text())
    for batch in ("reference", "current"):
        assert report[batch]["ok"], report[batch]["violations"]
        assert report[batch]["n_rows"] == params["data"][f"{batch}_rows"]


def test_a_bad_batch_stops_the_pipeline_before_training(tmp_path: Path) -> None:
    codes = run_pipeline(tmp_path, SMALL | {"data.current_scenarios": ["distance_in_metres"]})
    assert codes == {"generate": 0, "validate": 1}
    report = json.loads((tmp_path / stages.VALIDATION_JSON).read_text())
    assert report["reference"]["ok"] and not report["current"]["ok"]
    assert not (tmp_path / stages.MODEL_PKL).exists()


def test_the_splits_are_by_time_and_disjoint(splits, params: dict[str, Any]) -> None:
    """The model learns from the past and is judged on the future, as in production."""
    fit, validation, holdout = splits
    assert fit[TIME_COLUMN].max() <= validation[TIME_COLUMN].min()
    assert validation[TIME_COLUMN].max() <= holdout[TIME_COLUMN].min()
    ids = [set(part[ID_COLUMN]) for part in splits]
    assert sum(map(len, ids)) == len(set().union(*ids)) == params["data"]["reference_rows"]
    assert len(holdout) == round(params["data"]["reference_rows"] * params["train"]["test_size"])


# --- Training ----------------------------------------------------------------------------


def test_the_model_beats_running_without_a_model(world: Path, params: dict[str, Any]) -> None:
    """Cheaper than flagging no order or every order, and a better log loss than the best
    constant probability (the entropy of the late rate): else the model adds nothing."""
    holdout = json.loads((world / stages.METRICS_JSON).read_text())["holdout"]
    costs = evaluate.CostTable(**params["evaluate"]["costs"])
    without_model = min(costs.constant_costs(holdout["late_rate"]).values())
    assert holdout["cost_per_order"] < without_model
    p = holdout["late_rate"]
    assert holdout["log_loss"] < -(p * math.log(p) + (1 - p) * math.log(1 - p))


def test_the_model_does_not_see_the_target_or_the_ids(model, splits) -> None:
    """Scrambling the label, the order id and the time must not move a single prediction."""
    holdout = splits[2]
    rng = np.random.default_rng(0)
    scrambled = holdout.assign(
        **{column: rng.permutation(holdout[column].to_numpy()) for column in (TARGET, ID_COLUMN)},
        **{TIME_COLUMN: holdout[TIME_COLUMN].iloc[0]},
    )
    np.testing.assert_array_equal(model.predict_proba(scrambled), model.predict_proba(holdout))


def test_the_pipeline_is_deterministic(world: Path, tmp_path: Path) -> None:
    """A second run writes the same bytes for every output: what dvc.lock relies on."""
    codes = run_pipeline(tmp_path, SMALL)
    assert set(codes.values()) == {0}
    assert file_md5s(tmp_path) == file_md5s(world)


# --- Artefacts ---------------------------------------------------------------------------


def test_every_declared_output_is_written_and_nothing_else(world: Path) -> None:
    declared = {out for stage in pipeline().values() for out in declared_outputs(stage)}
    assert set(file_md5s(world)) == declared


def test_the_metrics_hold_what_the_quality_gate_reads(world: Path) -> None:
    metrics = json.loads((world / stages.METRICS_JSON).read_text())
    for part in ("holdout", "current"):
        for key in ("roc_auc", "log_loss", "cost_per_order", "late_rate", "threshold"):
            assert math.isfinite(metrics[part][key]), (part, key)
        assert 0.0 <= metrics[part]["threshold"] <= 1.0
    assert metrics["holdout"]["threshold"] == metrics["current"]["threshold"]


def test_the_model_answers_what_the_service_sends(model, splits) -> None:
    """The service passes only the feature columns; probabilities come back, one per order."""
    orders = splits[2][FEATURES].head(50)
    probabilities = model.predict_proba(orders)
    assert probabilities.shape == (50, 2)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
