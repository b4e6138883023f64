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
# - показать, почему данные и модели — полноправные артефакты системы наравне с кодом
#   (в лекции — first-class citizens);
# - воспроизвести три механизма провала «работало в ноутбуке» и измерить каждый:
#   расхождение обучения и сервинга (training–serving skew), другое окружение,
#   данные, изменившиеся под тем же именем файла;
# - подкрепить числами три причины, почему MLOps — не просто DevOps для ML, и отличить
#   дрейф, который стоит денег, от дрейфа, который их не стоит.
#
# Слайды лекции: «Что такое MLOps», «Почему MLOps — это не просто DevOps для ML»,
# «Пример провала без MLOps».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# orders in the notebook's training data
n_orders = 6_000
# fresh orders of each scenario that judge the models in «Модели деградируют»
scenario_orders = 8_000
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
# Аналогия из лекции: DevOps объединяет разработку (Dev) и эксплуатацию (Ops) программ;
# MLOps добавляет в эту цепочку данные и модели.
#
# Кто что делает (и где в этом курсе это увидеть; модули пакета лежат в
# `src/mlops_course/`):
#
# | роль | отвечает за | артефакт в этом курсе |
# |---|---|---|
# | Data Scientist | задача, признаки, модель, оценка качества | ноутбук, `model/evaluate.py`, метрики |
# | ML-инженер | пайплайн, упаковка модели, реестр, мониторинг | `model/train.py`, `dvc.yaml`, `versioning/registry.py` (MLflow), `monitoring/` |
# | DevOps-инженер | окружение, CI/CD, развёртывание, сервис | `requirements.lock`, `deploy/Dockerfile`, `.github/workflows/ci.yml`, `deploy/prometheus.yml` |
#
# Провал, который мы сейчас воспроизведём, случается ровно на стыках этих ролей.

# %% [markdown]
# ## Данные и модели — полноправные артефакты, как код
#
# DevOps версионирует код. В ML результат определяют три вещи: **код**, **данные** и
# **модель** (плюс окружение). У каждой должен быть свой «отпечаток» (hash), иначе нельзя
# сказать, что именно работает в production.
#
# Заказы делим по времени, как в жизни: последние 25 % — отложенная выборка (test), по
# ней судим модели. Из обучающего периода тоже откладываем последние 25 % — валидацию
# (`model.train.split_validation`): на ней позже подберём порог тревоги.

# %%
from mlops_course.config import repo_root
from mlops_course.model.train import split, split_validation, train_model
from mlops_course.scenario.generator import frame_hash, generate_orders
from mlops_course.versioning.reproducibility import file_hash, model_hash

orders = generate_orders(n_orders, seed=seed)
train, test = split(orders)  # test: the latest orders, they judge the models
fit, validation = split_validation(train)  # the model learns on fit only
model = train_model(fit, seed=seed)
train_py = repo_root() / "src" / "mlops_course" / "model" / "train.py"
fingerprints = {
    "код (model/train.py)": file_hash(train_py),
    "данные (orders)": frame_hash(orders),
    "модель (коэффициенты)": model_hash(model),
}
fingerprints

# %% [markdown]
# Эти три строки — минимальная «паспортная запись» модели. Дальше мы увидим, что
# бывает, когда записана только первая из них.

# %% [markdown]
# ## Провал 1: обучение и сервинг видят разные признаки (training–serving skew)
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


stats = {"mean": fit[NUMERIC_FEATURES].mean(), "std": fit[NUMERIC_FEATURES].std()}
X_fit = notebook_features(fit, stats)
notebook_model = LogisticRegression(max_iter=1000).fit(X_fit, fit[TARGET])

# %% [markdown]
# Модель не только оценивает вероятность опоздания: при высокой вероятности она поднимает
# тревогу, и сервис сразу действует — даёт бонус свободному курьеру рядом или добавляет
# второго. Цены — в `model.evaluate.CostTable`: действие стоит 60 ₽ на каждом заказе с
# тревогой и предотвращает 70 % опозданий тех заказов, которые опоздали бы; опоздание, с
# которым никто ничего не сделал, стоит 400 ₽. Порог тревоги Data Scientist подбирает по
# стоимости на валидации — как `model.evaluate.tune_threshold`, только для своей ручной
# матрицы признаков. Подбирать порог на отложенной выборке нельзя: он подогнался бы под её
# шум, и стоимость вышла бы лучше, чем будет в жизни. Для сравнения печатаем порог
# безубыточности `CostTable.break_even_threshold` = 60 / (0.7 · 400): выше него тревога
# выгодна, если вероятности точны.

# %%
import numpy as np

from mlops_course.model.evaluate import CostTable, business_cost, score_metrics

p_validation = notebook_model.predict_proba(notebook_features(validation, stats))[:, 1]
grid = np.linspace(0.0, 1.0, 101)
validation_costs = [business_cost(validation[TARGET], p_validation >= t) for t in grid]
notebook_threshold = float(grid[int(np.argmin(validation_costs))])
print(f"порог тревоги (подобран на валидации): {notebook_threshold:.2f}")
print(f"порог безубыточности для точных вероятностей: {CostTable().break_even_threshold:.3f}")

# %% [markdown]
# В ноутбуке всё отлично. Считаем качество на отложенной (более поздней по времени) выборке:
# ROC AUC, долю заказов с тревогой и стоимость ошибок в рублях на заказ.

# %%
columns = ["roc_auc", "predicted_late_rate", "cost_per_order"]
quality = {}
quality["ноутбук"] = score_metrics(
    test[TARGET],
    notebook_model.predict_proba(notebook_features(test, stats))[:, 1],
    notebook_threshold,
)
pd.DataFrame(quality).T[columns].round(3)

# %% [markdown]
# В production модель сохранили как `LogisticRegression` вместе с порогом, а функция
# `notebook_features` осталась в ноутбуке. ML-инженер пишет сервис заново: он получает от
# приложения **сырые** заказы. Первая попытка: один заказ на запрос — и сервис падает.

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
    return X.reindex(columns=X_fit.columns, fill_value=0.0)


quality["сервис (сырые данные)"] = score_metrics(
    test[TARGET],
    notebook_model.predict_proba(service_features(test))[:, 1],
    notebook_threshold,
)
pd.DataFrame(quality).T[columns].round(3)

# %% [markdown]
# **Исправление:** вся предобработка — внутри одного `sklearn.Pipeline`
# (`model.train.train_model`), и в production уезжает именно этот объект. Его порог
# подбирает `model.evaluate.tune_threshold` на той же валидации. Сервис передаёт Pipeline
# те же сырые заказы — и получает то же качество, что в ноутбуке.

# %%
from mlops_course.model.evaluate import late_scores, tune_threshold

threshold = tune_threshold(model, validation)
quality["Pipeline (сырые данные)"] = score_metrics(
    test[TARGET], late_scores(model, test), threshold
)
skew = pd.DataFrame(quality).T[columns].round(3)
auc_drop = skew.loc["ноутбук", "roc_auc"] - skew.loc["сервис (сырые данные)", "roc_auc"]
print(f"порог Pipeline: {threshold:.2f}; падение ROC AUC из-за skew: {auc_drop:.3f}")
alarms = skew.loc["сервис (сырые данные)", "predicted_late_rate"]
print(f"сервис поднимает тревогу у {alarms:.0%} заказов")
# two rules that need no model at all: an alarm on every order, or never an alarm
no_model = CostTable().constant_costs(test[TARGET].mean())
print(f"тревога на каждый заказ: {no_model['flag_all']:.1f} ₽ на заказ")
print(f"ни одной тревоги: {no_model['flag_none']:.1f} ₽ на заказ")
print(f"доля опозданий в отложенной выборке: {test[TARGET].mean():.1%}")
skew

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
colors = ["tab:green", "tab:red", "tab:blue"]
skew["roc_auc"].plot.barh(ax=axes[0], color=colors)
axes[0].axvline(0.5, color="grey", linestyle="--")
axes[0].set(title="ROC AUC\n(пунктир — случайное угадывание)", xlabel="ROC AUC")
axes[0].set(xlim=(0.4, 1.0), xticks=[0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
skew["cost_per_order"].plot.barh(ax=axes[1], color=colors)
axes[1].axvline(no_model["flag_all"], color="grey", linestyle=":", label="тревога на каждый заказ")
axes[1].axvline(no_model["flag_none"], color="black", linestyle="--", label="ни одной тревоги")
axes[1].set(title="Стоимость ошибок\n(линии — правила без модели)", xlabel="₽ на заказ")
axes[1].set_yticklabels([])
axes[1].legend(handles=axes[1].get_lines(), loc="lower right", fontsize=8)
fig.suptitle("Провал 1: одна и та же модель в ноутбуке и в сервисе")
fig.tight_layout()
plt.show()

# %% [markdown]
# Сервис отвечает на каждый запрос, в логах чисто — но ROC AUC у него заметно ниже, тревогу
# он поднимает почти у каждого заказа и стоит дороже, чем правило «ни одной тревоги», которому
# модель не нужна вовсе. Такой сервис хуже, чем отсутствие модели.
#
# Почему из двух правил без модели дешевле «ни одной тревоги»: действие на каждом заказе
# окупается, только если опаздывает больше 21 % заказов (тот же порог безубыточности), а у
# нас опаздывает меньше. Экономит лишь модель, которая поднимает тревогу выборочно.

# %% [markdown]
# ## Провал 2: другое окружение
#
# Модель сохранили файлом — но кроме модели нужно записать, **в каком окружении** она
# обучена: версии Python, scikit-learn, numpy, pandas, scipy
# (`versioning.reproducibility.current_environment`, тот же формат, что
# `versioning.tracking.environment_info` в MLflow). `save_model_bundle` из того же модуля
# кладёт их рядом с моделью, а `load_model_bundle` сверяет при загрузке.

# %%
from mlops_course.config import display_path, work_dir
from mlops_course.versioning.reproducibility import load_model_bundle, save_model_bundle

bundle_path = save_model_bundle(
    model, work_dir("models") / "01_model.joblib", data_hash=frame_hash(train)
)
loaded, metadata = load_model_bundle(bundle_path)
print("сохранено в", display_path(bundle_path))
print("загрузка в том же окружении: ok, модель та же:", model_hash(loaded) == model_hash(model))

# %% [markdown]
# «Production» — другой сервер, где scikit-learn и numpy старее. Pickle-файл модели
# scikit-learn между версиями не переносим: в лучшем случае он не загрузится, в худшем —
# загрузится и будет считать иначе. Проверка окружения останавливает загрузку сразу и с
# понятным сообщением, а не после часа отладки.

# %%
from mlops_course.versioning.reproducibility import (
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
# Модель обучена на `orders.csv`, ROC AUC записан в отчёт. Через пару месяцев коллега
# перезапускает выгрузку «за последний период» — файл называется так же, но внутри уже
# зимние заказы. Код не менялся ни на строчку, а число из отчёта больше не получить.

# %%
from mlops_course.model.evaluate import evaluate_model
from mlops_course.scenario.generator import load_orders, save_orders
from mlops_course.scenario.problems import make_batch

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
# Someone re-runs the export: same file name, a later (winter) period of orders.
save_orders(make_batch(n_orders, seed=seed + 1, scenarios="winter").frame, orders_csv)
rerun = train_from_file(orders_csv)
table = pd.DataFrame({"в отчёте (при обучении)": reported, "повтор сейчас": rerun}).T
table["roc_auc"] = table["roc_auc"].astype(float).round(3)
same_hash = reported["hash (frame_hash)"] == rerun["hash (frame_hash)"]
print(f"файл: {display_path(orders_csv)}; хэши совпадают: {same_hash}")
print(f"ROC AUC сдвинулся на {rerun['roc_auc'] - reported['roc_auc']:+.3f} при том же коде")
table

# %% [markdown]
# По одной метрике не понять, что изменилось: код, данные или случайность. Если бы при
# обучении записали хэш данных (`scenario.generator.frame_hash`, или DVC — ноутбук 06),
# причина была бы видна сразу: «данные не те», а не «метрика почему-то уехала».

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
# В лекции к этой причине в скобках добавлено: «дрейф данных». Наша модель `model` с порогом
# `threshold` обучена на весенних заказах. Подадим ей заказы изменившегося мира и сравним с
# двумя ориентирами:
#
# - **переобученная** модель: тот же `train_model` на стольких же заказах новых условий,
#   порог — на их валидации (`split_validation` + `tune_threshold`), как у весенней;
# - **лучшая константа**: более дешёвое из правил «тревога на каждый заказ» и «ни одной
#   тревоги» (`CostTable.constant_costs`), выбранное задним числом. Модель, которая не
#   дешевле константы, не нужна.
#
# Сценарии: `winter` (мороз и снег: по снегу каждый километр даётся дольше), `peak_load`
# (курьеру дают больше четырёх заказов за раз — весной такого не бывает),
# `marketing_campaign` (акция меняет сумму заказа, а она на опоздание не влияет) и
# `routing_change` (новая маршрутизация: признаки те же, их связь с опозданием другая —
# концептуальный дрейф). Модели оценивают на свежих заказах каждого сценария: на них ничего
# не обучается и порог не подбирается (`model.scenario_value.score_scenario`). Рядом — какие
# признаки помечает набор тестов дрейфа данных (Колмогорова — Смирнова и χ² с поправкой
# Холма, `monitoring.drift.dataset_drift`: весенние заказы против свежих). Кроме рублей
# смотрим на логарифмическую функцию потерь (log loss) — насколько точны сами вероятности
# (чем меньше, тем лучше).

# %%
from mlops_course.model import scenario_value

scenarios = {
    "base": "весна (без изменений)",
    "winter": "зима",
    "peak_load": "пиковая нагрузка",
    "marketing_campaign": "маркетинговая акция",
    "routing_change": "новая маршрутизация",
}
spring = {"logreg": scenario_value.Champion(model, threshold)}
# the retrained model learns from as many orders as the spring one did (fit + validation)
sizes = {"reference_rows": len(train), "current_rows": scenario_orders}
scored = pd.concat(
    scenario_value.score_scenario(name, seed, ["logreg"], stale=spring, **sizes)
    for name in scenarios
)

# %%
drifted = {}  # the reference of the drift tests: the same spring orders as `orders`
for name in scenarios:
    found = scenario_value.scenario_drift(
        name, seed, reference_rows=n_orders, current_rows=scenario_orders
    )
    drifted[name] = ", ".join(found.table.loc[found.table["drifted"], "column"]) or "—"

# %%
policies = {"stale_logreg": "весенняя", "retrained_logreg": "переобученная"}
policies["constant"] = "лучшая константа"
rub = scenario_value.cost_matrix(scored).droplevel("seed")[list(policies)]
loss = scenario_value.cost_matrix(scored, "log_loss").droplevel("seed")[list(policies)]
ratio = (rub["stale_logreg"] / rub["retrained_logreg"]).rename("весенняя / переобученная")
parts = {
    "₽ на заказ": rub.rename(columns=policies).round(1).join(ratio.round(2)),
    "log loss": loss.rename(columns=policies).round(3),
    "дрейф данных": pd.Series(drifted).to_frame("помеченные признаки"),
}
value = pd.concat(parts, axis=1).rename(index=scenarios).rename_axis(index=None)
harmful = ratio[["winter", "peak_load", "routing_change"]] - 1
print(f"зима, пиковая нагрузка, маршрутизация: весенняя дороже переобученной на "
      f"{100 * harmful.min():.0f}–{harmful.max():.0%}")  # fmt: skip
value

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
shown = {"₽ на заказ": rub, "log loss": loss}
for ax, (name, frame) in zip(axes, shown.items(), strict=True):
    frame.rename(index=scenarios, columns=policies).iloc[::-1].plot.barh(
        ax=ax, color=["tab:red", "tab:green", "tab:grey"], legend=False
    )
    ax.set(title=f"{name} (меньше — лучше)", xlabel=name, ylabel="")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False)
fig.suptitle("Весенняя модель в изменившемся мире")
fig.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()

# %% [markdown]
# Что видно в таблице:
#
# - **Весна.** Весенняя модель стоит столько же, сколько переобученная, и на 25–30 % дешевле
#   лучшей константы: мир не менялся, модель окупается.
# - **Зима и пиковая нагрузка** — вредный дрейф данных. Тесты дрейфа его видят, а весенняя
#   модель стоит заметно дороже переобученной (колонка «весенняя / переобученная») и почти
#   столько же, сколько лучшая константа, а то и дороже неё: модель, которая весной
#   экономила больше четверти расходов, почти перестала окупаться. Log loss тоже вырос —
#   вероятности стали неточными.
# - **Маркетинговая акция** — безвредный дрейф. Тест тоже срабатывает (`order_value`), но
#   весенняя модель стоит почти столько же, сколько весной, и переобучение ничего не даёт:
#   сумма заказа на опоздание не влияет. **Дрейф данных — ещё не деградация**: тревогу
#   детектора надо проверять по качеству (подробно — в ноутбуке 04).
# - **Новая маршрутизация** — наоборот: тесты дрейфа данных молчат (признаки распределены
#   как весной), а весенняя модель заметно дороже переобученной. Это концептуальный дрейф
#   (concept drift); ниже посмотрим, как он выглядит во времени.
#
# Почему весенняя модель зимой и в пиковую нагрузку дорожает? Весной мороз и снег бывают
# редко, а больше четырёх заказов у курьера не бывает вовсе: модель выучила эти эффекты по
# горстке заказов или не выучила совсем — и теперь недооценивает риск. Это видно по
# тревогам: на тех же заказах весенняя модель поднимает их реже переобученной:

# %%
for name in ["winter", "peak_load"]:
    result = scored[scored["scenario"] == name].set_index("policy")
    print(
        f"{scenarios[name]}: опаздывает {result.loc['truth', 'late_rate']:.0%} заказов; тревога — "
        f"у {result.loc['stale_logreg', 'alarm_rate']:.0%} (весенняя модель) "
        f"против {result.loc['retrained_logreg', 'alarm_rate']:.0%} (переобученная)"
    )

# %% [markdown]
# ### Концептуальный дрейф: неделя за неделей
#
# Замораживаем весеннюю модель и подаём ей поток недель из `scenario.problems.stream`: с
# 4-й недели за 4 недели вводится новая маршрутизация (сценарий `routing_change`). Для
# сравнения каждую неделю обучаем «свежую» модель на заказах прошлой недели (порог — на их
# последней четверти, `scenario_value.fit_champion`): это качество, которое было бы
# доступно, если бы модель обновлялась каждую неделю. Метки прошлой недели мы считаем уже
# известными — это упрощение: как жить с метками, которые приходят с опозданием, разбирает
# ноутбук 05.

# %%
from mlops_course.scenario.problems import Event, stream

routing = Event("routing_change", start_week=4, ramp_weeks=4)
rows, fresh = [], None
for batch in stream(n_weeks, orders_per_week, seed=seed, events=[routing]):
    for name, current in {"весенняя": spring["logreg"], "свежая": fresh}.items():
        if current is not None:
            metrics = evaluate_model(current.model, batch.frame, current.threshold)
            rows.append({"неделя": batch.week, "модель": name, **metrics})
    fresh = scenario_value.fit_champion(batch.frame, seed=seed)
weekly = pd.DataFrame(rows).pivot(index="неделя", columns="модель")

# %% [markdown]
# Средние за недели до смены и после того, как она завершилась:

# %%
before = weekly[weekly.index < routing.start_week].mean()
settled = routing.start_week + routing.ramp_weeks
after = weekly[weekly.index >= settled].mean()
periods = pd.DataFrame(
    {
        f"до смены (недели 0–{routing.start_week - 1})": before,
        f"после смены (недели {settled}–{n_weeks - 1})": after,
    }
)
periods.loc[["roc_auc", "log_loss", "cost_per_order"]].round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
panels = {
    "roc_auc": ("ROC AUC", "выше — лучше"),
    "log_loss": ("log loss", "ниже — лучше"),
    "cost_per_order": ("₽ на заказ", "ниже — лучше"),
}
for ax, (metric, (name, better)) in zip(axes, panels.items(), strict=True):
    ax.plot(weekly[metric]["весенняя"], marker="o", label="весенняя (замороженная) модель")
    ax.plot(weekly[metric]["свежая"], marker="s", label="свежая (обучена на прошлой неделе)")
    ax.axvspan(
        routing.start_week, n_weeks - 1, color="tab:orange", alpha=0.15, label="новая маршрутизация"
    )
    ax.set(title=f"{name} ({better})", xlabel="неделя", ylabel=name)
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False)
fig.suptitle("Модель не менялась, мир — изменился")
fig.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()

# %% [markdown]
# До смены свежая модель замороженную не обгоняет: по ROC AUC и log loss она даже чуть хуже,
# по рублям ничего не выигрывает (практически та же цена, а с другим seed — и чуть дороже).
# Мир тот же, а свежая учится всего на одной неделе. После смены замороженная модель не
# «ломается» — она отвечает, как раньше, и ошибок в логах нет. Но по всем трём метрикам она
# отстаёт от свежей: выученная весной связь признаков с опозданием после смены уже не верна
# (как она изменилась, показывают графики в начале ноутбука 05: расстояние стало значить
# меньше, нагрузка курьера — больше). Заметить это можно только мониторингом
# качества по меткам (ноутбук 05); детекторы дрейфа данных (ноутбук 04) его не видят — это
# показала строка «новая маршрутизация» в таблице сценариев.

# %% [markdown]
# ### 3. Воспроизводимость критически важна
#
# Обучаем дважды «одинаково», но без фиксированного seed: случайное разбиение на обучение
# и валидацию каждый раз своё — и модели разные. С seed — одинаковые.


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
#   (расхождение обучения и сервинга) снизила ROC AUC, сервис поднимал тревогу почти у
#   каждого заказа и стоил дороже, чем вовсе без модели, — и ни одной ошибки в логах;
#   проверка окружения остановила загрузку модели в чужое окружение; изменённый файл с тем
#   же именем сделал метрику из отчёта невоспроизводимой, а хэш данных сразу назвал бы
#   причину.
# - Исправления — тоже практики MLOps: один `Pipeline` как модель, записанное окружение,
#   хэши (версии) данных.
# - Данные меняют модель. Мир меняется, и замороженная модель тихо дорожает: зима и пиковая
#   нагрузка (дрейф данных) и новая маршрутизация (концептуальный дрейф) делают её заметно
#   дороже переобученной (на сколько процентов в этом запуске — строка над таблицей
#   сценариев). Акция, сдвинувшая суммы заказов, меняет данные, но не
#   стоимость: дрейф — ещё не деградация. А концептуальный дрейф тесты дрейфа данных не
#   видят вовсе — его выдают только метки. Без seed не повторить даже одинаковый запуск.
#   Поэтому MLOps — не просто DevOps для ML.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("01_why_mlops")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: ""}
check_quiz("01_why_mlops", answers)
