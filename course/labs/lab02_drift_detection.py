# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Лабораторная 2: обнаружение дрейфа (drift detection)
#
# Вы напишете детектор дрейфа данных с нуля и измерите, насколько ему можно верить:
# как часто он ловит настоящий сдвиг (мощность, power) и как часто поднимает ложную
# тревогу (false alarm). К ноутбукам 04–05.
#
# Каждое упражнение проверяется автоматически: ✓ — верно, ✗ — что не так и как исправить.

# %% [markdown]
# ## Цели
#
# - реализовать PSI (Population Stability Index) и сверить его с `drift.psi`;
# - собрать детектор по многим признакам с поправкой Холма (Holm) и сверить его с
#   `drift.dataset_drift`;
# - измерить долю ложных тревог и мощность детектора на сгенерированных данных.
#
# Слайд лекции: «Проблемы Production ML» (п. 1, дрейф данных).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# Размер выборок и число повторов в симуляции
n_orders = 300
n_seeds = 100

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mlops_course.classroom.checks import run_check
from mlops_course.classroom.lab_checks import lab02_drift_detection as lab
from mlops_course.config import FEATURES, NUMERIC_FEATURES
from mlops_course.monitoring import drift
from mlops_course.scenario import problems

# %% [markdown]
# ## Упражнение 1. PSI
#
# PSI = Σ (c − r) · ln(c / r), где r и c — доли эталона и текущей выборки в корзине.
# Корзины:
#
# - внутренние границы — квантили **эталона** уровней 1/bins, 2/bins, …, (bins−1)/bins
#   (`np.quantile`), совпадающие границы склейте (`np.unique`);
# - крайние корзины открыты: номер корзины значения x — `np.searchsorted(edges, x, "right")`;
# - доля пустой корзины заменяется на ε = 1e-4 (`np.maximum(share, 1e-4)`), иначе логарифм
#   бесконечен.
#
# Если будете сверять с `drift.psi` на своих данных: на колонке, где одно значение занимает
# несколько квантилей (флаг 0/1 с 5 % единиц в эталоне и 60 % в текущей), этот рецепт даёт
# PSI 0, а `drift.psi` — 1.84, потому что пакет выделяет такому значению свою корзину
# (та же ловушка — в ноутбуке 04).


# %%
def psi(reference, current, bins=10):
    """Population Stability Index of two numeric samples, bins from reference quantiles."""
    ### BEGIN SOLUTION Корзины по квантилям эталона, доли с эпсилоном, формула PSI
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    n_bins = edges.size + 1
    ref_counts = np.bincount(np.searchsorted(edges, reference, "right"), minlength=n_bins)
    cur_counts = np.bincount(np.searchsorted(edges, current, "right"), minlength=n_bins)
    r = np.maximum(ref_counts / reference.size, 1e-4)
    c = np.maximum(cur_counts / current.size, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))
    ### END SOLUTION


# %%
run_check(lab.check_psi, psi)

# %% [markdown]
# ## Упражнение 2. Детектор по многим признакам с поправкой Холма
#
# Для каждого признака из `FEATURES` посчитайте p-value: `drift.ks_test` для числовых
# (`NUMERIC_FEATURES`), `drift.chi2_test` для категориальных. Затем поправка Холма:
# отсортируйте k p-value по возрастанию, i-е (с нуля) умножьте на (k − i), сделайте
# последовательность неубывающей (`np.maximum.accumulate`), обрежьте сверху единицей и
# верните значения на места признаков. Дрейф есть, если хоть одно скорректированное
# p-value < alpha.
#
# Верните пару: `(drift_detected, {признак: скорректированное p-value})`.


# %%
def detect_drift(reference, current, alpha=0.05):
    """Per-feature KS / chi-square p-values with Holm's correction, and the verdict."""
    ### BEGIN SOLUTION Посчитайте p-value по каждому признаку, затем поправку Холма
    p = []
    for column in FEATURES:
        test = drift.ks_test if column in NUMERIC_FEATURES else drift.chi2_test
        p.append(test(reference[column], current[column]).pvalue)
    p = np.asarray(p)
    order = np.argsort(p, kind="stable")
    holm = np.minimum(np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))), 1.0)
    adjusted = np.empty_like(p)
    adjusted[order] = holm
    return bool((adjusted < alpha).any()), dict(zip(FEATURES, adjusted, strict=True))
    ### END SOLUTION


# %%
run_check(lab.check_detector, detect_drift)

# %% [markdown]
# ## Упражнение 3. Мощность и ложные тревоги
#
# Напишите симуляцию: `n_seeds` раз сгенерируйте эталон `problems.make_batch(n_orders,
# seed=...).frame` и текущую выборку `problems.make_batch(n_orders, seed=...,
# scenarios=[scenario], strength=strength).frame` (детектору нужны таблицы DataFrame, а не
# объекты Batch), вызовите `detector(reference, current)` и верните долю повторов, где он
# сработал. При strength = 0 это доля ложных тревог, при strength > 0 — мощность.
#
# Повторы должны быть **независимыми**: у эталона и текущей выборки разные seed, и ни одна
# выборка не встречается в двух повторах (подойдут `seed + 2 * i` и `seed + 2 * i + 1`).


# %%
def alarm_rate(detector, scenario, strength, n_orders, n_seeds, seed):
    """Share of ``n_seeds`` independent runs in which ``detector`` raises an alarm."""
    ### BEGIN SOLUTION Цикл по повторам: два make_batch с разными seed, вызов детектора, доля True
    alarms = 0
    for i in range(n_seeds):
        reference = problems.make_batch(n_orders, seed=seed + 2 * i).frame
        current = problems.make_batch(
            n_orders, seed=seed + 2 * i + 1, scenarios=[scenario], strength=strength
        ).frame
        alarms += bool(detector(reference, current))
    return alarms / n_seeds
    ### END SOLUTION


# %%
def holm_detector(reference, current):
    return detect_drift(reference, current)[0]


run_check(
    lab.check_alarm_rate, alarm_rate, holm_detector, n_orders=n_orders, n_seeds=n_seeds, seed=seed
)

# %% [markdown]
# ## Что получилось: без поправки и с поправкой
#
# Сравним ваш детектор с наивным («тревога, если хоть один признак p < 0.05 без поправки»)
# и посмотрим, как мощность растёт с силой сдвига (сценарий «зима»).


# %%
def naive_detector(reference, current):
    table = drift.column_drift(reference, current)
    return bool((table["score"] < 0.05).any())


strengths = [0.0, 0.05, 0.1, 0.2]
curves = pd.DataFrame(
    {
        name: [alarm_rate(det, "winter", s, n_orders, n_seeds // 2, seed) for s in strengths]
        for name, det in [("без поправки", naive_detector), ("Холм", holm_detector)]
    },
    index=strengths,
)
curves.round(2)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
curves.plot(ax=ax, marker="o")
ax.axhline(0.05, color="grey", linestyle="--", label="α = 0.05")
ax.set_xlabel("сила сдвига (зима)")
ax.set_ylabel("доля тревог")
ax.set_title(f"Тревоги детекторов, {n_orders} заказов, {n_seeds // 2} повторов")
ax.legend()
plt.show()

# %% [markdown]
# Как читать: строка силы 0 — это доля **ложных** тревог. Наивный детектор тревожит без
# всякого дрейфа в разы чаще α, поэтому часть его «мощности» на слабых сдвигах — те же
# ложные тревоги. Честно сравнивать мощность можно только при одинаковой доле ложных тревог.
# Холм на слабом сдвиге срабатывает реже — это плата за редкие ложные тревоги; сильный
# сдвиг оба детектора ловят почти всегда.

# %% [markdown]
# ## Итоги
#
# - PSI — это корзины по квантилям эталона плюс эпсилон для пустых корзин.
# - Без поправки детектор по 9 признакам поднимает ложную тревогу в разы чаще α;
#   поправка Холма держит её не выше α. Плата — мощность на слабых сдвигах; сильный
#   сдвиг оба детектора ловят одинаково.
# - Мощность и ложные тревоги измеряются симуляцией с известной правдой — так же стоит
#   проверять любой детектор перед тем, как ставить его в мониторинг.
