"""The map of the course: notebooks and labs in lecture order (used by 00 and the recap)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd

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
    ("lab05_continuous_training", "триггер переобучения с порогом качества", "09–10"),
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


def notebooks_table() -> pd.DataFrame:
    return pd.DataFrame(NOTEBOOKS, columns=["№", "файл", "тема", "часть лекции"]).set_index("№")


def labs_table() -> pd.DataFrame:
    return pd.DataFrame(LABS, columns=["лабораторная", "что строит студент", "после ноутбуков"])


def wrap_title(title: str, width: int = 11) -> str:
    """Wrap a title for a narrow box, hyphenating the long words where Russian allows it.

    A plain ``textwrap.fill`` cuts long words without a hyphen ("Воспроизвод" / "имость"),
    which reads as a typo.
    """
    text = textwrap.fill(title, width, break_long_words=False, break_on_hyphens=False)
    for word, hyphenated in HYPHENATED.items():
        text = text.replace(word, hyphenated)
    return text


def plot_course_map() -> plt.Figure:
    """The notebooks as a path through the lecture's parts, labs hanging below it."""
    fig, ax = plt.subplots(figsize=(14, 3.8))
    for index, (number, _, title, part) in enumerate(NOTEBOOKS):
        ax.add_patch(plt.Rectangle((index, 1), 0.9, 1, color=PART_COLORS[part], alpha=0.85))
        ax.text(index + 0.45, 1.72, number, ha="center", color="white", weight="bold")
        ax.text(
            index + 0.45,
            1.35,
            wrap_title(title),
            ha="center",
            va="center",
            fontsize=7,
            color="white",
        )
    positions = {number: index for index, (number, *_) in enumerate(NOTEBOOKS)}
    for lab_index, (stem, _, after) in enumerate(LABS):
        x = positions[after[:2]] + 0.45
        ax.annotate(
            stem.split("_", 1)[0],
            (x, 1),
            (x, 0.35 - 0.12 * (lab_index % 2)),
            ha="center",
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "grey"},
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for color in PART_COLORS.values()]
    ax.legend(
        handles,
        PART_COLORS,
        loc="upper center",
        ncol=4,
        bbox_to_anchor=(0.5, 1.22),
        frameon=False,
        fontsize=8,
    )
    ax.set(xlim=(-0.1, len(NOTEBOOKS)), ylim=(0, 2.1), title="Карта курса: ноутбуки и лабораторные")
    ax.title.set_position((0.5, 1.15))
    ax.axis("off")
    return fig
