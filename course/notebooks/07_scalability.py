# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Масштабируемость (scalability)
#
# Модель, которая за секунду обучается на ста тысячах заказов, однажды встретит десять
# миллионов заказов, а сервис, который отвечает одному пользователю за несколько
# миллисекунд, — сотни запросов в секунду. **Масштабируемость (scalability)** — это вопрос
# о том, как растёт стоимость (время, память, деньги), когда растёт работа, и что делать,
# когда одной машины перестаёт хватать. Здесь мы не рассуждаем, а измеряем: кривые роста
# на логарифмических осях, ускорение от параллелизма на двух ядрах, Dask на данных больше
# бюджета памяти и пропускную способность сервиса курса.
#
# Все времена и мегабайты ниже измерены **на вашей машине** во время выполнения (курс
# рассчитан на 2 ядра): у вас числа будут другими, а в тексте — только то, что
# повторяется от запуска к запуску. Каждое время — медиана нескольких повторов: соседний
# процесс может занять ядро на один повтор, но не на все.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - измерить, как время растёт с объёмом работы, и оценить показатель роста k
#   (время ∝ размер^k) по наклону на логарифмических осях (log–log);
# - объяснить, почему один заказ за запрос стоит в тысячи раз дороже на строку, чем пакет
#   (online против batch), и почему векторизация меняет константу, а не показатель;
# - измерить ускорение от параллелизма (`n_jobs`) и прочитать его через закон Амдала;
# - обработать данные больше бюджета памяти с Dask и честно сказать, где он выигрывает
#   (память), а где проигрывает (время на одной машине);
# - измерить пропускную способность сервиса (запросов в секунду, p99) при 1 и 2 процессах
#   uvicorn и объяснить, почему процессов больше, чем ядер, не помогают;
# - назвать, что меняется в коде, когда одной машины мало (обычно — одна настройка).
#
# Слайды лекции: «Проблемы Production ML» (п. 4, масштабируемость) и «Архитектурная схема»
# (сервинг: FastAPI, Docker, Kubernetes; оркестрация).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# Кривые роста: размеры обучающей выборки и пакетов предсказания
train_sizes = [5000, 10_000, 20_000, 40_000, 80_000, 160_000]
batch_sizes = [1, 10, 100, 1000, 10_000, 100_000]
# Dask: заказов в наборе на диске, частей (parquet), бюджет памяти для pandas, МБ
n_rows_on_disk = 1_200_000
n_partitions = 24
memory_budget_mb = 200
# Нагрузочный тест сервиса: одновременных клиентов, секунд на раунд, раундов
concurrency = 8
load_seconds = 1.0
load_rounds = 3

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlops_course.classroom import scaling
from mlops_course.config import work_dir
from mlops_course.model.train import train_model
from mlops_course.scenario.generator import generate_orders, late_logit

workspace = work_dir("07_scalability")
orders = generate_orders(max(train_sizes + batch_sizes), seed)
print(f"заказов для кривых роста: {len(orders)}")

# %% [markdown]
# Машина, на которой всё измерено (ядра и загрузка в момент запуска — от них зависят все
# времена ниже):

# %%
# NBVAL_IGNORE_OUTPUT
load_1m = os.getloadavg()[0]
print(f"ядер: {os.cpu_count()}, средняя загрузка за минуту: {load_1m:.1f}")

# %% [markdown]
# ## Как растёт стоимость с объёмом работы
#
# Если время растёт как степень размера, t ≈ c · n^k, то на осях с логарифмическим
# масштабом (log–log) это прямая с наклоном k. **Показатель роста k** отвечает на вопрос
# «во сколько раз дольше, если данных вдвое больше»: 2^k. k = 1 — линейный рост (вдвое больше
# — вдвое дольше), k = 0 — время не зависит от размера (постоянные затраты), k = 2 —
# квадратичный (вдвое больше — вчетверо дольше). Оценим k наклоном прямой по точкам.
#
# ### Обучение: логистическая регрессия и градиентный бустинг
#
# Обе модели курса (`train_model`, весь конвейер с предобработкой) на первых n заказах.
# Бустинг — с фиксированным числом деревьев (30, без ранней остановки, иначе число деревьев
# зависело бы от данных), и обе модели на одном потоке: параллелизм измерим отдельно.

# %%
# NBVAL_IGNORE_OUTPUT
fit_times = {}
with threadpool_limits(1):
    fit_times["logreg"] = scaling.scaling_table(
        lambda n: train_model(orders.iloc[:n], "logreg"), train_sizes, repeat=3
    )
fit_times["logreg"].round(3).to_frame("logreg, секунд")

# %%
# NBVAL_IGNORE_OUTPUT
hgb_params = {"max_iter": 30, "early_stopping": False}
with threadpool_limits(1):
    fit_times["hgb"] = scaling.scaling_table(
        lambda n: train_model(orders.iloc[:n], "hgb", **hgb_params), train_sizes[:-1], repeat=3
    )
fit_times["hgb"].round(3).to_frame("hgb, секунд")

# %% [markdown]
# ### Предсказание: по одному заказу или пакетом
#
# Одна обученная модель предсказывает пакеты разного размера: от одного заказа (так
# работает онлайн-сервис, online) до ста тысяч (ночной пакетный расчёт, batch). Смотрим на
# время одного вызова и на цену одной строки.

# %%
# NBVAL_IGNORE_OUTPUT
model = train_model(orders.iloc[:20_000], seed=seed)
call_times = scaling.scaling_table(
    lambda n: model.predict_proba(orders.iloc[:n]), batch_sizes, repeat=5
)
per_row_us = call_times / call_times.index * 1e6
pd.DataFrame({"секунд на вызов": call_times, "мкс на строку": per_row_us}).round(6)

# %% [markdown]
# ### Цикл по строкам против векторизованного кода
#
# Одна и та же работа — логит «истинной» вероятности опоздания из генератора — двумя
# способами: `generator.late_logit` считает столбцами numpy, `scaling.late_logit_row_loop`
# идёт циклом Python по строкам (`itertuples`, самый быстрый из «построчных» способов
# pandas). Сначала убедимся, что числа одни и те же.

# %%
sample = orders.iloc[:5000]
difference = np.abs(late_logit(sample) - scaling.late_logit_row_loop(sample)).max()
print(f"максимальная разница двух способов на {len(sample)} заказах: {difference:.1e}")

# %%
# NBVAL_IGNORE_OUTPUT
sizes = [1000, 10_000, 100_000]
job_times = {
    "цикл по строкам": scaling.scaling_table(
        lambda n: scaling.late_logit_row_loop(orders.iloc[:n]), sizes
    ),
    "векторизованный": scaling.scaling_table(lambda n: late_logit(orders.iloc[:n]), sizes, 5),
}
ratio = job_times["цикл по строкам"] / job_times["векторизованный"]
pd.DataFrame({**job_times, "во сколько раз медленнее": ratio}).round(4)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
exponents = {k: scaling.loglog(axes[0], t, k, fit_from=20_000) for k, t in fit_times.items()}
axes[0].set(xlabel="строк в обучении", ylabel="секунд", title="Обучение: время от объёма")
axes[1].plot(call_times.index, call_times.to_numpy(), "o-", label="весь вызов")
exponents["предсказание, на строку"] = scaling.loglog(
    axes[1], per_row_us / 1e6, "на одну строку", fit_to=1000, marker="s"
)
axes[1].set(xlabel="строк в пакете", ylabel="секунд", title="Предсказание: пакет и строка")
for name, table in job_times.items():
    exponents[name] = scaling.loglog(axes[2], table, name)
axes[2].set(xlabel="строк", ylabel="секунд", title="Цикл по строкам и векторизация")
fig.tight_layout()
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
print("показатели роста k (наклон прямой на графике):")
for name, k in exponents.items():
    print(f"  {name:22s} k = {k:.2f}")

# %% [markdown]
# Что видно на графиках (и повторяется от запуска к запуску и для других seed):
#
# - **Обучение** обеих моделей растёт не быстрее линейного: показатель (по точкам от
#   20 тысяч строк) не больше 1, на свободной машине — близок к 1. На малых выборках кривая
#   положе: там заметны постоянные затраты (у бустинга — поиск разбиений по 255 корзинам в
#   каждом дереве, он не зависит от числа строк). Линейный рост — хорошая новость, но он означает: в 100 раз больше данных — в
#   100 раз дольше, и однажды «ночное» переобучение перестаёт укладываться в ночь.
# - **Предсказание**: время вызова почти не зависит от размера пакета, пока пакет мал (до
#   тысячи строк): почти всё время — постоянные затраты вызова (проверки входа в каждом шаге
#   конвейера scikit-learn, создание промежуточных таблиц). Поэтому цена одной строки падает
#   обратно пропорционально пакету (k около −1 до тысячи строк), и строка в пакете из ста
#   тысяч стоит в тысячи раз дешевле, чем строка, пришедшая одна.
#   Онлайн-сервис платит эту цену за каждый запрос; пакетный расчёт делит её на все строки.
# - **Цикл по строкам** и векторизованный код растут не быстрее линейного, и наклоны у них
#   близки, а цикл дороже на каждой строке в разы — во сколько именно, в таблице выше
#   (наклон меньше 1 — это постоянные затраты, заметные на тысяче строк). Векторизация
#   меняет константу c, а не показатель k: на больших данных она необходима, но не
#   превращает линейный рост в постоянный.

# %% [markdown]
# ## Параллелизм на одной машине
#
# Подбор гиперпараметра — восемь независимых обучений логистической регрессии с разной
# силой регуляризации C — легко раздать процессам: `joblib.Parallel(n_jobs=...)`, тот же
# механизм, что у `n_jobs` в scikit-learn. Сравним 1, 2 и 4 процесса на двух ядрах
# (каждый процесс — на одном потоке, это joblib настраивает сам).

# %%
# NBVAL_IGNORE_OUTPUT
from joblib import Parallel, delayed

grid = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
frame = orders.iloc[:20_000]


def fit_grid(n_jobs: int) -> list:
    return Parallel(n_jobs=n_jobs)(delayed(train_model)(frame, C=c) for c in grid)


fit_grid(4)  # warm-up: joblib starts its worker processes once
with threadpool_limits(1):
    grid_times = pd.Series({n: scaling.median_seconds(lambda n=n: fit_grid(n)) for n in [4, 2, 1]})
grid_times = grid_times.sort_index()
speedup = grid_times[1] / grid_times
pd.DataFrame({"секунд": grid_times, "ускорение": speedup}).rename_axis("n_jobs").round(2)

# %% [markdown]
# **Закон Амдала (Amdahl's law).** Если доля p работы делится между N исполнителями, а
# остальное (1 − p) — последовательно (запуск процессов, передача данных, сбор
# результатов), то ускорение S(N) = 1 / ((1 − p) + p / N). Из измеренного ускорения на двух
# процессах найдём p и посмотрим, что закон обещает дальше, — и что на деле дали 4 процесса
# на 2 ядрах.

# %%
# NBVAL_IGNORE_OUTPUT
share = scaling.parallel_share(speedup[2], 2)
print(f"ускорение на 2 процессах: {speedup[2]:.2f}×, потолок на 2 ядрах — 2×")
print(f"параллельная доля работы p = {share:.2f}")
print(f"Амдал: 4 ядра дали бы {scaling.amdahl_speedup(share, 4):.2f}×, ")
print(f"       бесконечно много ядер — не больше {scaling.amdahl_ceiling(share):.1f}×")
print(f"а 4 процесса на 2 ядрах дали {speedup[4]:.2f}×")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
workers = np.array([1, 2, 4])
ax.plot(workers, np.minimum(workers, 2), "k:", label="потолок 2 ядер")
amdahl = [scaling.amdahl_speedup(share, n) for n in workers]
ax.plot(workers, amdahl, "--", label="Амдал, если бы ядер хватало")
ax.plot(speedup.index, speedup.to_numpy(), "o-", label="измерено")
ax.set(xlabel="процессов (n_jobs)", ylabel="ускорение, раз", xticks=workers)
ax.set_title("Параллельный подбор C на двух ядрах")
ax.legend()
plt.show()

# %% [markdown]
# Ускорение на двух процессах меньше двух: у работы есть последовательная часть (данные
# копируются в каждый процесс, результаты собираются обратно), а ядра делят ещё и соседние
# процессы машины. Если машина занята (загрузка в начале ноутбука больше числа ядер),
# второму процессу может не достаться второго ядра, и ускорения не будет вовсе — тогда p
# выходит около нуля: параллелизм не создаёт ядер. Четыре процесса на двух ядрах по закону Амдала помогли бы, будь у машины
# четыре ядра, — но ядер два: лишние процессы только ждут своей очереди и добавляют
# переключения. **Эмпирическое правило (rule of thumb):** `n_jobs` не больше числа ядер,
# а вложенный параллелизм (процессы × потоки BLAS/OpenMP) — в сумме тоже не больше.

# %% [markdown]
# ## За пределами памяти: Dask
#
# Что делать, если данные не помещаются в память? Пакетный расчёт (batch scoring) по набору
# заказов, который лежит на диске частями (parquet, `part-00000.parquet`, …). Бюджет памяти
# для задачи — `memory_budget_mb` МБ. Два способа из `orchestration.batch_scoring`:
#
# - **pandas целиком**: `pd.read_parquet(папка)` — все части в одну таблицу, предсказание,
#   запись;
# - **Dask по частям**: `dask.dataframe` читает, предсказывает и записывает часть за частью;
#   каждый процесс-исполнитель (worker) держит в памяти одну часть.
#
# Запись набора — несколько секунд: генерация по частям, в памяти одна часть.

# %%
from mlops_course.orchestration import batch_scoring

source, scores_dir = workspace / "orders", workspace / "scores"
parts = batch_scoring.write_partitions(source, n_rows_on_disk, n_partitions, seed)
on_disk_mb = sum(path.stat().st_size for path in parts) / 2**20
in_memory_mb = pd.read_parquet(parts[0]).memory_usage(deep=True).sum() / 2**20 * len(parts)
print(f"заказов: {n_rows_on_disk}, частей: {len(parts)}")
print(f"в памяти pandas весь набор занял бы ≈ {in_memory_mb:.0f} МБ (бюджет {memory_budget_mb} МБ)")
print(f"больше бюджета: {in_memory_mb > memory_budget_mb}")

# %% [markdown]
# На диске набор в несколько раз меньше, чем в памяти (parquet сжимает столбцы, а pandas
# хранит каждую строку района и погоды отдельным объектом Python). Сначала pandas: задача
# запускается в **отдельном процессе** (`batch_scoring.run_job`), как её запустил бы
# планировщик, — так пик памяти принадлежит только ей. Процесс печатает, сколько памяти
# занимал до расчёта (после импортов) и каков был пик во время расчёта (резидентная память,
# RSS, измеряется каждые 10 мс). Время — один запуск: задача длится секунды.

# %%
# NBVAL_IGNORE_OUTPUT
import pickle

model_path = workspace / "model.pkl"
model_path.write_bytes(pickle.dumps(model))
pandas_job = batch_scoring.run_job("pandas", source, model_path, scores_dir / "pandas.parquet")
print(f"pandas: {pandas_job['seconds']:.1f} с, до расчёта {pandas_job['rss_before_mb']:.0f} МБ, "
      f"пик {pandas_job['peak_rss_mb']:.0f} МБ")  # fmt: skip

# %% [markdown]
# Теперь Dask distributed. `LocalCluster` — настоящий кластер на одной машине: планировщик
# (scheduler) и два процесса-исполнителя по одному потоку, без веб-панели, с временными
# файлами в рабочей папке. Запуск кластера — разовые **несколько секунд** (процессы
# стартуют и импортируют scikit-learn).

# %%
import importlib
import logging

from distributed import Client, LocalCluster

cluster = LocalCluster(
    processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
    silence_logs=logging.ERROR, local_directory=str(workspace / "dask"),
)  # fmt: skip
client = Client(cluster)
client.run(importlib.import_module, "sklearn.linear_model")  # what unpickling the model needs
print(f"исполнителей: {len(client.scheduler_info()['workers'])}, потоков у каждого: 1")

# %%
# NBVAL_IGNORE_OUTPUT
import time

client.run(batch_scoring.start_memory_sampling)  # every worker samples its own memory
started = time.perf_counter()
dask_summary = batch_scoring.score_with_dask(source, model, scores_dir / "dask")
dask_seconds = time.perf_counter() - started
dask_memory = list(client.run(batch_scoring.stop_memory_sampling).values())
for number, worker in enumerate(dask_memory, start=1):
    print(f"исполнитель {number}: до задачи {worker['rss_before_mb']:.0f} МБ, "
          f"пик {worker['peak_rss_mb']:.0f} МБ")  # fmt: skip
print(f"Dask: {dask_seconds:.1f} с")

# %% [markdown]
# Результаты одни и те же — иначе сравнивать время и память было бы бессмысленно:

# %%
pandas_scores = batch_scoring.read_scores(scores_dir / "pandas.parquet")
dask_scores = batch_scoring.read_scores(scores_dir / "dask")
same_orders = pandas_scores["order_id"].equals(dask_scores["order_id"])
gap = (pandas_scores["probability"] - dask_scores["probability"]).abs().max()
print(f"оценено заказов: pandas {pandas_job['rows']}, Dask {dask_summary.rows}")
print(f"заказы те же: {same_orders}")
print(f"вероятности совпадают (разница < 1e-12): {gap < 1e-12}")
print(f"средняя вероятность опоздания: {dask_summary.mean_probability:.4f}")

# %%
# NBVAL_IGNORE_OUTPUT
busiest = max(dask_memory, key=lambda worker: worker["peak_rss_mb"] - worker["rss_before_mb"])
memory = pd.DataFrame(
    {
        "pandas целиком": [n_rows_on_disk, len(parts), 1, pandas_job["rss_before_mb"],
                           pandas_job["peak_rss_mb"], pandas_job["seconds"]],
        "Dask по частям": [dask_summary.rows, dask_summary.partitions, len(dask_memory),
                           busiest["rss_before_mb"], busiest["peak_rss_mb"], dask_seconds],
    },
    index=["строк", "частей", "процессов", "МБ до задачи", "пик МБ", "секунд"],
).T  # fmt: skip
memory["прирост МБ"] = memory["пик МБ"] - memory["МБ до задачи"]
memory.round(1)

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.barh(memory.index, memory["прирост МБ"], color=["tab:orange", "tab:blue"])
ax.axvline(memory_budget_mb, color="k", linestyle="--", label=f"бюджет {memory_budget_mb} МБ")
ax.set(xlabel="прирост памяти процесса за задачу, МБ", title="Пакетный расчёт: память")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Честный итог сравнения на одной машине с двумя ядрами:
#
# - **Память.** pandas держит весь набор сразу и ещё промежуточные таблицы конвейера
#   (числовые признаки, one-hot-кодирование): его прирост памяти в несколько раз больше
#   бюджета. Dask в каждый момент держит в исполнителе одну часть: прирост — доля бюджета,
#   и он **не растёт с данными** — в десять раз больше частей дадут ту же картину, только
#   дольше. В этом выигрыш Dask на одной машине.
# - **Время** зависит от машины и от того, заняты ли её ядра соседями, — сравните секунды
#   в таблице. У Dask есть цена: планирование задач, передача модели исполнителям, запись
#   по частям; зато у него два процесса на двух ядрах, а pandas считает в одном. При
#   подготовке курса на 2 млн строк pandas был быстрее почти вчетверо (2.0 с против 7.6 с),
#   на свободной машине с 1.2 млн строк секунды бывали почти равны и Dask иногда выигрывал
#   немного. Надёжного выигрыша по времени на одной машине у Dask нет; выигрыш, который от
#   машины не зависит, — память. Пока данные помещаются в память одной
#   машины, pandas — правильный выбор; Dask нужен, когда не помещаются или когда машин
#   больше одной.
#
# Главное — тот же код работает на кластере из многих машин. В `score_with_dask` нет ни
# слова о том, где он выполняется; меняется **одна строка** — к какому планировщику
# подключён клиент:
#
# ```python
# client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # эта машина
# client = Client("tcp://dask-scheduler.internal:8786")              # кластер
# ```
#
# Задача как отдельный процесс принимает тот же адрес параметром:
# `python -m mlops_course.orchestration.batch_scoring dask ПАПКА model.pkl ВЫХОД
# --scheduler tcp://dask-scheduler.internal:8786`. Данные тогда должны лежать там, где их
# видят все машины (объектное хранилище: `s3://…` вместо локальной папки) — и это тоже
# одна строка, путь.

# %%
client.close()
cluster.close()
print("кластер Dask остановлен")

# %% [markdown]
# ## Пропускная способность сервиса и число процессов
#
# Сервис курса (`python -m mlops_course.serving`, ноутбук 03) по умолчанию — один процесс
# uvicorn. Параметр `--workers N` запускает N процессов на одном слушающем сокете, у каждого
# своя копия модели. Запустим модель из раздела о кривых роста двумя сервисами — с 1 и с 2
# процессами — и нагрузим каждый небольшим асинхронным генератором нагрузки
# (`serving.load_test`): `concurrency` клиентов одновременно, каждый шлёт заказ (одна строка),
# ждёт ответа и шлёт следующий. Запуск двух сервисов — разовые **несколько секунд** (импорты
# и загрузка модели в каждом процессе).

# %%
import mlflow.sklearn

from mlops_course.serving.background import start_service
from mlops_course.versioning.tracking import SKOPS_TRUSTED_TYPES, model_requirements

model_dir = workspace / "served-model"
if not model_dir.exists():
    mlflow.sklearn.save_model(model, str(model_dir), skops_trusted_types=SKOPS_TRUSTED_TYPES,
                              pip_requirements=model_requirements())  # fmt: skip
names = {1: "1 процесс", 2: "2 процесса"}
services = {
    names[n]: start_service(str(model_dir), wait=False, extra_args=[
        "--workers", str(n), "--log-path", str(workspace / f"predictions-{n}.sqlite")])
    for n in names
}  # fmt: skip
for service in services.values():
    service.wait_ready(120)
print("сервисы готовы:", ", ".join(services))

# %% [markdown]
# Раунды чередуются (1 процесс, 2 процесса, снова 1, …), и в таблице — медиана по раундам:
# так соседняя нагрузка на машине бьёт по обоим сервисам одинаково. Кроме запросов в
# секунду и задержек (p50 — медиана, p99 — время, которое превышает лишь 1 % запросов)
# считаем, сколько ядер было занято: процессами сервиса и самим генератором нагрузки.

# %%
# NBVAL_IGNORE_OUTPUT
from mlops_course.serving.client import encode_orders

fresh = generate_orders(500, seed + 1, first_id=10_000_000)
bodies = [encode_orders(fresh.iloc[[i]]) for i in range(len(fresh))]
rounds = scaling.throughput_rounds(
    services, bodies, load_rounds, concurrency=concurrency, duration_s=load_seconds, warmup_s=0.25
)
throughput = rounds.groupby("service", sort=False).median(numeric_only=True).drop(columns="round")
throughput["занято ядер всего"] = throughput["server_cores"] + throughput["client_cores"]
throughput.round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].bar(throughput.index, throughput["requests_per_s"], color="tab:blue")
axes[0].set(ylabel="запросов в секунду", title="Пропускная способность")
axes[1].bar(throughput.index, throughput["p99_ms"], color="tab:orange")
axes[1].set(ylabel="мс", title=f"Задержка p99 при {concurrency} клиентах")
fig.tight_layout()
plt.show()

# %%
for service in services.values():
    service.stop()
print("сервисы остановлены")

# %% [markdown]
# Как читать таблицу:
#
# - Один процесс uvicorn выполняет запросы по очереди: модель (проверки входа, конвейер
#   scikit-learn) считает на одном ядре (`server_cores` не больше 1), и пропускная
#   способность упирается в это ядро.
# - Второй процесс прибавляет, только если ему досталось второе ядро: тогда `server_cores`
#   больше 1, запросов в секунду больше, а медиана задержки (p50) меньше: запросы меньше
#   ждут в очереди. Хвост (p99) может и не уменьшиться: два процесса сервиса и генератор
#   нагрузки делят два ядра, и редкий запрос ждёт, пока система отдаст ему ядро.
#   Ровно вдвое не выходит никогда: генератор нагрузки работает на той же машине и сам
#   занимает часть ядра (`client_cores`). А если ядра заняты соседними процессами
#   машины, «занято ядер всего» у двух процессов не больше, чем у одного, и прибавки нет.
# - Это и есть ответ, почему **процессов больше, чем ядер, не помогают**: запросы считает
#   ядро, а не процесс. Когда «занято ядер всего» близко к числу ядер, третий процесс
#   будет делить те же ядра по очереди, добавляя переключения и копию модели в памяти.
# - Поэтому в Kubernetes курс запускает один процесс на под (`deploy/k8s/deployment.yaml`)
#   и масштабирует поды: `deploy/k8s/hpa.yaml` держит от 2 до 10 подов так, чтобы средняя
#   загрузка CPU была около 70 %, — новые поды получают новые ядра на других машинах.
#
# С несколькими процессами у каждого свои счётчики Prometheus (`/metrics` отвечает тот, кто
# принял соединение), а журнал предсказаний — один файл sqlite на всех; поэтому
# горизонтальное масштабирование подами, где Prometheus опрашивает каждый под отдельно,
# ещё и проще наблюдать.

# %% [markdown]
# ## Когда одной машины мало
#
# Короткая карта: что упёрлось, чем это решают и что меняется в коде курса. Почти везде —
# одна настройка, потому что код с самого начала не знает, где он выполняется.
#
# | Что упёрлось | Чем решают | Что меняется в коде |
# |---|---|---|
# | пакетный расчёт или обучение: данные не помещаются в память, одна машина считает слишком долго | кластер Dask (в Kubernetes — dask-kubernetes), Ray, Spark | Dask: адрес планировщика, `Client("tcp://scheduler:8786")`; Ray: `ray.init(address="ray://head:10001")`; Spark: `SparkSession.builder.master("spark://master:7077")` — но код на pandas для Spark придётся переписать на его DataFrame, это уже не одна строка |
# | сервис не успевает за запросами | Kubernetes: Deployment + HorizontalPodAutoscaler (`deploy/k8s/hpa.yaml`) | ничего: один процесс uvicorn на под, число подов (2–10) меняет HPA по загрузке CPU |
# | эксперименты и реестр моделей нужны всей команде | удалённый сервер MLflow + хранилище артефактов (S3, MinIO) | `MLFLOW_TRACKING_URI=http://mlflow:5000` (так в `deploy/k8s/deployment.yaml`) вместо sqlite-файла; сервер запускают с `--artifacts-destination s3://…` |
# | данные и модели DVC нужны всем машинам | DVC remote в объектном хранилище | `dvc remote add -d storage s3://bucket/dvc` (строка в `.dvc/config`); дальше те же `dvc push` и `dvc pull` |
#
# Порядок действий тот же, что в этом ноутбуке: сначала измерить (где время и память, какой
# показатель роста), потом убрать постоянные затраты (пакеты вместо строк, векторизация),
# потом занять все ядра одной машины — и только потом добавлять машины.

# %% [markdown]
# ## Итоги
#
# - Как растёт стоимость, видно по наклону на осях log–log: обучение обеих моделей курса
#   растёт почти линейно (k близок к 1), время вызова предсказания на малых пакетах почти
#   постоянно (k ≈ 0), поэтому строка в большом пакете в тысячи раз дешевле строки,
#   пришедшей одна.
# - Векторизация меняет константу, а не показатель: у цикла по строкам и у numpy наклоны
#   близки, но цикл в разы дороже на каждой строке.
# - Параллелизм на одной машине ограничен числом ядер и последовательной долей работы
#   (закон Амдала); `n_jobs` больше числа ядер не ускоряет.
# - Dask на одной машине с двумя ядрами не даёт надёжного выигрыша по времени, зато его
#   память не растёт с данными; а тот же код работает на кластере — меняется адрес
#   планировщика.
# - Второй процесс uvicorn прибавляет пропускной способности, только если ему досталось
#   свободное ядро; процессы сверх ядер — нет: сервис масштабируют подами (HPA).

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("07_scalability")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: ""}
check_quiz("07_scalability", answers)

# %%
import shutil

shutil.rmtree(workspace)
print("рабочая папка ноутбука удалена: набор заказов, оценки, журналы сервиса")
