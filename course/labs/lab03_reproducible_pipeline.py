# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Лабораторная 3: воспроизводимый пайплайн (reproducible pipeline)
#
# Коллега передал вам скрипты, которыми обучал модель опозданий: `prepare.py` склеивает
# дневные выгрузки заказов в одну таблицу, `train.py` обучает на ней логистическую
# регрессию. Запустите их дважды — и модели выйдут разными. Вы найдёте каждый источник
# недетерминизма измерением, уберёте его, опишете пайплайн стадиями DVC с параметрами в
# `params.yaml` и запишете запуск в MLflow так, чтобы по нему модель можно было получить
# заново. К ноутбуку 06.
#
# Каждое упражнение проверяется автоматически: ✓ — верно, ✗ — что не так и как исправить.

# %% [markdown]
# ## Цели
#
# - находить источники недетерминизма измерением: менять по одному и смотреть, какой выход
#   изменился;
# - убирать их: канонический порядок данных, явные зёрна, `sorted` вместо порядка `set`,
#   параметры из `params.yaml`, а не из переменных окружения;
# - описывать пайплайн стадиями DVC (`deps`, `params`, `outs`, `metrics`) и закреплять ядро
#   OpenBLAS;
# - получать в двух независимых копиях проекта одни и те же md5 данных, модели и метрик;
# - записывать запуск в MLflow: параметры, метрики, md5 данных из `dvc.lock`, окружение и
#   коммит.
#
# Слайд лекции: «Основные проблемы в MLOps» (3. Проблема воспроизводимости).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# Выгрузки заказов: дней и заказов в день
n_days = 5
orders_per_day = 400

# %% [markdown]
# ## Проект коллеги
#
# Проект лежит в рабочей папке курса, у него свой git-репозиторий с первым коммитом и
# инициализированный DVC — ваш checkout курса он не трогает. Служебное состояние DVC
# (`DVC_SITE_CACHE_DIR`) тоже в рабочей папке. Команды в проекте выполняет объект
# `project`: `project.dvc("repro")`, `project.git("log")`, `project.commit("...")`.
# Ядро ноутбука переходит в папку проекта: ячейки `%%writefile` ниже пишут файлы туда.

# %%
import os
import shutil
from pathlib import Path

from mlops_course.classroom.checks import run_check
from mlops_course.classroom.lab_checks import lab03_reproducible_pipeline as lab
from mlops_course.config import display_path, work_dir

os.chdir(work_dir())  # the lab's folder is replaced below: do not stand in it
shutil.rmtree(work_dir(lab.LAB))
home = work_dir(lab.LAB)
project = lab.create_project(home / "project", seed, n_days, orders_per_day)
os.chdir(project.root)
print("проект:", display_path(project.root))
print("коммит:", project.git("log", "--format=%s"))
print("выгрузки:", sorted(path.name for path in Path("data/raw").iterdir()))

# %% [markdown]
# Скрипты коллеги в том виде, в каком он их передал:

# %%
print(Path("prepare.py").read_text())

# %%
print(Path("train.py").read_text())

# %% [markdown]
# ## Диагноз: меняем по одному источнику
#
# «Запустить дважды и сравнить» говорит, *что* результат не воспроизводится, но не *почему*.
# Поэтому `lab.diagnose` запускает оба скрипта в свежих копиях проекта, в отдельных
# процессах, и в каждом запуске меняет **ровно один** источник по сравнению с базовым:
#
# | источник | базовый запуск | изменённый |
# |---|---|---|
# | что меняется само по себе | — | тот же запуск ещё раз |
# | общий генератор случайных чисел | `np.random.seed(0)`, `random.seed(0)` | зерно 1 |
# | хэш-рандомизация строк | `PYTHONHASHSEED=1` | `PYTHONHASHSEED=2` |
# | переменная окружения | `LATE_MODEL_C` не задана | `LATE_MODEL_C=0.05` |
# | порядок файлов | файлы создаются и перечисляются по имени | в обратном порядке |
#
# и сравнивает md5 выходов с базовым запуском. Зерно общего генератора задаётся до
# запуска скрипта — так проверка отделяет «числа из общего генератора» от генератора,
# которого не задать никаким общим зерном. Порядок файлов задаёт сама проверка
# (`os.listdir` и `os.scandir` в её процессах отдают имена по алфавиту или наоборот):
# настоящая файловая система порядка не обещает, а проверке нужен один и тот же ответ на
# любой машине. По той же причине во всех запусках закреплено ядро OpenBLAS
# (`OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1`, как в `dvc.yaml` курса): без этого
# биты модели зависят от процессора (ноутбук 06).

# %%
before = lab.diagnose(project.root)
before

# %%
by_title = {source.key: source.title for source in lab.SOURCES}
print("меняют model.pkl:", (before[lab.MODEL] == "другой").sum(), "источника из", len(before))
print("PYTHONHASHSEED:", dict(before.loc[by_title["hash"], list(lab.OUTPUTS)]))

# %% [markdown]
# Порядок обхода множества меняет `model.pkl`, но не метрики: те же признаки в другом
# порядке дают модель с теми же метриками до 6 знаков (так они округлены), а файл модели —
# другой, и его md5 в `dvc.lock` не совпадёт.
#
# ## Упражнение 1. Порядок данных
#
# `prepare.py` склеивает файлы в том порядке, в каком их отдаёт `os.listdir`, — в порядке
# файловой системы: на ext4 он зависит от хэшей имён, на tmpfs обратен порядку создания, на
# другой машине другой. Строки `data/orders.csv` получаются в другом порядке, а дальше
# случайное разбиение выбирает позиции, а не заказы.
#
# Перепишите склейку так, чтобы `data/orders.csv` был одним и тем же побайтно:
#
# - отсортируйте имена файлов: `sorted(os.listdir(RAW))`;
# - приведите строки к каноническому порядку: `sort_values("order_id", ignore_index=True)`
#   (тогда порядок не зависит даже от имён файлов).
#
# Ячейка ниже записывает `prepare.py` в проект (`%%writefile`): исправьте её, запустите,
# затем запустите проверку.

# %%
# %%writefile prepare.py
"""Merge the daily exports in data/raw/ into data/orders.csv, in a canonical order."""

import os

import pandas as pd

RAW = "data/raw"

### BEGIN SOLUTION склейте файлы в постоянном порядке: имена отсортированы, строки — по order_id
names = sorted(os.listdir(RAW))  # the file system's order is not ours to rely on
frames = [pd.read_csv(os.path.join(RAW, name)) for name in names]
orders = pd.concat(frames, ignore_index=True).sort_values("order_id", ignore_index=True)
### END SOLUTION
orders.to_csv("data/orders.csv", index=False)

# %%
run_check(lab.check_prepare, project.root)

# %% [markdown]
# ## Упражнение 2. Параметры, зёрна и порядок признаков
#
# В `train.py` три источника:
#
# ```python
# C = float(os.environ.get("LATE_MODEL_C", "1.0"))  # on my laptop: export LATE_MODEL_C=0.3
# features = list(set(orders.columns) - {"order_id", "timestamp", "is_late"})
# X_fit, X_test, y_fit, y_test = train_test_split(X, orders["is_late"], test_size=0.25)
# ```
#
# - **параметр из окружения**: у коллеги было `LATE_MODEL_C=0.3`, у вас и в CI переменной
#   нет, и модель молча обучается с C = 1. Все параметры — в `params.yaml` (его запишет
#   следующая ячейка), скрипт читает их оттуда: `yaml.safe_load(file)["train"]`;
# - **порядок множества**: список из `set` строк в каждом процессе свой — столбцы модели
#   идут в другом порядке. `sorted(set(...))`;
# - **скрытая случайность**: `train_test_split` без `random_state` берёт числа из общего
#   генератора numpy, в новом процессе они новые. `random_state=params["seed"]`.
#
# Проверка запустит `prepare.py` и `train.py` с каждым изменённым источником и ещё дважды
# — с другими `train.C` и `train.seed` в `params.yaml`: модель обязана от них зависеть,
# иначе `params.yaml` врёт о том, как она получена.

# %%
params_yaml = f"""\
train:
  seed: {seed}
  C: 0.3            # LATE_MODEL_C on the colleague's laptop, now pinned
  test_size: 0.25
"""
Path("params.yaml").write_text(params_yaml)
print(Path("params.yaml").read_text())

# %%
# %%writefile train.py
"""Train the delivery-delay model on data/orders.csv; write model.pkl and metrics.json."""

import json
import pickle

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

### BEGIN SOLUTION params — секция train файла params.yaml, а не переменная окружения
with open("params.yaml") as file:
    params = yaml.safe_load(file)["train"]
### END SOLUTION

orders = pd.read_csv("data/orders.csv")
### BEGIN SOLUTION признаки в постоянном порядке, X = pd.get_dummies(...), разбиение с долей и зерном из params
features = sorted(set(orders.columns) - {"order_id", "timestamp", "is_late"})
X = pd.get_dummies(orders[features], dtype=float)
X_fit, X_test, y_fit, y_test = train_test_split(
    X, orders["is_late"], test_size=params["test_size"], random_state=params["seed"]
)
### END SOLUTION

### BEGIN SOLUTION та же модель, что у коллеги, но C — из params
model = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=1000))
### END SOLUTION
model.fit(X_fit, y_fit)
p_late = model.predict_proba(X_test)[:, 1]
metrics = {"roc_auc": roc_auc_score(y_test, p_late), "log_loss": log_loss(y_test, p_late)}

with open("model.pkl", "wb") as file:
    pickle.dump(model, file)
with open("metrics.json", "w") as file:
    json.dump({name: round(value, 6) for name, value in metrics.items()}, file, indent=2)

# %%
run_check(lab.check_train, project.root)

# %% [markdown]
# Тот же диагноз, что в начале, — теперь на ваших скриптах:

# %%
after = lab.diagnose(project.root)
after

# %%
import matplotlib.pyplot as plt
import numpy as np

labels = [source.label for source in lab.SOURCES]
panels = {"скрипты коллеги": before, "ваши скрипты": after}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for ax, (title, table) in zip(axes, panels.items(), strict=True):
    changed = (table[list(lab.OUTPUTS)] == "другой").to_numpy()
    ax.imshow(changed, cmap="RdYlGn_r", vmin=-0.4, vmax=1.4, aspect="auto")
    for (row, col), value in np.ndenumerate(changed):
        ax.text(col, row, "другой" if value else "тот же", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(lab.OUTPUTS)), [Path(name).name for name in lab.OUTPUTS])
    ax.set_yticks(range(len(labels)), labels)
    ax.set_title(title)
    ax.set_xlabel("md5 выхода против базового запуска")
fig.suptitle("Меняем один источник недетерминизма: какие выходы становятся другими")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Упражнение 3. Стадии DVC
#
# Скрипты воспроизводимы, но запускать их надо по порядку и помнить, что от чего зависит.
# Это работа DVC: `dvc.yaml` описывает стадии — команду (`cmd`), входы (`deps`), параметры
# (`params`), выходы (`outs`) и метрики (`metrics`), а `dvc repro` выполняет только те
# стадии, у которых что-то из объявленного изменилось, и записывает md5 всех входов и
# выходов в `dvc.lock`.
#
# Стадия `prepare` уже написана. Допишите `train`:
#
# - `cmd`: `python train.py` с закреплённым ядром OpenBLAS, как в `dvc.yaml` курса:
#   `OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1 python train.py`;
# - `deps`: `train.py` и `data/orders.csv`;
# - `params`: секция `train` целиком (`- train`): DVC перезапустит стадию, когда изменится
#   любой её параметр;
# - `outs`: `model.pkl`; `metrics`: `metrics.json` с `cache: false` (метрики хранит git,
#   а видят `dvc metrics show` и `dvc metrics diff`).
#
# Проверка прочитает `dvc.yaml`, затем сделает две свежие копии проекта (у каждой свой
# `git init` и коммит, свой кэш DVC) и выполнит `dvc repro` в обеих: во второй — с другим
# `PYTHONHASHSEED`, заданной `LATE_MODEL_C` и файлами, созданными в обратном порядке.
# `dvc.lock` обеих копий должен записать одни и те же md5.

# %%
prepare_stage = """\
stages:
  prepare:
    cmd: python prepare.py
    deps:
      - prepare.py
      - data/raw
    outs:
      - data/orders.csv
"""

# %%
train_stage = """\
  train:
    ### BEGIN SOLUTION стадия train: cmd с закреплённым ядром OpenBLAS, deps, params, outs, metrics (см. задание выше)
    cmd: OPENBLAS_CORETYPE=Prescott OPENBLAS_NUM_THREADS=1 python train.py
    deps:
      - train.py
      - data/orders.csv
    params:
      - train
    outs:
      - model.pkl
    metrics:
      - metrics.json:
          cache: false
    ### END SOLUTION
"""
Path("dvc.yaml").write_text(prepare_stage + train_stage)
print("записан dvc.yaml")

# %%
run_check(lab.check_dvc_stages, project.root)

# %% [markdown]
# Теперь `dvc repro` в самом проекте. С нуля DVC выполнит обе стадии; результат —
# `dvc.lock` с md5 — записываем в git вместе с `dvc.yaml`, `params.yaml` и скриптами.

# %%
import time

from mlops_course.versioning import sandbox

started = time.perf_counter()
report = sandbox.stage_report(project.dvc("repro"))
print(f"dvc repro: {time.perf_counter() - started:.1f} с; выполнены:", ", ".join(report["ran"]))
commit = project.commit("Воспроизводимый пайплайн: стадии DVC и params.yaml")
print("коммит:", project.git("log", "-1", "--format=%s"))
for name, md5 in project.lock_hashes().items():
    print(f"{name:<16} md5 {md5[: lab.SHORT]}")

# %% [markdown]
# Те же md5, что в двух копиях проверки: ваш проект, копия A и копия B получили одни и те
# же данные, модель и метрики. Повторный `dvc repro` ничего не выполняет — все входы те же:

# %%
again = sandbox.stage_report(project.dvc("repro"))
print("выполнены:", ", ".join(again["ran"]) or "—", "| пропущены:", ", ".join(again["skipped"]))
print(project.dvc("status").strip())

# %% [markdown]
# ## Упражнение 4. Запуск в MLflow
#
# DVC знает, *из чего* сделана модель; MLflow хранит *запуски*, и по записи запуска модель
# должно быть можно получить заново. Напишите `log_run(project_dir)`: один запуск MLflow
# (`with mlflow.start_run() as run:`), в нём
#
# - параметры `params.yaml` под именами через точку, как у DVC: `train.seed`, `train.C`,
#   `train.test_size` (`mlflow.log_params`);
# - метрики `metrics.json` (`mlflow.log_metrics`);
# - тег `data.md5` — md5 `data/orders.csv` из `dvc.lock`
#   (`sandbox.lock_outputs(текст dvc.lock)` даёт `{путь: md5}`);
# - окружение: теги `env.<пакет>` из `tracking.environment_info()` (Python, numpy, pandas,
#   scikit-learn, …);
# - тег `git_commit` — коммит **проекта**: `tracking.git_commit(project_dir)`.
#
# Верните `run.info.run_id`. Запуски пишутся в базу sqlite в папке лабораторной:

# %%
import json

import mlflow
import yaml

from mlops_course.versioning import tracking

experiment_id = tracking.setup_tracking(home=home)
print("база MLflow:", display_path(tracking.tracking_dir(home) / "mlflow.db"))


# %%
def log_run(project_dir: Path) -> str:
    """One MLflow run: params.yaml, metrics.json, the data's md5, environment, git commit."""
    ### BEGIN SOLUTION один запуск: параметры, метрики, теги data.md5, env.* и git_commit; верните run.info.run_id
    params = yaml.safe_load((project_dir / "params.yaml").read_text())
    metrics = json.loads((project_dir / "metrics.json").read_text())
    outputs = sandbox.lock_outputs((project_dir / "dvc.lock").read_text())
    environment = tracking.environment_info()
    with mlflow.start_run(run_name="lab03") as run:
        mlflow.log_params({f"train.{k}": v for k, v in params["train"].items()})
        mlflow.log_metrics(metrics)
        mlflow.set_tags({f"env.{name}": version for name, version in environment.items()})
        mlflow.set_tag("data.md5", outputs["data/orders.csv"])
        mlflow.set_tag("git_commit", tracking.git_commit(project_dir))
    return run.info.run_id
    ### END SOLUTION


# %%
run_check(lab.check_mlflow_run, log_run, project.root)

# %% [markdown]
# Что записано в базе — `mlflow.search_runs`; по этим колонкам запуск ведёт к коммиту
# проекта (`git checkout`) и к версии данных в DVC (`dvc.lock` того коммита):

# %%
runs = mlflow.search_runs([experiment_id])
columns = ["params.train.C", "params.train.seed", "metrics.roc_auc", "metrics.log_loss"]
columns += ["tags.data.md5", "tags.git_commit", "tags.env.scikit-learn"]
table = runs[columns].copy()
table[["tags.data.md5", "tags.git_commit"]] = table[["tags.data.md5", "tags.git_commit"]].apply(
    lambda column: column.str[: lab.SHORT]
)
print("коммит проекта:", commit[: lab.SHORT])
table.T.rename(columns=lambda i: f"запуск {i + 1}")

# %% [markdown]
# Посмотреть запуск глазами: `make mlflow-ui MLFLOW_HOME=.work/lab03_reproducible_pipeline`
# и `http://127.0.0.1:5000`.
#
# ## Итоги
#
# - Источник недетерминизма находят измерением: меняют по одному (зерно общего генератора,
#   `PYTHONHASHSEED`, переменную окружения, порядок файлов) и смотрят, чей хэш изменился;
#   повтор с теми же настройками ловит то, что меняется само.
# - Убирают их: канонический порядок строк, `sorted` вместо порядка `set`, явные зёрна
#   (`random_state=params["seed"]`), все параметры — в `params.yaml`, ничего из окружения.
# - DVC связывает скрипты, параметры, данные и модель: `dvc.yaml` объявляет стадии,
#   `dvc.lock` записывает md5, и две независимые копии проекта дали одни и те же md5 данных,
#   модели и метрик. Ядро OpenBLAS закреплено в `cmd`, иначе биты модели зависели бы от
#   процессора.
# - Запуск MLflow хранит всё, чтобы повторить его: параметры, метрики, md5 данных из
#   `dvc.lock`, окружение и коммит проекта — и ничего из этого не вписано руками.
