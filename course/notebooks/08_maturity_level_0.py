# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Уровень зрелости 0: всё вручную
#
# Так начинает почти каждая команда: data scientist обучил модель в ноутбуке, сохранил её
# в файл, передал файл эксплуатации, и та скопировала его на сервер. Модель работает —
# и через год никто не может сказать, как именно. В лекции это **уровень зрелости 0**:
# обучение и деплой вручную, нет автоматизации, хрупкость и низкая скорость обновлений.
#
# Здесь мы не рассуждаем об уровне 0, а проживаем с ним год. Сервис «Опоздает ли
# доставка?» встречает 52 недели заказов с событиями настоящего года: новый район, новая
# маршрутизация, неделя, в которую приложение курьеров присылало расстояния в метрах,
# сезон пиковой нагрузки и зима. Симулятор курса (`mlops_course.simulation`) играет этот
# год неделя за неделей по правилам уровня 0 и записывает, что получилось: качество и
# рубли каждой недели, выкатки, тревоги, время обнаружения и восстановления. Те же
# недели в ноутбуках 09 и 10 встретят уровни 1 и 2.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - описать уровень зрелости 0 как порядок работы: кто что делает руками, сколько дней
#   каждый шаг ждёт человека и сколько недель изменение идёт до production;
# - показать на годе работы, как устаревает модель, которую обновляют раз в квартал, и
#   прочитать это на графике с событиями года и с оракулом (лучшим, что могла бы дать та
#   же модель на свежих данных);
# - разобрать инцидент качества данных, который дошёл до production и которого никто не
#   заметил: что предсказала модель, сколько это стоило и почему не было тревоги;
# - сопоставить каждую характеристику уровня 0 с измерением и числом, а среднее по неделям
#   — с медианой, прежде чем делать выводы.
#
# Слайды лекции: «Уровни зрелости MLOps» (уровень 0), «Проблемы при развертывании» и
# «Проблемы Production ML» (дрейф данных, концептуальный дрейф, качество данных).

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42

# %%
import pickle
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from mlops_course.classroom.lifecycle import markdown_table
from mlops_course.simulation.year import make_year

year = make_year(seed)
start = year.batch(0).frame["timestamp"].min()
print(f"год: {year.weeks} недель по {year.orders_per_week} заказов, с {start:%d.%m.%Y}")
print(f"метки (опоздал ли заказ) приходят через {year.label_delay_weeks} нед.")
year.events_table()

# %% [markdown]
# Год начинается в марте. Расстояния в метрах приходят одну неделю (28), остальные
# события нарастают или остаются до конца года. Перед годом есть
# `history` — 4 спокойные недели с метками: на них обучена первая модель, одна и та же
# для всех уровней зрелости.

# %% [markdown]
# ## Как работает команда уровня 0
#
# Порядок работы команды — это `OperatingPolicy`: когда переобучать, проверяют ли данные
# и модель, следят ли за качеством, сколько дней каждый шаг ждёт человека. Три уровня
# зрелости — три такие политики, и больше ничего между ними не отличается: тот же год, та
# же модель (логистическая регрессия), то же окно обучения (4 последние недели с метками).

# %%
from mlops_course.simulation.policies import LEVEL_0, describe_policy

print(LEVEL_0.description)
pd.Series(describe_policy(LEVEL_0)).to_frame("уровень 0")

# %% [markdown]
# ## Обучение в ноутбуке и «выкатка» копированием файла
#
# Сделаем то, что делает data scientist уровня 0: обучим модель на истории прямо здесь,
# подберём порог тревоги по стоимости ошибок (как в ноутбуке 03: подгонка на ранних 75 %
# заказов, порог — на последних 25 %), сохраним модель `pickle` и «выкатим» её —
# скопируем файл в папку «сервера». Обе папки — в рабочем каталоге курса.

# %%
from threadpoolctl import threadpool_limits

from mlops_course.config import display_path, work_dir
from mlops_course.model.retraining import fit_with_threshold

history = pd.concat([batch.frame for batch in year.history], ignore_index=True)
with threadpool_limits(limits=1):  # one BLAS thread, as the simulator: the same bits
    model, threshold = fit_with_threshold(history, seed=seed)
laptop, server = work_dir("level_0", "laptop"), work_dir("level_0", "server")
(laptop / "model.pkl").write_bytes(pickle.dumps((model, threshold), protocol=5))
shutil.copy(laptop / "model.pkl", server / "model.pkl")  # the whole "deployment"
print(f"обучено на {len(history)} заказах недель {year.history[0].week}…{year.history[-1].week}")
print(f"порог тревоги: {threshold:.2f}; файл: {display_path(server / 'model.pkl')}")
print("что лежит на «сервере»:", sorted(path.name for path in server.iterdir()))

# %% [markdown]
# На сервере — один файл. Рядом нет ни версии, ни данных, на которых модель обучена, ни её
# метрик, ни окружения (ноутбук 06): через квартал, когда файл заменят, старую модель не
# вернуть и не сравнить с новой. Проверим, что «сервер» предсказывает то же, что ноутбук:

# %%
from mlops_course.model.evaluate import late_scores

served_model, served_threshold = pickle.loads((server / "model.pkl").read_bytes())
week_0 = year.batch(0).frame
scores_0 = late_scores(served_model, week_0)
same = np.array_equal(scores_0, late_scores(model, week_0)) and served_threshold == threshold
late_0 = week_0["is_late"].mean()
print(f"неделя 0: средняя P(опоздание) {scores_0.mean():.3f}, опоздало {late_0:.3f}")
print(f"сервер и ноутбук предсказывают одинаково: {same}")

# %% [markdown]
# ## Чек-лист ручного обновления
#
# Раз в квартал (каждые 13 недель, в конце недель 12, 25, 38 и 51) модель обновляют. Вот
# шаги, дни, которые каждый из них ждёт человека, и почему столько (поле `waits`
# политики). Симулятор двигается по неделям, поэтому дни складываются и округляются
# вверх до целых недель.

# %%
from mlops_course.simulation.policies import delay_weeks, deployment_week

checklist = {
    "Квартальный план напоминает о модели": f"по календарю: {LEVEL_0.trigger.describe()}",
    "Data scientist переобучает модель в ноутбуке": LEVEL_0.waits["retrain_days"],
    "Новую модель сравнивают с текущей": "шага нет: ворот качества нет (gate=None)",
    "Эксплуатация копирует файл на сервер": LEVEL_0.waits["deploy_days"],
    "Кто-то следит за качеством в production": "никто: мониторинга нет (monitor=False)",
}
for number, (step, why) in enumerate(checklist.items(), start=1):
    print(f"☐ {number}. {step}\n     {why}")
total, to_production = LEVEL_0.delay_days, deployment_week(LEVEL_0, 0)
print(f"\nвсего ждём людей: {total:g} дн. → {delay_weeks(total)} нед. (с округлением вверх)")
print(f"решение в конце недели t → модель в production с недели t + {to_production}")

# %% [markdown]
# Четыре недели — это ещё не вся задержка. Модель учится на неделях, метки которых уже
# пришли, а метки запаздывают на две недели: в первый день работы новой модели её самые
# свежие данные уже несколько недель как устарели (это видно в таблице выкаток ниже).

# %% [markdown]
# ## Год в production
#
# Сначала — **оракул**: для каждой недели та же модель, обученная на 4 неделях свежих
# заказов из мира *этой* недели (с её дрейфом, без инцидента) и проверенная на тех же
# заказах. Это то, что получила бы команда, которая реагирует мгновенно и безошибочно;
# недостижимый потолок, от которого удобно отсчитывать потери. Считается один раз на год.

# %%
from mlops_course.simulation.oracle import oracle_quality

oracle = oracle_quality(year)
print(f"оракул: log loss по неделям — медиана {oracle['oracle_log_loss'].median():.3f}")

# %% [markdown]
# Теперь уровень 0 проживает год: `simulate_year` каждую неделю выкатывает то, что пора
# выкатить, обслуживает партию заказов, считает качество и рубли по истинным меткам
# (симулятор их знает, команда — нет) и спрашивает политику, не пора ли переобучать.

# %%
from mlops_course.model.evaluate import format_roubles
from mlops_course.simulation.simulator import simulate_year

result = simulate_year(LEVEL_0, seed)
first = result.shelf.versions[1]
print(
    "первая модель симулятора — наш файл:",
    np.array_equal(late_scores(first.model, week_0), scores_0),
)
summary, weekly = result.summary(), result.weekly.set_index("week")
print(f"₽ за год: {format_roubles(summary['cost_rub'])}; выкаток: {summary['deployments']}")
print(f"тревог: {summary['alarms']}; инцидентов в production: {summary['incidents_in_production']}")
shown = ["model_version", "log_loss", "oracle_log_loss", "cost_rub", "oracle_cost_rub"]
weekly[shown].iloc[[0, 17, 18, 28, 29, 43, 44]].round(3)

# %%
from mlops_course.classroom.year_plots import plot_year

fig = plot_year({"уровень 0": result})
fig.axes[1].set_title("Уровень 0: log loss по неделям (ниже — лучше)")
plt.show()

# %% [markdown]
# ▼ — неделя, с которой работает новая модель. Разложим год по моделям: какие недели
# служила каждая, насколько её log loss был выше оракула (медиана по неделям — одна
# неделя в метрах её не сдвинет) и сколько рублей она потеряла сверх оракула.

# %%
from mlops_course.classroom.year_plots import week_span

excess = weekly["cost_rub"] - weekly["oracle_cost_rub"]
by_model = weekly.assign(excess=excess).reset_index().groupby("model_version")
periods = pd.DataFrame(
    {
        "недели": by_model["week"].agg(lambda weeks: week_span(list(weeks))),
        "log loss выше оракула, медиана": by_model["gap"].median().round(3),
        "₽ сверх оракула": by_model["excess"].sum().map(format_roubles),
    }
)
periods.set_axis([f"v{version}" for version in periods.index]).rename_axis("модель")

# %% [markdown]
# Читайте график и таблицу слева направо:
#
# - **до недели 18** первая модель почти не хуже оракула, хотя с недели 8 открылся новый
#   район: логистической регрессии он почти не вредит (для неё это ещё одна категория);
# - **смена маршрутизации** (неделя 18, концептуальный дрейф) поднимает log loss, и он
#   остаётся высоким, пока не приходит квартальная модель, обученная уже на новом мире;
# - **неделя 28** уходит за край графика: партия в метрах (разбор ниже);
# - **в конце года** (пик закончился, зима в полную силу) разрыв с оракулом снова велик
#   — у последней модели он ещё больше, чем у модели времён смены маршрутизации, — и до
#   конца года его никто не закрывает.
#
# Нижняя панель — рубли, потерянные сверх оракула, нарастающим итогом: они копятся в двух
# местах, после смены маршрутизации и в конце года.

# %% [markdown]
# ## Инцидент, которого никто не заметил: неделя в метрах
#
# В неделю 28 релиз приложения курьеров присылает `distance_km` в метрах. Что увидела
# модель, что она предсказала и что это стоило?

# %%
from mlops_course.classroom.year_plots import model_weeks

metres = next(event.start_week for event in year.events if event.key == "metres")
row, broken, clean = weekly.loc[metres], year.batch(metres).frame, year.clean_frame(metres)
served = result.shelf.versions[int(row["model_version"])]
scores = late_scores(served.model, broken)
flagged, late = np.mean(scores >= served.threshold), broken["is_late"].mean()
distance = broken["distance_km"].median(), clean["distance_km"].median()
print("медиана distance_km: {:.0f} в партии, {:.2f} в исправной партии".format(*distance))
print(f"v{served.version}: P(опоздание) от {scores.min():.4f} до {scores.max():.4f}")
print(f"тревога на {flagged:.0%} заказов; опоздало на самом деле {late:.0%}")
print(f"ROC AUC недели {row['roc_auc']:.2f}; log loss недели {row['log_loss']:.1f}")
print(f"медиана log loss по неделям года: {weekly['log_loss'].median():.3f}")

# %%
from mlops_course.simulation.quality import DEFAULT_COSTS

on_clean = model_weeks(year, served.model, served.threshold, [metres]).iloc[0]
incident = row["cost_rub"] - on_clean["cost_rub"]
flag_all = DEFAULT_COSTS.constant_costs(late)["flag_all"] * len(broken)
print(f"₽ недели: {format_roubles(row['cost_rub'])}")
print(f"правило «тревога на каждый заказ» стоило бы: {format_roubles(flag_all)}")
print(f"та же v{served.version} на исправной партии: {format_roubles(on_clean['cost_rub'])}")
print(f"цена инцидента: {format_roubles(incident)}")

# %% [markdown]
# Расстояние в тысячу раз больше обычного — модель уверена, что опоздает *каждый* заказ, и
# поднимает тревогу на всех. Ошибки не было: сервис принял числа и ответил числами — тихий
# отказ (silent failure). Log loss недели огромный, потому что модель уверена на 100 % и
# ошибается на каждом вовремя доставленном заказе, а в рублях неделя стоит ровно столько,
# сколько правило «тревога на каждый заказ»: отметить всё — дорого, но ограниченно дорого.
# Цена инцидента — разница с той же моделью на исправной партии; остальное до оракула —
# устаревание модели после смены маршрутизации (о нём ниже).
#
# Кто это заметил?

# %%
events = result.events.set_index("key")
print(f"проверка данных: {LEVEL_0.validate_data}; мониторинг: {LEVEL_0.monitor}")
alarms_that_week = (result.alarms["week"] == metres).sum()
print(f"тревог в неделю {metres}: {alarms_that_week}; за год: {len(result.alarms)}")
print("партия дошла до production:", bool(events.loc["metres", "bad_batch_reached_production"]))
models = result.shelf.versions.values()
print("моделей, обученных на этой партии:", sum(metres in m.trained_on for m in models))
print("окна обучения:", "; ".join(f"v{m.version}: {week_span(m.trained_on)}" for m in models))

# %% [markdown]
# Никто. Ни проверки данных, ни мониторинга — ни одной тревоги за год. Метки недели 28
# пришли через две недели, и по ним ошибку было видно, но смотреть было некому.

# %% [markdown]
# ### Что было бы, попади неделя 28 в окно обучения
#
# В этом году повезло с календарём: окна квартальных обновлений прошли мимо недели 28.
# Обучим модель так, как обучил бы её data scientist, если бы окно захватило неделю 28, —
# на неделях 25–28 — и сравним её с настоящей v3 на тех 13 неделях, что v3 прослужила.

# %%
window = range(metres - 3, metres + 1)
frame = pd.concat([year.batch(w).frame for w in window], ignore_index=True)
with threadpool_limits(limits=1):
    poisoned, poisoned_threshold = fit_with_threshold(frame, seed=seed)
v3 = result.shelf.versions[int(weekly.loc[metres + 1, "model_version"])]
quarter = range(metres + 1, metres + 14)  # the 13 weeks it would have served
what_if = {
    f"обучена на {week_span(window)}": model_weeks(year, poisoned, poisoned_threshold, quarter),
    f"v{v3.version} (на самом деле)": model_weeks(year, v3.model, v3.threshold, quarter),
}
decided = window[-1] + year.label_delay_weeks - delay_weeks(LEVEL_0.retrain_days)
print(f"такое окно дало бы квартальное решение в конце недели {decided}")
print(f"порог тревоги: {poisoned_threshold:.2f} против {v3.threshold:.2f} у v{v3.version}")
medians = {name: weeks["log_loss"].median() for name, weeks in what_if.items()}
sums = {name: format_roubles(weeks["cost_rub"].sum()) for name, weeks in what_if.items()}
pd.DataFrame({"log loss, медиана недель": medians, "₽ за 13 недель": sums}).round(3)

# %% [markdown]
# Сравните строки: по log loss модель с неделей 28 в окне почти не отличается от настоящей
# v3 — глазами в ноутбуке её не забраковать. Сломан её **порог тревоги**: модель
# подгоняется на ранних 75 % заказов окна (недели 25–27), а порог подбирается на последних
# 25 % — как раз на неделе в метрах, где модель уверена в опоздании каждого заказа. Порог 0
# значит «тревога на каждый заказ»: такая модель прошла бы весь ручной процесс уровня 0 и
# квартал отмечала бы всё подряд (разница в рублях — в таблице). Второй путь инцидента в
# production — через обучение — так же тих, как первый.

# %% [markdown]
# ## Квартальные обновления: редко и поздно
#
# Все выкатки года: когда решили, на каких неделях учили, с какой недели модель работает,
# сколько ей было «лет» в первый день и стала ли она лучше той, что заменила.

# %%
from mlops_course.classroom.year_plots import deployment_table, weeks_to_learn

decisions = weekly.index[weekly["trigger"] != ""].tolist()
last, learned = decisions[-1], weeks_to_learn(result)
print("решения о переобучении — в конце недель:", decisions)
print(
    f"решение недели {last} дойдёт до production на неделе {deployment_week(LEVEL_0, last)}, "
    f"а последняя неделя года — {year.weeks - 1}"
)
print(
    f"модель на данных новой маршрутизации: в production через {learned['routing_change']:.0f} нед."
)
deployment_table(result)

# %% [markdown]
# Каждая выкатка приходит через 4 недели после решения, на данных, которые к первому дню
# работы уже устарели на несколько недель, и затем служит квартал. Последнее решение года
# в этот год уже не успевает. Колонка «log loss против прежней» сравнивает новую модель с
# той, которую она заменила, на истинных метках недель, которые новая прослужила; «хуже»
# — больше чем на 0.02.

# %% [markdown]
# ### После пика: обновление, обученное на его начале
#
# Модель v4 обучена на неделях 34–37: начало сезона пиковой нагрузки и первая неделя
# зимы. Она работает с недели 42 — и в неделю 44 пик заканчивается, а зима выходит на
# полную силу. Сравним её с v3, которую она заменила, до и после конца пика:

# %%
v4 = result.shelf.versions[int(weekly["model_version"].iloc[-1])]
peak = next(event for event in year.events if event.key == "peak_load")
served_weeks = weekly.index[weekly["model_version"] == v4.version]
period = ["пик" if peak.active(w) else "после пика" for w in served_weeks]
losses = pd.DataFrame(index=pd.Index(period, name="недели"))
for m in (v3, v4):
    served_by_m = model_weeks(year, m.model, m.threshold, served_weeks)
    losses[f"v{m.version}"] = served_by_m["log_loss"].to_numpy()
losses["оракул"] = weekly.loc[served_weeks, "oracle_log_loss"].to_numpy()
print(f"v{v4.version} работает с недели {served_weeks[0]}, пик — до {peak.event.end_week - 1}")
losses.groupby(level=0, sort=False).mean().round(3)

# %% [markdown]
# Главное в этой таблице — не разница между v3 и v4, а разрыв обеих с оракулом после пика:
# ни одна из них не видела зимы в полную силу. Поможет ли квартальное обновление, обученное
# на начале пика, зависит от года: при `seed = 42` v4 после пика *хуже* v3, которую
# заменила (выкатка «хуже прежней» в таблице выкаток), при `seed = 7` — немного лучше.
# Уровень 0 не узнал бы ни того, ни другого: старую модель не с чем сравнивать, а за
# качеством не следят. И следующее обновление — уже в следующем году.

# %% [markdown]
# ## Обнаружение и восстановление по событиям
#
# Для каждого события симулятор считает (определения — в `simulation.outcomes`):
#
# - **обнаружение** — недели от начала события до первой тревоги, которую оно могло
#   вызвать;
# - **восстановление** — недели от начала до первой недели, с которой две недели подряд
#   log loss не дальше 0.02 от оракула;
# - а мы добавим, через сколько недель в production пришла модель, *обученная* на неделях
#   события.

# %%
from mlops_course.classroom.year_plots import event_outcomes

event_outcomes(result)

# %% [markdown]
# «Не обнаружено» — у всех событий: обнаруживать нечем. Там, где восстановление есть, его
# принесло квартальное обновление по календарю, а не реакция на событие: восстановление
# после нового района и после смены маршрутизации совпадает с неделей выкатки модели,
# обученной на их неделях (последняя колонка).
#
# Восстановление после недели в метрах занимает одну неделю — но и это не заслуга команды:
# приложение курьеров починили через неделю, а квартальная v3 по календарю начала работать
# как раз в следующую неделю. Без неё старая модель и на исправной партии осталась бы далеко
# от оракула из-за смены маршрутизации:

# %%
after = metres + 1
stale = model_weeks(year, served.model, served.threshold, [after]).iloc[0]["log_loss"]
new = int(weekly.loc[after, "model_version"])
print(f"неделя {after}, log loss: v{served.version}, если бы осталась, — {stale:.3f}")
print(f"v{new}, вышедшая по календарю, — {weekly.loc[after, 'log_loss']:.3f}")
print(f"оракул — {weekly.loc[after, 'oracle_log_loss']:.3f}")

# %% [markdown]
# ## Цена уровня 0
#
# Сравним год уровня 0 с оракулом — в рублях и в log loss, средним и медианой.

# %%
price, share = excess.sum(), excess.sum() / weekly["oracle_cost_rub"].sum()
print(f"₽ за год: уровень 0 — {format_roubles(weekly['cost_rub'].sum())}")
print(f"₽ за год: оракул — {format_roubles(weekly['oracle_cost_rub'].sum())}")
print(f"цена уровня 0: {format_roubles(price)} сверх оракула ({share:.1%})")
print(f"из них неделя {metres}: {format_roubles(excess[metres])} ({excess[metres] / price:.1%})")
two = excess.groupby(weekly["model_version"]).sum().nlargest(2)
print(f"две самые дорогие модели, v{two.index[0]} и v{two.index[1]}: {two.sum() / price:.0%} цены")

# %%
log_losses = weekly[["log_loss", "oracle_log_loss"]].set_axis(["уровень 0", "оракул"], axis=1)
summary_table = {
    "среднее": log_losses.mean(),
    "медиана": log_losses.median(),
    f"среднее без недели {metres}": log_losses.drop(index=metres).mean(),
}
pd.DataFrame(summary_table).T.rename_axis("log loss по неделям").round(3)

# %% [markdown]
# Почти все рубли сверх оракула потеряли две модели: та, что служила во время смены
# маршрутизации, и последняя, встретившая конец пика и зиму (таблица по моделям выше).
# Неделя в метрах — самая громкая в log loss и скромная в рублях.
#
# И осторожнее со средним: средний log loss уровня 0 за год больше медианы более чем
# вдвое, а у оракула они почти совпадают. Разницу делает одна неделя: без неё среднее
# падает более чем вдвое. Сравнение уровней по среднему log loss покажет в основном, дошла
# ли до production партия в метрах; поэтому смотрите и рубли, и медиану.

# %% [markdown]
# ## Характеристики уровня 0 → что мы измерили
#
# Лекция называет уровень 0 ручным, хрупким и медленным; вот каждая характеристика рядом с
# измерением этого ноутбука и его числом (всё посчитано выше).

# %%
detected = f"{result.events['time_to_detect_weeks'].notna().sum()} из {len(year.events)}"
metres_week = f"{row['log_loss']:.1f}; {format_roubles(incident)}"
far = f"{(weekly['gap'] > 0.02).sum()} из {year.weeks}"
routing_weeks, deploys = f"{learned['routing_change']:.0f} нед.", result.deployments
rows = [
    ("обучение и выкатка вручную", "ждём людей на обновление", f"{total:g} дн."),
    ("низкая скорость обновлений", "от решения до production", f"{to_production} нед."),
    ("разрыв DS и эксплуатации", "из них ждём релизного окна", f"{LEVEL_0.deploy_days:g} дн."),
    ("редкие релизы", "выкаток за год", str(summary["deployments"])),
    ("низкая скорость обновлений", "до модели на новой маршрутизации", routing_weeks),
    ("нет мониторинга", "тревог за год; обнаружено событий", f"{len(result.alarms)}; {detected}"),
    ("нет проверки данных", "log loss недели в метрах; цена инцидента", metres_week),
    ("нет проверки модели (CI/CD)", "выкачено хуже прежней", str(deploys["worse"].sum())),
    ("хрупкость", "недель дальше 0.02 от оракула", far),
    ("итог: цена уровня 0", "₽ сверх оракула за год", f"{format_roubles(price)} ({share:.1%})"),
]
Markdown(markdown_table(pd.DataFrame(rows, columns=["характеристика", "что измерили", "число"])))


# %% [markdown]
# ## Что удивляет
#
# Честный список того, что год показал не так, как ожидалось бы от слайда:
#
# - **Среднее обманывает.** Средний log loss за год определяет одна неделя из 52; медиана
#   рассказывает другую историю — о долгих неделях умеренного отставания. Сравнивайте
#   уровни по рублям и медиане, а среднее читайте вместе с худшей неделей.
# - **Самый громкий инцидент — не самый дорогой.** В рублях неделя в метрах стоит как
#   правило «тревога на каждый заказ»: меньше десятой доли годовой цены уровня 0. Дорого
#   обходятся тихие месяцы устаревшей модели после смены маршрутизации и в конце года.
# - **Квартальное обновление может сделать хуже.** Модель, обученная на начале пика,
#   встречает конец пика и зиму; лучше ли она той, которую заменила, — дело случая
#   (seed 42: хуже, seed 7: лучше), а уровень 0 этого даже не узнает.
# - **Новый район почти не вредит** логистической регрессии: первая модель прослужила
#   восемь недель нового района, почти не уступая оракулу (таблица по моделям). Не каждый
#   дрейф данных — деградация (ноутбук 04).
# - **Восстановление бывает случайным.** Где уровень 0 восстановился, это сделал
#   календарь квартальных обновлений, а не команда; там, где календарь не совпал с
#   событием (зима), восстановления нет до конца года.
# - **Повезло с календарём.** Партия в метрах не попала ни в одно окно обучения; попади
#   она туда, модель с «нормальным» log loss три месяца отмечала бы каждый заказ.

# %% [markdown]
# ## Итоги
#
# - Уровень 0 — это порядок работы, а не отсутствие модели: модель обучена в ноутбуке,
#   выкачена копированием файла и обновляется по календарю; каждое обновление ждёт людей
#   17 дней и приходит в production через 4 недели после решения, на уже устаревших данных.
# - За год уровень 0 не поднял ни одной тревоги и не обнаружил ни одного события. Партия в
#   метрах дошла до production и прошла незамеченной; модель, обученная на ней, прошла бы
#   тоже.
# - Цена уровня 0 — рубли сверх оракула — копится не в громких инцидентах, а в долгих
#   неделях устаревшей модели после изменений мира, которые никто не видит.
# - Каждую характеристику уровня 0 можно измерить: дни ожидания, выкатки за год, недели
#   до модели на новых данных, тревоги, инциденты в production, рубли. Эти же числа для
#   уровней 1 и 2 — в ноутбуках 09 и 10, на тех же неделях.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("08_maturity_level_0")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: "", 7: ""}
check_quiz("08_maturity_level_0", answers)
