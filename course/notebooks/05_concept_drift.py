# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Концептуальный дрейф (concept drift)
#
# Бывает, что входы модели не изменились, а мир — изменился. Сервис доставки внедрил новую
# систему маршрутизации: маршруты оптимизированы, и длинная поездка больше не главная
# причина опоздания, зато система собирает заказы в цепочки, и каждый заказ в сумке курьера
# (ещё одна остановка) весит впятеро больше. Распределение P(X) то же, а связь P(y | X) —
# другая. Это **концептуальный дрейф (concept drift)**. Здесь мы покажем, что детекторы
# дрейфа данных его не видят, поймаем его по качеству и онлайн-детектором и сравним
# стратегии переобучения — в рублях, при пороге тревоги, подобранном на валидации.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - отличить концептуальный дрейф от дрейфа данных и показать это числами;
# - поймать его мониторингом качества с отложенными метками (доля ошибок в полосе ±3σ,
#   разрыв калибровки) и объяснить, что видит и чего не видит каждая метрика;
# - применить онлайн-детектор Пейджа — Хинкли (Page-Hinkley) к потоку ошибок модели,
#   выбрать порог по доле ложных тревог и задержке и сравнить его с недельным правилом 3σ;
# - сравнить стратегии переобучения (никогда, по расписанию, скользящее окно, по триггеру),
#   меняя по одной настройке за раз, по стоимости ошибок и по числу переобучений.
#
# Слайды лекции: «Проблемы Production ML» (п. 2, концептуальный дрейф), «Уровни зрелости
# MLOps» (автоматическое переобучение) и «Итоги» (жизненный цикл ML — непрерывный процесс).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# Симулированный год: недели, заказов в неделю, неделя смены маршрутизации
weeks = 52
orders_per_week = 1500
change_week = 20
# Метки (опоздал ли заказ) приходят с задержкой в неделях
label_delay_weeks = 2
# Число повторов в симуляциях онлайн-детектора
n_seeds = 50

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mlops_course.classroom.plots import control_chart, late_share_by, strategy_costs
from mlops_course.model.evaluate import CostTable, late_scores
from mlops_course.monitoring import drift
from mlops_course.scenario import problems

events = {change_week: ["routing_change"]}
batches = list(problems.stream(weeks, orders_per_week, seed, events, label_delay_weeks))
# the same stream without the routing change (first 26 weeks are enough for a comparison)
calm = list(problems.stream(change_week + 6, orders_per_week, seed, None, label_delay_weeks))
print(
    f"недель: {weeks}, заказов в неделю: {orders_per_week}; смена маршрутизации с недели {change_week}"
)

# %% [markdown]
# ## P(X) тот же, P(y | X) другой
#
# Генератор делает неделю с дрейфом и без него из одних и тех же случайных чисел для
# признаков. Сравним одну и ту же неделю после смены в двух мирах.

# %%
week = change_week + 5
same_x = batches[week].without_labels().equals(calm[week].without_labels())
print(f"неделя {week}: признаки совпадают полностью: {same_x}")
print(
    f"доля опозданий без смены: {calm[week].frame['is_late'].mean():.3f}, "
    f"со сменой: {batches[week].frame['is_late'].mean():.3f}"
)

# %%
after = pd.concat([b.frame for b in batches[change_week:]])
before = pd.concat([b.frame for b in batches[:change_week]])
frames = {"до смены": before, "после смены": after}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
late_share_by(axes[0], frames, "distance_km", bins=[0, 1, 2, 3, 4, 6, 9, 30])
axes[0].set(xlabel="расстояние, км", title="P(опоздание | расстояние)")
late_share_by(axes[1], frames, "courier_load")
loads = range(int(after["courier_load"].max()) + 1)
axes[1].set(xlabel="заказов у курьера", xticks=loads, title="P(опоздание | нагрузка)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Детекторы дрейфа данных молчат
#
# Эталон — первые 4 недели (на них обучена модель). Каждую неделю проверяем все признаки
# (KS / хи-квадрат с поправкой Холма, как в ноутбуке 04).

# %%
reference = pd.concat([b.frame for b in batches[:4]], ignore_index=True)
weekly_drift = pd.DataFrame(
    [
        {"week": b.week, "drift": drift.dataset_drift(reference, b.frame).drift_detected}
        for b in batches[4:]
    ]
)
alarms_before = weekly_drift.query("week < @change_week")["drift"]
alarms_after = weekly_drift.query("week >= @change_week")["drift"]
for period, alarms in [("до смены", alarms_before), ("после смены", alarms_after)]:
    print(
        f"тревоги дрейфа данных {period}: {alarms.sum()} из {len(alarms)} недель "
        f"({alarms.mean():.0%})"
    )

# %% [markdown]
# Тревоги после смены — ложные: признаки этих недель те же, что в мире без смены (проверено
# выше), а поправка Холма допускает ложную тревогу в любую неделю с вероятностью до α = 5%,
# то есть в среднем около 1–2 недель из 32. Детектор смотрит только на X, а X не изменился —
# смена маршрутизации для него невидима.
#
# ## Мониторинг качества с отложенными метками
#
# Модель обучена на первых 4 неделях по правилу курса: подгонка на ранних 75% заказов,
# порог тревоги подобран по стоимости ошибок на последних 25% (валидация, вырезанная из
# периода обучения, как в ноутбуке 03). Метки недели k приходят в неделю k + 2
# (`label_delay_weeks`). Следим за двумя метриками качества по неделям:
#
# - **доля ошибок** модели при её пороге: тревога на заказе, который не опоздал, или
#   опоздание без тревоги;
# - **разрыв калибровки**: фактическая доля опозданий минус средняя предсказанная
#   вероятность опоздания (сколько опозданий модель «обещала»).
#
# Правило для обеих: тревога, если значение недели отходит от базового уровня (среднее за
# первые 8 недель после запуска) больше чем на три стандартные ошибки биномиальной доли
# (±3σ: без изменений так далеко неделя уходит лишь в 0.3% случаев).

# %%
from mlops_course.model.evaluate import tune_threshold
from mlops_course.model.train import split_validation, train_model

fit, validation = split_validation(reference)
model = train_model(fit, seed=seed)
alarm_threshold = tune_threshold(model, validation)
scores = [late_scores(model, b.frame) for b in batches]
labels = [b.frame["is_late"].to_numpy().astype(bool) for b in batches]
errors = [(s >= alarm_threshold) != y for s, y in zip(scores, labels, strict=True)]
quality = pd.DataFrame(
    {
        "доля ошибок": [e.mean() for e in errors],
        "разрыв калибровки": [y.mean() - s.mean() for s, y in zip(scores, labels, strict=True)],
    }
)
print(f"порог тревоги, подобранный на валидации: {alarm_threshold:.2f}")

# %%
from mlops_course.model.retraining import quality_alarm_table

# The binomial share behind each metric sets its weekly noise: sqrt(p (1 - p) / n).
shares = {
    "доля ошибок": quality["доля ошибок"][4:12].mean(),
    "разрыв калибровки": reference["is_late"].mean(),
}
alarm_table = quality_alarm_table(quality, shares, change_week, orders_per_week, label_delay_weeks)
alarm_table.round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, (name, row) in zip(axes, alarm_table.set_index("метрика").iterrows(), strict=True):
    baseline = quality[name][4:12].mean()
    title = f"{name.capitalize()} по неделям (истинные метки)"
    limit, event = row["порог ±3σ"], {"смена маршрутизации": change_week}
    control_chart(ax, quality[name][4:], baseline, limit, event, ylabel=name, title=title)
fig.tight_layout()
plt.show()

# %% [markdown]
# Сравните в таблице «сдвиг после смены» с «порогом ±3σ». Сдвиг доли ошибок в несколько раз
# больше порога: неделя смены уже далеко за полосой, и тревога приходит, как только придут
# её метки, — через `label_delay_weeks` недель. Задержка обнаружения — это
# задержка меток плюс время, нужное метрике, чтобы выйти из шума.
#
# Разрыв калибровки сдвинулся примерно на ширину полосы: одни недели за ней, другие внутри
# (на графике справа), и первая тревога по нему — дело случая (проверьте `seed = 1`).
# Опозданий стало больше, чем модель обещает, но ненамного. Какую метрику мониторить —
# такое же важное решение, как порог.
#
# ### Разрыв калибровки видит только сдвиг доли опозданий
#
# Разрыв калибровки сравнивает *две средние*: долю опозданий и среднюю вероятность. Он
# заметил смену маршрутизации лишь потому, что опозданий стало больше. Представим новую
# маршрутизацию, которая перераспределила опоздания (дальние заказы стали надёжнее,
# загруженные курьеры — хуже), но не изменила их долю: тот же `ROUTING_CHANGE`, только
# свободный член подобран так, чтобы средняя истинная вероятность опоздания после смены
# осталась прежней. Ожидаемые значения метрик посчитаем по истинным вероятностям
# (`late_probability`) — без шума меток.

# %%
from dataclasses import replace

from scipy.optimize import brentq

from mlops_course.scenario.generator import BASE_TRUTH, ROUTING_CHANGE, late_probability


def late_rate_with(intercept: float) -> float:
    return late_probability(after, replace(ROUTING_CHANGE, intercept=intercept)).mean()


old_rate = late_probability(after, BASE_TRUTH).mean()
same_rate = brentq(lambda intercept: late_rate_with(intercept) - old_rate, -9, 0)
worlds = {
    "прежняя маршрутизация": BASE_TRUTH,
    "новая (как в потоке)": ROUTING_CHANGE,
    "новая, доля опозданий прежняя": replace(ROUTING_CHANGE, intercept=same_rate),
}

# %%
score = late_scores(model, after)
flagged = score >= alarm_threshold
expected = {}
for world, truth in worlds.items():
    p = late_probability(after, truth)  # true P(late) of every order after the change
    expected[world] = {
        "доля опозданий": p.mean(),
        "доля ошибок": np.where(flagged, 1 - p, p).mean(),  # a flag is wrong if not late
        "разрыв калибровки": p.mean() - score.mean(),
    }
pd.DataFrame(expected).T.round(3)

# %% [markdown]
# В третьем мире разрыв калибровки такой же, как при прежней маршрутизации (так он построен:
# доля опозданий та же, а прогнозы модели не изменились). А доля ошибок выросла
# почти так же, как в настоящем потоке: модель поднимает тревоги не на тех заказах. Разрыв
# калибровки видит концептуальный дрейф, только если тот двигает долю опозданий; доля ошибок
# (или стоимость ошибок) видит и перераспределение.

# %% [markdown]
# ## Онлайн-детектор: тест Пейджа — Хинкли
#
# Вместо недельных срезов можно смотреть на поток ошибок заказ за заказом, по мере прихода
# меток. Тест Пейджа — Хинкли (Page 1954; Mouss et al. 2004) складывает отклонения ошибок
# от их текущего среднего за вычетом допуска δ (самый малый рост, на который стоит
# реагировать; здесь δ = 0.005, рост доли ошибок на 0.5 процентного пункта) и поднимает
# тревогу, когда эта сумма поднялась над своим минимумом больше чем на порог λ. Реализация —
# `mlops_course.monitoring.online_drift` (несколько строк numpy, проверена модульными тестами).
#
# Порог λ — компромисс: ниже порог — быстрее реакция, но больше ложных тревог. Измерим
# оба на потоках Бернулли с той же долей ошибок, что у нашей модели, и тем же ростом
# после смены (число повторов на порог — `n_seeds`).

# %%
from mlops_course.monitoring.online_drift import page_hinkley_alarms, threshold_tradeoff

error_rate = quality["доля ошибок"]
baseline = error_rate[4:change_week].mean()
delta, rise = 0.005, error_rate[change_week:].mean() - baseline
n_before, n_after = (change_week - 4) * orders_per_week, (weeks - change_week) * orders_per_week
tradeoff = threshold_tradeoff(
    [40, 80, 120], baseline, rise, n_before, n_after, delta, n_seeds, seed, orders_per_week
)
print(f"доля ошибок {baseline:.3f}, рост после смены {rise:.3f}, δ = {delta}, {n_seeds} повторов")
print(f"поток — недели 4–{weeks - 1}, смена с недели {change_week}")
tradeoff.round(2)

# %% [markdown]
# Возьмём λ = 120: ложные тревоги редки. Применим тест к настоящему потоку ошибок модели
# (заказ за заказом, начиная с недели 4) и сравним с недельным правилом 3σ из таблицы выше.

# %%
threshold = 120
alarms = page_hinkley_alarms(np.concatenate(errors[4:]).astype(float), delta, threshold)
found = [a for a in alarms if 4 + a // orders_per_week >= change_week]
print(f"ложных тревог Пейджа — Хинкли до смены: {len(alarms) - len(found)}")
ph_week, ph_order = 4 + found[0] // orders_per_week, found[0] % orders_per_week + 1
print(f"Пейдж — Хинкли: тревога на заказе {ph_order} из {orders_per_week} недели {ph_week}")
weekly_first = alarm_table.set_index("метрика").loc["доля ошибок", "первая неделя за порогом"]
print(f"правило 3σ: неделя {weekly_first:.0f}, решение — после всех {orders_per_week} заказов")
print(f"обоим ещё ждать меток: + {label_delay_weeks} нед.")

# %% [markdown]
# ### Почему накопление быстрее — и когда нет
#
# Правило 3σ решает раз в неделю и только по этой неделе: тревога, если доля ошибок недели
# вышла за базовый уровень + 3σ. Пейдж — Хинкли складывает свидетельства заказ за заказом:
# после смены каждый заказ добавляет к сумме в среднем (рост − δ), и тревога звучит
# примерно через λ / (рост − δ) заказов — будь то середина недели или третья неделя подряд
# слабого роста. Посчитаем обе задержки для роста, как у нас, и для слабых ростов,
# которые недельное правило видит только в «удачную» неделю.

# %%
from scipy.stats import norm

sigma = np.sqrt(baseline * (1 - baseline) / orders_per_week)
rows = []
for r in [rise, 0.02, 0.01]:
    week_chance = norm.sf((3 * sigma - r) / sigma)  # a week above baseline + 3σ
    rows.append(
        {
            "рост доли ошибок": r,
            "3σ: шанс тревоги за неделю": week_chance,
            # median of a geometric number of weeks; the rule decides at a week's end
            "3σ: медиана, нед.": np.ceil(np.log(0.5) / np.log1p(-min(week_chance, 1 - 1e-12))),
            "Пейдж — Хинкли: ≈ λ / (рост − δ), нед.": threshold / (r - delta) / orders_per_week,
        }
    )
pd.DataFrame(rows).round(3)

# %% [markdown]
# Первая строка — наш поток: сдвиг во много σ, правило 3σ срабатывает в первую же неделю,
# но только когда неделя закончилась, а сумма Пейджа — Хинкли перешагивает λ раньше, до конца
# недели (на заказе из вывода выше). На слабом росте (последняя строка) неделя почти никогда
# не выходит за полосу, а сумма растёт каждую неделю и доходит до λ раньше. Между ними правило
# 3σ может оказаться быстрее: λ = 120 — строгая планка (в таблице компромисса ложных тревог
# почти нет), а полоса ±3σ (0.3% недель) за 48 недель даёт ложную тревогу примерно в каждом
# восьмом потоке. Сравнивайте детекторы при равной доле ложных тревог, а λ выбирайте по
# таблице компромисса.

# %% [markdown]
# ## Стратегии переобучения
#
# Что делать, когда мир изменился? Сравним на том же потоке стратегии
# (`mlops_course.model.retraining`). Каждая модель — и первая, и каждая переобученная —
# получает свой порог тревоги, подобранный на валидации из *своих* недель обучения (последние
# 25% заказов), и её недели оцениваются в рублях при этом пороге. Метки приходят с задержкой
# 2 недели. Чтобы видеть, что дала каждая настройка, каждая стратегия, начиная с третьей,
# отличается от предыдущей **одной** настройкой:
#
# 1. **никогда** — модель первых 4 недель (так работает уровень зрелости 0; ему посвящён
#    ноутбук 08, он готовится);
# 2. **по расписанию** — каждые 4 недели на всех неделях;
# 3. **скользящее окно** — то же расписание, но только на последних 4 неделях;
# 4. **по триггеру** — то же окно, но переобучение по тревоге Пейджа — Хинкли (λ = 120);
# 5. **по триггеру, окно 1 нед.** — тот же триггер, но только на последней неделе.
#
# «Недели» здесь — всегда недели, метки которых уже пришли.

# %%
from mlops_course.model.retraining import (
    STRATEGY_NAMES,
    StrategyConfig,
    change_steps,
    compare_strategies,
)

# Two cells: every cell stays a few seconds long.
scheduled = [
    StrategyConfig("never"),
    StrategyConfig("periodic", every_weeks=4),
    StrategyConfig("sliding", every_weeks=4, window_weeks=4),
]
summary_a, results_a = compare_strategies(batches, scheduled, change_week=change_week, seed=seed)

# %%
from mlops_course.model.retraining import strategy_table

one_week = "по триггеру, окно 1 нед."
triggered = [
    StrategyConfig("triggered", window_weeks=4, delta=delta, threshold=threshold),
    StrategyConfig("triggered", window_weeks=1, delta=delta, threshold=threshold, label=one_week),
]
summary_b, results_b = compare_strategies(batches, triggered, change_week=change_week, seed=seed)
results = results_a | results_b
summary = pd.concat([summary_a, summary_b], ignore_index=True)
shown = ["стратегия", "когда переобучать", "на чём обучать", "переобучений"]
strategy_table(summary, 1)[[*shown, "₽ на заказ, за год", "₽ на заказ после смены"]]

# %%
steps = [
    ("never", "periodic"),
    ("periodic", "sliding"),
    ("sliding", "triggered"),
    ("triggered", one_week),
]
for name in ("triggered", one_week):
    shown_name = STRATEGY_NAMES.get(name, name)
    print(f"«{shown_name}» переобучалась в неделях: {results[name].retrain_weeks}")
change_steps(summary, steps).round(1)

# %%
fig, ax = plt.subplots(figsize=(11, 4.5))
title = "Стоимость ошибок по неделям: стратегии переобучения и политики без модели"
# red vertical lines: the weeks the triggered strategy retrained
strategy_costs(ax, results, {"смена маршрутизации": change_week}, title=title, costs=CostTable())
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.tight_layout()
plt.show()

# %% [markdown]
# Читайте таблицу шагов сверху вниз, по одной настройке:
#
# - **переобучать ли вообще** (никогда → по расписанию): переобучение окупается, хотя
#   устаревшая модель и после смены дешевле любой политики без модели (чёрные линии);
# - **на чём** (все недели → последние 4, расписание то же): окно дешевле, потому что в
#   полной истории почти до конца года больше заказов из старого мира, с прежней
#   зависимостью P(y | X), и они тянут модель назад;
# - **когда** (каждые 4 недели → по тревоге, окно то же): переобучений в разы меньше, но
#   единственное переобучение по тревоге приходит сразу после смены, когда в окне из 4
#   недель с метками новая маршрутизация занимает от силы одну. Новая модель — смесь двух
#   миров, её ошибки по-прежнему высокие, но *ровные*, а Пейдж — Хинкли ищет рост ошибок, а
#   не их уровень: второй тревоги нет (список переобучений выше), и стратегия почти так же
#   дорога, как «никогда»;
# - **на чём, для триггера** (окно 4 недели → 1): переобученная по той же тревоге модель
#   учится только на неделе нового мира и догоняет скользящее окно (разница — меньше рубля
#   на заказ) за одно переобучение вместо двенадцати.
#
# Настройка «когда» и настройка «на чём» связаны: переобучение по тревоге стоит делать на
# данных *после* изменения — это знание о времени изменения, которое даёт детектор.

# %% [markdown]
# ## Другие виды дрейфа
#
# | Вид | Что меняется | Пример | Какой сигнал ловит |
# |---|---|---|---|
# | Дрейф данных (covariate shift) | P(X) | зима, новый район | тесты по признакам, сразу |
# | Концептуальный дрейф | P(y \| X) | маршрутизация | качество по меткам, поток ошибок |
# | Сдвиг априорных вероятностей (prior / label shift) | P(y) при прежнем P(X \| y) | опозданий стало больше, а «портрет» опоздавшего заказа прежний (в доставке редкость: признаки — сами причины опозданий) | доля «опоздает» в прогнозах; метки |
# | Сезонный дрейф | P(X), повторяется | зима | эталон того же сезона, не прошлый месяц |
# | Внезапный / постепенный | скорость | здесь смена внезапная; в ноутбуке 01 она вводится за 4 недели (`Event(..., ramp_weeks=4)`) | порог за неделю / накопительные тесты |

# %% [markdown]
# ## Итоги
#
# - Концептуальный дрейф меняет P(y | X) при неизменном P(X): детекторы дрейфа данных молчат.
# - Его ловит мониторинг качества — но только когда приходят метки, с задержкой. Доля ошибок
#   при рабочем пороге видит и перераспределение опозданий; разрыв калибровки — только
#   изменение, которое двигает их долю.
# - Онлайн-детектор Пейджа — Хинкли копит свидетельства заказ за заказом: не ждёт конца
#   недели и находит слабый стойкий рост, который недельное правило 3σ видит лишь в «удачную»
#   неделю; порог λ меняет ложные тревоги на задержку — выбирайте его измерением.
# - Стратегии переобучения сравнивайте по одной настройке за раз и в рублях при пороге,
#   подобранном на валидации. При том же расписании окно свежих данных дешевле полной
#   истории; триггер экономит переобучения (одно вместо двенадцати), если учит модель на
#   данных после изменения. Автоматическим переобучением займутся уровни зрелости 1 и 2
#   (ноутбуки 09 и 10, готовятся).

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("05_concept_drift")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: ""}
check_quiz("05_concept_drift", answers)
