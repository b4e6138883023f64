"""Stage entry points of the course's ML pipeline (used by ``dvc.yaml`` and by flows).

    python -m mlops_course.orchestration.stages generate|validate|train|evaluate|drift

Each stage reads ``params.yaml`` and files written by the stage before it, and writes
only the outputs ``dvc.yaml`` declares (under ``data/``), so ``dvc repro`` can cache,
skip and reproduce them. Outputs are byte-for-byte deterministic: the hashes in the
committed ``dvc.lock`` must come out again on any machine.

A batch that fails validation stops the pipeline at ``validate`` with a readable list
of violations: ``train`` does not run, so the last good model stays in place.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import yaml

from mlops_course.model import validation
from mlops_course.scenario import generator

# Each stage runs in its own process: heavier modules (scipy.stats, scikit-learn) are
# imported inside the stages that need them, so a stage does not pay for the others.

DATA_DIR = Path("data")
RAW_DIR = DATA_DIR / "raw"
REFERENCE_CSV = RAW_DIR / "reference.csv"
CURRENT_CSV = RAW_DIR / "current.csv"
VALIDATION_JSON = DATA_DIR / "validation" / "report.json"
MODEL_PKL = DATA_DIR / "model" / "model.pkl"
METRICS_JSON = DATA_DIR / "metrics" / "metrics.json"
DRIFT_JSON = DATA_DIR / "metrics" / "drift.json"
COST_CSV = DATA_DIR / "plots" / "cost_by_threshold.csv"
DRIFT_CSV = DATA_DIR / "plots" / "drift_by_column.csv"


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def write_json(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_csv(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")


def rounded(metrics: dict[str, float], digits: int = 6) -> dict[str, float]:
    """Metrics rounded so that last-bit float noise never changes a hash."""
    return {name: round(float(value), digits) for name, value in metrics.items()}


# --- Stages ---------------------------------------------------------------------------


def generate(params: dict[str, Any]) -> None:
    """Reference orders (for training) and a current batch (production, maybe drifted)."""
    from mlops_course.scenario import problems

    p = params["data"]
    reference = problems.make_batch(p["reference_rows"], seed=p["seed"])
    current = problems.make_batch(
        p["current_rows"],
        seed=p["seed"] + 1,
        scenarios=tuple(p["current_scenarios"]),
        strength=p["current_strength"],
        start=p["current_start"],
        first_id=p["reference_rows"] + 1,
    )
    generator.save_orders(reference.frame, REFERENCE_CSV)
    generator.save_orders(current.frame, CURRENT_CSV)


def validate(params: dict[str, Any]) -> None:
    """Refuse a bad batch: write the report, and fail the stage if any check is violated."""
    report, failed = {}, []
    for name, path in (("reference", REFERENCE_CSV), ("current", CURRENT_CSV)):
        result = validation.validate_orders(generator.load_orders(path))
        report[name] = {
            "ok": result.ok,
            "n_rows": result.n_rows,
            "violations": result.violations.to_dict(orient="records"),
            "warnings": result.warnings.to_dict(orient="records"),
        }
        if not result.ok:
            failed.append(f"{path}:\n{result.summary()}")
    write_json(report, VALIDATION_JSON)
    if failed:
        raise validation.DataValidationError(
            "Партия данных не прошла проверку; обучение остановлено, последняя хорошая модель "
            "осталась на месте.\n" + "\n".join(failed)
        )


def reference_splits(params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(fit, validation, holdout) of the reference orders, by time.

    The model is fitted on ``fit``, its threshold tuned on ``validation`` (the latest
    ``train.validation_size`` of the training orders) and judged on ``holdout`` (the
    latest ``train.test_size`` of all reference orders), which neither step sees.
    """
    from mlops_course.model import train

    p = params["train"]
    train_frame, holdout = train.split(
        generator.load_orders(REFERENCE_CSV), test_size=p["test_size"]
    )
    fit, validation = train.split_validation(train_frame, p["validation_size"])
    return fit, validation, holdout


def train_stage(params: dict[str, Any]) -> None:
    from mlops_course.model import train

    p = params["train"]
    fit, _, _ = reference_splits(params)
    model = train.train_model(fit, model=p["model"], seed=p["seed"], **p["params"])
    MODEL_PKL.parent.mkdir(parents=True, exist_ok=True)
    MODEL_PKL.write_bytes(pickle.dumps(model, protocol=5))


def load_model() -> Any:
    return pickle.loads(MODEL_PKL.read_bytes())


def evaluate_stage(params: dict[str, Any]) -> None:
    """Quality on the hold-out (the past) and on the current batch (production).

    ``evaluate.threshold: tuned`` picks the cost-optimal threshold on the validation
    orders (``evaluate.tune_threshold``); a number is used as it is.
    """
    from mlops_course.model import evaluate

    costs = evaluate.CostTable(**params["evaluate"]["costs"])
    model = load_model()
    _, validation, holdout = reference_splits(params)
    threshold = params["evaluate"]["threshold"]
    if threshold == "tuned":
        threshold = evaluate.tune_threshold(model, validation, costs)
    current = generator.load_orders(CURRENT_CSV)
    write_json(
        {
            "holdout": rounded(evaluate.evaluate_model(model, holdout, threshold, costs)),
            "current": rounded(evaluate.evaluate_model(model, current, threshold, costs)),
        },
        METRICS_JSON,
    )
    curve = evaluate.cost_by_threshold(model, current, costs)
    write_csv(curve[["threshold", "cost_per_order"]], COST_CSV)


def drift_stage(params: dict[str, Any]) -> None:
    from mlops_course.monitoring import drift

    p = params["drift"]
    result = drift.dataset_drift(
        generator.load_orders(REFERENCE_CSV),
        generator.load_orders(CURRENT_CSV),
        alpha=p["alpha"],
        correction=p["correction"],
    )
    summary = {
        "drift_detected": result.drift_detected,
        "n_drifted": result.n_drifted,
        "drifted_share": round(result.drifted_share, 6),
    }
    write_json(summary, DRIFT_JSON)
    table = result.table[["column", "method", "score", "adjusted_p", "drifted"]]
    write_csv(table.assign(drifted=table["drifted"].astype(int)), DRIFT_CSV)


STAGES = {
    "generate": generate,
    "validate": validate,
    "train": train_stage,
    "evaluate": evaluate_stage,
    "drift": drift_stage,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one stage of the course pipeline.")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params_path = Path(args.params).resolve()
    if not params_path.is_file():
        print(
            f"✗ Нет файла параметров {params_path}: запускайте стадию из корня репозитория "
            "(как `dvc repro`) или укажите --params",
            file=sys.stderr,
        )
        return 2
    # Paths in data/ are relative to the repository, the folder of params.yaml: a stage run
    # from elsewhere (a notebook's folder) still reads and writes the pipeline's own files.
    os.chdir(params_path.parent)
    try:
        STAGES[args.stage](load_params(params_path))
    except validation.DataValidationError as error:
        print(f"✗ {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
