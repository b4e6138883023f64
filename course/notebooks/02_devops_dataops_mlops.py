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
# Лекция описывает эволюцию в три шага: **DevOps** автоматизирует развёртывание и
# мониторинг ПО (а перед развёртыванием — проверку кода тестами), **DataOps** — ETL-процессы
# и управление данными, **MLOps** добавляет модели: их обучение, версии и мониторинг.
# Здесь каждый шаг — работающий код на данных курса.

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
TESTS = """
from mlops_course.model.evaluate import business_cost

def test_missed_late_order_costs_300():
    assert business_cost([1], [0]) == 300

def test_false_alarm_costs_50():
    assert business_cost([0], [1]) == 50

def test_correct_predictions_cost_nothing():
    assert business_cost([0, 1], [0, 1]) == 0
"""

# %% [markdown]
# Записываем тесты в файл и запускаем `pytest` (помощник `devops.run_pytest` запускает его
# тихо и возвращает код возврата).

# %%
from mlops_course.automation.ci import run_pytest
from mlops_course.config import display_path, work_dir

test_file = work_dir("devops") / "test_business_cost.py"
test_file.write_text(TESTS)
print("тесты записаны в", display_path(test_file))
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
# **Непрерывная интеграция (CI, continuous integration)** делает то же самое при каждой
# отправке изменений в репозиторий (push): поднимает чистую машину и запускает проверки. Вот шаги CI этого курса, прочитанные
# из `.github/workflows/ci.yml`:

# %%
import yaml
from IPython.display import display

from mlops_course.config import repo_root

workflow = yaml.safe_load((repo_root() / ".github" / "workflows" / "ci.yml").read_text())
steps = [
    {"шаг": step.get("name", step.get("uses")), "что запускает": step.get("run", step.get("uses"))}
    for job in workflow["jobs"].values()
    for step in job["steps"]
]
with pd.option_context("display.max_colwidth", 80):
    display(pd.DataFrame(steps))

# %% [markdown]
# Если хоть одна проверка падает, CI помечает изменение красным, а защита ветки (required
# status checks в настройках репозитория) не даёт его слить. Но тесты кода ничего не знают
# о **данных**: следующий шаг эволюции — DataOps.

# %% [markdown]
# ## DataOps: ETL с проверкой данных
#
# Каждую неделю приходит партия заказов. Шаг ETL прогоняет её через схему
# (`validation.validate_orders`, pandera) и пропускает в обучение только проверенные данные.
# На этой неделе новая версия приложения курьеров стала присылать расстояние в метрах.

# %%
from mlops_course.model.validation import DataValidationError, validate_orders
from mlops_course.scenario.problems import make_batch


def etl_step(batch: pd.DataFrame) -> pd.DataFrame:
    """Extract-transform-load with a gate: invalid batches never reach training."""
    validate_orders(batch).raise_for_violations()
    return batch.sort_values("timestamp").reset_index(drop=True)


good = make_batch(n_orders, seed=seed).frame
bad = make_batch(n_orders, seed=seed, scenarios="distance_in_metres").frame
print("хорошая партия:", len(etl_step(good)), "строк загружено")

# %% [markdown]
# Хорошая партия прошла. А партия в метрах останавливается на проверке:

# %%
try:
    etl_step(bad)
except DataValidationError as error:
    print(error)

# %% [markdown]
# Во что обошлась бы плохая партия, если бы проверки не было? Обучим модель на каждой
# партии и оценим на свежих заказах (с расстоянием в километрах, как в production):
# ROC AUC и бизнес-стоимость ошибок (`evaluate.CostTable`, порог безубыточности).

# %%
from mlops_course.model.evaluate import CostTable, evaluate_model, format_roubles
from mlops_course.model.train import train_model

fresh = make_batch(n_eval, seed=seed + 1000).frame
threshold = CostTable().break_even_threshold
models = {
    "хорошая партия": train_model(good, seed=seed),
    "партия в метрах": train_model(bad, seed=seed),
}

# %% [markdown]
# Обе модели обучились без единой ошибки: сам код обучения подвоха не замечает. Разницу
# видно только на свежих заказах:

# %%
cost = (
    pd.DataFrame({name: evaluate_model(m, fresh, threshold) for name, m in models.items()})
    .T[["roc_auc", "predicted_late_rate", "cost_per_order", "cost_total"]]
    .round(3)
)
extra = cost.loc["партия в метрах", "cost_total"] - cost.loc["хорошая партия", "cost_total"]
print(f"лишние потери из-за плохой партии: {format_roubles(extra)} на {n_eval} заказов")
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

from mlops_course.versioning import registry, tracking

# %%
home = work_dir("02_devops_dataops_mlops")
# a fresh registry on every run, so version numbers are reproducible
shutil.rmtree(home / "mlflow", ignore_errors=True)
tracking.setup_tracking(home=home)


def log_and_register(model, train_frame) -> int:
    metrics = evaluate_model(model, fresh, threshold)
    info = tracking.log_training_run(model, train_frame, fresh, {"seed": seed}, metrics)
    return registry.register(info.model_uri)


# %%
v1 = log_and_register(models["хорошая партия"], good)
decision = registry.promote_if_better(registry.MODEL_NAME, v1, fresh)
print(f"версия {v1}: {decision.reason}")

# %% [markdown]
# Предположим, проверку данных отключили, и модель на партии в метрах дошла до реестра.
# Ворота качества — вторая линия обороны: они сравнивают её с чемпионом.

# %%
v2 = log_and_register(models["партия в метрах"], bad)
decision = registry.promote_if_better(registry.MODEL_NAME, v2, fresh)
print(f"версия {v2}: {decision.reason}")
print("алиасы реестра:", registry.aliases())

# %% [markdown]
# ## «В ML код — это лишь часть системы»
#
# Один и тот же код на разных данных даёт разные модели. Сравним «отпечатки»: хэш файла
# `train.py`, хэш данных и хэш коэффициентов модели — для данных двух разных недель.

# %%
from mlops_course.scenario.generator import frame_hash
from mlops_course.versioning.reproducibility import file_hash, model_hash

next_week = make_batch(n_orders, seed=seed + 1).frame
weeks = {
    "эта неделя": (good, models["хорошая партия"]),
    "следующая неделя": (next_week, train_model(next_week, seed=seed)),
}
code_hash = file_hash(repo_root() / "src" / "mlops_course" / "model" / "train.py")
fingerprints = pd.DataFrame(
    {week: [code_hash, frame_hash(data), model_hash(m)] for week, (data, m) in weeks.items()},
    index=["код (train.py)", "данные", "модель"],
)
fingerprints

# %% [markdown]
# Git видит только первую строку — и она одинакова. Поэтому данные и модели требуют
# отдельного версионирования (DVC, реестр MLflow) и мониторинга.
#
# Известная картинка из статьи «Hidden Technical Debt in Machine Learning Systems»
# (Sculley et al., 2015): ML-код — маленький чёрный квадрат среди инфраструктуры. Соберём
# её заново из этого курса: посчитаем строки модулей `mlops_course` по «коробкам»
# (`system_map.BOXES`). Учебные материалы (вопросы для самопроверки, проверки
# лабораторных, карты курса и помощники ноутбуков) в систему не входят и не считаются.

# %%
from mlops_course.classroom.system_map import BOXES, TEACHING

print("не считаем (учебные материалы):", ", ".join(TEACHING))
pd.DataFrame({"коробка": list(BOXES), "модули": [", ".join(p) for p in BOXES.values()]})

# %%
# NBVAL_IGNORE_OUTPUT
# (the counts change whenever any module of the course changes)
from mlops_course.classroom.system_map import ML_BOX, lines_by_box

boxes = lines_by_box(repo_root() / "src" / "mlops_course")
ml_share = boxes[ML_BOX] / boxes.sum()
print(f"ML-код: {boxes[ML_BOX]} из {boxes.sum()} непустых строк ({ml_share:.0%})")
boxes.to_frame()

# %%
import matplotlib.pyplot as plt

from mlops_course.classroom.system_map import plot_system_map

plot_system_map(boxes)
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
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("02_devops_dataops_mlops")

# %%
answers = {1: "", 2: "", 3: "", 4: ""}
check_quiz("02_devops_dataops_mlops", answers)
