"""Continuous delivery of the pipeline's model: the quality gate, registration, promotion.

    python -m mlops_course.automation.cd gate      # the model of `dvc repro` vs the champion
    python -m mlops_course.automation.cd register  # log it to MLflow, register as challenger
    python -m mlops_course.automation.cd promote   # the challenger becomes the champion

The steps after ``dvc repro`` in ``.github/workflows/continuous-training.yml``, run the
same way by hand from the course folder. They read ``params.yaml`` (``--params``) and the
pipeline's outputs next to it (``data/model/model.pkl``, ``data/metrics/metrics.json``);
the registry is MLflow's at ``--tracking-uri`` (default ``$MLFLOW_TRACKING_URI``, else
the sqlite store of the work directory, ``versioning.tracking.tracking_uri()``).

The three steps are chained by the gate's decision (``--decision``, a JSON file in the
work directory): ``register`` registers only the very model the gate passed (same md5),
and ``promote`` moves ``champion`` only if it is still the version the gate compared with.
Exit codes: 0 done, 1 refused (the workflow stops there), 2 missing inputs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from mlops_course.config import work_dir

# mlflow, scikit-learn and the stages (pandera) take seconds to import: each step imports
# what it needs, so `--help` and `promote` do not pay for the others.

GATE_METRIC = "cost_per_order"
"""The business metric (₽ per order, lower is better): what the gate compares by default."""


class Refused(RuntimeError):
    """A step refuses to go on; the message (Russian) says why and what to do."""


class MissingInput(RuntimeError):
    """An input file is missing; the message says which step makes it."""


# --- Inputs: the pipeline's outputs and the gate's decision --------------------------


def _read(path: Path, made_by: str) -> bytes:
    if not path.is_file():
        raise MissingInput(f"Нет файла {path}: сначала {made_by}.")
    return path.read_bytes()


def pipeline_outputs(root: Path) -> dict[str, Any]:
    """The model, its md5 (as in ``dvc.lock``) and the metrics of ``dvc repro``."""
    from mlops_course.orchestration import stages

    repro = "`make pipeline` (dvc repro)"
    model_bytes = _read(root / stages.MODEL_PKL, repro)
    metrics = json.loads(_read(root / stages.METRICS_JSON, repro))
    return {
        "model": pickle.loads(model_bytes),
        "md5": hashlib.md5(model_bytes).hexdigest(),
        "metrics": metrics,
    }


def default_decision_path() -> Path:
    return work_dir("continuous-training") / "gate.json"


def read_decision(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise Refused(
            f"Нет решения ворот качества ({path.name}): сначала "
            "`python -m mlops_course.automation.cd gate`."
        )
    return json.loads(path.read_text())


def write_decision(decision: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(decision, indent=2, ensure_ascii=False) + "\n")


def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"seed": 42}}`` -> ``{"train.seed": 42}`` (MLflow params are flat)."""
    items: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        items |= flat(value, f"{name}.") if isinstance(value, dict) else {name: value}
    return items


# --- The registry --------------------------------------------------------------------


def connect(uri: str | None) -> str:
    """Point MLflow (tracking and registry) at ``uri`` and make the course experiment active.

    ``None``: the sqlite store of the work directory (``tracking.tracking_uri()``). A
    sqlite store keeps its artifacts next to the database, as ``tracking.setup_tracking``
    does; a server keeps them where it is configured to.
    """
    import mlflow

    from mlops_course.versioning import tracking

    uri = uri or tracking.tracking_uri()
    folder = Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)  # sqlite creates the file, not its folder
    tracking.quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(tracking.EXPERIMENT)
    if found is None:
        artifacts = (folder / "artifacts").as_uri() if folder is not None else None
        client.create_experiment(tracking.EXPERIMENT, artifact_location=artifacts)
    elif found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    mlflow.set_experiment(tracking.EXPERIMENT)
    return uri


def version_threshold(name: str, version: int) -> float:
    """The alarm threshold a registered version serves with (its run's ``threshold`` param)."""
    import mlflow

    from mlops_course.versioning import registry

    run_id = registry.model_version(name, version).run_id
    params = mlflow.MlflowClient().get_run(run_id).data.params
    if "threshold" not in params:
        raise Refused(f"У версии {version} в запуске нет параметра threshold: не с чем сравнить.")
    return float(params["threshold"])


# --- The three steps ---------------------------------------------------------------------


def gate(root: Path, name: str, metric: str, margin: float) -> dict[str, Any]:
    """Judge the pipeline's model on the holdout orders; the decision as a dict.

    Two conditions, both on the same orders that neither training nor threshold tuning
    saw: the model costs less per order than running the service without a model (the
    cheaper of "flag no order" and "flag every order"), and it beats the champion's
    ``metric`` by more than ``margin``, each model at the threshold it serves with.
    """
    from mlops_course.model import evaluate
    from mlops_course.orchestration import stages
    from mlops_course.versioning import registry

    evaluate.require_comparable(metric)
    params = stages.load_params(root / "params.yaml")
    outputs = pipeline_outputs(root)
    costs = evaluate.CostTable(**params["evaluate"]["costs"])
    threshold = outputs["metrics"]["holdout"]["threshold"]
    with contextlib.chdir(root):  # the stage's paths are relative to the pipeline
        _, _, holdout = stages.reference_splits(params)
    scores = evaluate.evaluate_model(outputs["model"], holdout, threshold, costs)
    without_model = min(costs.constant_costs(scores["late_rate"]).values())
    champion = registry.get_alias_version(name, registry.CHAMPION)
    decision = {
        "model_md5": outputs["md5"],
        "threshold": threshold,
        "metric": metric,
        "margin": margin,
        "candidate": {key: scores[key] for key in ("roc_auc", "log_loss", "cost_per_order")},
        "cost_without_model": without_model,
        "champion_version": champion,
        "champion_score": None,
    }
    candidate_cost = scores["cost_per_order"]
    if candidate_cost >= without_model:
        reason = (
            f"Отклонено: модель стоит {candidate_cost:.2f} ₽ на заказ, а сервис без модели — "
            f"{without_model:.2f} ₽: такая модель не окупается."
        )
        return decision | {"passed": False, "reason": reason}
    if champion is None:
        reason = (
            f"Пропущено: {candidate_cost:.2f} ₽ на заказ против {without_model:.2f} ₽ без "
            "модели; чемпиона ещё нет, сравнивать больше не с чем."
        )
        return decision | {"passed": True, "reason": reason}
    champion_model = registry.load_version(name, champion)
    champion_threshold = version_threshold(name, champion)
    rival = evaluate.evaluate_model(champion_model, holdout, champion_threshold, costs)[metric]
    gain = rival - scores[metric] if metric in evaluate.LOWER_IS_BETTER else scores[metric] - rival
    passed = gain > margin
    comparison = (
        f"{metric}: кандидат {scores[metric]:.4f}, чемпион v{champion} {rival:.4f}, "
        f"выигрыш {gain:.4f} {'больше' if passed else 'не больше'} требуемого {margin}"
    )
    reason = f"Пропущено: {comparison}." if passed else f"Отклонено, чемпион прежний: {comparison}."
    return decision | {"passed": passed, "reason": reason, "champion_score": rival}


def register(root: Path, name: str, decision: dict[str, Any]) -> int:
    """Log the gated model's run (params, metrics, data hashes, commit) and register it
    as the ``challenger``; returns the new version."""
    from mlops_course.orchestration import stages
    from mlops_course.versioning import registry, tracking

    outputs = pipeline_outputs(root)
    if not decision.get("passed"):
        raise Refused(f"Ворота качества не пропустили модель: {decision['reason']}")
    if decision["model_md5"] != outputs["md5"]:
        raise Refused(
            "Модель в data/model/model.pkl не та, которую проверяли ворота качества "
            "(другой md5): запустите ворота ещё раз."
        )
    params = stages.load_params(root / "params.yaml")
    with contextlib.chdir(root):
        fit, _, holdout = stages.reference_splits(params)
    metrics = {
        f"{part}_{key}": value
        for part, values in outputs["metrics"].items()
        for key, value in values.items()
    }
    tags = {
        "dvc.model_md5": outputs["md5"],
        "ct.trigger": os.environ.get("GITHUB_EVENT_NAME", "local"),
        "gate.reason": decision["reason"],
    }
    logged_params = flat(params) | {"threshold": decision["threshold"]}
    with contextlib.redirect_stdout(sys.stderr):  # MLflow's progress chatter is not a result
        info = tracking.log_training_run(
            outputs["model"], fit, holdout, logged_params, metrics, run_name="ct", tags=tags
        )
        version = registry.register(info.model_uri, name)
    registry.set_alias(name, registry.CHALLENGER, version)
    return version


def promote(name: str, decision: dict[str, Any]) -> dict[str, int]:
    """Move ``champion`` to the registered challenger if the champion is still the version
    the gate beat (compare-and-set); returns the aliases afterwards."""
    from mlops_course.versioning import registry

    if "version" not in decision:
        raise Refused(
            "Модель ещё не зарегистрирована: сначала `python -m mlops_course.automation.cd "
            "register`."
        )
    try:
        registry.promote(name, decision["version"], expected_champion=decision["champion_version"])
    except registry.ChampionChangedError as error:
        raise Refused(f"{error} Запустите ворота качества ещё раз.") from error
    return registry.aliases(name)


# --- Command line ------------------------------------------------------------------------


def step_summary(line: str) -> None:
    """Add a line to the run's page on GitHub (Actions sets ``GITHUB_STEP_SUMMARY``)."""
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as file:
            file.write(line + "\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # the same options after every step
    common.add_argument("--params", default="params.yaml", help="params.yaml пайплайна")
    common.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI") or None,
        help="реестр MLflow (по умолчанию $MLFLOW_TRACKING_URI, иначе база рабочей папки)",
    )
    common.add_argument("--decision", type=Path, default=None, help="файл решения ворот")
    common.add_argument("--name", default=None, help="имя модели в реестре")
    parser = argparse.ArgumentParser(
        prog="python -m mlops_course.automation.cd", description=__doc__.splitlines()[0]
    )
    steps = parser.add_subparsers(dest="step", required=True)
    gate_parser = steps.add_parser(
        "gate", parents=[common], help="ворота качества: модель пайплайна против чемпиона"
    )
    gate_parser.add_argument("--metric", default=GATE_METRIC, help="метрика сравнения")
    gate_parser.add_argument("--margin", type=float, default=0.0, help="в единицах метрики")
    steps.add_parser("register", parents=[common], help="зарегистрировать как challenger")
    steps.add_parser("promote", parents=[common], help="challenger становится champion")
    return parser


def run(args: argparse.Namespace) -> None:
    from mlops_course.versioning.registry import MODEL_NAME

    name = args.name or MODEL_NAME
    root = Path(args.params).resolve().parent
    decision_path = args.decision or default_decision_path()
    connect(args.tracking_uri)
    if args.step == "gate":
        decision = gate(root, name, args.metric, args.margin)
        write_decision(decision, decision_path)
        step_summary(f"{'✓' if decision['passed'] else '✗'} Ворота качества. {decision['reason']}")
        if not decision["passed"]:
            raise Refused(decision["reason"])
        print(f"✓ {decision['reason']}")
    elif args.step == "register":
        decision = read_decision(decision_path)
        version = register(root, name, decision)
        write_decision(decision | {"version": version}, decision_path)
        print(f"✓ Зарегистрирована версия {version} модели {name!r} (алиас challenger).")
    else:
        aliases = promote(name, read_decision(decision_path))
        step_summary(f"✓ Чемпион: v{aliases['champion']}. Алиасы: {aliases}")
        print(f"✓ Версия {aliases['champion']} — чемпион. Алиасы: {aliases}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.params).is_file():
        print(f"✗ Нет файла параметров {args.params}: запускайте из корня курса.", file=sys.stderr)
        return 2
    try:
        run(args)
    except MissingInput as error:
        print(f"✗ {error}", file=sys.stderr)
        return 2
    except Refused as error:
        print(f"✗ {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
