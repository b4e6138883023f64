"""The ML project lifecycle as a recorded loop: stages, their artefacts and timings.

Notebook 03 runs the whole loop (framing -> data -> validation -> training -> evaluation
-> registration -> deployment -> monitoring -> retraining trigger -> data again) with the
course's helpers. ``LifecycleLog`` records what each stage produced and how long it took,
``plot_lifecycle`` draws the loop and the timeline from that record, and
``deployment_problems`` ties the lecture's deployment problems to numbers of the run
(``markdown_table`` shows it).
The system parts of the loop live on the system side: the retraining decision in
``automation.triggers``, the side-by-side quality of two models in ``model.evaluate``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
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

    def seconds_after(self, stage: str, turn: int) -> float:
        """Seconds of the stages of ``turn`` recorded after its first ``stage`` record.

        E.g. ``seconds_after("trigger", 2)``: from the retraining decision to the end of
        the turn (validation, training, ..., the new version in the service).
        """
        records = [r for r in self.records if r.turn == turn]
        stages = [r.stage for r in records]
        if stage not in stages:
            raise ValueError(f"В витке {turn} нет этапа {stage!r}: записаны {stages}.")
        return float(sum(r.seconds for r in records[stages.index(stage) + 1 :]))


NOT_SHOWN = "не показано в этом запуске"


def _miscalibration(row: Mapping[str, float]) -> float:
    """How far the late orders a model promises are from the late orders there were."""
    return abs(row[MEAN_PROBABILITY] - row["late_rate"])


def deployment_problems(
    *,
    stale: Mapping[str, float],
    fresh: Mapping[str, float],
    n_settings: int,
    n_pinned_packages: int,
    deploy_seconds: float,
    untuned_threshold_cost: float,
    retrain_seconds: float,
    stale_extra_cost: float,
) -> pd.DataFrame:
    """The lecture's deployment problems, their consequences and a number of this run each.

    ``stale`` and ``fresh`` are rows of ``compare_quality`` for the model without and with
    retraining, scored on the same orders; costs are in roubles per 1000 orders, times in
    seconds. A row whose number points the other way (retraining did not help, the
    untuned threshold was not dearer, ...) says so instead of claiming the consequence, and
    so does the row no run can show (the wait for someone to start the second turn).
    """
    untuned = format_roubles(untuned_threshold_cost, signed=True)
    extra = format_roubles(stale_extra_cost, signed=True)
    worse = stale["roc_auc"] < fresh["roc_auc"] and stale["log_loss"] > fresh["log_loss"]
    distrust = _miscalibration(stale) > _miscalibration(fresh)
    rows = [
        (
            "Сложность настройки окружения",
            "Увеличение времени на внедрение",
            f"настроек сервиса вручную: {n_settings}, закреплённых версий пакетов модели: "
            f"{n_pinned_packages}; от запуска сервиса до готовности: {deploy_seconds:.1f} с",
        ),
        (
            "Необходимость ручной настройки параметров",
            "Рост затрат",
            f"{untuned} на 1000 заказов, если порог оставить 0.5 вместо подобранного на валидации"
            if untuned_threshold_cost > 0
            else f"{NOT_SHOWN}: порог 0.5 обошёлся не дороже подобранного ({untuned})",
        ),
        (
            "Отсутствие мониторинга и управления",
            "Снижение точности модели",
            f"ROC AUC {fresh['roc_auc']:.3f} → {stale['roc_auc']:.3f}, log loss "
            f"{fresh['log_loss']:.3f} → {stale['log_loss']:.3f} без переобучения"
            if worse
            else f"{NOT_SHOWN}: без переобучения ROC AUC и log loss не хуже",
        ),
        (
            "Отсутствие мониторинга и управления",
            "Снижение доверия к системе",
            f"без переобучения обещает {stale[MEAN_PROBABILITY]:.0%} опозданий, а их "
            f"{stale['late_rate']:.0%} (переобученная — {fresh[MEAN_PROBABILITY]:.0%})"
            if distrust
            else f"{NOT_SHOWN}: без переобучения модель откалибрована не хуже",
        ),
        (
            "Нехватка ресурсов для поддержки",
            "Увеличение времени на внедрение",
            # the run starts its second turn by code: the wait for someone to do it is absent
            f"{NOT_SHOWN}: здесь виток запускает код — от решения переобучать до новой версии "
            f"в сервисе {retrain_seconds:.1f} с; сколько виток ждал бы, пока его некому "
            "запустить, симуляция не моделирует",
        ),
        (
            "Нехватка ресурсов для поддержки",
            "Рост затрат",
            f"{extra} на 1000 заказов, пока отвечает устаревшая модель (у каждой версии свой порог)"
            if stale_extra_cost > 0
            else f"{NOT_SHOWN}: устаревшая модель обошлась не дороже ({extra})",
        ),
    ]
    return pd.DataFrame(rows, columns=["проблема", "последствие", "число из этого запуска"])


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table, without padding.

    Padding (as in ``DataFrame.to_markdown``) would make every row depend on the longest
    cell, so one measured time would change the whole output; unpadded, a duration stays
    in its own cell, where the test sanitiser blanks it.
    """
    lines = [" | ".join(map(str, frame.columns)), " | ".join("---" for _ in frame.columns)]
    lines += [" | ".join(map(str, row)) for row in frame.itertuples(index=False)]
    return "\n".join(f"| {line} |" for line in lines)


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
    ax.set_xlim(left=0)
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
