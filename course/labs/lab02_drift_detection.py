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
# тревогу (false alarm); сравните детекторы честно — при одной доле ложных тревог — и
# поймаете концептуальный дрейф онлайн-детектором на потоке ошибок модели. К ноутбукам 04–05.
#
# Каждое упражнение проверяется автоматически: ✓ — верно, ✗ — что не так и как исправить.

# %% [markdown]
# ## Цели
#
# - реализовать PSI (Population Stability Index) с корзинами, устойчивыми к повторам
#   значений, и сверить его с `drift.psi`;
# - собрать детектор по многим признакам с поправкой Холма (Holm) и сверить его с
#   поправкой пакета (`drift.adjust_pvalues`);
# - измерить долю ложных тревог и мощность детектора на сгенерированных данных;
# - откалибровать пороги двух детекторов на одну долю ложных тревог и только потом
#   сравнивать их мощность;
# - применить тест Пейджа — Хинкли (Page-Hinkley) к потоку ошибок модели: ложные тревоги
#   и задержка обнаружения концептуального дрейфа.
#
# Слайд лекции: «Проблемы Production ML» (п. 1 и 2: дрейф данных, концептуальный дрейф).

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
# Корзины строятся по квантилям **эталона** так, чтобы повторы значений их не ломали:
#
# - уровни квантилей 0, 1/bins, …, 1 — с минимумом и максимумом:
#   `levels = np.quantile(reference, np.linspace(0, 1, bins + 1))`;
# - внутренние границы — `levels[1:-1]`;
# - значение, которое заняло **два уровня и больше** (флаг 0/1, частое «ровно 199»),
#   получает свою корзину: добавьте границу сразу после него, `np.nextafter(v, np.inf)`.
#   Такие значения даёт `np.unique(levels, return_counts=True)` (повторов больше одного),
#   а `np.union1d` соединит границы, отсортирует и уберёт совпадающие;
# - крайние корзины открыты: номер корзины значения x — `np.searchsorted(edges, x, "right")`;
# - доля пустой корзины заменяется на ε = 1e-4 (`np.maximum(share, 1e-4)`), иначе логарифм
#   бесконечен.
#
# Зачем третий пункт: в ноутбуке 04 рецепт «`np.unique` от внутренних квантилей» склеил
# на флаге все границы в одну, и PSI сильного сдвига (5 % → 60 % единиц) вышел 0. Проверка
# ниже подаёт вашей функции такой флаг и тариф, где у половины заказов ровно 199.


# %%
def psi(reference, current, bins=10):
    """Population Stability Index of two numeric samples, tie-safe reference-quantile bins."""
    ### BEGIN SOLUTION корзины по квантилям эталона (повторам — своя корзина), доли с эпсилоном, формула PSI
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    levels = np.quantile(reference, np.linspace(0, 1, bins + 1))
    values, repeats = np.unique(levels, return_counts=True)
    edges = np.union1d(levels[1:-1], np.nextafter(values[repeats > 1], np.inf))
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
# ## Упражнение 4. Честное сравнение: одна доля ложных тревог
#
# Сравнивать мощность детекторов можно только при **одинаковой доле ложных тревог**:
# детектор, который тревожит чаще, «ловит» и слабые сдвиги — но так же часто тревожит
# без всякого сдвига. Поэтому сначала каждому детектору подбирают порог на повторах без
# дрейфа (калибровка), а потом меряют мощность.
#
# Два детектора, каждый — число «чем больше, тем сильнее дрейф»:
#
# - **KS/χ²**: −log10 наименьшего p-value по 9 признакам. Наивный детектор (p < 0.05 без
#   поправки) и Холм (p < 0.05 / 9 у наименьшего) — это один и тот же счёт с разными
#   порогами: поправка лишь выбирает порог;
# - **PSI**: наибольший PSI по числовым признакам, эмпирическое правило — тревога при 0.1.
#
# Напишите `calibrated_threshold(null_scores, alpha)`: порог t, при котором доля счетов
# без дрейфа **выше** t не больше `alpha`, — верхний квантиль уровня 1 − alpha,
# округлённый вверх до наблюдённого счёта (`np.quantile(..., method="higher")`; с
# интерполяцией на 30 повторах доля выходит больше alpha).


# %%
def calibrated_threshold(null_scores, alpha):
    """Threshold t with share(null_scores > t) <= alpha (alarm when a score exceeds t)."""
    ### BEGIN SOLUTION верхний квантиль счетов без дрейфа: np.quantile(null_scores, 1 - alpha, method="higher")
    return float(np.quantile(null_scores, 1 - alpha, method="higher"))
    ### END SOLUTION


# %%
run_check(lab.check_calibrated_threshold, calibrated_threshold)

# %% [markdown]
# Посчитаем оба счёта на `n_seeds` независимых повторах без дрейфа и откалибруем пороги
# на α = 0.05.


# %%
def drift_scores(reference, current):
    """Both detectors' scores for one pair of samples (larger = more drift)."""
    p_values = drift.column_drift(reference, current)["score"]
    return {
        "KS/χ²": -np.log10(max(p_values.min(), 1e-300)),
        "PSI": max(drift.psi(reference[c], current[c]) for c in NUMERIC_FEATURES),
    }


# %%
def score_runs(strength, runs, first_seed):
    """Scores of ``runs`` independent (reference, winter at ``strength``) pairs."""
    rows = []
    for i in range(runs):
        reference = problems.make_batch(n_orders, seed=first_seed + 2 * i).frame
        current = problems.make_batch(
            n_orders, seed=first_seed + 2 * i + 1, scenarios=["winter"], strength=strength
        ).frame
        rows.append(drift_scores(reference, current))
    return pd.DataFrame(rows)


# %%
alpha = 0.05
null = score_runs(0.0, n_seeds, seed)
calibrated = {name: calibrated_threshold(null[name], alpha) for name in null.columns}
usual = {"KS/χ²": -np.log10(alpha / len(FEATURES)), "PSI": 0.1}
pd.DataFrame(
    {
        "обычный порог": usual,
        "ложные тревоги при нём": {n: (null[n] > t).mean() for n, t in usual.items()},
        "калиброванный порог": calibrated,
    }
).round(3)

# %% [markdown]
# Обычный порог PSI 0.1 на 300 заказах тревожит без дрейфа куда чаще 5 % (шум PSI на
# малой выборке, ноутбук 04), а Холм держит долю не выше α. Теперь мощность на слабой и
# средней зиме — при обычных и при калиброванных порогах (повторы с другими seed).

# %%
# Two cells of two strengths each: every cell stays a few seconds long.
strengths = [0.0, 0.05, 0.1, 0.2]
runs = {
    s: score_runs(s, n_seeds // 2, seed + 10_000 * (k + 1)) for k, s in enumerate(strengths[:2])
}

# %%
runs |= {
    s: score_runs(s, n_seeds // 2, seed + 10_000 * (k + 3)) for k, s in enumerate(strengths[2:])
}
power = pd.DataFrame(
    {
        f"{name}, {kind}": [(runs[s][name] > thresholds[name]).mean() for s in strengths]
        for kind, thresholds in [("обычный порог", usual), ("калиброванный", calibrated)]
        for name in null.columns
    },
    index=pd.Index(strengths, name="сила зимы"),
)
power.round(2)

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for column, style in zip(power.columns, ["o--", "s--", "o-", "s-"], strict=True):
    ax.plot(power.index, power[column], style, label=column)
ax.axhline(alpha, color="grey", linestyle=":", label=f"α = {alpha}")
ax.set_xlabel("сила сдвига (зима); 0 — без дрейфа")
ax.set_ylabel("доля тревог")
ax.set_title(f"Мощность при обычных и калиброванных порогах, {n_seeds // 2} повторов")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %%
weak = strengths[2]
for kind in ["обычный порог", "калиброванный"]:
    ks, psi_ = power.loc[:, f"KS/χ², {kind}"], power.loc[:, f"PSI, {kind}"]
    print(
        f"{kind}: без дрейфа тревог KS/χ² {ks[0.0]:.2f}, PSI {psi_[0.0]:.2f}; "
        f"при силе {weak}: KS/χ² {ks[weak]:.2f}, PSI {psi_[weak]:.2f}"
    )

# %% [markdown]
# Как читать: точка при силе 0 — доля ложных тревог на новых повторах. С обычными
# порогами PSI тревожит и без всякого дрейфа, поэтому его «мощность» на слабой зиме —
# во многом те же ложные тревоги. После калибровки у обоих детекторов ложных тревог около
# α, и только теперь разница в мощности (строки выше) — свойство самих статистик, а не
# порогов. Калибровка на конечном числе повторов сама шумит: на новых повторах доля
# ложных тревог колеблется вокруг α (стандартная ошибка около 0.03 при 50 повторах).

# %% [markdown]
# ## Упражнение 5. Концептуальный дрейф: тест Пейджа — Хинкли на потоке ошибок
#
# Детекторы выше смотрят только на входы X. Когда меняется связь P(y | X) (ноутбук 05,
# смена маршрутизации), входы те же, и ловить приходится по ошибкам модели — когда метки
# приходят. Онлайн-детектор `PageHinkley` из `mlops_course.monitoring.online_drift`
# получает ошибки по одной: `detector.update(error)` возвращает True на тревоге (и сам
# начинает заново).
#
# Напишите `page_hinkley_report(errors, change_at, delta, threshold)`: создайте новый
# `PageHinkley(delta=delta, threshold=threshold)`, подайте ему ошибки (0/1) по порядку и
# верните пару `(ложных тревог, задержка)`: тревоги на элементах с номером (с нуля) меньше
# `change_at` — ложные; задержка — номер первой тревоги не раньше `change_at` минус
# `change_at` (или `None`, если её нет).


# %%
from mlops_course.monitoring.online_drift import PageHinkley


def page_hinkley_report(errors, change_at, delta, threshold):
    """(false alarms before change_at, delay of the first alarm at or after it, or None)."""
    ### BEGIN SOLUTION новый PageHinkley(delta=delta, threshold=threshold); update по одной ошибке
    detector = PageHinkley(delta=delta, threshold=threshold)
    false_alarms = 0
    for i, error in enumerate(errors):
        if detector.update(error):
            if i >= change_at:
                return false_alarms, i - change_at
            false_alarms += 1
    return false_alarms, None
    ### END SOLUTION


# %%
run_check(lab.check_page_hinkley, page_hinkley_report)

# %% [markdown]
# Выберем порог λ, как в ноутбуке 05: поток в 1500 ошибок в неделю, доля ошибок 0.20, после
# смены (через 4 недели) — 0.26; метки приходят через 2 недели. Для каждого λ — доля
# потоков с ложной тревогой и медианная задержка в неделях, с ожиданием меток.

# %%
per_week, label_delay, change = 1500, 2, 4 * 1500
rows = []
for threshold in [20, 50, 100]:
    reports = [
        page_hinkley_report(
            lab.error_stream(seed + k, change, change, 0.20, 0.06), change, 0.005, threshold
        )
        for k in range(n_seeds // 5)
    ]
    delays = [np.inf if delay is None else delay / per_week + label_delay for _, delay in reports]
    rows.append(
        {
            "λ": threshold,
            "потоков с ложной тревогой": np.mean([false > 0 for false, _ in reports]),
            "медианная задержка, нед.": np.median(delays),
        }
    )
pd.DataFrame(rows).set_index("λ").round(2)

# %% [markdown]
# Низкий порог отвечает быстрее, но чаще поднимает ложную тревогу (первый столбец) — а
# каждая ложная тревога в мониторинге стоит лишнего переобучения. Высокий порог ждёт
# дольше. И к любой задержке детектора добавляется ожидание меток: концептуальный дрейф
# нельзя поймать раньше, чем станет известно, что модель ошиблась.

# %% [markdown]
# ## Итоги
#
# - PSI — это корзины по квантилям эталона плюс эпсилон для пустых корзин; значению,
#   которое занимает несколько квантилей, нужна своя корзина, иначе сдвиг флага не виден.
# - Без поправки детектор по 9 признакам поднимает ложную тревогу в разы чаще α;
#   поправка Холма держит её не выше α.
# - Мощность детекторов сравнивают только при одной доле ложных тревог: пороги
#   калибруют на повторах без дрейфа; «более чувствительный» детектор с обычным порогом
#   часто просто чаще тревожит.
# - Концептуальный дрейф ловят по ошибкам модели: Пейдж — Хинкли на потоке ошибок, порог
#   λ меняет ложные тревоги на задержку, а метки добавляют к ней своё ожидание.
# - Мощность и ложные тревоги измеряются симуляцией с известной правдой — так же стоит
#   проверять любой детектор перед тем, как ставить его в мониторинг.
