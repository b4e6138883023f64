"""The map of the course: notebooks and labs in lecture order (used by 00 and the recap).

Whether a notebook or lab is ready is read from the checkout (its generated file exists),
never written by hand, so the map cannot claim a notebook that is not there yet.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown

from mlops_course.config import repo_root

# (number, file stem, Russian title, lecture part)
NOTEBOOKS = [
    ("00", "00_course_map", "Карта курса", "Введение"),
    ("01", "01_why_mlops", "Что такое MLOps и зачем он нужен", "Введение"),
    ("02", "02_devops_dataops_mlops", "От DevOps к DataOps и MLOps", "Введение"),
    ("03", "03_ml_lifecycle", "Жизненный цикл ML-проекта", "Введение"),
    ("04", "04_data_drift", "Дрейф данных", "Проблемы production ML"),
    ("05", "05_concept_drift", "Концептуальный дрейф", "Проблемы production ML"),
    ("06", "06_reproducibility", "Воспроизводимость", "Проблемы production ML"),
    ("07", "07_scalability", "Масштабируемость", "Проблемы production ML"),
    ("08", "08_maturity_level_0", "Уровень зрелости 0", "Уровни зрелости"),
    ("09", "09_maturity_level_1", "Уровень зрелости 1", "Уровни зрелости"),
    ("10", "10_maturity_level_2", "Уровень зрелости 2", "Уровни зрелости"),
    ("11", "11_tools_and_architecture", "Инструменты и архитектура", "Инструменты"),
    ("12", "12_summary", "Итоги", "Инструменты"),
]

# (file stem, what the student builds, the notebooks it follows)
LABS = [
    ("lab01_data_validation", "схема и проверки, ловящие плохие батчи", "02"),
    ("lab02_drift_detection", "PSI и многомерный детектор дрейфа с поправкой", "04–05"),
    ("lab03_reproducible_pipeline", "стадия DVC + запуск MLflow, воспроизводимые побитно", "06"),
    ("lab04_serving_monitoring", "эндпоинт и метрика сервиса, плохой ввод, нагрузка", "07, 10"),
    ("lab05_continuous_training", "триггер, ворота качества, выкатка и откат", "09–10"),
    ("lab06_capstone", "весь стек: от данных до сервиса с мониторингом", "11"),
]

# Words too long for a box on the map, with a hyphen where Russian allows a break.
HYPHENATED = {
    "Концептуальный": "Концептуаль-\nный",
    "Воспроизводимость": "Воспроизво-\nдимость",
    "Масштабируемость": "Масштаби-\nруемость",
}

PART_COLORS = {
    "Введение": "#4C72B0",
    "Проблемы production ML": "#DD8452",
    "Уровни зрелости": "#55A868",
    "Инструменты": "#8172B3",
}


READY = "готов"
PLANNED = "готовится"
START_HERE = "01"
"""The first notebook with content: where a new student starts."""


def is_ready(folder: str, stem: str, root: Path | None = None) -> bool:
    """Whether ``<folder>/<stem>.ipynb`` exists in the checkout (``folder``: notebooks, labs)."""
    root = root or repo_root()
    return root is not None and (root / folder / f"{stem}.ipynb").is_file()


def notebooks_table(root: Path | None = None) -> pd.DataFrame:
    table = pd.DataFrame(NOTEBOOKS, columns=["№", "файл", "тема", "часть лекции"]).set_index("№")
    table["статус"] = [
        READY if is_ready("notebooks", stem, root) else PLANNED for stem in table["файл"]
    ]
    return table


def labs_table(root: Path | None = None) -> pd.DataFrame:
    table = pd.DataFrame(LABS, columns=["лабораторная", "что строит студент", "после ноутбуков"])
    table["статус"] = [
        READY if is_ready("labs", stem, root) else PLANNED for stem in table["лабораторная"]
    ]
    return table


def _link(label: str, target: str, ready: bool) -> str:
    return f"[{label}]({target})" if ready else f"{label} (готовится)"


def notebooks_markdown(root: Path | None = None) -> Markdown:
    """The notebook table with clickable links (relative to ``notebooks/``); planned ones
    are plain text marked «готовится», and the first notebook to open is marked."""
    rows = ["| № | ноутбук | тема | часть лекции |", "|---|---|---|---|"]
    for number, row in notebooks_table(root).iterrows():
        ready = row["статус"] == READY
        name = _link(row["файл"], f"{row['файл']}.ipynb", ready)
        if number == START_HERE:
            name = f"**{name} ← начните отсюда**"
        rows.append(f"| {number} | {name} | {row['тема']} | {row['часть лекции']} |")
    return Markdown("\n".join(rows))


def labs_markdown(root: Path | None = None) -> Markdown:
    """The lab table with links to the student's own copy (``my_labs/``, made by ``make lab``
    and on Binder) and to the solution (``solutions/``)."""
    rows = [
        "| лабораторная | что строит студент | после ноутбуков | решение |",
        "|---|---|---|---|",
    ]
    for _, row in labs_table(root).iterrows():
        stem, ready = row["лабораторная"], row["статус"] == READY
        solution = f"[решение](../solutions/{stem}.ipynb)" if ready else "—"
        lab = _link(stem, f"../my_labs/{stem}.ipynb", ready)
        rows.append(
            f"| {lab} | {row['что строит студент']} | {row['после ноутбуков']} | {solution} |"
        )
    return Markdown("\n".join(rows))


def wrap_title(title: str, width: int = 11) -> str:
    """Wrap a title for a narrow box, hyphenating the long words where Russian allows it.

    A plain ``textwrap.fill`` cuts long words without a hyphen ("Воспроизвод" / "имость"),
    which reads as a typo.
    """
    text = textwrap.fill(title, width, break_long_words=False, break_on_hyphens=False)
    for word, hyphenated in HYPHENATED.items():
        text = text.replace(word, hyphenated)
    return text


def plot_course_map(root: Path | None = None) -> plt.Figure:
    """The notebooks as a path through the lecture's parts, labs hanging below it.

    Planned notebooks are pale and hatched; the first notebook to open is marked.
    """
    fig, ax = plt.subplots(figsize=(15, 4.6))
    for index, (number, stem, title, part) in enumerate(NOTEBOOKS):
        ready = is_ready("notebooks", stem, root)
        ax.add_patch(
            plt.Rectangle(
                (index, 1),
                0.92,
                1,
                facecolor=PART_COLORS[part],
                alpha=0.9 if ready else 0.3,
                hatch=None if ready else "//",
                edgecolor="white",
            )
        )
        color = "white" if ready else "black"
        ax.text(index + 0.46, 1.8, number, ha="center", color=color, weight="bold", fontsize=11)
        label = wrap_title(title) + ("" if ready else "\n(готовится)")
        ax.text(index + 0.46, 1.38, label, ha="center", va="center", fontsize=8, color=color)
        if number == START_HERE:
            ax.annotate(
                "начните\nотсюда",
                (index + 0.46, 2.0),
                (index + 0.46, 2.35),
                ha="center",
                fontsize=9,
                weight="bold",
                arrowprops={"arrowstyle": "->", "color": "black"},
            )
    positions = {number: index for index, (number, *_) in enumerate(NOTEBOOKS)}
    for lab_index, (stem, _, after) in enumerate(LABS):
        x = positions[after[:2]] + 0.45
        ax.annotate(
            stem.split("_", 1)[0],
            (x, 1),
            (x, 0.35 - 0.12 * (lab_index % 2)),
            ha="center",
            fontsize=10,
            arrowprops={"arrowstyle": "-", "color": "grey"},
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for color in PART_COLORS.values()]
    ax.legend(
        handles,
        PART_COLORS,
        loc="upper center",
        ncol=4,
        bbox_to_anchor=(0.5, 0.02),
        frameon=False,
        fontsize=10,
    )
    ax.set(xlim=(-0.1, len(NOTEBOOKS)), ylim=(0, 2.6))
    ax.set_title("Карта курса: ноутбуки и лабораторные", fontsize=13)
    ax.axis("off")
    return fig
