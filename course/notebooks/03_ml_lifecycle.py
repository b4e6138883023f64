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
#
# Всё, что порождает ноутбук (база MLflow, журнал предсказаний сервиса), живёт в своей
# подпапке рабочей папки, которую мы каждый раз создаём заново: поэтому версии моделей
# всегда 1 и 2. Журнал `LifecycleLog` записывает, что сделал каждый этап и сколько секунд
# он занял, — по нему в конце нарисуем цикл. Первый вызов MLflow создаёт базу реестра —
# это несколько секунд, поэтому у него своя ячейка.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - назвать этапы жизненного цикла ML-проекта и артефакт, который оставляет каждый этап;
# - пройти цикл от бизнес-вопроса до работающего сервиса и мониторинга;
# - объяснить, что запускает второй виток цикла — триггер переобучения (retraining trigger),
#   и измерить, окупается ли переобучение;
# - связать проблемы развёртывания из лекции с их последствиями — в числах.
#
# Слайды лекции: «Жизненный цикл ML-проекта», «Проблемы при развертывании», «Последствия»,
# «Жизненный цикл ML — это непрерывный процесс».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# заказов для первого обучения
n_orders = 4_000
# заказов в каждой «производственной» партии, которую видит сервис
n_live = 2_000
# что меняется в мире ко второму витку (сценарии scenario.problems, например "peak_load")
drift_scenarios = ["winter"]

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

# %%
from mlops_course.versioning import registry, tracking

# a fresh MLflow registry in the notebook's own folder (created above), so versions are 1 and 2
experiment_id = tracking.setup_tracking(home=home)
print("реестр моделей:", registry.MODEL_NAME, "| алиасы:", registry.aliases())

# %% [markdown]
# ## Виток 1
#
# ### Постановка задачи (problem framing)
#
# Бизнес-вопрос: **какие заказы опоздают, чтобы вовремя вмешаться?** Тревога модели
# запускает действие: бонус свободному курьеру рядом или второй курьер. Оно стоит денег на
# *каждом* отмеченном заказе, а предотвращает лишь часть опозданий; опоздание, против
# которого никто ничего не сделал, стоит компенсации клиенту и риска его потерять. Это
# таблица затрат `CostTable`. Метрика успеха — стоимость на заказ (₽), а для сравнения
# моделей в реестре — log loss (чем меньше, тем лучше: он чувствителен к калибровке
# вероятностей и не зависит от порога).

# %%
from mlops_course.model.evaluate import CostTable, evaluate_model, format_metrics, tune_threshold

with log.stage("framing", turn=1) as note:
    costs = CostTable()
    gate_metric = "log_loss"
    note["artefact"] = f"{gate_metric}, ₽/заказ"
print(
    f"опоздание без тревоги: {costs.missed_late:.0f} ₽, действие по тревоге: {costs.action:.0f} ₽"
)
print(f"действие предотвращает {costs.prevented:.0%} опозданий")
print(f"порог безубыточности для калиброванных вероятностей: {costs.break_even_threshold:.3f}")

# %% [markdown]
# ### Данные и валидация (data, validation)
#
# Первые данные — спокойный весенний период. Хэш таблицы — её «версия»: по нему потом
# видно, на каких именно данных обучена модель. Валидация проверяет схему до обучения.
# Затем заказы делятся **по времени**: последняя четверть — отложенная выборка (test), она
# будет судить модель и ни для чего другого не используется.

# %%
from mlops_course.model.train import split, split_validation, train_model
from mlops_course.model.validation import validate_orders
from mlops_course.scenario.generator import frame_hash
from mlops_course.scenario.problems import make_batch

with log.stage("data", turn=1) as note:
    orders = make_batch(n_orders, seed).frame
    note["artefact"] = f"хэш {frame_hash(orders)[:8]}"
with log.stage("validation", turn=1) as note:
    checked = validate_orders(orders)
    note["artefact"] = "✓ схема" if checked.ok else "✗ схема"
train, test = split(orders)
print(checked.summary())
print(f"обучение {len(train)}, отложено {len(test)}, доля опозданий {orders['is_late'].mean():.3f}")

# %% [markdown]
# ### Обучение и оценка (training, evaluation)
#
# Порог решения тоже подбирается по данным — по таблице затрат. Подбирать его на отложенной
# выборке нельзя: порог подстроится под её шум, и та же выборка покажет слишком хорошую
# стоимость. Поэтому из обучающих заказов отрезаем последнюю четверть — валидационную
# выборку (validation): модель учится на более ранних заказах, порог подбирается на
# валидации (`tune_threshold`), а отложенная выборка судит то и другое. Второй виток пройдёт
# те же этапы, поэтому они оформлены функцией.


# %%
def train_and_evaluate(turn, train, test):
    """Fit on the earlier training orders, tune the threshold on the latest, judge on test."""
    fit, validation = split_validation(train)
    with log.stage("training", turn) as note:
        model = train_model(fit, seed=seed)
        threshold = tune_threshold(model, validation, costs)
        note["artefact"] = f"logreg, порог {threshold:.2f}"
    with log.stage("evaluation", turn) as note:
        metrics = evaluate_model(model, test, threshold, costs)
        note["artefact"] = f"{gate_metric} {metrics[gate_metric]:.3f}"
    print(f"обучение на {len(fit)}, порог {threshold:.2f} подобран на {len(validation)} заказах")
    print("на отложенной выборке:", format_metrics(metrics))
    return model, threshold, metrics


model, threshold, metrics = train_and_evaluate(1, train, test)

# %% [markdown]
# ### Регистрация и ворота качества (registration, quality gate)
#
# Запуск логируется в MLflow (параметры вместе с порогом, метрики, хэши данных, окружение,
# сама модель), модель регистрируется как версия, а ворота качества решают, станет ли она
# чемпионом (`champion`): претендент и чемпион оцениваются на одних и тех же заказах
# отложенной выборки, которых ни один из них не видел, и претендент должен быть лучше
# больше чем на запас `margin` (по умолчанию 0.005, как в ноутбуке 02). Первая версия
# становится чемпионом без сравнения. Во втором витке — та же функция.


# %%
def register_and_gate(turn, model, threshold, train, test, metrics, validation_ok):
    """Log the run, register the model, let the quality gate judge it on ``test``."""
    with log.stage("registration", turn) as note:
        params = {"model": "logreg", "seed": seed, "threshold": threshold}
        info = tracking.log_training_run(model, train, test, params, metrics)
        version = registry.register(info.model_uri)
        decision = registry.promote_if_better(
            registry.MODEL_NAME, version, test, gate_metric,
            validation_ok=validation_ok, threshold=threshold, costs=costs,
        )  # fmt: skip
        note["artefact"] = f"версия {version}" + (", чемпион" if decision.promoted else "")
    print(f"{decision.reason}\nалиасы: {registry.aliases()}")
    return version


version_1 = register_and_gate(1, model, threshold, train, test, metrics, checked.ok)

# %% [markdown]
# ### Развёртывание (deployment)
#
# Запускаем **настоящий** сервис (`python -m mlops_course.serving`, FastAPI + uvicorn) в
# фоновом процессе. Он сам находит чемпиона в реестре по адресу
# `models:/delivery-delay@champion`. Обратите внимание, сколько всего пришлось указать
# вручную: этот адрес модели, адрес реестра, путь журнала, порог — это и есть «сложность
# настройки окружения».
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
print(f"| порог: {served['threshold']:.2f}")

# %% [markdown]
# Сервис отвечает по HTTP. Отправим ему первую «производственную» партию заказов — без
# ответа `is_late`: в момент предсказания его ещё никто не знает. Свои метрики для
# Prometheus сервис считает сам (`/metrics`).

# %%
from mlops_course.serving.client import metric_value

live_1 = make_batch(n_live, seed + 1, start="2025-04-07", first_id=100_001)
answers_1 = client.predict(live_1.without_labels())
print("ответ сервиса:", list(answers_1.columns))
text = client.http.get("/metrics").text
for label in ("0", "1"):
    count = metric_value(text, "predictions_total", variant="champion", label=label)
    print(f"предсказан класс {label}: заказов — {count:.0f}")

# %% [markdown]
# ### Мониторинг (monitoring)
#
# Через неделю приходят настоящие метки (опоздал ли заказ). Задача мониторинга
# (`run_monitoring`) читает журнал предсказаний сервиса и сравнивает его с обучающими
# данными (дрейф данных, data drift) и с метками (живое качество, в том числе log loss).
# Триггер переобучения (`automation.triggers.retraining_trigger`) в этом учебном виде
# срабатывает по любой из двух причин: дрейф данных или живой log loss хуже, чем на
# отложенной выборке при обучении, больше чем на 0.05. Первая причина — упрощение: сам по
# себе дрейф — повод проверить качество, а не переобучать (маркетинговая акция в ноутбуках
# 01 и 04 сдвигает данные, не ухудшая модель). Причины триггер печатает по отдельности, а
# рядом — живой log loss: видно, решил бы он и без дрейфа. Мониторинг нужен в каждом
# витке, поэтому снова функция.

# %%
from mlops_course.automation.triggers import retraining_trigger
from mlops_course.monitoring.job import run_monitoring


def monitor(turn, truth):
    """Check the service's last request against the training data and the late labels."""
    with log.stage("monitoring", turn) as note:
        report = run_monitoring(orders, prediction_log, truth, last_requests=1, threshold=threshold)
        live, trained = report.quality.loc["all", gate_metric], metrics[gate_metric]
        note["artefact"] = f"{gate_metric} {live:.3f}"
    with log.stage("trigger", turn) as note:
        retrain, reasons = retraining_trigger(report.drift_detected, live, trained, gate_metric)
        note["artefact"] = "переобучать" if retrain else "ждать"
    print(report.summary(), f"живой {gate_metric} {live:.3f}, при обучении {trained:.3f}", sep="\n")
    print(f"переобучать: {retrain}", *[f" - {r}" for r in reasons], sep="\n")


monitor(1, live_1.frame)

# %% [markdown]
# ## Виток 2: мир изменился
#
# Прошло несколько месяцев, наступила зима (`drift_scenarios`): мороз и снег. В весенних
# данных морозных и снежных заказов единицы процентов, поэтому модель почти не видела, как
# мороз замедляет курьера и как снег делает медленнее каждый километр. Зиму мы выбрали
# потому, что она вредит устаревшей модели, а не всякий дрейф таков: рекламная акция
# меняет только сумму заказа, которая на опоздания не влияет, а на заказах из нового
# района модель ошибается ненамного больше, чем на знакомых (таблица в `data/README.md`
# измеряет каждый сценарий). Сервис о зиме не знает и продолжает отвечать старой моделью.

# %%
with log.stage("data", turn=2) as note:
    live_2 = make_batch(n_live, seed + 2, drift_scenarios, start="2025-12-01", first_id=200_001)
    answers_2 = client.predict(live_2.without_labels())
    note["artefact"] = f"хэш {frame_hash(live_2.frame)[:8]}"
print("сервис ответил версией:", sorted(answers_2["model_version"].unique()))
for period, frame in {"весна": orders, "зима": live_2.frame}.items():
    frost, snow = (frame["temperature_c"] < 0).mean(), (frame["weather"] == "snow").mean()
    print(f"{period}: мороз {frost:.0%}, снег {snow:.0%}, опоздания {frame['is_late'].mean():.0%}")

# %%
monitor(2, live_2.frame)

# %% [markdown]
# Триггер сработал — и сработал бы без всякого дрейфа: вторая причина, живой log loss,
# ухудшилась намного больше допуска. Начинается второй виток. Постановка задачи прежняя (та
# же цель и та же цена ошибок), поэтому виток начинается с данных: размеченной партии,
# которую сервис только что обслужил. Те же этапы, те же функции: валидация, деление по
# времени, обучение, порог на валидации, оценка на отложенной выборке, регистрация и ворота
# качества.

# %%
with log.stage("validation", turn=2) as note:
    checked_2 = validate_orders(live_2.frame)
    note["artefact"] = "✓ схема" if checked_2.ok else "✗ схема"
train_2, test_2 = split(live_2.frame)
print(checked_2.summary())
model_2, threshold_2, metrics_2 = train_and_evaluate(2, train_2, test_2)
version_2 = register_and_gate(2, model_2, threshold_2, train_2, test_2, metrics_2, checked_2.ok)

# %% [markdown]
# Log loss новой модели на зимней отложенной выборке выше, чем был у первой весной, — значит
# ли это, что она хуже? Нет: зимой опозданий больше и исход каждого заказа неопределённее,
# метрики разных периодов несравнимы. Честно сравнить модели можно только на одних и тех же
# заказах — это и сделали ворота качества: обе версии оценены на зимней отложенной выборке,
# которой не видела ни одна из них.
#
# Алиас `champion` в реестре передвинулся, но сервис об этом не знает: он держит модель в
# памяти. `POST /admin/reload` просит его перечитать чемпиона без перезапуска. А вот порог
# — настройка самого сервиса: перезагрузка модели его не меняет. Поэтому дальше сервис
# отвечает версией 2 с порогом, подобранным для версии 1 (во что это обходится — в
# следующем разделе). Отправив сервису третью партию, останавливаем его: цикл пройден
# дважды.

# %%
with log.stage("deployment", turn=2) as note:
    reloaded = client.http.post("/admin/reload").raise_for_status().json()
    note["artefact"] = f"сервис, версия {reloaded['champion']['version']}"
live_3 = make_batch(n_live, seed + 3, drift_scenarios, start="2025-12-15", first_id=300_001)
answers_3 = client.predict(live_3.without_labels())
print("версия в сервисе: была", sorted(answers_2["model_version"].unique()), end=" ")
print("стала", sorted(answers_3["model_version"].unique()))
print(f"порог в сервисе {reloaded['threshold']:.2f}, для версии 2 подобран {threshold_2:.2f}")
# the loop has been run twice: stop the service (gently, SIGTERM)
client.close()
exit_code = service.stop()
print("сервис остановлен:", not service.running())

# %% [markdown]
# ## Что было бы без второго витка
#
# Метки третьей (тоже зимней) партии придут позже, но симулятор их уже знает. На этих
# заказах ни одна модель не обучалась и ни один порог не подбирался. Сравним на них старую
# модель (версия 1, её можно загрузить из реестра) и новую (версия 2) — сначала каждую с её
# собственным порогом, подобранным на её валидации.

# %%
import pandas as pd

from mlops_course.model.evaluate import MEAN_PROBABILITY, compare_quality, late_scores

truth_3 = live_3.frame["is_late"].to_numpy()
stale_model = registry.load_version(registry.MODEL_NAME, version_1)
versions = {
    "версия 1 (без переобучения)": (late_scores(stale_model, live_3.frame), threshold),
    "версия 2 (после витка 2)": (late_scores(model_2, live_3.frame), threshold_2),
}
quality = pd.concat(
    [compare_quality(truth_3, {name: p}, t, costs) for name, (p, t) in versions.items()]
)
shown = ["roc_auc", "log_loss", "late_rate", MEAN_PROBABILITY, "predicted_late_rate", "threshold"]
quality[shown].round(3)

# %% [markdown]
# Старая модель ранжирует зимние заказы хуже (ROC AUC ниже, log loss выше) и
# систематически **недооценивает** опоздания: её «средняя вероятность» намного ниже
# настоящей доли опозданий `late_rate` — она всё ещё живёт в весеннем мире, и тревогу
# (`predicted_late_rate` — доля заказов с тревогой) поднимает гораздо реже новой. У новой
# модели средняя вероятность близка к доле опозданий.
#
# Во что это обходится — ниже, в рублях на тысячу заказов. Во втором витке сменились сразу
# две вещи — модель и порог, поэтому считаем каждую модель с каждым порогом (строки —
# модели, столбцы — пороги). Сервис после перезагрузки работал в клетке «версия 2 × порог
# версии 1»: модель новая, порог старый. Первые две строки над таблицей разделяют вклады
# (₽ на 1000 заказов): смена модели при одном и том же пороге и смена порога при той же
# модели. Столбец «порог 0.5» —
# цена забытого параметра: порог по умолчанию.

# %%
from mlops_course.model.evaluate import business_cost, format_roubles

per_1000 = 1000 / len(truth_3)
at = {f"порог версии 1 ({threshold:.2f}, в сервисе)": threshold}
at |= {f"порог версии 2 ({threshold_2:.2f})": threshold_2, "порог 0.5": 0.5}
rub = pd.DataFrame(
    {column: {name: business_cost(truth_3, p >= t, costs) * per_1000
              for name, (p, _) in versions.items()} for column, t in at.items()}
)  # fmt: skip
by_model = [format_roubles(g, signed=True) for g in rub.iloc[1, :2] - rub.iloc[0, :2]]
by_threshold = [format_roubles(g, signed=True) for g in rub.iloc[:, 1] - rub.iloc[:, 0]]
print("версия 1 → версия 2 (при пороге версии 1; версии 2):", "; ".join(by_model))
print("порог версии 1 → версии 2 (у версии 1; у версии 2):", "; ".join(by_threshold))
no_model = {"flag_all": "тревога по всем", "flag_none": "ни одной тревоги"}
for k, v in costs.constant_costs(truth_3.mean()).items():
    print(f"без модели, {no_model[k]}: {format_roubles(v * 1000)}")
rub.map(format_roubles)

# %% [markdown]
# Переобучение окупилось моделью, а не порогом: при любом общем пороге версия 2 дешевле
# версии 1 намного сильнее, чем меняет стоимость смена порога при той же модели, — а та и
# не всегда к лучшему: порог второго витка подобран всего на нескольких
# сотнях зимних заказов и сам шумный. Поэтому и сервис со старым порогом заметно дешевле
# версии 1. Переобученная модель при любом из двух порогов дешевле обеих политик без модели,
# а устаревшая обходится зимой дороже даже тревоги по каждому заказу: она молчит там, где
# мороз и снег делают опоздание вероятным.

# %% [markdown]
# ## Проблемы развёртывания и их последствия — в числах
#
# Слайд «Проблемы при развертывании» называет четыре проблемы, слайд «Последствия» —
# четыре последствия. Свяжем каждую пару с числом из этого запуска; если запуск
# последствие не показал, строка так и скажет. Секунды меняются от запуска к запуску
# (тесты их не сверяют), остальное воспроизводимо.

# %%
from IPython.display import Markdown

from mlops_course.classroom.lifecycle import deployment_problems, markdown_table

stale, fresh = quality.iloc[0], quality.iloc[1]  # each version at its own threshold
problems = deployment_problems(
    stale=stale,
    fresh=fresh,
    n_settings=1 + len(service_args) + len(service_env),
    n_pinned_packages=len(tracking.model_requirements()),
    deploy_seconds=deploy_seconds,
    untuned_threshold_cost=rub.iloc[1, 2] - rub.iloc[1, 1],
    retrain_seconds=log.seconds_after("trigger", turn=2),
    stale_extra_cost=rub.iloc[0, 0] - rub.iloc[1, 1],
)
Markdown(markdown_table(problems))

# %% [markdown]
# Как читать таблицу:
#
# - **окружение**: без адреса реестра сервис искал бы чемпиона в общей базе курса, без
#   порога работал бы с 0.5, без пути журнала писал бы его не туда, где его ищет
#   мониторинг, — и ни одна из этих ошибок не видна сразу. Модели нужны ещё и точные
#   версии пакетов; каждую настройку кто-то должен знать и передать;
# - **ручной параметр**: порог подбирается по таблице затрат на валидации и для каждой
#   модели свой, а сервис хранит его отдельно от модели (`/admin/reload` его не трогает):
#   забытый порог (0.5 по умолчанию) стоит денег при любой модели, а устаревший порог
#   меняет стоимость версии 2 гораздо меньше, чем сама смена модели, и не обязательно в
#   худшую сторону (таблица «модель × порог» выше);
# - **мониторинг**: без него версия 1 так и отвечала бы на зимние заказы — ранжируя их
#   хуже и обещая меньше опозданий, чем их на самом деле (так теряется доверие);
# - **ресурсы**: второй виток от решения переобучать до новой версии в сервисе — секунды
#   машинного времени, но лишь если кто-то (или что-то) его запускает. Сколько виток ждал
#   бы, пока его некому запустить, этот запуск не показывает (строка так и говорит), а
#   каждая тысяча заказов в это время обходится дороже на сумму из последней строки.

# %% [markdown]
# ## Цикл, нарисованный по запуску
#
# Каждый прямоугольник — этап, под ним — артефакт каждого витка (хэш данных, порог,
# версия модели, метрика) и секунды; справа — хронология обоих витков. Время меняется от
# запуска к запуску, поэтому вывод этой ячейки не сверяется (артефакты без секунд
# воспроизводимы, их даёт таблица `log.table()`).

# %%
# NBVAL_IGNORE_OUTPUT
import matplotlib.pyplot as plt

from mlops_course.classroom.lifecycle import plot_lifecycle

fig = plot_lifecycle(log)
plt.show()

# %% [markdown]
# ## Итоги
#
# - Жизненный цикл ML — это **круг**, а не линия: мониторинг на живых данных запускает
#   новый виток, и модель версии 2 сменила версию 1 в работающем сервисе без перезапуска
#   (порог сервиса остался прежним: это отдельная настройка).
# - Каждый этап оставляет артефакт: хэш данных, результат валидации, порог, версию в
#   реестре, запись в журнале предсказаний. По ним видно, что, на чём и когда обучено.
# - Порог подбирается на валидации, ворота качества судят на отложенной выборке: данные, по
#   которым модель оценивают, не должны участвовать ни в обучении, ни в настройке.
# - Вредный дрейф (зима) делает устаревшую модель дороже переобученной; абсолютные
#   метрики разных периодов несравнимы, честное сравнение — на одних и тех же заказах.
# - Проблемы развёртывания из лекции измеримы: ручные настройки, забытый порог, отсутствие
#   мониторинга стоят точности, денег и доверия.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("03_ml_lifecycle")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: ""}
check_quiz("03_ml_lifecycle", answers)
