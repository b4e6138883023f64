# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Лабораторная 5: непрерывное обучение (continuous training)
#
# На уровне зрелости 1 модель переобучает конвейер, а не человек, — но решения в нём
# пишут люди: **когда** переобучать (триггер), **какую** модель пускать в production
# (ворота качества), **как** её выкатить и вернуть прежнюю (алиасы реестра). Вы напишете
# эти три части сами и прогоните их через тот же производственный год, что уровни 0, 1 и 2
# в ноутбуках 08–10: с новым районом, сменой маршрутизации, партией в метрах, сезоном
# пиковой нагрузки и зимой. К ноутбукам 09–10.
#
# Каждое упражнение проверяется автоматически: ✓ — верно, ✗ — что не так и как исправить.

# %% [markdown]
# ## Цели
#
# - написать триггер переобучения по тому, что команда знает в конце недели: дрейф данных,
#   качество по отложенным меткам; отличить событие от шума детектора и от сломанной партии;
# - написать ворота качества: претендент против чемпиона, с запасом на шум, и без пропуска
#   модели, обученной на непроверенных данных;
# - выкатывать модель и откатывать её через алиасы `champion` / `previous_champion` /
#   `challenger` в реестре MLflow: отклонённая модель никогда не становится чемпионом;
# - собрать из этого свою политику (`OperatingPolicy`) и сравнить её год с уровнями 0, 1 и
#   2: рубли, выкатки, время обнаружения событий.
#
# Слайд лекции: «Уровни зрелости MLOps» (уровень 1 — непрерывное обучение, уровень 2 —
# CI/CD/CT).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42

# %%
import dataclasses

import matplotlib.pyplot as plt
import pandas as pd

from mlops_course.classroom.checks import run_check
from mlops_course.classroom.lab_checks import lab05_continuous_training as lab

pd.set_option("display.max_colwidth", None)  # alias lists are long: show them whole

# %%
from mlops_course.simulation.oracle import oracle_quality
from mlops_course.simulation.policies import (
    LEVEL_0,
    LEVEL_1,
    GateDecision,
    MetricGate,
    OperatingPolicy,
    describe_policy,
    gate_decision,
)
from mlops_course.simulation.simulator import simulate_year
from mlops_course.simulation.year import make_year

# %% [markdown]
# ## Производственный год
#
# Симулятор (`mlops_course.simulation`) проигрывает год неделя за неделей: приходит партия
# заказов, проверка данных может её отклонить (тогда сервис отвечает запасным правилом),
# чемпион её оценивает, мониторинг ищет дрейф и считает качество по меткам, которые
# приходят **через две недели**, триггер решает, переобучать ли, ворота — пускать ли новую
# модель. Рубли и качество недели считаются по истинным меткам. События года:

# %%
year = make_year(seed)
year.events_table()

# %% [markdown]
# Оракул — та же модель, обученная на свежих заказах каждой недели, — показывает, сколько
# стоил бы год при мгновенной и идеальной реакции; проверка данных (та же, что на уровнях 1
# и 2) отклоняет партию в метрах. Оба считаются один раз на год и кешируются.

# %%
oracle = oracle_quality(year)
refused = [week for week in range(year.weeks) if not year.validation(week).ok]
print(f"оракул: {oracle['oracle_cost_rub'].sum():,.0f} ₽ за год".replace(",", " "))
print("проверка данных отклоняет партии недель:", refused)

# %% [markdown]
# ## Что видит триггер
#
# Триггер — функция одного наблюдения `Observation`: что команда знает в конце недели
# `week`. Чтобы проверка была мгновенной и одинаковой для любого ответа, проиграем год один
# раз на уровне 2 (автоматический конвейер из ноутбука 10) и запишем, что видел его
# мониторинг каждую неделю; ваш триггер потом отвечает на те же 52 наблюдения. Поля:
#
# | поле | что это |
# |---|---|
# | `week`, `champion_version`, `weeks_since_deployment` | неделя, версия в production, сколько недель она работает |
# | `batch_valid` | партия прошла проверку данных (`False` — отклонена) |
# | `drift_detected`, `drifted_columns` | дрейф данных против обучающих данных чемпиона (KS/χ² с поправкой Холма); `None`, если партия отклонена |
# | `live_metric`, `reference_metric`, `metric` | log loss чемпиона на неделе, чьи метки пришли сейчас (`NaN` — меток нет), и на его проверочных заказах при обучении |
# | `degraded` | `live_metric` хуже `reference_metric` больше чем на допуск 0.05 |
# | `alarms` | тексты тревог недели |

# %%
observed = lab.observe_year(seed)
kinds = lab.week_kinds(observed).set_index("week")
columns = ["week", "batch_valid", "drift_detected", "drifted_columns", "live_metric",
           "reference_metric", "degraded", "weeks_since_deployment"]  # fmt: skip
shown = [dataclasses.asdict(observed.observations[week]) for week in (1, 7, 8, 20, 28)]
table = pd.DataFrame(shown)[columns].set_index("week").round(3)
table.assign(**{"тип недели": kinds.loc[table.index, "kind"]})

# %% [markdown]
# Проверка делит недели на четыре типа. **Спокойная** — ни одной тревоги, партия принята:
# переобучать незачем. **Событие** — тревога, которую могло вызвать событие года (дрейф его
# столбцов, падение качества на его неделях): повод переобучить. **Ложная тревога** —
# тревога, которую не объясняет ни одно событие: детектор дрейфа с уровнем 5 % иногда
# срабатывает на шум. **Партия отклонена** — модель эту партию не видит ни в работе, ни в
# обучении, и переобучение её не починит. Сколько недель каждого типа в этом году:

# %%
kinds["kind"].value_counts().rename_axis("тип недели").rename("недель")

# %% [markdown]
# ## Упражнение 1. Триггер переобучения
#
# Напишите `retrain_trigger(observation)`: верните список причин (строк) — переобучить,
# пустой список — нет (можно и `True` / `False`). Переобучайте, когда есть признаки
# события: дрейф данных или падение качества по отложенным меткам. Помните:
#
# - концептуальный дрейф (новая маршрутизация) меняет P(y | X), а не входы: дрейф данных
#   его не видит, только качество (`degraded`);
# - `drift_detected` бывает `None` (партия отклонена), `live_metric` — `NaN` (меток ещё
#   нет); `drifted_columns` — кортеж, и пустой кортеж — не `None`;
# - отклонённая партия (`batch_valid=False`) — повод чинить поставку данных, не модель.
#
# Проверка: для каждого события дрейфа триггер получает его первые две недели с признаками
# (только признаки самого события) и должен сработать хотя бы в одну; в спокойные недели —
# не больше двух ложных срабатываний; на отклонённой партии — молчать.


# %%
def retrain_trigger(observation):
    """Reasons to retrain after this week (empty: keep the champion)."""
    ### BEGIN SOLUTION причины: дрейф данных (drift_detected) и падение качества (degraded); иначе []
    reasons = []
    if observation.drift_detected:
        reasons.append(f"дрейф данных: {', '.join(observation.drifted_columns)}")
    if observation.degraded:
        reasons.append(
            f"качество: {observation.metric} {observation.reference_metric:.3f} → "
            f"{observation.live_metric:.3f}"
        )
    return reasons
    ### END SOLUTION


# %%
run_check(lab.check_trigger, retrain_trigger, observed)

# %% [markdown]
# Где ваш триггер сработал за год: серые полосы — события, точки — недели срабатывания
# (цвет — тип недели), мелкие серые точки — недели, когда он промолчал.

# %%
fired = lab.trigger_weeks(retrain_trigger, observed)
colors = {lab.EVIDENCE: "tab:green", lab.NOISE: "tab:orange", lab.CALM: "tab:red",
          lab.REFUSED: "tab:purple"}  # fmt: skip
fig, ax = plt.subplots(figsize=(9, 3.4))
for row, event in enumerate(observed.events):
    active = [week for week in fired["week"] if event.active(week)]
    ax.broken_barh([(active[0] - 0.5, len(active))], (row - 0.35, 0.7), color="0.8")
top = len(observed.events)
quiet = fired[~fired["fired"]]
ax.scatter(quiet["week"], [top] * len(quiet), s=8, color="0.6")
for kind, group in fired[fired["fired"]].groupby("kind"):
    ax.scatter(group["week"], [top] * len(group), color=colors[kind], label=f"сработал: {kind}")
ax.set_yticks(range(top + 1), [event.name for event in observed.events] + ["триггер"])
ax.set_xlabel("неделя года")
ax.set_title("Срабатывания триггера на наблюдениях года (уровень 2)")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% [markdown]
# Как читать: после начала каждого события триггер срабатывает, пока мониторинг видит его
# признаки. Новый район и зима не проходят за одну неделю: на них он срабатывает много
# недель подряд, а конвейер, занятый одним переобучением, остальные запросы пропускает.
# Оранжевые точки — ложные тревоги детектора дрейфа (если они есть): переобучение на них зря тратит
# вычисления, а модель без улучшения дальше не пройдёт — её остановят ворота.

# %% [markdown]
# ## Упражнение 2. Ворота качества
#
# Новую модель (претендента, challenger) сравнивают с чемпионом (champion) на одних и тех
# же заказах — проверочной четверти обучающих данных претендента. Ворота получают два
# `ModelReport`: `version`, `metrics` (`log_loss`, `cost_per_order` — ₽ на заказ, `roc_auc`),
# `data_valid` (все обучающие партии прошли проверку данных; `None` — их не проверяли) и
# `trained_on` (недели обучения).
#
# Напишите `quality_gate(challenger, champion)`: верните `GateDecision(passed, reason)` —
# пропустить ли претендента и почему. Пропускайте, только если
#
# - `challenger.data_valid is True`: по метрикам модель, обученную на сломанной партии, не
#   узнать (ниже это видно на партии в метрах);
# - претендент лучше чемпиона больше чем на запас `MARGIN`: для `log_loss` и ₽ меньше —
#   лучше. Запас на шум — 0.005 log loss, как в ноутбуках 02–03 (или около 1 ₽ на заказ).

# %%
MARGIN = 0.005


def quality_gate(challenger, champion):
    """Pass the challenger when its training data were checked and its log loss beats the
    champion's by more than MARGIN."""
    ### BEGIN SOLUTION отказ, если challenger.data_valid is not True; прирост = champion − challenger по log_loss, пропуск при приросте > MARGIN; GateDecision(passed, причина)
    if challenger.data_valid is not True:
        reason = f"v{challenger.version}: данные не проверены (data_valid={challenger.data_valid})"
        return GateDecision(False, reason)
    new, old = challenger.metrics["log_loss"], champion.metrics["log_loss"]
    gain = old - new
    verdict = "пропущена" if gain > MARGIN else "отклонена"
    reason = (
        f"v{challenger.version} {verdict}: log loss {new:.4f} против {old:.4f} у "
        f"v{champion.version} (прирост {gain:+.4f}, нужен > {MARGIN})"
    )
    return GateDecision(gain > MARGIN, reason)
    ### END SOLUTION


# %%
run_check(lab.check_gate, quality_gate)

# %% [markdown]
# ### Откуда воротам знать о сломанной партии
#
# Проиграем год без проверки данных: конвейер переобучается в конце недель 30 и 31, и
# ворота сравнивают только метрики (`MetricGate`: `data_valid=None` они пропускают). Рядом —
# тот же год с проверкой данных. Для каждой пары претендент — чемпион: на каких неделях
# обучен претендент, его `data_valid`, log loss обоих и два вердикта.

# %%
runs, pairs = {}, []
for checked in (False, True):

    def metric_only(challenger, champion, checked=checked):
        pairs.append((checked, challenger, champion))
        return MetricGate("log_loss", MARGIN)(challenger, champion)

    policy = OperatingPolicy("demo", trigger=lambda o: o.week in (30, 31), gate=metric_only,
                             validate_data=checked)  # fmt: skip
    runs[checked] = simulate_year(policy, seed)

# %%
pd.DataFrame(
    {"проверка данных": checked, "обучена на неделях": str(ch.trained_on),
     "data_valid": str(ch.data_valid), "log loss претендента": ch.metrics["log_loss"],
     "log loss чемпиона": cp.metrics["log_loss"],
     "только метрика": MetricGate("log_loss", MARGIN)(ch, cp).passed,
     "ваши ворота": gate_decision(quality_gate(ch, cp)).passed}
    for checked, ch, cp in pairs
).round(4)  # fmt: skip

# %% [markdown]
# Без проверки данных неделя 28 (метры) попадает в обучение. В конце недели 30 она —
# последняя неделя окна, то есть проверочные заказы ворот: log loss обеих моделей на
# расстояниях в метрах огромен, и сравнение ничего не значит. В конце недели 31 метры уже в
# обучающей части, а чемпион v1 устарел после смены маршрутизации, — и модель, часть
# обучения которой в метрах, выигрывает по log loss: ворота по одной метрике её пропускают.
# Узнать о сломанной партии ворота могут только из отчёта о данных — `data_valid`; с
# проверкой данных неделя 28 отклонена, в обучение не попадает, и `data_valid=True`.

# %% [markdown]
# ## Упражнение 3. Выкатка и откат через алиасы реестра
#
# Сервис загружает модель по алиасу `models:/<имя>@champion`, поэтому выкатить модель —
# передвинуть алиас, а откатить — вернуть его. Реестр — настоящий MLflow: база sqlite в
# рабочей папке лабораторной. Проверка работает со своей моделью `lab05-check` (версии
# 1–3), пример после неё — с `lab05-delivery-delay`, которую создаёт заново при каждом
# запуске, поэтому её версии всегда начинаются с 1. Открыть реестр в MLflow UI: `python -m mlops_course.versioning.mlflow_ui --home
# <рабочая папка>/lab05_continuous_training`. Импорт MLflow занимает несколько секунд,
# первое создание базы — ещё несколько.

# %%
from mlops_course.config import display_path, work_dir
from mlops_course.versioning import registry, tracking

# %%
home = work_dir(lab.LAB)
tracking.setup_tracking(home=home)
print("реестр:", display_path(tracking.tracking_dir(home) / "mlflow.db"))

# %% [markdown]
# Запишем в MLflow первую модель года (обучена на истории, одна и та же для всех уровней):
# проверка зарегистрирует её трижды под именем `lab05-check` — алиасам всё равно, чем
# версии отличаются.


# %%
def log_shelved(shelved, run_name):
    """Log a model of the simulator's shelf to MLflow; return its model URI."""
    params = {"threshold": shelved.threshold, "trained_on": str(shelved.trained_on)}
    info = tracking.log_training_run(shelved.model, shelved.features, shelved.validation,
                                     params, shelved.reference_metrics, run_name=run_name)  # fmt: skip
    return info.model_uri


first_uri = log_shelved(observed.result.shelf.versions[1], "первая модель года")

# %% [markdown]
# Напишите три функции, пользуясь `registry.get_alias_version(name, alias)`,
# `registry.set_alias(name, alias, version)`, `registry.delete_alias(name, alias)` и
# константами `registry.CHAMPION`, `registry.PREVIOUS_CHAMPION`, `registry.CHALLENGER`:
#
# - `promote(name, version)`: версия становится чемпионом, прежний чемпион (если он был и
#   это другая версия) — `previous_champion`;
# - `rollback(name)`: чемпион возвращается на `previous_champion`, а сам алиас
#   `previous_champion` удаляется (откатываться дальше некуда); без `previous_champion` —
#   `raise LookupError(...)`, чемпион остаётся;
# - `release(name, version, decision)`: последний шаг конвейера. Если ворота пропустили
#   (`decision.passed`) — `promote`, и алиас `challenger` с этой версии снимается; если нет —
#   версия получает алиас `challenger` (её разберут люди), чемпион не меняется.
#
# В пакете есть готовые `registry.promote` и `registry.rollback` — сравните с ними потом.


# %%
def promote(name, version):
    """``version`` becomes the champion; the old champion becomes previous_champion."""
    ### BEGIN SOLUTION прежний чемпион (get_alias_version) → previous_champion, если он есть и это другая версия; затем champion → version
    current = registry.get_alias_version(name, registry.CHAMPION)
    if current is not None and current != version:
        registry.set_alias(name, registry.PREVIOUS_CHAMPION, current)
    registry.set_alias(name, registry.CHAMPION, version)
    ### END SOLUTION


# %%
def rollback(name):
    """Give the champion alias back to previous_champion; return that version."""
    ### BEGIN SOLUTION нет previous_champion → LookupError; иначе champion → previous_champion и delete_alias(previous_champion)
    previous = registry.get_alias_version(name, registry.PREVIOUS_CHAMPION)
    if previous is None:
        raise LookupError(f"Откат невозможен: у {name} нет previous_champion.")
    registry.set_alias(name, registry.CHAMPION, previous)
    registry.delete_alias(name, registry.PREVIOUS_CHAMPION)
    return previous
    ### END SOLUTION


def release(name, version, decision):
    """The pipeline's last step: promote a version the gate passed, else mark it challenger."""
    ### BEGIN SOLUTION decision.passed → promote и снять challenger с этой версии; иначе set_alias(challenger)
    if decision.passed:
        promote(name, version)
        if registry.get_alias_version(name, registry.CHALLENGER) == version:
            registry.delete_alias(name, registry.CHALLENGER)
    else:
        registry.set_alias(name, registry.CHALLENGER, version)
    ### END SOLUTION


# %%
run_check(lab.check_registry, promote, rollback, release, first_uri)

# %% [markdown]
# Теперь по-настоящему, с моделями из опыта выше и решениями ваших ворот: первая модель —
# чемпион; модель, обученная с партией в метрах (без проверки данных), и модель с
# проверенными данными проходят `release`; напоследок — откат.

# %%
lab.recreate_model(lab.MODEL)  # versions from 1 on every run
promote(lab.MODEL, registry.register(first_uri, lab.MODEL))
steps = [("promote(v1)", "первая модель года", "—", registry.aliases(lab.MODEL))]
candidates = {
    "с партией в метрах": next(p for p in pairs if not p[0] and p[1].trained_on[-1] != 28),
    "с проверенными данными": next(p for p in pairs if p[0]),
}

# %%
for name, (checked, challenger, champion) in candidates.items():
    uri = log_shelved(runs[checked].shelf.versions[challenger.version], name)
    version = registry.register(uri, lab.MODEL)
    decision = gate_decision(quality_gate(challenger, champion))
    release(lab.MODEL, version, decision)
    verdict = "пропустили" if decision.passed else "отклонили"
    steps.append((f"release(v{version})", name, verdict, registry.aliases(lab.MODEL)))
rollback(lab.MODEL)
steps.append(("rollback()", "", "—", registry.aliases(lab.MODEL)))
table = pd.DataFrame(steps, columns=["шаг", "модель", "ворота", "алиасы"])
table.assign(алиасы=table["алиасы"].map(lab.aliases_text))

# %% [markdown]
# Модель на партии в метрах осталась претендентом (`challenger`): в production она не
# попала, но её можно разобрать. Модель на проверенных данных стала чемпионом, прежний
# чемпион — `previous_champion`, и откат вернул его одним движением алиаса, без
# переобучения и без новой выкладки кода.

# %% [markdown]
# ## Упражнение 4. Своя политика на целый год
#
# `OperatingPolicy` описывает, как команда ведёт модель: `trigger`, `gate`,
# `validate_data` (проверять партии), `monitor` (дрейф и качество по отложенным меткам —
# без него триггер ничего не видит), `auto_rollback` (откат, если на отложенных метках
# новая модель хуже прежней; нужен `monitor`), ожидание людей в днях — `retrain_days`,
# `approval_days`, `deploy_days` — и `waits`: почему ожидание именно такое. Уровни 0, 1 и 2
# в ноутбуках 08–10 — три такие политики, и больше между ними ничего не различается.
# Для сравнения проиграем год уровней 0 и 1 (каждый — в своей ячейке, несколько секунд;
# год уровня 2 уже есть — его наблюдения видел ваш триггер).

# %%
level_0 = simulate_year(LEVEL_0, seed)

# %%
level_1 = simulate_year(LEVEL_1, seed)

# %% [markdown]
# Напишите `make_policy()`: верните политику с вашими `retrain_trigger` и `quality_gate`
# (сами функции, без вызова), с проверкой данных и мониторингом; ожидания выберите сами и
# объясните в `waits`. Проверка: год вашей политики дешевле года уровня 0.


# %%
def make_policy():
    """My operating policy: my trigger and gate, data validation and monitoring."""
    ### BEGIN SOLUTION OperatingPolicy(name=..., trigger=retrain_trigger, gate=quality_gate, validate_data=True, monitor=True, ...)
    return OperatingPolicy(
        name="моя политика",
        description="Переобучение по дрейфу и падению качества, ворота с запасом на шум и "
        "проверкой данных, выкатка без ожидания людей, автооткат.",
        trigger=retrain_trigger,
        gate=quality_gate,
        validate_data=True,
        monitor=True,
        auto_rollback=True,
        waits={"approval_days": "0 дн.: решение принимают ворота (их проверка — упражнение 2)."},
    )
    ### END SOLUTION


# %%
my_policy = make_policy()
mine = simulate_year(my_policy, seed)

# %%
run_check(lab.check_policy, mine, level_0, retrain_trigger, quality_gate)

# %% [markdown]
# Что делают политики и чем кончился год у каждой:

# %%
pd.DataFrame([describe_policy(p) for p in (LEVEL_0, LEVEL_1, my_policy)]).set_index("политика").T

# %%
years = [level_0, level_1, observed.result, mine]
lab.policy_table(years)

# %% [markdown]
# Накопленные рубли каждой политики минус рубли уровня 0: ниже нуля — экономия.
# Вертикальные линии — начала событий.

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
base = level_0.weekly["cost_rub"].cumsum()
for result in years[1:]:
    saving = (result.weekly["cost_rub"].cumsum() - base) / 1000
    ax.plot(result.weekly["week"], saving, label=lab.policy_name(result.policy))
ax.axhline(0, color="grey", linestyle=":", label="уровень 0")
for event in observed.events:
    ax.axvline(event.start_week, color="0.85", linewidth=0.8)
ax.set_xlabel("неделя года")
ax.set_ylabel("тыс. ₽ к уровню 0, накопленно")
ax.set_title("Во что обходится год: политики против уровня 0")
ax.legend()
plt.show()

# %%
print(lab.policy_comparison(mine, level_1, observed.result))

# %% [markdown]
# Как читать таблицу и график. Политика с триггером по событиям, воротами и проверкой
# данных дешевле уровня 0 (это и проверено выше): она переобучается, когда мир меняется,
# не пускает партию в метрах в модель, а модели без улучшения — в production (инциденты —
# в таблице). Против уровней 1 и 2 читайте строку выше: разница с ними складывается из
# ожидания одобрения (у уровня 1 — 3 дня, и модель выходит на неделю позже), переобучений
# по расписанию (у уровней 1 и 2 — каждые 4 недели) и запаса ворот. Запас отсекает выкатки на шуме — выкаток меньше, — но заодно
# и мелкие настоящие улучшения. Откаты за год посчитаны в той же строке: если их 0,
# ворота остановили плохие модели раньше, чем понадобился автооткат.

# %% [markdown]
# ## Итоги
#
# - Триггер переобучения — функция того, что команда знает в конце недели. Дрейф данных
#   ловит новый район, пиковый сезон и зиму сразу; концептуальный дрейф виден только по
#   качеству на отложенных метках — на две недели позже. Ложные тревоги детектора и
#   расписание без событий — лишние переобучения; сломанная партия — повод чинить данные.
# - Ворота качества сравнивают претендента с чемпионом на одних заказах, с запасом на шум, и
#   не пускают модель на непроверенных данных: по метрикам её не узнать.
# - Выкатка и откат — движение алиасов реестра: `champion` и `previous_champion` — путь
#   вперёд и назад без переобучения, `challenger` — отклонённая модель ждёт разбора.
# - Из этих трёх частей складывается политика уровня 1–2; год в симуляторе показывает, во
#   что она обходится по сравнению с ручной работой уровня 0.
