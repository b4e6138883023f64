"""Checks of lab06 «Сквозной проект»: the whole stack, one check after each step.

generate + validate + split -> train + register a champion -> serve and send winter traffic
-> detect the drift -> a gate that refuses a worse model -> retrain, promote, reload.

Each check calls the student's function (so a crash becomes a hint) or reads what the
step left behind (the MLflow registry, the prediction log, the live service), and names
only the mistake it found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import mlflow
import pandas as pd
import psutil

from mlops_course.classroom.checks import AnswerProblem, check_returned, expect
from mlops_course.config import ID_COLUMN, TARGET, TIME_COLUMN
from mlops_course.model.evaluate import CostTable, evaluate_model, tune_threshold
from mlops_course.model.train import split_validation, train_model
from mlops_course.model.validation import DataValidationError
from mlops_course.scenario.problems import SCENARIOS, make_batch
from mlops_course.serving.client import ServiceClient, ServiceError
from mlops_course.serving.prediction_log import read_prediction_log
from mlops_course.versioning import registry, tracking

LAB = "lab06_capstone"
WINTER_COLUMNS = set(SCENARIOS["winter"].columns)  # weather, temperature_c
GATE_METRIC = "log_loss"


def _client(url: str) -> ServiceClient:
    return ServiceClient(url, timeout=30)


# --- Exercise 1: data and validation ---------------------------------------------------


def _pair_problem(value: Any) -> str:
    if not (isinstance(value, tuple | list) and len(value) == 2):
        return "верните пару таблиц: return train, test."
    if not all(isinstance(part, pd.DataFrame) for part in value):
        return "оба элемента пары — таблицы DataFrame (train, test)."
    return ""


def check_prepare(student_prepare: Callable[[pd.DataFrame], Any], seed: int = 0) -> list:
    """``student_prepare(frame) -> (train, test)``: validates first (a broken batch raises
    ``DataValidationError``), then splits by time, keeping the target in both parts."""
    clean = make_batch(400, seed).frame
    got = student_prepare(clean.copy())
    problem = _pair_problem(got)
    check_returned(got, not problem, problem)
    train, test = got
    ids_train, ids_test = set(train[ID_COLUMN]), set(test[ID_COLUMN])
    results = [
        expect(
            len(train) + len(test) == len(clean) and not ids_train & ids_test,
            f"все {len(clean)} заказов разделены без повторов",
            f"в train {len(train)} и в test {len(test)} заказов, общих {len(ids_train & ids_test)}"
            f" (а всего {len(clean)}): каждый заказ — ровно в одной части, split(frame).",
        ),
        expect(
            len(test) == round(0.25 * len(clean)),
            "отложена последняя четверть заказов",
            f"в test {len(test)} из {len(clean)} заказов, а нужна четверть: split(frame) "
            "(test_size=0.25 по умолчанию).",
        ),
        expect(
            TARGET in train and TARGET in test,
            "метка is_late осталась в обеих частях (модели она нужна как ответ)",
            "в одной из частей нет колонки is_late: не удаляйте метку — её уберёт модель "
            "(конвейер берёт только признаки), а оценке она нужна.",
        ),
    ]
    if results[0].passed:
        later = train[TIME_COLUMN].max() <= test[TIME_COLUMN].min()
        results.append(
            expect(
                later,
                "test — самые поздние заказы (деление по времени, будущее не подглядывает)",
                "в test есть заказы раньше части train: случайное деление пускает «будущее» в "
                "обучение. Делите по времени: split(frame) без by_time=False.",
            )
        )
    broken = make_batch(400, seed, ["distance_in_metres"]).frame
    try:
        student_prepare(broken)
        refused = False
    except DataValidationError:
        refused = True
    results.append(
        expect(
            refused,
            "партия с расстоянием в метрах остановлена DataValidationError",
            "партия с расстоянием в метрах (×1000) прошла дальше: проверьте её до деления — "
            "validate_orders(frame).raise_for_violations().",
        )
    )
    return results


# --- Exercise 2: train, tune, register the champion ------------------------------------


def _run_of(version: int) -> Any:
    return mlflow.MlflowClient().get_run(
        registry.model_version(registry.MODEL_NAME, version).run_id
    )


def run_params(version: int) -> dict[str, str]:
    """The params of the MLflow run that logged ``version`` (e.g. its tuned threshold)."""
    return dict(_run_of(version).data.params)


def check_champion(result: Any, train: pd.DataFrame) -> list:
    """``result = (version, threshold, metrics)``: the registry's champion is ``version``;
    its run has the params, metrics and data hashes; ``threshold`` is the one tuned on the
    validation part of ``train``."""
    ok = (
        isinstance(result, tuple | list) and len(result) == 3 and isinstance(result[0], int)
        and isinstance(result[1], float) and isinstance(result[2], dict)
    )  # fmt: skip
    check_returned(result, ok, "верните тройку (версия int, порог float, метрики dict).")
    version, threshold, _ = result
    champion = registry.aliases().get(registry.CHAMPION)
    results = [
        expect(
            champion == version,
            f"версия {version} — чемпион (алиас champion)",
            f"алиас champion указывает на {champion}, а не на версию {version}: register "
            "только создаёт версию, чемпионом её делают ворота registry.promote_if_better "
            "(первая версия становится чемпионом без сравнения).",
        )
    ]
    run = _run_of(version)
    params, metrics = run.data.params, run.data.metrics
    missing = [
        key for key in ("threshold", "train_data_hash", "eval_data_hash") if key not in params
    ]
    results.append(
        expect(
            not missing and GATE_METRIC in metrics,
            "запуск MLflow хранит порог, хэши данных и метрики",
            f"в запуске версии нет: {', '.join(missing) or GATE_METRIC}. Логируйте "
            "tracking.log_training_run(model, train, test, {'threshold': threshold, ...}, "
            "metrics) с метриками evaluate_model.",
        )
    )
    model = registry.load_version(registry.MODEL_NAME, version)
    _, validation = split_validation(train)
    tuned = tune_threshold(model, validation, CostTable())
    results.append(
        expect(
            abs(threshold - tuned) < 1e-9,
            f"порог {threshold:.2f} подобран по таблице затрат на валидации",
            f"порог {threshold:.2f}, а tune_threshold на валидации (split_validation(train)) "
            f"даёт {tuned:.2f}: подбирайте порог на валидации, не на test и не 0.5.",
        )
    )
    return results


# --- Exercise 3: traffic to the live service -------------------------------------------


def check_traffic(
    student_send: Callable[[str, pd.DataFrame], Any],
    url: str,
    orders: pd.DataFrame,
    log_path: Any,
    champion_version: int,
) -> list:
    """``student_send(url, orders) -> answers``: every order answered by the champion and
    logged by the service (the log grew by exactly ``len(orders)`` rows)."""
    before = len(read_prediction_log(log_path))
    try:
        answers = student_send(url, orders.copy())
    except httpx.ConnectError:
        raise AnswerProblem(
            "сервис по этому адресу не ответил: отправляйте заказы на url, который получила "
            "функция (service.url; порт выбран случайно), а не на порт по умолчанию 8000."
        ) from None
    except ServiceError as error:
        raise AnswerProblem(f"сервис отказал: {error}. Отправляйте заказы как есть.") from None
    check_returned(
        answers,
        isinstance(answers, pd.DataFrame) and "model_version" in answers,
        "верните ответы сервиса — таблицу ServiceClient(url).predict(...) (все части вместе).",
    )
    logged = read_prediction_log(log_path).iloc[before:]
    versions = sorted(answers["model_version"].unique())
    missing = len(set(orders[ID_COLUMN]) - set(answers[ID_COLUMN]))
    return [
        expect(
            missing == 0 and len(answers) == len(orders),
            f"сервис ответил на все {len(orders)} заказов",
            f"ответов {len(answers)}, без ответа {missing} заказов из {len(orders)}: соберите "
            "ответы всех частей (pd.concat) и верните их.",
        ),
        expect(
            [str(v) for v in versions] == [str(champion_version)],
            f"отвечает чемпион, версия {champion_version}",
            f"ответы дали версии {versions}, а чемпион — {champion_version}.",
        ),
        expect(
            len(logged) == len(orders) and set(logged[ID_COLUMN]) == set(orders[ID_COLUMN]),
            f"в журнале предсказаний все {len(orders)} заказов, по разу",
            f"в журнал за этот вызов записано {len(logged)} строк, а заказов {len(orders)}: "
            "отправьте каждый заказ ровно один раз.",
        ),
    ]


# --- Exercise 4: the monitoring job and the trigger ------------------------------------


def _monitor(student_monitor: Callable[..., Any], *args: Any) -> tuple[Any, bool, list]:
    got = student_monitor(*args)
    ok = isinstance(got, tuple | list) and len(got) == 3 and hasattr(got[0], "drift")
    check_returned(got, ok, "верните тройку: return report, retrain, reasons.")
    return got[0], bool(got[1]), list(got[2])


def _drifted(report: Any) -> set[str]:
    if report.drift is None:
        return set()
    table = report.drift.table
    return set(table.loc[table["drifted"], "column"])


def check_monitoring(
    student_monitor: Callable[..., Any],
    reference: pd.DataFrame,
    log_path: Any,
    labels: pd.DataFrame,
    trained_metrics: dict,
    n_logged: int,
    seed: int = 0,
) -> list:
    """``student_monitor(reference, log_path, labels, trained_metrics) -> (report, retrain,
    reasons)``: drift on the winter columns, the trigger fires for drift and quality; with a
    winter reference the same log shows no drift on them (the reference is the argument)."""
    report, retrain, reasons = _monitor(
        student_monitor, reference, log_path, labels, trained_metrics
    )
    drifted = _drifted(report)
    text = " ".join(reasons)
    results = [
        expect(
            report.n_predictions == n_logged,
            f"задача прочитала журнал сервиса: {n_logged} предсказаний",
            f"задача прочитала {report.n_predictions} предсказаний, а в журнале сервиса "
            f"{n_logged}: передайте run_monitoring путь журнала log_path.",
        ),
        expect(
            drifted >= WINTER_COLUMNS,
            f"дрейф найден в {', '.join(sorted(drifted & WINTER_COLUMNS))}",
            f"дрейф найден в {sorted(drifted) or 'ни одном признаке'}, а зима сдвигает "
            f"{', '.join(sorted(WINTER_COLUMNS))}: эталон — весенние данные (аргумент reference), "
            "текущее — журнал.",
        ),
        expect(
            retrain and "дрейф" in text,
            "триггер сработал, причина — дрейф данных",
            "триггер не назвал дрейф: передайте retraining_trigger первым аргументом "
            "report.drift_detected.",
        ),
        expect(
            GATE_METRIC in text,
            f"и вторая причина: живой {GATE_METRIC} хуже, чем при обучении",
            f"триггер не увидел ухудшения {GATE_METRIC}: живой — "
            "report.quality.loc['all', 'log_loss'] (run_monitoring с labels), при обучении — "
            "trained_metrics['log_loss'].",
        ),
    ]
    winter_reference = make_batch(len(reference), seed + 1000, ["winter"]).frame
    other, _, _ = _monitor(student_monitor, winter_reference, log_path, labels, trained_metrics)
    results.append(
        expect(
            not (_drifted(other) & WINTER_COLUMNS),
            "с зимним эталоном зимний журнал без дрейфа: функция сравнивает с reference",
            "с зимним эталоном функция всё равно нашла дрейф в погоде: сравнивайте журнал с "
            "аргументом reference, а не с глобальной переменной.",
        )
    )
    return results


# --- Exercise 5: the gate refuses a worse model ----------------------------------------


def spoiled_version(train: pd.DataFrame, seed: int = 0) -> int:
    """Register a clearly worse model: trained on inverted labels (it ranks backwards)."""
    inverted = train.assign(**{TARGET: 1 - train[TARGET]})
    model = train_model(inverted, seed=seed)
    info = tracking.log_training_run(model, inverted, inverted.head(50), {"spoiled": True}, {})
    return registry.register(info.model_uri)


def _promoted(value: Any) -> bool:
    return bool(getattr(value, "promoted", value))


def check_gate(
    student_gate: Callable[..., Any],
    train: pd.DataFrame,
    eval_frame: pd.DataFrame,
    threshold: float,
) -> list:
    """``student_gate(version, eval_frame, threshold)`` refuses a worse model: the champion
    alias stays where it was (restored by the check if the gate moved it)."""
    champion = registry.aliases().get(registry.CHAMPION)
    worse = spoiled_version(train)
    answer = student_gate(worse, eval_frame.copy(), threshold)
    check_returned(
        answer, isinstance(answer, bool) or hasattr(answer, "promoted"),
        "верните решение ворот: decision (PromotionDecision) или decision.promoted.",
    )  # fmt: skip
    moved = registry.aliases().get(registry.CHAMPION)
    if moved != champion and champion is not None:
        registry.promote(registry.MODEL_NAME, champion)  # undo, so the lab can go on
    worse_score = evaluate_model(registry.load_version(registry.MODEL_NAME, worse), eval_frame)
    champion_score = evaluate_model(
        registry.load_version(registry.MODEL_NAME, champion), eval_frame
    )
    scores = (
        f"{GATE_METRIC} испорченной версии {worse} = {worse_score[GATE_METRIC]:.3f}, "
        f"чемпиона v{champion} = {champion_score[GATE_METRIC]:.3f}"
    )
    return [
        expect(
            moved == champion and not _promoted(answer),
            f"ворота отклонили модель хуже чемпиона ({scores}); чемпион — v{champion}",
            f"ворота пропустили модель хуже чемпиона ({scores}; для log loss меньше — лучше): "
            "registry.promote_if_better(registry.MODEL_NAME, version, eval_frame, "
            "'log_loss', threshold=threshold, costs=costs) сравнивает обе на одних заказах."
            + (f" Чемпион возвращён на v{champion}." if moved != champion else ""),
        )
    ]


# --- Exercise 6: retrain, promote, reload ----------------------------------------------


def check_redeployed(
    student_retrain: Callable[[pd.DataFrame, str], Any],
    labelled: pd.DataFrame,
    url: str,
    sample: pd.DataFrame,
) -> list:
    """``student_retrain(labelled, url) -> version``: a new champion, and the live service
    answers with it (``/admin/reload``)."""
    before = registry.aliases().get(registry.CHAMPION)
    try:
        version = student_retrain(labelled.copy(), url)
    except (KeyError, DataValidationError) as error:  # train_model or validate_orders
        if TARGET in str(error):
            raise AnswerProblem(
                "обучение упало без колонки is_late: модель учат на размеченных заказах "
                "(labelled — с метками), а не на том, что видел сервис (без меток)."
            ) from None
        raise
    check_returned(version, isinstance(version, int), "верните номер новой версии (int).")
    champion = registry.aliases().get(registry.CHAMPION)
    results = [
        expect(
            champion == version and version != before,
            f"чемпион сменился: v{before} → v{version}",
            f"чемпион — v{champion}, а новая версия — v{version}: пропустите её через свои "
            "ворота gate(version, test, threshold) на зимнем test.",
        )
    ]
    with _client(url) as client:
        served = client.model()["champion"]["version"]
        answered = sorted(client.predict(sample)["model_version"].astype(str).unique())
    results.append(
        expect(
            str(served) == str(champion) and answered == [str(champion)],
            f"сервис отвечает чемпионом реестра, версией {champion}",
            f"в реестре чемпион — v{champion}, а сервис отвечает версией {served}: он держит "
            "модель в памяти — после смены чемпиона попросите его перечитать реестр: "
            "POST /admin/reload (httpx.post(url + '/admin/reload')).",
        )
    )
    return results


# --- The end: nothing left running ------------------------------------------------------


def service_processes() -> list[psutil.Process]:
    """Services (``mlops_course.serving``) started by this process and still alive."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "mlops_course.serving" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found
