# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Итоги курса
#
# Лекция «Введение в MLOps» обещала: модели деградируют, дрейф можно поймать,
# воспроизводимость достижима, зрелость окупается. Курс проверил каждое обещание запуском.
# Здесь — сводка: каждый пункт лекции, место в курсе, где он показан, и число, которое это
# показало. Таблица не написана руками: ноутбук собирает её из сохранённых выводов других
# ноутбуков, поэтому она не может разойтись с ними.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - по любому пункту лекции найти ноутбук и раздел, где он показан, и число, которое его
#   подтверждает;
# - назвать пункты, которые курс не подтвердил числом, и объяснить почему;
# - проверить себя вопросами по всему курсу;
# - выбрать следующий шаг по каждой теме: инструмент или статью.
#
# Слайд лекции: «Итоги» (и все предыдущие — по пункту).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7).
# Таблица покрытия читает сохранённые выводы ноутбуков (seed 42) и от seed не зависит;
# seed нужен только живой проверке одного числа в конце.
seed = 42

# %% [markdown]
# ## Как построена таблица
#
# В `mlops_course.classroom.lecture_coverage` записаны пункты лекции по порядку слайдов и
# для каждого — ноутбук, раздел и шаблон: какое напечатанное число искать в выводах ячеек
# этого раздела (`notebooks/NN_*.ipynb`, как они сохранены в репозитории). Если ноутбук
# изменится и число пропадёт, юнит-тест `tests/unit/test_lecture_coverage.py` упадёт и
# назовёт пункт лекции. Ноутбук, которого ещё нет, даёт строку «ожидается».
#
# Все ноутбуки курса сохранены с seed 42, а здесь читаются только их сохранённые выводы:
# запуск этого ноутбука с другим seed (`make course SEED=7`) даёт ту же таблицу.

# %%
from mlops_course.classroom.lecture_coverage import coverage

table = coverage()
counts = table["status"].value_counts()
print(f"пунктов лекции: {len(table)}, слайдов: {table['slide'].nunique()}")
for status, count in counts.items():
    print(f"  {status}: {count}")

# %% [markdown]
# ## Пункт лекции → где показан → число
#
# Ссылки открывают ноутбук на нужном разделе (в JupyterLab; раздел со скобками в
# заголовке — просто ноутбук). Слайд «Жизненный цикл ML-проекта» в лекции — схема без
# текста, показанная дважды; здесь он одна строка. Пункты записаны, как в лекции
# (опечатки распознанного текста исправлены: «Уровень 0», «Снижение доверия»).

# %%
from mlops_course.classroom.lecture_coverage import coverage_markdown

coverage_markdown(table)

# %% [markdown]
# ### Покрытие по слайдам
#
# Зелёное — пункт подтверждён числом, серое — оглавление лекции, красное — не показано
# числом, жёлтое — ноутбук ещё не собран.

# %%
import matplotlib.pyplot as plt

from mlops_course.classroom.lecture_coverage import plot_coverage

fig = plot_coverage(table)
plt.show()

# %% [markdown]
# ## Чего курс не показал числом
#
# Таких пунктов два, и оба — не утверждения, которые можно измерить: определение MLOps и
# перечень вызовов на слайде «Итоги». Части определения и каждый вызов показаны числами в
# других строках. Ячейка ниже берёт список из таблицы, а не из этого текста.

# %%
from mlops_course.classroom.lecture_coverage import NO_NUMBER, PENDING, without_number

for bullet in without_number(table):
    note = table.loc[table["bullet"] == bullet, "number"].iloc[0].removeprefix(NO_NUMBER + ": ")
    print(f"- {bullet}\n    {note}")
pending = table.loc[table["status"] == PENDING, "bullet"].tolist()
print(f"ожидают ещё не собранных ноутбуков: {len(pending)}", *pending, sep="\n- ")

# %% [markdown]
# ### Живая проверка одного числа
#
# Таблица читает записанное. Одно число проверим вживую, с seed этого запуска: долю
# опозданий среди 1000 заказов, которую печатает ноутбук 00. При seed 42 оно совпадёт с
# записанным, при другом seed — нет (данные другие), а таблица выше останется прежней.

# %%
import re

from mlops_course.classroom.lecture_coverage import notebook_path, section_outputs
from mlops_course.scenario.generator import generate_orders

printed = "\n".join(section_outputs(notebook_path("00"), "Сценарий курса: «Опоздает ли доставка?»"))
recorded = re.search(r"доля опозданий: ([\d.]+%)", printed)[1]
live = f"{generate_orders(1_000, seed=seed)['is_late'].mean():.1%}"
print(f"записано в ноутбуке 00 (seed 42): {recorded}; сейчас (seed {seed}): {live}")
print(f"совпадает: {recorded == live}")

# %% [markdown]
# ## Куда дальше
#
# По теме — один следующий шаг: инструмент или работа, с которой курс начинал сам.
#
# | тема | ноутбуки | что читать или попробовать |
# |---|---|---|
# | зачем MLOps, технический долг | 01–02 | D. Sculley et al., «Hidden Technical Debt in Machine Learning Systems», NeurIPS 2015; E. Breck et al., «The ML Test Score: A Rubric for ML Production Readiness», 2017 |
# | жизненный цикл, уровни зрелости | 03, 08–10 | Google Cloud, «MLOps: Continuous delivery and automation pipelines in machine learning» (уровни 0, 1, 2); Microsoft, «Machine Learning operations maturity model» |
# | дрейф данных | 04 | S. Rabanser, S. Günnemann, Z. Lipton, «Failing Loudly: An Empirical Study of Methods for Detecting Dataset Shift», NeurIPS 2019; документация Evidently (Presets, Tests) |
# | концептуальный дрейф, метки с задержкой | 05 | J. Gama et al., «A Survey on Concept Drift Adaptation», ACM Computing Surveys, 2014; библиотека river (`river.drift`: ADWIN, Page–Hinkley); NannyML — оценка качества без меток (CBPE) |
# | воспроизводимость | 06 | документация DVC (`dvc exp`, remotes) и MLflow (Model Registry, aliases); J. Pineau et al., «Improving Reproducibility in Machine Learning Research», JMLR 2021 |
# | масштабируемость | 07 | документация Dask (Best Practices, `dask.distributed`) и Ray (Ray Data, Ray Serve); Kubernetes Horizontal Pod Autoscaler |
# | оркестрация и CT | 09 | документация Prefect 3 (flows, deployments) и Apache Airflow (TaskFlow API) |
# | A/B-тесты | 10 | R. Kohavi, D. Tang, Y. Xu, «Trustworthy Online Controlled Experiments», Cambridge University Press, 2020 |
# | сервинг и мониторинг | 10–11 | документация FastAPI (Deployment), Prometheus (histograms, `histogram_quantile`), Grafana; BentoML или KServe для сервинга моделей |
# | CI/CD | 02, 10–11 | документация GitHub Actions (workflows, `workflow_dispatch`, schedule); CML (Iterative) — отчёты о моделях в pull request |

# %% [markdown]
# ## Итоги
#
# - Каждый пункт лекции с утверждением подтверждён числом из запуска курса; без числа —
#   только определение MLOps и перечень вызовов, и таблица так и говорит.
# - Таблица собрана из сохранённых выводов ноутбуков, поэтому не устаревает: пропавшее число
#   останавливает тест и называет пункт лекции. От seed этого запуска она не зависит.
# - Проблемы production ML (дрейф, воспроизводимость, масштабируемость) измерены по
#   отдельности в 04–07, а уровни зрелости 0–2 — на одном симулированном году в 08–10.
# - Дальше — по таблице «Куда дальше»: по теме одна работа или один инструмент.

# %% [markdown]
# ### Вопросы для самопроверки
#
# По одному вопросу на тему курса. Впишите буквы ответов в `answers` и запустите ячейку:
# помощник скажет, что верно, а на неверный ответ — где перечитать.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("12_summary")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: "", 7: "", 8: "", 9: "", 10: "", 11: "", 12: ""}
check_quiz("12_summary", answers)
