"""An in-memory model registry for the simulated year: versions and three aliases.

The same aliases and the same moves as ``versioning.registry`` (which is MLflow's):
``promote`` makes a version ``champion`` and the old champion ``previous_champion``;
``rollback`` gives ``champion`` back to ``previous_champion``. In memory, because a year
of weekly retrains through MLflow would take minutes; the notebooks show the real registry
for a few steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlops_course.versioning.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION


@dataclass(frozen=True, eq=False)
class ShelvedModel:
    """One trained model and what is known about it."""

    version: int
    model: Any
    threshold: float
    """Alarm threshold tuned on the model's validation orders."""
    trained_on: tuple[int, ...]
    """Weeks of the training orders (negative: the history before the year)."""
    trained_week: int
    """The week at whose end it was trained (-1: before the year)."""
    data_valid: bool | None
    """Every training batch passed validation; None: the policy did not validate."""
    reference_metrics: dict[str, float]
    """Its metrics on its own validation orders, at training time."""
    late_rate: float
    """Share of late orders in its training data (the fallback rule uses it)."""
    features: pd.DataFrame = field(repr=False)
    """Its training orders: the reference of the drift check."""
    validation: pd.DataFrame = field(repr=False)
    """The latest 25 % of its training orders: not fitted on (the gate compares on them)."""
    validation_scores: Any = field(default=None, repr=False)
    """Its P(late) on ``validation``."""
    bad_weeks: tuple[int, ...] = ()
    """Training weeks broken by a data-quality incident (the simulation's knowledge)."""


class ModelShelf:
    """Versions 1, 2, ... and the aliases ``champion``, ``challenger``, ``previous_champion``."""

    def __init__(self) -> None:
        self.versions: dict[int, ShelvedModel] = {}
        self.aliases: dict[str, int] = {}
        self.rolled_back: set[int] = set()

    def next_version(self) -> int:
        return len(self.versions) + 1

    def add(self, model: ShelvedModel) -> ShelvedModel:
        if model.version != self.next_version():
            raise ValueError(
                f"Версии идут по порядку: ожидалась v{self.next_version()}, а не v{model.version}."
            )
        self.versions[model.version] = model
        return model

    def get(self, alias: str) -> ShelvedModel | None:
        version = self.aliases.get(alias)
        return None if version is None else self.versions[version]

    @property
    def champion(self) -> ShelvedModel:
        champion = self.get(CHAMPION)
        if champion is None:
            raise LookupError("Чемпиона ещё нет: сначала promote(версия).")
        return champion

    def set_alias(self, alias: str, version: int) -> None:
        if version not in self.versions:
            raise LookupError(f"Версии v{version} нет на полке (есть: {sorted(self.versions)}).")
        self.aliases[alias] = version

    def promote(self, version: int) -> None:
        """``version`` becomes champion; the old champion becomes previous_champion."""
        current = self.aliases.get(CHAMPION)
        self.set_alias(CHAMPION, version)
        if current is not None and current != version:
            self.aliases[PREVIOUS_CHAMPION] = current
        if self.aliases.get(CHALLENGER) == version:
            del self.aliases[CHALLENGER]
        self.rolled_back.discard(version)

    def rollback(self) -> int:
        """Champion back to previous_champion (which is then unset); return that version."""
        previous = self.aliases.pop(PREVIOUS_CHAMPION, None)
        if previous is None:
            raise LookupError("Откат невозможен: нет предыдущего чемпиона (previous_champion).")
        current = self.aliases.get(CHAMPION)
        self.aliases[CHAMPION] = previous
        if current is not None and current != previous:
            self.rolled_back.add(current)
        return previous
