# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Лабораторная 1: валидация данных
#
# В ноутбуке 02 автоматическая проверка (DataOps) остановила партию, где расстояние пришло
# в метрах. Теперь вы напишете такие проверки сами: они должны ловить каждый инцидент
# качества данных из сценария курса и пропускать чистую партию.

# %% [markdown]
# ## Цели
#
# - написать проверки колонок, типов, пропусков и диапазонов для партии заказов;
# - собрать их в одну функцию `validate_batch(frame) -> list[str]`;
# - убедиться, что проверки ловят все инциденты: пропуски, метры вместо километров,
#   неверный тип, переименованную и пропавшую колонку, — и молчат на чистых данных;
# - поймать порчу, которую не видит ни одна проверка диапазона (мили вместо километров),
#   сравнением распределения партии с эталоном — первый шаг к мониторингу дрейфа (ноутбук 04).
#
# Слайд лекции: «Эволюция: от DevOps к MLOps» (DataOps — автоматизация ETL и управления
# данными). Каждое упражнение проверяется автоматически: ✓ или ✗ с подсказкой.

# %% tags=["parameters"]
# Параметры (papermill может подменить их)
seed = 42
n_orders = 500

# %% [markdown]
# ## Инциденты, которые нужно поймать

# %%
import pandas as pd

from mlops_course.classroom.checks import run_check
from mlops_course.scenario.problems import QUALITY, make_batch, scenarios_table

table = scenarios_table()
incidents = table[table["kind"] == QUALITY][["scenario", "description"]]
for incident in incidents.itertuples():
    print(f"{incident.scenario}: {incident.description}")

# %%
from mlops_course.scenario.generator import COLUMNS

clean = make_batch(n_orders, seed=seed).frame
metres = make_batch(n_orders, seed=seed, scenarios="distance_in_metres").frame
print("ожидаемые колонки:", COLUMNS)
pd.DataFrame(
    {"чистая": clean["distance_km"].describe(), "метры": metres["distance_km"].describe()}
).round(1)

# %% [markdown]
# Допустимые диапазоны числовых колонок (физический смысл: заказ не бывает дальше 50 км).
# Берём их из схемы курса (`mlops_course.model.validation`), чтобы ваши проверки и pandera
# сверяли одно и то же.

# %%
from mlops_course.model.validation import RANGES

for name, (low, high) in RANGES.items():
    print(f"{name:>14}: от {low} до {high}")

# %% [markdown]
# ## Упражнение 1: колонки на месте
#
# Напишите `column_problems(frame) -> list[str]`: по строке на каждую **отсутствующую**
# колонку из `COLUMNS` и на каждую **неожиданную** (лишнюю) колонку. В строке должно быть
# имя колонки, например `"нет колонки prep_time_min"`, `"лишняя колонка prep_time"`.
# Для чистой партии — пустой список.


# %%
def column_problems(frame: pd.DataFrame) -> list[str]:
    ### BEGIN SOLUTION сравните множества set(COLUMNS) и set(frame.columns)
    missing = [f"нет колонки {name}" for name in COLUMNS if name not in frame.columns]
    unexpected = [f"лишняя колонка {name}" for name in frame.columns if name not in COLUMNS]
    return missing + unexpected
    ### END SOLUTION


# %%
from mlops_course.classroom.lab_checks.lab01_data_validation import check_column_problems

run_check(check_column_problems, column_problems)

# %% [markdown]
# ## Упражнение 2: типы данных
#
# Напишите `dtype_problems(frame) -> list[str]`: для каждой колонки из `RANGES`, которая есть
# в партии, но **не числовая**, — строка с её именем и типом, например
# `"order_value: ожидалось число, пришло object"`. Подсказка:
# `pd.api.types.is_numeric_dtype`.


# %%
def dtype_problems(frame: pd.DataFrame) -> list[str]:
    ### BEGIN SOLUTION пройдите по RANGES и проверьте pd.api.types.is_numeric_dtype(frame[name])
    return [
        f"{name}: ожидалось число, пришло {frame[name].dtype}"
        for name in RANGES
        if name in frame.columns and not pd.api.types.is_numeric_dtype(frame[name])
    ]
    ### END SOLUTION


# %%
from mlops_course.classroom.lab_checks.lab01_data_validation import check_dtype_problems

run_check(check_dtype_problems, dtype_problems)

# %% [markdown]
# ## Упражнение 3: пропуски и диапазоны
#
# Напишите `range_problems(frame) -> list[str]`: для каждой **числовой** колонки из `RANGES`,
# которая есть в партии, — строка, если в ней есть пропуски (NaN), и строка, если хоть одно
# значение вне диапазона (ниже нижней или выше верхней границы). Не опирайтесь на среднее:
# метры могут прийти лишь у части заказов (новая версия приложения у части курьеров).
# Функция только сообщает о проблемах и не меняет `frame`.


# %%
def range_problems(frame: pd.DataFrame) -> list[str]:
    ### BEGIN SOLUTION для каждой числовой колонки из RANGES: isna().sum() и ((x < low) | (x > high)).sum()
    problems = []
    for name, (low, high) in RANGES.items():
        if name not in frame.columns or not pd.api.types.is_numeric_dtype(frame[name]):
            continue
        values = frame[name]
        if values.isna().any():
            problems.append(f"{name}: пропусков: {values.isna().sum()}")
        outside = values.notna() & ~values.between(low, high)
        if outside.any():
            problems.append(
                f"{name}: вне [{low}, {high}] значений: {outside.sum()}, "
                f"min {values.min():g}, max {values.max():g}"
            )
    return problems
    ### END SOLUTION


# %%
from mlops_course.classroom.lab_checks.lab01_data_validation import check_range_problems

run_check(check_range_problems, range_problems)

# %% [markdown]
# ## Упражнение 4: одна функция валидации
#
# Соберите `validate_batch(frame) -> list[str]` — все проблемы партии. Она должна поймать
# каждый инцидент из списка в начале и не падать на сломанной партии (переименованная колонка,
# строка вместо числа).


# %%
def validate_batch(frame: pd.DataFrame) -> list[str]:
    ### BEGIN SOLUTION объедините три функции выше
    return column_problems(frame) + dtype_problems(frame) + range_problems(frame)
    ### END SOLUTION


# %%
from mlops_course.classroom.lab_checks.lab01_data_validation import check_validate_batch

run_check(check_validate_batch, validate_batch)

# %% [markdown]
# ## Что ловит ваша проверка
#
# Прогоним `validate_batch` по всем инцидентам и сравним с проверкой курса
# (`validation.validate_orders`, pandera).

# %%
from mlops_course.model.validation import validate_orders

rows = []
for name in ["(чистая)", *incidents["scenario"]]:
    frame = make_batch(n_orders, seed=seed, scenarios=() if name == "(чистая)" else name).frame
    rows.append(
        {
            "партия": name,
            "ваших замечаний": len(validate_batch(frame)),
            "нарушений pandera": len(validate_orders(frame).violations),
        }
    )
summary = pd.DataFrame(rows).set_index("партия")
summary

# %% [markdown]
# ## Почему смотреть надо на каждое значение
#
# Новая версия приложения доходит до курьеров постепенно: сначала метры приходят у
# единиц заказов. Сравним, что видит среднее расстояние партии, что — максимум, и что
# ловит ваша `range_problems`.

# %%
rows = []
for share in [0.002, 0.005, 0.01, 0.02, 0.05, 0.2, 1.0]:
    batch = make_batch(n_orders, seed=seed, scenarios="distance_in_metres", strength=share)
    distance = batch.frame["distance_km"]
    caught = any("distance_km" in problem for problem in range_problems(batch.frame))
    rows.append(
        {
            "заказов в метрах": int((distance != clean["distance_km"]).sum()),
            "среднее, км": distance.mean(),
            "максимум, км": distance.max(),
            "ваша проверка": "поймала" if caught else "пропустила",
        }
    )
metres_table = pd.DataFrame(rows).set_index("заказов в метрах").round(1)
metres_table

# %%
import matplotlib.pyplot as plt

ax = metres_table[["среднее, км", "максимум, км"]].plot(
    logx=True, logy=True, marker="o", figsize=(9, 3.8)
)
limit = RANGES["distance_km"][1]
ax.axhline(limit, color="tab:red", linestyle="--", label=f"верхняя граница, {limit:g} км")
ax.xaxis.set_major_formatter("{x:g}")
ax.set(
    title="Метры у 1–2 заказов: среднее в допустимом диапазоне, максимум — нет",
    xlabel=f"заказов с расстоянием в метрах (из {n_orders}, лог. шкала)",
    ylabel="расстояние, км (лог. шкала)",
)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %%
limit_hit = metres_table.index[metres_table["среднее, км"] > limit]
print(
    f"среднее выходит за {limit:g} км лишь начиная с {limit_hit.min()} из {n_orders} заказов в метрах"
)
print("ваша проверка пропустила партий:", (metres_table["ваша проверка"] == "пропустила").sum())

# %% [markdown]
# ## Упражнение 5: мили вместо километров — порча внутри диапазона
#
# Партнёр прислал партию, где расстояние записано в **милях**: каждое значение умножено на
# 0.621. Все значения остались в допустимом диапазоне (0.1–50), поэтому ни ваша
# `range_problems`, ни схема pandera ничего не видят:

# %%
reference = clean  # принятая ранее партия — эталон
fresh = make_batch(n_orders, seed=seed + 1).frame  # следующая партия, чистая
miles = fresh.assign(distance_km=fresh["distance_km"] * 0.621)
print("range_problems(miles):", range_problems(miles))
print("нарушений pandera:", len(validate_orders(miles).violations))
ratio = miles["distance_km"].median() / reference["distance_km"].median()
print(f"медиана расстояния: эталон {reference['distance_km'].median():.2f}, мили ×{ratio:.2f}")

# %% [markdown]
# Каждое значение правдоподобно, неправдоподобно **распределение**: вся партия сжалась в
# 0.62 раза. Поймать это можно, только сравнив партию с эталоном — принятой ранее чистой
# партией. Напишите `shift_problems(frame, reference, alpha=0.001) -> list[str]`: для
# каждой колонки из `RANGES`, которая есть в обеих партиях и числовая в `frame`, —
# тест Колмогорова — Смирнова `drift.ks_test(reference[name], frame[name]).pvalue`
# (`from mlops_course.monitoring import drift`; это тот же тест, что в ноутбуке 04) и
# строка с именем колонки, если p-value < `alpha`. Порог `alpha = 0.001` строгий:
# колонок семь, и с обычным 0.05 чистые партии давали бы ложные тревоги.


# %%
from mlops_course.monitoring import drift


def shift_problems(frame: pd.DataFrame, reference: pd.DataFrame, alpha: float = 0.001) -> list[str]:
    ### BEGIN SOLUTION для колонок из RANGES: drift.ks_test(reference[name], frame[name]).pvalue < alpha
    problems = []
    for name in RANGES:
        if name not in frame.columns or name not in reference.columns:
            continue
        if not pd.api.types.is_numeric_dtype(frame[name]):
            continue
        pvalue = drift.ks_test(reference[name], frame[name]).pvalue
        if pvalue < alpha:
            ratio = frame[name].median() / reference[name].median()
            problems.append(
                f"{name}: распределение сдвинуто (KS p = {pvalue:.1e}, медиана ×{ratio:.2f})"
            )
    return problems
    ### END SOLUTION


# %%
from mlops_course.classroom.lab_checks.lab01_data_validation import check_shift_problems

run_check(check_shift_problems, shift_problems)

# %% [markdown]
# Что видит каждая проверка на трёх партиях: чистой, в милях и с метрами у части заказов.

# %%
partial_metres = make_batch(n_orders, seed=seed + 1, scenarios="distance_in_metres", strength=0.02)
batches = {"чистая": fresh, "мили": miles, "метры у 2 %": partial_metres.frame}
pd.DataFrame(
    {
        name: {
            "range_problems": len(range_problems(frame)),
            "shift_problems": len(shift_problems(frame, reference)),
        }
        for name, frame in batches.items()
    }
).rename_axis("замечаний")

# %% [markdown]
# Проверки дополняют друг друга: диапазон ловит отдельные невозможные значения (метры у
# нескольких заказов почти не сдвигают распределение), сравнение с эталоном — порчу,
# где каждое значение возможно. Это мост к **мониторингу дрейфа** (ноутбук 04): тот же
# тест, только сдвиг распределения бывает и настоящим (зима, новый район), а не ошибкой.
# Поэтому тревога `shift_problems` — повод посмотреть на партию, а не доказательство
# порчи.

# %% [markdown]
# ## Итоги
#
# - Четыре короткие функции ловят все инциденты качества данных сценария и молчат на
#   чистой партии; это и есть автоматическая проверка шага ETL (DataOps).
# - Проверка должна смотреть на каждое значение: метры у одного-двух заказов из сотен не
#   выводят среднее за допустимый диапазон (таблица и график выше), а максимум и проверка
#   диапазона ловят их сразу.
# - В курсе те же правила записаны декларативно схемой pandera (`validation.order_schema`),
#   которая возвращает все нарушения одной таблицей.
# - Порчу внутри диапазона (мили вместо километров) не видит ни одна проверка отдельных
#   значений: её ловит только сравнение распределения партии с эталоном (тест KS) — то же,
#   чем мониторинг ищет дрейф данных (ноутбук 04).
