# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Воспроизводимость (reproducibility)
#
# Лекция называет воспроизводимость третьей проблемой ML в production: результат, который
# нельзя получить заново, нельзя ни проверить, ни исправить. В ноутбуке 01 модель без зерна
# уже менялась от запуска к запуску. Здесь мы доводим дело до конца: находим каждый
# источник недетерминизма, измеряем его и убираем, а потом доказываем, что пайплайн курса
# воспроизводится до бита.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - назвать источники недетерминизма (случайность, порядок данных, число потоков,
#   хэш-рандомизация строк, версии библиотек, скрытое состояние ноутбука, ядро OpenBLAS
#   под конкретный процессор), показать каждый числом и убрать его;
# - записать окружение: lock-файл с хэшами, что MLflow сохраняет вместе с моделью,
#   `environment.yml` из того же lock-файла;
# - работать с DVC по-настоящему: `dvc repro`, параметры, эксперименты `dvc exp run`,
#   `dvc metrics diff` и `dvc params diff`, удалённое хранилище (`dvc push` / `dvc pull`),
#   возврат к старой версии данных и модели;
# - сравнивать запуски в MLflow, назначать чемпиона алиасом реестра и проходить по
#   родословной (lineage) от версии модели до запуска, хэша данных и git-коммита.
#
# Слайды лекции: «Основные проблемы в MLOps» (3. Проблема воспроизводимости),
# «Почему MLOps — это не просто DevOps для ML» (воспроизводимость экспериментов
# критически важна).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# orders in the in-process demonstrations
n_orders = 6_000
# repeated runs per source of non-determinism
n_runs = 5

# %%
import shutil

from mlops_course.config import display_path, work_dir

home = work_dir("06_reproducibility")
shutil.rmtree(home)  # start afresh: copies of the pipeline, DVC cache and remote, MLflow
home = work_dir("06_reproducibility")
print("папка ноутбука:", display_path(home))

# %% [markdown]
# ## Источники недетерминизма
#
# «Тот же код, те же данные, то же зерно (seed) — та же модель» верно, только если
# одинаково **всё**, от чего зависит результат. Разберём шесть источников: для каждого —
# сколько разных результатов дают повторные запуски до исправления и после. Отпечаток
# модели — `versioning.reproducibility.model_hash`: хэш коэффициентов, округлённых до
# 10 знаков; с `decimals=None` — хэш точных битов.
#
# ### 1. Случайность без зерна
#
# В ноутбуке 01 две модели на случайном разбиении без зерна вышли разными. Коварнее
# другое: «зерно задано» ещё не значит «результат повторим». `np.random.seed` в начале
# скрипта задаёт **общий** генератор — и любой новый вызов, даже просмотр
# `orders.sample(3)`, сдвигает все следующие случайные числа.

# %%
import numpy as np

from mlops_course.model.train import split, train_model
from mlops_course.scenario.generator import generate_orders
from mlops_course.versioning.reproducibility import model_hash

orders = generate_orders(n_orders, seed=seed)


def random_split_model(split_seed=None) -> str:
    """A random split; split_seed=None draws from numpy's global generator."""
    fit, _ = split(orders, by_time=False, seed=split_seed)
    return model_hash(train_model(fit, seed=seed))


# %%
unseeded = {random_split_model() for _ in range(n_runs)}
np.random.seed(seed)
global_seed = random_split_model()
np.random.seed(seed)
preview = orders.sample(3)  # a colleague adds a quick look at the data
same = global_seed == random_split_model()
print(f"без зерна, разных моделей из {n_runs}: {len(unseeded)}")
print("общее зерно, но добавлен просмотр данных — модель та же:", same)

# %% [markdown]
# **Исправление:** каждый случайный шаг получает своё зерно явно (`random_state=seed`,
# `np.random.default_rng(seed)`), а не берёт числа из общего генератора. Тогда
# посторонние вызовы ничего не сдвигают:

# %%
explicit = set()
for _ in range(n_runs):
    orders.sample(3)  # other uses of the global generator do not matter any more
    explicit.add(random_split_model(split_seed=seed))
print(f"явное зерно, разных моделей из {n_runs}: {len(explicit)}")
sources = [{"источник": "случайность без зерна", "до": len(unseeded), "после": len(explicit)}]

# %% [markdown]
# ### 2. Порядок данных
#
# Запрос к базе без `ORDER BY`, параллельная выгрузка, `glob` по файлам — строки приходят
# в другом порядке. Те же заказы, то же зерно — но случайное разбиение выбирает позиции, а
# не заказы, и в тест попадают другие заказы. Даже обучение на всех строках сразу суммирует
# их в другом порядке, а сложение чисел с плавающей точкой не ассоциативно.

# %%
from mlops_course.config import ID_COLUMN

shuffled = orders.sample(frac=1.0, random_state=seed)  # the same orders, another order
_, test_a = split(orders, by_time=False, seed=seed)
_, test_b = split(shuffled, by_time=False, seed=seed)
other = 1 - len(set(test_a[ID_COLUMN]) & set(test_b[ID_COLUMN])) / len(test_a)
print(f"тот же seed, другой порядок строк: в тесте {other:.0%} других заказов")
bits = {model_hash(train_model(frame, seed=seed), decimals=None) for frame in (orders, shuffled)}
rounded = {model_hash(train_model(frame, seed=seed)) for frame in (orders, shuffled)}
print(
    f"модель на всех строках, разных отпечатков: точных битов {len(bits)}, до 10 знаков {len(rounded)}"
)

# %% [markdown]
# **Исправление:** привести данные к каноническому порядку до всего остального —
# `sort_values(ID_COLUMN)` (так делает и разбиение по времени `split`: оно сортирует
# заказы по времени).


# %%
def canonical(frame):
    return frame.sort_values(ID_COLUMN, ignore_index=True)


sorted_bits = {
    model_hash(train_model(canonical(frame), seed=seed), decimals=None)
    for frame in (orders, shuffled)
}
print(f"после сортировки разных отпечатков точных битов: {len(sorted_bits)}")
sources.append({"источник": "порядок данных", "до": len(bits), "после": len(sorted_bits)})

# %% [markdown]
# ### 3. Число потоков
#
# Линейную алгебру делает библиотека BLAS (у numpy и scipy — OpenBLAS). На двух потоках
# она делит длинную сумму на две части и складывает частичные суммы — в другом порядке,
# чем один поток. Посчитаем ожидаемые потери по миллиону заказов одним скалярным
# произведением на 1 и на 2 потоках (`threadpoolctl` меняет число потоков на ходу).

# %%
import math

from threadpoolctl import threadpool_limits

rng = np.random.default_rng(seed)
p_late = rng.uniform(size=1_000_000)  # a million orders: probability of being late
damage = rng.uniform(100, 400, size=1_000_000)  # ₽ if late
totals = {}
for threads in (1, 2):
    with threadpool_limits(threads, user_api="blas"):
        totals[threads] = float(p_late @ damage)
print(f"1 поток − 2 потока: {totals[1] - totals[2]:.3g} ₽ из {totals[1]:,.0f} ₽")
exact = math.fsum(p_late * damage)  # correctly rounded, whatever the order
print(
    f"math.fsum − 1 поток: {exact - totals[1]:.3g} ₽, math.fsum − 2 потока: {exact - totals[2]:.3g} ₽"
)

# %% [markdown]
# Разница в последних битах, но хэш такой суммы уже другой. Обучение нашей логистической
# регрессии на 6 тысячах заказов от числа потоков не зависит — проверим, а не поверим:

# %%
with threadpool_limits(1, user_api="blas"):
    one_thread = model_hash(train_model(orders, seed=seed), decimals=None)
with threadpool_limits(2, user_api="blas"):
    two_threads = model_hash(train_model(orders, seed=seed), decimals=None)
print("модель: биты на 1 и на 2 потоках совпадают:", one_thread == two_threads)
with threadpool_limits(1, user_api="blas"):
    again = float(p_late @ damage)
print("сумма на одном потоке дважды — одинаково:", again == totals[1])
sources.append({"источник": "число потоков", "до": len(set(totals.values())), "после": 1})

# %% [markdown]
# **Исправление:** закрепить число потоков (`OPENBLAS_NUM_THREADS=1` — так запускаются
# стадии `train` и `evaluate` в `dvc.yaml`) или считать суммы, не зависящие от порядка
# (`math.fsum`). На этих данных один поток ничего не стоит; на больших задачах цена —
# время, и тогда порядок суммирования фиксируют иначе.
#
# ### 4. Хэш-рандомизация строк (`PYTHONHASHSEED`)
#
# Python при каждом запуске выбирает случайную «соль» для хэшей строк, поэтому порядок
# обхода множества (`set`) строк меняется **от процесса к процессу**, а внутри одного
# процесса постоянен. Типичная ошибка — категории из `set(frame["weather"])`: в каждом
# процессе свой порядок столбцов после one-hot. Внутри ноутбука этого не увидеть — нужны
# свежие процессы (`reproducibility.run_python` запускает их параллельно).

# %%
# NBVAL_IGNORE_OUTPUT
# (the order is random in every run: that is the point)
from mlops_course.versioning.reproducibility import run_python

categories = "weather = ['clear', 'rain', 'snow', 'fog'] * 100; print(list(set(weather)))"
processes = [f"процесс {i + 1}" for i in range(6)]
random_salt = run_python(categories, {name: {"PYTHONHASHSEED": None} for name in processes})
fixed_salt = run_python(categories, {name: {"PYTHONHASHSEED": "0"} for name in processes})
for name in processes:
    print(f"{name}: {random_salt[name]:<36} с PYTHONHASHSEED=0: {fixed_salt[name]}")

# %%
print("без PYTHONHASHSEED порядок меняется между процессами:", len(set(random_salt.values())) > 1)
print("с PYTHONHASHSEED=0 у всех процессов один порядок:", len(set(fixed_salt.values())) == 1)
sorted_code = categories.replace("list(set(weather))", "sorted(set(weather))")
sorted_out = run_python(sorted_code, {name: {"PYTHONHASHSEED": None} for name in processes})
print("sorted(set(...)) без всякой переменной — один порядок:", len(set(sorted_out.values())) == 1)
sources.append(
    {
        "источник": "хэш строк",
        "до": len(set(random_salt.values())),
        "после": len(set(sorted_out.values())),
    }
)

# %% [markdown]
# **Исправление:** не полагаться на порядок множеств и словарей, построенных из `set`
# (`sorted(...)`), а в процессах, где это трудно проверить, задать `PYTHONHASHSEED=0`.
# Хэши целых чисел не рандомизируются — поэтому ошибка проявляется только со строками.
#
# ### 5. Версии библиотек
#
# Та же модель в другой версии scikit-learn или numpy может не загрузиться или считать
# иначе. Ноутбук 01 («Провал 2: другое окружение») показал запись окружения рядом с моделью
# и отказ загрузить её под другими версиями. Здесь это не повторяем: ниже, в разделе
# «Окружение», — откуда берутся сами версии и что из них записывает MLflow.
#
# ### 6. Скрытое состояние ноутбука
#
# Ядро ноутбука помнит всё, что в нём выполняли, в любом порядке. Автор удалил выбросы
# (1 % самых дальних заказов), обучил модель — а потом, разглядывая данные, выполнил
# ячейку с удалением ещё раз и обучил модель заново. В сохранённом ноутбуке ячейки стоят по
# порядку, но результат получен не в этом порядке. Сыграем это тремя «ячейками»:


# %%
cells = [
    "frame = orders.copy()",
    "frame = frame[frame['distance_km'] < frame['distance_km'].quantile(0.99)]",
    "result = (len(frame), model_hash(train_model(frame, seed=seed)))",
]


def run_cells(order: list[int]) -> tuple[int, str]:
    """Execute the 'cells' in the given order in a fresh namespace, like a new kernel."""
    namespace = {"orders": orders, "seed": seed}
    namespace |= {"train_model": train_model, "model_hash": model_hash}
    for index in order:
        exec(cells[index], namespace)
    return namespace["result"]


# %%
session = run_cells([0, 1, 2, 1, 2])  # what the author actually ran
fresh = [run_cells([0, 1, 2]) for _ in range(2)]  # Restart & Run All, twice
print(f"сессия автора: {session[0]} заказов, модель {session[1]}")
print(f"с чистого ядра: {fresh[0][0]} заказов, модель {fresh[0][1]}")
print("повторный запуск с чистого ядра дал то же:", fresh[0] == fresh[1])
sources.append(
    {"источник": "скрытое состояние", "до": len({session, fresh[0]}), "после": len(set(fresh))}
)

# %% [markdown]
# Ни один запуск с чистого ядра не даст модель автора. **Исправление:** перед тем как
# сохранить результат, «Restart Kernel and Run All Cells». В этом курсе так выполняется
# каждый ноутбук: сборщик (papermill) и тесты (nbval) запускают его с нуля, сверху вниз,
# и сравнивают выводы с сохранёнными.
#
# ### Сводка: до и после исправления

# %%
import matplotlib.pyplot as plt
import pandas as pd

summary = pd.DataFrame(sources).set_index("источник")
fig, ax = plt.subplots(figsize=(9, 3.6))
summary.rename(columns={"до": "до исправления", "после": "после"}).plot.barh(
    ax=ax, color=["tab:red", "tab:green"]
)
ax.set(title="Сколько разных результатов дают повторные запуски", xlabel="разных результатов")
ax.set(ylabel="")
ax.invert_yaxis()
fig.tight_layout()
plt.show()

# %% [markdown]
# Осталось два источника, которые живут вне кода: версии библиотек и процессор. Первый —
# дело окружения, второй разберём в конце, на настоящем пайплайне.
#
# ## Окружение
#
# Версии всех 300 с лишним пакетов курса закреплены в `requirements.lock`, и у каждой —
# sha256-хэши файлов (`--hash=...`): установщик откажется ставить файл, хэш которого не
# совпал, даже если версия та же. `environment.yml` для Binder и conda генерируется из
# того же lock-файла (`make lock`). Проверим оба утверждения:

# %%
import re

import yaml

from mlops_course.config import repo_root

lock_text = (repo_root() / "requirements.lock").read_text()
blocks = re.split(r"\n(?=[A-Za-z0-9])", lock_text)  # one block per pinned package
pins = {b.split(" ", 1)[0] for b in blocks if re.match(r"^[A-Za-z0-9_.\-]+==", b)}
hashed = sum("--hash=sha256:" in b for b in blocks if b.split(" ", 1)[0] in pins)
environment = yaml.safe_load((repo_root() / "environment.yml").read_text())
conda_pins = {
    item for dep in environment["dependencies"] if isinstance(dep, dict) for item in dep["pip"]
}
print(f"requirements.lock: {len(pins)} пакетов, с хэшами: {hashed}")
print("environment.yml закрепляет те же версии:", conda_pins == pins)
print("пример:", sorted(p for p in pins if p.startswith("scikit-learn=="))[0])

# %% [markdown]
# Lock-файл описывает окружение, которое *должно* быть. Что было на самом деле, когда
# обучалась модель, MLflow записывает вместе с ней (`versioning.tracking.log_training_run`):
# теги `env.*` у запуска, `environment.json` и `requirements.txt` с точными версиями рядом
# с моделью. Их мы увидим в разделе MLflow; вот что попадёт в теги:

# %%
from mlops_course.versioning import tracking

record = tracking.environment_info()
print({key: value for key, value in record.items() if key != "platform"})
print("требования модели:", tracking.model_requirements())

# %% [markdown]
# Версию Python lock-файл не закрепляет: её ограничивают `pyproject.toml`
# (`requires-python`, 3.11) и `environment.yml` (`python=3.11`), а проверка при загрузке
# модели (ноутбук 01) сверяет только минорную версию: подойдёт любой 3.11.x. Платформа записывается, но не сверяется: что
# она значит для битов модели — в разделе про OpenBLAS.
#
# ## DVC по-настоящему
#
# Пайплайн курса — `dvc.yaml`: generate → validate → train → evaluate и drift; параметры —
# в `params.yaml`, хэши всех входов и выходов — в `dvc.lock`. Эксперименты, сравнения и
# возврат к старым версиям требуют git-репозитория с коммитами, а ваш checkout трогать
# нельзя. Поэтому `versioning.sandbox.create` копирует пайплайн (`dvc.yaml`, `dvc.lock`,
# `params.yaml`, настройки DVC и код `src/`) в папку ноутбука, делает там `git init` и
# первый коммит — как свежий клон. Служебное состояние DVC (`DVC_SITE_CACHE_DIR`) тоже
# лежит в папке ноутбука. Зерно ноутбука записывается в `params.yaml` копии.

# %%
import time
from contextlib import contextmanager

from mlops_course.versioning import sandbox


@contextmanager
def stopwatch(what: str):
    started = time.perf_counter()
    yield
    print(f"⏱ {what}: {time.perf_counter() - started:.1f} с")


seeds = {"data.seed": seed, "train.seed": seed}
box = sandbox.create(home / "copy-a", site_cache=home / "dvc-site", params=seeds)
pipeline_files = [f for f in box.git("ls-files").splitlines() if not f.startswith("src/")]
print("копия:", display_path(box.root), f"| в git: {len(pipeline_files)} файлов пайплайна и src/")
print("коммиты:", box.git("log", "--format=%s"))


# %% [markdown]
# `dvc repro` выполняет стадии, у которых изменились входы, и пропускает остальные. С нуля
# он выполнит все пять; разобьём запуск на части (`dvc repro <стадия>` выполняет стадию и
# всё, что перед ней), чтобы видеть время каждой.


# %%
def repro(copy: sandbox.Sandbox, *targets: str) -> None:
    """`dvc repro [targets]` in a pipeline copy: which stages ran, which were skipped."""
    with stopwatch(" ".join(["dvc repro", *targets])):
        report = sandbox.stage_report(copy.dvc("repro", *targets))
    print("выполнены:", ", ".join(report["ran"]) or "—")
    print("пропущены (входы не изменились):", ", ".join(report["skipped"]) or "—")


repro(box, "validate")  # generate -> validate

# %%
repro(box, "train")

# %%
repro(box, "evaluate")

# %%
repro(box)  # drift
print(box.dvc("status").strip())

# %% [markdown]
# Записываем результат в git: `dvc.lock` с хэшами и файлы метрик. Метрики (`cache: false`)
# по замыслу DVC хранятся в git; в checkout курса `data/` целиком в `.gitignore` (всё
# воспроизводится `make pipeline`), поэтому копия добавляет их явно (`git add -f`).
# Повторный `dvc repro` ничего не делает: все входы те же.

# %%
import pickle

first = box.commit("pipeline reproduced")
first_hashes, first_metrics = box.lock_hashes(), box.metrics()
first_model = pickle.loads(box.path("data/model/model.pkl").read_bytes())
repro(box)

# %% [markdown]
# ### Меняем параметр
#
# Усилим регуляризацию логистической регрессии: `train.params: {C: 0.01}` (по умолчанию
# C = 1). От этого параметра зависят только `train` и `evaluate` — DVC перезапустит их и
# пропустит генерацию, проверку и дрейф (запускаем в две ячейки, чтобы видеть время).

# %%
box.set_params({"train.params": {"C": 0.01}})
repro(box, "train")

# %%
repro(box)

# %% [markdown]
# Что изменилось по сравнению с последним коммитом — `dvc params diff` и
# `dvc metrics diff` (рабочая копия против `HEAD`):

# %%
with stopwatch("dvc params diff"):
    print(box.dvc("params", "diff"))

# %%
with stopwatch("dvc metrics diff"):
    metrics_diff = box.dvc("metrics", "diff", "--targets", "data/metrics/metrics.json")
print(metrics_diff)

# %%
second = box.commit("train.params.C = 0.01")
second_hashes, second_metrics = box.lock_hashes(), box.metrics()
second_model = pickle.loads(box.path("data/model/model.pkl").read_bytes())
changed = [name for name in first_hashes if first_hashes[name] != second_hashes[name]]
print("изменились выходы:", changed)

# %% [markdown]
# ### Эксперименты: `dvc exp run --temp -S`
#
# Эксперимент — запуск пайплайна с изменёнными параметрами без коммита: `-S` меняет
# параметр, `--temp` выполняет всё во временной копии, не трогая рабочую, а DVC сохраняет
# результат в git как ссылку эксперимента. Три эксперимента от текущего коммита: цена
# действия 40 и 80 ₽ вместо 60 и порог 0.5 «по умолчанию» вместо подобранного на
# валидации. (Очередь `--queue` / `--run-all` запускает фоновый обработчик — ~30 с лишних.)


# %%
def experiment(name: str, *changes: str) -> None:
    """`dvc exp run --temp -n name -S change ...` in copy A."""
    settings = [arg for change in changes for arg in ("-S", change)]
    with stopwatch(f"эксперимент {name}"):
        report = sandbox.stage_report(box.dvc("exp", "run", "--temp", "-n", name, *settings))
    print("выполнены:", ", ".join(report["ran"]), "| пропущены:", ", ".join(report["skipped"]))


experiment("action-40", "evaluate.costs.action=40")

# %%
experiment("action-80", "evaluate.costs.action=80")

# %%
experiment("threshold-0.5", "evaluate.threshold=0.5")

# %% [markdown]
# Все три эксперимента меняют только параметры оценки, поэтому DVC выполнил одну стадию
# `evaluate`, а модель взял из кэша. Эксперимент с новой производственной партией
# (`-S data.current_scenarios=[peak_load]`) идёт дольше 10 с, поэтому здесь его нет —
# попробуйте его в копии A сами: какие стадии DVC выполнит, а какие пропустит и почему?
# Таблица экспериментов — из
# `dvc exp show --json`; здесь только стабильные колонки (без времени и хэшей ревизий,
# они свои в каждом запуске):

# %%
with stopwatch("dvc exp show"):
    experiments = box.experiments(
        params=["train.params.C", "evaluate.costs.action", "evaluate.threshold"],
        metrics=["holdout.threshold", "holdout.cost_per_order", "current.cost_per_order"],
    )
experiments

# %% [markdown]
# Цена действия меняет подобранный на валидации порог и стоимость. Эксперимент
# `threshold-0.5` — та же модель с порогом «по умолчанию»: разница его
# `holdout.cost_per_order` и `main` — цена того, что порог не подобран. Лучший эксперимент можно сделать
# рабочей версией (`dvc exp apply <имя>`) и закоммитить.
#
# ### Возврат к старой версии: `git checkout` + `dvc checkout`
#
# Git хранит `dvc.lock` (какие хэши у данных и модели), кэш DVC — сами файлы. Вернём копию
# к первому коммиту: git вернёт `dvc.lock`, `params.yaml` и метрики, `dvc checkout` —
# модель и данные из кэша.

# %%
box.git("checkout", "-q", first)
with stopwatch("dvc checkout"):
    box.dvc("checkout")
print("метрики первого коммита вернулись в точности:", box.metrics() == first_metrics)
print("файлы совпадают с dvc.lock первого коммита:", box.workspace_hashes() == first_hashes)
print("C в params.yaml:", box.params()["train"]["params"].get("C", "по умолчанию (1.0)"))

# %%
box.git("checkout", "-q", "main")
with stopwatch("dvc checkout"):
    box.dvc("checkout")
print("снова последний коммит, файлы как в его dvc.lock:", box.workspace_hashes() == second_hashes)

# %% [markdown]
# ### Удалённое хранилище: `dvc push` и `dvc pull`
#
# Кэш лежит только на этой машине. Коллега или CI получают данные из удалённого
# хранилища (remote): в жизни это S3, GCS или SSH-сервер, здесь — папка рядом с копией
# (`--local`: настройка не попадает в git). `--all-commits` отправляет версии всех коммитов.

# %%
remote = home / "dvc-remote"
box.dvc("remote", "add", "--local", "-d", "storage", str(remote))
with stopwatch("dvc push --all-commits"):
    print(box.dvc("push", "--all-commits").strip())

# %% [markdown]
# Теперь «потеряем» всё: удалим кэш и файлы данных и модели, как на новой машине после
# `git clone`. `dvc pull` скачает их обратно.

# %%
shutil.rmtree(box.path(".work/dvc-cache"))
for name in set(box.lock_hashes()) - set(box.uncached_outputs()):
    box.path(name).unlink()
print(
    "на месте файлов:",
    sum(v is not None for v in box.workspace_hashes().values()),
    "из",
    len(second_hashes),
)
with stopwatch("dvc pull"):
    print(box.dvc("pull").strip())
print("всё вернулось побайтно:", box.workspace_hashes() == second_hashes)

# %% [markdown]
# ## MLflow по-настоящему
#
# DVC знает, *из чего* сделана модель; MLflow — *какие запуски были* и какая модель сейчас
# в production. Запишем в MLflow (база sqlite в папке ноутбука) обе модели из коммитов
# копии: C = 1 и C = 0.01. Каждому запуску — параметры, метрики, хэш обучающих данных, а
# вместо коммита вашего checkout — коммит копии, из которого модель получена
# (`tags={"git_commit": ...}`), и md5 из её `dvc.lock`.

# %%
import contextlib
from pathlib import Path

from mlops_course.orchestration import stages
from mlops_course.versioning import registry

experiment_id = tracking.setup_tracking(home=home)
with contextlib.chdir(box.root):  # the stage's paths are relative to the pipeline copy
    fit, _, holdout = stages.reference_splits(box.params())
print(f"обучение: {len(fit)} заказов, отложенная выборка: {len(holdout)}")

# %%
versions = {}
commits = {"C=1": (first, first_model, first_metrics, first_hashes)}
commits["C=0.01"] = (second, second_model, second_metrics, second_hashes)
with stopwatch("два запуска MLflow и две версии в реестре"):
    for name, (commit, model, metrics, hashes) in commits.items():
        scores = {
            f"{part}_{key}": value for part in metrics for key, value in metrics[part].items()
        }
        tags = {"git_commit": commit, "git_dirty": "false"}
        tags |= {"dvc.model_md5": hashes["data/model/model.pkl"]}
        tags |= {"dvc.reference_md5": hashes["data/raw/reference.csv"]}
        params = {"model": "logreg", "C": model.named_steps["classifier"].C}
        info = tracking.log_training_run(
            model, fit, holdout, params, scores, run_name=name, tags=tags
        )
        versions[name] = registry.register(info.model_uri)
print("версии в реестре:", versions)

# %% [markdown]
# Запуски в одной таблице — `mlflow.search_runs`, лучший сверху по стоимости ошибок на
# отложенной выборке (её модели не видели ни при обучении, ни при подборе порога):

# %%
import mlflow

columns = {
    "tags.mlflow.runName": "запуск",
    "params.C": "C",
    "metrics.holdout_cost_per_order": "₽ на заказ (отложенная)",
    "metrics.holdout_roc_auc": "ROC AUC (отложенная)",
    "metrics.current_cost_per_order": "₽ на заказ (зима)",
    "tags.data.train_data_hash": "хэш обучающих данных",
}
with stopwatch("mlflow.search_runs"):
    runs = mlflow.search_runs([experiment_id], order_by=["metrics.holdout_cost_per_order ASC"])
runs[list(columns)].rename(columns=columns).set_index("запуск").round(4)

# %% [markdown]
# Лучший по отложенной выборке назначается чемпионом (алиас `champion`), второй остаётся
# претендентом (`challenger`). Сервис загружает модель по алиасу, а не по номеру версии:
# сменить модель в production — значит передвинуть алиас.

# %%
best, runner_up = runs["tags.mlflow.runName"]
registry.promote(registry.MODEL_NAME, versions[best])
registry.set_alias(registry.MODEL_NAME, registry.CHALLENGER, versions[runner_up])
print(f"{best} (версия {versions[best]}) назначена чемпионом; алиасы:", registry.aliases())
with stopwatch("загрузка models:/delivery-delay@champion"):
    champion = registry.load_model()
dvc_model = commits[best][1]
same = np.array_equal(champion.predict_proba(holdout), dvc_model.predict_proba(holdout))
print("чемпион из реестра предсказывает побайтно как model.pkl из DVC:", same)

# %% [markdown]
# ### Родословная (lineage): версия → запуск → данные и коммит
#
# От версии в реестре — к запуску, от запуска — к коммиту копии, от коммита — к
# `dvc.lock`, в котором записаны md5 данных и модели. Сверим звенья между собой:

# %%
version = registry.model_version(registry.MODEL_NAME, versions[best])
run = mlflow.get_run(version.run_id)
tags, commit = run.data.tags, run.data.tags["git_commit"]
outs = sandbox.lock_outputs(box.git("show", f"{commit}:dvc.lock"))
subject = box.git("log", "-1", "--format=%s", commit)
print(f"версия {version.version} → запуск «{run.info.run_name}» → коммит копии «{subject}»")
model_ok = tags["dvc.model_md5"] == outs["data/model/model.pkl"]
data_ok = tags["dvc.reference_md5"] == outs["data/raw/reference.csv"]
print("md5 модели и обучающих данных в запуске = в dvc.lock того коммита:", model_ok, data_ok)
print("хэш обучающих строк (frame_hash):", tags["data.train_data_hash"])
print("окружение запуска:", {k: tags[k] for k in ("env.python", "env.scikit-learn", "env.numpy")})

# %% [markdown]
# По этой цепочке модель из production можно собрать заново: `git checkout <коммит>`,
# `dvc pull` — и те же данные, тот же `dvc.lock`. А вот что MLflow сохранил рядом с самой
# моделью — точные версии для её окружения:

# %%
with stopwatch("mlflow.pyfunc.get_model_dependencies"):
    requirements = mlflow.pyfunc.get_model_dependencies(f"models:/{registry.MODEL_NAME}@champion")
print(Path(requirements).read_text().strip())

# %% [markdown]
# Посмотреть запуски и реестр глазами: `make mlflow-ui MLFLOW_HOME=.work/06_reproducibility`
# и откройте `http://127.0.0.1:5000`.
#
# ## Доказательство: две независимые копии — одни и те же хэши
#
# Всё вместе: вторая копия пайплайна, сделанная с нуля (свой git, свой кэш DVC, ничего
# общего с первой), выполняет `dvc repro`. Если источники недетерминизма убраны, все
# выходы — данные, отчёт проверки, модель, метрики — совпадут с первой копией до бита.

# %%
twin = sandbox.create(home / "copy-b", site_cache=home / "dvc-site", params=seeds)
repro(twin, "validate")

# %%
repro(twin, "train")

# %%
repro(twin, "evaluate")

# %%
repro(twin)
twin_hashes = twin.lock_hashes()

# %%
side_by_side = pd.DataFrame({"копия A": first_hashes, "копия B": twin_hashes}).map(
    lambda md5: md5[:12]
)
side_by_side["совпадают"] = side_by_side["копия A"] == side_by_side["копия B"]
course_params = yaml.safe_load((repo_root() / "params.yaml").read_text())
if course_params == twin.params():  # the course's dvc.lock was made with these, elsewhere
    course_lock = sandbox.lock_outputs((repo_root() / "dvc.lock").read_text())
    side_by_side["dvc.lock курса"] = pd.Series(course_lock).str[:12]
print("все выходы совпали:", bool(side_by_side["совпадают"].all()))
side_by_side.rename_axis("выход (md5, первые 12 знаков)")

# %% [markdown]
# Две копии на одной машине совпали во всём. При параметрах курса (seed 42) совпадает и
# колонка `dvc.lock курса` — хэши, которые записали авторы курса на **другой** машине.
# Это не само собой разумеется: последний источник недетерминизма — процессор.
#
# ## Последний источник: ядро OpenBLAS выбирается по процессору
#
# OpenBLAS при загрузке смотрит, какие инструкции умеет процессор, и выбирает ядро:
# SSE3 (Prescott), AVX2 (Haswell), AVX-512 (SkylakeX). Ядра по-разному группируют
# умножения и сложения — и округляют по-разному. Переменная `OPENBLAS_CORETYPE` навязывает
# ядро; навязать ядро, инструкций которого у процессора нет, — значит уронить процесс
# («illegal instruction»), поэтому сначала читаем флаги процессора из `/proc/cpuinfo`.

# %%
# NBVAL_IGNORE_OUTPUT
# (which kernels this CPU has depends on the CPU)
from mlops_course.versioning import reproducibility

support = reproducibility.supported_kernels()
for kernel, needed in reproducibility.OPENBLAS_KERNELS.items():
    verdict = "есть" if support[kernel] else "нет — пропускаем (процесс упал бы)"
    print(f"{kernel:<9} нужны флаги {', '.join(needed)}: {verdict}")
kernels = [kernel for kernel, ok in support.items() if ok]

# %% [markdown]
# Обучим модель пайплайна ровно как стадия `train` (те же данные копии B, те же параметры,
# один поток) в свежем процессе на каждое ядро, плюс «auto»: ядро, которое OpenBLAS
# выбирает на этой машине сам (ядра, которых у процессора нет, пропускаются). `reproducibility.training_fingerprint` печатает md5
# сериализованной модели (его записывает `dvc.lock`), хэш точных битов коэффициентов и хэш
# до 10 знаков; имя ядра сообщает сама OpenBLAS (SSE3-ядро она называет Katmai: в этой
# сборке старые имена указывают на тот же набор ядер, что Prescott).

# %%
fingerprints = {}


def fingerprint(kernel: str) -> None:
    """Train in a fresh process with OPENBLAS_CORETYPE=kernel; a kernel the CPU lacks is skipped."""
    with stopwatch(f"обучение, OPENBLAS_CORETYPE={kernel}"):
        if kernel == "auto" or support[kernel]:
            fingerprints.update(reproducibility.kernel_fingerprints(twin.root, [kernel]))


fingerprint("auto")

# %%
fingerprint("Prescott")

# %%
fingerprint("Haswell")

# %%
fingerprint("SkylakeX")

# %%
# NBVAL_IGNORE_OUTPUT
# (which kernels exist, and which one "auto" is, depends on the CPU)
locked_md5 = twin_hashes["data/model/model.pkl"]
kernel_table = pd.DataFrame(fingerprints).T
kernel_table["= dvc.lock"] = kernel_table["md5"] == locked_md5
kernel_table["md5"] = kernel_table["md5"].str[:12]
kernel_table.rename_axis("OPENBLAS_CORETYPE").rename(columns={"kernel": "ядро по словам OpenBLAS"})

# %% [markdown]
# Таблица зависит от процессора (какие ядра есть и какое выбирает «auto»), поэтому её вывод
# тесты не сверяют; выводы, которые от процессора не зависят:

# %%
forced = {kernel: fingerprints[kernel] for kernel in kernels}
print(
    "Prescott (SSE3) повторяет model.pkl из dvc.lock:",
    forced.get("Prescott", {}).get("md5") == locked_md5,
)
print("у каждого ядра свои биты модели:", len({f["bits"] for f in forced.values()}) == len(forced))
print("до 10 знаков все модели одинаковы:", len({f["rounded"] for f in fingerprints.values()}) == 1)

# %% [markdown]
# Поэтому стадии `train` и `evaluate` в `dvc.yaml` запускаются с
# `OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1`: ядро SSE3 есть у **любого**
# процессора x86-64 (более быстрое ядро упало бы там, где нет AVX2, — как на некоторых
# Celeron), а один поток убирает и разницу от деления сумм. На наших данных это ничего
# заметного не стоит. Что это гарантирует и чего нет:
#
# - **гарантирует:** одно и то же ядро, а значит тот же `model.pkl` побайтно, на любом
#   процессоре x86-64, где numpy и scipy считают через OpenBLAS из своих пакетов (Linux,
#   Windows), при версиях из lock-файла — это и показала колонка `dvc.lock курса`;
# - **не гарантирует:** на Apple silicon (arm64) numpy использует не OpenBLAS, а Accelerate
#   от Apple, и переменная ни на что не влияет — `model.pkl` получит свой хэш, а
#   `make pipeline` перепишет `dvc.lock`. Так же на ARM-серверах (другие ядра OpenBLAS) и
#   при другой версии OpenBLAS;
# - **и большего не нужно:** модели до 10 знаков одинаковы, а метрики пайплайн округляет
#   до 6 знаков (`stages.rounded`): авторы курса измерили на четырёх ядрах четыре разных
#   `model.pkl` и один `metrics.json` (`data/README.md`). Вычисления с плавающей
#   точкой зависят от железа — поэтому сравнивать модели надёжнее по поведению (прогнозы,
#   метрики с разумной точностью), а побайтное совпадение обещать только там, где закреплено
#   всё, включая ядро.

# %%
shutil.rmtree(home / "copy-b")  # copy A stays in the work dir for a look: git log, dvc exp show
print("в папке ноутбука:", sorted(path.name for path in home.iterdir()))

# %% [markdown]
# ## Итоги
#
# - Шесть источников недетерминизма показаны числом (версии библиотек — в ноутбуке 01) и
#   убраны: явные зёрна вместо общего генератора, канонический порядок строк, закреплённое
#   число потоков, `sorted()` или `PYTHONHASHSEED`, закреплённые версии (lock-файл с
#   хэшами, запись окружения рядом с моделью), «Restart & Run All» перед сохранением. Седьмой — ядро OpenBLAS под процессор:
#   его закрепляет `OPENBLAS_CORETYPE=Prescott` в `dvc.yaml`, а на Apple silicon не
#   закрепить ничем.
# - DVC связывает код, параметры, данные и модель: `dvc repro` выполняет только то, что
#   изменилось; `dvc exp run --temp -S` пробует параметры, не трогая рабочую копию;
#   `dvc params diff` и `dvc metrics diff` показывают, что изменилось; `dvc push` / `pull`
#   переносят данные через удалённое хранилище; `git checkout` + `dvc checkout` возвращают
#   старую модель с её метриками в точности.
# - MLflow хранит запуски и реестр: сравнение запусков, чемпион по алиасу, родословная от
#   версии модели до коммита и md5 данных в `dvc.lock`.
# - Доказательство: две независимые копии пайплайна дали одинаковые хэши всех выходов.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("06_reproducibility")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: ""}
check_quiz("06_reproducibility", answers)
