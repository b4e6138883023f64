"""Checks of lab03 «Воспроизводимый пайплайн»: a colleague's training scripts made
reproducible, DVC stages with ``params.yaml``, an MLflow run with params, metrics, the data
hash and the environment.

The project lives in the work directory with its own git repository (``create_project``);
the student's checkout is never touched. The checks run the student's scripts as a pipeline
does, in fresh copies of the project, once per source of non-determinism with only that
source changed (``SOURCES``):

* the same settings twice: whatever changes by itself (a generator without a seed, the clock);
* another seed of the global generators (``np.random``, ``random``): hidden unseeded randomness;
* another ``PYTHONHASHSEED``: the iteration order of a set of strings;
* ``LATE_MODEL_C`` set: a parameter read from the environment;
* the raw files created and listed in the opposite order: data read in the file system's order.

A verdict names a source only when changing that source changed the md5 of an output.
Every run pins OpenBLAS to the SSE3 kernel on one thread (``PINNED_BLAS``, as the course's
``dvc.yaml`` does): the kernel OpenBLAS picks by CPU changes a model's last bits, and the
check must give the same verdict on any x86-64 CPU.

Starting an interpreter that imports pandas and scikit-learn costs ~1.7 s of CPU, far more
than these scripts take. On Linux one interpreter per hash seed imports them once and stays
up as a fork server (``_Server``, gone after ``IDLE_S`` idle seconds) that forks a child per
script, so after the first check a check of eight runs takes about a second; elsewhere every
script gets an interpreter of its own. Either way a script starts in a process that has run
nothing of the student's.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops_course.classroom.checks import (
    NOT_DONE_PREFIX,
    AnswerProblem,
    CheckResult,
    ExerciseNotDone,
    check_returned,
    expect,
)
from mlops_course.config import ID_COLUMN, OFFLINE_ENV, SEED, TIME_COLUMN, work_dir
from mlops_course.scenario.generator import generate_orders, save_orders
from mlops_course.versioning import sandbox

LAB = "lab03_reproducible_pipeline"
ASSETS = Path(__file__).resolve().parents[1] / "lab_assets" / "lab03"
"""The colleague's scripts as they were handed over (copied into a new project)."""

RAW_DIR = "data/raw"
ORDERS = "data/orders.csv"
MODEL = "model.pkl"
METRICS = "metrics.json"
PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"
PREPARE, TRAIN = "prepare.py", "train.py"
OUTPUTS = (ORDERS, MODEL, METRICS)
TRAIN_PARAMS = ("seed", "C", "test_size")
"""Keys of the ``train`` section of ``params.yaml`` that ``train.py`` must use."""
METRIC_NAMES = ("roc_auc", "log_loss")

ENV_PARAMETER = "LATE_MODEL_C"
"""The colleague's unpinned parameter: ``train.py`` read C from this variable."""
ENV_VALUE = "0.05"
PINNED_BLAS = {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1"}
"""The SSE3 kernel every x86-64 CPU has, on one thread: the same bits on any such CPU."""
START = "2025-03-03"
DVC_CONFIG = "[core]\n    analytics = false\n    check_update = false\n"
TIMEOUT_S = 240
SHORT = 12  # md5 characters shown

FORK = sys.platform == "linux"
"""Fork runs from a preloaded interpreter (Linux); elsewhere an interpreter per script."""
IDLE_S = 120
"""A fork server left without work this long exits (RSS ~195 MB, PSS ~145 MB here)."""
PRELOAD = (
    "numpy",
    "pandas",
    "yaml",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
)
"""What the scripts usually import; a fork server imports it once."""


# --- The project -----------------------------------------------------------------------


def create_project(
    root: str | Path,
    seed: int = SEED,
    days: int = 5,
    orders_per_day: int = 400,
    site_cache: str | Path | None = None,
) -> sandbox.Sandbox:
    """The colleague's project at ``root``: daily exports ``data/raw/orders-<day>.csv``, the
    scripts ``prepare.py`` and ``train.py``, git and DVC initialised, one commit.

    ``root`` must be new, empty or an earlier project (it is then replaced). DVC's site
    state goes to ``site_cache`` (default: ``dvc-site`` next to ``root``), never to
    ``/var/tmp/dvc``. Commands run in the project through the returned ``Sandbox``:
    ``project.dvc("repro")``, ``project.commit(...)``.
    """
    root = Path(root).resolve()
    _clear(root)
    orders = generate_orders(days * orders_per_day, seed=seed, start=START, days=days)
    for day, frame in orders.groupby(orders[TIME_COLUMN].dt.date):
        save_orders(frame, root / RAW_DIR / f"orders-{day}.csv")
    for name in (PREPARE, TRAIN):
        shutil.copy2(ASSETS / name, root / name)
    (root / ".gitignore").write_text("__pycache__/\n")
    box = sandbox.Sandbox(root, Path(site_cache or root.parent / "dvc-site").resolve())
    box.git("init", "-q", "-b", "main")
    (root / ".git" / sandbox.MARKER).write_text(f"made by {__name__}.create_project\n")
    box.dvc("init", "-q")
    # What `dvc config core.analytics false` and `... core.check_update false` write; one
    # DVC call fewer each (~0.5 s).
    (root / ".dvc" / "config").write_text(DVC_CONFIG)
    box.git("add", "-A")
    box.git("commit", "-q", "-m", "Скрипты коллеги и выгрузки заказов")
    return box


def _clear(root: Path) -> None:
    """Make ``root`` an empty folder; only ever delete an earlier project."""
    if root.exists() and any(root.iterdir()):
        if not (root / ".git" / sandbox.MARKER).is_file():
            raise FileExistsError(f"{root} не пуста и не проект лабораторной: не удаляю.")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)


def copy_project(project: Path, dest: Path, descending: bool = False) -> Path:
    """A fresh copy of the project's files: no git, no DVC cache or lock, no outputs.

    The raw files are created in name order, or in the opposite order with ``descending``.
    """
    project = project.resolve()
    skipped = {
        project: {".git", MODEL, METRICS, "dvc.lock"},
        project / ".dvc": {"cache", "tmp"},
        project / "data": {Path(ORDERS).name, Path(RAW_DIR).name},
    }

    def ignore(folder: str, names: list[str]) -> set[str]:
        never = {"__pycache__", ".ipynb_checkpoints"}
        return (never | skipped.get(Path(folder).resolve(), set())) & set(names)

    shutil.copytree(project, dest, ignore=ignore)
    raw = sorted(path for path in (project / RAW_DIR).iterdir() if path.is_file())
    (dest / RAW_DIR).mkdir(parents=True, exist_ok=True)
    for path in reversed(raw) if descending else raw:
        shutil.copy2(path, dest / RAW_DIR / path.name)
    return dest


def md5(path: Path) -> str | None:
    """md5 of a file's bytes, what ``dvc.lock`` records; None when there is no file."""
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


# --- Running scripts in fresh processes ------------------------------------------------
# ``_run_script``, ``_run_plan`` and ``_serve`` run in child interpreters: their source is
# sent there (``_child_code``), so they import what they need themselves.


def _run_script(spec: dict) -> int:
    """Run one script as ``python <script>`` would, changed only by the run's settings."""
    import os
    import random
    import runpy
    import signal
    import sys
    import traceback

    os.chdir(spec["cwd"])
    for name, value in spec["env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    if hasattr(signal, "alarm"):
        signal.alarm(spec["timeout"])  # a script that hangs is killed, and reported
    random.seed(spec["rng_seed"])
    import numpy

    numpy.random.seed(spec["rng_seed"])
    # The file system's order of a folder: here by name, or the opposite.
    listdir, scandir, descending = os.listdir, os.scandir, spec["descending"]

    class Listing(list):
        def __enter__(self):
            return iter(self)

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    def ordered_scandir(path="."):
        with scandir(path) as entries:
            return Listing(sorted(entries, key=lambda e: e.name, reverse=descending))

    os.listdir = lambda path=".": sorted(listdir(path), reverse=descending)
    os.scandir = ordered_scandir
    sys.argv, sys.path[0] = [spec["script"]], spec["cwd"]
    try:
        runpy.run_path(spec["script"], run_name="__main__")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def _run_plan(plan_path: str) -> None:
    """Run every job of a plan in a forked child, all at once, and each of a job's scripts
    in a grandchild forked from the same clean state; wait for all of them."""
    import json
    import os

    with open(plan_path) as file:
        jobs = json.load(file)
    children = []
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            result = {"failed": None, "code": 0}
            for spec in job["scripts"]:
                script_pid = os.fork()
                if script_pid == 0:
                    os._exit(_run_script(spec))
                code = os.waitstatus_to_exitcode(os.waitpid(script_pid, 0)[1])
                if code != 0:
                    result = {"failed": spec["script"], "code": code, "log": spec["log"]}
                    break
            with open(job["result"], "w") as file:
                json.dump(result, file)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def _serve(preload: list, idle_s: float) -> None:
    """Import ``preload`` once, then run each plan whose path arrives on stdin and answer
    "done"; exit at end of input or after ``idle_s`` seconds without a plan."""
    import contextlib
    import importlib
    import select
    import sys

    for module in preload:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    while select.select([sys.stdin], [], [], idle_s)[0]:
        line = sys.stdin.readline()
        if not line:
            return
        _run_plan(line.strip())
        print("done", flush=True)


def _child_code(call: str, serve: bool) -> str:
    """Source for ``python -c``: the runner functions, then ``call``."""
    functions = [_run_script, _run_plan, _serve] if serve else [_run_script]
    return "\n\n".join(["import sys", *map(inspect.getsource, functions), call])


def _interpreter_env(hash_seed: int) -> dict[str, str]:
    """The environment every run starts with: the course's, offline, OpenBLAS pinned."""
    env = {**os.environ, **OFFLINE_ENV, **PINNED_BLAS, "OMP_NUM_THREADS": "1"}
    return env | {"PYTHONHASHSEED": str(hash_seed), "PYTHONDONTWRITEBYTECODE": "1"}


def _server_log(hash_seed: int) -> Path:
    return work_dir(LAB, "checks") / f"server-{hash_seed}.log"


class _Server:
    """A preloaded interpreter with one hash seed that forks the runs of the plans it is
    sent (a fork server): only the first check pays for importing scikit-learn."""

    def __init__(self, hash_seed: int) -> None:
        self.log = _server_log(hash_seed)
        code = _child_code(f"_serve({list(PRELOAD)!r}, {IDLE_S})", serve=True)
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=self.log.parent,
                env=_interpreter_env(hash_seed),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def send(self, plan: Path) -> bool:
        try:
            self.process.stdin.write(f"{plan}\n")
            self.process.stdin.flush()
        except OSError:  # it has just exited, idle
            return False
        return True

    def done(self) -> bool:
        return self.process.stdout.readline().strip() == "done"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


_SERVERS: dict[int, _Server] = {}


def _server(hash_seed: int) -> _Server:
    server = _SERVERS.get(hash_seed)
    if server is None or server.process.poll() is not None:
        server = _SERVERS[hash_seed] = _Server(hash_seed)
    return server


@atexit.register
def _close_servers() -> None:
    while _SERVERS:
        _SERVERS.popitem()[1].close()


@dataclass(frozen=True)
class Run:
    """The settings of one run of the scripts: the baseline, or one source changed."""

    name: str
    hash_seed: int = 1
    rng_seed: int = 0
    env_value: str | None = None  # LATE_MODEL_C; None: not set
    descending: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)  # changes of params.yaml "train"


@dataclass(frozen=True)
class Outcome:
    """What one run produced: md5 per output (None: missing), or the script that failed."""

    hashes: dict[str, str | None]
    failed: str | None = None
    code: int = 0
    log: str = ""


def run_scripts(
    project: str | Path, scripts: Iterable[str], runs: Iterable[Run], scratch: Path
) -> dict[str, Outcome]:
    """Run ``scripts`` one after another, each in a fresh process, in a fresh copy of the
    project per run (``scratch/<run name>``, kept); the md5 of every output per run."""
    runs, scripts = list(runs), list(scripts)
    jobs = {run.name: _job(Path(project), run, scripts, scratch) for run in runs}
    seeds = sorted({run.hash_seed for run in runs})
    groups = {seed: [jobs[r.name] for r in runs if r.hash_seed == seed] for seed in seeds}
    if FORK:
        _run_forked(groups, scratch)
    else:
        _run_spawned(groups)
    return {run.name: _outcome(jobs[run.name], scratch / run.name) for run in runs}


def _job(project: Path, run: Run, scripts: list[str], scratch: Path) -> dict[str, Any]:
    copy = copy_project(project, scratch / run.name, run.descending)
    if run.params:
        params = yaml.safe_load((copy / PARAMS).read_text())
        params["train"] |= dict(run.params)
        (copy / PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
    settings = {"cwd": str(copy), "rng_seed": run.rng_seed, "descending": run.descending}
    settings |= {"env": {ENV_PARAMETER: run.env_value}, "timeout": TIMEOUT_S}
    return {
        "result": str(scratch / f"{run.name}.result.json"),
        "scripts": [
            settings | {"script": script, "log": str(scratch / f"{run.name}.{script}.log")}
            for script in scripts
        ],
    }


def _run_forked(groups: Mapping[int, list[dict]], scratch: Path) -> None:
    """Each hash seed's jobs to its fork server, all servers at once; a server that exited
    meanwhile (idle) is started again and sent its plan once more."""
    plans = {}
    for hash_seed, jobs in groups.items():
        plans[hash_seed] = scratch / f"plan-{hash_seed}.json"
        plans[hash_seed].write_text(json.dumps(jobs))
    for _ in range(2):
        servers = {seed: _server(seed) for seed in plans}
        sent = [seed for seed, server in servers.items() if server.send(plans[seed])]
        unfinished = set(plans) - {seed for seed in sent if servers[seed].done()}
        for seed in unfinished:
            _SERVERS.pop(seed).close()
        plans = {seed: plans[seed] for seed in unfinished}
        if not plans:
            return
    tail = _server_log(min(plans)).read_text()[-2000:].strip()
    raise RuntimeError(f"Запуск скриптов не удался:\n{tail}")


def _run_spawned(groups: Mapping[int, list[dict]]) -> None:
    """Without fork: every script in an interpreter of its own (slower, the same result)."""

    def one(hash_seed: int, job: dict) -> None:
        result = {"failed": None, "code": 0}
        for spec in job["scripts"]:
            code = _child_code(f"sys.exit(_run_script({spec!r}))", serve=False)
            done = subprocess.run([sys.executable, "-c", code], env=_interpreter_env(hash_seed))
            if done.returncode != 0:
                result = {"failed": spec["script"], "code": done.returncode, "log": spec["log"]}
                break
        Path(job["result"]).write_text(json.dumps(result))

    pairs = [(seed, job) for seed, jobs in groups.items() for job in jobs]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda pair: one(*pair), pairs))


def _outcome(job: dict, copy: Path) -> Outcome:
    hashes = {name: md5(copy / name) for name in OUTPUTS}
    path = Path(job["result"])
    if not path.is_file():
        return Outcome(hashes, "?", -1, "процесс запуска завершился без результата")
    result = json.loads(path.read_text())
    if not result["failed"]:
        return Outcome(hashes)
    return Outcome(hashes, result["failed"], result["code"], Path(result["log"]).read_text())


# --- Sources of non-determinism --------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One source of non-determinism: the run that changes only it, and how to fix it."""

    key: str
    title: str  # named in a verdict only when this source changed an output
    how: str  # what its run changes
    label: str  # short, for a figure
    hint: str
    run: Run


BASELINE = Run("baseline")
SOURCES = (
    Source(
        "noise",
        "результат меняется сам по себе",
        "второй запуск с теми же настройками",
        "само по себе",
        "в коде генератор без зерна, которого не задать общим seed "
        "(np.random.default_rng() или random.Random() без аргумента), или время, uuid. Дайте "
        "генератору зерно из params.yaml: np.random.default_rng(params['seed']). Остальные "
        "источники проверка измерит, когда этот исчезнет.",
        replace(BASELINE, name="repeat"),
    ),
    Source(
        "rng",
        "скрытая случайность без зерна",
        "другое зерно общих генераторов: np.random.seed(1) и random.seed(1) вместо 0",
        "общий генератор",
        "код берёт числа из общего генератора numpy или random (train_test_split без "
        "random_state, DataFrame.sample, np.random.permutation), а в новом процессе он "
        "начинается с новых чисел. Передайте зерно явно: random_state=params['seed'].",
        replace(BASELINE, name="rng", rng_seed=1),
    ),
    Source(
        "hash",
        "порядок обхода множества (PYTHONHASHSEED)",
        "PYTHONHASHSEED=2 вместо 1",
        "PYTHONHASHSEED",
        "список, собранный из set строк, в каждом процессе в своём порядке (хэши строк "
        "солятся при запуске Python): например, признаки list(set(columns) - {...}) дают "
        "модели столбцы в другом порядке. Сортируйте: sorted(set(...)).",
        replace(BASELINE, name="hash", hash_seed=2),
    ),
    Source(
        "env",
        f"параметр из переменной окружения {ENV_PARAMETER}",
        f"{ENV_PARAMETER}={ENV_VALUE}, а в базовом запуске она не задана",
        f"{ENV_PARAMETER}",
        "на другой машине или в CI переменная другая или не задана, и модель молча выходит "
        "другой. Читайте C из params.yaml (params['C']), а не из os.environ.",
        replace(BASELINE, name="env", env_value=ENV_VALUE),
    ),
    Source(
        "order",
        "порядок файлов в папке",
        f"файлы {RAW_DIR}/ созданы и перечисляются в обратном порядке",
        "порядок файлов",
        "os.listdir, glob и Path.iterdir отдают файлы в порядке файловой системы, и строки "
        "склеиваются каждый раз по-разному. Сортируйте имена файлов "
        "(sorted(os.listdir(RAW))) или строки таблицы (sort_values('order_id')).",
        replace(BASELINE, name="order", descending=True),
    ),
)

# Changes of params.yaml that must change the model: train.py really uses them.
PARAM_HINTS = {
    "C": "train.py не берёт C из params.yaml: LogisticRegression(C=params['C'], ...).",
    "seed": "зерно записано в коде, а не взято из params.yaml: random_state=params['seed'].",
}


def _scratch() -> tempfile.TemporaryDirectory:
    """A folder for the copies in the work directory, removed after the check."""
    return tempfile.TemporaryDirectory(prefix="check-", dir=work_dir(LAB, "checks"))


def _changed(outcome: Outcome, baseline: Outcome, outputs: Iterable[str]) -> list[str]:
    return [name for name in outputs if outcome.hashes.get(name) != baseline.hashes.get(name)]


def measure_sources(
    project: str | Path,
    scratch: Path,
    scripts: Iterable[str] = (PREPARE, TRAIN),
    extra: Iterable[Run] = (),
) -> dict[str, Outcome]:
    """Outcomes of the baseline, of one run per source in ``SOURCES`` and of ``extra``."""
    runs = [BASELINE, *(source.run for source in SOURCES), *extra]
    return run_scripts(project, scripts, runs, scratch)


def diagnose(project: str | Path, scripts: Iterable[str] = (PREPARE, TRAIN)) -> pd.DataFrame:
    """Which outputs change when one source of non-determinism changes: a table, no verdict.

    A row per source (``Source.title``), a column per output: «другой» where its md5
    differs from the baseline run's, «тот же» where it is equal.
    """
    with _scratch() as scratch:
        outcomes = measure_sources(project, Path(scratch), scripts)
    if problems := _failures(outcomes):
        raise RuntimeError(problems[0].message)
    baseline = outcomes[BASELINE.name]
    rows = {}
    for source in SOURCES:
        changed = _changed(outcomes[source.run.name], baseline, OUTPUTS)
        rows[source.title] = {name: "другой" if name in changed else "тот же" for name in OUTPUTS}
    return pd.DataFrame(rows).T.rename_axis("источник")


def source_results(outcomes: Mapping[str, Outcome], outputs: Iterable[str]) -> list[CheckResult]:
    """One verdict per source: its run gave the baseline's outputs, or which ones differ.

    When the outputs change by themselves (the repeated run differs), no other source can
    be measured, and only that verdict is given.
    """
    outputs, baseline = list(outputs), outcomes[BASELINE.name]
    results = []
    for source in SOURCES:
        changed = _changed(outcomes[source.run.name], baseline, outputs)
        results.append(
            expect(
                not changed,
                f"{source.title}: {', '.join(outputs)} те же ({source.how})",
                f"{source.title}: другие {', '.join(changed)} ({source.how}) — {source.hint}",
            )
        )
        if source.key == "noise" and changed:
            break
    return results


def _require_files(project: Path, *names: str) -> None:
    """``ExerciseNotDone`` while a file is still the lab's stub; a hint if it is missing."""
    for name in names:
        path = project / name
        if not path.is_file():
            raise AnswerProblem(f"в проекте нет {name}: запустите ячейку, которая его пишет.")
        text = path.read_text(errors="replace")
        if f'raise NotImplementedError("{NOT_DONE_PREFIX}' in text:
            hint = re.search(rf'{NOT_DONE_PREFIX}: ([^"]*)"', text)
            raise ExerciseNotDone(
                f"{NOT_DONE_PREFIX}: в {name} ещё стоит raise NotImplementedError. Допишите "
                f"ячейку, которая записывает {name}, запустите её, затем эту."
                + (f" Подсказка: {hint[1]}." if hint else "")
            )


def _failures(outcomes: Mapping[str, Outcome]) -> list[CheckResult]:
    """A verdict for the first run whose script failed (usually all fail alike)."""
    for name, outcome in outcomes.items():
        if outcome.failed:
            lines = [line for line in outcome.log.splitlines() if line.strip()]
            error = lines[-1].strip() if lines else f"код выхода {outcome.code}"
            where = "базовом запуске" if name == BASELINE.name else f"запуске «{name}»"
            return [
                CheckResult(
                    False,
                    f"в {where} {outcome.failed} упал: {error}. Запустите его в папке проекта "
                    f"(project.run('python', '{outcome.failed}')) и посмотрите на ошибку.",
                )
            ]
    return []


def _missing(outcome: Outcome, outputs: Iterable[str]) -> list[CheckResult]:
    return [
        CheckResult(False, f"скрипт не записал {name}: пишите его по этому пути в папке проекта.")
        for name in outputs
        if outcome.hashes.get(name) is None
    ]


# --- Exercise 1: prepare.py ------------------------------------------------------------


def _rows_result(project: Path, orders: Path) -> CheckResult:
    """data/orders.csv holds every order of every raw file, each once."""
    raw = sorted((project / RAW_DIR).glob("*.csv"))
    expected = pd.concat([pd.read_csv(path) for path in raw], ignore_index=True)
    got = pd.read_csv(orders)
    same = (
        len(got) == len(expected)
        and set(got.columns) == set(expected.columns)
        and sorted(got[ID_COLUMN]) == sorted(expected[ID_COLUMN])
    )
    return expect(
        same,
        f"{ORDERS}: все {len(expected)} заказов из {len(raw)} файлов, каждый один раз",
        f"в {ORDERS} {len(got)} строк, а в {len(raw)} файлах {RAW_DIR}/ {len(expected)} "
        "заказов: склейте все файлы целиком (pd.concat), ничего не теряя и не повторяя.",
    )


def check_prepare(project: str | Path) -> list[CheckResult]:
    """``prepare.py`` merges the raw files into ``data/orders.csv`` with the same bytes
    whatever the file order, the hash seed, the global seed or the environment."""
    project = Path(project).resolve()
    _require_files(project, PREPARE)
    with _scratch() as folder:
        scratch = Path(folder)
        outcomes = measure_sources(project, scratch, [PREPARE])
        problems = _failures(outcomes) or _missing(outcomes[BASELINE.name], [ORDERS])
        if problems:
            return problems
        rows = _rows_result(project, scratch / BASELINE.name / ORDERS)
    return [rows, *source_results(outcomes, [ORDERS])]


# --- Exercise 2: params.yaml and train.py -------------------------------------------


def _train_params(project: Path) -> dict[str, Any]:
    """The ``train`` section of params.yaml, or ``AnswerProblem`` saying what is wrong."""
    try:
        params = yaml.safe_load((project / PARAMS).read_text())
    except yaml.YAMLError as error:
        raise AnswerProblem(f"{PARAMS} не читается как YAML: {error}") from error
    section = params.get("train") if isinstance(params, dict) else None
    if not isinstance(section, dict):
        raise AnswerProblem(f"в {PARAMS} нужна секция train: с ключами {', '.join(TRAIN_PARAMS)}.")
    missing = [key for key in TRAIN_PARAMS if key not in section]
    if missing:
        raise AnswerProblem(f"в секции train файла {PARAMS} нет {', '.join(missing)}.")
    numbers = isinstance(section["seed"], int) and isinstance(section["C"], int | float)
    if not numbers or isinstance(section["seed"], bool):
        raise AnswerProblem(f"в {PARAMS} seed — целое число, C — число.")
    return section


def _metrics_result(path: Path) -> CheckResult:
    try:
        metrics = json.loads(path.read_text())
    except ValueError:
        metrics = None
    ok = isinstance(metrics, dict) and all(
        isinstance(metrics.get(name), int | float) for name in METRIC_NAMES
    )
    shown = ", ".join(f"{name} = {metrics[name]}" for name in METRIC_NAMES) if ok else ""
    return expect(
        ok,
        f"{METRICS}: {shown}",
        f"{METRICS} должен быть JSON-словарём с числами {', '.join(METRIC_NAMES)}.",
    )


def check_train(project: str | Path) -> list[CheckResult]:
    """``prepare.py`` then ``train.py``: data, model and metrics keep their md5 whatever
    source of non-determinism changes; the model changes with train.C and train.seed."""
    project = Path(project).resolve()
    _require_files(project, PREPARE, PARAMS, TRAIN)
    params = _train_params(project)
    changes = {"C": float(params["C"]) * 10, "seed": params["seed"] + 1}
    extra = [replace(BASELINE, name=f"param-{k}", params={k: v}) for k, v in changes.items()]
    with _scratch() as folder:
        scratch = Path(folder)
        outcomes = measure_sources(project, scratch, extra=extra)
        baseline = outcomes[BASELINE.name]
        problems = _failures(outcomes) or _missing(baseline, OUTPUTS)
        if problems:
            return problems
        results = [_metrics_result(scratch / BASELINE.name / METRICS)]
    results += source_results(outcomes, OUTPUTS)
    if all(result.passed for result in results):
        for key, value in changes.items():
            results.append(
                expect(
                    _changed(outcomes[f"param-{key}"], baseline, [MODEL]),
                    f"train.{key} из {PARAMS} меняет модель",
                    f"при train.{key} = {value} в {PARAMS} модель та же: {PARAM_HINTS[key]}",
                )
            )
    return results


# --- Exercise 3: dvc.yaml -------------------------------------------------------------


def _listed(stage: Mapping[str, Any], kind: str) -> set[str]:
    """Paths (or params keys) a dvc.yaml stage lists under ``kind``; ``params`` entries of
    the form ``{params.yaml: [keys]}`` give their keys (the file's name for all of it)."""
    found: set[str] = set()
    for entry in stage.get(kind) or []:
        if isinstance(entry, str):
            found.add(entry)
        elif isinstance(entry, dict):
            for key, value in entry.items():
                if kind != "params":
                    found.add(str(key))
                elif key == PARAMS:
                    found |= {str(v) for v in value} if value else {PARAMS}
    return {name.rstrip("/") for name in found}


def _command(stage: Mapping[str, Any]) -> str:
    cmd = stage.get("cmd", "")
    return " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)


WHY = {
    "deps": "DVC перезапускает стадию, только когда меняется объявленное в deps",
    "outs": "DVC кэширует и записывает в dvc.lock только объявленные выходы",
    "metrics": "метрики объявляют в metrics (cache: false — их хранит git), тогда их видят "
    "dvc metrics show и dvc metrics diff",
}
STAGES = {
    "prepare": {"script": PREPARE, "deps": (PREPARE, RAW_DIR), "outs": (ORDERS,)},
    "train": {
        "script": TRAIN,
        "deps": (TRAIN, ORDERS),
        "outs": (MODEL,),
        "metrics": (METRICS,),
        "params": TRAIN_PARAMS,
    },
}


def _stage_problems(stage: Any, name: str, want: Mapping[str, Any]) -> list[str]:
    """What a stage lacks: its script in cmd, deps, outs, metrics, params."""
    if not isinstance(stage, dict):
        return [f"в {DVC_YAML} нет стадии {name}"]
    problems = []
    if want["script"] not in _command(stage):
        problems.append(f"cmd стадии {name} должна запускать {want['script']}")
    for kind in ("deps", "outs", "metrics"):
        missing = [path for path in want.get(kind, ()) if path not in _listed(stage, kind)]
        if missing:
            problems.append(f"в {kind} стадии {name} нет {', '.join(missing)}: {WHY[kind]}")
    declared = _listed(stage, "params")
    uncovered = [
        f"train.{key}"
        for key in want.get("params", ())
        if not declared & {PARAMS, "train", f"train.{key}"}
    ]
    if uncovered:
        problems.append(
            f"в params стадии {name} нет {', '.join(uncovered)}: DVC не заметит, что параметр "
            "изменился, и не перезапустит стадию. Объявите секцию целиком: params: [train]"
        )
    return problems


def static_results(project: Path) -> list[CheckResult]:
    """Verdicts on dvc.yaml itself: both stages declare what they use and make, and train
    pins the OpenBLAS kernel."""
    try:
        stages = yaml.safe_load((project / DVC_YAML).read_text())
    except yaml.YAMLError as error:
        raise AnswerProblem(f"{DVC_YAML} не читается как YAML: {error}") from error
    if not isinstance(stages, dict) or not isinstance(stages.get("stages"), dict):
        raise AnswerProblem(f"{DVC_YAML} начинается с stages: и перечисляет стадии под ним.")
    stages = stages["stages"]
    results = []
    for name, want in STAGES.items():
        problems = _stage_problems(stages.get(name), name, want)
        declared = ", ".join(kind for kind in ("deps", "outs", "metrics", "params") if kind in want)
        results.append(
            expect(
                not problems, f"стадия {name}: cmd, {declared} на месте", "; ".join(problems) + "."
            )
        )
    train = stages.get("train")
    cmd = _command(train) if isinstance(train, dict) else ""
    pin = " ".join(f"{key}={value}" for key, value in PINNED_BLAS.items())
    results.append(
        expect(
            all(f"{key}={value}" in cmd for key, value in PINNED_BLAS.items()),
            f"стадия train закрепляет ядро OpenBLAS: {pin}",
            "cmd стадии train не закрепляет ядро OpenBLAS: OpenBLAS выбирает его по процессору, "
            f"и на другой машине у {MODEL} другие биты. Запускайте, как dvc.yaml курса: "
            f"cmd: {pin} python {TRAIN}.",
        )
    )
    return results


# Copy A runs with the baseline's settings; copy B with another hash seed, LATE_MODEL_C set
# and the raw files created in the opposite order. OpenBLAS is left to the stage's cmd.
DVC_COPIES = {
    "A": ({"PYTHONHASHSEED": "1", ENV_PARAMETER: None}, False),
    "B": ({"PYTHONHASHSEED": "2", ENV_PARAMETER: ENV_VALUE}, True),
}


def _dvc_copy(project: Path, scratch: Path, label: str) -> sandbox.Sandbox:
    """A fresh copy with a git repository of its own and a first commit, as DVC needs."""
    copy = copy_project(project, scratch / label, descending=DVC_COPIES[label][1])
    box = sandbox.Sandbox(copy, scratch / "dvc-site")
    box.git("init", "-q", "-b", "main")
    box.git("add", "-A")
    box.git("commit", "-q", "-m", f"copy {label}")
    return box


def _repro(box: sandbox.Sandbox, label: str) -> subprocess.CompletedProcess:
    changes = DVC_COPIES[label][0]
    env = {**box.env(), **{k: v for k, v in changes.items() if v is not None}}
    for name in [*PINNED_BLAS, *(k for k, v in changes.items() if v is None)]:
        env.pop(name, None)
    command = ["dvc", "repro"]
    return subprocess.run(
        command, cwd=box.root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )


def check_dvc_stages(project: str | Path) -> list[CheckResult]:
    """dvc.yaml declares both stages; ``dvc repro`` in two fresh copies of the project
    (another hash seed, LATE_MODEL_C and file order in the second) records the same md5 of
    data, model and metrics. When they differ, the sources are measured one at a time."""
    project = Path(project).resolve()
    _require_files(project, DVC_YAML)
    results = static_results(project)
    if not all(result.passed for result in results):
        return results
    with _scratch() as folder:
        scratch = Path(folder)
        copies = {label: _dvc_copy(project, scratch, label) for label in DVC_COPIES}
        with ThreadPoolExecutor(max_workers=len(copies)) as pool:
            done = dict(zip(copies, pool.map(_repro, copies.values(), copies), strict=True))
        for label, result in done.items():
            if result.returncode != 0:
                output = (result.stderr or result.stdout).strip().splitlines()
                message = f"dvc repro в копии {label} не прошла: " + " | ".join(output[-3:])
                return [*results, CheckResult(False, message)]
        results += _copies_results({label: box.lock_hashes() for label, box in copies.items()})
        if not all(result.passed for result in results):
            outcomes = measure_sources(project, scratch / "sources")
            named = [result for result in source_results(outcomes, OUTPUTS) if not result.passed]
            results += named or [
                CheckResult(
                    False,
                    "напрямую скрипты воспроизводимы, а через DVC — нет: проверьте, что cmd "
                    f"стадий запускают именно {PREPARE} и {TRAIN}.",
                )
            ]
    return results


def _copies_results(hashes: Mapping[str, Mapping[str, str]]) -> list[CheckResult]:
    """Per output: the same md5 in dvc.lock of both copies."""
    a, b = hashes["A"], hashes["B"]
    return [
        expect(
            a.get(name) is not None and a.get(name) == b.get(name),
            f"{name}: md5 {str(a.get(name))[:SHORT]} в dvc.lock копии A и копии B",
            f"{name}: в dvc.lock копии A md5 {str(a.get(name))[:SHORT]}, копии B "
            f"{str(b.get(name))[:SHORT]}.",
        )
        for name in OUTPUTS
    ]


# --- Exercise 4: the MLflow run --------------------------------------------------------

ENV_TAGS = ("python", "numpy", "pandas", "scikit-learn")
"""Environment tags ``env.<name>`` a run must carry (from ``tracking.environment_info``)."""


def flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"C": 0.3}}`` -> ``{"train.C": "0.3"}``: DVC's names, MLflow's strings."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat |= flat_params(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def _run_id(returned: Any) -> str | None:
    """The run id in what the student's function returned: an id, a Run or an ActiveRun."""
    if isinstance(returned, str):
        return returned
    return getattr(getattr(returned, "info", None), "run_id", None)


def _params_hint(logged: Mapping[str, str], expected: Mapping[str, str]) -> str:
    if {name.split(".")[0] for name in expected} & set(logged):
        return (
            f"секции {PARAMS} записаны целиком: логируйте каждое значение под именем через "
            "точку, как в DVC (train.C, train.seed, ...)."
        )
    if {name.split(".")[-1] for name in expected} & set(logged):
        return "имена параметров — как в DVC, с секцией: train.C, а не C."
    missing = sorted(set(expected) - set(logged))
    wrong = sorted(name for name in expected if name in logged and logged[name] != expected[name])
    return (
        (f"нет параметров {', '.join(missing)}. " if missing else "")
        + (f"не те значения у {', '.join(wrong)}. " if wrong else "")
        + f"Логируйте все значения {PARAMS}: mlflow.log_params({{...}})."
    )


def _commit_hint(tagged: str | None, commit: str | None) -> str:
    from mlops_course.versioning import tracking

    if tagged is not None and tagged == tracking.git_commit():
        return "git_commit — коммит папки курса, а не проекта: tracking.git_commit(project)."
    return f"тег git_commit = {tagged!r}, а HEAD проекта {commit}: tracking.git_commit(project)."


def _data_hint(tags: Mapping[str, str], data_md5: str | None) -> str:
    if "data.md5" in tags:
        return (
            f"тег data.md5 = {tags['data.md5']!r}, а в dvc.lock у {ORDERS} md5 {data_md5}: "
            "запишите именно его, тогда запуск ведёт к версии данных в DVC."
        )
    return (
        f"нет тега data.md5: запишите md5 {ORDERS} из dvc.lock "
        f"(sandbox.lock_outputs(...)['{ORDERS}'])."
    )


def _mlflow_results(run: Any, project: Path) -> list[CheckResult]:
    """Verdicts on one logged run against the project's files and git."""
    from mlops_course.versioning import tracking

    data = run.data
    params = flat_params(yaml.safe_load((project / PARAMS).read_text()))
    metrics = json.loads((project / METRICS).read_text())
    data_md5 = sandbox.lock_outputs((project / "dvc.lock").read_text()).get(ORDERS)
    environment, commit = tracking.environment_info(), tracking.git_commit(project)
    same_params = {k: v for k, v in data.params.items() if k in params} == params
    return [
        expect(
            run.info.status == "FINISHED",
            "запуск завершён",
            f"запуск в состоянии {run.info.status}: открывайте его в with mlflow.start_run() "
            "as run: — тогда он закроется сам.",
        ),
        expect(
            same_params,
            f"параметры {', '.join(params)} как в {PARAMS}",
            "" if same_params else _params_hint(data.params, params),
        ),
        expect(
            all(data.metrics.get(name) == value for name, value in metrics.items()),
            f"метрики {', '.join(metrics)} как в {METRICS}",
            f"метрики запуска {dict(data.metrics)}, а в {METRICS} {metrics}: "
            f"mlflow.log_metrics(json.loads(Path('{METRICS}').read_text())).",
        ),
        expect(
            data.tags.get("data.md5") == data_md5,
            f"тег data.md5 — md5 {ORDERS} из dvc.lock ({str(data_md5)[:SHORT]})",
            _data_hint(data.tags, data_md5),
        ),
        expect(
            all(data.tags.get(f"env.{name}") == environment[name] for name in ENV_TAGS),
            f"окружение: теги env.{', env.'.join(ENV_TAGS)} и другие",
            "нет тегов окружения env.* или они не те: mlflow.set_tags({f'env.{name}': version "
            "for name, version in tracking.environment_info().items()}).",
        ),
        expect(
            data.tags.get("git_commit") == commit,
            f"тег git_commit — коммит проекта ({str(commit)[:SHORT]})",
            _commit_hint(data.tags.get("git_commit"), commit),
        ),
        expect(
            tracking.git_dirty(project) is False,
            "в проекте всё закоммичено: запуск получается заново из своего коммита",
            "в проекте есть незакоммиченные изменения (git status): запуск нельзя получить "
            "заново из его коммита. Закоммитьте (project.commit(...)) и запишите запуск снова.",
        ),
    ]


def check_mlflow_run(
    student_log_run: Callable[[Path], Any], project: str | Path
) -> list[CheckResult]:
    """``student_log_run(project)`` logs one MLflow run and returns its id; the run holds
    params.yaml (dotted names), metrics.json, the md5 of the data from dvc.lock, the
    environment and the project's commit."""
    import mlflow

    project = Path(project).resolve()
    for name in (PARAMS, METRICS, "dvc.lock"):
        if not (project / name).is_file():
            raise AnswerProblem(f"в проекте нет {name}: сначала выполните dvc repro.")
    if not mlflow.get_tracking_uri().startswith("sqlite:///"):
        raise AnswerProblem(
            "MLflow пишет не в базу sqlite рабочей папки: сначала вызовите "
            "tracking.setup_tracking(home=home)."
        )
    returned = student_log_run(project)
    left_open = mlflow.active_run() is not None
    if left_open:
        mlflow.end_run()
    run_id = _run_id(returned)
    check_returned(returned, run_id is not None, "верните id запуска: return run.info.run_id.")
    results = _mlflow_results(mlflow.get_run(run_id), project)
    if left_open:
        results[0] = CheckResult(
            False,
            "запуск остался открытым: открывайте его в with mlflow.start_run() as run: — "
            "тогда он закроется сам (проверка закрыла его за вас).",
        )
    return results
