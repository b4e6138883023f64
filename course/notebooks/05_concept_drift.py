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
# систему маршрутизации: длинная поездка больше не главная причина опоздания, зато нагрузка
# курьера влияет на опоздание вдвое сильнее. Распределение P(X) то же, а связь P(y | X) —
# другая. Это **концептуальный дрейф (concept drift)**. Здесь мы покажем, что детекторы
# дрейфа данных его не видят, поймаем его по качеству и онлайн-детектором и сравним
# стратегии переобучения.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - отличить концептуальный дрейф от дрейфа данных и показать это числами;
# - поймать его мониторингом качества с отложенными метками и измерить задержку;
# - применить онлайн-детектор Пейджа — Хинкли (Page-Hinkley) к потоку ошибок модели,
#   выбрать порог по доле ложных тревог и задержке;
# - сравнить стратегии переобучения (никогда, по расписанию, скользящее окно, по триггеру)
#   по качеству и по стоимости — числу переобучений.
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

from mlops_course.classroom.plots import late_share_by, quality_over_time, strategy_costs
from mlops_course.model.evaluate import late_scores
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
late_share_by(axes[1], frames, "courier_load", upper=6)
axes[1].set(xlabel="заказов у курьера (6 = 6+)", title="P(опоздание | нагрузка)")
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
# После смены тревог не больше, чем бывает ложных тревог без всякого дрейфа: поправка Холма
# держит их долю не выше α = 5% недель. Детектор смотрит только на X, а X не изменился —
# смена маршрутизации для него невидима.
#
# ## Мониторинг качества с отложенными метками
#
# Метки недели k приходят в неделю k + 2 (`label_delay_weeks`). Следим за двумя метриками
# качества по неделям:
#
# - **доля ошибок** модели (порог 0.5);
# - **разрыв калибровки**: фактическая доля опозданий минус средняя предсказанная
#   вероятность опоздания.
#
# Правило для обеих: тревога, если значение недели отходит от базового уровня (среднее за
# первые 8 недель после запуска) больше чем на три стандартные ошибки биномиальной доли
# (±3σ: без изменений так далеко неделя уходит лишь в 0.3% случаев).

# %%
from mlops_course.model.train import train_model

model = train_model(reference, seed=seed)
scores = [late_scores(model, b.frame) for b in batches]
labels = [b.frame["is_late"].to_numpy().astype(bool) for b in batches]
errors = [(s >= 0.5) != y for s, y in zip(scores, labels, strict=True)]
quality = pd.DataFrame(
    {
        "доля ошибок": [e.mean() for e in errors],
        "разрыв калибровки": [y.mean() - s.mean() for s, y in zip(scores, labels, strict=True)],
    }
)
quality.iloc[[4, change_week - 1, change_week, change_week + 1, weeks - 1]].round(3)


# %%
from mlops_course.model.retraining import quality_alarm_table

# The binomial share behind each metric sets its weekly noise: sqrt(p (1 - p) / n).
shares = {
    "доля ошибок": quality["доля ошибок"][4:12].mean(),
    "разрыв калибровки": reference["is_late"].mean(),
}
quality_alarm_table(quality, shares, change_week, orders_per_week, label_delay_weeks).round(3)

# %%
fig, ax = plt.subplots(figsize=(9, 3.5))
curves = {name: quality[name][4:] for name in quality.columns}
quality_over_time(
    ax,
    curves,
    {"смена маршрутизации": change_week},
    ylabel="значение",
    title="Качество модели по неделям (истинные метки)",
)
plt.show()

# %% [markdown]
# Сравните в таблице «сдвиг после смены» с «порогом ±3σ». Доля ошибок сдвинулась на
# величину порядка порога или меньше: модель ошибается чуть чаще, и этот рост тонет в
# недельном шуме. Неделя выходит за порог, только если шум «поможет», поэтому задержка по
# этой метрике — дело случая и сильно меняется от seed к seed (проверьте: `seed = 7`).
# Разрыв калибровки сдвинулся заметно сильнее порога и поднимает тревогу сразу: опозданий
# стало больше, чем модель обещает. Задержка обнаружения — это задержка меток плюс время,
# нужное метрике, чтобы выйти из шума. Какую метрику мониторить — такое же важное решение,
# как порог.

# %% [markdown]
# ## Онлайн-детектор: тест Пейджа — Хинкли
#
# Вместо недельных срезов можно смотреть на поток ошибок заказ за заказом, по мере прихода
# меток. Тест Пейджа — Хинкли (Page 1954; Mouss et al. 2004) складывает отклонения ошибок
# от их текущего среднего за вычетом допуска δ (самый малый рост, на который стоит
# реагировать) и поднимает тревогу, когда эта сумма поднялась над своим минимумом больше
# чем на порог λ. Реализация —
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
print(f"доля ошибок {baseline:.3f}, рост после смены {rise:.3f}, {n_seeds} повторов")
print(f"поток — недели 4–{weeks - 1}, смена с недели {change_week}")
tradeoff.round(2)

# %% [markdown]
# Возьмём λ = 120: ложные тревоги редки, задержка — несколько недель. Применим тест к
# настоящему потоку ошибок модели (заказ за заказом, начиная с недели 4).

# %%
threshold = 120
stream_errors = np.concatenate(errors[4:]).astype(float)
alarms = page_hinkley_alarms(stream_errors, delta, threshold)
alarm_weeks = [4 + a // orders_per_week for a in alarms]
print(f"тревоги Пейджа — Хинкли в неделях (по моменту заказа): {alarm_weeks}")
first = next((w for w in alarm_weeks if w >= change_week), None)
if first is not None:
    print(f"задержка: {first - change_week} нед. после смены", end=" ")
    print(f"+ {label_delay_weeks} нед. ожидания меток")

# %% [markdown]
# ## Стратегии переобучения
#
# Что делать, когда мир изменился? Сравним на том же потоке четыре стратегии
# (`mlops_course.model.retraining`): модель обучается на первых 4 неделях, метки приходят с
# задержкой 2 недели.
#
# - **никогда** — модель уровня зрелости 0;
# - **по расписанию** — раз в 8 недель на всех накопленных данных;
# - **скользящее окно** — раз в 4 недели на последних 4 неделях;
# - **по триггеру** — когда тест Пейджа — Хинкли на потоке ошибок поднимает тревогу, на
#   последних 4 неделях.

# %%
from mlops_course.model.retraining import StrategyConfig, compare_strategies, strategy_table

# Two cells, two strategies each: every cell stays a few seconds long.
simple = [StrategyConfig("never"), StrategyConfig("periodic", every_weeks=8)]
summary_a, results_a = compare_strategies(batches, simple, change_week=change_week, seed=seed)

# %%
adaptive = [
    StrategyConfig("sliding", every_weeks=4, window_weeks=4),
    StrategyConfig("triggered", window_weeks=4, delta=delta, threshold=threshold),
]
summary_b, results_b = compare_strategies(batches, adaptive, change_week=change_week, seed=seed)
results = results_a | results_b
summary = pd.concat([summary_a, summary_b], ignore_index=True)
strategy_table(summary)

# %%
fig, ax = plt.subplots(figsize=(10, 4))
title = "Стоимость ошибок модели по неделям при разных стратегиях"
# red vertical lines: the weeks the triggered strategy retrained
strategy_costs(ax, results, {"смена маршрутизации": change_week}, title=title)
plt.show()

# %% [markdown]
# Стратегия «никогда» платит за концептуальный дрейф весь оставшийся год. Полное
# переобучение по расписанию адаптируется медленно: старые данные с прежней зависимостью
# тянут модель назад. Скользящее окно и триггер адаптируются; триггер делает это за
# меньшее число переобучений (столбец «переобучений» в таблице) — но лишь когда детектор настроен
# так, чтобы не поднимать ложных тревог: с λ = 40 ложная тревога случается почти в каждом
# потоке (таблица порогов выше), и каждая — лишнее переобучение.

# %% [markdown]
# ## Другие виды дрейфа
#
# | Вид | Что меняется | Пример | Какой сигнал ловит |
# |---|---|---|---|
# | Дрейф данных (covariate shift) | P(X) | зима, новый район | тесты по признакам, сразу |
# | Концептуальный дрейф | P(y \| X) | маршрутизация | качество по меткам, поток ошибок |
# | Сдвиг априорных вероятностей (prior / label shift) | P(y) при прежнем P(X \| y) | опозданий стало больше, а «портрет» опоздавшего заказа прежний (в доставке редкость: признаки — сами причины опозданий) | доля «опоздает» в прогнозах; метки |
# | Сезонный дрейф | P(X), повторяется | зима | эталон того же сезона, не прошлый месяц |
# | Внезапный / постепенный | скорость | `ramp_weeks=8` | порог за неделю / накопительные тесты |

# %% [markdown]
# ## Итоги
#
# - Концептуальный дрейф меняет P(y | X) при неизменном P(X): детекторы дрейфа данных молчат.
# - Его ловит мониторинг качества — но только когда приходят метки, с задержкой.
# - Онлайн-детектор Пейджа — Хинкли на потоке ошибок: порог λ меняет ложные тревоги на задержку;
#   выбирайте его измерением, а не на глаз.
# - Переобучение по триггеру или скользящим окном возвращает качество; стоимость — число
#   переобучений. Этим займутся уровни зрелости 1 и 2.
#
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("05_concept_drift")

# %%
answers = {1: "", 2: "", 3: "", 4: ""}
check_quiz("05_concept_drift", answers)
