"""The course itself as an ML system: lines of code grouped into "hidden technical debt" boxes.

Notebook 02 redraws the famous picture of Sculley et al. (2015), "Hidden Technical Debt in
Machine Learning Systems": the ML code is a small black square among the infrastructure.
Here the boxes are the course's own modules, sized by their non-empty lines.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

ML_BOX = "ML-код"
OTHER_BOX = "Прочая инфраструктура"
# Path prefixes (relative to the package) of each box; the first matching box wins.
BOXES: dict[str, tuple[str, ...]] = {
    ML_BOX: ("model/train.py", "model/evaluate.py"),
    "Сбор и генерация данных": ("scenario/",),
    "Проверка данных": ("model/validation.py",),
    "Сервинг": ("serving/",),
    "Мониторинг и дрейф": ("monitoring/",),
    "Конфигурация и окружение": ("config.py", "versioning/environment.py"),
    "Версии и воспроизводимость": ("versioning/",),
    "Пайплайны и переобучение": ("orchestration/", "automation/", "model/retraining.py"),
}
# Teaching material (quizzes, lab checks, the course's own pictures, notebook helpers) is
# not part of the ML system, so it is left out of the count.
TEACHING = ("classroom/",)


def box_of(relative: str) -> str | None:
    """The box of a module path relative to the package (``None`` for teaching material)."""
    if relative.startswith(TEACHING):
        return None
    for box, prefixes in BOXES.items():
        if relative.startswith(prefixes):
            return box
    return OTHER_BOX


def count_lines(package: Path) -> pd.Series:
    """Non-empty lines of every ``*.py`` file under ``package``, indexed by relative path."""
    return pd.Series(
        {
            path.relative_to(package).as_posix(): sum(
                1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            )
            for path in sorted(package.rglob("*.py"))
        },
        dtype=int,
    )


def lines_by_box(package: Path) -> pd.Series:
    """Non-empty lines per box, largest first; teaching material is excluded."""
    lines = count_lines(package)
    boxes = lines.index.map(box_of)
    counted = lines[boxes.notna()]
    by_box = counted.groupby(boxes[boxes.notna()].to_numpy()).sum()
    return by_box.sort_values(ascending=False, kind="stable").rename("строк")


def plot_system_map(boxes: pd.Series, columns: int = 5) -> Figure:
    """Each box as a square whose area is its line count; the ML code is the black one."""
    cell = np.sqrt(boxes.max()) * 1.3  # every box sits centred in a grid cell
    rows = (len(boxes) + columns - 1) // columns
    width, height = columns * cell, rows * cell * 1.25
    fig, ax = plt.subplots(figsize=(12, 12 * height / width + 0.5))
    for i, (box, count) in enumerate(boxes.items()):
        side, col, row = np.sqrt(count), i % columns, i // columns
        x = col * cell + (cell - side) / 2
        y = (rows - 1 - row) * cell * 1.25 + cell * 0.3
        color, alpha = ("black", 1.0) if box == ML_BOX else ("tab:blue", 0.35)
        ax.add_patch(plt.Rectangle((x, y), side, side, color=color, alpha=alpha))
        label = textwrap.fill(f"{box}: {count}", 20)
        ax.text(col * cell + cell / 2, y - 1, label, ha="center", va="top", fontsize=9)
    ax.set(xlim=(0, width), ylim=(0, height), aspect="equal")
    ax.axis("off")
    ax.set_title("Курс как ML-система: площадь — строки кода, чёрный квадрат — ML-код")
    return fig
