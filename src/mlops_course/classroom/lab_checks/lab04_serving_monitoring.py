"""Checks of lab04 «Сервис и мониторинг»: a stricter input rule (422 with a clear message),
a new Prometheus metric in the service's ``/metrics``, an async load test with p50/p99.

The student's functions run inside the real service as an extension file
(``write_extension`` -> ``python -m mlops_course.serving --extension FILE``; the hooks are
described in ``serving.app.load_extension``). So every check calls the student's code as
the service does, loaded from such a file, where a name defined elsewhere in the notebook
does not exist:

* ``check_rule`` — the rule on batches inside and outside the 30 km zone, its exception
  read as the service answers it (``RequestError`` -> its status, anything else -> 500);
* ``check_metric`` — ``create_metrics`` with a fresh registry, then two "requests";
* ``check_live_service`` — the same over HTTP, against the service the lab started;
* ``check_load_test`` — the load test against a spy server (known delays, known error
  answers, concurrency counted on the server side), and its numbers on the live service
  next to ``serving.load_test``'s: counts, status codes, p50 ≤ p99, the same order of
  magnitude (not equal latencies: two runs on a busy machine never are).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import math
import tempfile
import textwrap
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from starlette.exceptions import HTTPException

from mlops_course.classroom.checks import AnswerProblem, CheckResult, check_returned, expect
from mlops_course.scenario.generator import generate_orders
from mlops_course.serving import schemas
from mlops_course.serving.client import encode_orders, parse_metrics
from mlops_course.serving.load_test import LoadResult
from mlops_course.serving.schemas import OrdersBatch, RequestError, orders_payload, parse_orders
from mlops_course.serving.settings import METRICS_PATH, PREDICT_PATH

ZONE_KM = 30.0
"""The delivery zone: the generator never makes a longer order, the service range is 50."""
FIELD = "distance_km"
METRIC = "prediction_probability"
HOOKS = ("validate", "create_metrics")
CHECK_SEED = 4  # the checks' own orders: the same for every student and every seed
FAR_ROW, FAR_KM = 3, 45.0
JUST_OVER_KM = 30.5
EDGE_ROW = 5  # an order exactly ZONE_KM away: inside the zone
JSON_HEADERS = {"Content-Type": "application/json"}
PROMETHEUS_DEFAULT_BUCKETS = tuple(b for b in Histogram.DEFAULT_BUCKETS if math.isfinite(b))

EXTENSION_HEADER = '''"""Extension of the course service: lab04 wrote it from a student's functions.

The service imports this file once at start-up (python -m mlops_course.serving
--extension FILE): validate(batch) runs after the built-in checks of /predict,
create_metrics(registry) adds metrics to /metrics and returns observe(batch, probability).
"""

from __future__ import annotations

import numpy as np
from prometheus_client import Counter, Gauge, Histogram, Summary

from mlops_course.serving.schemas import RequestError, field_error
'''
HEADER_NAMES = "np, Counter, Gauge, Histogram, Summary, RequestError, field_error"


# --- The student's functions as the service runs them ------------------------------------


def _function_source(function: Callable, hook: str) -> str:
    if not inspect.isfunction(function):
        raise AnswerProblem(
            f"для {hook} передан {type(function).__name__}, а нужна функция, написанная через "
            "def в ячейке упражнения."
        )
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        raise AnswerProblem(
            f"не удалось прочитать код функции {function.__name__}: напишите её через def в "
            "ячейке ноутбука и запустите эту ячейку."
        ) from None


def write_extension(path: Path, **hooks: Callable) -> Path:
    """Write the student's functions into an extension file the service can import.

    ``hooks`` maps a hook name (``validate``, ``create_metrics``) to the student's function;
    each is copied by its source, and named after its hook if its own name differs.
    """
    unknown = sorted(set(hooks) - set(HOOKS))
    if unknown:
        raise ValueError(f"unknown hooks {unknown}; the service knows {HOOKS}")
    parts = [EXTENSION_HEADER]
    for hook, function in hooks.items():
        parts.append(_function_source(function, hook))
        if function.__name__ != hook:
            parts.append(f"{hook} = {function.__name__}\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return path


def _as_in_service(function: Callable, hook: str) -> Callable:
    """``function`` loaded from an extension file of its own, as the service loads it."""
    with tempfile.TemporaryDirectory(prefix="lab04-extension-") as folder:
        path = write_extension(Path(folder) / "extension.py", **{hook: function})
        spec = importlib.util.spec_from_file_location("lab04_extension_check", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return getattr(module, hook)


def _name_problem(error: NameError) -> AnswerProblem:
    return AnswerProblem(
        f"в сервисе функция падает с NameError: имени «{error.name}» нет в файле расширения "
        "(опечатка или переменная ноутбука?). Сервис получает только код самой функции и "
        f"импорты файла ({HEADER_NAMES}): перенесите константу или import внутрь функции."
    )


def _orders_batch(changes: Mapping[int, float] | None = None, n: int = 12) -> OrdersBatch:
    """``n`` checks' orders (all inside the zone) as the service validates them, with the
    distances of some rows replaced by ``changes``."""
    payload = orders_payload(generate_orders(n, CHECK_SEED, first_id=700_001))
    for row, km in (changes or {}).items():
        payload[FIELD][row] = km
    return parse_orders(orjson.dumps(payload), max_rows=10_000)


# --- Exercise 1: the rule ------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the service answers when the rule has run on a batch."""

    status: int
    errors: list[dict] | None = None
    problem: str = ""
    """Why the service answers 500 or answers without a field (empty when it does not)."""
    returned: Any = None
    changed: bool = False


def _valid_errors(errors: Any) -> bool:
    return (
        isinstance(errors, list)
        and bool(errors)
        and all(isinstance(e, dict) and {"msg", "type"} <= set(e) for e in errors)
    )


def _answer(rule: Callable, batch: OrdersBatch) -> Answer:
    """Run ``rule`` on ``batch``; read the outcome as the service's exception handlers do."""
    before = {name: column.copy() for name, column in batch.columns.items()}
    try:
        returned = rule(batch)
    except NotImplementedError:
        raise  # the builder's stub: run_check says the exercise is not done
    except NameError as error:
        raise _name_problem(error) from None
    except RequestError as error:
        if _valid_errors(error.errors):
            return Answer(error.status_code, error.errors)
        return Answer(
            500,
            problem=f"RequestError получил {type(error.errors).__name__} вместо списка ошибок "
            "[field_error(...)]: обработчик сервиса не может его прочитать и отвечает 500.",
        )
    except HTTPException as error:
        return Answer(
            error.status_code,
            problem=f"HTTPException({error.status_code}) отвечает строкой detail без поля и "
            "мимо счётчика отказов prediction_validation_errors_total.",
        )
    except Exception as error:  # noqa: BLE001 - any bug in a hook is a 500 in the service
        return Answer(500, problem=_crash_problem(error))
    changed = any(not np.array_equal(before[n], batch.columns[n]) for n in before)
    return Answer(200, returned=returned, changed=changed)


def _crash_problem(error: Exception) -> str:
    """Why the rule crashed; a RequestError built from something else than a list of
    errors fails in its own constructor, which deserves its own words."""
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    if last is not None and last.name == "__init__" and last.filename == schemas.__file__:
        tb = error.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        given = type(tb.tb_frame.f_locals.get("errors")).__name__
        return (
            f"RequestError получил {given} вместо списка ошибок [field_error(...)]: его "
            f"конструктор падает с {type(error).__name__}"
        )
    return f"правило подняло {type(error).__name__}: «{error}»"


REFUSE_HOW = (
    f"Отказ с понятным сообщением — raise RequestError(422, [field_error('{FIELD}', "
    f"'outside_delivery_zone', f'{FIELD}: ... дальше зоны доставки {ZONE_KM:g} км ...')])."
)


def _accepts_result(inside: Answer, edge: Answer) -> CheckResult:
    """Orders inside the zone, one of them exactly at its edge, are answered."""
    if inside.status == 200 and edge.status == 200:
        return CheckResult(True, f"заказы в зоне приняты, и ровно {ZONE_KM:g} км тоже")
    if inside.status == 500 or edge.status == 500:
        failed = inside if inside.status == 500 else edge
        return CheckResult(
            False,
            f"на заказах внутри зоны {failed.problem or 'правило упало'} — сервис ответил бы "
            "500 на обычный заказ. Правило должно молча пропускать заказы не дальше "
            f"{ZONE_KM:g} км.",
        )
    if inside.status != 200:
        return CheckResult(
            False,
            f"заказы внутри зоны (все не дальше {ZONE_KM:g} км) отклонены со статусом "
            f"{inside.status}: правило слишком строгое; отклоняйте только {FIELD} > {ZONE_KM:g}.",
        )
    return CheckResult(
        False,
        f"заказ ровно {ZONE_KM:g} км отклонён: граница входит в зону, отклоняйте только "
        f"{FIELD} > {ZONE_KM:g} (а не ≥).",
    )


def _refused(answer: Answer) -> bool:
    return answer.status == 422 and bool(answer.errors)


def _refuses_result(far: Answer, just_over: Answer) -> CheckResult:
    """Orders beyond the zone are refused with 422 (a RequestError the service can read):
    ``far`` is FAR_KM in row FAR_ROW, ``just_over`` JUST_OVER_KM in row 0."""
    if _refused(far) and _refused(just_over):
        return CheckResult(True, f"заказ дальше {ZONE_KM:g} км отклонён: статус 422")
    wrong, km = (far, FAR_KM) if not _refused(far) else (just_over, JUST_OVER_KM)
    if wrong.status == 200:
        if far.status == 200 and _refused(just_over):
            return CheckResult(
                False,
                f"заказ {FAR_KM:g} км в строке {FAR_ROW} принят, а {JUST_OVER_KM:g} км в "
                "строке 0 — отклонён: проверяются не все строки. Сравнивайте весь столбец: "
                f"(batch.columns['{FIELD}'] > {ZONE_KM:g}).any().",
            )
        if just_over.status == 200 and _refused(far):
            return CheckResult(
                False,
                f"заказ {JUST_OVER_KM:g} км принят, а {FAR_KM:g} км — отклонён: граница зоны "
                f"— {ZONE_KM:g} км, отклоняйте всё, что дальше ({FIELD} > {ZONE_KM:g}).",
            )
        if wrong.changed:
            return CheckResult(
                False,
                "правило изменило данные запроса (обрезало расстояние?) и пропустило заказ: "
                "сервис ответил бы моделью на исправленные вами данные. " + REFUSE_HOW,
            )
        if wrong.returned is not None:
            return CheckResult(
                False,
                f"правило вернуло {wrong.returned!r}, но сервис не смотрит на return: заказ "
                "принят. Чтобы отказать, поднимите исключение. " + REFUSE_HOW,
            )
        return CheckResult(
            False, f"заказ {km:g} км принят (ответ 200): правило его не заметило. " + REFUSE_HOW
        )
    if wrong.status == 500:
        return CheckResult(
            False, f"{wrong.problem} — сервис ответит 500 (ошибка сервера). " + REFUSE_HOW
        )
    if wrong.errors is None:
        return CheckResult(False, f"{wrong.problem} {REFUSE_HOW}")
    return CheckResult(
        False,
        f"статус {wrong.status}, а для ошибки в данных сервис отвечает 422 (400 — тело не "
        "JSON, 413 — слишком большой запрос): RequestError(422, [...]).",
    )


def _message_results(errors: list[dict]) -> list[CheckResult]:
    """The error names the field (``field`` and text) and the zone's limit."""
    error = errors[0]
    message = str(error.get("msg", ""))
    named = error.get("field") == FIELD and FIELD in message
    if error.get("field") != FIELD:
        hint = (
            f"в ошибке field = {error.get('field')!r}: укажите поле первым аргументом "
            f"field_error('{FIELD}', ...) — по нему клиент поймёт, что исправить."
        )
    else:
        hint = f"в сообщении «{message}» нет имени поля {FIELD}: начните его с '{FIELD}: ...'."
    limit = f"{ZONE_KM:g}"
    return [
        expect(named, f"ошибка называет поле: «{message}»", hint),
        expect(
            limit in message,
            f"в сообщении есть граница зоны ({limit} км)",
            f"в сообщении «{message}» нет границы зоны: добавьте «{limit} км», чтобы клиент "
            "знал допустимое значение.",
        ),
    ]


def check_rule(student_rule: Callable[[OrdersBatch], None]) -> list[CheckResult]:
    """``student_rule(batch)`` refuses orders beyond ``ZONE_KM`` with a readable 422 naming
    ``distance_km``, accepts every order inside the zone (its edge included) and leaves the
    batch as it was; run as the service runs it (from an extension file)."""
    rule = _as_in_service(student_rule, "validate")
    inside = _answer(rule, _orders_batch())
    edge = _answer(rule, _orders_batch({EDGE_ROW: ZONE_KM}))
    far = _answer(rule, _orders_batch({FAR_ROW: FAR_KM}))
    just_over = _answer(rule, _orders_batch({0: JUST_OVER_KM}))
    refused = _refuses_result(far, just_over)
    results = [_accepts_result(inside, edge), refused]
    if refused.passed:
        results += _message_results(far.errors)
    return results


# --- Exercise 2: the metric ----------------------------------------------------------


def _global_collectors() -> set:
    return set(REGISTRY._collector_to_names)  # prometheus-client keeps no public list


def _forget_global(before: set) -> None:
    """Unregister what the student's code added to prometheus-client's global registry, so
    that running the exercise again does not fail with «Duplicated timeseries»."""
    for collector in _global_collectors() - before:
        REGISTRY.unregister(collector)


def _families(registry: CollectorRegistry) -> dict[str, Any]:
    return {family.name: family for family in registry.collect()}


TYPE_HINTS = {
    "counter": "Counter только растёт и не знает, какие были вероятности",
    "gauge": "Gauge хранит одно последнее значение, а не распределение",
    "summary": "у Summary нет корзин: долю рискованных заказов по ней не посчитать, а её "
    "квантили не складываются по нескольким процессам",
}


def _registered_result(registry: CollectorRegistry, added_globally: set) -> CheckResult | None:
    """None if ``METRIC`` is a histogram of the service's registry, else what is wrong."""
    families = _families(registry)
    if METRIC in families and families[METRIC].type == "histogram":
        return None
    if METRIC in families:
        kind = families[METRIC].type
        return CheckResult(
            False,
            f"{METRIC} — это {kind}, а нужна гистограмма: {TYPE_HINTS.get(kind, '')}. "
            f"Создайте Histogram('{METRIC}', ..., buckets=..., registry=registry).",
        )
    global_names = {name for c in added_globally for name in REGISTRY._collector_to_names[c]}
    if any(name.startswith(METRIC) for name in global_names):
        return CheckResult(
            False,
            "метрика создана без registry=registry: она попала в глобальный реестр "
            "prometheus-client, а /metrics сервиса показывает только свой реестр. Передайте "
            "Histogram(..., registry=registry).",
        )
    names = sorted(families)
    return CheckResult(
        False,
        (
            f"в реестре сервиса метрики {', '.join(names)}, а нужна {METRIC}: "
            if names
            else "в реестре сервиса нет ни одной метрики: "
        )
        + f"создайте Histogram('{METRIC}', ..., registry=registry) в create_metrics.",
    )


def _samples(registry: CollectorRegistry) -> dict[str, Any]:
    """count, sum and the cumulative bucket counts {le: n} of ``METRIC``."""
    (family,) = [f for f in registry.collect() if f.name == METRIC]
    values = {"buckets": {}}
    for sample in family.samples:
        if sample.name.endswith("_bucket"):
            values["buckets"][float(sample.labels["le"])] = sample.value
        elif sample.name.endswith("_count"):
            values["count"] = sample.value
        elif sample.name.endswith("_sum"):
            values["sum"] = sample.value
    return values


def _buckets_result(edges: list[float]) -> CheckResult:
    inside = [edge for edge in edges if 0 < edge < 1]
    if tuple(edges) == PROMETHEUS_DEFAULT_BUCKETS:
        hint = (
            "границы корзин по умолчанию (0.005 … 10) придуманы для секунд задержки; для "
            "вероятности задайте свои: buckets=(0.1, 0.2, …, 0.9)."
        )
    elif any(edge > 1 or edge <= 0 for edge in edges):
        shown = ", ".join(f"{edge:g}" for edge in edges)
        hint = f"границы корзин ({shown}) выходят за (0, 1]: вероятность бывает только от 0 до 1."
    else:
        hint = f"корзин внутри (0, 1) — {len(inside)}: распределения не увидеть, нужно ≥ 3."
    ok = len(inside) >= 3 and all(0 < edge <= 1 for edge in edges)
    return expect(ok, f"корзины гистограммы внутри (0, 1]: {len(inside)} границ", hint)


def _metric_probabilities() -> tuple[np.ndarray, np.ndarray]:
    """Two "requests" of 40 and 15 rows with probabilities over the whole (0, 1)."""
    rng = np.random.default_rng(CHECK_SEED)
    return rng.uniform(0.01, 0.99, 40), rng.beta(0.5, 0.5, 15)


def _observe_problem(error: Exception) -> AnswerProblem | None:
    if isinstance(error, NameError):
        return _name_problem(error)
    text = str(error)
    if isinstance(error, ValueError) and "Duplicated timeseries" in text:
        return AnswerProblem(CREATED_IN_OBSERVE)
    if isinstance(error, ValueError | TypeError) and ("ambiguous" in text or "scalar" in text):
        return AnswerProblem(
            f"observe упала: {type(error).__name__}: {error}. Массив probability использован "
            "как одно число (Histogram.observe(p) и if p > … ждут одно значение): пройдите по "
            "вероятностям циклом, for p in probability."
        )
    return None


def _observations_result(values: dict, probabilities: list[np.ndarray]) -> CheckResult:
    """count / sum / buckets after the two requests, with the hint the numbers point to."""
    everything = np.concatenate(probabilities)
    count, total = values.get("count", 0.0), values.get("sum", 0.0)
    expected = {edge: float(np.sum(everything <= edge)) for edge in values["buckets"]}
    if count == everything.size and math.isclose(total, everything.sum(), rel_tol=1e-9):
        if values["buckets"] == expected:
            return CheckResult(
                True,
                f"после двух запросов ({', '.join(str(p.size) for p in probabilities)} строк) в "
                f"гистограмме {everything.size} наблюдений, сумма и корзины сходятся",
            )
        return CheckResult(
            False,
            "число и сумма наблюдений верны, а корзины — нет: "
            "наблюдайте probability как есть, без округления.",
        )
    if count == 0:
        hint = "observe не обновляет гистограмму: вызовите histogram.observe(p) для каждой p."
    elif count == len(probabilities):
        hint = "одно наблюдение на запрос, а нужно на каждую строку (каждую вероятность)."
    elif count == 2 * everything.size:
        hint = "каждая вероятность наблюдена дважды: observe вызывается для неё два раза."
    elif count == everything.size and math.isclose(total, float(np.sum(everything >= 0.5))):
        hint = "наблюдается метка 0/1 (p ≥ 0.5), а нужна сама вероятность p."
    elif count == everything.size:
        hint = (
            "наблюдений столько, сколько строк, но сумма не равна сумме вероятностей: "
            "наблюдайте именно probability."
        )
    else:
        hint = "наблюдайте каждую вероятность ровно один раз: for p in probability: observe(p)."
    return CheckResult(
        False,
        f"после двух запросов ({everything.size} строк) в гистограмме {count:g} наблюдений с "
        f"суммой {total:.3f}, а ожидалось {everything.size} с суммой {everything.sum():.3f}: "
        + hint,
    )


CREATED_IN_OBSERVE = (
    "метрика создаётся внутри observe, то есть при каждом запросе (со второго "
    "prometheus-client откажется: «Duplicated timeseries»). Создайте её один раз в "
    "create_metrics, а observe пусть только обновляет её."
)


def _observe(observe: Callable, probability: np.ndarray) -> None:
    """One "request" of ``probability.size`` rows; a recognised failure becomes a hint."""
    try:
        observe(_orders_batch(n=probability.size), probability.copy())
    except NotImplementedError:
        raise
    except Exception as error:
        if (known := _observe_problem(error)) is not None:
            raise known from None
        raise


def _created_in_observe(observe: Callable, registry: CollectorRegistry) -> CheckResult | None:
    """If the metric only appears once observe has run, it is created per request."""
    if METRIC in _families(registry):
        return None
    with contextlib.suppress(Exception):
        observe(_orders_batch(n=3), np.array([0.2, 0.5, 0.8]))
    if METRIC in _families(registry):
        return CheckResult(False, CREATED_IN_OBSERVE)
    return None


def check_metric(
    student_create_metrics: Callable[[CollectorRegistry], Callable],
) -> list[CheckResult]:
    """``create_metrics(registry)`` registers the histogram ``METRIC`` (buckets inside
    (0, 1]) in the service's ``registry`` and returns ``observe(batch, probability)``, which
    observes every probability of every request once."""
    create_metrics = _as_in_service(student_create_metrics, "create_metrics")
    registry, before = CollectorRegistry(), _global_collectors()
    try:
        try:
            observe = create_metrics(registry)
        except NameError as error:
            raise _name_problem(error) from None
        check_returned(
            observe,
            callable(observe),
            "create_metrics должна вернуть функцию observe(batch, probability), которую сервис "
            "вызовет после каждого предсказания.",
        )
        problem = _registered_result(registry, _global_collectors() - before)
        if problem is not None:
            return [_created_in_observe(observe, registry) or problem]
        results = [
            CheckResult(True, f"{METRIC} — гистограмма в реестре сервиса"),
            _buckets_result(sorted(e for e in _samples(registry)["buckets"] if math.isfinite(e))),
        ]
        probabilities = _metric_probabilities()
        for p in probabilities:
            _observe(observe, p)
        return [*results, _observations_result(_samples(registry), list(probabilities))]
    finally:
        _forget_global(before)


# --- The live service ----------------------------------------------------------------


def _metric_values(text: str) -> dict[str, Any]:
    """count, sum, buckets of ``METRIC`` and the rejections by type, from ``/metrics``."""
    values: dict[str, Any] = {"buckets": {}, "rejections": {}, "has_metric": False}
    for (name, labels), value in parse_metrics(text).items():
        labels = dict(labels)
        if name.startswith(METRIC):
            values["has_metric"] = True
        if name == f"{METRIC}_bucket":
            values["buckets"][float(labels["le"])] = value
        elif name in (f"{METRIC}_count", f"{METRIC}_sum"):
            values[name.rsplit("_", 1)[1]] = value
        elif name == "prediction_validation_errors_total":
            values["rejections"][labels["type"]] = value
    return values


def _error_of(response: Any) -> dict:
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return {"msg": response.text[:200]}
    return detail[0] if isinstance(detail, list) and detail else {"msg": str(detail)}


SERVICE_LOG = "Ваш код упал внутри сервиса: его ошибка — в конце service.output(). "
RESTART = (
    "Исправьте функцию, запустите её проверку, затем снова ячейки записи расширения и запуска "
    "сервиса: сервис читает ваш код один раз, при старте."
)


def _live_answers(http: Any) -> tuple[Any, Any, dict, dict]:
    """(answer inside the zone, answer beyond it, /metrics before, /metrics after)."""
    inside = generate_orders(12, CHECK_SEED, first_id=800_001)
    inside.loc[inside.index[EDGE_ROW], FIELD] = ZONE_KM
    far = inside.assign(order_id=inside["order_id"] + 100)
    far.loc[far.index[FAR_ROW], FIELD] = FAR_KM
    before = _metric_values(http.get(METRICS_PATH).text)
    answered = http.post(PREDICT_PATH, content=encode_orders(inside), headers=JSON_HEADERS)
    refused = http.post(PREDICT_PATH, content=encode_orders(far), headers=JSON_HEADERS)
    return answered, refused, before, _metric_values(http.get(METRICS_PATH).text)


def _live_metric_result(answered: Any, before: dict, after: dict) -> CheckResult:
    """The histogram moved by exactly the probabilities the service answered."""
    answer = answered.json() if answered.status_code == 200 else {"probability": []}
    probability = np.asarray(answer["probability"], dtype=float)
    added = after.get("count", 0.0) - before.get("count", 0.0)
    added_sum = after.get("sum", 0.0) - before.get("sum", 0.0)
    buckets = {le: n - before["buckets"].get(le, 0.0) for le, n in after["buckets"].items()}
    expected = {le: float(np.sum(probability <= le)) for le in buckets}
    ok = (
        added == len(probability) > 0
        and math.isclose(added_sum, float(np.sum(probability)), rel_tol=1e-9, abs_tol=1e-12)
        and buckets == expected
    )
    return expect(
        ok,
        f"в /metrics сервиса {METRIC}: +{len(probability)} наблюдений — по одному на строку "
        "ответа, сумма и корзины совпадают с вероятностями ответа",
        f"после ответа на {len(probability)} строк {METRIC}_count вырос на {added:g}, сумма — "
        f"на {added_sum:.3f} (в ответе {float(np.sum(probability)):.3f}): в сервисе работает "
        f"не тот код, что прошёл проверку упражнения 2? " + RESTART,
    )


def check_live_service(url: str, *, http: Any = None) -> list[CheckResult]:
    """The running service: orders inside the zone answered (and observed by ``METRIC``),
    an order beyond it refused with 422 naming ``distance_km``, the refusal counted in
    ``prediction_validation_errors_total`` under the student's error type.

    ``http`` replaces the HTTP client (tests pass a TestClient of the app).
    """
    import httpx

    client = http or httpx.Client(base_url=url, timeout=30.0)
    try:
        answered, refused, before, after = _live_answers(client)
    finally:
        if http is None:
            client.close()
    if not after["has_metric"] and refused.status_code == 200:
        return [
            CheckResult(
                False,
                "сервис не знает ни вашего правила, ни метрики: он запущен "
                "без --extension или с другим файлом. " + RESTART,
            )
        ]
    error = _error_of(refused)
    results = [
        expect(
            answered.status_code == 200,
            f"заказы в зоне (один ровно {ZONE_KM:g} км): сервис ответил 200",
            f"на заказы в зоне сервис ответил {answered.status_code}: "
            f"«{_error_of(answered)['msg']}». "
            + (SERVICE_LOG if answered.status_code == 500 else "")
            + RESTART,
        ),
        expect(
            refused.status_code == 422 and error.get("field") == FIELD and FIELD in error["msg"],
            f"заказ {FAR_KM:g} км: сервис ответил 422 — «{error['msg']}»",
            f"на заказ {FAR_KM:g} км сервис ответил {refused.status_code} «{error['msg']}», а "
            f"нужно 422 с полем {FIELD}. "
            + (SERVICE_LOG if refused.status_code == 500 else "")
            + RESTART,
        ),
    ]
    if not after["has_metric"]:
        results.append(CheckResult(False, f"в /metrics сервиса нет {METRIC}. " + RESTART))
    else:
        results.append(_live_metric_result(answered, before, after))
    kind = error.get("type")
    if refused.status_code == 422 and kind:
        counted = after["rejections"].get(kind, 0.0) - before["rejections"].get(kind, 0.0)
        results.append(
            expect(
                counted == 1,
                f'отказ посчитан: prediction_validation_errors_total{{type="{kind}"}} +1',
                f"отказ типа {kind} не посчитан в prediction_validation_errors_total "
                f"(+{counted:g}): отказывайте через RequestError, не HTTPException.",
            )
        )
    return results


# --- Exercise 3: the load test -------------------------------------------------------

SPY_DELAYS_S = (0.03, 0.03, 0.04, 0.05, 0.08, 0.15)
"""How long the spy server waits before answering, by request number (a skewed spread, so
a mean is not a median and a maximum is not a 99th percentile)."""
SPY_ERROR_EVERY = 8  # every 8th request is answered 503
RESULT_KEYS = ("requests", "statuses", "latencies_ms", "p50_ms", "p99_ms")
PERCENTILE_METHODS = (
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
)
LOAD_TEST_TIMEOUT_S = 60.0


@dataclass
class SpyServer:
    """A tiny HTTP/1.1 server in its own thread: it answers after ``SPY_DELAYS_S``, with 503
    on every ``SPY_ERROR_EVERY``-th request, and records what it received and how many
    requests were in flight at once."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""
    _connections: dict = field(default_factory=dict)  # handler task -> its writer

    def __enter__(self) -> SpyServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab04-spy")
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._call(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop.close()

    async def _close(self) -> None:
        """Stop listening, hang up on clients left connected, let every handler finish."""
        self._server.close()
        await self._server.wait_closed()
        for writer in self._connections.values():
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections[asyncio.current_task()] = writer
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path = head[0].split(" ")[:2]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in head[1:] if ":" in line)
                }
                body = await _read_body(reader, headers)
                await self._answer(writer, method, path, body)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client hung up (or sent something that is not HTTP)
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, method: str, path: str, body: bytes):
        number = len(self.requests)
        self.requests.append((method, path, body))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(SPY_DELAYS_S[number % len(SPY_DELAYS_S)])
        self.in_flight -= 1
        status = 503 if number % SPY_ERROR_EVERY == SPY_ERROR_EVERY - 1 else 200
        self.statuses[status] += 1
        reason = "OK" if status == 200 else "Service Unavailable"
        payload = b'{"spy": true}'
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", ""):
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return b"".join(chunks)
    length = int(headers.get("content-length", "0"))
    return await reader.readexactly(length) if length else b""


def _run_in_thread(make_awaitable: Callable[[], Any], timeout: float) -> tuple[Any, float]:
    """Await ``make_awaitable()`` in a fresh event loop in a thread (a notebook's own loop
    is running); returns (result, seconds). Exceptions are re-raised here."""
    outcome: dict[str, Any] = {}

    async def timed() -> Any:
        awaitable = make_awaitable()
        if not inspect.isawaitable(awaitable):
            raise AnswerProblem(
                f"функция вернула {type(awaitable).__name__}, а нужна корутина: объявите её "
                "async def и отправляйте запросы через httpx.AsyncClient (await http.post)."
            )
        return await asyncio.wait_for(awaitable, timeout)

    def in_thread() -> None:
        started = time.perf_counter()
        try:
            outcome["result"] = asyncio.run(timed())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = error
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=in_thread, name="lab04-load-test")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], outcome["seconds"]


def _result_problem(result: Any) -> str:
    if not isinstance(result, Mapping) or not set(RESULT_KEYS) <= set(result):
        return (
            "верните словарь с ключами " + ", ".join(RESULT_KEYS) + ": число запросов, "
            "{код ответа: сколько}, задержки каждого запроса в мс, p50 и p99 в мс."
        )
    if not isinstance(result["statuses"], Mapping):
        return "statuses — словарь {код ответа: число ответов}, например {200: 195, 503: 5}."
    return ""


@dataclass(frozen=True)
class StudentRun:
    """The student's result, normalised: status codes as ints, latencies as an array."""

    requests: int
    statuses: dict[int, int]
    latencies_ms: np.ndarray
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, result: Any) -> StudentRun:
        problem = _result_problem(result)
        check_returned(result, not problem, problem)
        try:
            return cls(
                requests=int(result["requests"]),
                statuses={int(str(k)): int(v) for k, v in result["statuses"].items()},
                latencies_ms=np.asarray(result["latencies_ms"], dtype=float).ravel(),
                p50_ms=float(result["p50_ms"]),
                p99_ms=float(result["p99_ms"]),
            )
        except (TypeError, ValueError) as error:
            raise AnswerProblem(
                f"в результате не те типы ({error}): requests — целое, statuses — "
                "{код: число}, latencies_ms — список чисел, p50_ms и p99_ms — числа."
            ) from None


def _run_student(load_test: Callable, spy: SpyServer, bodies: list[bytes], n: int, c: int):
    import httpx

    try:
        result, seconds = _run_in_thread(
            lambda: load_test(spy.url, bodies, n, c), LOAD_TEST_TIMEOUT_S
        )
    except NameError as error:
        raise _name_problem(error) from None
    except TimeoutError:
        raise AnswerProblem(
            f"нагрузочный тест не закончился за {LOAD_TEST_TIMEOUT_S:.0f} с (сервер ответил "
            f"на {len(spy.requests)} запросов из {n}): не ждёт ли какая-то задача вечно?"
        ) from None
    except httpx.HTTPStatusError as error:
        raise AnswerProblem(
            f"тест прервался на ответе {error.response.status_code} (raise_for_status?): в "
            "нагрузочном тесте ошибки — это данные. Считайте коды ответов в statuses и "
            "продолжайте."
        ) from None
    return StudentRun.of(result), seconds


def _sent_result(spy: SpyServer, bodies: list[bytes], n: int) -> CheckResult:
    methods = Counter(method for method, _, _ in spy.requests)
    paths = Counter(path for _, path, _ in spy.requests)
    foreign = sum(body not in bodies for _, _, body in spy.requests)
    if len(spy.requests) != n:
        hint = (
            f"сервер получил {len(spy.requests)} запросов, а n_requests = {n}: "
            "отправьте ровно n_requests (каждая задача — свою долю)."
        )
    elif set(methods) != {"POST"} or set(paths) != {PREDICT_PATH}:
        shown = ", ".join(f"{m} {p}" for m, p in sorted({(m, p) for m, p, _ in spy.requests}))
        hint = (
            f"запросы были {shown}, а нужен POST {PREDICT_PATH}: "
            f"httpx.AsyncClient(base_url=url) и http.post('{PREDICT_PATH}', ...)."
        )
    else:
        hint = (
            f"{foreign} тел не совпадают ни с одним из bodies: отправляйте content=body как "
            "есть (это уже готовый JSON), не json=... и не str(body)."
        )
    ok = len(spy.requests) == n and set(methods) == {"POST"} and set(paths) == {PREDICT_PATH}
    return expect(
        ok and foreign == 0,
        f"отправлено ровно {n} запросов POST {PREDICT_PATH} с телами из bodies",
        hint,
    )


def _concurrency_result(spy: SpyServer, c: int) -> CheckResult:
    seen = spy.max_in_flight
    if seen == 1:
        hint = (
            "запросы шли по одному (последовательно): сервер ни разу не видел двух сразу. "
            "Запустите concurrency задач-клиентов одновременно — asyncio.gather(*(client(k) "
            "for k in range(concurrency))), каждая со своим циклом await http.post(...)."
        )
    elif seen > c:
        hint = (
            f"одновременно было до {seen} запросов, больше concurrency = {c}: ровно "
            "concurrency задач-клиентов (или asyncio.Semaphore(concurrency))."
        )
    else:
        hint = (
            f"одновременно было не больше {seen} запросов из concurrency = {c}: "
            "все задачи-клиенты должны работать одновременно."
        )
    return expect(
        c // 2 < seen <= c,
        f"запросы шли параллельно, не больше concurrency = {c} одновременно",
        hint,
    )


def _statuses_result(run: StudentRun, spy: SpyServer) -> CheckResult:
    truth = dict(spy.statuses)
    if run.statuses == truth:
        return CheckResult(True, f"коды ответов посчитаны верно: {_codes(truth)}")
    if set(run.statuses) == {200} and run.statuses[200] == sum(truth.values()):
        hint = "все ответы записаны как 200: берите код из ответа — response.status_code."
    elif 503 not in run.statuses:
        hint = "ответы 503 не попали в statuses: считайте каждый ответ, не только успешные."
    else:
        hint = "считайте statuses[response.status_code] += 1 один раз на каждый ответ."
    return CheckResult(
        False, f"statuses = {_codes(run.statuses)}, а сервер ответил {_codes(truth)}: " + hint
    )


def _codes(statuses: Mapping[int, int]) -> str:
    return "{" + ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items())) + "}"


def _counts_result(run: StudentRun, n: int, where: str) -> CheckResult:
    counts = {
        "requests": run.requests,
        "сумма statuses": sum(run.statuses.values()),
        "len(latencies_ms)": run.latencies_ms.size,
    }
    wrong = {name: value for name, value in counts.items() if value != n}
    return expect(
        not wrong,
        f"{where}: requests = сумма statuses = число задержек = {n}",
        f"{where}: "
        + ", ".join(f"{name} = {value}" for name, value in wrong.items())
        + f", а запросов было {n}: одна задержка и один код на каждый ответ.",
    )


def _latency_results(run: StudentRun, seconds: float, c: int) -> list[CheckResult]:
    """Physical bounds: no answer before the spy's shortest delay, and no more waiting in
    total than ``c`` clients (each with one request at a time) could do in the test's wall
    time ``seconds``."""
    fastest_ms = min(SPY_DELAYS_S) * 1e3
    lat = run.latencies_ms
    if lat.size and lat.max() < fastest_ms / 100:
        floor_hint = "задержки похожи на секунды, а нужны миллисекунды: умножьте на 1000."
    else:
        floor_hint = (
            f"есть задержки меньше {fastest_ms:g} мс, хотя сервер не отвечает быстрее: "
            "засекайте time.perf_counter() перед await http.post и после ответа."
        )
    waited_s, budget_s = float(lat.sum()) / 1e3, c * seconds
    return [
        expect(
            lat.size > 0 and lat.min() >= 0.9 * fastest_ms,
            f"каждая задержка не меньше ответа сервера ({fastest_ms:g} мс), единицы — мс",
            floor_hint,
        ),
        expect(
            waited_s <= budget_s,
            "сумма задержек не больше, чем concurrency клиентов могли прождать за время теста",
            f"сумма задержек {waited_s:.1f} с больше, чем {c} клиентов могли прождать за "
            f"{seconds:.1f} с теста ({budget_s:.1f} с): время запроса считается не от его "
            "отправки — от начала теста или вместе с ожиданием свободного соединения. Засекайте "
            "perf_counter() прямо перед await http.post(...), и одновременно — ровно "
            "concurrency задач.",
        ),
    ]


def _percentile_hint(value: float, q: float, lat: np.ndarray, raw: np.ndarray) -> str:
    """What a wrong percentile ``value`` most likely is, from its own latencies."""

    def near(x: float) -> bool:
        return math.isclose(value, x, rel_tol=1e-6, abs_tol=1e-9)

    true = float(np.percentile(lat, q))
    if near(float(np.percentile(lat, q / 100))):
        return (
            f"процентиль задан долей ({q / 100:g}), а np.percentile ждёт проценты: "
            f"np.percentile(latencies_ms, {q:g})."
        )
    if near(true * 1e3) or near(true / 1e3):
        return "единицы p50/p99 не те, что у latencies_ms: всё в миллисекундах."
    if q == 50 and near(float(lat.mean())):
        return "это среднее, а p50 — медиана: np.percentile(latencies_ms, 50)."
    if q == 99 and near(float(lat.max())):
        return (
            "это максимум, а p99 — значение, которое превышает лишь 1 % запросов: "
            "np.percentile(latencies_ms, 99)."
        )
    position = min(int(raw.size * q / 100), raw.size - 1)
    if near(float(raw[position])) and not near(float(np.sort(raw)[position])):
        return (
            "взят элемент из несортированного списка задержек: сначала отсортируйте "
            "(или np.percentile)."
        )
    return f"ожидалось около {true:.2f} мс: np.percentile(latencies_ms, {q:g})."


def _percentiles_result(run: StudentRun, where: str) -> CheckResult:
    """p50 and p99 are percentiles of the run's own latencies (any of numpy's methods)."""
    lat = raw = run.latencies_ms
    if lat.size == 0:
        return CheckResult(False, f"{where}: latencies_ms пуст, запишите задержку каждого запроса.")
    problems = []
    for name, q, value in (("p50", 50, run.p50_ms), ("p99", 99, run.p99_ms)):
        bracket = [float(np.percentile(lat, q, method=m)) for m in PERCENTILE_METHODS]
        tolerance = 1e-9 * max(abs(max(bracket)), 1.0)
        if not min(bracket) - tolerance <= value <= max(bracket) + tolerance:
            problems.append(f"{name} = {value:.3f}: " + _percentile_hint(value, q, lat, raw))
    if not problems and run.p50_ms > run.p99_ms:
        problems.append("p50 больше p99: перепутаны местами.")
    return expect(
        not problems,
        f"{where}: p50 и p99 — процентили ваших задержек, p50 ≤ p99",
        f"{where}: " + " ".join(problems),
    )


def _spy_results(load_test: Callable, spy_requests: int, c: int) -> list[CheckResult]:
    bodies = [orjson.dumps({"spy_body": i}) for i in range(5)]
    with SpyServer() as spy:
        run, seconds = _run_student(load_test, spy, bodies, spy_requests, c)
    return [
        _sent_result(spy, bodies, spy_requests),
        _concurrency_result(spy, c),
        _statuses_result(run, spy),
        _counts_result(run, spy_requests, "на тестовом сервере"),
        *_latency_results(run, seconds, max(c, spy.max_in_flight)),
        _percentiles_result(run, "на тестовом сервере"),
    ]


def _comparison_results(
    mine: StudentRun, course: LoadResult, n: int, percentiles_checked: bool
) -> list[CheckResult]:
    """The live run next to ``serving.load_test`` on the same service: what must agree
    (the percentiles only if the spy run did not already name a mistake in them)."""
    course_codes = {int(code) if str(code).isdigit() else code for code in course.statuses}
    course_p50 = course.latency_ms(50)
    ratio = mine.p50_ms / course_p50 if course_p50 > 0 else float("nan")
    return [
        _counts_result(mine, n, "на сервисе"),
        expect(
            set(mine.statuses) == course_codes,
            f"коды ответов те же, что у serving.load_test: {sorted(course_codes)}",
            f"у вас коды {_codes(mine.statuses)}, у serving.load_test на том же сервисе — "
            f"{sorted(course_codes)}: отправляйте bodies как есть (content=body) "
            f"на {PREDICT_PATH}.",
        ),
        *([_percentiles_result(mine, "на сервисе")] if percentiles_checked else []),
        expect(
            0.1 <= ratio <= 10,
            f"p50 {mine.p50_ms:.2f} мс — того же порядка, что у serving.load_test "
            f"({course_p50:.2f} мс)",
            f"ваша p50 {mine.p50_ms:.3f} мс, у serving.load_test на том же сервисе "
            f"{course_p50:.3f} мс — разница больше чем в 10 раз: "
            + ("это похоже на секунды вместо мс. " if ratio < 0.01 or ratio > 100 else "")
            + "Сравнивайте при том же concurrency; задержка — в мс, от отправки до ответа.",
        ),
    ]


def check_load_test(
    student_load_test: Callable[..., Any],
    mine: Any,
    course: LoadResult,
    *,
    n_requests: int,
    concurrency: int,
    spy_requests: int = 48,
) -> list[CheckResult]:
    """``student_load_test(url, bodies, n_requests, concurrency)`` (async) against a spy
    server, then ``mine`` — its result on the live service — next to ``course``, the
    course's ``serving.load_test`` on the same service at the same concurrency."""
    results = _spy_results(student_load_test, spy_requests, concurrency)
    percentiles_ok = results[-1].passed
    live = _comparison_results(StudentRun.of(mine), course, n_requests, percentiles_ok)
    return [*results, *live]


# --- The end of the lab --------------------------------------------------------------


def service_processes() -> list[Any]:
    """Processes started by this Python process (a notebook kernel) that run the service."""
    import psutil

    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "mlops_course.serving" in process.cmdline():
                found.append(process)
        except psutil.Error:  # exited meanwhile
            continue
    return found
