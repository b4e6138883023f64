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
# Аналогия из лекции: DevOps объединяет разработку (Dev) и эксплуатацию (Ops) программ;
# MLOps добавляет в эту цепочку данные и модели.
#
# Кто что делает (и где в этом курсе это увидеть):
#
# | роль | отвечает за | артефакт в этом курсе |
# |---|---|---|
# | Data Scientist | задача, признаки, модель, оценка качества | ноутбук, метрики |
# | ML-инженер | пайплайн, упаковка модели, реестр, мониторинг | `model/train.py`, `dvc.yaml`, MLflow |
# | DevOps-инженер | окружение, CI/CD, развёртывание, сервис | `Dockerfile`, `ci.yml`, Prometheus |
#
# Провал, который мы сейчас воспроизведём, случается ровно на стыках этих ролей.

# %% [markdown]
# ## Данные и модели — полноправные артефакты, как код
#
# DevOps версионирует код. В ML результат определяют три вещи: **код**, **данные** и
# **модель** (плюс окружение). У каждой должен быть свой «отпечаток» (hash), иначе нельзя
# сказать, что именно работает в production.

# %%
from mlops_course.config import repo_root
from mlops_course.model.train import split, train_model
from mlops_course.scenario.generator import frame_hash, generate_orders
from mlops_course.versioning.reproducibility import file_hash, model_hash

orders = generate_orders(n_orders, seed=seed)
train, test = split(orders)
model = train_model(train, seed=seed)
train_py = repo_root() / "src" / "mlops_course" / "model" / "train.py"
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
# когда вероятность опоздания выше порога безубыточности 50 / 350 ≈ 0.14). Порог низкий,
# потому что пропуск в 6 раз дороже ложной тревоги, — поэтому даже хорошая модель поднимает
# тревогу у большинства заказов.

# %%
from mlops_course.model.evaluate import CostTable, score_metrics

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
# the rule "raise an alarm for every order" needs no model at all
alarm_all = CostTable().false_alarm * (1 - test[TARGET].mean())
print(f"правило «тревога на каждый заказ» стоит {alarm_all:.1f} ₽ на заказ")
skew

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
colors = ["tab:green", "tab:red", "tab:blue"]
skew["roc_auc"].plot.barh(ax=axes[0], color=colors)
axes[0].axvline(0.5, color="grey", linestyle="--")
axes[0].set(title="ROC AUC\n(пунктир — случайное угадывание)", xlabel="ROC AUC")
axes[0].set(xlim=(0.4, 0.85), xticks=[0.4, 0.5, 0.6, 0.7, 0.8])
skew["cost_per_order"].plot.barh(ax=axes[1], color=colors)
axes[1].axvline(alarm_all, color="grey", linestyle="--")
axes[1].set(title="Стоимость ошибок\n(пунктир — тревога на каждый заказ)", xlabel="₽ на заказ")
axes[1].set_yticklabels([])
fig.suptitle("Провал 1: одна и та же модель в ноутбуке и в сервисе")
fig.tight_layout()
plt.show()

# %% [markdown]
# Сервис отвечает на каждый запрос, в логах чисто — но ROC AUC у него около 0.5, а стоит
# он не меньше правила «тревога на каждый заказ» (пунктир), которому модель не нужна
# вовсе. Модель в сервисе фактически ничего не различает.

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
# загрузится и будет считать иначе. Проверка окружения останавливает загрузку с понятным
# сообщением, а не через час отладки.

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
# обучении записали хэш данных (`data.frame_hash`, или DVC — ноутбук 06), причина была бы
# видна сразу: «данные не те», а не «метрика почему-то уехала».

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
# Замораживаем модель и подаём ей поток недель из `scenarios.stream`: с 4-й недели
# за 4 недели вводится новая система маршрутизации (концептуальный дрейф, concept drift;
# сценарий `routing_change`). Для сравнения каждую неделю обучаем «свежую» модель на данных
# прошлой недели: это качество, которое было бы доступно, если бы модель обновлялась.
# Кроме ROC AUC следим за логарифмической функцией потерь (log loss) — насколько точны сами
# вероятности (чем меньше, тем лучше).

# %%
from mlops_course.scenario.problems import Event, stream

drift = Event("routing_change", start_week=4, ramp_weeks=4)
rows, fresh = [], None
for batch in stream(n_weeks, orders_per_week, seed=seed, events=[drift]):
    for name, current in {"замороженная": model, "свежая": fresh}.items():
        if current is not None:
            metrics = evaluate_model(current, batch.frame)
            rows.append({"неделя": batch.week, "модель": name, **metrics})
    fresh = train_model(batch.frame, seed=seed)
weekly = pd.DataFrame(rows).pivot(index="неделя", columns="модель")

# %% [markdown]
# Средние за недели до смены и после того, как она завершилась:

# %%
before = weekly[weekly.index < drift.start_week].mean()
settled = drift.start_week + drift.ramp_weeks
after = weekly[weekly.index >= settled].mean()
periods = pd.DataFrame(
    {
        f"до смены (недели 0–{drift.start_week - 1})": before,
        f"после смены (недели {settled}–{n_weeks - 1})": after,
    }
)
periods.loc[["roc_auc", "log_loss"]].round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
panels = {"roc_auc": ("ROC AUC", "выше — лучше"), "log_loss": ("log loss", "ниже — лучше")}
for ax, (metric, (name, better)) in zip(axes, panels.items(), strict=True):
    ax.plot(weekly[metric]["замороженная"], marker="o", label="замороженная модель")
    ax.plot(weekly[metric]["свежая"], marker="s", label="свежая (обучена на прошлой неделе)")
    ax.axvspan(
        drift.start_week, n_weeks - 1, color="tab:orange", alpha=0.15, label="новая маршрутизация"
    )
    ax.set(title=f"{name} ({better})", xlabel="неделя", ylabel=name)
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False)
fig.suptitle("Модель не менялась, мир — изменился")
fig.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()

# %% [markdown]
# До смены свежая модель не лучше замороженной: мир тот же. После смены замороженная модель
# не «ломается» и даже не обязательно теряет ROC AUC: опоздание теперь сильнее зависит от
# нагрузки курьера, его стало проще предсказать. Но она отстаёт от свежей, а её вероятности
# стали хуже (log loss вырос): она по-прежнему винит в опозданиях расстояние и недооценивает
# нагрузку курьера.
# Ошибок в логах нет — заметить это можно только мониторингом качества по меткам (ноутбук 05);
# детекторы дрейфа данных (ноутбук 04) его не видят.

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
#   сделал метрику из отчёта невоспроизводимой, а хэш данных сразу назвал бы причину.
# - Исправления — тоже практики MLOps: один `Pipeline` как модель, записанное окружение,
#   хэши (версии) данных.
# - Данные меняют модель; изменившийся мир тихо ухудшает замороженную модель (она отстаёт
#   от свежей, её вероятности хуже); без seed не повторить даже одинаковый запуск. Поэтому
#   MLOps — не просто DevOps для ML.
#
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("01_why_mlops")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: ""}
check_quiz("01_why_mlops", answers)
