# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Дрейф данных (data drift)
#
# Модель обучили на данных весны, а в production приходит зима, новый район и час пик.
# Распределение входов P(X) меняется — это **дрейф данных (data drift)**, или ковариантный
# сдвиг (covariate shift). Здесь мы измерим его: сначала статистиками, написанными руками,
# затем теми же статистиками из scipy и пакета курса, затем отчётом Evidently. И проверим,
# насколько детекторам можно верить.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - посчитать KS, хи-квадрат, PSI, расстояние Вассерштейна и Йенсена-Шеннона руками и
#   сверить их с библиотеками;
# - выбрать статистику под тип признака и размер выборки, обойти ловушки PSI;
# - измерить мощность (power) детектора и долю ложных тревог (false alarms), применить
#   поправку на множественное тестирование;
# - построить отчёт Evidently и сравнить его с ручным расчётом;
# - отличить безвредный дрейф от дрейфа, который бьёт по качеству.
#
# Слайды лекции: «Почему MLOps — это не просто DevOps для ML» (модели деградируют из-за
# дрейфа данных), «Проблемы Production ML» (п. 1, дрейф данных) и «Архитектурная схема»
# (мониторинг дрейфа — Evidently).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# Размер эталонной (обучающей) и текущей выборок
n_reference = 5000
n_current = 2000
# Число повторов (seed) в симуляциях мощности и ложных тревог
n_seeds = 100

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from mlops_course.classroom.plots import alarm_rate_bars, compare_distributions, power_curves
from mlops_course.monitoring import drift
from mlops_course.scenario import problems

reference = problems.make_batch(n_reference, seed=seed).frame
print(f"эталон: {len(reference)} заказов, доля опозданий {reference['is_late'].mean():.3f}")

# %% [markdown]
# ## Что такое дрейф: три сценария
#
# Генератор курса умеет включать проблемы по одной. Возьмём три сценария дрейфа данных:
# зима (температура и снег), новый район (категория, которой не было в обучении) и рост
# пиковой нагрузки (курьер везёт больше заказов сразу).

# %%
from IPython.display import display

table = problems.scenarios_table().query("kind == 'data_drift'")
with pd.option_context("display.max_colwidth", None):  # descriptions in full
    display(table[["scenario", "columns", "description"]])

# %%
current = {
    name: problems.make_batch(n_current, seed=seed + 1, scenarios=[name]).frame
    for name in ["winter", "new_district", "peak_load", "marketing_campaign"]
}
# (column, scenario, panel title, axis label)
panels = [("temperature_c", "winter", "Зима", "температура, °C")]
panels.append(("district", "new_district", "Новый район", "район"))
panels.append(("courier_load", "peak_load", "Пиковая нагрузка", "заказов у курьера"))
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for ax, (column, name, title, xlabel) in zip(axes, panels, strict=True):
    compare_distributions(ax, reference[column], current[name][column], title, xlabel=xlabel)
fig.tight_layout()
plt.show()

# %% [markdown]
# Глазами сдвиг видно. Но мониторинг смотрит на десятки признаков каждый час — нужна
# **статистика**: число, которое сравнивает эталон (reference) с текущими данными (current).

# %% [markdown]
# ## Статистики руками и их проверка
#
# ### Критерий Колмогорова — Смирнова (KS) — числовые признаки
#
# Статистика KS — наибольший разрыв между двумя эмпирическими функциями распределения.


# %%
def ks_by_hand(a, b):
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return np.abs(cdf_a - cdf_b).max()


ref_t, cur_t = reference["temperature_c"], current["winter"]["temperature_c"]
print(f"руками: D = {ks_by_hand(ref_t, cur_t):.4f}")
print(f"scipy:  D = {stats.ks_2samp(ref_t, cur_t).statistic:.4f}")
ks = drift.ks_test(ref_t, cur_t)
print(f"пакет:  D = {ks.statistic:.4f}, p-value = {ks.pvalue:.3g}")

# %% [markdown]
# p-value = 0 — не «ровно ноль», а число меньше наименьшего, которое хранит float
# (около 1e-308): при таком разрыве на тысячах заказов случайность исключена.
#
# ### Хи-квадрат (chi-square) — категориальные признаки
#
# Таблица 2 × k: сколько заказов каждой категории в эталоне и в текущих данных. Категории
# берём из объединения, иначе новый район просто не попадёт в тест.

# %%
ref_d, cur_d = reference["district"], current["new_district"]["district"]
table = pd.crosstab(
    np.r_[np.zeros(len(ref_d)), np.ones(len(cur_d))], np.r_[ref_d, cur_d]
).to_numpy()
expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
print(f"руками: χ² = {((table - expected) ** 2 / expected).sum():.2f}")
print(f"scipy:  χ² = {stats.chi2_contingency(table).statistic:.2f}")
chi2 = drift.chi2_test(ref_d, cur_d)
print(f"пакет:  χ² = {chi2.statistic:.2f}, p-value = {chi2.pvalue:.3g}")

# %% [markdown]
# ### PSI (Population Stability Index)
#
# PSI = Σ (c − r) · ln(c / r) по корзинам, где r и c — доли эталона и текущих данных.
# Корзины — по квантилям **эталона**. Эмпирическое правило (rule of thumb): < 0.1 стабильно,
# 0.1–0.25 умеренный сдвиг, > 0.25 сильный.


# %%
def psi_by_hand(ref, cur, bins=10, eps=1e-4):
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, ref, "right"), minlength=edges.size + 1) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, "right"), minlength=edges.size + 1) / len(cur)
    r, c = np.maximum(r, eps), np.maximum(c, eps)
    return np.sum((c - r) * np.log(c / r))


print(f"PSI температуры зимой: руками {psi_by_hand(ref_t, cur_t):.4f}")
print(f"PSI температуры зимой: пакет  {drift.psi(ref_t, cur_t):.4f}")

# %% [markdown]
# **Ловушки PSI.** Число зависит от корзин, а не только от данных: от их числа, от способа
# (квантили эталона или равная ширина) и от размера выборки — даже **без всякого дрейфа**
# PSI на малой выборке больше нуля, примерно (k − 1)·(1/n + 1/m) для k корзин.


# %%
def psi_equal_width(ref, cur, bins=10):
    edges = np.linspace(min(ref.min(), cur.min()), max(ref.max(), cur.max()), bins + 1)
    r = np.maximum(np.histogram(ref, edges)[0] / len(ref), 1e-4)
    c = np.maximum(np.histogram(cur, edges)[0] / len(cur), 1e-4)
    return np.sum((c - r) * np.log(c / r))


rows = [
    {"корзины": f"{b} по квантилям", "PSI": drift.psi(ref_t, cur_t, bins=b)}
    for b in (5, 10, 20, 50)
]
rows.append({"корзины": "10 равной ширины", "PSI": psi_equal_width(ref_t, cur_t)})
pd.DataFrame(rows).round(3)

# %%
rng = np.random.default_rng(seed)
noise = []
for n in (100, 500, 2000):
    same = [drift.psi(rng.choice(ref_t, n), rng.choice(ref_t, n)) for _ in range(50)]
    noise.append(
        {
            "n": n,
            "PSI без дрейфа (среднее)": np.mean(same),
            "(k-1)(2/n)": 9 * 2 / n,
            "доля PSI ≥ 0.1": np.mean(np.array(same) >= 0.1),
        }
    )
pd.DataFrame(noise).round(3)

# %% [markdown]
# На 100 заказах PSI «находит» дрейф там, где его нет: шум выборки сам по себе больше
# порога 0.1. Порог осмыслен, только когда (k − 1)·(1/n + 1/m) много меньше 0.1 — при 10
# корзинах это сотни строк в каждой выборке, а лучше тысячи.
#
# Последняя ловушка — повторы. Если одно значение занимает несколько квантилей (флаг 0/1,
# много нулей), `np.unique` склеивает границы, и все заказы попадают в одну корзину:
# сдвиг такого признака `psi_by_hand` не видит вовсе. `drift.psi` даёт такому значению
# собственную корзину.

# %%
flag_ref = (rng.random(2000) < 0.05).astype(float)  # флаг: 5 % единиц в эталоне
flag_cur = (rng.random(2000) < 0.60).astype(float)  # 60 % единиц: сильный сдвиг
print(f"PSI флага: руками {psi_by_hand(flag_ref, flag_cur):.3f}, ", end="")
print(f"пакет {drift.psi(flag_ref, flag_cur):.3f}")

# %% [markdown]
# ### Расстояния Вассерштейна и Йенсена-Шеннона
#
# Вассерштейн (earth mover's distance) — площадь между функциями распределения, в единицах
# признака (градусы). Йенсен-Шеннон (JS) — симметричное и всегда конечное расстояние между
# гистограммами (в отличие от PSI, не нужен эпсилон для пустых корзин).

# %%
grid = np.sort(np.concatenate([ref_t, cur_t]))
gap = np.abs(
    np.searchsorted(np.sort(ref_t), grid[:-1], "right") / len(ref_t)
    - np.searchsorted(np.sort(cur_t), grid[:-1], "right") / len(cur_t)
)
print(f"Вассерштейн, °C: руками {np.sum(gap * np.diff(grid)):.3f}", end=", ")
print(f"scipy {stats.wasserstein_distance(ref_t, cur_t):.3f}", end=", ")
print(f"пакет {drift.wasserstein(ref_t, cur_t):.3f}")
r_counts, c_counts = drift.binned_counts(ref_t, cur_t)
p, q = r_counts / r_counts.sum(), c_counts / c_counts.sum()
m = (p + q) / 2
# rel_entr(x, y) = x * ln(x / y), with 0 * ln 0 = 0 for empty bins
js = np.sqrt((rel_entr(p, m).sum() + rel_entr(q, m).sum()) / 2)
print(f"Йенсен-Шеннон: руками {js:.4f}, scipy {jensenshannon(p, q):.4f}", end=", ")
print(f"пакет {drift.jensen_shannon(ref_t, cur_t):.4f}")

# %% [markdown]
# | Статистика | Признаки | Выдаёт | Когда подходит |
# |---|---|---|---|
# | KS | числовые | p-value | малые и средние выборки (на миллионах строк значим любой сдвиг) |
# | хи-квадрат | категории | p-value | в каждой ячейке ожидается ≥ 5 наблюдений |
# | PSI | оба (корзины) | размер | большие выборки; число зависит от корзин |
# | Вассерштейн | числовые | размер в единицах | «насколько далеко»; нормируйте на стандартное отклонение |
# | Йенсен-Шеннон | оба (корзины) | размер ≤ 0.83 | большие выборки, новые категории |
#
# p-value отвечает на вопрос «есть ли разница?», расстояние — «насколько она велика?».

# %% [markdown]
# ## Насколько хороши детекторы
#
# Генератор знает правду: мы сами решаем, есть ли сдвиг и какой силы (`strength`
# в `make_batch`). Значит, можно измерить **мощность (power)** — долю срабатываний при
# настоящем сдвиге — и **долю ложных тревог (false alarm rate)** при силе 0. Признак —
# `temperature_c` (сценарий «зима»: сила 1 — средняя температура падает на 20 °C, так что
# сила 0.02 — это ≈0.5 °C, 0.05 — ≈1.2 °C, 0.1 — ≈2.4 °C при стандартном отклонении 7 °C;
# чуть больше 1/50 доли на каждую сотую силы, потому что растёт и доля снега, а в снег
# теплее −1 °C не бывает),
# детектор — KS при α = 0.05.


# %%
def make_temperatures(n, batch_seed, strength):
    batch = problems.make_batch(n, seed=batch_seed, scenarios=["winter"], strength=strength)
    return np.random.default_rng(batch_seed).permutation(batch.frame["temperature_c"].to_numpy())


# %%
strengths, sizes, alpha = [0.0, 0.02, 0.05, 0.1], [50, 100, 200, 500, 1000], 0.05
# A fresh reference per repetition: the false-alarm rate is a property of the test over
# all possible samples, not of one lucky (or unlucky) reference.
references = [make_temperatures(1000, seed + 10_000 + s, 0.0) for s in range(n_seeds)]
alarms = np.zeros((len(strengths), len(sizes)))
for i, strength in enumerate(strengths):
    for s in range(n_seeds):
        current_temp = make_temperatures(max(sizes), seed + 20_000 + s, strength)
        for j, n in enumerate(sizes):
            # the first n orders of a shuffled batch: a random sample of size n
            alarms[i, j] += drift.ks_test(references[s], current_temp[:n]).pvalue < alpha
rates = pd.DataFrame((alarms / n_seeds).T, index=sizes, columns=[f"сила {s}" for s in strengths])
rates.round(2)

# %%
fig, ax = plt.subplots(figsize=(7, 4))
power_curves(
    ax, rates, alpha=alpha, title=f"Мощность KS для temperature_c ({n_seeds} повторов на точку)"
)
plt.show()

# %% [markdown]
# Без сдвига (сила 0) доля тревог держится около α — как и обещает тест (при 100 повторах
# разброс ±0.04 вокруг 0.05 — это шум). Сдвиг на ≈2.4 °C (сила 0.1) ловится большинством
# проверок уже на сотне заказов, на ≈1.2 °C — лишь на сотнях, а ≈0.5 °C не ловится надёжно даже
# на тысяче. Если сдвиг мал, а выборка маленькая, детектор его не увидит: молчание детектора
# не доказывает, что дрейфа нет. А на огромной выборке он заметит и сдвиг, который никому
# не вредит.
#
# ### Много признаков — много ложных тревог
#
# Проверяем 9 признаков сразу, каждый при α = 0.05. Даже без дрейфа хотя бы один
# сработает с вероятностью 1 − 0.95⁹ ≈ 37%. Поправки Бонферрони и Холма (Holm) держат
# вероятность хотя бы одной ложной тревоги (family-wise error rate) не выше α.

# %%
p_values = []
for s in range(n_seeds):
    ref_s = problems.make_batch(500, seed=seed + 30_000 + s).frame
    cur_s = problems.make_batch(500, seed=seed + 40_000 + s).frame
    p_values.append(drift.column_drift(ref_s, cur_s).set_index("column")["score"])
# one row per repetition, one column per feature
p_values = pd.DataFrame(p_values, index=range(n_seeds))
corrections = ["none", "bonferroni", "holm"]
any_alarm = {
    c: [(drift.adjust_pvalues(row, c) < alpha).any() for row in p_values.to_numpy()]
    for c in corrections
}
fa = pd.Series({c: np.mean(v) for c, v in any_alarm.items()}, name="доля ложных тревог")
print(f"{n_seeds} пар выборок без дрейфа, 9 признаков; теория без поправки: {1 - 0.95**9:.3f}")
fa.round(3)

# %% [markdown]
# Без поправки ложных тревог в разы больше α — без всякого дрейфа. Теория 1 − 0.95⁹
# считает, что каждый из 9 тестов срабатывает ровно в 5% случаев. Но `hour`, `weekday` и
# `courier_load` — целые числа с повторами, и KS на них консервативен, срабатывает реже α:

# %%
single = (p_values < alpha).mean()
integer = ["hour", "weekday", "courier_load"]
print(f"один тест без поправки срабатывает (α = {alpha}):")
print(f"  на целых признаках {', '.join(integer)}: {single[integer].mean():.3f}")
print(f"  на остальных шести: {single.drop(integer).mean():.3f}")
independent = 1 - np.prod(1 - single)
print(f"хотя бы одна тревога из 9, если тесты независимы: {independent:.2f}")

# %% [markdown]
# Поэтому настоящая доля ложных тревог без поправки заметно ниже 0.37: расчёт по этим
# частотам (последняя строка) близок к доле, измеренной выше. Сравнивайте с запасом: при
# сотне повторов у измеренной доли стандартная ошибка около 0.05.
#
# Бонферрони и Холм дают **одинаковую** долю «хотя бы одной тревоги»: оба срабатывают,
# только если наименьшее p-value меньше α/9. Холм выигрывает в другом — когда дрейф есть,
# он может признать дрейфующими больше признаков (следующие p-value сравниваются с α/8,
# α/7, …, а не все с α/9).

# %%
names = {"none": "без поправки", "bonferroni": "Бонферрони", "holm": "Холм"}
fig, ax = plt.subplots(figsize=(6, 3.5))
title = f"Ложные тревоги на 9 признаках ({n_seeds} повторов)"
alarm_rate_bars(ax, fa.rename(index=names), alpha=alpha, n_trials=n_seeds, title=title)
plt.show()

# %% [markdown]
# ## Отчёт Evidently
#
# Evidently (0.7) делает то же самое и рисует отчёт. Сравним его вердикты с нашими на данных
# зимы. Evidently сам выбирает статистику: при больших выборках — нормированный
# Вассерштейн для чисел и Йенсен-Шеннон для категорий, порог 0.1. Тяжёлый HTML сохраняем в
# рабочую папку, а здесь показываем компактную таблицу.

# %%
from mlops_course.config import NUMERIC_FEATURES, display_path

winter = current["winter"]
report = drift.evidently_drift(reference, winter)
print("HTML-отчёт:", display_path(report.attrs["html_path"]))

# %%
same_methods = {column: "wasserstein" for column in NUMERIC_FEATURES}
same_methods |= {"weather": "jensen_shannon", "district": "jensen_shannon"}
ours = drift.column_drift(reference, winter, method=same_methods)
both = report.merge(ours, on="column", suffixes=("_evidently", "_ours"))
both["agree"] = both["drifted_evidently"] == both["drifted_ours"]
shown = ["column", "method_evidently", "score_evidently", "score_ours"]
shown += ["drifted_evidently", "drifted_ours", "agree"]
both[shown].round(3)

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
colors = np.where(report["drifted"], "tab:red", "tab:blue")
ax.barh(report["column"], report["score"], color=colors)
ax.axvline(0.1, color="grey", linestyle="--", label="порог 0.1")
ax.set_xlabel("расстояние (Evidently)")
ax.set_title("Evidently: дрейф по признакам, зима (красный — дрейф)")
ax.legend()
plt.show()

# %% [markdown]
# ## Дрейф ≠ деградация
#
# Детектор реагирует на любой сдвиг P(X). Но важен не любой. В генераторе `order_value`
# вообще не влияет на опоздания: маркетинговая акция (чек вдвое больше) — безвредный
# дрейф. Нагрузка курьера — один из главных факторов опоздания. Измерим для каждого
# сценария три вещи: что видит детектор, что видит бизнес (доля опозданий) и что
# происходит с моделью — её **избыточный log loss**: насколько её вероятности хуже
# истинных вероятностей генератора (`late_probability`). Для сравнения добавим
# концептуальный дрейф (смена маршрутизации, ноутбук 05).

# %%
from sklearn.metrics import log_loss

from mlops_course.model.evaluate import late_scores
from mlops_course.model.train import train_model
from mlops_course.scenario.generator import BASE_TRUTH, ROUTING_CHANGE, late_probability

model = train_model(reference, seed=seed)


def excess_log_loss(test, truth):
    y = test["is_late"]
    return log_loss(y, late_scores(model, test)) - log_loss(y, late_probability(test, truth))


# %% [markdown]
# Избыточный log loss равен нулю, когда вероятности модели так же хороши, как истинные
# вероятности генератора: лучше на этих данных предсказать нельзя. Теперь — четыре сценария.

# %%
rows = []
for name in ["", "marketing_campaign", "peak_load", "routing_change"]:
    test = problems.make_batch(20_000, seed=seed + 2, scenarios=[name] if name else []).frame
    truth = ROUTING_CHANGE if name == "routing_change" else BASE_TRUTH
    flagged = drift.dataset_drift(reference, test).table.query("drifted")["column"].tolist()
    rows.append(
        {
            "сценарий": name or "без дрейфа",
            "дрейф в признаках": ", ".join(flagged) or "—",
            "доля опозданий": test["is_late"].mean(),
            "избыточный log loss": excess_log_loss(test, truth),
        }
    )
pd.DataFrame(rows).round(3)

# %% [markdown]
# Детектор одинаково уверенно видит и акцию, и рост нагрузки. Но акция не меняет ничего,
# что важно: опозданий столько же, модель так же хороша. Рост нагрузки резко меняет
# бизнес-метрику — опозданий намного больше, — хотя сама модель справляется: связь
# «нагрузка → опоздание» она выучила верно и продолжает её по новым значениям. Реагировать
# здесь нужно операционно (больше курьеров), а не переобучением. А смена маршрутизации
# детектору дрейфа данных не видна вовсе, хотя модель портится сильнее всего.
#
# Вывод: **мониторьте то, что важно** — признаки с большим весом в модели,
# бизнес-метрики и, когда появятся метки, само качество модели.

# %% [markdown]
# ## Итоги
#
# - Дрейф данных — сдвиг P(X); его видно статистикой, сравнивающей эталон с текущими данными.
# - KS и хи-квадрат дают p-value («есть ли разница»), PSI, Вассерштейн и JS — размер сдвига;
#   наши реализации в несколько строк совпадают со scipy и пакетом курса.
# - PSI зависит от корзин и размера выборки; на малых выборках даёт ложные тревоги.
# - Мощность детектора растёт с размером выборки и силой сдвига; без сдвига доля тревог ≈ α.
#   Молчание детектора на малой выборке не доказывает, что дрейфа нет.
# - Много признаков — нужна поправка (Холм, Бонферрони): без неё ложная тревога случается
#   примерно в каждой третьей проверке без всякого дрейфа.
# - Дрейф не равен деградации: следите за важными признаками, бизнес-метрикой и качеством.
#
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("04_data_drift")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: ""}
check_quiz("04_data_drift", answers)
