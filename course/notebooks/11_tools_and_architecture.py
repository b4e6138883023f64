# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Инструменты и архитектура (tools and architecture)
#
# Слайд лекции «Архитектурная схема» называет пять блоков MLOps-системы и инструменты
# для каждого:
#
# - **Версионирование:** данные (DVC), код (Git), модели (MLflow).
# - **Оркестрация:** пайплайны (Airflow, Prefect).
# - **Сервинг:** развёртывание (FastAPI, Docker, Kubernetes).
# - **Мониторинг:** метрики (Prometheus), дрейф (Evidently).
# - **Автоматизация:** CI/CD (GitHub Actions).
#
# В этом ноутбуке каждый блок работает **у вас на машине**: настоящий `mlflow server` с
# реестром, сервис FastAPI, который берёт модель с этого сервера, настоящий Prometheus,
# который собирает метрики сервиса, отчёт Evidently с тестами по журналу предсказаний.
# То, что здесь запустить нельзя (Docker, Kubernetes, Airflow, GitHub Actions), мы читаем
# как код, сверяем с тем, что запущено, и говорим, что выполнить там, где можно. В конце
# ноутбук останавливает всё, что запустил, и проверяет это по списку процессов.

# %% [markdown]
# ## Цели
#
# После этого ноутбука вы сможете:
#
# - показать для каждого блока архитектурной схемы, каким инструментом и каким файлом курса
#   он реализован, и запустить его локально;
# - поднять сервер MLflow над своей базой и спросить его по REST API о запусках, моделях и
#   алиасах — так же, как это делает сервис в Kubernetes;
# - прочитать Dockerfile и манифесты Kubernetes построчно и посчитать, сколько подов
#   запустит автомасштабирование (HPA) под измеренной нагрузкой;
# - написать запросы PromQL: частота запросов, p95 задержки по гистограмме, предсказания
#   по вариантам A/B — и объяснить, что Prometheus считает из счётчиков `/metrics`;
# - собрать отчёт Evidently с тестами (условиями) по журналу предсказаний;
# - назвать, что делает каждое задание GitHub Actions курса, и выбрать альтернативу
#   инструменту, когда она лучше подходит.
#
# Слайд лекции: «Архитектурная схема».

# %% tags=["parameters"]
# Параметры (papermill может подменить их: make course SEED=7)
seed = 42
# orders for the two models of the registry
n_orders = 4000
# traffic for monitoring: requests and orders per request
n_requests = 20
rows_per_request = 20
# share of orders the challenger answers (A/B)
challenger_share = 0.3
# the load of notebook 07: concurrent clients, seconds
concurrency = 8
load_seconds = 3.0

# %%
import shutil
import subprocess

import pandas as pd

from mlops_course.config import display_path, repo_root, work_dir

workspace = work_dir("11_tools_and_architecture")
shutil.rmtree(workspace)  # start afresh: registry, prediction log, Prometheus database
workspace = work_dir("11_tools_and_architecture")
root = repo_root()
started_pids: set[int] = set()  # every process this notebook starts, checked at the end
print("папка ноутбука:", display_path(workspace))

# %% [markdown]
# ## Карта: блок схемы → инструмент → файл курса
#
# Каждый инструмент слайда реализован в курсе конкретным файлом или процессом. Колонка
# «как показан» — что делает с ним этот ноутбук; в конце та же карта будет картинкой.

# %%
from mlops_course.classroom.architecture import architecture_table

architecture_table().set_index(["блок", "инструмент"])

# %% [markdown]
# ## Версионирование
#
# Три вещи меняются независимо и потому версионируются по отдельности: код (Git), данные и
# пайплайн (DVC), модели (MLflow). Начнём с MLflow: его сервер запускается несколько
# секунд, и пока он запускается, мы обучим модели и посмотрим на Git и DVC.
#
# ### MLflow: реестр моделей на сервере
#
# Один человек пишет в базу MLflow напрямую (`sqlite:///…`, как ноутбуки 02–06). Команда
# запускает **сервер отслеживания** (`mlflow server`) над общей базой, и все — ноутбуки,
# пайплайны, сервис — говорят с ним по HTTP. Создадим базу в папке ноутбука (первое
# обращение применяет миграции схемы — разовые несколько секунд) и сразу запустим над ней
# сервер на свободном порту (`versioning.mlflow_server`). Сервер — два процесса (команда
# `mlflow` и uvicorn, который она запускает); фоновые задания MLflow (оценки GenAI)
# выключены — это ещё восемь процессов (планировщик и семь обработчиков), которые курсу не
# нужны. Ячейка не ждёт готовности: её проверим после Git и DVC.

# %%
from mlops_course.versioning import registry, tracking
from mlops_course.versioning.mlflow_server import start_mlflow_server

experiment_id = tracking.setup_tracking(home=workspace)
mlflow_server = start_mlflow_server(workspace, wait=False)
started_pids.add(mlflow_server.pid)
print("mlflow server запускается над", display_path(tracking.tracking_dir(workspace)))

# %% [markdown]
# Пока сервер стартует, обучим две модели на одних и тех же заказах — логистическую
# регрессию и градиентный бустинг — и оценим их на отложенных (более поздних) заказах.

# %%
from mlops_course.model.evaluate import evaluate_model
from mlops_course.model.train import split, train_model
from mlops_course.scenario.generator import generate_orders

orders = generate_orders(n_orders, seed)
train, test = split(orders)
candidates = {
    "logreg": train_model(train, seed=seed),
    "hgb": train_model(train, "hgb", seed=seed, max_iter=40),
}
scores = {name: evaluate_model(model, test) for name, model in candidates.items()}
print("log loss на отложенных:", {name: round(s["log_loss"], 4) for name, s in scores.items()})

# %% [markdown]
# Запишем оба запуска в базу и зарегистрируем модели (каждый запуск — секунды: MLflow
# сохраняет модель, её сигнатуру, пример входа и окружение); меньший log loss получает
# алиас `champion`, второй — `challenger`.

# %%
versions = {}


def log_and_register(name: str) -> None:
    params = {"model": name, "seed": seed}
    info = tracking.log_training_run(
        candidates[name], train, test, params, scores[name], run_name=name
    )
    versions[name] = registry.register(info.model_uri)


log_and_register("logreg")

# %%
log_and_register("hgb")
champion, challenger = sorted(versions, key=lambda name: scores[name]["log_loss"])
registry.promote(registry.MODEL_NAME, versions[champion])
registry.set_alias(registry.MODEL_NAME, registry.CHALLENGER, versions[challenger])
print(f"чемпион — {champion}, претендент — {challenger}; алиасы:", registry.aliases())

# %% [markdown]
# ### Git: код
#
# Последний коммит и число файлов в git зависят от того, какую версию курса вы скачали,
# поэтому тесты этот вывод не сверяют:


# %%
# NBVAL_IGNORE_OUTPUT
# (the commit and the file count change with every commit of the course)
def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


print("последний коммит:", git("log", "-1", "--format=%h %s")[:100])
print("файлов в git:", len(git("ls-files").splitlines()))

# %% [markdown]
# Git хранит описание системы: код, `dvc.yaml` с `dvc.lock`, манифесты развёртывания,
# workflows. Сами данные, модели и всё, что порождают запуски, git не хранит — их версии
# записаны хэшами в `dvc.lock`, а файлы лежат в кэше DVC:

# %%
described = ["dvc.yaml", "dvc.lock", "params.yaml", "deploy/Dockerfile", "deploy/prometheus.yml",
             ".github/workflows/ci.yml"]  # fmt: skip
tracked = set(git("ls-files", *described).splitlines())
print("в git:", ", ".join(name for name in described if name in tracked))
ignored = git("check-ignore", "data/raw/reference.csv", "data/model/model.pkl", ".work/mlflow")
print("git не хранит (.gitignore):", ", ".join(ignored.splitlines()))

# %% [markdown]
# ### DVC: данные и пайплайн
#
# `dvc dag` рисует граф стадий `dvc.yaml`. Чтобы DVC не писал ничего в ваш checkout (он
# держит служебные файлы в `.dvc/tmp`), команда выполняется в копии пайплайна в папке
# ноутбука (`versioning.sandbox`, как в ноутбуке 06).

# %%
from mlops_course.versioning import sandbox

box = sandbox.create(workspace / "pipeline", site_cache=workspace / "dvc-site")
print(box.dvc("dag"))

# %% [markdown]
# `dvc.lock` — «замок» пайплайна: для каждой стадии записаны md5 всех входов и выходов и
# значения параметров, с которыми она выполнялась. `dvc repro` сравнивает их с файлами и
# выполняет только стадии, у которых что-то изменилось (ноутбук 06).

# %%
import yaml

lock = yaml.safe_load(box.path("dvc.lock").read_text())["stages"]
pd.DataFrame(
    {
        "входов": {name: len(stage.get("deps", [])) for name, stage in lock.items()},
        "выходов": {name: len(stage.get("outs", [])) for name, stage in lock.items()},
        "у всех md5": {
            name: all("md5" in item for item in stage.get("deps", []) + stage.get("outs", []))
            for name, stage in lock.items()
        },
        "параметры": {
            name: ", ".join(stage.get("params", {}).get("params.yaml", {}))
            for name, stage in lock.items()
        },  # fmt: skip
    }
).rename_axis("стадия")

# %% [markdown]
# ### MLflow по REST API
#
# Сервер готов, когда `/health` отвечает `OK`. Это **разовый запуск**: на двухъядерной
# машине 10–40 с, смотря по её загрузке (импорт MLflow и FastAPI в двух процессах), —
# обычно он успевает, пока выполнялись ячейки выше; дальше каждый запрос — миллисекунды.

# %%
mlflow_server.wait_ready(timeout=120)
started_pids |= {process.pid for process in mlflow_server.processes()}
print("mlflow server готов, процессов у него:", len(mlflow_server.processes()))

# %% [markdown]
# Сервер готов — сразу запустим сервис так, как его запускает
# `deploy/k8s/deployment.yaml`: модель — `models:/delivery-delay@champion`, реестр —
# **адрес сервера MLflow** (`--tracking-uri http://…`, в Kubernetes —
# `MLFLOW_TRACKING_URI=http://mlflow:5000`), а не файл базы. Претендент получает долю
# заказов `challenger_share` (A/B). Один поток OpenMP (`OMP_NUM_THREADS=1`): иначе бустинг
# scikit-learn запускает на каждый запрос потоки по числу ядер, и на занятых двух ядрах они
# ждут друг друга (при подготовке курса p95 выходила в несколько раз выше); в Kubernetes
# число потоков так же согласуют с `limits.cpu`. Сервис стартует несколько секунд в фоне,
# пока мы спрашиваем сервер MLflow сами и читаем код оркестрации.

# %%
from mlops_course.serving import start_service

log_path = workspace / "predictions.sqlite"
service = start_service(f"models:/{registry.MODEL_NAME}@champion", wait=False, extra_args=[
    "--tracking-uri", mlflow_server.url, "--log-path", str(log_path),
    "--challenger-uri", f"models:/{registry.MODEL_NAME}@{registry.CHALLENGER}",
    "--challenger-share", str(challenger_share),
], env={"OMP_NUM_THREADS": "1"})  # fmt: skip
started_pids.add(service.pid)
print("сервис запускается; модели он получит от mlflow server")

# %% [markdown]
# REST API MLflow — то, чем пользуется и сам Python-клиент `mlflow`: `POST runs/search` ищет
# запуски эксперимента (фильтр и сортировка — как в `mlflow.search_runs`). Спросим его
# обычным HTTP-клиентом httpx:

# %%
import httpx

body = {"experiment_ids": [experiment_id], "order_by": ["metrics.log_loss ASC"]}
found = httpx.post(mlflow_server.api("runs/search"), json=body).raise_for_status().json()
runs = pd.DataFrame(
    [
        {"запуск": run["info"]["run_name"], "статус": run["info"]["status"]}
        | {
            m["key"]: round(m["value"], 4)
            for m in run["data"]["metrics"]
            if m["key"] in ("log_loss", "roc_auc", "cost_per_order")
        }  # fmt: skip
        for run in found["runs"]
    ]
).set_index("запуск")
runs

# %% [markdown]
# Реестр: зарегистрированные модели и их алиасы, а затем та версия, на которую указывает
# `champion`, — ровно этот запрос делает сервис, когда загружает
# `models:/delivery-delay@champion`.

# %%
models = httpx.get(mlflow_server.api("registered-models/search")).json()["registered_models"]
for model in models:
    aliases = {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}
    print(f"модель {model['name']}: алиасы {dict(sorted(aliases.items()))}")
query = {"name": registry.MODEL_NAME, "alias": registry.CHAMPION}
version = httpx.get(mlflow_server.api("registered-models/alias"), params=query).json()
print("champion → версия", version["model_version"]["version"], end=" ")
champion_run = next(r for r in found["runs"] if r["info"]["run_name"] == champion)
print(
    "| её запуск — лучший по log loss:",
    version["model_version"]["run_id"] == champion_run["info"]["run_id"],
)
print("по REST то же, что registry.aliases():", aliases == registry.aliases())

# %% [markdown]
# ## Оркестрация
#
# Пайплайн непрерывного обучения (continuous training) ноутбука 09 написан дважды, на двух
# оркестраторах, из одних и тех же функций пакета:
#
# - **Prefect** — `src/mlops_course/orchestration/ct_flow.py`: поток (`@flow`) из задач
#   (`@task`), обычные функции Python; ноутбук 09 запускает его по-настоящему (временный
#   сервер Prefect стартует 10–20 с, поэтому здесь мы его не запускаем);
# - **Airflow** — `deploy/airflow/continuous_training_dag.py`: DAG, код для чтения. Airflow
#   требует планировщика, базы метаданных и исполнителей, в окружение курса он не входит.
#
# Прочитаем оба файла как код (модуль `ast`, ничего не импортируя) и сопоставим шаги:

# %%
from mlops_course.classroom.architecture import decorated_functions

ct_flow_path = root / "src/mlops_course/orchestration/ct_flow.py"
dag_path = root / "deploy/airflow/continuous_training_dag.py"
prefect = decorated_functions(ct_flow_path, ["task", "flow"])
airflow = decorated_functions(dag_path, ["task", "dag"])
for table in (prefect, airflow):
    table["name"] = table["name"].str.replace("-", "_")  # the flow's name vs the DAG's id
steps = prefect.merge(airflow, on="name", how="left", suffixes=(" Prefect", " Airflow"))
steps.set_index("name").rename_axis("шаг")

# %% [markdown]
# Шаги одни и те же: ingest → validate_data → train → evaluate → validate_model →
# register. Различается то, что оркестратор делает вокруг них. В Prefect поток — функция,
# которая вызывает задачи, и данные (таблицы заказов, модель) передаются между ними как
# объекты Python в одном процессе. В Airflow каждая задача — отдельный процесс, возможно на
# другой машине; задачи передают друг другу только маленькие значения (XCom: путь к папке,
# словарь метрик), а заказы и модель — через хранилище. Вот как DAG связывает задачи
# (конец функции `continuous_training` в файле DAG):

# %%
import ast

dag_source = dag_path.read_text()
dag_function = next(node for node in ast.walk(ast.parse(dag_source))
                    if isinstance(node, ast.FunctionDef) and node.name == "continuous_training")  # fmt: skip
wiring = [ast.get_source_segment(dag_source, statement) for statement in dag_function.body
          if not isinstance(statement, ast.FunctionDef)]  # fmt: skip
print("\n".join(wiring))

# %% [markdown]
# `validate_data` — `@task.short_circuit()`: если она вернула `False` (плохая партия), все
# задачи после неё Airflow помечает пропущенными (skipped), а запуск считается успешным —
# как «остановлен» у потока Prefect. `data_ok >> model_path` — явная зависимость:
# обучение ждёт проверки данных. Расписание (`schedule="@weekly"`), `catchup=False` (не
# догонять пропущенные недели) и `max_active_runs=1` (два запуска не должны одновременно
# двигать алиас `challenger`) записаны в декораторе `@dag`.
#
# Где можно запустить Airflow (отдельное окружение или Docker): поставить Airflow 3 по его
# инструкции (с файлом ограничений версий), в то же окружение — пакет курса
# (`pip install -e .`), скопировать файл DAG в `$AIRFLOW_HOME/dags/`, выполнить
# `airflow standalone` и нажать «Trigger» у DAG `continuous_training` в интерфейсе на
# `localhost:8080`.
#
# ## Сервинг
#
# ### FastAPI: сервис курса
#
# Сервис готов, когда `/ready` отвечает 200: обе модели загружены — с сервера MLflow.

# %%
from mlops_course.serving.client import ServiceClient

service.wait_ready(timeout=120)
client = ServiceClient(service.url)
served = client.model()
for variant in ("champion", "challenger"):
    model = served[variant]
    print(f"{variant}: версия {model['version']} (алиас {model['alias']})")
print(f"доля претендента: {served['challenger_share']}")

# %% [markdown]
# Модели уже в памяти сервиса, и сервер MLflow ему больше не нужен — до следующей загрузки
# (перезапуск, `POST /admin/reload`). Остановим сервер: сервис продолжает отвечать. Так и в
# Kubernetes: упавший реестр не роняет работающие поды, но новый под без реестра не
# поднимется.

# %%
from mlops_course.classroom.architecture import still_running

mlflow_server.stop()
print(
    "mlflow server остановлен; его процессов осталось:",
    len(still_running(started_pids - {service.pid})),
)
print("сервис готов и без него:", client.ready())

# %% [markdown]
# Что умеет сервис, он описывает сам: FastAPI строит схему OpenAPI (`/openapi.json`) из
# кода — путей, методов, моделей запросов и ответов; на ней же страница `/docs`.

# %%
schema = client.http.get("/openapi.json").json()
print(schema["info"]["title"], schema["info"]["version"])
for path, operations in schema["paths"].items():
    for method, operation in operations.items():
        print(f"  {method.upper():6} {path:20} {operation.get('summary', '')}")

# %% [markdown]
# Предсказание для одного заказа — так к сервису обращается приложение доставки:

# %%
one = generate_orders(1, seed + 1, first_id=5_000_000)
answer = client.predict(one)
answer.round(4)

# %% [markdown]
# Каждый ответ сервис тут же отражает в счётчиках Prometheus на `/metrics` (текстовый
# формат: имя, метки в фигурных скобках, значение). Фрагмент — счётчики предсказаний по
# вариантам и классам и запросы к `/predict`:

# %%
metrics_text = client.http.get("/metrics").text
for line in metrics_text.splitlines():
    if line.startswith(("predictions_total", 'http_requests_total{endpoint="/predict"')):
        print(line)

# %% [markdown]
# ### Dockerfile построчно
#
# Docker на машинах курса не запускается (нет демона), поэтому `deploy/Dockerfile` мы
# читаем: каждая инструкция — и комментарий над ней из самого файла, объясняющий её.
# `tests/service/test_deploy.py` проверяет, что файл согласован с кодом (порт, пути проб,
# переменные окружения), а `tests/service/test_serving_image.py` делает то же, что сборка
# образа, без Docker: новое окружение только из `deploy/requirements.lock`, и в нём
# запускается сервис.

# %%
from mlops_course.classroom.architecture import dockerfile_instructions

for line in dockerfile_instructions((root / "deploy/Dockerfile").read_text()).itertuples():
    print(f"{line.instruction} {line.arguments[:88]}")
    if line.comment:
        print(f"    # {line.comment[:150]}")

# %% [markdown]
# Что здесь важно для MLOps:
#
# - `FROM python:3.11.7-slim-bookworm` — образ закреплён до патч-версии Python и выпуска
#   Debian: та же среда на любой машине (воспроизводимость, ноутбук 06).
# - `ENV …` — настройки сервиса приходят из переменных окружения (`MLOPS_SERVING_*` читает
#   `ServingSettings.from_env`): один образ для любого окружения; `/admin` выключен.
# - `COPY requirements.lock` + `RUN pip install --require-hashes` **до** `COPY src`: слой
#   зависимостей собирается заново только при смене lock-файла, а не при каждой правке
#   кода; хэши не дают поставить подменённый пакет.
# - `RUN useradd …` + `USER 10001` — процесс в контейнере не root.
# - `EXPOSE 8000`, `HEALTHCHECK` (запрос к `/health`) и `CMD python -m mlops_course.serving`
#   — тот же CLI, что ноутбук запустил в фоне; модель — из `MLOPS_SERVING_MODEL_URI`.
#
# Где есть Docker, из корня курса:
#
# ```bash
# docker build -f deploy/Dockerfile -t delivery-delay-service:0.1.0 .
# docker run --rm -p 8000:8000 -e MLOPS_SERVING_MODEL_URI=/models/champion \
#     -v "$PWD/.work/export/champion:/models/champion:ro" delivery-delay-service:0.1.0
# ```
#
# (как выгрузить чемпиона в `.work/export/champion` — в `deploy/README.md`).
#
# ### Kubernetes: Deployment, Service, HPA
#
# Три манифеста в `deploy/k8s/`. Прочитаем из них то, что должно совпадать с живым
# сервисом, — и проверим на нём:

# %%
manifests = {
    path.stem: yaml.safe_load(path.read_text()) for path in (root / "deploy/k8s").glob("*.yaml")
}
container = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
probes = {kind: container[kind]["httpGet"]["path"] for kind in ("livenessProbe", "readinessProbe")}
annotations = manifests["deployment"]["spec"]["template"]["metadata"]["annotations"]
print("образ:", container["image"], "| порт:", container["ports"][0]["containerPort"])
print("env:", ", ".join(item["name"] for item in container["env"]))
print("ресурсы:", container["resources"])
for kind, path in probes.items():
    print(f"{kind} {path}: живой сервис отвечает {client.http.get(path).status_code}")
scraped = client.http.get(annotations["prometheus.io/path"])
print("prometheus.io/path", annotations["prometheus.io/path"], "→", scraped.status_code,
      "| Service: порт", manifests["service"]["spec"]["ports"][0]["port"], "→ под", container["ports"][0]["containerPort"])  # fmt: skip

# %% [markdown]
# Построчно о главном:
#
# - **Deployment** держит `replicas: 2` одинаковых пода с образом сервиса. Проба живости
#   (`livenessProbe`, `/health`): не отвечает три раза подряд — Kubernetes перезапускает
#   контейнер. Проба готовности (`readinessProbe`, `/ready`): пока модель грузится, `/ready`
#   отвечает 503, и Service не шлёт на под запросов — так выкатка новой версии
#   (rolling update) не теряет ни одного запроса. `resources.requests.cpu: 500m` —
#   полъядра, которые планировщик резервирует поду; от этого числа HPA считает загрузку.
#   Аннотации `prometheus.io/*` говорят Prometheus в кластере, что и где собирать
#   (`deploy/k8s/prometheus-config.yaml`).
# - **Service** — постоянный адрес `delivery-delay-service:80` для всех подов сразу
#   (балансировка между ними), порт 80 → порт контейнера 8000.
# - **HorizontalPodAutoscaler** — от 2 до 10 подов, цель — средняя загрузка CPU 70 % от
#   запрошенного (`requests.cpu`).
#
# Где есть кластер (kind, minikube или настоящий) и Docker:
#
# ```bash
# kind create cluster && kind load docker-image delivery-delay-service:0.1.0
# kubectl create secret generic delivery-delay-admin --from-literal=token=$(openssl rand -hex 32)
# kubectl apply -f deploy/k8s/
# kubectl get pods -w                        # два пода: Running, затем READY 1/1
# kubectl get hpa delivery-delay-service -w  # загрузка CPU и число подов
# ```
#
# Честно о том, чего в `deploy/k8s/` нет: Deployment берёт модель с сервера MLflow по
# адресу `http://mlflow:5000`, а сервера MLflow в кластере курс не поставляет — запустите
# его отдельно (тот же `mlflow server`, что выше, с базой PostgreSQL и хранилищем
# артефактов S3) или замените `MLOPS_SERVING_MODEL_URI` на папку модели внутри образа. HPA
# нужен metrics-server (в minikube — `minikube addons enable metrics-server`, в kind — его манифест): без него
# `kubectl get hpa` показывает `<unknown>`, и подов не прибавляется.
#
# ## Мониторинг
#
# ### Prometheus: настоящий сервер собирает метрики сервиса
#
# `monitoring.prometheus_server` запускает программу `prometheus` (пакет Debian) на
# свободном порту с конфигурацией курса `deploy/prometheus.yml`, изменённой только там, где
# нужно: цель — порт живого сервиса вместо 8000, опрос раз в секунду вместо 15 с. База
# временных рядов — в папке ноутбука. Где Prometheus не установлен, ноутбук читает
# `/metrics` напрямую и отвечает на те же запросы PromQL сам (`MetricsText`: то, что
# Prometheus вычисляет из счётчиков); какой путь выбран, печатает эта ячейка:

# %%
# NBVAL_IGNORE_OUTPUT
# (which path ran depends on whether the machine has Prometheus)
from mlops_course.monitoring import prometheus_server

prometheus = None
if prometheus_server.find_prometheus():
    prometheus = prometheus_server.start_prometheus(service.port, workspace / "prometheus")
    started_pids.add(prometheus.pid)
    print(
        "Prometheus запущен, конфигурация:", display_path(workspace / "prometheus/prometheus.yml")
    )
else:
    print("Prometheus не установлен (apt-get install prometheus): читаем /metrics напрямую")

# %% [markdown]
# Трафик для мониторинга: `n_requests` запросов по `rows_per_request` заказов следующей
# недели. На этой неделе открылся новый район (`new_district`): его не было в обучении —
# посмотрим, кто это заметит.

# %%
from mlops_course.scenario.problems import make_batch

live = make_batch(
    n_requests * rows_per_request,
    seed + 2,
    ["new_district"],
    start="2025-03-10",
    first_id=6_000_000,
)
answers = pd.concat(
    [client.predict(live.frame.iloc[i : i + rows_per_request].drop(columns="is_late"))
     for i in range(0, len(live.frame), rows_per_request)]
)  # fmt: skip
sent = pd.concat([answer, answers])["variant"].value_counts().sort_index()
print(f"отправлено запросов: {1 + n_requests}, заказов по вариантам:", sent.to_dict())

# %% [markdown]
# Три запроса PromQL. `sum(...)` складывает ряды (у счётчика — по одному на набор меток);
# `sum by (variant)` складывает отдельно для каждого значения метки; `histogram_quantile`
# оценивает квантиль по гистограмме: находит корзину (`le` — «не больше»), в которую
# попадает 95 % запросов, и интерполирует внутри неё линейно. Prometheus сначала должен
# собрать метрики после последнего запроса, поэтому ждём, пока счётчик запросов не
# сравняется с отправленным.

# %%
job = 'job="delivery-delay-service"'
predict = f'{job}, endpoint="/predict"'
requests_promql = f"sum(http_requests_total{{{predict}}})"
p95_promql = (
    f"histogram_quantile(0.95, sum by (le) (http_request_duration_seconds_bucket{{{predict}}}))"
)
variants_promql = f"sum by (variant) (predictions_total{{{job}}})"
if prometheus is not None:
    prometheus.wait_for(requests_promql, 1 + n_requests)
source = prometheus or prometheus_server.MetricsText(client.http.get("/metrics").text)
print(requests_promql, "=", source.value(requests_promql))
print(variants_promql, "=", dict(sorted(source.values(variants_promql, "variant").items())))
p95 = source.value(p95_promql)
by_hand = prometheus_server.MetricsText(client.http.get("/metrics").text)
print("те же числа по тексту /metrics:", by_hand.value(p95_promql) == p95,
      by_hand.values(variants_promql, "variant") == source.values(variants_promql, "variant"))  # fmt: skip

# %% [markdown]
# Предсказаний по вариантам ровно столько, сколько сервис вернул ответов каждого варианта, и
# доля претендента близка к `challenger_share`: заказ направляется по хэшу своего номера. Сама
# p95 задержки зависит от машины:

# %%
# NBVAL_IGNORE_OUTPUT
print(f"p95 задержки /predict с начала работы сервиса: {p95 * 1000:.1f} мс")

# %% [markdown]
# ### Evidently: отчёт с тестами по журналу предсказаний
#
# Prometheus отвечает «сколько и как быстро», но не «на каких данных». На это отвечает
# журнал предсказаний сервиса (sqlite: входы, ответ, вариант, версия) и Evidently. В
# Evidently 0.7 набор тестов (test suite) — это `Report`, у метрик которого есть условия:
# `tests=[eq(0)]`, `lt(...)`, `gte(...)`; у метрик дрейфа (`ValueDrift`) условие по
# умолчанию — порог метода. Импорт Evidently — несколько секунд.

# %%
import warnings

with warnings.catch_warnings():  # Evidently's dependencies warn on import
    warnings.simplefilter("ignore")
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import (
        DriftedColumnsCount,
        MissingValueCount,
        OutListValueCount,
        RowCount,
        ValueDrift,
    )  # fmt: skip
    from evidently.tests import eq, gte, lt
print("Evidently импортирован")

# %% [markdown]
# Эталон (reference) — заказы недели, на которой модели обучены и оценены (вся неделя: в
# обучающую часть попали только первые дни, и с ней «дрейфовал» бы день недели); текущие
# данные (current) — журнал сервиса. Тесты: в журнале достаточно строк; нет пропусков в
# расстоянии; нет районов, которых не было в обучении; район и температура не дрейфуют
# (у `ValueDrift` условие по умолчанию — порог метода, его добавляет `include_tests=True`);
# дрейфует меньше половины признаков. Для температуры — тест КС (p-значение): расстояние
# Вассерштейна, которое Evidently берёт по умолчанию при эталоне больше 1000 строк, с
# порогом 0.1 на 400 строках иногда «находит» дрейф в шуме (ноутбук 04).

# %%
from mlops_course.config import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from mlops_course.serving import read_prediction_log

logged = read_prediction_log(log_path)
definition = DataDefinition(numerical_columns=NUMERIC_FEATURES,
                            categorical_columns=CATEGORICAL_FEATURES)  # fmt: skip
suite = Report([
    RowCount(tests=[gte(100)]),
    MissingValueCount(column="distance_km", tests=[eq(0)]),
    OutListValueCount(column="district", values=sorted(orders["district"].unique()), tests=[eq(0)]),
    ValueDrift(column="district"),
    ValueDrift(column="temperature_c", method="ks"),
    DriftedColumnsCount(columns=FEATURES, tests=[lt(len(FEATURES) / 2)]),
], include_tests=True)  # fmt: skip
print(f"предсказаний в журнале: {len(logged)}, заказов в эталоне: {len(orders)}")

# %%
from IPython.display import display

from mlops_course.classroom.links import file_link

html_path = workspace / "evidently_tests.html"
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    snapshot = suite.run(current_data=Dataset.from_pandas(logged[FEATURES], data_definition=definition),
                         reference_data=Dataset.from_pandas(orders[FEATURES], data_definition=definition))  # fmt: skip
    snapshot.save_html(str(html_path))
tests = [(getattr(t["status"], "value", t["status"]), t["name"]) for t in snapshot.dict()["tests"]]
for status, name in tests:
    print(f"{'✓' if status == 'SUCCESS' else '✗'} {status:8} {name[:95]}")
print(f"пройдено {sum(status == 'SUCCESS' for status, _ in tests)} из {len(tests)}")
display(file_link(html_path, "HTML-отчёт Evidently (откроется в JupyterLab)"))

# %% [markdown]
# Провалились тесты про район: в журнале есть заказы из района, которого модель не видела,
# и распределение районов сдвинулось. Остальное в порядке: пропусков нет, температура не
# сдвинулась, а дрейфует меньше половины признаков — на уровне всего набора тест
# проходит, хотя один столбец явно изменился. Поэтому тесты пишут и на столбцы, и на весь
# набор. Ни один из этих тестов не требует меток: они проверяют входы, которые сервис
# видит в момент предсказания (качество по меткам, которые приходят позже, — ноутбук 05).
# В production такую проверку по журналу запускают по расписанию (в курсе — задача
# мониторинга `monitoring.job`), а её итог отдают в Prometheus как метрики, к которым
# привязаны алерты.
#
# ### Под нагрузкой: частота запросов, p95 и автомасштабирование
#
# Нагрузка ноутбука 07: `concurrency` клиентов одновременно, каждый шлёт один заказ, ждёт
# ответа и шлёт следующий (`serving.load_test`, через `scaling.throughput_rounds`, как в 07).
# Заодно меряем, сколько процессорного времени тратит сервис.

# %%
# NBVAL_IGNORE_OUTPUT
import time

from mlops_course.classroom import scaling
from mlops_course.serving.client import encode_orders

bodies = [
    encode_orders(live.frame.iloc[[i]].drop(columns="is_late")) for i in range(len(live.frame))
]
before, started = prometheus_server.MetricsText(client.http.get("/metrics").text), time.time()
load = scaling.throughput_rounds({"сервис": service}, bodies, 1, concurrency=concurrency,
                                 duration_s=load_seconds, warmup_s=0.25).iloc[0]  # fmt: skip
finished = time.time()
after = prometheus_server.MetricsText(client.http.get("/metrics").text)
print(f"генератор нагрузки: {load['requests_per_s']:.0f} запросов/с, p99 {load['p99_ms']:.1f} мс")
print(f"сервис занял ядер: {load['server_cores']:.2f}")

# %% [markdown]
# Что увидел Prometheus за это время: `rate(счётчик[окно])` — прирост счётчика в секунду по
# отсчётам внутри окна, и p95 по гистограмме за то же окно (`histogram_quantile` от `rate`
# корзин). Prometheus знает счётчик только в моменты опроса, а под нагрузкой опрос может и
# не уложиться в свою секунду (на занятой машине `up` тогда на несколько секунд равен 0),
# поэтому окно берём с запасом: от опроса до нагрузки до опроса после неё. `rate` — среднее
# по всему окну, секунды без нагрузки его разбавляют; но частота × длина окна — это число
# запросов за окно, и оно сходится с разностью двух снимков `/metrics`, до и после нагрузки.
# На p95 запас не влияет: в тихие секунды запросов нет. Без Prometheus оба числа считаются
# по той же разности снимков.

# %%
# NBVAL_IGNORE_OUTPUT
grown = after.since(before)
if prometheus is not None:
    prometheus.wait_for(requests_promql, after.value(requests_promql))
seconds = int(time.time() - started) + 2
rate_promql = f"sum(rate(http_requests_total{{{predict}}}[{seconds}s]))"
p95_rate_promql = f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{predict}}}[{seconds}s])))"
if prometheus is not None:
    rate, p95_load = prometheus.value(rate_promql), prometheus.value(p95_rate_promql)
else:
    rate, p95_load = grown.value(requests_promql) / seconds, grown.value(p95_promql)
print(
    f"{rate_promql}\n  = {rate:.1f} запросов/с, × {seconds} с окна = {rate * seconds:.0f} запросов"
)
print(
    f"по снимкам /metrics: {grown.value(requests_promql):.0f} запросов за {finished - started:.1f} с нагрузки"
)
print(f"{p95_rate_promql}\n  = {p95_load * 1000:.1f} мс")

# %% [markdown]
# p95 по гистограмме сервиса меньше p99 генератора не только потому, что это другой
# квантиль: сервис меряет время внутри приложения (middleware), а клиент — ещё и ожидание
# в очереди на сокете, пока процесс занят чужими запросами.
#
# Что сделал бы с этой нагрузкой HPA из `deploy/k8s/hpa.yaml`? Его правило:
# **желаемое число подов = ⌈текущее × загрузка / цель⌉**, где загрузка — среднее
# потребление CPU подов в процентах от `requests.cpu`; если отношение загрузки к цели в
# пределах 10 % от единицы, HPA ничего не меняет; результат ограничен `minReplicas` и
# `maxReplicas`. Сначала правило на круглых числах (2 пода, цель 70 %):

# %%
from mlops_course.classroom.architecture import hpa_desired_replicas

hpa = manifests["hpa"]["spec"]
target = hpa["metrics"][0]["resource"]["target"]["averageUtilization"]
limits = {"min_replicas": hpa["minReplicas"], "max_replicas": hpa["maxReplicas"]}
print(f"HPA: {limits['min_replicas']}–{limits['max_replicas']} подов, цель {target} % CPU")
for utilisation in (50, 75, 100, 200, 500):
    desired = hpa_desired_replicas(2, utilisation, target, **limits)
    print(f"  2 пода, загрузка {utilisation:3d} % → подов: {desired}")

# %% [markdown]
# Теперь с числами, измеренными выше. Один запрос стоит `c` = ядер / (запросов/с) секунд
# CPU. Пусть на Service приходит ровно та нагрузка, которую выдержал один процесс. Два пода
# делят её пополам, и каждый тратит половину измеренных ядер; запрошено же поду 0.5 ядра.

# %%
# NBVAL_IGNORE_OUTPUT
cpu_request = float(container["resources"]["requests"]["cpu"].removesuffix("m")) / 1000
cpu_per_request = load["server_cores"] / load["requests_per_s"]


def pod_utilisation(requests_per_s: float, pods: int) -> float:
    """CPU of one pod in % of its request when `pods` pods share the load evenly."""
    return requests_per_s / pods * cpu_per_request / cpu_request * 100


utilisation = pod_utilisation(load["requests_per_s"], 2)
desired = hpa_desired_replicas(2, utilisation, target, **limits)
print(f"CPU на запрос: {cpu_per_request * 1000:.2f} мс, загрузка 2 подов: {utilisation:.0f} %")
bounds = f"{limits['min_replicas']}–{limits['max_replicas']}"
print(f"HPA: ⌈2 × {utilisation:.0f} / {target}⌉ в пределах {bounds} → подов: {desired}")
print(f"при {desired} подах загрузка {pod_utilisation(load['requests_per_s'], desired):.0f} %")
ceiling = limits["max_replicas"] * cpu_request * target / 100 / cpu_per_request
print(f"{limits['max_replicas']} подов держат до {ceiling:.0f} запросов/с при {target} %")

# %%
import matplotlib.pyplot as plt
import numpy as np

loads = np.linspace(0, 1.15 * ceiling, 400)
pods = [hpa_desired_replicas(2, pod_utilisation(rps, 2), target, **limits) for rps in loads]
fig, ax = plt.subplots(figsize=(8, 4))
ax.step(loads, pods, where="post", label="желаемое число подов (HPA)")
measured = "нагрузка, измеренная здесь (как в 07)"
ax.axvline(load["requests_per_s"], color="tab:orange", linestyle="--", label=measured)
ax.axhline(limits["max_replicas"], color="0.5", linestyle=":", label="maxReplicas")
ax.set(xlabel="запросов в секунду на Service", ylabel="подов")
ax.set_title("Сколько подов запустит HPA при такой нагрузке")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# Лестница: каждая ступень — ещё один под, когда загрузка уходит за 70 % (±10 %). Выше
# потолка десяти подов HPA ничего не прибавит — загрузка растёт, задержки тоже; тогда
# поднимают `maxReplicas` или удешевляют запрос (ноутбук 07: пакет дешевле строки). Две
# оговорки. Нагрузка ноутбука 07 — замкнутый цикл: клиенты ждут ответа, поэтому при большем
# числе подов те же клиенты слали бы быстрее; настоящий поток заказов от подов не зависит.
# И HPA действует не мгновенно: метрики обновляются раз в 15 с, а уменьшение подов
# по умолчанию ждёт 5 минут стабильно низкой загрузки.
#
# ## Автоматизация: GitHub Actions
#
# Два workflow в `.github/workflows/`. Запустить GitHub Actions здесь нельзя (это серверы
# GitHub), поэтому прочитаем, что запускает каждое задание (job) и по каким событиям:

# %%
from mlops_course.classroom.architecture import workflow_steps, workflow_triggers

for path in sorted((root / ".github/workflows").glob("*.yml")):
    print(f"{path.name} — запускается по событиям: {', '.join(workflow_triggers(path))}")
    for step in workflow_steps(path).itertuples():
        print(f"  {step.job} #{step.number} {step.step}: {step.runs[:80]}")

# %% [markdown]
# - **`ci.yml`, задание `test`** — проверка самого курса на каждый push и pull request:
#   `make check` (ruff, ноутбуки в синхроне с исходниками, артефакты не в git) и
#   `bash .ci/run` — та же команда тестов, что `make test` у студента (в том числе nbval по
#   этому ноутбуку). Локально: `make check && make test`.
# - **`continuous-training.yml`, задание `train-and-deploy`** — непрерывное обучение и
#   доставка (уровень зрелости 2, ноутбук 10): по расписанию, при изменении пайплайна и
#   вручную — тесты пайплайна, `make pipeline` (`dvc repro`), ворота качества
#   (`automation.cd gate`), регистрация претендента и его продвижение в чемпионы. Каждый
#   шаг — команда, которую студент выполняет сам из папки курса в том же порядке (`make ct`);
#   `tests/repo/test_ct_workflow.py` так и делает во временной копии курса.
#
# Выполнить сами workflow на своей машине можно программой `act` (nektos/act): она
# запускает задания в контейнерах Docker — там, где Docker есть.
#
# ## Альтернативы: когда выбрать другой инструмент
#
# | Блок | В курсе | Альтернатива | Когда выбрать альтернативу |
# |---|---|---|---|
# | Данные | DVC: хэши в `dvc.lock` рядом с кодом в git, файлы в кэше и удалённом хранилище | lakeFS: ветки и коммиты git-подобно над объектным хранилищем (S3 API), отдельный сервер | данные — озеро на терабайты, которое меняют многие одновременно, и нужны атомарные коммиты и откаты на уровне хранилища, а не файлов в кэше |
# | Эксперименты и модели | MLflow: open source, свой сервер, реестр с алиасами | Weights & Biases: облачный сервис (self-hosted — платно), совместные дашборды, подбор гиперпараметров (sweeps) | команда готова держать эксперименты в облаке и хочет дашборды без администрирования; если данные не должны покидать компанию — MLflow |
# | Оркестрация | Prefect: поток — функция Python, локальный запуск без инфраструктуры | Airflow: планировщик + база метаданных + исполнители, большая библиотека операторов; Dagster: в центре — данные (assets), их зависимости и свежесть | Airflow — уже стандарт в компании и много интеграций для пакетных ETL; Dagster — пайплайн описывают как набор таблиц и моделей, а не шагов |
# | Сервинг | FastAPI + uvicorn: свой код, свои эндпоинты и проверки | BentoML: упаковка модели в сервис и образ, адаптивный батчинг; KServe: ресурс Kubernetes `InferenceService`, масштабирование до нуля, канареечные выкатки | BentoML — много моделей и нужна единая упаковка; KServe — уже есть Kubernetes и нужен стандартный сервинг без своего кода |
# | Дрейф и качество | Evidently: отчёты и тесты по данным, дрейф, качество по меткам | NannyML: оценка качества **без меток** (CBPE для классификации) | метки приходят с большой задержкой (ноутбук 05), а качество нужно знать сейчас |
# | Метрики | Prometheus: опрос `/metrics`, PromQL, правила алертов (Alertmanager) | Grafana — не замена, а дашборды поверх Prometheus; для долгого хранения и многих кластеров — Thanos, Mimir, VictoriaMetrics | Grafana — как только на метрики смотрят люди; Thanos и др. — когда одного сервера Prometheus мало |
# | CI/CD | GitHub Actions | GitLab CI, Jenkins; CML (от авторов DVC) — отчёты об экспериментах в pull request | репозиторий на GitLab или свой Jenkins в компании; CML — обсуждать метрики модели прямо в pull request |
#
# ## Вся схема: что где работало
#
# Та же карта, что в начале, — с тем, как ноутбук показал каждый инструмент:

# %%
from mlops_course.classroom.architecture import REPLACED, plot_architecture

shown = {} if prometheus is not None else {"Prometheus": REPLACED}
fig = plot_architecture(architecture_table(shown))
plt.show()

# %% [markdown]
# ## Остановка: после ноутбука ничего не работает
#
# Останавливаем всё, что запустили, и проверяем по списку процессов машины (psutil): ни
# одного из процессов, номера которых ноутбук записал при запуске (`started_pids`: сервер
# MLflow и его uvicorn, сервис, Prometheus), и ни одного дочернего процесса ядра ноутбука
# не осталось.

# %%
import psutil

client.close()
for server in (prometheus, service, mlflow_server):
    if server is not None:
        server.stop()
kernel_children = {child.pid for child in psutil.Process().children(recursive=True)}
leftover = still_running(started_pids | kernel_children)
print("процессов ноутбука и дочерних процессов ядра ещё работают:", len(leftover))

# %% [markdown]
# ## Итоги
#
# - Каждый блок архитектурной схемы лекции реализован в курсе конкретным файлом или
#   процессом: Git — репозиторий, DVC — `dvc.yaml` и `dvc.lock`, MLflow — реестр с
#   алиасами, Prefect и Airflow — один и тот же пайплайн непрерывного обучения, FastAPI —
#   сервис, Docker и Kubernetes — `deploy/`, Prometheus — `/metrics` и `deploy/prometheus.yml`,
#   Evidently — тесты по журналу предсказаний, GitHub Actions — `.github/workflows/`.
# - Сервер MLflow отвечает на REST API тем же, что Python-клиент; сервис загрузил модели с
#   него по алиасу и продолжил работать, когда сервер остановили.
# - Prometheus получает числа из счётчиков `/metrics`: PromQL складывает ряды (`sum`,
#   `sum by`), считает скорость (`rate`) и квантили по гистограмме (`histogram_quantile`);
#   без Prometheus те же числа получаются из текста `/metrics` — и совпадают.
# - Отчёт Evidently с условиями — набор тестов: тесты на столбец поймали новый район, тест
#   на весь набор — нет; нужны оба уровня.
# - HPA масштабирует по формуле ⌈текущее × загрузка / цель⌉: из измеренной цены запроса в
#   CPU видно, сколько подов он запустит и где его потолок.
# - Что нельзя запустить здесь, проверено тестами и прочитано: Dockerfile, манифесты,
#   DAG Airflow, workflows; команды для машины с Docker и кластером — выше.

# %% [markdown]
# ### Вопросы для самопроверки
#
# Впишите буквы ответов в `answers` и запустите ячейку: помощник скажет, что верно.

# %%
from mlops_course.classroom.checks import check_quiz, show_quiz

show_quiz("11_tools_and_architecture")

# %%
answers = {1: "", 2: "", 3: "", 4: "", 5: "", 6: ""}
check_quiz("11_tools_and_architecture", answers)
