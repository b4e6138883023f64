"""The ML project lifecycle as a recorded loop: stages, their artefacts and timings.

Notebook 03 runs the whole loop (framing -> data -> validation -> training -> evaluation
-> registration -> deployment -> monitoring -> retraining trigger -> data again) with the
course's helpers. ``LifecycleLog`` records what each stage produced and how long it took,
``plot_lifecycle`` draws the loop and the timeline from that record, and
``deployment_problems`` ties the lecture's deployment problems to numbers of the run.
The system parts of the loop live on the system side: the retraining decision in
``automation.triggers``, the side-by-side quality of two models in ``model.evaluate``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from mlops_course.model.evaluate import MEAN_PROBABILITY, format_roubles

STAGES = (
    "framing",
    "data",
    "validation",
    "training",
    "evaluation",
    "registration",
    "deployment",
    "monitoring",
    "trigger",
)
STAGE_TITLES = {
    "framing": "Постановка задачи",
    "data": "Данные",
    "validation": "Валидация",
    "training": "Обучение",
    "evaluation": "Оценка",
    "registration": "Регистрация",
    "deployment": "Развёртывание",
    "monitoring": "Мониторинг",
    "trigger": "Триггер переобучения",
}
TURN_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple")


@dataclass(frozen=True)
class StageRecord:
    """One pass through one stage of the loop."""

    turn: int
    stage: str
    seconds: float
    artefact: str


class LifecycleLog:
    """What every stage of every turn of the loop produced, and how long it took."""

    def __init__(self) -> None:
        self.records: list[StageRecord] = []

    @contextmanager
    def stage(self, stage: str, turn: int) -> Iterator[dict[str, str]]:
        """Time a stage; set ``note["artefact"]`` inside the block to record what it made.

        The record is kept even when the block fails, so the figure shows where it stopped.
        """
        if stage not in STAGES:
            raise ValueError(f"Неизвестный этап {stage!r}; допустимые: {', '.join(STAGES)}.")
        note = {"artefact": ""}
        start = time.perf_counter()
        try:
            yield note
        finally:
            seconds = time.perf_counter() - start
            self.records.append(StageRecord(turn, stage, seconds, note["artefact"]))

    def add(self, stage: str, turn: int, seconds: float, artefact: str = "") -> None:
        """Record a stage timed elsewhere (e.g. split across several notebook cells)."""
        if stage not in STAGES:
            raise ValueError(f"Неизвестный этап {stage!r}; допустимые: {', '.join(STAGES)}.")
        self.records.append(StageRecord(turn, stage, float(seconds), artefact))

    def table(self, with_seconds: bool = False) -> pd.DataFrame:
        """One row per recorded stage: turn, stage (Russian), artefact [, seconds]."""
        columns = ["turn", "stage", "artefact"] + (["seconds"] if with_seconds else [])
        rows = [
            {
                "turn": r.turn,
                "stage": STAGE_TITLES[r.stage],
                "artefact": r.artefact,
                "seconds": round(r.seconds, 2),
            }
            for r in self.records
        ]
        return pd.DataFrame(rows, columns=columns)

    def seconds_by_turn(self) -> pd.Series:
        """Total seconds of each turn of the loop."""
        frame = pd.DataFrame([r.__dict__ for r in self.records], columns=["turn", "seconds"])
        return frame.groupby("turn")["seconds"].sum()

    @property
    def n_steps(self) -> int:
        """Stages run by hand so far (each one a cell somebody had to execute)."""
        return len(self.records)


def deployment_problems(
    *,
    stale: pd.Series,
    fresh: pd.Series,
    n_settings: int,
    n_pinned_packages: int,
    untuned_threshold_cost: float,
    stale_extra_cost: float,
    n_steps: int,
    n_turns: int = 2,
) -> pd.DataFrame:
    """The lecture's deployment problems, their consequences and a number of this run each.

    ``stale`` and ``fresh`` are rows of ``compare_quality`` (the model without and with
    retraining); costs are in roubles per 1000 orders.
    """
    rows = [
        (
            "Сложность настройки окружения",
            "Увеличение времени на внедрение",
            f"{n_settings} настройки сервиса вручную, {n_pinned_packages} "
            "закреплённых версий пакетов модели",
        ),
        (
            "Необходимость ручной настройки параметров",
            "Рост затрат",
            f"{format_roubles(untuned_threshold_cost, signed=True)} на 1000 заказов, "
            "если порог оставить 0.5",
        ),
        (
            "Отсутствие мониторинга и управления",
            "Снижение точности модели",
            f"ROC AUC {fresh['roc_auc']:.3f} → {stale['roc_auc']:.3f}, log loss "
            f"{fresh['log_loss']:.3f} → {stale['log_loss']:.3f} без переобучения",
        ),
        (
            "Отсутствие мониторинга и управления",
            "Снижение доверия к системе",
            f"обещает {stale[MEAN_PROBABILITY]:.0%} опозданий, а их {stale['late_rate']:.0%}",
        ),
        (
            "Нехватка ресурсов для поддержки",
            "Увеличение времени на внедрение",
            f"{n_steps} шагов вручную за {n_turns} витка цикла",
        ),
        (
            "Нехватка ресурсов для поддержки",
            "Рост затрат",
            f"{format_roubles(stale_extra_cost, signed=True)} на 1000 заказов "
            "за устаревшую модель при том же пороге",
        ),
    ]
    return pd.DataFrame(rows, columns=["проблема", "последствие", "число из этого запуска"])


LOOP_RADII = (1.5, 1.1)  # an ellipse: wide boxes need more room side by side


def _loop_positions(n: int) -> np.ndarray:
    # Clockwise from the top, like a clock face.
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return np.column_stack([LOOP_RADII[0] * np.cos(angles), LOOP_RADII[1] * np.sin(angles)])


def _draw_loop(ax: plt.Axes, log: LifecycleLog) -> None:
    stages = [s for s in STAGES if any(r.stage == s for r in log.records)] or list(STAGES)
    positions = _loop_positions(len(stages))
    boxes = []
    for i, stage in enumerate(stages):
        x, y = positions[i]
        lines = [STAGE_TITLES[stage]]
        for record in (r for r in log.records if r.stage == stage):
            text = f"{record.turn}: {record.artefact}" if record.artefact else f"{record.turn}:"
            lines.append(f"{text} ({record.seconds:.1f} с)")
        box = FancyBboxPatch(
            (x - 0.4, y - 0.14), 0.8, 0.28, boxstyle="round,pad=0.02",
            facecolor="whitesmoke", edgecolor="dimgray",
        )  # fmt: skip
        boxes.append(ax.add_patch(box))
        ax.text(x, y + 0.07, lines[0], ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x, y - 0.04, "\n".join(lines[1:]), ha="center", va="center", fontsize=7)
    for i in range(len(stages)):
        following = (i + 1) % len(stages)
        # Centre to centre, clipped at both boxes' edges: the arrow never crosses a title.
        ax.add_patch(
            FancyArrowPatch(
                positions[i], positions[following], patchA=boxes[i], patchB=boxes[following],
                shrinkA=4, shrinkB=4, arrowstyle="-|>", mutation_scale=12, color="gray",
                connectionstyle="arc3,rad=-0.2",
            )
        )  # fmt: skip
    ax.text(0, 0, "цикл\nповторяется", ha="center", va="center", fontsize=10, color="gray")
    ax.set_xlim(-LOOP_RADII[0] - 0.45, LOOP_RADII[0] + 0.45)
    ax.set_ylim(-LOOP_RADII[1] - 0.2, LOOP_RADII[1] + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Жизненный цикл: этапы и артефакты (номер витка: артефакт, время)")


def _draw_timeline(ax: plt.Axes, log: LifecycleLog) -> None:
    clock = 0.0
    labels = []
    for row, record in enumerate(log.records):
        color = TURN_COLORS[(record.turn - 1) % len(TURN_COLORS)]
        ax.barh(row, record.seconds, left=clock, color=color, height=0.7)
        labels.append(f"{record.turn}: {STAGE_TITLES[record.stage]}")
        clock += record.seconds
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("время от начала, с")
    ax.set_title("Хронология витков (цвет — номер витка)")
    ax.grid(axis="x", alpha=0.3)


def plot_lifecycle(log: LifecycleLog) -> Figure:
    """The loop (boxes with artefacts and seconds) and the timeline (Gantt) of a run."""
    fig, (loop_ax, time_ax) = plt.subplots(
        1, 2, figsize=(15, 7), gridspec_kw={"width_ratios": [1.3, 1]}
    )
    _draw_loop(loop_ax, log)
    _draw_timeline(time_ax, log)
    fig.tight_layout()
    return fig
