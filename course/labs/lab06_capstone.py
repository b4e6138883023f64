# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Лабораторная 6: сквозной проект — весь стек своими руками
#
# Вы соберёте систему курса целиком, от данных до сервиса, который сам узнаёт, что мир
# изменился: сгенерировать данные → проверить → обучить → зарегистрировать → запустить
# сервис → отправить ему зимний трафик → обнаружить дрейф → переобучить → пропустить через
# ворота качества → убедиться, что сервис отвечает новой версией. Ноутбук 03 прошёл этот
# круг готовыми функциями; здесь связки между шагами пишете вы, а помощники пакета — те
# же. К ноутбуку 11.
#
# После каждого шага — автоматическая проверка: ✓ — верно, ✗ — что не так и как исправить.

# %% [markdown]
# ## Цели
#
# - провести партию данных через проверку схемы и деление по времени;
# - обучить модель, подобрать порог по таблице затрат, залогировать запуск в MLflow и
#   назначить версию чемпионом через ворота качества;
# - запустить настоящий сервис и отправить ему трафик с дрейфом, который попадает в журнал
#   предсказаний;
# - найти дрейф задачей мониторинга по журналу и получить решение триггера с причинами;
# - написать ворота, которые не пропускают модель хуже чемпиона, переобучить модель на
#   размеченных зимних заказах, продвинуть её и перезагрузить сервис без перезапуска.
#
# Слайды лекции: «Архитектурная схема», «Жизненный цикл ML — это непрерывный процесс».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# заказов для первого обучения (весна) и зимних заказов за неделю работы сервиса
n_orders = 4_000
n_live = 2_000

# %% [markdown]
# Всё, что порождает лабораторная (база MLflow, журнал предсказаний, лог сервиса), живёт в
# её собственной папке рабочей папки, которую каждый запуск создаёт заново: поэтому номера
# версий в реестре всегда одни и те же. Импорт MLflow и создание его базы занимают по
# несколько секунд, поэтому у них отдельные ячейки.

# %%
import shutil

import pandas as pd

from mlops_course.classroom.checks import run_check
from mlops_course.classroom.lab_checks import lab06_capstone as lab
from mlops_course.config import display_path, work_dir
from mlops_course.model.evaluate import CostTable, evaluate_model, tune_threshold
from mlops_course.model.train import split, split_validation, train_model
from mlops_course.model.validation import validate_orders
from mlops_course.scenario.problems import make_batch
from mlops_course.versioning import registry, tracking

# %%
shutil.rmtree(work_dir(lab.LAB))
home = work_dir(lab.LAB)  # a fresh folder on every run
tracking.setup_tracking(home=home)
costs = CostTable()
print("папка лабораторной:", display_path(home), "| алиасы реестра:", registry.aliases())

# %% [markdown]
# ## Упражнение 1. Данные и проверка
#
# Напишите `prepare(frame)`: сначала проверьте партию — `validate_orders(frame)` вернёт
# результат, а его `.raise_for_violations()` остановит шаг на сломанной партии
# (`DataValidationError`); затем разделите заказы **по времени** — `split(frame)`: последняя
# четверть станет отложенной выборкой `test`. Верните `train, test`. Метку `is_late` не
# удаляйте: конвейер модели сам берёт только признаки, а оценке нужна метка.
#
# Проверка подаст функции и чистую партию, и партию, где расстояние пришло в метрах.


# %%
def prepare(frame):
    """Validate a batch (raise on violations), then split it by time into (train, test)."""
    ### BEGIN SOLUTION validate_orders(frame).raise_for_violations(), затем split(frame)
    validate_orders(frame).raise_for_violations()
    return split(frame)
    ### END SOLUTION


# %%
run_check(lab.check_prepare, prepare, seed=seed)

# %% [markdown]
# Весенние данные для первой модели:

# %%
spring = make_batch(n_orders, seed).frame
train, test = prepare(spring)
print(f"обучение {len(train)}, отложено {len(test)}, доля опозданий {spring['is_late'].mean():.3f}")

# %% [markdown]
# ## Упражнение 2. Обучение, порог, регистрация
#
# Напишите `train_and_register(train, test)`, как в ноутбуке 03:
#
# 1. `fit, validation = split_validation(train)`; `model = train_model(fit, seed=seed)`;
# 2. порог — по таблице затрат **на валидации**: `tune_threshold(model, validation, costs)`;
# 3. метрики на отложенной выборке: `evaluate_model(model, test, threshold, costs)`;
# 4. запуск MLflow: `info = tracking.log_training_run(model, train, test, params, metrics)`,
#    где `params = {"model": "logreg", "seed": seed, "threshold": threshold}` (хэши данных
#    функция добавит сама);
# 5. `version = registry.register(info.model_uri)` — это только новая версия, без алиаса;
#    чемпионом её делают ворота: `registry.promote_if_better(registry.MODEL_NAME, version,
#    test, "log_loss", threshold=threshold, costs=costs)` (первая версия становится чемпионом
#    без сравнения).
#
# Верните `(version, threshold, metrics)`.


# %%
def train_and_register(train, test):
    """Fit, tune the threshold on validation, log the run, register, gate -> champion."""
    ### BEGIN SOLUTION split_validation, train_model, tune_threshold, evaluate_model, log_training_run, register, promote_if_better
    fit, validation = split_validation(train)
    model = train_model(fit, seed=seed)
    threshold = tune_threshold(model, validation, costs)
    metrics = evaluate_model(model, test, threshold, costs)
    params = {"model": "logreg", "seed": seed, "threshold": threshold}
    info = tracking.log_training_run(model, train, test, params, metrics)
    version = registry.register(info.model_uri)
    registry.promote_if_better(
        registry.MODEL_NAME, version, test, "log_loss", threshold=threshold, costs=costs
    )
    return version, threshold, metrics
    ### END SOLUTION


# %%
first = train_and_register(train, test)
run_check(lab.check_champion, first, train)

# %%
version_1, threshold_1, metrics_1 = first
print(f"версия {version_1}, порог {threshold_1:.2f}, log loss на test {metrics_1['log_loss']:.3f}")
print("алиасы:", registry.aliases())

# %% [markdown]
# ## Сервис
#
# Запуск сервиса — **единственная долгая ячейка** лабораторной (5–20 с: процесс
# импортирует FastAPI и MLflow и загружает модель). Сервис сам находит чемпиона в реестре
# лабораторной по адресу `models:/delivery-delay@champion`, пишет каждое предсказание в
# журнал `predictions.sqlite` и слушает только loopback (127.0.0.1) на свободном порту.
# Порог решения — настройка самого сервиса (`MLOPS_SERVING_THRESHOLD`): запомните это, он
# понадобится в конце. `atexit` остановит сервис, даже если ячейка ниже упадёт.

# %%
import atexit

from mlops_course.serving import start_service

log_path = home / "predictions.sqlite"
service = start_service(
    f"models:/{registry.MODEL_NAME}@champion",
    extra_args=["--tracking-uri", tracking.tracking_uri(home), "--log-path", str(log_path)],
    env={"MLOPS_SERVING_THRESHOLD": str(threshold_1)},
    timeout=120,
)
atexit.register(service.stop)
print("сервис готов | процессов сервиса у этого ядра:", len(lab.service_processes()))

# %% [markdown]
# ## Упражнение 3. Зимняя неделя трафика
#
# Наступила зима: неделя заказов с морозом и снегом (целая неделя, а не день: у дня один
# день недели, и мониторинг нашёл бы «дрейф» в `weekday`). Напишите
# `send_traffic(url, orders)`: отправьте заказы сервису по адресу `url` частями по 200
# (так запросы приходят в течение недели) через `ServiceClient(url).predict(part)` и верните
# все ответы одной таблицей (`pd.concat(..., ignore_index=True)`). Клиент сам отбросит
# колонку `is_late`: в момент предсказания её никто не знает. Порт сервиса выбран случайно —
# адрес берите из аргумента.


# %%
from mlops_course.serving.client import ServiceClient


def send_traffic(url, orders, part_size=200):
    """Send ``orders`` to the service in parts; return every answer in one frame."""
    ### BEGIN SOLUTION ServiceClient(url); predict по частям orders.iloc[i : i + part_size]; pd.concat
    with ServiceClient(url) as client:
        parts = [
            client.predict(orders.iloc[start : start + part_size])
            for start in range(0, len(orders), part_size)
        ]
    return pd.concat(parts, ignore_index=True)
    ### END SOLUTION


# %%
winter = make_batch(n_live, seed + 1, ["winter"], start="2025-12-01", first_id=100_001)
run_check(lab.check_traffic, send_traffic, service.url, winter.frame, log_path, version_1)

# %% [markdown]
# ## Упражнение 4. Мониторинг и триггер
#
# Прошла неделя, метки зимних заказов пришли (`labels`: номер заказа и `is_late`). Напишите
# `monitor(reference, log_path, labels, trained_metrics)`:
#
# - `report = run_monitoring(reference, log_path, labels, threshold=threshold_1)` — дрейф
#   журнала сервиса относительно эталона и живое качество по меткам. Эталон — вся весенняя
#   неделя `spring`, а не `train`: `train` — это первые три четверти недели по времени, в
#   нём нет воскресенья, и мониторинг нашёл бы «дрейф» в `weekday`;
# - живой log loss — `report.quality.loc["all", "log_loss"]`;
# - `retrain, reasons = retraining_trigger(report.drift_detected, live, trained, "log_loss")`,
#   где `trained` — log loss при обучении (`trained_metrics["log_loss"]`).
#
# Верните `report, retrain, reasons`.

# %%
from mlops_course.automation.triggers import retraining_trigger
from mlops_course.monitoring.job import run_monitoring


def monitor(reference, log_path, labels, trained_metrics):
    """Drift and live quality from the prediction log, and the retraining decision."""
    ### BEGIN SOLUTION run_monitoring(reference, log_path, labels, threshold=threshold_1); retraining_trigger(...)
    report = run_monitoring(reference, log_path, labels, threshold=threshold_1)
    live = report.quality.loc["all", "log_loss"]
    retrain, reasons = retraining_trigger(
        report.drift_detected, live, trained_metrics["log_loss"], "log_loss"
    )
    return report, retrain, reasons
    ### END SOLUTION


# %%
labels = winter.frame[["order_id", "is_late"]]
run_check(lab.check_monitoring, monitor, spring, log_path, labels, metrics_1, n_live, seed=seed)

# %%
report, retrain, reasons = monitor(spring, log_path, labels, metrics_1)
print(report.summary())
print(f"переобучать: {retrain}", *[f" - {reason}" for reason in reasons], sep="\n")

# %% [markdown]
# ## Упражнение 5. Ворота качества
#
# Прежде чем переобучать, убедимся, что ворота не пропустят плохую модель. Напишите
# `gate(version, eval_frame, threshold)`: вызовите `registry.promote_if_better` для версии
# `version` на заказах `eval_frame` по `"log_loss"` с порогом и таблицей затрат и верните
# решение (`PromotionDecision`). Ворота оценивают претендента и чемпиона на **одних и тех
# же** заказах, которых не видел ни один из них, и двигают алиас `champion` только если
# претендент лучше больше чем на запас.
#
# Проверка зарегистрирует заведомо худшую модель (обученную на перевёрнутых метках) —
# это будет версия 2 — и передаст её вашим воротам на зимней отложенной выборке.

# %%
_, winter_test = prepare(winter.frame)


def gate(version, eval_frame, threshold):
    """The quality gate: promote ``version`` only if it beats the champion on ``eval_frame``."""
    ### BEGIN SOLUTION registry.promote_if_better(registry.MODEL_NAME, version, eval_frame, "log_loss", threshold=..., costs=...)
    return registry.promote_if_better(
        registry.MODEL_NAME, version, eval_frame, "log_loss", threshold=threshold, costs=costs
    )
    ### END SOLUTION


# %%
run_check(lab.check_gate, gate, train, winter_test, threshold_1)

# %% [markdown]
# ## Упражнение 6. Переобучение, продвижение, перезагрузка сервиса
#
# Напишите `retrain_and_deploy(labelled, url)`: размеченные зимние заказы проведите через
# `prepare`, обучите и зарегистрируйте модель так же, как в упражнении 2, но **без**
# `promote_if_better` внутри: чемпиона выбирают ваши ворота `gate(version, test,
# threshold)`. Если ворота её продвинули, сервис об этом не узнает сам — он держит модель в
# памяти: попросите его перечитать чемпиона, `httpx.post(url + "/admin/reload")`. Верните
# номер новой версии.


# %%
import httpx


def retrain_and_deploy(labelled, url):
    """Retrain on labelled recent orders, gate the new version, reload the service."""
    ### BEGIN SOLUTION prepare, обучение и регистрация как в упр. 2, gate(...), затем POST url + "/admin/reload"
    train_2, test_2 = prepare(labelled)
    fit, validation = split_validation(train_2)
    model = train_model(fit, seed=seed)
    threshold = tune_threshold(model, validation, costs)
    metrics = evaluate_model(model, test_2, threshold, costs)
    params = {"model": "logreg", "seed": seed, "threshold": threshold}
    info = tracking.log_training_run(model, train_2, test_2, params, metrics)
    version = registry.register(info.model_uri)
    if gate(version, test_2, threshold).promoted:
        httpx.post(url + "/admin/reload", timeout=30).raise_for_status()
    return version
    ### END SOLUTION


# %%
sample = make_batch(50, seed + 2, ["winter"], start="2025-12-08", first_id=200_001).frame
run_check(lab.check_redeployed, retrain_and_deploy, winter.frame, service.url, sample)

# %% [markdown]
# Что теперь в реестре и в сервисе. Обратите внимание на порог: `/admin/reload` меняет
# модель, но не порог — он настройка процесса, заданная при старте. Сервис отвечает новой
# моделью с порогом, подобранным для первой; чтобы сменить порог, сервис перезапускают с
# новым `MLOPS_SERVING_THRESHOLD` (в ноутбуке 03 измерено, во что обходится устаревший
# порог).

# %%
with ServiceClient(service.url) as client:
    served = client.model()
new_threshold = float(lab.run_params(registry.aliases()["champion"])["threshold"])
print("алиасы:", registry.aliases())
print("сервис отвечает версией", served["champion"]["version"], end=" ")
print(f"с порогом {served['threshold']:.2f}; для новой версии подобран {new_threshold:.2f}")

# %% [markdown]
# Честное сравнение двух чемпионов — на зимних заказах, которых не видела ни одна из
# моделей (следующая неделя, с метками):

# %%
next_week = make_batch(n_live, seed + 3, ["winter"], start="2025-12-08", first_id=300_001)
rows = {}
for version in (version_1, registry.aliases()["champion"]):
    model = registry.load_version(registry.MODEL_NAME, version)
    threshold = float(lab.run_params(version)["threshold"])
    rows[f"версия {version}"] = evaluate_model(model, next_week.frame, threshold, costs)
quality = pd.DataFrame(rows).T[["roc_auc", "log_loss", "cost_per_order", "threshold"]]
quality.round(3)

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.bar(quality.index, quality["cost_per_order"], color=["#bbbbbb", "#3b7dd8"])
for x, value in enumerate(quality["cost_per_order"]):
    ax.text(x, value, f"{value:.0f} ₽", ha="center", va="bottom")
ax.set_ylabel("стоимость ошибок, ₽ на заказ")
ax.set_title("Следующая зимняя неделя: старый чемпион и переобученный")
plt.show()

# %% [markdown]
# ## Остановка сервиса
#
# Сервис — отдельный процесс: остановим его сигналом SIGTERM и проверим по списку дочерних
# процессов ядра (`psutil`), что от него ничего не осталось.

# %%
exit_code = service.stop()
print("сервис остановлен:", not service.running())
print("процессов сервиса у этого ядра:", len(lab.service_processes()))

# %% [markdown]
# ## Итоги
#
# - Стек — это цепочка артефактов: проверенная партия, запуск MLflow с порогом и хэшами
#   данных, версия в реестре с алиасом, журнал предсказаний сервиса, отчёт мониторинга,
#   решение ворот. Каждый следующий шаг читает артефакт предыдущего, а не переменную в
#   памяти.
# - `register` создаёт версию, но не выпускает её: в работе та версия, на которую указывает
#   алиас `champion`, и двигают его ворота качества — на одних и тех же заказах для обеих
#   моделей.
# - Дрейф виден без меток (журнал против обучающих данных), ухудшение — только с метками;
#   триггер называет причины по отдельности.
# - Сервис не знает о реестре, пока его не попросят: `/admin/reload` меняет модель без
#   перезапуска, а порог остаётся настройкой процесса.
# - Фоновый процесс запускают один раз и останавливают явно, а что он остановлен,
#   проверяют по списку процессов.
