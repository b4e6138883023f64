# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Жизненный цикл ML-проекта
#
# На слайде лекции жизненный цикл — это круг: постановка задачи → данные → обучение →
# развёртывание → мониторинг → снова данные. Здесь мы пройдём этот круг **целиком и
# дважды** с помощниками пакета курса: настоящий сервис, настоящий реестр моделей MLflow,
# настоящий журнал предсказаний. А затем измерим, во что обходятся проблемы развёртывания,
# о которых говорит лекция.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - назвать этапы жизненного цикла ML-проекта и артефакт, который оставляет каждый этап;
# - пройти цикл от бизнес-вопроса до работающего сервиса и мониторинга;
# - объяснить, что запускает второй виток цикла (триггер переобучения (retraining trigger));
# - связать проблемы развёртывания из лекции с их последствиями — в числах.
#
# Слайды лекции: «Жизненный цикл ML-проекта», «Проблемы при развёртывании», «Последствия»,
# «Жизненный цикл ML — это непрерывный процесс».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# заказов для первого обучения
n_orders = 4_000
# заказов в каждой «производственной» партии, которую видит сервис
n_live = 2_000
# что меняется в мире ко второму витку: зима, пиковая нагрузка, новая маршрутизация
drift_scenarios = ["winter", "peak_load", "routing_change"]

# %% [markdown]
# Всё, что порождает этот ноутбук (база MLflow, журнал предсказаний сервиса), живёт в своей
# подпапке рабочей папки, которую мы каждый раз создаём заново: поэтому версии моделей
# всегда 1 и 2. Журнал `LifecycleLog` записывает, что сделал каждый этап и сколько секунд
# он занял — из него в конце нарисуем цикл.

# %%
import atexit
import shutil

from mlops_course.classroom.lifecycle import LifecycleLog
from mlops_course.config import display_path, work_dir

home = work_dir("lifecycle")
shutil.rmtree(home)
home = work_dir("lifecycle")
prediction_log = home / "predictions.sqlite"
log = LifecycleLog()
print("папка цикла:", display_path(home))

# %% [markdown]
# ## Виток 1
#
# ### Постановка задачи (problem framing)
#
# Бизнес-вопрос: **какие заказы опоздают, чтобы заранее переназначить курьера или
# предупредить клиента?** Ошибки стоят по-разному: пропущенное опоздание — компенсация
# клиенту, ложная тревога — лишнее переназначение. Это таблица затрат `CostTable`.
# Метрика успеха — стоимость ошибок на заказ (₽), а для сравнения моделей в реестре —
# log loss (чем меньше, тем лучше: он чувствителен к калибровке вероятностей).

# %%
from mlops_course.model.evaluate import CostTable

with log.stage("framing", turn=1) as note:
    costs = CostTable()
    gate_metric = "log_loss"
    note["artefact"] = f"{gate_metric}, ₽/заказ"
print(
    f"пропущенное опоздание: {costs.missed_late:.0f} ₽, ложная тревога: {costs.false_alarm:.0f} ₽"
)
print(f"порог безубыточности для калиброванных вероятностей: {costs.break_even_threshold:.3f}")

# %% [markdown]
# ### Данные и валидация (data, validation)
#
# Первые данные — спокойный период. Хэш таблицы — её «версия»: по нему потом видно, на
# каких именно данных обучена модель. Валидация проверяет схему до обучения.

# %%
from mlops_course.model.train import split
from mlops_course.scenario.generator import frame_hash
from mlops_course.scenario.problems import make_batch

with log.stage("data", turn=1) as note:
    orders = make_batch(n_orders, seed).frame
    train, test = split(orders)
    note["artefact"] = f"хэш {frame_hash(orders)[:8]}"
print(
    f"заказов: {len(orders)} (обучение {len(train)}, проверка {len(test)}), "
    f"доля опозданий {orders['is_late'].mean():.3f}"
)

# %%
from mlops_course.model.validation import validate_orders

with log.stage("validation", turn=1) as note:
    checked = validate_orders(orders)
    note["artefact"] = "✓ схема" if checked.ok else "✗ схема"
print(checked.summary())

# %% [markdown]
# ### Обучение и оценка (training, evaluation)
#
# Порог решения подбираем по таблице затрат на отложенной выборке (`best_threshold`).

# %%
from mlops_course.model.evaluate import best_threshold, evaluate_model, format_metrics
from mlops_course.model.train import train_model

with log.stage("training", turn=1) as note:
    model = train_model(train, seed=seed)
    note["artefact"] = "logreg"
with log.stage("evaluation", turn=1) as note:
    threshold = best_threshold(model, test, costs)
    metrics = evaluate_model(model, test, threshold, costs)
    note["artefact"] = f"{gate_metric} {metrics[gate_metric]:.3f}"
print(f"порог {threshold:.2f};", format_metrics(metrics))

# %% [markdown]
# ### Регистрация (registration)
#
# Запуск логируется в MLflow (параметры, метрики, хэши данных, окружение, сама модель),
# модель регистрируется как версия, а «ворота качества» (quality gate) решают, станет ли
# она чемпионом (`champion`). Первый вызов MLflow создаёт базу — это несколько секунд,
# поэтому он в отдельной ячейке.

# %%

from mlops_course.versioning import registry, tracking

# a fresh registry in the notebook's own folder (created above), so versions are 1 and 2
experiment_id = tracking.setup_tracking(home=home)

# %%
with log.stage("registration", turn=1) as note:
    info = tracking.log_training_run(
        model, train, test, {"model": "logreg", "seed": seed, "threshold": threshold}, metrics
    )
    version_1 = registry.register(info.model_uri)
    note["artefact"] = f"версия {version_1}"
print("зарегистрирована версия", version_1)

# %% [markdown]
# Ворота качества: первая версия становится чемпионом без сравнения.

# %%
decision = registry.promote_if_better(
    registry.MODEL_NAME,
    version_1,
    test,
    gate_metric,
    margin=0.01,
    validation_ok=checked.ok,
    threshold=threshold,
    costs=costs,
)
print(decision.reason)
print("алиасы:", registry.aliases())

# %% [markdown]
# ### Развёртывание (deployment)
#
# Запускаем **настоящий** сервис (`python -m mlops_course.serving`, FastAPI + uvicorn) в
# фоновом процессе. Он сам находит чемпиона в реестре по адресу
# `models:/delivery-delay@champion`. Обратите внимание, сколько всего пришлось указать
# руками: адрес реестра, путь журнала, порог — это и есть «сложность настройки окружения».
# Порт выбирается случайно, поэтому адрес сервиса мы не печатаем. `atexit` остановит
# сервис, даже если какая-то ячейка ниже упадёт. Процесс стартует сразу, а готовности
# (`/ready`) мы дождёмся в следующей ячейке: загрузка MLflow и модели занимает секунды.

# %%
import time

from mlops_course.serving import start_service

service_args = {
    "--tracking-uri": tracking.tracking_uri(home),
    "--log-path": str(prediction_log),
}
service_env = {"MLOPS_SERVING_THRESHOLD": str(threshold)}
champion_uri = f"models:/{registry.MODEL_NAME}@champion"
cli_args = [part for item in service_args.items() for part in item]
deploy_started = time.perf_counter()
service = start_service(champion_uri, extra_args=cli_args, env=service_env, wait=False)
atexit.register(service.stop)
print("настроек сервиса указано вручную:", 1 + len(service_args) + len(service_env))

# %%
from mlops_course.serving.client import ServiceClient

service.wait_ready(timeout=120)
client = ServiceClient(service.url)
served = client.model()
served_version = served["champion"]["version"]
deploy_seconds = time.perf_counter() - deploy_started
log.add("deployment", 1, deploy_seconds, f"сервис, версия {served_version}")
print("готов:", client.ready(), "| версия чемпиона:", served_version, end=" ")
print("| порог:", round(served["threshold"], 3))

# %% [markdown]
# Сервис отвечает по HTTP. Отправим ему первую «производственную» партию заказов — без
# ответа `is_late`: в момент предсказания его ещё никто не знает.

# %%
live_1 = make_batch(n_live, seed + 1, start="2025-04-07", first_id=100_001)
answers_1 = client.predict(live_1.without_labels())
answers_1.head(3).round(3)

# %% [markdown]
# Сервис сам считает свои метрики для Prometheus (`/metrics`):

# %%
from mlops_course.serving.client import metric_value

text = client.http.get("/metrics").text
for label in ("0", "1"):
    count = metric_value(text, "predictions_total", variant="champion", label=label)
    print(f"предсказан класс {label}: заказов — {count:.0f}")

# %% [markdown]
# ### Мониторинг (monitoring)
#
# Через неделю приходят настоящие метки (опоздал ли заказ). Задача мониторинга
# (`run_monitoring`) читает журнал предсказаний сервиса и сравнивает его с обучающими
# данными (дрейф данных (data drift)) и с метками (живое качество). Триггер
# переобучения срабатывает при дрейфе или если log loss хуже, чем на проверке при обучении,
# больше чем на 0.05.

# %%
from mlops_course.automation.triggers import retraining_trigger
from mlops_course.monitoring.job import run_monitoring

with log.stage("monitoring", turn=1) as note:
    report_1 = run_monitoring(
        orders, log_path=prediction_log, labels=live_1.frame, last_requests=1, threshold=threshold
    )
    note["artefact"] = f"{gate_metric} {report_1.quality.loc['all', gate_metric]:.3f}"
print(report_1.summary())

# %%
with log.stage("trigger", turn=1) as note:
    live_metric_1 = report_1.quality.loc["all", gate_metric]
    retrain_1, reasons_1 = retraining_trigger(
        report_1.drift_detected, live_metric_1, metrics[gate_metric], metric=gate_metric
    )
    note["artefact"] = "переобучать" if retrain_1 else "ждать"
print("переобучать:", retrain_1, reasons_1)

# %% [markdown]
# ## Виток 2: мир изменился
#
# Прошло несколько месяцев. Наступила зима, у курьеров вдвое больше заказов, а новая система
# маршрутизации изменила саму зависимость опозданий от признаков (концептуальный дрейф
# (concept drift)). Сервис об этом не знает и продолжает отвечать старой моделью.

# %%
with log.stage("data", turn=2) as note:
    live_2 = make_batch(n_live, seed + 2, drift_scenarios, start="2025-12-01", first_id=200_001)
    answers_2 = client.predict(live_2.without_labels())
    note["artefact"] = f"хэш {frame_hash(live_2.frame)[:8]}"
print("сервис ответил версией:", sorted(answers_2["model_version"].unique()))
late_before, late_now = orders["is_late"].mean(), live_2.frame["is_late"].mean()
print(
    f"доля опозданий: было {late_before:.3f}, стало {late_now:.3f} "
    f"(в {late_now / late_before:.1f} раза больше)"
)

# %%
with log.stage("monitoring", turn=2) as note:
    report_2 = run_monitoring(
        orders, log_path=prediction_log, labels=live_2.frame, last_requests=1, threshold=threshold
    )
    note["artefact"] = f"{gate_metric} {report_2.quality.loc['all', gate_metric]:.3f}"
print(report_2.summary())

# %%
with log.stage("trigger", turn=2) as note:
    live_metric_2 = report_2.quality.loc["all", gate_metric]
    retrain_2, reasons_2 = retraining_trigger(
        report_2.drift_detected, live_metric_2, metrics[gate_metric], metric=gate_metric
    )
    note["artefact"] = "переобучать" if retrain_2 else "ждать"
print("переобучать:", retrain_2)
for reason in reasons_2:
    print(" -", reason)
live_loss = report_2.quality.loc["all", gate_metric]
print(f"{gate_metric}: при обучении {metrics[gate_metric]:.3f}, на зимних заказах {live_loss:.3f}")

# %% [markdown]
# Сравните два log loss: на зимних заказах он может быть даже *лучше*, чем при обучении,
# хотя модель устарела — изменилась сама популяция заказов (опозданий стало намного больше,
# и угадывать их стало проще). Поэтому одна живая метрика — плохой сторож, а триггер смотрит
# и на дрейф данных. Честно сравнить модели можно только на одних и тех же данных — это
# сделают ворота качества ниже.
#
# Триггер сработал — начинается второй виток. Постановка задачи прежняя (та же цель и та
# же цена ошибок), поэтому виток начинается с данных. Новые данные — это размеченная
# партия, которую сервис только что обслужил: та же валидация, то же обучение, та же оценка.

# %%
with log.stage("validation", turn=2) as note:
    checked_2 = validate_orders(live_2.frame)
    train_2, test_2 = split(live_2.frame)
    note["artefact"] = "✓ схема" if checked_2.ok else "✗ схема"
print(checked_2.summary())
with log.stage("training", turn=2) as note:
    model_2 = train_model(train_2, seed=seed)
    note["artefact"] = "logreg"
with log.stage("evaluation", turn=2) as note:
    metrics_2 = evaluate_model(model_2, test_2, threshold, costs)
    note["artefact"] = f"{gate_metric} {metrics_2[gate_metric]:.3f}"
print(f"{gate_metric} новой модели на свежей проверке: {metrics_2[gate_metric]:.3f}")

# %%
with log.stage("registration", turn=2) as note:
    info_2 = tracking.log_training_run(
        model_2,
        train_2,
        test_2,
        {"model": "logreg", "seed": seed, "threshold": threshold},
        metrics_2,
    )
    version_2 = registry.register(info_2.model_uri)
    note["artefact"] = f"версия {version_2}"
print("зарегистрирована версия", version_2)

# %% [markdown]
# Ворота качества сравнивают претендента и чемпиона **на одних и тех же свежих данных**.

# %%
decision_2 = registry.promote_if_better(
    registry.MODEL_NAME,
    version_2,
    test_2,
    gate_metric,
    margin=0.01,
    validation_ok=checked_2.ok,
    threshold=threshold,
    costs=costs,
)
print(decision_2.reason)
print("алиасы:", registry.aliases())

# %% [markdown]
# Алиас `champion` в реестре передвинулся, но сервис об этом не знает: он держит модель в
# памяти. `POST /admin/reload` просит его перечитать чемпиона без перезапуска.

# %%
with log.stage("deployment", turn=2) as note:
    reloaded = client.http.post("/admin/reload").raise_for_status().json()
    live_3 = make_batch(n_live, seed + 3, drift_scenarios, start="2025-12-15", first_id=300_001)
    answers_3 = client.predict(live_3.without_labels())
    note["artefact"] = f"сервис, версия {reloaded['champion']['version']}"
print(
    "версия в сервисе: была",
    sorted(answers_2["model_version"].unique()),
    "стала",
    sorted(answers_3["model_version"].unique()),
)

# %% [markdown]
# Цикл пройден дважды. Сервис больше не нужен — останавливаем его (мягко, SIGTERM).

# %%
client.close()
exit_code = service.stop()
print("сервис остановлен:", not service.running())

# %% [markdown]
# ## Что было бы без второго витка
#
# Метки третьей партии придут позже, но симулятор их уже знает. Сравним на ней старую
# модель (версия 1, её можно загрузить из реестра) и новую (версия 2 — ответы сервиса).

# %%
from mlops_course.model.evaluate import (
    SHOWN_QUALITY,
    business_cost,
    compare_quality,
    format_roubles,
)

truth_3 = live_3.frame["is_late"].to_numpy()
stale_model = registry.load_version(registry.MODEL_NAME, version_1)
stale_3 = stale_model.predict_proba(live_3.frame[model.feature_names_in_])[:, 1]
fresh_3 = answers_3["probability"].to_numpy()
compare = {"версия 1 (без переобучения)": stale_3, "версия 2 (после витка 2)": fresh_3}
quality = compare_quality(truth_3, compare, threshold, costs)
quality[SHOWN_QUALITY].round(3)

# %% [markdown]
# Старая модель ранжирует заказы хуже (ROC AUC ниже, log loss выше) и систематически
# **недооценивает** опоздания: её «средняя вероятность» заметно ниже настоящей доли
# опозданий `late_rate` — модель всё ещё живёт в летнем мире. У новой модели средняя
# вероятность близка к доле опозданий: она откалибрована под новый мир. Заметьте и другое:
# при нашей таблице затрат порог так низок, что зимой тревога поднимается по подавляющему
# большинству заказов (доля напечатана ниже), поэтому разница в рублях между моделями
# мала. Гораздо дороже обходится параметр, который забыли настроить: порог решения.

# %%
cost_at = {t: business_cost(truth_3, fresh_3 >= t, costs) for t in (0.5, threshold)}
per_1000 = 1000 / len(truth_3)
print(
    f"порог сервиса (подобран в витке 1): {threshold:.2f}; "
    f"лучший порог для версии 2: {best_threshold(model_2, test_2, costs):.2f}"
)
print(f"тревога поднята по {(fresh_3 >= threshold).mean():.0%} зимних заказов")
print(
    f"версия 2 с порогом по умолчанию 0.5: {format_roubles(cost_at[0.5] * per_1000)} на 1000 заказов"
)
print(
    f"версия 2 с настроенным порогом:      {format_roubles(cost_at[threshold] * per_1000)} на 1000 заказов"
)

# %% [markdown]
# ## Проблемы развёртывания и их последствия — в числах
#
# Слайд «Проблемы при развёртывании» называет четыре проблемы, слайд «Последствия» —
# четыре последствия. Свяжем каждую пару с числом из этого запуска.

# %%
import pandas as pd

from mlops_course.classroom.lifecycle import deployment_problems

stale, fresh = quality.iloc[0], quality.iloc[1]
problems = deployment_problems(
    stale=stale,
    fresh=fresh,
    n_settings=1 + len(service_args) + len(service_env),
    n_pinned_packages=len(tracking.model_requirements()),
    untuned_threshold_cost=(cost_at[0.5] - cost_at[threshold]) * per_1000,
    stale_extra_cost=(stale["cost_total"] - fresh["cost_total"]) * per_1000,
    n_steps=log.n_steps,
)
# show the long texts of the last column in full (pandas cuts cells at 50 characters)
pd.set_option("display.max_colwidth", None)
problems

# %% [markdown]
# Как читать таблицу:
#
# - **окружение**: без адреса реестра, пути журнала и порога сервис всё равно запустился
#   бы, но с порогом 0.5 и с журналом не там, где его ищет мониторинг: ошибка тихая. Модели
#   нужны ещё и точные версии пакетов; каждую настройку кто-то должен знать и передать;
# - **ручной параметр**: порог, подобранный по таблице затрат, переживает смену модели
#   (`/admin/reload` его не трогает); забытый порог — самая дорогая ошибка в этом запуске;
# - **мониторинг**: без него версия 1 так и отвечала бы на зимние заказы — ранжируя их
#   хуже и обещая меньше опозданий, чем их на самом деле (так теряется доверие);
# - **ресурсы**: каждый виток — это цепочка шагов, которую кто-то должен выполнить;
#   разница в рублях между старой и новой моделью при нашем пороге мала (и её знак зависит
#   от seed), потому что тревога поднимается почти по всем заказам — цена устаревшей модели
#   здесь видна в качестве ранжирования (ROC AUC) и калибровке (log loss), а не в рублях.
#   «Точность» на слайде — качество модели в широком смысле; accuracy при таком низком
#   пороге почти ничего не говорит и может оказаться у старой версии даже выше.

# %% [markdown]
# Сколько времени занял цикл? Секунды меняются от запуска к запуску, поэтому вывод этой
# ячейки не сверяется тестами. Здесь всё автоматизировано помощниками, и всё равно витки
# занимают секунды машинного времени и по десятку ячеек, которые кто-то должен запустить
# в правильном порядке. Без помощников каждый из этих шагов — ручная работа на часы.

# %%
# NBVAL_IGNORE_OUTPUT
seconds = log.seconds_by_turn()
for turn, total in seconds.items():
    print(f"виток {turn}: {total:.1f} с")
slowest = max(log.records, key=lambda record: record.seconds)
print(f"самый долгий этап: {slowest.stage} (виток {slowest.turn}), {slowest.seconds:.1f} с")

# %% [markdown]
# ## Цикл, нарисованный по запуску
#
# Каждый прямоугольник — этап, под ним — артефакт каждого витка (хэш данных, версия
# модели, метрика) и секунды; справа — хронология обоих витков. Время меняется от запуска
# к запуску, поэтому и вывод этой ячейки не сверяется.

# %%
# NBVAL_IGNORE_OUTPUT
import matplotlib.pyplot as plt

from mlops_course.classroom.lifecycle import plot_lifecycle

fig = plot_lifecycle(log)
plt.show()

# %% [markdown]
# Те же артефакты — таблицей (без секунд, она воспроизводима):

# %%
log.table()

# %% [markdown]
# ## Итоги
#
# - Жизненный цикл ML — это **круг**, а не линия: мониторинг на живых данных запускает
#   новый виток, и модель версии 2 сменила версию 1 в работающем сервисе без перезапуска.
# - Каждый этап оставляет артефакт: хэш данных, результат валидации, версию в реестре,
#   запись в журнале предсказаний. По ним видно, что, на чём и когда обучено.
# - Абсолютные метрики на изменившихся данных обманчивы: честное сравнение — две модели на
#   одних и тех же свежих данных (ворота качества).
# - Проблемы развёртывания из лекции измеримы: ручные настройки, забытый порог, отсутствие
#   мониторинга стоят точности, денег и доверия.
#
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("03_ml_lifecycle")

# %%
answers = {1: "", 2: "", 3: "", 4: ""}
check_quiz("03_ml_lifecycle", answers)
