"""Notebook 11: the lecture's architecture slide mapped onto the course, and readers of the
files that cannot run here (Dockerfile, Airflow DAG, GitHub Actions workflows).

* ``ARCHITECTURE`` — every box of the slide «Архитектурная схема», the tool the lecture
  names and the course file or process that implements it; ``plot_architecture`` draws it,
  coloured by how the notebook showed each tool.
* ``decorated_functions`` — tasks and flows of a Prefect or Airflow file, read with ``ast``
  (nothing is imported: Airflow is not installed, and importing the Prefect flow would
  configure Prefect).
* ``dockerfile_instructions``, ``workflow_steps`` — the Dockerfile and the workflows as tables.
* ``hpa_desired_replicas`` — what Kubernetes' HorizontalPodAutoscaler decides.
"""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import psutil
import yaml
from matplotlib.figure import Figure

RAN = "запущен в ноутбуке"
READ = "код: прочитан здесь, проверен тестами"
REPLACED = "программы нет: заменён"
STATUS_COLORS = {RAN: "#55A868", READ: "#DD8452", REPLACED: "#B0B0B0"}

BOXES = ["Версионирование", "Оркестрация", "Сервинг", "Мониторинг", "Автоматизация"]
# (box of the slide, tool the lecture names, what implements it in the course, how shown)
ARCHITECTURE = [
    ("Версионирование", "Git (код)", "этот репозиторий", RAN),
    ("Версионирование", "DVC (данные)", "dvc.yaml, dvc.lock, params.yaml", RAN),
    ("Версионирование", "MLflow (модели)", "versioning/tracking, registry, mlflow_server", RAN),
    ("Оркестрация", "Prefect", "orchestration/ct_flow.py (ноутбук 09)", READ),
    ("Оркестрация", "Airflow", "deploy/airflow/continuous_training_dag.py", READ),
    ("Сервинг", "FastAPI", "serving/app.py: python -m mlops_course.serving", RAN),
    ("Сервинг", "Docker", "deploy/Dockerfile", READ),
    ("Сервинг", "Kubernetes", "deploy/k8s/: deployment, service, hpa", READ),
    ("Мониторинг", "Prometheus", "deploy/prometheus.yml, serving/metrics.py", RAN),
    ("Мониторинг", "Evidently", "monitoring/drift.py, monitoring/job.py", RAN),
    ("Автоматизация", "GitHub Actions", ".github/workflows/: ci, continuous-training", READ),
]


def architecture_table(shown: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The slide as a table; ``shown`` overrides how a tool was shown (by tool prefix)."""
    table = pd.DataFrame(ARCHITECTURE, columns=["блок", "инструмент", "в курсе", "как показан"])
    for prefix, status in (shown or {}).items():
        table.loc[table["инструмент"].str.startswith(prefix), "как показан"] = status
    return table


def plot_architecture(table: pd.DataFrame) -> Figure:
    """One column per box of the slide, one card per tool, coloured by how it was shown."""
    rows = table.groupby("блок").size().max()
    fig, ax = plt.subplots(figsize=(15, 1.9 + 1.45 * rows))
    for col, box in enumerate(BOXES):
        ax.text(col + 0.5, rows + 0.25, box, ha="center", va="center", fontsize=12, weight="bold")
        if col:
            ax.annotate("", (col + 0.08, rows + 0.25), (col - 0.08, rows + 0.25),
                        arrowprops={"arrowstyle": "->", "color": "0.4"})  # fmt: skip
        tools = table[table["блок"] == box].reset_index(drop=True)
        for row, tool in tools.iterrows():
            y = rows - row - 0.5
            color = STATUS_COLORS.get(tool["как показан"], "white")
            ax.add_patch(plt.Rectangle((col + 0.05, y - 0.42), 0.9, 0.84, color=color, alpha=0.35))
            ax.text(col + 0.5, y + 0.22, tool["инструмент"], ha="center", fontsize=10.5,
                    weight="bold")  # fmt: skip
            detail = textwrap.fill(tool["в курсе"], 30)
            ax.text(col + 0.5, y - 0.05, detail, ha="center", va="top", fontsize=8.5)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.35) for c in STATUS_COLORS.values()]
    ax.legend(handles, list(STATUS_COLORS), loc="lower center", ncol=3,
              bbox_to_anchor=(0.5, -0.02 - 0.25 / rows), frameon=False)  # fmt: skip
    ax.set(xlim=(0, len(BOXES)), ylim=(0, rows + 0.6))
    ax.axis("off")
    ax.set_title("Архитектурная схема лекции в курсе: блок → инструмент → файл или процесс")
    fig.tight_layout()
    return fig


# --- Reading the files that cannot run here -----------------------------------------------


def decorated_functions(path: str | Path, decorators: Iterable[str]) -> pd.DataFrame:
    """Functions of a Python file decorated with one of ``decorators`` (``task``, ``flow``,
    ``dag``; ``task.short_circuit()`` counts as ``task``), in the order they are defined.

    Columns: ``function``, ``decorator`` (as written, without its arguments), ``name`` (a
    ``name=`` / ``dag_id=`` argument, else the function's name).
    """
    wanted = set(decorators)
    rows = []
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if _decorator_base(decorator) in wanted:
                called = decorator.func if isinstance(decorator, ast.Call) else decorator
                rows.append((node.lineno, node.name, ast.unparse(called), _named(decorator)))
    rows.sort()  # ast.walk goes breadth-first: back to the order of the file
    return pd.DataFrame(
        [(function, text, name or function) for _, function, text, name in rows],
        columns=["function", "decorator", "name"],
    )


def _decorator_base(decorator: ast.expr) -> str | None:
    """``task`` for ``@task``, ``@task(...)`` and ``@task.short_circuit()``."""
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _named(decorator: ast.expr) -> str | None:
    """The ``name=`` or ``dag_id=`` a decorator gives, if it is a constant."""
    for keyword in decorator.keywords if isinstance(decorator, ast.Call) else []:
        if keyword.arg in ("name", "dag_id") and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def dockerfile_instructions(text: str) -> pd.DataFrame:
    """One row per instruction: the instruction, its arguments (continuations joined) and
    the comment lines right above it (the Dockerfile's own explanation of the line)."""
    rows, comment, pending = [], [], None
    for raw in text.splitlines():
        line = raw.strip()
        if pending is None:
            if line.startswith("#"):
                comment.append(line.lstrip("#").strip())
                continue
            if not line:  # a blank line: the comment above explained something else
                comment = []
                continue
            pending = ""
        elif line.startswith("#"):  # Docker allows comments between continued lines
            continue
        pending += " " + line.removesuffix("\\")
        if not line.endswith("\\"):
            instruction, _, arguments = pending.strip().partition(" ")
            rows.append((instruction.upper(), " ".join(arguments.split()), " ".join(comment)))
            comment, pending = [], None
    return pd.DataFrame(rows, columns=["instruction", "arguments", "comment"])


def workflow_steps(path: str | Path) -> pd.DataFrame:
    """Every step of a GitHub Actions workflow: job, step number and name, what it runs."""
    workflow = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rows = [
        (job_id, number, step.get("name") or step["uses"],
         " ".join((step.get("run") or f"uses: {step.get('uses')}").split()))
        for job_id, job in workflow["jobs"].items()
        for number, step in enumerate(job.get("steps", []), start=1)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["job", "number", "step", "runs"])


def workflow_triggers(path: str | Path) -> list[str]:
    """The events that start a workflow (YAML 1.1 reads the key ``on`` as True)."""
    workflow = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))
    return [triggers] if isinstance(triggers, str) else list(triggers)


# --- Kubernetes' autoscaler and the processes a notebook leaves behind ---------------------


def hpa_desired_replicas(
    current: int,
    utilisation: float,
    target: float,
    *,
    min_replicas: int = 1,
    max_replicas: int = 10,
    tolerance: float = 0.1,
) -> int:
    """The HorizontalPodAutoscaler's rule: ceil(current × utilisation / target), unchanged
    within ``tolerance`` of the target (Kubernetes' default 10 %), clamped to [min, max].

    ``utilisation`` and ``target`` are in the same unit (e.g. % of the pod's CPU request).
    """
    ratio = utilisation / target
    desired = current if abs(ratio - 1.0) <= tolerance else math.ceil(current * ratio)
    return min(max(desired, min_replicas), max_replicas)


def still_running(pids: Iterable[int]) -> list[int]:
    """The processes of ``pids`` that still exist and are not zombies (exited, unreaped)."""
    alive = []
    for pid in sorted(set(pids)):
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive
