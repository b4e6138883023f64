# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Уровень зрелости 2: CI/CD/CT
#
# На уровне 1 (ноутбук 09) конвейер сам переобучал модель, но выкатку одобрял человек, а
# изменения самого конвейера до запуска никто не проверял. Лекция описывает **уровень 2**
# тремя строками: CI/CD/CT, автоматический деплой и мониторинг, A/B-тестирование моделей.
# Здесь каждая строка — настоящий запуск: тесты конвейера останавливают сломанное
# изменение, метрики Prometheus и задача дрейфа запускают переобучение, ворота качества в
# рублях и алиасы реестра MLflow выкатывают модель без человека, A/B-тест через
# маршрутизатор сервиса решает, кому отдать трафик, а откат по отложенным меткам убирает
# модель, которая оказалась хуже. В конце три уровня встречают один и тот же год в
# симуляторе — и мы честно смотрим, где уровень 2 лучше уровня 1, а где нет.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - объяснить, что проверяет CI конвейера (тесты данных, обучения, артефактов) и чего не
#   проверяет, и показать, как тесты останавливают сломанное изменение;
# - прочитать метрики сервиса в формате Prometheus и превратить отчёт о дрейфе и живое
#   качество в решение триггера переобучения;
# - построить CD моделей на алиасах реестра: ворота качества на бизнес-метрике (₽ на
#   заказ), выкатка с проверкой сервиса и автоматический откат по отложенным меткам;
# - спланировать A/B-тест (размер выборки по формуле, сверенный со `statsmodels`, с учётом
#   задержки меток), принять решение бутстрепом по ₽ и z-тестом и объяснить, почему нельзя
#   подглядывать в тест каждый день;
# - прочитать GitHub Actions workflow непрерывного обучения и сравнить три уровня
#   зрелости на одном году: рубли, качество, выкатки, обнаружение и восстановление.
#
# Слайды лекции: «Уровни зрелости MLOps» (уровень 2: CI/CD/CT, автоматический деплой и
# мониторинг, A/B-тестирование моделей), «Архитектурная схема» (MLflow, Prometheus,
# GitHub Actions).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# the smallest gain in ₽ per order worth switching models for (plans the A/B test)
min_effect_rub = 10.0
# significance level and power of the A/B test
alpha, power = 0.05, 0.8
# share of orders the service routes to the challenger during the A/B test
ab_share = 0.5
# the gate and the rollback check: how many ₽ per order make a difference
gate_margin_rub, rollback_margin_rub = 1.0, 1.0

# %%
import atexit
import os
import shutil

import pandas as pd
from IPython.display import display

from mlops_course.config import display_path, repo_root, work_dir

# child processes (the pipeline's tests, the service) fit and predict small batches: one
# BLAS thread is faster than two that fight over a shared 2-core machine
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
home = work_dir("10_maturity_level_2")
shutil.rmtree(home)  # start afresh: the pipeline copy, the registry, the prediction log
home = work_dir("10_maturity_level_2")
log_path = home / "predictions.sqlite"
print("папка ноутбука:", display_path(home))

# %% [markdown]
# ## CI конвейера: тесты до того, как изменение пойдёт в работу
#
# Конвейер обучения — тоже код, и его меняют: параметры, стадии, признаки. На уровне 2
# изменение конвейера сначала проходит **его собственные тесты**
# (`tests/pipeline/test_pipeline_contract.py`): стадии `dvc.yaml` запускаются на маленьком
# мире за секунды и проверяют данные (партии проходят валидацию, плохая партия
# останавливает конвейер до обучения), обучение (разбиение по времени, модель лучше работы
# без модели, не видит метку и id, детерминизм) и артефакты (ровно те выходы, что
# объявлены, метрики для ворот). Ваш checkout трогать нельзя, поэтому работаем в копии
# курса со своим git (`versioning.sandbox`, как в ноутбуке 06) и кладём туда тесты.

# %%
from mlops_course.automation import ci
from mlops_course.versioning import sandbox

box = sandbox.create(home / "pipeline-copy", site_cache=home / "dvc-site")
tests = box.path("tests/pipeline/test_pipeline_contract.py")
tests.parent.mkdir(parents=True)
shutil.copy2(repo_root() / "tests/pipeline/test_pipeline_contract.py", tests)
stages_py = "src/mlops_course/orchestration/stages.py"
print("копия:", display_path(box.root), "| файлов в git:", len(box.git("ls-files").splitlines()))

# %% [markdown]
# Тесты запускаются в свежем процессе Python (`ci.pytest_outcomes`), как в CI, и
# проверяют код копии, а не установленный пакет. Сначала — конвейер как есть:

# %%
outcomes = {"как есть": ci.pytest_outcomes(tests)}
passed = sum(v == ci.PASSED for v in outcomes["как есть"].values())
print(f"тестов: {len(outcomes['как есть'])}, прошли: {passed}")

# %% [markdown]
# Теперь два «улучшения», которые выглядят безобидно. Функция ниже вносит правку в
# `stages.py` копии, показывает её (`git diff`), запускает тесты и отменяет правку.


# %%
def try_change(name: str, *edits: tuple[str, str]) -> None:
    """Edit stages.py in the copy, show the diff, run the pipeline's tests, undo the edit."""
    path = box.path(stages_py)
    text = path.read_text()
    for old, new in edits:
        assert old in text, f"в {stages_py} нет строки {old!r}"
        text = text.replace(old, new)
    path.write_text(text)
    diff = box.git("diff", "-U0", "--", stages_py).splitlines()
    print(*[line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")], sep="\n")
    outcomes[name] = ci.pytest_outcomes(tests)
    box.git("checkout", "--", stages_py)  # the copy's own git: the change is undone
    failed = [test for test, result in outcomes[name].items() if result != ci.PASSED]
    print("не прошли:", ", ".join(failed) or "—")


# %% [markdown]
# Первое — случайное разбиение вместо разбиения по времени: «так метрики стабильнее».
# Модель тогда оценивается на заказах из того же периода, что и обучение, а в production
# она всегда предсказывает будущее.

# %%
split_line = 'generator.load_orders(REFERENCE_CSV), test_size=p["test_size"]'
try_change("случайное разбиение", (split_line, split_line + ", by_time=False"))

# %% [markdown]
# Второе — «случайное зерно, чтобы данные были разнообразнее»: генерация данных берёт
# зерно от часов. Каждый запуск получает другие данные, а значит другую модель и другие
# хэши в `dvc.lock`: воспроизводимость (ноутбук 06) потеряна.

# %%
seed_line = 'make_batch(p["reference_rows"], seed=p["seed"])'
time_seed = 'make_batch(p["reference_rows"], seed=time.time_ns() % 2**32)'
try_change("зерно от часов", ("import os\n", "import os\nimport time\n"), (seed_line, time_seed))

# %%
marks = {ci.PASSED: "✓", ci.FAILED: "✗ не прошёл", ci.ERROR: "✗ ошибка", ci.SKIPPED: "пропущен"}
ci_table = pd.DataFrame(outcomes).map(marks.get).rename_axis("тест конвейера")
print("в копии ничего не изменилось:", box.git("status", "--porcelain") == "?? tests/")
with pd.option_context("display.max_colwidth", None):
    display(ci_table)

# %% [markdown]
# Каждое изменение остановил свой тест: случайное разбиение — тест «разбиение по времени
# и без пересечений», зерно от часов — тест «конвейер детерминирован». В workflow (ниже)
# этот шаг стоит перед `dvc repro`: сломанный конвейер не обучит ни одной модели и ничего
# не зарегистрирует. Чего тесты **не** проверяют: лучше ли новая модель той, что в
# production. Код может быть верным, а модель — хуже (например, обученной на старых
# данных). Это работа ворот качества — в разделе CD.
#
# ## Год, реестр и сервис в production
#
# Дальше работаем на неделях того же года, что симулятор в конце ноутбука (и ноутбуки 08
# и 09): `make_year(seed)`. Сейчас **конец недели 47** (конец января): зима в полную силу,
# сезон пиковой нагрузки закончился на неделе 43, метки приходят через 2 недели, так что
# известны опоздания до недели 45 включительно. В production — модель, которую конвейер
# обучил в конце недели 41 на неделях 36–39 (пик и начало зимы). Реестр MLflow — sqlite в
# папке ноутбука; первый вызов создаёт базу (несколько секунд).

# %%
from mlops_course.model.evaluate import CostTable
from mlops_course.simulation.year import make_year, week_start
from mlops_course.versioning import registry, tracking

year = make_year(seed)
costs = CostTable()
now_week = 47
labelled_until = now_week - year.label_delay_weeks
print(f"сейчас: конец недели {now_week}, метки известны до недели {labelled_until}")

# %%
experiment_id = tracking.setup_tracking(home=home)  # a new sqlite registry: a few seconds
print("реестр:", registry.MODEL_NAME, "| алиасы:", registry.aliases())

# %% [markdown]
# Обучение в конвейере — одна функция: окно из четырёх недель с метками, модель на
# ранних 75 % заказов, порог по таблице затрат на поздних 25 % (`fit_with_threshold`, как в
# симуляторе), запуск MLflow с порогом в параметрах и новая версия в реестре.

# %%
from threadpoolctl import threadpool_limits

from mlops_course.model.evaluate import evaluate_model
from mlops_course.model.retraining import fit_with_threshold
from mlops_course.model.train import split_validation

trained = {}  # version -> what the pipeline knows about the model


def orders_of(weeks) -> pd.DataFrame:
    return pd.concat([year.batch(w).frame for w in weeks], ignore_index=True)


# %%
def train_and_register(weeks: range, run_name: str) -> int:
    """CT's training step: fit on the weeks, tune the threshold, log the run, register."""
    orders = orders_of(weeks)
    with threadpool_limits(1):  # small fits: threads only fight over the 2 cores
        model, threshold = fit_with_threshold(orders, "logreg", costs, seed)
    validation = split_validation(orders)[1]
    reference = evaluate_model(model, validation, threshold, costs)
    params = {"model": "logreg", "threshold": threshold, "weeks": f"{weeks[0]}…{weeks[-1]}"}
    scores = {f"validation_{k}": reference[k] for k in ("log_loss", "cost_per_order", "roc_auc")}
    info = tracking.log_training_run(model, orders, validation, params, scores, run_name=run_name)
    version = registry.register(info.model_uri)
    trained[version] = {"orders": orders, "threshold": threshold, "reference": reference}
    return version


# %%
v1 = train_and_register(range(36, 40), "ct-week-41")
registry.promote(registry.MODEL_NAME, v1)
service_threshold = trained[v1]["threshold"]
print(f"v{v1}: обучена на неделях 36–39, порог {service_threshold:.2f}")
print("алиасы:", registry.aliases())

# %% [markdown]
# Сервис (`python -m mlops_course.serving`, FastAPI + uvicorn) запускается в фоне и сам
# находит чемпиона по алиасу `models:/delivery-delay@champion`. Порог — настройка сервиса:
# он один на все модели, которые сервис обслуживает, и `/admin/reload` его не меняет
# (ноутбук 03). Поэтому весь ноутбук порог сервиса — тот, что подобран для v1, и все
# сравнения на живом трафике ниже идут при нём. **Это единственная ячейка, которая может
# ждать дольше 10 с на занятой машине**: новый процесс загружает MLflow и модель.

# %%
from mlops_course.serving import start_service
from mlops_course.serving.client import ServiceClient

service = start_service(
    f"models:/{registry.MODEL_NAME}@champion",
    extra_args=["--tracking-uri", tracking.tracking_uri(home), "--log-path", str(log_path)],
    env={"MLOPS_SERVING_THRESHOLD": str(service_threshold)},
    timeout=120,
)
atexit.register(service.stop)  # stopped even if a cell below fails
client = ServiceClient(service.url)
print("сервис готов:", client.ready(), "| чемпион:", client.model()["champion"]["version"])

# %% [markdown]
# ## Автоматический мониторинг: метрики Prometheus и задача дрейфа
#
# Заказы недели берём из года. A/B-тест ниже продлится дольше, чем осталось недель в году;
# после конца года мир не меняется (те же события в той же силе), и симуляция берёт
# заказы из него, продолжая номера заказов.

# %%
from mlops_course.scenario.problems import make_batch

last = year.weeks - 1
world = {e.scenario: e.event.strength_at(last) for e in year.active_events(last)}
print("мир в конце года:", world)


def week_orders(week: int) -> pd.DataFrame:
    """The year's batch; after the year, a week of the same world (ids go on)."""
    if week < year.weeks:
        return year.batch(week).frame
    first_id = (week + len(year.history)) * year.orders_per_week + 1
    return make_batch(year.orders_per_week, seed + week, list(world), strength=world,
                      start=week_start(week), first_id=first_id).frame  # fmt: skip


# %% [markdown]
# Сервис отвечает на заказы недель 44–47, по запросу на неделю. Меток он не получает: их
# ещё никто не знает, кроме симуляции, — она отложит их до поры.

# %%
from mlops_course.config import ID_COLUMN, TARGET

labels = {}  # week -> order id and is_late: the simulation knows them, the team 2 weeks later


def serve(weeks) -> pd.DataFrame:
    """The service answers each week's orders; the labels wait in ``labels``."""
    answers = []
    for week in weeks:
        orders = week_orders(week)
        answers.append(client.predict(orders.drop(columns=TARGET)).assign(week=week))
        labels[week] = orders[[ID_COLUMN, TARGET]].assign(week=week)
    return pd.concat(answers, ignore_index=True)


# %%
served = serve(range(44, now_week + 1))
print("ответов:", len(served), "| версии:", sorted(served["model_version"].unique()))

# %% [markdown]
# Что сервис сам о себе рассказывает на `/metrics` — текст в формате Prometheus. Разберём
# его парсером `prometheus_client` (так же его читает сервер Prometheus, который раз в
# несколько секунд забирает метрики, см. `deploy/prometheus.yml`). Время ответов и число
# опросов `/ready` при старте меняются от запуска к запуску — их не печатаем.

# %%
from prometheus_client.parser import text_string_to_metric_families

text = client.http.get("/metrics").text
families = {family.name: family for family in text_string_to_metric_families(text)}
shown = ["predictions", "http_requests", "model_info", "model_ready", "ab_challenger_share"]
samples = [s for name in shown for s in families[name].samples]
samples = [s for s in samples if not s.name.endswith("_created")]  # creation times vary
samples = [s for s in samples if s.labels.get("endpoint", "/predict") == "/predict"]
labels_text = [", ".join(f"{k}={v}" for k, v in s.labels.items()) for s in samples]
table = pd.DataFrame({"метрика": [s.name for s in samples], "метки": labels_text})
table["значение"] = [s.value for s in samples]
total = table.loc[table["метрика"] == "predictions_total", "значение"].sum()
print(f"predictions_total по всем меткам: {total:.0f}, отправлено заказов: {len(served)}")
with pd.option_context("display.max_colwidth", None):
    display(table)

# %% [markdown]
# Метрики сервиса отвечают на вопрос «жив ли он и что отвечает» (доля тревог видна по
# `label="1"`), но не «правильно ли». Это дело **задачи мониторинга** (`run_monitoring`):
# она читает журнал предсказаний сервиса, сравнивает входы с обучающими данными чемпиона
# (дрейф данных) и, когда метки пришли, считает живое качество. Заодно она пишет свои
# результаты как метрики Prometheus (а с `evidently_html=True` — и отчёт Evidently, как в
# ноутбуке 04; здесь он не нужен и стоит секунд).

# %%
from mlops_course.monitoring.job import MonitoringExporter, run_monitoring


def labelled(weeks) -> pd.DataFrame:
    return pd.concat([labels[w] for w in weeks], ignore_index=True)


exporter = MonitoringExporter()
report = run_monitoring(
    trained[v1]["orders"], log_path, labelled(range(44, labelled_until + 1)),
    last_requests=4, threshold=service_threshold, exporter=exporter,
)  # fmt: skip
print(report.summary())

# %% [markdown]
# Вердикт идёт в `retraining_trigger` — тот же триггер, что у уровней 1 и 2 в симуляторе:
# дрейф данных или живой log loss хуже, чем при обучении, больше чем на 0.05.

# %%
from mlops_course.automation.triggers import retraining_trigger

live, reference = report.quality.loc["all", "log_loss"], trained[v1]["reference"]["log_loss"]
retrain, reasons = retraining_trigger(report.drift_detected, live, reference)
print(f"переобучать: {retrain}", *[f"- {reason}" for reason in reasons], sep="\n")

# %% [markdown]
# Дрейф — в нагрузке курьеров (пик кончился), температуре и погоде (зима), а log loss на
# неделях 44–45 намного хуже, чем при обучении. Prometheus получает это как метрики (файл
# для textfile-коллектора node-exporter): правило тревоги на `monitoring_dataset_drift`
# или `monitoring_live_quality` может запустить workflow (`workflow_dispatch`, см. ниже)
# без человека.

# %%
exported = exporter.write(home / "monitoring.prom")
gauges = {
    (s.name, s.labels.get("metric")): s.value
    for family in text_string_to_metric_families(exported.read_text())
    for s in family.samples
    if s.labels.get("variant", "all") == "all"
}
for name, metric in [("monitoring_dataset_drift", None), ("monitoring_drifted_share", None),
                     ("monitoring_live_quality", "log_loss")]:  # fmt: skip
    print(f"{name}{'{metric=' + metric + '}' if metric else ''} = {gauges[name, metric]:.3f}")

# %% [markdown]
# ## CD моделей: ворота качества на ₽ и алиасы реестра
#
# Триггер сработал — конвейер переобучает модель на четырёх последних неделях с метками
# перед контрольной (41–44). Контрольная неделя 45 — заказы, которых не видела ни одна
# модель: ни при обучении, ни при подборе порога. И второй запуск конвейера, с ошибкой в
# выгрузке: вместо свежих недель он прочитал старый весенний снимок (недели истории до
# начала года). Тесты конвейера такой ошибки не видят (код верен), проверка схемы тоже
# (данные корректны).

# %%
v2 = train_and_register(range(41, 45), "ct-week-47")
v3 = train_and_register(range(-len(year.history), 0), "ct-week-47-stale-snapshot")
gate_orders = year.batch(labelled_until).frame
for version in (v2, v3):
    times = trained[version]["orders"]["timestamp"]
    print(f"v{version}: заказы с {times.min():%d.%m.%Y} по {times.max():%d.%m.%Y}")

# %% [markdown]
# Ворота качества — `MetricGate` из симулятора, только на бизнес-метрике: ₽ на заказ на
# контрольной неделе, каждая модель — со своим порогом (его хранит запуск MLflow, как в
# `automation.cd gate`). Претендент проходит, если дешевле чемпиона больше чем на
# `gate_margin_rub`: выигрыш на уровне шума не должен менять модель. Прошедший получает
# алиас `challenger` — кандидат для A/B-теста.

# %%
from mlops_course.automation.cd import version_threshold
from mlops_course.simulation.policies import MetricGate, ModelReport

gate = MetricGate("cost_per_order", margin=gate_margin_rub)


def gate_report(version: int) -> ModelReport:
    """A registered version on the gate orders, at the threshold its run recorded."""
    model = registry.load_version(registry.MODEL_NAME, version)
    threshold = version_threshold(registry.MODEL_NAME, version)
    metrics = evaluate_model(model, gate_orders, threshold, costs)
    return ModelReport(version, metrics, data_valid=True)


# %%
def run_gate(version: int) -> None:
    """The challenger against the champion; a pass gives it the alias ``challenger``."""
    champion = registry.get_alias_version(registry.MODEL_NAME, registry.CHAMPION)
    decision = gate(gate_report(version), gate_report(champion))
    if decision.passed:
        registry.set_alias(registry.MODEL_NAME, registry.CHALLENGER, version)
    print(decision.reason, "| алиасы:", registry.aliases())


print("алиасы до:", registry.aliases())
run_gate(v2)

# %%
run_gate(v3)

# %% [markdown]
# Весенняя модель заметно дороже чемпиона и до сервиса не дошла; свежая прошла. Прошла —
# ещё не значит «лучше в production»: ворота судили по одной прошлой неделе и с порогом
# каждой модели, а сервис применяет свой. Проверить на живом трафике — дело A/B-теста.
#
# ## A/B-тест: претендент на живом трафике
#
# Маршрутизатор сервиса (`serving.router`) отправляет заказ к чемпиону или претенденту по
# хэшу его id: один и тот же заказ всегда видит одну модель, доля — `ab_share`. Претендента
# ставим без перезапуска — `PUT /admin/challenger`.

# %%
update = {"model_uri": f"models:/{registry.MODEL_NAME}@challenger", "share": ab_share}
ab_setup = client.http.put("/admin/challenger", json=update).raise_for_status().json()
versions = {variant: ab_setup[variant]["version"] for variant in ("champion", "challenger")}
share, ab_threshold = ab_setup["challenger_share"], ab_setup["threshold"]
print(f"чемпион v{versions['champion']}, претендент v{versions['challenger']}")
print(f"доля претендента: {share}, порог для обоих: {ab_threshold:.2f}")

# %% [markdown]
# ### Сколько заказов нужно
#
# Главная метрика — ₽ на заказ (среднее); наименьший эффект, ради которого стоит менять
# модель, — `min_effect_rub`. Разброс ₽ на заказ берём у чемпиона на его последних
# неделях с метками (журнал сервиса + метки недель 44–45). Для двух равных групп
# (z-приближение, двусторонний тест) на группу нужно
#
# $$n = 2\left(\frac{(z_{1-\alpha/2} + z_{1-\beta})\,\sigma}{\delta}\right)^2,$$
#
# где σ — стандартное отклонение ₽ на заказ, δ — наименьший эффект, 1 − β — мощность.

# %%
import math

from scipy import stats

from mlops_course.monitoring import ab_test as ab
from mlops_course.monitoring.job import join_labels
from mlops_course.serving.prediction_log import read_prediction_log

history = join_labels(read_prediction_log(log_path), labelled(range(44, labelled_until + 1)))
sigma = ab.order_costs(history[TARGET], history["label"], costs).std(ddof=1)
z_alpha, z_power = stats.norm.isf(alpha / 2), stats.norm.ppf(power)
by_hand = 2 * ((z_alpha + z_power) * sigma / min_effect_rub) ** 2
n_per_arm = ab.sample_size_mean_difference(sigma, min_effect_rub, alpha, power)
print(f"σ = {sigma:.1f} ₽ по {len(history)} заказам с метками")
print(f"n = 2·(({z_alpha:.3f} + {z_power:.3f})·{sigma:.1f} / {min_effect_rub:g})² = {by_hand:.1f}")
print(f"→ {n_per_arm} заказов с метками в каждой группе")

# %% [markdown]
# Сверим с `statsmodels` (`NormalIndPower` решает то же уравнение для стандартизованного
# эффекта δ/σ). Вторая метрика — доля заказов, которые опоздали без тревоги; эффект для
# неё — 3 процентных пункта, формула для двух долей (`ab_test` считает её с объединённой
# дисперсией и через арксинус — как `statsmodels`).

# %%
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

solver = NormalIndPower()
sm_mean = solver.solve_power(effect_size=min_effect_rub / sigma, alpha=alpha, power=power)
print(f"₽ на заказ: ab_test {n_per_arm}, statsmodels {math.ceil(sm_mean)}")
p_champion = float((history[TARGET].astype(bool) & (history["label"] == 0)).mean())
p_target = p_champion - 0.03
h = abs(proportion_effectsize(p_target, p_champion))
sm_share = math.ceil(solver.solve_power(effect_size=h, alpha=alpha, power=power))
arcsine = ab.sample_size_two_proportions(p_champion, p_target, alpha, power, method=ab.ARCSINE)
n_share = ab.sample_size_two_proportions(p_champion, p_target, alpha, power)
print(f"доля без тревоги {p_champion:.3f} → {p_target:.3f}: арксинус {arcsine}, ", end="")
print(f"statsmodels {sm_share}, объединённая дисперсия {n_share}")

# %% [markdown]
# Горизонт считается в заказах **с метками**: сервис отвечает сразу, а опоздал ли заказ,
# узнают через 2 недели. При 1000 заказах в неделю и доле 50 % в каждую группу приходит
# около 500 заказов в неделю:

# %%
traffic_weeks = math.ceil(n_per_arm / (year.orders_per_week * ab_share))
decided = traffic_weeks + year.label_delay_weeks
print(f"трафика нужно ≈ {traffic_weeks} нед., решение — через {decided} нед. после старта")

# %% [markdown]
# Сервис отвечает на заказы неделя за неделей, пока в каждой группе не наберётся
# `n_per_arm` заказов; затем анализ читает журнал сервиса и присоединяет к нему метки,
# когда они пришли.

# %%
ab_weeks, variants = [], pd.Series(dtype=object)
while variants.empty or variants.value_counts().min() < n_per_arm:
    ab_weeks.append(now_week + 1 + len(ab_weeks))
    variants = pd.concat([variants, serve(ab_weeks[-1:])["variant"]])
truth = labelled(ab_weeks)
ab_log = join_labels(read_prediction_log(log_path, last_requests=len(ab_weeks)), truth)
ab_log["week"] = ab_log[ID_COLUMN].map(truth.set_index(ID_COLUMN)["week"])
ab_log["rub"] = ab.order_costs(ab_log[TARGET], ab_log["label"], costs)
arms = dict(tuple(ab_log.groupby("variant")))
print(f"недели {ab_weeks[0]}–{ab_weeks[-1]}:", {v: len(part) for v, part in arms.items()})

# %% [markdown]
# Через две недели после начала пришли метки первой недели теста. Соблазн велик —
# посмотреть сразу. `cost_decision` с горизонтом `planned_n` честно отвечает «данных
# мало»; без горизонта он вынес бы решение уже по этим заказам (строка «без горизонта»;
# почему так нельзя — ниже, в разделе о подглядывании):

# %%
first = {v: part.loc[part["week"] == ab_weeks[0], "rub"] for v, part in arms.items()}
early = ab.cost_decision(first["champion"], first["challenger"], planned_n=n_per_arm, seed=seed)
naive = ab.cost_decision(first["champion"], first["challenger"], seed=seed)
print(early.summary())
print("без горизонта:", naive.decision)

# %% [markdown]
# На горизонте — первые `n_per_arm` заказов каждой группы. Главная метрика — бутстреп
# разницы ₽ на заказ (претендент минус чемпион, 95 %-й интервал), вторая — z-тест доли
# опоздавших без тревоги:

# %%
at_horizon = {v: part.head(n_per_arm) for v, part in arms.items()}
champion_rub, challenger_rub = at_horizon["champion"]["rub"], at_horizon["challenger"]["rub"]
decision = ab.cost_decision(champion_rub, challenger_rub, planned_n=n_per_arm, seed=seed)
missed = {v: int((p[TARGET].astype(bool) & (p["label"] == 0)).sum()) for v, p in at_horizon.items()}
secondary = ab.proportion_decision(
    missed["champion"], n_per_arm, missed["challenger"], n_per_arm,
    alpha=alpha, planned_n=n_share, metric="доля опоздавших без тревоги",
)  # fmt: skip
print(decision.summary(), secondary.summary(), sep="\n")

# %% [markdown]
# Обе метрики говорят одно: претендент значимо лучше, весь интервал разницы ₽ лежит ниже
# нуля. CD выкатывает его: алиас `champion` передвигается с проверкой, что чемпион всё ещё
# тот, с кем сравнивали (compare-and-set), старый становится `previous_champion` — путь
# назад. Затем сервис снимает A/B-тест, перечитывает чемпиона, и выкатку проверяют:
# сервис готов, отвечает версией чемпиона из реестра, пробная партия получает ответы. Не
# прошла проверку — откат.


# %%
def service_check() -> list[str]:
    """What a deployment must pass: ready, the registry's champion served, a smoke batch."""
    champion = str(registry.get_alias_version(registry.MODEL_NAME, registry.CHAMPION))
    problems = [] if client.ready() else ["сервис не готов (/ready)"]
    if (version := client.model()["champion"]["version"]) != champion:
        problems.append(f"сервис отвечает версией {version}, а чемпион — {champion}")
    smoke = client.predict(gate_orders.head(50).drop(columns=TARGET))
    if set(smoke["model_version"]) != {champion} or not smoke["probability"].between(0, 1).all():
        problems.append("пробная партия: не та версия или вероятности вне [0, 1]")
    return problems


# %%
def deploy() -> None:
    """CD's last step: the service reloads the champion; a failed check rolls back."""
    client.http.post("/admin/reload").raise_for_status()
    if problems := service_check():
        print("проверка не пройдена:", *problems, "→ откат", sep="\n")
        registry.rollback(registry.MODEL_NAME)
        client.http.post("/admin/reload").raise_for_status()
    print("сервис: версия", client.model()["champion"]["version"], "| проверки:", problems or "✓")


# %%
print("алиасы до:", registry.aliases())
if decision.decision == ab.ACCEPT:
    registry.promote(registry.MODEL_NAME, v2, expected_champion=v1)
client.http.delete("/admin/challenger").raise_for_status()
deploy()
print("алиасы после:", registry.aliases())

# %%
served_threshold = client.model()["threshold"]
print(f"порог сервиса {served_threshold:.2f}; v{v2} подобрала себе {trained[v2]['threshold']:.2f}")

# %% [markdown]
# Порог сервиса остался прежним: `/admin/reload` меняет модель, но не порог (ноутбук 03).
# Ровно при нём претендент и выиграл A/B-тест, так что в production сейчас то, что
# проверено. Подобранный для v2 порог вступит в силу со следующим перезапуском сервиса —
# это отдельная выкатка, со своей проверкой.
#
# ### Подглядывание (peeking)
#
# Каждый взгляд на идущий тест — ещё один шанс ошибиться. A/A-симуляция: обе группы —
# одна и та же модель (доля 0.1, 10 000 заказов в группе), тест останавливают при первом
# p < 0.05. Сколько таких экспериментов «найдут» разницу, которой нет, если смотреть 1, 5,
# 10 или 100 раз?

# %%
aa = ab.peeking_false_positive_rates(looks=(1, 5, 10, 100), alpha=alpha, seed=seed)
aa_columns = {
    "looks": "просмотров",
    "false_positive_rate": "ложных «открытий», %",
    "standard_error": "± ст. ошибка, %",
}
percent = ["false_positive_rate", "standard_error"]
aa.assign(**{c: (100 * aa[c]).round(1) for c in percent}).rename(columns=aa_columns).set_index(
    "просмотров"
)

# %% [markdown]
# Один взгляд в конце — 5 %, как обещает α. Десять взглядов — почти каждый пятый A/A-тест
# «находит» победителя, сто — больше трети. Лекарства: **фиксированный горизонт** (решать
# только на `planned_n`, как выше) или **последовательный дизайн**, который заранее
# разрешает K взглядов и ставит для них границу строже: Pocock — одну строгую на все
# взгляды, O'Brien–Fleming — очень строгую вначале и почти обычную в конце. Сравним их на
# второй метрике (доля без тревоги у чемпиона → на 3 п. п. меньше, горизонт `n_share`, 10
# взглядов): ложные открытия в A/A, мощность и сколько заказов в среднем уходит до
# решения.

# %%
designs = ab.compare_designs(p_champion, p_target, n_share, n_looks=10, alpha=alpha, seed=seed)
design_columns = {
    "design": "дизайн",
    "looks": "взглядов",
    "final_critical_z": "граница |z| в конце",
    "false_positive_rate": "ложных открытий (A/A), %",
    "power": "мощность, %",
    "mean_orders_per_arm": "заказов в группе в среднем",
}
shown = designs.assign(
    false_positive_rate=(100 * designs["false_positive_rate"]).round(1),
    power=(100 * designs["power"]).round(1),
    final_critical_z=designs["final_critical_z"].round(3),
    mean_orders_per_arm=designs["mean_orders_per_arm"].round(0).astype(int),
)
shown.rename(columns=design_columns).set_index("дизайн")

# %% [markdown]
# Подглядывание с обычной границей 1.96 обещает 5 % ложных открытий, а даёт почти
# вчетверо больше. Pocock и O'Brien–Fleming держат их около α и в среднем останавливают
# тест с настоящим эффектом раньше горизонта. Цена — мощность при том же максимуме
# заказов: у Pocock заметно меньше, чем у фиксированного горизонта, у O'Brien–Fleming —
# почти столько же. И правило надо записать **до** начала теста.
#
# ## Автоматический откат по отложенным меткам
#
# Ворота и A/B-тест судят по прошлому; в production модель встречает будущее. Поэтому CD
# уровня 2 продолжает сравнивать: когда приходят метки недель, которые чемпион обслужил,
# его ₽ на заказ сравниваются с ₽ предыдущего чемпиона на **тех же** заказах (его
# предсказания считаются «в тени», при том же пороге сервиса). Хуже больше чем на
# `rollback_margin_rub` — откат: `registry.rollback` возвращает `champion` к
# `previous_champion` и помечает снятую версию `rolled_back`, сервис перечитывает
# чемпиона.

# %%
from mlops_course.model.evaluate import late_scores


def live_costs(weeks) -> tuple[float, float]:
    """₽ per order on the delayed labels of ``weeks``: the champion served, the previous one
    in shadow (its predictions on the same orders, at the service's threshold)."""
    log = join_labels(read_prediction_log(log_path, last_requests=len(weeks)), labelled(weeks))
    previous = registry.load_model(registry.MODEL_NAME, registry.PREVIOUS_CHAMPION)
    shadow = late_scores(previous, log) >= served_threshold
    served_rub = ab.order_costs(log[TARGET], log["label"], costs).mean()
    return served_rub, ab.order_costs(log[TARGET], shadow, costs).mean()


# %%
def live_check(weeks) -> None:
    """Roll back when the champion costs more than previous_champion by the margin."""
    now, before = live_costs(weeks)
    versions = registry.aliases()
    print(f"недели {weeks[0]}–{weeks[-1]}: v{versions['champion']} {now:.1f} ₽ на заказ, "
          f"v{versions['previous_champion']} в тени {before:.1f} ₽")  # fmt: skip
    if now - before <= rollback_margin_rub:
        print("не хуже → остаётся")
        return
    restored = registry.rollback(registry.MODEL_NAME)
    client.http.post("/admin/reload").raise_for_status()
    print(f"хуже на {now - before:.1f} ₽ → откат к v{restored}, проверки:", service_check() or "✓")


# %%
after_ab = [ab_weeks[-1] + 1, ab_weeks[-1] + 2]
serve(after_ab)
live_check(after_ab)

# %% [markdown]
# v2 в production дешевле, чем была бы v1, — откат не нужен. Теперь проверим, что откат
# срабатывает. Кто-то в обход ворот вручную назначил чемпионом весеннюю v3 («срочное
# исправление»). Сервис её загрузил, проверки сервиса она проходит: она отвечает, версия
# верная. Увидеть, что она хуже, можно только по меткам — через две недели.

# %%
registry.promote(registry.MODEL_NAME, v3)  # by hand: no gate, no A/B test
deploy()
by_hand = [after_ab[-1] + 1, after_ab[-1] + 2]
serve(by_hand)
live_check(by_hand)
tagged = registry.is_rolled_back(registry.MODEL_NAME, v3)
print("алиасы:", registry.aliases(), f"| v{v3} помечена rolled_back:", tagged)

# %% [markdown]
# Откат вернул v2 сам, без человека, а v3 помечена `rolled_back`: ворота
# `registry.promote_if_better` теперь откажут ей, пока её явно не разрешат снова. Две
# недели с v3 обошлись дороже — цена задержки меток; без автоматической проверки v3
# осталась бы в сервисе надолго. Сервис больше не нужен: останавливаем его.

# %%
client.close()
service.stop()
print("сервис остановлен:", not service.running())

# %% [markdown]
# ## CT-воркфлоу: `.github/workflows/continuous-training.yml`
#
# Всё, что выше делали ячейки, в команде делает CI-сервер. Workflow непрерывного обучения
# курса — учебный материал: его шаги — те же команды, что студент запускает из папки
# курса. Прочитаем его: когда он запускается и что выполняет.

# %%
import yaml

workflow = yaml.safe_load((repo_root() / ".github/workflows/continuous-training.yml").read_text())
triggers = workflow[True]  # YAML 1.1 (pyyaml) reads the key `on` as the boolean True
paths = triggers["push"]["paths"]
print("по расписанию (cron, UTC):", triggers["schedule"][0]["cron"], "— понедельник, 03:17")
print(f"push в {triggers['push']['branches']}, если изменился один из {len(paths)} путей:")
print("  ", ", ".join(paths[:4]), "…")
print("вручную или по тревоге мониторинга (workflow_dispatch):", "workflow_dispatch" in triggers)

# %%
(job,) = workflow["jobs"].values()
here = {
    "tests/pipeline": "раздел «CI конвейера»",
    "make pipeline": "ноутбук 06 (dvc repro)",
    "cd gate": "ворота на ₽ на заказ",
    "cd register": "алиас challenger",
    "cd promote": "алиас champion",
}
steps = [
    {"шаг": step.get("name", step.get("uses")), "выполняет": step.get("run", step.get("uses"))}
    for step in job["steps"]
]
for step in steps:
    step["в этом ноутбуке"] = next((v for k, v in here.items() if k in step["выполняет"]), "")
with pd.option_context("display.max_colwidth", None):
    display(pd.DataFrame(steps, index=range(1, len(steps) + 1)))

# %% [markdown]
# Порядок тот же, что в ноутбуке: тесты конвейера → переобучение → ворота → регистрация
# претендента → выкатка передвижением алиаса. Отказ ворот завершает workflow с кодом 1 —
# до регистрации дело не доходит (коды выхода `automation.cd`: 0 — сделано, 1 — отказ,
# 2 — нет входных файлов). Локальный двойник workflow — цель `make ct`:

# %%
import itertools

makefile = (repo_root() / "Makefile").read_text().splitlines()
start = next(i for i, line in enumerate(makefile) if line.startswith("ct:"))
recipe = itertools.takewhile(lambda line: line.startswith("\t"), makefile[start + 1 :])
print("make ct:", *[line.strip().replace("$(BIN)/", ".venv/bin/") for line in recipe], sep="\n  ")

# %% [markdown]
# Workflow не только разбирается, но и **работает**: `tests/repo/test_ct_workflow.py`
# проверяет, что каждая команда существует, а затем выполняет его шаги `run:` по порядку
# во временной копии курса (checkout — копия рабочего дерева со своим git, секреты пусты,
# реестр — sqlite копии) и требует, чтобы чемпионом в реестре стала модель, прослеженная
# до коммита копии и md5 из `dvc.lock`, а повторный запуск ворот на той же модели
# остановил workflow. Этот тест идёт минуту-две, поэтому в ноутбуке его нет: он
# запускается вместе с остальными тестами курса (`make test`).
#
# ## Три уровня на одном году
#
# Теперь вопрос всего блока 08–10: окупается ли зрелость? Симулятор играет один и тот же
# год (тот же seed, те же партии) по правилам трёх уровней; отличаются только политики:
# когда переобучать, проверяются ли данные и модель, сколько дней шаг ждёт человека, есть
# ли мониторинг и автооткат.

# %%
from mlops_course.simulation.policies import LEVEL_0, LEVEL_1, LEVEL_2, describe_policy

policies = pd.DataFrame([describe_policy(p) for p in (LEVEL_0, LEVEL_1, LEVEL_2)])
with pd.option_context("display.max_colwidth", None):
    display(policies.set_index("политика").T)

# %% [markdown]
# Уровень 2 отличается от уровня 1 двумя строками: нет трёх дней одобрения (модель
# приходит в production через неделю после решения, а не через две) и есть автооткат. Год
# каждого уровня — в своей ячейке; первая дольше: симулятор один раз на год считает
# оракула (модель на свежих данных каждой недели, с ним сравнивается восстановление).

# %%
from mlops_course.model.evaluate import format_roubles
from mlops_course.simulation.simulator import simulate_year

results = {}


def play(name: str, policy) -> None:
    results[name] = simulate_year(policy, seed)
    s = results[name].summary()
    print(f"{name}: {format_roubles(s['cost_rub'])} за год, выкаток {s['deployments']}, ", end="")
    print(f"откатов {s['rollbacks']}, инцидентов в production {s['incidents_in_production']}")


play("уровень 0", LEVEL_0)

# %%
play("уровень 1", LEVEL_1)

# %%
play("уровень 2", LEVEL_2)

# %% [markdown]
# Один рисунок: события года, недельный log loss каждого уровня (▼ — новая модель начала
# работать, пунктир — оракул) и накопленные рубли сверх оракула.

# %%
import matplotlib.pyplot as plt

from mlops_course.classroom.year_plots import plot_year

fig = plot_year(results, title="Log loss за неделю: три уровня зрелости на одном году")
plt.show()

# %% [markdown]
# И одна таблица — из симулятора, без подгонки: рубли за год, среднее и медиана недельного
# log loss, выкатки и откаты, инциденты, дошедшие до production, ложные тревоги и для
# каждого события — сколько недель от его начала до первой тревоги (обнаружение) и до
# возвращения к качеству оракула (восстановление); «—» — не случилось за год.

# %%
from mlops_course.simulation.simulator import level_ranges, level_table

summary = pd.DataFrame([result.summary() for result in results.values()])
rows = ["cost_rub", "mean_log_loss", "median_log_loss", "deployments", "rollbacks"]
rows += ["incidents_in_production", "false_alarms"]
rows += [f"{kind}_{event.key}" for event in year.events for kind in ("detect", "recover")]
level_table(level_ranges(summary).loc[rows])

# %% [markdown]
# Где уровень 2 лучше уровня 1, а где нет, — посчитаем, а не скажем на глаз (во всех
# строках ниже меньше — лучше):

# %%
import numpy as np

by_level = summary.set_index("level")
compared = [row for row in rows if row not in ("deployments", "rollbacks")]
names = level_table(by_level[compared].T).index
one, two = by_level.loc["level_1", compared], by_level.loc["level_2", compared]
verdict = pd.Series(np.select([two < one, two == one], ["лучше", "так же"], "хуже"), names)
for word, how in (("лучше", "лучше, чем"), ("так же", "так же, как"), ("хуже", "хуже, чем")):
    print(f"уровень 2 {how} уровень 1:", "; ".join(verdict.index[verdict == word]) or "—")
cost = by_level["cost_rub"]
print("уровень 2 дешевле уровня 1 на", format_roubles(cost["level_1"] - cost["level_2"]), end="")
print(", уровня 0 — на", format_roubles(cost["level_0"] - cost["level_2"]), "за год")

# %% [markdown]
# Почему разница между уровнями 2 и 1 скромная и откатов нет — тоже числом: насколько
# хуже прежней оказалась самая неудачная выкатка уровня 2 (log loss на настоящих метках
# недель, которые она обслужила), сколько выкаток изменили log loss меньше чем на 0.01 и
# сколько недель проходит от решения до production.

# %%
deploys = results["уровень 2"].deployments.query("week > 0")
changes = deploys["log_loss_change"].dropna()
print(f"худшая выкатка уровня 2: {changes.max():+.4f} log loss к прежней модели", end="")
print(f" (откат — если хуже больше чем на {LEVEL_2.rollback_margin})")
small = int((changes.abs() < 0.01).sum())
print(f"выкаток, изменивших log loss меньше чем на 0.01: {small} из {len(deploys)}")
for name in ("уровень 1", "уровень 2"):
    made = results[name].deployments.query("week > 0 and kind == 'deploy'")
    print(f"{name}: от решения до production, нед.:", sorted(set(made.eval("week - decided_week"))))

# %% [markdown]
# Что говорит таблица:
#
# - **Уровень 2 дешевле уровня 1 на десятки тысяч рублей за год** (точная сумма выше), а
#   уровня 0 — на сотни тысяч. Выигрыш 2 над 1 — неделя, которую уровень 1 ждёт одобрения:
#   автооткат не сработал ни разу, так что других различий в работе не было. Те же
#   триггеры и ворота, но модель уровня 1 приходит в production на неделю позже (и
#   следующее переобучение сдвигается вместе с ней). После каждого события уровень 2
#   возвращается к качеству оракула не позже уровня 1, но часто — в ту же неделю (строки
#   «так же» выше).
# - **Обнаружение у уровней 1 и 2 одинаковое**: у них один мониторинг и одни триггеры.
#   Автоматическая выкатка не ускоряет обнаружение; концептуальный дрейф (маршрутизацию)
#   оба видят только через 2 недели — столько идут метки.
# - **Автооткат за год не сработал ни разу.** Ворота не пропускают модель хуже чемпиона, и
#   ни одна выкатка не оказалась хуже прежней больше чем на порог отката. Откат — страховка
#   от того, чего ворота не видят (как v3, назначенная выше вручную в обход ворот), а не
#   источник выигрыша на этом году.
# - **Уровень 2 выкатывает чаще**, и многие его выкатки меняют log loss меньше чем на
#   0.01 (число выше): ворота с запасом 0 пропускают улучшения на уровне шума. Каждая
#   выкатка — риск и работа; поэтому в разделе CD ворота требовали запас в рублях. Ложных
#   тревог у уровня 2 не меньше, чем у уровня 1: автоматическая выкатка тревог не
#   убавляет.
# - **Инциденты**: у уровня 0 до production дошла неделя в метрах (его данные и модели не
#   проверяются; на части seed — ещё и модель хуже прежней, см. ноутбук 08); у уровней 1 и
#   2 — ни одного: проверка данных отклонила партию, ворота — плохие модели.
# - Среднее log loss уровня 0 — это почти целиком неделя в метрах (её log loss в десятки
#   раз выше обычного, значение подписано на рисунке), поэтому рядом медиана: по медиане
#   уровни близки, разница — в редких плохих неделях и в том, как быстро модель догоняет
#   мир после события.
#
# ## Итоги
#
# - **CI конвейера** — тесты данных, обучения и артефактов на маленьком мире за секунды;
#   два «безобидных» изменения (случайное разбиение, зерно от часов) остановил каждое свой
#   тест. Тесты проверяют, что конвейер верен, но не что модель лучше.
# - **Мониторинг** — `/metrics` сервиса (Prometheus) и задача дрейфа по журналу
#   предсказаний: дрейф и живое качество идут в триггер переобучения, а метрики
#   мониторинга — в Prometheus, чьё правило тревоги может запустить workflow.
# - **CD моделей** — алиасы реестра вместо копирования файлов: ворота на ₽ на заказ (у
#   каждой модели свой порог, запас против шума) дают `challenger`, решение A/B-теста —
#   `champion` (compare-and-set), `previous_champion` — путь назад. Выкатка проверяется
#   сервисом, а по отложенным меткам чемпион сравнивается с предыдущим в тени; хуже —
#   откат без человека.
# - **A/B-тест** — размер выборки по формуле (совпал со `statsmodels`), горизонт в
#   заказах с метками (задержка меток удлиняет тест), решение бутстрепом по ₽ и z-тестом;
#   подглядывание превращает 5 % ложных открытий в почти 20 % при 10 взглядах и больше
#   трети при 100; лечится фиксированным горизонтом или последовательным дизайном
#   (Pocock, O'Brien–Fleming).
# - **Три уровня на одном году**: зрелость окупается, но уровень 2 выигрывает у уровня 1
#   немного — неделей ожидания одобрения; обнаружение у них одинаковое, автооткат на этом
#   году не понадобился, а выкатывает уровень 2 чаще. Автоматизация убирает ожидание людей
#   и страхует от ошибок, которые ворота не видят, но не делает модель лучше сама по себе.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("10_maturity_level_2")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: "", 7: ""}
check_quiz("10_maturity_level_2", answers)

# %% [markdown]
# ### Уборка
#
# Сервис остановлен выше. Проверим, что после ноутбука не осталось ни одного процесса
# курса, запущенного им: ни сервиса, ни процессов тестов.

# %%
import psutil


def course_processes() -> list[int]:
    """Children of this kernel that run the course's code (service, tests)."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if any("mlops_course" in part or "pytest" in part for part in process.cmdline()):
                found.append(process.pid)
        except psutil.Error:  # it exited while we looked
            continue
    return found


print("сервис работает:", service.running(), "| процессов курса:", len(course_processes()))
