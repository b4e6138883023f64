"""The ML project lifecycle as a recorded loop: stages, their artefacts and timings.

Notebook 03 runs the whole loop (framing -> data -> validation -> training -> evaluation
-> registration -> deployment -> monitoring -> retraining trigger -> data again) with the
course's helpers. ``LifecycleLog`` records what each stage produced and how long it took,
``plot_lifecycle`` draws the loop and the timeline from that record, and
``retraining_trigger`` turns a monitoring result into the decision to go round again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

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


def retraining_trigger(
    drift_detected: bool,
    live_metric: float,
    reference_metric: float,
    metric: str = "log_loss",
    tolerance: float = 0.05,
    lower_is_better: bool = True,
) -> tuple[bool, list[str]]:
    """Should we go round the loop again? Returns the decision and the reasons (Russian).

    Retrain when the monitoring found data drift, or when the live quality is worse than
    the quality measured at training time by more than ``tolerance`` (metric units).
    """
    reasons = []
    if drift_detected:
        reasons.append("обнаружен дрейф данных")
    if not math.isnan(live_metric):
        loss = live_metric - reference_metric if lower_is_better else reference_metric - live_metric
        if loss > tolerance:
            reasons.append(
                f"{metric} ухудшился на {loss:.3f} (допуск {tolerance}): "
                f"{reference_metric:.3f} -> {live_metric:.3f}"
            )
    return bool(reasons), reasons


def confident_wrong_share(y_true: Any, probability: Any, confidence: float = 0.8) -> float:
    """Share of orders where the model was confident (p ≥ c or p ≤ 1 - c) and wrong.

    These are the mistakes that destroy trust: the model "was sure" and it was not so.
    """
    y_true = np.asarray(y_true).astype(bool)
    probability = np.asarray(probability, dtype=float)
    sure_late = probability >= confidence
    sure_on_time = probability <= 1.0 - confidence
    wrong = (sure_late & ~y_true) | (sure_on_time & y_true)
    return float(wrong.mean()) if len(y_true) else math.nan


LOOP_RADII = (1.5, 1.1)  # an ellipse: wide boxes need more room side by side


def _loop_positions(n: int) -> np.ndarray:
    # Clockwise from the top, like a clock face.
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return np.column_stack([LOOP_RADII[0] * np.cos(angles), LOOP_RADII[1] * np.sin(angles)])


def _draw_loop(ax: plt.Axes, log: LifecycleLog) -> None:
    stages = [s for s in STAGES if any(r.stage == s for r in log.records)] or list(STAGES)
    positions = _loop_positions(len(stages))
    for i, stage in enumerate(stages):
        x, y = positions[i]
        lines = [STAGE_TITLES[stage]]
        for record in (r for r in log.records if r.stage == stage):
            text = f"{record.turn}: {record.artefact}" if record.artefact else f"{record.turn}:"
            lines.append(f"{text} ({record.seconds:.1f} с)")
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.4, y - 0.14), 0.8, 0.28, boxstyle="round,pad=0.02",
                facecolor="whitesmoke", edgecolor="dimgray",
            )
        )  # fmt: skip
        ax.text(x, y + 0.07, lines[0], ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x, y - 0.04, "\n".join(lines[1:]), ha="center", va="center", fontsize=7)
    for i in range(len(stages)):
        start, end = positions[i], positions[(i + 1) % len(stages)]
        ax.add_patch(
            FancyArrowPatch(
                start + 0.35 * (end - start), start + 0.65 * (end - start),
                arrowstyle="-|>", mutation_scale=12, color="gray",
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
