# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Лабораторная 4: сервис и мониторинг
#
# Вы расширите **живой** сервис модели курса (FastAPI + uvicorn из ноутбуков 03 и 07):
# добавите строгое правило проверки входа с понятным ответом 422, свою метрику Prometheus в
# `/metrics` и напишете небольшой нагрузочный тест на асинхронном HTTP-клиенте, который
# считает p50 и p99. К ноутбукам 07 и 10.
#
# Ваш код работает **внутри сервиса**: лабораторная записывает ваши функции в файл
# расширения, и сервис загружает его при старте (`python -m mlops_course.serving
# --extension файл.py`). Каждое упражнение проверяется автоматически: ✓ — верно, ✗ — что не
# так и как исправить.

# %% [markdown]
# ## Цели
#
# - добавить в сервис бизнес-правило проверки входа: отказ 422 с сообщением, которое
#   называет поле и допустимое значение, — вместо ошибки 500 или уверенного ответа модели
#   на данные, которых она не видела;
# - добавить свою метрику Prometheus — гистограмму вероятностей модели — в реестр сервиса
#   и увидеть её в `/metrics`;
# - написать нагрузочный тест на `httpx.AsyncClient`: одновременные клиенты, коды ответов,
#   p50 и p99 — и сверить его с генератором нагрузки курса `serving.load_test`;
# - запустить сервис и остановить его так, чтобы не осталось ни одного процесса.
#
# Слайды лекции: «Проблемы при развертывании» (отсутствие мониторинга), «Проблемы
# Production ML» (п. 4: масштабируемость), «Архитектурная схема» (сервинг, мониторинг).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# заказов для обучения модели
n_orders = 3_000
# нагрузочный тест: запросов всего и одновременных клиентов
n_requests = 100
concurrency = 8

# %%
import asyncio
import atexit
import time
from collections import Counter

import httpx
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from prometheus_client import Histogram

from mlops_course.classroom.checks import run_check
from mlops_course.classroom.lab_checks import lab04_serving_monitoring as lab
from mlops_course.config import FEATURES, NUMERIC_FEATURES, display_path, work_dir
from mlops_course.model.train import train_model
from mlops_course.scenario.generator import generate_orders
from mlops_course.serving.schemas import RequestError, field_error

# %% [markdown]
# ## Модель и зона доставки
#
# Сервис будет отвечать моделью курса (логистическая регрессия, ноутбук 02), обученной на
# `n_orders` заказах. Посмотрим, что она скажет о заказе, расстояние которого лежит за
# пределами всего, что она видела: для типичного заказа (медианы признаков) меняем только
# `distance_km`.

# %%
orders = generate_orders(n_orders, seed)
model = train_model(orders, seed=seed)
typical = {
    c: orders[c].median() if c in NUMERIC_FEATURES else orders[c].mode()[0] for c in FEATURES
}
grid = np.linspace(0.5, 50, 100)
curve = pd.DataFrame([typical] * grid.size).assign(distance_km=grid)
probability = model.predict_proba(curve)[:, 1]
farthest = orders["distance_km"].max()
at = {km: model.predict_proba(curve.assign(distance_km=km).head(1))[0, 1] for km in (farthest, 45)}
print(f"самый дальний заказ в обучении: {farthest:.1f} км")
print(f"вероятность опоздания: {at[farthest]:.3f} на {farthest:.1f} км, {at[45]:.3f} на 45 км")

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(grid, probability, color="tab:blue", label="ответ модели")
ax.axvspan(farthest, lab.ZONE_KM, color="tab:orange", alpha=0.15, label="в обучении таких нет")
ax.axvspan(lab.ZONE_KM, grid.max(), color="tab:red", alpha=0.15, label="вне зоны доставки: 422")
ax.set(xlabel="расстояние, км", ylabel="вероятность опоздания",
       title="Модель уверенно отвечает и там, где не видела данных")  # fmt: skip
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# Модель — линейная функция признаков под сигмоидой: за пределами данных она продолжает
# ту же линию и выдаёт «опоздает наверняка» с той же уверенностью, что и внутри. Сервис
# уже проверяет физически возможный диапазон (`distance_km ∈ [0.1, 50]`), но зона
# доставки — 30 км: заказ дальше — ошибка данных (скачок GPS, не та единица измерения), и
# отвечать на него моделью нельзя. Сохраним модель так, как её загружает сервис (папка
# MLflow, как в ноутбуке 07); первый импорт MLflow занимает несколько секунд.

# %%
import shutil

import mlflow.sklearn

from mlops_course.versioning.tracking import SKOPS_TRUSTED_TYPES, model_requirements

shutil.rmtree(work_dir("lab04_serving_monitoring"))
workspace = work_dir("lab04_serving_monitoring")  # a fresh folder on every run

# %%
model_dir = workspace / "model"
mlflow.sklearn.save_model(model, str(model_dir), skops_trusted_types=SKOPS_TRUSTED_TYPES,
                          pip_requirements=model_requirements())  # fmt: skip
print("модель сохранена:", display_path(model_dir))

# %% [markdown]
# ## Упражнение 1. Правило: заказ вне зоны доставки — 422
#
# Напишите `validate_distance(batch)` — дополнительное правило, которое сервис выполнит
# после своих проверок, перед моделью:
#
# - `batch.columns` — словарь numpy-массивов по полям запроса (уже проверенных сервисом):
#   `batch.columns["distance_km"]`; сравнивайте весь столбец, не только первую строку;
# - если хоть один заказ дальше 30 км — поднимите
#   `RequestError(422, [field_error("distance_km", "outside_delivery_zone", сообщение)])`:
#   сообщение начинается с имени поля и называет границу 30 км (хорошо бы и строку со
#   значением);
# - заказ не дальше 30 км (ровно 30 — тоже) правило пропускает молча: ничего не возвращает
#   и ничего не меняет в данных.
#
# Любое другое исключение (`ValueError`, `assert`) сервис считает своей ошибкой и отвечает
# 500: клиент не узнает, что не так с его заказом, а дежурный получит тревогу о сбое
# сервиса. И ещё: функция работает в сервисе как отдельный файл, где есть только её
# аргументы и импорты файла (`np`, `RequestError`, `field_error`, `Histogram`, `Counter`,
# `Gauge`, `Summary`) — переменных ноутбука там нет.


# %%
def validate_distance(batch):
    """Refuse (422) a batch with an order beyond the 30 km delivery zone, naming the field."""
    ### BEGIN SOLUTION сравните весь столбец distance_km с 30 км; если есть дальше, raise RequestError(422, [field_error('distance_km', ...)])
    distance = batch.columns["distance_km"]
    far = distance > 30.0
    if far.any():
        row = int(np.argmax(far))
        message = (
            f"distance_km: {distance[row]:g} км в строке {row} — дальше зоны доставки 30 км "
            f"(таких заказов: {int(far.sum())})"
        )
        raise RequestError(422, [field_error("distance_km", "outside_delivery_zone", message)])
    ### END SOLUTION


# %%
run_check(lab.check_rule, validate_distance)

# %% [markdown]
# ## Упражнение 2. Своя метрика: распределение вероятностей модели
#
# `/metrics` сервиса уже считает запросы, задержки и предсказанные классы. Добавим то, что
# нужно мониторингу модели, пока нет меток: **распределение вероятностей**, которые она
# выдаёт. Если оно сдвинулось (доля «почти наверняка опоздает» выросла вдвое), изменились
# входы или мир — и это видно сразу, а не через неделю, когда придут настоящие метки
# (ноутбуки 04–05). Prometheus считает такие доли по корзинам гистограммы:
# `prediction_probability_bucket{le="0.9"}` — сколько вероятностей не больше 0.9.
#
# Напишите `create_metrics(registry)`. Сервис вызовет её один раз при старте со своим
# реестром метрик:
#
# - создайте в нём `Histogram("prediction_probability", описание, buckets=(0.1, 0.2, …,
#   0.9), registry=registry)`; без `registry=registry` метрика попадёт в глобальный реестр
#   prometheus-client, которого `/metrics` сервиса не показывает, а корзины по умолчанию
#   придуманы для секунд, не для вероятностей;
# - верните функцию `observe(batch, probability)`: сервис вызывает её после каждого
#   предсказания, `probability` — numpy-массив, одна вероятность на строку запроса, и
#   каждая должна попасть в гистограмму (`histogram.observe(p)`).
#
# Метрику создают один раз (в `create_metrics`), а `observe` только обновляет её.


# %%
def create_metrics(registry):
    """Create the histogram in the service's registry; return what to call per prediction."""
    ### BEGIN SOLUTION Histogram('prediction_probability', ..., buckets=..., registry=registry) и observe, которая вызывает histogram.observe(p) для каждой p
    histogram = Histogram(
        "prediction_probability",
        "Predicted probability of a late delivery, one observation per order",
        buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
        registry=registry,
    )

    def observe(batch, probability):
        for p in probability:
            histogram.observe(p)

    return observe
    ### END SOLUTION


# %%
run_check(lab.check_metric, create_metrics)

# %% [markdown]
# ## Сервис с вашим расширением
#
# Запишем обе функции в файл расширения — этот файл и импортирует сервис. Правило и
# метрику сервис загружает один раз, при старте: если вы исправите функцию, запустите
# заново эту ячейку и ячейку запуска.

# %%
extension = lab.write_extension(
    workspace / "extension.py", validate=validate_distance, create_metrics=create_metrics
)
source = extension.read_text()
print("файл расширения:", display_path(extension), f"({len(source.splitlines())} строк)")
print("функции сервиса:", ", ".join(line[4:].split("(")[0] for line in source.splitlines()
                                    if line.startswith("def ")))  # fmt: skip

# %% [markdown]
# Запуск сервиса — **единственная долгая ячейка** лабораторной (5–20 с: процесс
# импортирует FastAPI и MLflow и загружает модель). Сервис слушает только loopback
# (127.0.0.1) на свободном порту; `atexit` остановит его, даже если ячейка ниже упадёт.

# %%
from mlops_course.serving import start_service

log_path = workspace / "predictions.sqlite"
service = start_service(str(model_dir), timeout=120,
                        extra_args=["--extension", str(extension), "--log-path", str(log_path)])  # fmt: skip
atexit.register(service.stop)
http = httpx.Client(base_url=service.url, timeout=30)
print("сервис:", http.get("/ready").json()["status"])
print("процессов сервиса у этого ядра:", len(lab.service_processes()))

# %% [markdown]
# Так клиент сервиса видит ваше правило: заказ за 45 км во второй строке.

# %%
from mlops_course.serving.client import encode_orders, metric_value

far = generate_orders(3, seed + 1, first_id=900_001)
far.loc[far.index[1], "distance_km"] = 45.0
response = http.post("/predict", content=encode_orders(far))
print(response.status_code, response.json()["detail"][0]["msg"])

# %% [markdown]
# Проверка ниже спрашивает сам сервис: заказы в зоне получают ответ и попадают в
# гистограмму (по одному наблюдению на строку), заказ вне зоны — 422 с вашим сообщением, и
# отказ посчитан в `prediction_validation_errors_total` под вашим типом ошибки.

# %%
run_check(lab.check_live_service, service.url)

# %%
text = http.get("/metrics").text
print("\n".join(line for line in text.splitlines() if line.startswith("prediction_probability")
                and "_created" not in line))  # fmt: skip

# %% [markdown]
# ## Упражнение 3. Нагрузочный тест на httpx.AsyncClient
#
# Задержку сервиса описывают перцентилями: p50 (медиана) — типичный запрос, p99 — время,
# которое превышает лишь 1 % запросов. Хвост (p99) видят самые невезучие клиенты, и по
# нему обычно пишут обещания сервиса (SLO); среднее здесь обманывает — несколько медленных
# запросов раздувают его, хотя типичный запрос не изменился.
#
# Напишите `async def my_load_test(url, bodies, n_requests, concurrency)` — замкнутый цикл,
# как у `serving.load_test` из ноутбука 07:
#
# - один `httpx.AsyncClient(base_url=url)` на весь тест (`async with`) и `concurrency`
#   задач-клиентов **одновременно** (`asyncio.gather`); всего ровно `n_requests` запросов
#   `POST /predict` с телами `bodies[i % len(bodies)]` (`content=body`: это готовый JSON);
# - у каждого запроса — код ответа и время от отправки до ответа в мс
#   (`time.perf_counter()` прямо перед `await http.post(...)` и после); ответы с ошибкой
#   (4xx, 5xx) — тоже данные теста, не прерывайте его на них;
# - верните словарь: `requests`, `statuses` (`{код: сколько}`), `latencies_ms`, `p50_ms`,
#   `p99_ms` (`np.percentile(latencies_ms, [50, 99])`).
#
# Проверка запускает вашу функцию против тестового сервера, который знает правду: сколько
# запросов пришло и сколько шло одновременно, какие коды он вернул (каждый 8-й — 503), и
# отвечает не быстрее 30 мс. А на живом сервисе ваши числа сравниваются с `serving.load_test`
# при том же `concurrency` (оба теста идут ниже на одном сервисе, друг за другом, по одному
# заказу в запросе): одинаковых задержек два прогона не дают, поэтому сравниваются счёт
# запросов, коды ответов, p50 ≤ p99 и порядок величины p50. В ячейке Jupyter корутину
# можно просто дождаться: `await my_load_test(...)`.


# %%
async def my_load_test(url, bodies, n_requests, concurrency):
    """Closed loop: `concurrency` clients share `n_requests` POST /predict; p50/p99 in ms."""
    ### BEGIN SOLUTION concurrency задач в asyncio.gather, у каждой цикл await http.post; задержки в мс, коды, np.percentile
    latencies_ms, statuses = [], Counter()

    async def client(http, first):
        for i in range(first, n_requests, concurrency):
            started = time.perf_counter()
            response = await http.post("/predict", content=bodies[i % len(bodies)])
            latencies_ms.append((time.perf_counter() - started) * 1e3)
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(client(http, k) for k in range(concurrency)))
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"requests": len(latencies_ms), "statuses": dict(statuses),
            "latencies_ms": latencies_ms, "p50_ms": float(p50), "p99_ms": float(p99)}  # fmt: skip
    ### END SOLUTION


# %%
fresh = generate_orders(300, seed + 2, first_id=1_000_001)
bodies = [encode_orders(fresh.iloc[[i]]) for i in range(len(fresh))]
# a notebook cell may await a coroutine (ruff's F704 is for plain modules)
mine = await my_load_test(service.url, bodies, n_requests, concurrency)  # noqa: F704
print(f"ваш тест: {mine['requests']} запросов, коды {mine['statuses']}")

# %%
from mlops_course.serving.load_test import load_test

course = load_test(service.url, bodies, concurrency=concurrency, duration_s=1.0, warmup_s=0.25)
run_check(lab.check_load_test, my_load_test, mine, course,
          n_requests=n_requests, concurrency=concurrency)  # fmt: skip

# %% [markdown]
# Для сравнения — тот же тест с одним клиентом: запросы идут по одному, очереди нет.

# %%
# NBVAL_IGNORE_OUTPUT
alone = await my_load_test(service.url, bodies, 30, 1)  # noqa: F704
pd.DataFrame(
    {
        f"ваш тест, {concurrency} клиентов": [mine["requests"], mine["p50_ms"], mine["p99_ms"]],
        f"serving.load_test, {concurrency} клиентов": [
            course.requests, course.latency_ms(50), course.latency_ms(99)],
        "ваш тест, 1 клиент": [alone["requests"], alone["p50_ms"], alone["p99_ms"]],
    },
    index=["запросов", "p50, мс", "p99, мс"],
).round(2)  # fmt: skip

# %%
course_ms = course.latencies_s * 1e3
bins = np.linspace(0, np.percentile(np.r_[mine["latencies_ms"], course_ms], 99.5), 40)
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.hist(course_ms, bins, density=True, alpha=0.5, label="serving.load_test")
ax.hist(mine["latencies_ms"], bins, density=True, alpha=0.5, label="ваш тест")
ax.axvline(mine["p50_ms"], color="black", label="ваш p50")
ax.axvline(mine["p99_ms"], color="black", linestyle="--", label="ваш p99")
ax.set(xlabel="задержка запроса, мс", ylabel="плотность",
       title=f"Задержка при {concurrency} одновременных клиентах, один процесс сервиса")  # fmt: skip
ax.legend()
plt.show()

# %% [markdown]
# Как читать: оба генератора видят похожее распределение — плотную середину и правый
# хвост, p99 правее p50 (таблица выше). Один процесс uvicorn отвечает на запросы по
# очереди, поэтому при `concurrency` клиентах запрос ждёт ещё и в очереди, пока сервис
# отвечает другим: сравните с одним клиентом (последний столбец таблицы). Это задержка
# очереди, а не модели; как её снимают процессы и ядра — в ноутбуке 07.
#
# И метрика из упражнения 2 теперь видела каждый ответ сервиса: наблюдений в гистограмме
# столько же, сколько строк в ответах (`prediction_batch_rows_sum` — встроенная метрика).

# %%
text = http.get("/metrics").text
observed = metric_value(text, "prediction_probability_count")
rows_answered = metric_value(text, "prediction_batch_rows_sum")
print("наблюдений в гистограмме столько же, сколько строк в ответах:", observed == rows_answered)

# %% [markdown]
# ## Остановка сервиса
#
# Сервис — отдельный процесс: остановим его сигналом SIGTERM (uvicorn дожидается начатых
# запросов, закрывает журнал и завершается тем же сигналом) и проверим по списку дочерних
# процессов ядра (`psutil`), что от него ничего не осталось.

# %%
import signal

http.close()
exit_code = service.stop()
how = f"сигналом {signal.Signals(-exit_code).name}" if exit_code < 0 else f"с кодом {exit_code}"
print("сервис остановлен:", not service.running(), "| процесс завершился", how)
print("процессов сервиса у этого ядра:", len(lab.service_processes()))

# %% [markdown]
# ## Итоги
#
# - Правило проверки входа — часть сервиса: заказ вне зоны доставки получает 422 с именем
#   поля и границей, а не 500 и не уверенный ответ модели о данных, которых она не видела.
#   Исключение не того типа превращает ошибку клиента в «сбой сервиса».
# - Своя метрика — это одна гистограмма в реестре сервиса и одно `observe` на строку:
#   распределение вероятностей модели видно в `/metrics` сразу, задолго до меток.
# - Нагрузочный тест — это одновременные клиенты, коды ответов и перцентили; ошибки — тоже
#   данные. Его числа честно сравнимы с другим генератором только по счёту запросов, кодам
#   и порядку величины: задержки двух прогонов на загруженной машине не совпадают.
# - Фоновый процесс запускают один раз и останавливают явно, а что он остановлен,
#   проверяют по списку процессов.
