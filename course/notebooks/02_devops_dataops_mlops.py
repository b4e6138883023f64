# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # От DevOps к DataOps и MLOps
#
# Лекция описывает эволюцию в три шага: **DevOps** автоматизирует развёртывание и проверку
# кода, **DataOps** — ETL-процессы и управление данными, **MLOps** добавляет модели: их
# обучение, версии и мониторинг. Здесь каждый шаг — работающий код на данных курса.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - написать модульный тест (unit test) и объяснить, что с ним делает CI;
# - поставить автоматическую проверку данных (валидацию) в шаг ETL и измерить, во что
#   обходится пропущенная плохая партия;
# - провести модель через «ворота качества» (quality gate) и хранить её версии в реестре
#   MLflow;
# - показать, почему «в ML код — это лишь часть системы», числами из самого курса.
#
# Слайд лекции: «Эволюция: от DevOps к MLOps».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# orders in the training and in the evaluation data
n_orders = 5_000
n_eval = 3_000

# %% [markdown]
# ## DevOps: код проверяется тестами
#
# Тест — маленькая функция, которая проверяет одно обещание кода. Проверим бизнес-метрику
# курса `evaluate.business_cost`: пропущенное опоздание стоит 300 ₽, ложная тревога — 50 ₽.
# Тесты записываем в файл, как в настоящем проекте, и запускаем `pytest`.

# %%
from mlops_course.config import display_path, work_dir

TESTS = """
from mlops_course.evaluate import business_cost


def test_missed_late_order_costs_300():
    assert business_cost([1], [0]) == 300


def test_false_alarm_costs_50():
    assert business_cost([0], [1]) == 50


def test_correct_predictions_cost_nothing():
    assert business_cost([0, 1], [0, 1]) == 0
"""
test_file = work_dir("devops") / "test_business_cost.py"
test_file.write_text(TESTS)
print("тесты записаны в", display_path(test_file))

# %%
import contextlib
import io
import os

import pytest


def run_pytest(path) -> int:
    """Run pytest quietly on one file; return its exit code (0 = all tests passed)."""
    # Only pytest itself: no config or plugins of the course, so it starts in a second.
    args = ["-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(path.parent)]
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int(pytest.main([*args, str(path)]))
    finally:
        del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]


print("код возврата pytest:", run_pytest(test_file), "(0 — все тесты прошли)")

# %% [markdown]
# Теперь «коллега» меняет код и путает цены местами. Запускаем те же тесты на
# новой версии функции — они ловят ошибку до того, как она попадёт в production.

# %%
import pandas as pd

namespace: dict = {}
exec(TESTS, namespace)
tests = {name: fn for name, fn in namespace.items() if name.startswith("test_")}


def buggy_business_cost(y_true, y_pred, costs=None):
    """The colleague's version: missed orders and false alarms priced the other way round."""
    missed = sum(t and not p for t, p in zip(y_true, y_pred, strict=True))
    alarms = sum(p and not t for t, p in zip(y_true, y_pred, strict=True))
    return missed * 50 + alarms * 300


# %%
def outcome(test) -> str:
    try:
        test()
    except AssertionError:
        return "✗ упал"
    return "✓ прошёл"


results = {"исходный код": {name: outcome(fn) for name, fn in tests.items()}}
namespace["business_cost"] = buggy_business_cost  # the tests now see the colleague's code
results["код коллеги"] = {name: outcome(fn) for name, fn in tests.items()}
pd.DataFrame(results)

# %% [markdown]
# **Непрерывная интеграция (CI, continuous integration)** делает то же самое на каждый
# push: поднимает чистую машину и запускает проверки. Вот шаги CI этого курса, прочитанные
# из `.github/workflows/ci.yml`:

# %%
import yaml

from mlops_course.config import repo_root

workflow = yaml.safe_load((repo_root() / ".github" / "workflows" / "ci.yml").read_text())
steps = [
    {"шаг": step.get("name", step.get("uses")), "что запускает": step.get("run", step.get("uses"))}
    for job in workflow["jobs"].values()
    for step in job["steps"]
]
pd.DataFrame(steps)

# %% [markdown]
# Если хоть одна проверка падает, изменение не сливается. Но тесты кода ничего не знают
# о **данных**: следующий шаг эволюции — DataOps.

# %% [markdown]
# ## DataOps: ETL с проверкой данных
#
# Каждую неделю приходит партия заказов. Шаг ETL прогоняет её через схему
# (`validation.validate_orders`, pandera) и пропускает в обучение только проверенные данные.
# На этой неделе новая версия приложения курьеров стала присылать расстояние в метрах.

# %%
from mlops_course.scenarios import make_batch
from mlops_course.validation import DataValidationError, validate_orders


def etl_step(batch: pd.DataFrame) -> pd.DataFrame:
    """Extract-transform-load with a gate: invalid batches never reach training."""
    validate_orders(batch).raise_for_violations()
    return batch.sort_values("timestamp").reset_index(drop=True)


good = make_batch(n_orders, seed=seed).frame
bad = make_batch(n_orders, seed=seed, scenarios="distance_in_metres").frame
print("хорошая партия:", len(etl_step(good)), "строк загружено")
try:
    etl_step(bad)
except DataValidationError as error:
    print(error)

# %% [markdown]
# Во что обошлась бы плохая партия, если бы проверки не было? Обучим модель на каждой
# партии и оценим на свежих заказах (с расстоянием в километрах, как в production):
# ROC AUC и бизнес-стоимость ошибок (`evaluate.CostTable`, порог безубыточности).

# %%
from mlops_course.evaluate import CostTable, evaluate_model
from mlops_course.train import train_model

fresh = make_batch(n_eval, seed=seed + 1000).frame
threshold = CostTable().break_even_threshold
models = {
    "хорошая партия": train_model(good, seed=seed),
    "партия в метрах": train_model(bad, seed=seed),
}
cost = (
    pd.DataFrame({name: evaluate_model(m, fresh, threshold) for name, m in models.items()})
    .T[["roc_auc", "predicted_late_rate", "cost_per_order", "cost_total"]]
    .round(3)
)
extra = cost.loc["партия в метрах", "cost_total"] - cost.loc["хорошая партия", "cost_total"]
print(f"лишние потери из-за плохой партии: {extra:,.0f} ₽ на {n_eval} заказов")
cost

# %% [markdown]
# ## MLOps: ворота качества и реестр моделей
#
# Модель — такой же артефакт, как код: у неё есть версии. Логируем запуск в MLflow (база
# sqlite в рабочей папке), регистрируем модель в реестре (model registry) и пропускаем
# в production (алиас `champion`) только через ворота качества: новая версия должна быть
# лучше текущей на тех же свежих данных.

# %%
# importing MLflow takes a few seconds, once
import shutil

from mlops_course import tracking

# %%
home = work_dir("02_devops_dataops_mlops")
# a fresh registry on every run, so version numbers are reproducible
shutil.rmtree(home / "mlflow", ignore_errors=True)
tracking.setup_tracking(home=home)


def log_and_register(model, train_frame) -> int:
    metrics = evaluate_model(model, fresh, threshold)
    info = tracking.log_training_run(model, train_frame, fresh, {"seed": seed}, metrics)
    return tracking.register(info.model_uri)


# %%
v1 = log_and_register(models["хорошая партия"], good)
decision = tracking.promote_if_better(tracking.MODEL_NAME, v1, fresh)
print(f"версия {v1}: {decision.reason}")

# %% [markdown]
# Предположим, проверку данных отключили, и модель на партии в метрах дошла до реестра.
# Ворота качества — вторая линия обороны: они сравнивают её с чемпионом.

# %%
v2 = log_and_register(models["партия в метрах"], bad)
decision = tracking.promote_if_better(tracking.MODEL_NAME, v2, fresh)
print(f"версия {v2}: {decision.reason}")
print("алиасы реестра:", tracking.aliases())

# %% [markdown]
# ## «В ML код — это лишь часть системы»
#
# Один и тот же код на разных данных даёт разные модели. Сравним «отпечатки»: хэш файла
# `train.py`, хэш данных и хэш коэффициентов модели — для данных двух разных недель.

# %%
from mlops_course.data import frame_hash
from mlops_course.reproducibility import file_hash, model_hash

next_week = make_batch(n_orders, seed=seed + 1).frame
code_hash = file_hash(repo_root() / "src" / "mlops_course" / "train.py")
fingerprints = pd.DataFrame(
    {
        "эта неделя": [code_hash, frame_hash(good), model_hash(models["хорошая партия"])],
        "следующая неделя": [
            code_hash,
            frame_hash(next_week),
            model_hash(train_model(next_week, seed=seed)),
        ],
    },
    index=["код (train.py)", "данные", "модель"],
)
fingerprints

# %% [markdown]
# Git видит только первую строку — и она одинакова. Поэтому данные и модели требуют
# отдельного версионирования (DVC, реестр MLflow) и мониторинга.
#
# Известная картинка из статьи «Hidden Technical Debt in Machine Learning Systems»
# (Sculley et al., 2015): ML-код — маленький чёрный квадрат среди инфраструктуры. Соберём
# её заново из этого курса: посчитаем строки модулей `mlops_course` по «коробкам».

# %%
BOXES = {
    "ML-код": ["train.py", "evaluate.py"],
    "Сбор и генерация данных": ["data.py", "scenarios.py"],
    "Проверка данных": ["validation.py"],
    "Сервинг": ["serving/"],
    "Мониторинг и дрейф": ["monitoring.py", "drift.py", "online_drift.py"],
    "Конфигурация и окружение": ["config.py", "environment.py", "workspace.py"],
    "Версии и воспроизводимость": ["tracking.py", "reproducibility.py"],
    "Пайплайны и переобучение": ["pipeline.py", "retraining.py", "simulation.py", "flows"],
}
# Teaching material (quizzes, lab checks, course map) is not part of the ML system.
TEACHING = ("quizzes/", "lab_checks/", "checks.py", "course_map.py")


def box_of(relative: str) -> str | None:
    if relative.startswith(TEACHING):
        return None
    for box, prefixes in BOXES.items():
        if relative.startswith(tuple(prefixes)):
            return box
    return "Прочая инфраструктура"


# %%
# NBVAL_IGNORE_OUTPUT
# (the counts change whenever any module of the course changes)
package = repo_root() / "src" / "mlops_course"
lines = pd.Series(
    {
        path.relative_to(package).as_posix(): sum(
            1 for line in path.read_text().splitlines() if line.strip()
        )
        for path in sorted(package.rglob("*.py"))
    }
)
boxes = lines.groupby(lines.index.map(lambda p: box_of(p) or "—")).sum().drop("—", errors="ignore")
boxes = boxes.sort_values(ascending=False)
ml_share = boxes["ML-код"] / boxes.sum()
print(f"ML-код: {boxes['ML-код']} из {boxes.sum()} непустых строк ({ml_share:.0%})")
boxes.rename("строк").to_frame()

# %%
import textwrap

import matplotlib.pyplot as plt
import numpy as np

cell, columns = np.sqrt(boxes.max()) * 1.3, 5  # every box sits in a grid cell
rows = (len(boxes) + columns - 1) // columns
width, height = columns * cell, rows * cell * 1.25
fig, ax = plt.subplots(figsize=(12, 12 * height / width + 0.5))
for i, (box, count) in enumerate(boxes.items()):
    side, col, row = np.sqrt(count), i % columns, i // columns
    x, y = col * cell + (cell - side) / 2, (rows - 1 - row) * cell * 1.25 + cell * 0.3
    is_ml = box == "ML-код"
    color, alpha = ("black", 1.0) if is_ml else ("tab:blue", 0.35)
    ax.add_patch(plt.Rectangle((x, y), side, side, color=color, alpha=alpha))
    label = textwrap.fill(f"{box}: {count}", 20)
    ax.text(col * cell + cell / 2, y - 1, label, ha="center", va="top", fontsize=9)
ax.set(xlim=(0, width), ylim=(0, height), aspect="equal")
ax.axis("off")
ax.set_title("Курс как ML-система: площадь — строки кода, чёрный квадрат — ML-код")
plt.show()

# %% [markdown]
# ## Итоги
#
# - **DevOps:** тесты кода ловят ошибки в коде (перепутанные цены), CI запускает их на
#   каждое изменение.
# - **DataOps:** проверка данных в шаге ETL остановила партию в метрах; пропущенная партия
#   стоила бы заметной потери ROC AUC и денег — всё посчитано выше.
# - **MLOps:** реестр хранит версии моделей, ворота качества не пускают худшую версию в
#   `champion`.
# - Один и тот же код на других данных даёт другую модель, а ML-код — лишь малая часть
#   строк системы: данные и модели требуют собственного версионирования и мониторинга.
#
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.checks import check_quiz, show_quiz

show_quiz("02_devops_dataops_mlops")

# %%
answers = {1: "", 2: "", 3: ""}
check_quiz("02_devops_dataops_mlops", answers)
