# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Что такое MLOps и зачем он нужен
#
# В лекции есть «пример провала без MLOps»: *модель, работающая локально, не может быть
# развернута из-за проблем с окружением или данными*. Здесь мы не рассказываем эту историю,
# а воспроизводим её: обучаем модель в ноутбуке, «разворачиваем» её и измеряем, что ломается.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - дать определение MLOps и объяснить, кто за что отвечает (Data Scientist, ML-инженер,
#   DevOps);
# - показать, почему данные и модели — «граждане первого класса» (first-class citizens)
#   наравне с кодом;
# - воспроизвести три механизма провала «работало в ноутбуке» и измерить каждый:
#   расхождение обучения и сервинга (training-serving skew), другое окружение,
#   данные, изменившиеся под тем же именем файла;
# - подкрепить числами три причины, почему MLOps — не просто DevOps для ML.
#
# Слайды лекции: «Что такое MLOps», «Почему MLOps — это не просто DevOps для ML»,
# «Пример провала без MLOps».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# orders in the notebook's training data
n_orders = 6_000
# weeks and orders per week of the simulated production stream
n_weeks = 12
orders_per_week = 1_000

# %% [markdown]
# ## Определение и культура
#
# > **MLOps (Machine Learning Operations)** — совокупность практик и инструментов для
# > автоматизации, масштабирования и управления жизненным циклом машинного обучения в
# > производственной среде. Это культура взаимодействия между Data Scientists,
# > ML-инженерами и DevOps-специалистами.
#
# Кто что делает (и где в этом курсе это увидеть):
#
# | роль | отвечает за | артефакт в этом курсе |
# |---|---|---|
# | Data Scientist | задача, признаки, модель, оценка качества | ноутбук, метрики |
# | ML-инженер | пайплайн, упаковка модели, реестр, мониторинг | `train.py`, `dvc.yaml`, MLflow |
# | DevOps-инженер | окружение, CI/CD, развёртывание, сервис | `Dockerfile`, `ci.yml`, Prometheus |
#
# Провал, который мы сейчас воспроизведём, случается ровно на стыках этих ролей.

# %% [markdown]
# ## Данные и модели — граждане первого класса
#
# DevOps версионирует код. В ML результат определяют три вещи: **код**, **данные** и
# **модель** (плюс окружение). У каждой должен быть свой «отпечаток» (hash), иначе нельзя
# сказать, что именно работает в production.

# %%
from mlops_course.config import repo_root
from mlops_course.data import frame_hash, generate_orders
from mlops_course.reproducibility import file_hash, model_hash
from mlops_course.train import split, train_model

orders = generate_orders(n_orders, seed=seed)
train, test = split(orders)
model = train_model(train, seed=seed)
train_py = repo_root() / "src" / "mlops_course" / "train.py"
fingerprints = {
    "код (train.py)": file_hash(train_py),
    "данные (orders)": frame_hash(orders),
    "модель (коэффициенты)": model_hash(model),
}
fingerprints

# %% [markdown]
# Эти три строки — минимальная «паспортная запись» модели. Дальше мы увидим, что
# бывает, когда записана только первая из них.

# %% [markdown]
# ## Провал 1: обучение и сервинг видят разные признаки (training-serving skew)
#
# Data Scientist готовит признаки вручную в pandas: one-hot кодирование через
# `pd.get_dummies` и стандартизация числовых колонок средним и стандартным отклонением
# обучающей выборки. Модель — голая `LogisticRegression` на этой матрице.

# %%
import pandas as pd
from sklearn.linear_model import LogisticRegression

from mlops_course.config import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET


def notebook_features(frame: pd.DataFrame, stats: dict) -> pd.DataFrame:
    """The data scientist's hand-made preprocessing, living only in the notebook."""
    X = pd.get_dummies(frame[FEATURES], columns=CATEGORICAL_FEATURES, dtype=float)
    X[NUMERIC_FEATURES] = (X[NUMERIC_FEATURES] - stats["mean"]) / stats["std"]
    return X


stats = {"mean": train[NUMERIC_FEATURES].mean(), "std": train[NUMERIC_FEATURES].std()}
X_train = notebook_features(train, stats)
notebook_model = LogisticRegression(max_iter=1000).fit(X_train, train[TARGET])

# %% [markdown]
# В ноутбуке всё отлично. Считаем качество на отложенной (более поздней по времени) выборке:
# ROC AUC, долю заказов, объявленных опаздывающими, и бизнес-стоимость ошибок (пропущенное
# опоздание — 300 ₽, ложная тревога — 50 ₽, см. `evaluate.CostTable`; тревога поднимается,
# когда вероятность опоздания выше порога безубыточности 50 / 350 ≈ 0.14).

# %%
from mlops_course.evaluate import CostTable, score_metrics

# the cost-optimal alarm threshold for calibrated probabilities (50 / (50 + 300))
threshold = CostTable().break_even_threshold
columns = ["roc_auc", "predicted_late_rate", "cost_per_order"]
quality = {}
quality["ноутбук"] = score_metrics(
    test[TARGET],
    notebook_model.predict_proba(notebook_features(test, stats))[:, 1],
    threshold,
)
pd.DataFrame(quality).T[columns].round(3)

# %% [markdown]
# В production модель сохранили как `LogisticRegression`, а функция `notebook_features`
# осталась в ноутбуке. ML-инженер пишет сервис заново: он получает от приложения **сырые**
# заказы. Первая попытка: один заказ на запрос — и сервис падает.

# %%
one_request = pd.get_dummies(test[FEATURES].head(1), columns=CATEGORICAL_FEATURES, dtype=float)
try:
    notebook_model.predict_proba(one_request)
except ValueError as error:
    print("сервис упал:", type(error).__name__, "—", str(error).splitlines()[0])

# %% [markdown]
# Вторая попытка «починить»: дополнить недостающие колонки нулями. Теперь сервис не падает —
# но о стандартизации никто не знал, и модель получает расстояние в километрах, сумму заказа
# в рублях. Это **тихая** деградация: ошибок нет, ответы есть.


# %%
def service_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The service's re-implementation: same dummies, the scaling was never written down."""
    X = pd.get_dummies(frame[FEATURES], columns=CATEGORICAL_FEATURES, dtype=float)
    return X.reindex(columns=X_train.columns, fill_value=0.0)


quality["сервис (сырые данные)"] = score_metrics(
    test[TARGET], notebook_model.predict_proba(service_features(test))[:, 1], threshold
)
pd.DataFrame(quality).T[columns].round(3)

# %% [markdown]
# **Исправление:** вся предобработка — внутри одного `sklearn.Pipeline`
# (`train.train_model`), и в production уезжает именно этот объект. Сервис передаёт ему
# те же сырые заказы — и получает ровно то качество, что в ноутбуке.

# %%
quality["Pipeline (сырые данные)"] = score_metrics(
    test[TARGET], model.predict_proba(test[FEATURES])[:, 1], threshold
)
skew = pd.DataFrame(quality).T[columns].round(3)
auc_drop = skew.loc["ноутбук", "roc_auc"] - skew.loc["сервис (сырые данные)", "roc_auc"]
print(f"падение ROC AUC из-за skew: {auc_drop:.3f}")
alarms = skew.loc["сервис (сырые данные)", "predicted_late_rate"]
print(f"сервис объявляет опаздывающими {alarms:.0%} заказов")
skew

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
colors = ["tab:green", "tab:red", "tab:blue"]
skew["roc_auc"].plot.barh(ax=axes[0], color=colors)
axes[0].axvline(0.5, color="grey", linestyle="--")
axes[0].set(title="ROC AUC (0.5 — случайное угадывание)", xlabel="ROC AUC", xlim=(0.4, 0.85))
skew["cost_per_order"].plot.barh(ax=axes[1], color=colors)
axes[1].set(title="Стоимость ошибок, ₽ на заказ", xlabel="₽ на заказ")
axes[1].set_yticklabels([])
fig.suptitle("Провал 1: одна и та же модель в ноутбуке и в сервисе")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Провал 2: другое окружение
#
# Модель сохранили файлом — но кроме модели нужно записать, **в каком окружении** она
# обучена: версии Python, scikit-learn, numpy, pandas, scipy
# (`reproducibility.current_environment`, тот же формат, что `tracking.environment_info` в MLflow).
# `reproducibility.save_model_bundle` кладёт их рядом с моделью, а `load_model_bundle`
# сверяет при загрузке.

# %%
from mlops_course.config import display_path, work_dir
from mlops_course.reproducibility import load_model_bundle, save_model_bundle

bundle_path = save_model_bundle(
    model, work_dir("models") / "01_model.joblib", data_hash=frame_hash(train)
)
loaded, metadata = load_model_bundle(bundle_path)
print("сохранено в", display_path(bundle_path))
print("загрузка в том же окружении: ok, модель та же:", model_hash(loaded) == model_hash(model))

# %% [markdown]
# «Production» — другой сервер, где scikit-learn и numpy старее. Pickle-файл модели
# scikit-learn между версиями не переносим: в лучшем случае он не загрузится, в худшем —
# загрузится и будет считать иначе. Проверка окружения останавливает загрузку с понятным
# сообщением, а не через час отладки.

# %%
from mlops_course.reproducibility import (
    EnvironmentMismatchError,
    check_environment,
    current_environment,
)

production = {**current_environment(), "scikit-learn": "1.3.2", "numpy": "1.26.4"}
print("различия:", check_environment(current_environment(), production))
try:
    load_model_bundle(bundle_path, current=production)
except EnvironmentMismatchError as error:
    print(error)

# %% [markdown]
# ## Провал 3: данные изменились под тем же именем файла
#
# Модель обучена на `orders.csv`. Через неделю коллега перезапускает выгрузку — файл
# называется так же, но внутри другие заказы. Код не менялся ни на строчку, а метрику
# отчёта больше не получить.

# %%
from mlops_course.data import load_orders, save_orders
from mlops_course.evaluate import evaluate_model

orders_csv = work_dir("data") / "orders.csv"


def train_from_file(path) -> dict:
    """The unchanged training script: read the file, split by time, train, evaluate."""
    frame = load_orders(path)
    fit_part, eval_part = split(frame)
    metrics = evaluate_model(train_model(fit_part, seed=seed), eval_part)
    return {"roc_auc": metrics["roc_auc"], "hash (frame_hash)": frame_hash(frame)}


save_orders(orders, orders_csv)
reported = train_from_file(orders_csv)

# %%
# Someone re-runs the export: same file name, another period of orders.
save_orders(generate_orders(n_orders, seed=seed + 1), orders_csv)
rerun = train_from_file(orders_csv)
table = pd.DataFrame({"в отчёте (при обучении)": reported, "повтор сейчас": rerun}).T
table["roc_auc"] = table["roc_auc"].astype(float).round(3)
same_hash = reported["hash (frame_hash)"] == rerun["hash (frame_hash)"]
print(f"файл: {display_path(orders_csv)}; хэши совпадают: {same_hash}")
table

# %% [markdown]
# Если бы при обучении записали хэш данных (`data.frame_hash`, или DVC — ноутбук 06),
# несовпадение было бы видно сразу: «данные не те», а не «модель почему-то хуже».

# %% [markdown]
# ## Почему MLOps — не просто DevOps для ML
#
# Лекция называет три причины. Каждую проверим вычислением.
#
# ### 1. ML-системы зависят от данных, а не только от кода
#
# Один и тот же код `train_model` на обычных и на «зимних» данных (сценарий `winter`)
# даёт разные модели: другие коэффициенты, другой отпечаток.

# %%
from mlops_course.scenarios import make_batch

winter = make_batch(n_orders, seed=seed, scenarios="winter").frame
winter_model = train_model(winter, seed=seed)
names = model.named_steps["preprocess"].get_feature_names_out()
coefficients = pd.DataFrame(
    {
        "обычные данные": model.named_steps["classifier"].coef_[0],
        "зима": winter_model.named_steps["classifier"].coef_[0],
    },
    index=names,
).round(3)
print(f"отпечатки моделей: {model_hash(model)} vs {model_hash(winter_model)}")
coefficients.loc[["distance_km", "temperature_c", "weather_snow", "weather_clear"]]

# %% [markdown]
# ### 2. Модели деградируют со временем
#
# Замораживаем модель и подаём ей поток недель из `scenarios.stream`: с 4-й недели
# постепенно вводится новая система маршрутизации (концептуальный дрейф,
# `routing_change`). Для сравнения каждую неделю обучаем «свежую» модель на данных прошлой
# недели: это качество, которое было бы доступно, если бы модель обновлялась.

# %%
from mlops_course.scenarios import Event, stream

events = [Event("routing_change", start_week=4, ramp_weeks=4)]
rows, fresh = [], None
for batch in stream(n_weeks, orders_per_week, seed=seed, events=events):
    row = {"неделя": batch.week, "замороженная": evaluate_model(model, batch.frame)["roc_auc"]}
    row["свежая"] = evaluate_model(fresh, batch.frame)["roc_auc"] if fresh else None
    rows.append(row)
    fresh = train_model(batch.frame, seed=seed)
weekly = pd.DataFrame(rows).set_index("неделя").astype(float)
gap = (weekly["свежая"] - weekly["замороженная"]).groupby(weekly.index >= 8).mean()
print(f"отставание замороженной модели: до дрейфа {gap[False]:.3f}, после {gap[True]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(weekly.index, weekly["замороженная"], marker="o", label="замороженная модель")
ax.plot(weekly.index, weekly["свежая"], marker="s", label="свежая (обучена на прошлой неделе)")
ax.axvspan(4, n_weeks - 1, color="tab:orange", alpha=0.15, label="новая маршрутизация")
ax.set(title="Модель не менялась, мир — изменился", xlabel="неделя", ylabel="ROC AUC")
ax.legend()
plt.show()

# %% [markdown]
# Замороженная модель не «ломается» — она тихо отстаёт от того, что возможно на новых
# данных. Заметить это можно только мониторингом качества (ноутбуки 04, 05).

# %% [markdown]
# ### 3. Воспроизводимость критически важна
#
# Обучаем дважды «одинаково», но без фиксированного зерна (seed): случайное разбиение на
# обучение и валидацию каждый раз своё — и модели разные. С зерном — одинаковые.


# %%
def random_split_model(split_seed):
    """Train on a random (not time-based) split; split_seed=None means 'no seed'."""
    fit_part, _ = split(orders, by_time=False, seed=split_seed)
    return model_hash(train_model(fit_part, seed=seed))


print("без seed, две модели одинаковы:", random_split_model(None) == random_split_model(None))
print("с seed, две модели одинаковы:", random_split_model(seed) == random_split_model(seed))

# %% [markdown]
# ## Итоги
#
# - MLOps — практики, инструменты и культура, которые доводят модель от ноутбука до
#   production и удерживают её там; данные и модели версионируются наравне с кодом.
# - Провал «работало локально» воспроизведён тремя способами и измерен: ручная предобработка
#   (skew) обрушила ROC AUC почти до случайного уровня, а сервис объявил опаздывающими
#   почти все заказы — и ни одной ошибки в логах; проверка
#   окружения остановила загрузку модели в чужое окружение; изменённый файл с тем же именем
#   сделал метрику невоспроизводимой, а хэш данных показал бы это сразу.
# - Исправления — тоже практики MLOps: один `Pipeline` как модель, записанное окружение,
#   хэши (версии) данных.
# - Данные меняют модель, мир меняет качество модели, без seed меняется всё: поэтому MLOps —
#   не просто DevOps для ML.
#
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.checks import check_quiz, show_quiz

show_quiz("01_why_mlops")

# %%
answers = {1: "", 2: "", 3: "", 4: ""}
check_quiz("01_why_mlops", answers)
