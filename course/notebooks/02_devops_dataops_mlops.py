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
# курса `evaluate.business_cost`: тревога модели запускает действие (бонус свободному
# курьеру), оно стоит денег на каждом отмеченном заказе и предотвращает часть опозданий;
# опоздание, о котором никто не предупредил, стоит больше всего. Как в настоящем проекте,
# тесты лежат в файле рядом с модулем, а запускает их `pytest` в отдельном процессе.

# %%
TESTS = """
from evaluate import CostTable, business_cost

costs = CostTable()

def test_missed_late_order_costs_the_damage():
    assert business_cost([1], [0], costs) == costs.late_damage

def test_false_alarm_costs_the_action():
    assert business_cost([0], [1], costs) == costs.action

def test_caught_late_order_costs_the_action_and_the_damage_left():
    left = (1 - costs.prevented) * costs.late_damage
    assert business_cost([1], [1], costs) == costs.action + left
"""

# %% [markdown]
# Кладём в рабочую папку копию настоящего модуля курса `model/evaluate.py` и файл тестов,
# запускаем `pytest` (помощник `automation.ci.pytest_outcomes` запускает его тихо и
# возвращает исход каждого теста).

# %%
import shutil

import pandas as pd

from mlops_course.automation.ci import pytest_outcomes
from mlops_course.config import display_path, repo_root, work_dir

project = work_dir("devops")
module = project / "evaluate.py"
shutil.copy(repo_root() / "src" / "mlops_course" / "model" / "evaluate.py", module)
(project / "test_business_cost.py").write_text(TESTS)
original = module.read_text()
results = {"исходный код": pytest_outcomes(project / "test_business_cost.py")}
print("модуль и тесты в", display_path(project))
pd.Series(results["исходный код"], name="исход")

# %% [markdown]
# Теперь «коллега» упрощает формулу и забывает, что пойманное опоздание тоже стоит денег
# (действие оплачено, а часть опоздания всё равно случилась). Вот его правка:

# %%
import difflib

forgotten = " + caught * self.caught_late"  # in CostTable.total
assert original.count(forgotten) == 1  # the colleague edits exactly this spot
module.write_text(original.replace(forgotten, ""))
diff = difflib.unified_diff(
    original.splitlines(), module.read_text().splitlines(), lineterm="", n=0
)
print("\n".join(line for line in diff if line.startswith(("-  ", "+  "))))

# %% [markdown]
# Те же тесты на коде коллеги ловят ошибку до того, как она попадёт в production:

# %%
results["код коллеги"] = pytest_outcomes(project / "test_business_cost.py")
module.write_text(original)  # the review sends the change back
pd.DataFrame(results).replace({"passed": "✓ прошёл", "failed": "✗ упал"})

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
# Первые два шага готовят машину, два последних — сами проверки: `make check` — быстрые
# проверки без запуска ноутбуков (ruff, ноутбуки синхронны с исходниками, артефакты не
# попали в git), `.ci/run` — все тесты курса (`make test`: модули, сервис, пайплайн,
# ноутбуки) и проверка, что запуск не оставил изменений в рабочей копии. Если хоть одна
# проверка падает, CI помечает изменение красным, а защита ветки (required status checks в
# настройках репозитория) не даёт его слить. Но тесты кода ничего не знают о **данных**:
# следующий шаг эволюции — DataOps.

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
# партии: на ранних заказах партии обучаем модель, на последней четверти подбираем порог
# тревоги с наименьшей стоимостью (`evaluate.tune_threshold`: порог подбирают на
# валидационной части обучающих данных, а не на тех, что потом судят модель). Судим на
# свежих заказах (с расстоянием в километрах, как в production).

# %%
from mlops_course.model.evaluate import CostTable, evaluate_model, format_roubles, tune_threshold
from mlops_course.model.train import split_validation, train_model

costs = CostTable()
fresh = make_batch(n_eval, seed=seed + 1000).frame


def train_with_threshold(batch: pd.DataFrame):
    """The model on the earlier orders, its alarm threshold tuned on the latest ones."""
    fit, validation = split_validation(batch)
    model = train_model(fit, seed=seed)
    return model, tune_threshold(model, validation, costs)


models = {
    "хорошая партия": train_with_threshold(good),
    "партия в метрах": train_with_threshold(bad),
}

# %% [markdown]
# Обе модели обучились без единой ошибки: сам код обучения подвоха не замечает. Разницу
# видно только на свежих заказах:

# %%
columns = ["roc_auc", "log_loss", "threshold", "predicted_late_rate", "cost_per_order"]
cost = pd.DataFrame(
    {name: evaluate_model(m, fresh, t, costs) for name, (m, t) in models.items()}
).T[columns]
good_row, bad_row = cost.loc["хорошая партия"], cost.loc["партия в метрах"]
extra = (bad_row["cost_per_order"] - good_row["cost_per_order"]) * n_eval
print(
    f"ROC AUC: −{good_row['roc_auc'] - bad_row['roc_auc']:.3f}; "
    f"log loss: +{bad_row['log_loss'] - good_row['log_loss']:.3f}; "
    f"стоимость: {bad_row['cost_per_order'] / good_row['cost_per_order'] - 1:+.0%} "
    f"({format_roubles(extra, signed=True)} на {n_eval} заказов)"
)
cost.round(3)

# %% [markdown]
# Порог у обеих моделей одинаковый: на своей партии модель «в метрах» предсказывает ровно
# то же, что и хорошая (масштаб признака снимает стандартизация). Ломается она на свежих
# заказах в километрах: все расстояния для неё в тысячу раз короче, и она почти перестаёт
# тревожить (см. `predicted_late_rate`) — опоздания проходят без предупреждения.
#
# Здесь беду видят все три метрики. Но для ворот качества ROC AUC — плохой выбор: он
# смотрит только на **порядок** заказов по риску и не замечает, что сами вероятности
# врут. Проверим: исказим вероятности хорошей модели монотонно (p → p², модель стала
# «оптимистом»). Порядок заказов прежний, а порог тревоги подобран под честные вероятности.

# %%
from mlops_course.model.evaluate import late_scores, score_metrics

model, threshold = models["хорошая партия"]
honest = late_scores(model, fresh)
distorted = {"честные p": honest, "искажённые p²": honest**2}
pd.DataFrame(
    {name: score_metrics(fresh["is_late"], p, threshold, costs) for name, p in distorted.items()}
).T[["roc_auc", "log_loss", "cost_per_order"]].round(3)

# %% [markdown]
# ROC AUC не изменился ни на тысячную, а log loss и стоимость в рублях выросли. Поэтому
# ворота качества ниже сравнивают **log loss** (штраф за уверенные ошибки в вероятностях):
# он видит и порядок, и калибровку, и не зависит от порога.

# %% [markdown]
# ## MLOps: ворота качества и реестр моделей
#
# Модель — такой же артефакт, как код: у неё есть версии. Логируем запуск в MLflow (база
# sqlite в рабочей папке), регистрируем модель в реестре (model registry) и пропускаем
# в production (алиас `champion`) только через ворота качества: новая версия должна быть
# лучше текущей на тех же свежих данных, и не на волосок, а больше чем на запас `margin`
# (по умолчанию 0.005 единицы метрики; тот же запас — у ворот в ноутбуке 03): разница
# меньше запаса — скорее шум, чем улучшение.

# %%
# importing MLflow takes a few seconds, once
import shutil

from mlops_course.versioning import registry, tracking

# %%
home = work_dir("02_devops_dataops_mlops")
# a fresh registry on every run, so version numbers are reproducible
shutil.rmtree(home / "mlflow", ignore_errors=True)
tracking.setup_tracking(home=home)


def log_and_register(name: str, train_frame: pd.DataFrame) -> int:
    model, threshold = models[name]
    metrics = evaluate_model(model, fresh, threshold, costs)
    params = {"seed": seed, "threshold": threshold}
    info = tracking.log_training_run(model, train_frame, fresh, params, metrics)
    return registry.register(info.model_uri)


def gate(version: int):
    return registry.promote_if_better(registry.MODEL_NAME, version, fresh, metric="log_loss")


# %%
v1 = log_and_register("хорошая партия", good)
print(f"версия {v1}: {gate(v1).reason}")

# %% [markdown]
# Предположим, проверку данных отключили, и модель на партии в метрах дошла до реестра.
# Ворота качества — вторая линия обороны: они сравнивают её с чемпионом.

# %%
v2 = log_and_register("партия в метрах", bad)
print(f"версия {v2}: {gate(v2).reason}")
print("алиасы реестра:", registry.aliases())

# %% [markdown]
# ## «В ML код — это лишь часть системы»
#
# Один и тот же код на разных данных даёт разные модели. Сравним «отпечатки»: хэш файла
# `model/train.py`, хэш данных и хэш коэффициентов модели — для данных двух разных недель.

# %%
from mlops_course.scenario.generator import frame_hash
from mlops_course.versioning.reproducibility import file_hash, model_hash

next_week = make_batch(n_orders, seed=seed + 1).frame
weeks = {
    "эта неделя": (good, train_model(good, seed=seed)),
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
# Известная картинка из статьи «Hidden Technical Debt in Machine Learning Systems» (Sculley
# et al., 2015): ML-код — маленький чёрный квадрат среди инфраструктуры. Нарисуем её для
# этого курса: посчитаем строки модулей `mlops_course` по «коробкам» (`system_map.BOXES`, по
# папкам системы). Учебная часть (`classroom/`: вопросы, проверки лабораторных, карты и
# графики курса) в систему не входит и не считается. Это **иллюстрация** к статье, а не её
# доказательство: мы считаем строки одного учебного проекта, где модель нарочно простая;
# доля зависит от того, что считать «ML-кодом». Файлы, не попавшие ни в одну коробку,
# собраны в коробку «Прочая инфраструктура» (сейчас это `__init__.py` пакетов и
# `model/scenario_value.py` — оценка сценариев для ноутбуков и бенчмарков); ячейка подсчёта
# печатает их список.

# %%
from mlops_course.classroom.system_map import BOXES, TEACHING

print("не считаем (учебные материалы):", ", ".join(TEACHING))
pd.DataFrame({"коробка": list(BOXES), "модули": [", ".join(p) for p in BOXES.values()]})

# %%
# NBVAL_IGNORE_OUTPUT
# (the counts change whenever any module of the course changes)
from mlops_course.classroom.system_map import ML_BOX, OTHER_BOX, box_of, count_lines, lines_by_box

package = repo_root() / "src" / "mlops_course"
boxes = lines_by_box(package)
ml_share = boxes[ML_BOX] / boxes.sum()
print(f"ML-код: {boxes[ML_BOX]} из {boxes.sum()} непустых строк ({ml_share:.0%})")
other = [path for path in count_lines(package).index if box_of(path) == OTHER_BOX]
print(f"{OTHER_BOX} (вне коробок): {', '.join(other)}")
boxes.to_frame()

# %%
import matplotlib.pyplot as plt

from mlops_course.classroom.system_map import plot_system_map

plot_system_map(boxes)
plt.show()

# %% [markdown]
# ## Итоги
#
# - **DevOps:** тесты кода поймали ошибку в коде (забытая цена пойманного опоздания), CI
#   запускает их на каждое изменение.
# - **DataOps:** проверка данных в шаге ETL остановила партию в метрах; пропущенная партия
#   стоила бы денег: модель на ней почти перестаёт тревожить — всё посчитано выше.
# - **MLOps:** реестр хранит версии моделей, ворота качества сравнивают log loss (ROC AUC
#   не видит испорченных вероятностей) и не пускают худшую версию в `champion`.
# - Один и тот же код на других данных даёт другую модель, а ML-код — лишь малая часть
#   строк системы: данные и модели требуют собственного версионирования и мониторинга.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("02_devops_dataops_mlops")

# %%
answers = {1: "", 2: "", 3: "", 4: ""}
check_quiz("02_devops_dataops_mlops", answers)
