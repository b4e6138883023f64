# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Уровень 1: непрерывное обучение (continuous training, CT)
#
# На уровне 0 (ноутбук 08) модель обучают вручную в ноутбуке и обновляют раз в квартал;
# данные и модель никто не проверяет, за качеством не следят. Лекция описывает следующую
# ступень так: «Уровень 1 — автоматическое переобучение. Но: деплой и мониторинг могут
# оставаться ручными». Здесь мы соберём этот уровень по-настоящему: конвейер обучения как
# поток (flow) Prefect с проверкой данных и модели, запустим его из ноутбука на трёх
# разных неделях, а потом проживём с ним тот же производственный год, что и уровень 0, —
# и посчитаем, что автоматическое переобучение исправило, а что осталось ручным.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - описать конвейер непрерывного обучения: загрузка → проверка данных → обучение →
#   оценка → проверка модели (ворота качества) → регистрация претендента, и запустить его
#   как поток Prefect с локальным сервером;
# - объяснить, где конвейер останавливается сам (плохая партия данных, модель не лучше
#   чемпиона) и что он оставляет человеку (выкатку претендента);
# - назвать четыре триггера переобучения — расписание, новые данные, дрейф данных, падение
#   качества — и показать на симулированном году, когда каждый сработал и сколько раз зря;
# - оценить, во что обходится ручное одобрение выкатки, в неделях и рублях;
# - сравнить уровень 1 с уровнем 0 на одном и том же году: деньги, выкатки, время
#   обнаружения и восстановления по каждому событию — и сказать, что осталось ручным.
#
# Слайды лекции: «Уровни зрелости MLOps» (уровень 1) и «Архитектурная схема» (оркестрация:
# Airflow, Prefect).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# Запуски конвейера: свой короткий поток заказов генератора, смена маршрутизации с недели
# change_week; каждая неделя — последняя неделя, метки которой уже пришли
change_week = 8
first_week, calm_week, drift_week, bad_week = 3, 7, 11, 12

# %%
import shutil

import pandas as pd
from IPython.display import display

from mlops_course.config import display_path, work_dir

home = work_dir("09_maturity_level_1")
shutil.rmtree(home)  # a fresh MLflow store and registry: versions start at v1 on every run
home = work_dir("09_maturity_level_1")
print("папка ноутбука (хранилище MLflow):", display_path(home))

# %% [markdown]
# ## Уровень 0 и уровень 1: что меняется
#
# Симулятор курса (`mlops_course.simulation`) описывает каждый уровень *политикой
# эксплуатации*: когда переобучать, проверяются ли данные и модель, следят ли за качеством
# и сколько дней каждый шаг ждёт человека. Модель, окно обучения и год — одни и те же.

# %%
from mlops_course.simulation.policies import LEVEL_0, LEVEL_1, describe_policy

with pd.option_context("display.max_colwidth", None):
    display(pd.DataFrame([describe_policy(p) for p in (LEVEL_0, LEVEL_1)]).set_index("политика").T)

# %% [markdown]
# Переобучение запускает не человек, а триггер; обучение — минуты работы конвейера, а не
# неделя работы data scientist. Но выкатку претендента по-прежнему **одобряет человек**
# (3 дня), а сам конвейер пишут и выкатывают вручную. Сначала соберём конвейер.

# %% [markdown]
# ## Конвейер CT как поток Prefect
#
# `mlops_course.orchestration.ct_flow.continuous_training` — поток из шести задач (tasks):
#
# `ingest` → `validate_data` → `train` → `evaluate` → `validate_model` → `register`
#
# Каждая задача — тонкая обёртка над пакетом курса: генератор сценария (недели заказов),
# `model.validation` (схема данных, ноутбук 02), `model.train`, `model.evaluate` (порог
# тревоги по стоимости ошибок), `versioning.tracking` и `versioning.registry` (MLflow,
# ноутбук 06). Конвейер решает сам в двух местах:
#
# - **плохая партия** останавливает его на проверке данных: ничего не обучено и не записано;
# - **ворота качества** сравнивают новую модель с чемпионом на одних и тех же отложенных
#   заказах — самых свежих, которых не видела ни та, ни другая: модель проходит, если её
#   log loss лучше чемпионского больше чем на 0.005 (те же ворота, что в ноутбуках 02 и 03). Не прошедшая модель в реестр не попадает,
#   но её запуск остаётся в MLflow с тегом `ct.gate=rejected`.
#
# Прошедшая модель становится **претендентом** (алиас `challenger`), а не чемпионом: выкатку
# на уровне 1 одобряет человек.
#
# Prefect записывает каждый запуск потока и каждой задачи на свой сервер API. Без внешнего
# сервера он поднимает временный (ephemeral): процесс uvicorn с базой sqlite в
# `<work>/prefect`. Запуск сервера — единственная ячейка ноутбука дольше 10 секунд: импорт
# Prefect и старт сервера занимают 13–60 с на занятой машине (первый раз дольше: сервер
# создаёт базу, около 120 миграций). Логи Prefect настроены на уровень WARNING, чтобы
# обычный запуск ничего не печатал.

# %%
# NBVAL_IGNORE_OUTPUT
# (the start-up time depends on the machine and on whether Prefect's database exists)
import time

started = time.perf_counter()
from mlops_course.orchestration.ct_flow import continuous_training
from mlops_course.orchestration.prefect_runtime import server_processes, start_prefect
from mlops_course.versioning import registry, tracking

prefect_server = start_prefect()  # PREFECT_HOME = <work>/prefect, logs at WARNING
tracking.setup_tracking(home=home)  # this notebook's MLflow store (sqlite)
print(f"импорт, сервер Prefect и MLflow: {time.perf_counter() - started:.1f} с")
print(f"из них сервер Prefect отвечал через {prefect_server.startup_s:.1f} с")

# %%
print("сервер Prefect работает:", prefect_server.running)
print("его папка (PREFECT_HOME):", display_path(prefect_server.home))
print("процессов сервера, запущенных этим ядром:", len(server_processes()))

# %% [markdown]
# ### Первая модель: чемпиона ещё нет
#
# Реестр пуст. Первый запуск (вручную) обучает модель на неделях `first_week - 3` …
# `first_week`; воротам не с чем сравнивать, и модель становится претендентом v1. Сделать
# её чемпионом — решение человека: `registry.promote`. Во всех запусках мир один и тот же:
# с недели `change_week` работает новая маршрутизация (концептуальный дрейф из ноутбука 05).

# %%
events = {change_week: ["routing_change"]}  # the world of every run below
run = dict(seed=seed, events=events, home=home)
first = continuous_training(week=first_week, trigger="manual", **run)
print(first)
registry.promote(registry.MODEL_NAME, first.version)  # a person deploys v1
print("алиасы реестра:", registry.aliases())


# %% [markdown]
# ### Спокойная неделя: ворота отказывают
#
# Запуск по расписанию на неделе `calm_week`: мир не изменился, новая модель обучена на
# свежих неделях того же мира. Выиграть ей не у кого — и ворота её не пропускают.


# %%
def show_steps(result) -> None:
    """The run's outcome and its steps table, nothing cut."""
    print(result.reason)
    with pd.option_context("display.max_colwidth", None):
        display(result.steps_table())


calm = continuous_training(week=calm_week, trigger="schedule", **run)
show_steps(calm)

# %% [markdown]
# Переобучение ради переобучения: модель не хуже, но и не лучше, а новая версия в реестре
# означала бы выкатку без пользы. Запуск при этом не потерян — он лежит в MLflow с
# причиной отказа (ниже, в разделе о метаданных).
#
# ### После смены маршрутизации: претендент
#
# Неделя `drift_week`: в окне обучения только недели новой маршрутизации. Запуск помечен
# триггером «падение качества», а не «дрейф данных»: при концептуальном дрейфе P(X) не
# меняется, детекторы дрейфа данных молчат (ноутбук 05), и замечает его только мониторинг
# качества по пришедшим меткам.

# %%
drift = continuous_training(week=drift_week, trigger="degradation", **run)
show_steps(drift)
print("алиасы реестра:", registry.aliases())

# %% [markdown]
# Чемпион на новых заказах заметно хуже, новая модель проходит ворота и становится
# претендентом. Чемпионом она пока **не стала**: в production по-прежнему v1.
#
# ### Партия в метрах: остановка на проверке данных
#
# Неделя `bad_week`: приложение курьеров прислало расстояния в метрах (инцидент качества
# данных). Запуск — по новым данным: пришли метки ещё одной недели.

# %%
import mlflow

bad = continuous_training(
    week=bad_week, trigger="new_data", incidents=["distance_in_metres"], **run
)
show_steps(bad)
print(bad.report)
versions = mlflow.MlflowClient().search_model_versions(f"name = '{registry.MODEL_NAME}'")
print("версий в реестре:", len(versions), "| алиасы:", registry.aliases())

# %% [markdown]
# Конвейер остановился на втором шаге: модель на метрах не обучалась, в реестре ничего не
# появилось. На уровне 0 (ноутбук 08) такая партия дошла до production.
#
# ### Одобрение человеком
#
# Претендент v2 ждёт. Ответственный читает отчёт ворот (выигрыш по log loss на свежих
# заказах) и одобряет выкатку — это та самая ручная операция уровня 1. В симуляторе года
# она стоит 3 дня.

# %%
print(drift.step("validate_model").detail)
registry.promote(registry.MODEL_NAME, drift.version)  # the person's decision
print("алиасы реестра:", registry.aliases())

# %% [markdown]
# ## Что конвейер записал: метаданные
#
# Уровень 1 — это не только автоматическое обучение, но и запись каждого запуска: на каких
# данных, с какими параметрами, что решили ворота. MLflow хранит запуски (и отклонённые
# тоже), реестр — версии, которые можно выкатывать, Prefect — историю запусков потока.

# %%
runs = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT])
columns = {
    "tags.ct.week": "неделя",
    "tags.ct.trigger": "триггер",
    "metrics.log_loss": "log loss",
    "tags.ct.gate": "ворота",
    "tags.ct.gate_reason": "причина",
}
shown = runs[list(columns)].rename(columns=columns).astype({"неделя": int})
with pd.option_context("display.max_colwidth", None):
    display(shown.sort_values("неделя").set_index("неделя").round(4))

# %% [markdown]
# Запусков в MLflow три, а не четыре: партия в метрах остановила конвейер до обучения, и
# записывать было нечего. Prefect же помнит все четыре запуска — и все они завершились
# успешно (`Completed`): отказ данных или ворот — нормальный исход конвейера, а не сбой.
# Сбоем (`Failed`) был бы, например, недоступный MLflow.

# %%
from prefect import get_client

results = {"первая модель": first, "спокойная неделя": calm, "после смены": drift, "метры": bad}
rows = {}
with get_client(sync_client=True) as client:  # Prefect's API: what the server recorded
    for name, result in results.items():
        flow_run = client.read_flow_run(result.flow_run_id)
        rows[name] = {
            "неделя (параметр)": flow_run.parameters["week"],
            "триггер (параметр)": flow_run.parameters["trigger"],
            "состояние в Prefect": flow_run.state_name,
            "исход конвейера": result.outcome,
        }
pd.DataFrame(rows).T.rename_axis("запуск")

# %% [markdown]
# Сервер Prefect больше не нужен: дальше работает симулятор года. Остановим его и
# убедимся, что процесса не осталось.

# %%
import psutil

server_pid = prefect_server.pid
prefect_server.stop()
print("сервер Prefect работает:", prefect_server.running)
print("его процесс ещё существует:", psutil.pid_exists(server_pid))
print("процессов сервера Prefect, запущенных этим ядром:", len(server_processes()))

# %% [markdown]
# ## Расписание и триггеры в настоящем развёртывании
#
# Выше конвейер запускали мы сами, вызовом функции. Чтобы он запускался *сам*, нужен
# планировщик, а временный сервер Prefect его не запускает. `flow.serve(...)` в ноутбуке
# тоже не работает: он запускает свой цикл событий, а цикл ядра Jupyter уже занят. Поэтому
# расписание здесь — код для чтения, а не ячейка. Так выглядел бы скрипт рядом с
# постоянным сервером (`prefect server start` в фоне, `PREFECT_API_URL` указывает на него):
#
# ```python
# # ct_schedule.py — python ct_schedule.py (работает, пока работает процесс)
# from prefect.events import DeploymentEventTrigger
#
# from mlops_course.orchestration.ct_flow import continuous_training
#
# if __name__ == "__main__":
#     continuous_training.serve(
#         name="weekly",
#         cron="0 6 * * 1",  # расписание: по понедельникам в 06:00
#         parameters={"week": 8, "trigger": "schedule"},
#         triggers=[  # события: их присылает задача загрузки меток и задача мониторинга
#             DeploymentEventTrigger(
#                 expect={"delivery.labels.arrived"},
#                 parameters={"week": "{{ event.payload.week }}", "trigger": "new_data"},
#             ),
#             DeploymentEventTrigger(
#                 expect={"delivery.drift.detected"},
#                 parameters={"week": "{{ event.payload.week }}", "trigger": "drift"},
#             ),
#             DeploymentEventTrigger(
#                 expect={"delivery.quality.degraded"},
#                 parameters={"week": "{{ event.payload.week }}", "trigger": "degradation"},
#             ),
#         ],
#     )
# ```
#
# Задача мониторинга сообщает о тревоге событием:
# `prefect.events.emit_event("delivery.drift.detected", resource={"prefect.resource.id":
# "delivery.monitoring"}, payload={"week": 20})`. В настоящем конвейере номер недели
# вычислялся бы из даты запуска, а не передавался параметром. Для продакшена вместо
# `serve` обычно делают `continuous_training.deploy(name=..., work_pool_name=...,
# cron=...)`: запуски выполняет рабочий (worker) пула, например в Docker или Kubernetes.
# Самый простой вариант — строка cron на сервере: `0 6 * * 1 python -m <скрипт конвейера>`;
# но тогда триггеры по событиям придётся писать самим.

# %% [markdown]
# ## Тот же конвейер в Airflow (код для чтения)
#
# `deploy/airflow/continuous_training_dag.py` — тот же конвейер как DAG Airflow 3 (Airflow
# в курсе не установлен: ему нужны планировщик, база метаданных и рабочие). Задачи вызывают
# те же функции `ct_flow`, но каждая задача — отдельный процесс, поэтому заказы и модель
# передаются через файлы, а не как объекты Python. Вот расписание DAG и граф его задач:

# %%
from mlops_course.config import repo_root

lines = (repo_root() / "deploy/airflow/continuous_training_dag.py").read_text().splitlines()
start = lines.index("@dag(")
short_circuit = lines.index("    @task.short_circuit()  # False skips every task downstream")
graph = lines.index("    folder = ingest()")
print(*lines[start : start + 6], "    ...", sep="\n")
print(*lines[short_circuit : short_circuit + 2], "        ...", sep="\n")
print(*lines[graph:], sep="\n")

# %% [markdown]
# `schedule="@weekly"` — то же расписание, что cron выше; `max_active_runs=1` не даёт двум
# запускам одновременно двигать алиас `challenger`. `@task.short_circuit()` — аналог
# остановки на проверке данных: если она вернула False, все следующие задачи помечаются
# пропущенными (skipped), а запуск DAG считается успешным. Выкатки в DAG тоже нет.

# %% [markdown]
# ## Год на уровне 1: симулятор
#
# Четыре запуска показали механику. Ответ на вопрос «а сколько это даёт?» требует года.
# Симулятор курса проигрывает 52 недели с событиями (новый район, смена маршрутизации,
# партия в метрах, сезон пиковой нагрузки, зима; метки приходят через 2 недели) под
# политикой уровня 1: каждое решение переобучить — это запуск того же конвейера (окно из
# последних 4 недель с метками, проверка данных, ворота), а выкатка прошедшей модели ждёт
# одобрения. Главное отличие от конвейера выше: ворота `LEVEL_1` пропускают модель, которая
# лучше чемпиона **хоть на сколько-нибудь** (запас 0, а не 0.005) — к этому мы вернёмся.

# %%
from mlops_course.simulation.oracle import oracle_quality
from mlops_course.simulation.year import make_year

year = make_year(seed)
oracle_quality(year)  # the reference both levels are judged against, computed once per year
with pd.option_context("display.max_colwidth", None):
    display(year.events_table().set_index("событие"))

# %%
from mlops_course.model.evaluate import format_roubles
from mlops_course.simulation.simulator import simulate_year

level_1 = simulate_year(LEVEL_1, seed)
summary_1 = level_1.summary()
print(f"уровень 1: {format_roubles(summary_1['cost_rub'])} за год")
print(f"переобучений {summary_1['retrains']}, выкаток {summary_1['deployments']}")
print(f"тревог {summary_1['alarms']}, из них ложных {summary_1['false_alarms']}")

# %%
level_0 = simulate_year(LEVEL_0, seed)
summary_0 = level_0.summary()
print(f"уровень 0: {format_roubles(summary_0['cost_rub'])} за год")
print(f"переобучений {summary_0['retrains']}, выкаток {summary_0['deployments']}")
print(f"тревог {summary_0['alarms']}: мониторинга нет")

# %% [markdown]
# ## Четыре триггера на году
#
# Политика уровня 1 переобучает по расписанию (каждые 4 недели), по дрейфу данных (тест
# каждой партии против данных обучения чемпиона, ноутбук 04) и по падению качества (log
# loss чемпиона на неделе, метки которой пришли, хуже эталонного больше чем на 0.05).
# Четвёртый триггер, **новые данные** (пришли метки ещё одной недели), срабатывал бы
# каждую неделю, кроме первых двух и той, в которую должны были прийти метки отклонённой
# партии. Когда срабатывал каждый:

# %%
from mlops_course.simulation import outcomes

alarms, weekly = level_1.alarms, level_1.weekly.set_index("week")
delay = year.label_delay_weeks
accepted = [w for w in range(year.weeks - delay) if year.validation(w).ok]
kinds = {"дрейф данных": outcomes.DRIFT, "падение качества": outcomes.DEGRADATION}
fired = {
    "расписание": [w for w in weekly.index if (w + 1) % 4 == 0],
    "новые данные": [w + delay for w in accepted],
    **{name: alarms.loc[alarms["kind"] == kind, "week"].tolist() for name, kind in kinds.items()},
}
false = {
    name: alarms.loc[(alarms["kind"] == kind) & alarms["false_alarm"], "week"].tolist()
    for name, kind in kinds.items()
}
retrained = weekly.index[weekly["retrained"]].tolist()

# %%
used = {"расписание": "да", "новые данные": "нет", "дрейф данных": "да", "падение качества": "да"}
pd.DataFrame(
    {
        "в политике уровня 1": used,
        "сработал, недель": {name: len(weeks) for name, weeks in fired.items()},
        "первые недели": {name: ", ".join(map(str, weeks[:4])) for name, weeks in fired.items()},
        "ложных срабатываний": {name: len(false.get(name, [])) for name in fired},
        "недели ложных": {name: ", ".join(map(str, false.get(name, []))) for name in fired},
        "начал переобучение, раз": {
            name: len(set(weeks) & set(retrained)) if used[name] == "да" else 0
            for name, weeks in fired.items()
        },
    }
)

# %%
passed = weekly.index[weekly["gate"].str.contains("пропущена")].tolist()
lanes = {
    **fired,
    "переобучение, ворота пропустили": passed,
    "переобучение, ворота отказали": sorted(set(retrained) - set(passed)),
    "новая модель в production": level_1.deployments.query("0 < week < @year.weeks")["week"],
}

# %%
import matplotlib.pyplot as plt

from mlops_course.classroom.year_plots import draw_event_lanes, draw_event_starts

sizes = {"figsize": (12, 5.6), "height_ratios": [1.3, 2.2], "layout": "constrained"}
fig, (top, ax) = plt.subplots(2, 1, sharex=True, **sizes)
draw_event_lanes(top, year)
for row, (name, weeks) in enumerate(lanes.items()):
    grey = name in ("новые данные", "переобучение, ворота отказали")  # unused / not deployed
    ax.plot(weeks, [row] * len(weeks), "|", color="0.6" if grey else "tab:blue", ms=13, mew=2)
    ax.plot(false.get(name, []), [row] * len(false.get(name, [])), "x", c="tab:red", ms=10, mew=2)
ax.plot([], [], "x", color="tab:red", label="ложное срабатывание\n(событие ни при чём)")
ax.set_yticks(range(len(lanes)), list(lanes))
title = "Триггеры уровня 1, переобучения и выкатки за год"
ax.set(ylim=(len(lanes) - 0.5, -0.5), xlabel="неделя года", title=title)
draw_event_starts(ax, year)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
plt.show()

# %% [markdown]
# Что видно на графике и в таблице:
#
# - **Дрейф данных** срабатывает в неделю события (новый район, пик, зима): тест смотрит
#   на саму партию, меток ждать не нужно. Его ложные срабатывания — недели, в которые ни
#   одно событие не меняло названную тестом колонку: тест по многим признакам при α = 0.05
#   иногда ошибается, как и предупреждал ноутбук 04. Ложное срабатывание стоит одного
#   лишнего запуска конвейера — и ворот, которые решат, выкатывать ли его результат.
# - **Падение качества** — единственный триггер, который видит смену маршрутизации
#   (концептуальный дрейф), и видит её только через 2 недели: столько идут метки.
# - **Расписание** ничего не знает о мире: оно срабатывает и в спокойные недели (тогда
#   ворота с запасом 0 решают почти как монетка: пропускают шумовое улучшение или
#   отказывают, см. следующий раздел), и с опозданием, если событие случилось сразу после
#   запуска.
# - **Новые данные** в политике уровня 1 не используются (серые штрихи): такой триггер —
#   переобучение каждую неделю; ниже посчитаем, что оно дало бы.
# - Переобучений меньше, чем срабатываний: пока претендент ждёт одобрения и выкатки,
#   конвейер занят, и новые срабатывания только записываются (в `level_1.weekly` —
#   пометка «конвейер занят»). В одну неделю может сработать несколько триггеров сразу,
#   поэтому столбец «начал переобучение» в сумме больше числа переобучений.

# %% [markdown]
# ## Ворота с запасом 0: «дребезг» выкаток
#
# Переобучение — ещё не выкатка: ворота сравнивают претендента с чемпионом. С запасом 0
# проходит модель, которая лучше чемпиона на 0.001 log loss, — на уровне шума. Посмотрим,
# сколько выкаток года реально что-то изменили: разница log loss новой и заменённой модели
# на истинных метках недель, которые новая модель отработала.

# %%
from mlops_course.classroom.year_plots import deployment_table

changes = level_1.deployments.query("week > 0")["log_loss_change"]
retrains, deploys = summary_1["retrains"], summary_1["deployments"]
print(f"переобучений {retrains}: ворота пропустили {deploys}, отказали {retrains - deploys}")
print(f"выкаток, изменивших log loss меньше чем на 0.005: {(changes.abs() < 0.005).sum()}")
print(f"выкаток, после которых стало хоть немного хуже: {(changes > 0).sum()}")
shown = ["решение в конце недели", "обучена на неделях", "работает с недели"]
deployment_table(level_1)[[*shown, "недель в production", "log loss против прежней"]]

# %% [markdown]
# Часть выкаток — «дребезг» (churn): новая версия, новая запись в реестре, новое
# одобрение человеком — а для бизнеса ничего не изменилось, а иногда стало чуть хуже
# (не настолько, чтобы считаться инцидентом: порог инцидента — +0.02). Очевидное
# лекарство — запас в воротах, как в конвейере выше (0.005). Проверим его на том же году.

# %%
from dataclasses import replace

from mlops_course.simulation.policies import MetricGate

with_margin = replace(LEVEL_1, name="level_1_margin", gate=MetricGate("log_loss", 0.005))
variants = {"уровень 1 (запас 0)": level_1}
variants["запас в воротах 0.005"] = simulate_year(with_margin, seed)

# %% [markdown]
# И заодно — четвёртый триггер: переобучать по **новым данным**, каждую неделю, без
# расписания, дрейфа и качества (ворота прежние).

# %%
from mlops_course.simulation.policies import RetrainTrigger

every_week = replace(LEVEL_1, name="level_1_new_data", trigger=RetrainTrigger(every_weeks=1))
variants["триггер: новые данные"] = simulate_year(every_week, seed)


# %%
def variant_table(variants: dict) -> pd.DataFrame:
    """₽, retrains, deployments and incidents of each variant, ₽ against the first one."""
    rows = {name: result.summary() for name, result in variants.items()}
    base = next(iter(rows.values()))["cost_rub"]
    table = pd.DataFrame(rows).T[["cost_rub", "retrains", "deployments", "incidents_in_production"]]
    table.insert(1, "разница, ₽", table["cost_rub"] - base)
    names = {"cost_rub": "₽ за год", "retrains": "переобучений", "deployments": "выкаток"}
    return table.rename(columns=names | {"incidents_in_production": "инцидентов"}).astype(int)


variant_table(variants)

# %% [markdown]
# Сравните строки с первой. Запас в воротах убирает часть выкаток, но **не экономит
# деньги**: отказывая мелким улучшениям, ворота заодно задерживают и полезные, а модель,
# которую они в итоге пропускают, может оказаться хуже на следующих неделях (ворота судят
# по прошлому — по свежим неделям окна, а production встречает будущее: например, конец
# пикового сезона). Переобучение по каждой новой неделе даёт больше переобучений, а
# разница в рублях у обоих вариантов мала по сравнению с ценой одобрения (следующий
# раздел); у триггера по новым данным даже её знак зависит от года (при `seed = 42` и
# `seed = 7` он разный). Вывод не «запас вреден», а «запас — параметр, который надо мерить
# на годе, а не выбирать на глаз»; бесплатного способа убрать дребезг здесь нет.

# %% [markdown]
# ## Одобрение человеком: сколько стоит ожидание
#
# Выкатку претендента одобряет человек. Политика считает ожидание в днях, а симулятор
# двигается неделями: решение, принятое в конце недели `t`, работает с недели
# `t + 1 + ceil(дни / 7)`.

# %%
from mlops_course.simulation.policies import delay_weeks, deployment_week

for step, why in LEVEL_1.waits.items():
    print(f"{step}: {why}")
for days in (0, 3, 10):
    serves = deployment_week(replace(LEVEL_1, approval_days=days), 20)
    print(f"одобрение {days} дн. = {delay_weeks(days)} нед.: решение недели 20 работает с {serves}")

# %% [markdown]
# Сыграем год без ожидания (ворота решают сами — так выкатывает уровень 2, ноутбук 10;
# его автоматический откат на этом году ни разу не срабатывает, так что цифры совпадут с
# уровнем 2) и с медленным одобрением (10 дней: ответственный в отпуске или выкатки
# разрешены раз в две недели).

# %%
approvals = {"одобрение 3 дн. (уровень 1)": level_1}
no_wait = replace(LEVEL_1, name="level_1_no_approval", approval_days=0.0)
approvals["без одобрения"] = simulate_year(no_wait, seed)

# %%
slow = replace(LEVEL_1, name="level_1_slow_approval", approval_days=10.0)
approvals["одобрение 10 дн."] = simulate_year(slow, seed)
recover = {
    name: result.events.set_index("событие")["time_to_recover_weeks"]
    for name, result in approvals.items()
}
variant_table(approvals).join(pd.DataFrame(recover).T.add_prefix("восстановление, нед.: "))

# %% [markdown]
# Неделя ожидания на каждой выкатке — это деньги (столбец «разница, ₽») и недели
# восстановления после событий: модель, которая уже обучена на новом мире, неделю стоит
# в очереди, пока production работает по-старому. Это главная причина, по которой
# уровень 2 автоматизирует и выкатку.

# %% [markdown]
# ## Уровень 1 против уровня 0 на том же году

# %%
from mlops_course.classroom.year_plots import plot_year

fig = plot_year({"уровень 0": level_0, "уровень 1": level_1}, figsize=(12, 8))
plt.show()

# %%
from mlops_course.simulation.simulator import level_ranges, level_table

saved = summary_0["cost_rub"] - summary_1["cost_rub"]
print(f"уровень 1 дешевле уровня 0 на {format_roubles(saved)} за год")
level_table(level_ranges(pd.DataFrame([summary_0, summary_1])))

# %% [markdown]
# Читайте таблицу по строкам: «—» в обнаружении — событие так и не заметили, «—» в
# восстановлении — не восстановились до конца года, 0 — событие не навредило. Среднее
# log loss уровня 0 тянет вверх одна неделя —
# партия в метрах (на графике она над осью, со своим значением); медиана честнее.
#
# **Что CT исправил:**
#
# - **Обнаружение.** Уровень 0 не замечает ничего — мониторинга нет. Уровень 1 замечает
#   каждое событие; события с изменением данных — в ту же неделю, смену маршрутизации — через
#   2 недели, когда приходят метки.
# - **Плохая партия не доходит до production**: проверка данных отклоняет партию в метрах,
#   модель на ней не обучается. Неделя не бесплатна: сервис работает по запасному правилу
#   (тревога на всех заказах или ни на одном), отсюда ступенька уровня 1 на нижнем графике
#   в неделю 28 — но это меньше, чем модель, которая считает метры километрами.
# - **Свежая модель.** Вместо редких ручных обновлений — переобучение по триггерам; ворота
#   не пускают модель, которая хуже чемпиона на свежих заказах, и ни одна выкатка года не
#   стала инцидентом (строка «инцидентов в production»).
# - **Деньги**: разница за год напечатана над таблицей.
#
# **Чего CT не исправил — и почему** (сюрпризы года):
#
# - **Восстановление после смены маршрутизации медленное.** Метки идут 2 недели; первая
#   модель после тревоги учится на окне, где нового мира одна-две недели из четырёх, и
#   выходит смесью двух миров; модель только на неделях нового мира можно обучить, лишь
#   когда придут метки его четвёртой недели, — и ещё 2 недели от решения до production
#   (одна из них — одобрение). Цепочка выкаток ниже.
# - **Модель всегда немного в прошлом**: в день выкатки её самой свежей неделе уже 4
#   недели (2 — метки, 2 — от решения до production; столбец «возраст свежих данных» в
#   цепочке ниже). Пока мир меняется неделя за неделей (пик, зима), модель на окне из 4
#   недель отстаёт, а конец пикового сезона (неделя 44) бьёт по моделям, обученным на
#   пике, — всплеск log loss уровня 1 на графике после недели 43. Этот всплеск может не
#   попасть в строки «восстановление»: они считают *первое* восстановление после начала
#   события, и если пик и зима успели восстановиться до недели 44, рецидив не виден —
#   смотрите и на график, а не только в таблицу.
# - **Много выкаток**: запас 0 в воротах пропускает шумовые улучшения (раздел о дребезге).

# %%
routing = next(event for event in year.events if event.key == "routing_change")
outcome = level_1.events.set_index("key").loc[routing.key]
recovered = routing.start_week + outcome["time_to_recover_weeks"]
print(f"смена маршрутизации: неделя {routing.start_week}, восстановление к неделе {recovered:.0f}")
chain = deployment_table(level_1)
chain[chain["работает с недели"].between(routing.start_week, recovered)]

# %% [markdown]
# ## Что осталось ручным
#
# | Что | Уровень 1 | Кто это автоматизирует |
# |---|---|---|
# | обучение, проверка данных и модели, регистрация | конвейер, по триггеру | — |
# | выкатка претендента | **человек одобряет** (3 дня = неделя на каждой выкатке) | уровень 2: CD, ворота решают сами |
# | выкатка *самого конвейера* (новый код потока) | **вручную**, без тестов конвейера: ошибка в коде конвейера уйдёт во все следующие запуски | уровень 2: CI конвейера — тесты данных, обучения, артефактов до использования |
# | откат плохой модели | **вручную** (в этом году не понадобился: ворота не пропустили ни одной модели заметно хуже) | уровень 2: автоматический откат по отложенным меткам |
# | пороги триггеров и ворот | выбраны людьми | мерить на годе, как выше |
#
# Конвейер защищает от плохих *данных* и плохой *модели*, но не от плохого *конвейера*: если
# кто-то поменяет код проверки данных так, что она пропускает всё, ворота этого не заметят.
# Тесты конвейера, автоматическая выкатка, A/B-тест претендента и автоматический откат —
# ноутбук 10 «Уровень 2: CI/CD/CT».

# %% [markdown]
# ## Итоги
#
# - Уровень 1 — это **конвейер** вместо человека с ноутбуком: загрузка → проверка данных →
#   обучение → оценка → ворота качества → регистрация претендента, запускаемый триггером.
#   Здесь он — поток Prefect, запущенный из ноутбука на временном сервере; тот же конвейер в
#   Airflow — DAG из тех же функций.
# - Конвейер сам останавливается на плохой партии (ничего не обучено и не записано) и на
#   модели, которая не лучше чемпиона (запуск записан в MLflow, в реестре ничего). Отказ —
#   нормальный исход, а не сбой: все запуски в Prefect — `Completed`.
# - Четыре триггера видят разное: дрейф данных — сразу, но не видит концептуальный дрейф;
#   падение качества — любое изменение, которое бьёт по качеству, но на 2 недели позже
#   (задержка меток); расписание и новые данные не знают о мире ничего. У тестов дрейфа
#   бывают ложные срабатывания.
# - Выкатку одобряет человек: неделя ожидания на каждой выкатке стоит денег и недель
#   восстановления (измерено на годе). Запас ворот 0 даёт дребезг выкаток, но и запас 0.005
#   не бесплатен — такие параметры измеряют, а не угадывают.
# - Против уровня 0 на том же году: события замечены, партия в метрах не дошла до
#   production, ни одна выкатка не стала инцидентом, год дешевле. Но смена маршрутизации
#   всё равно стоит недель (метки, окно, одобрение), а модель в день выкатки видела мир
#   четырёхнедельной давности. Ручными остались одобрение, выкатка самого конвейера без
#   его тестов и откат — это уровень 2 (ноутбук 10).

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("09_maturity_level_1")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: "", 7: ""}
check_quiz("09_maturity_level_1", answers)
