"""A/B routing: champion and challenger side by side, each order on one of them.

Each order id goes to a variant by a *deterministic* hash: the same order always sees the
same model (in every process, after every restart), and the challenger gets a stable,
configurable share of the traffic. The current setup is one immutable ``Deployment``
object; switching or rolling back the challenger replaces that object in one assignment,
so a request in flight finishes with the setup it started with and no restart is needed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mlops_course.serving.schemas import OrdersBatch

CHAMPION = "champion"
CHALLENGER = "challenger"
VARIANTS = (CHAMPION, CHALLENGER)


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and what the service reports about it."""

    model: Any
    """Anything with ``predict_proba(frame)`` (a scikit-learn pipeline in the course)."""
    name: str
    version: str
    uri: str
    alias: str | None = None
    run_id: str | None = None
    metrics: dict[str, float] | None = None

    def info(self) -> dict[str, Any]:
        """JSON-ready description (``GET /model``)."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "uri": self.uri,
            "run_id": self.run_id,
            "metrics": dict(self.metrics or {}),
        }


def route_buckets(order_ids: np.ndarray, salt: str = "") -> np.ndarray:
    """A uniform number in [0, 1) per order id, fixed by (id, salt): the routing hash.

    A splitmix64 mix of the id, vectorised in numpy: no Python ``hash`` (randomised per
    process) and no per-row loop.
    """
    salt_value = int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "little")
    x = np.asarray(order_ids).astype(np.uint64) ^ np.uint64(salt_value)
    with np.errstate(over="ignore"):  # the mixing relies on wrap-around multiplication
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class Prediction:
    """The answer for one batch, row by row."""

    probability: np.ndarray
    label: np.ndarray
    is_challenger: np.ndarray

    def variants(self) -> list[str]:
        if not self.is_challenger.any():
            return [CHAMPION] * len(self.probability)
        return np.where(self.is_challenger, CHALLENGER, CHAMPION).tolist()


@dataclass(frozen=True)
class Deployment:
    """What is being served right now: the champion, maybe a challenger and its share."""

    champion: ServedModel
    challenger: ServedModel | None = None
    challenger_share: float = 0.0
    salt: str = "ab-test"
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.challenger_share <= 1.0:
            raise ValueError(
                f"Доля challenger должна быть в [0, 1], получено {self.challenger_share}"
            )

    @property
    def ab_active(self) -> bool:
        return self.challenger is not None and self.challenger_share > 0.0

    def assign(self, order_ids: np.ndarray) -> np.ndarray:
        """True where the order goes to the challenger."""
        if not self.ab_active:
            return np.zeros(len(order_ids), dtype=bool)
        return route_buckets(order_ids, self.salt) < self.challenger_share

    def predict(self, batch: OrdersBatch) -> Prediction:
        """Route the rows, score each group with its model, put the answers back in order."""
        is_challenger = self.assign(batch.order_ids)
        n_challenger = int(is_challenger.sum())
        if n_challenger == 0:
            probability = _positive_proba(self.champion, batch.features())
        elif n_challenger == batch.n_rows:
            probability = _positive_proba(self.challenger, batch.features())
        else:
            probability = np.empty(batch.n_rows, dtype=np.float64)
            probability[~is_challenger] = _positive_proba(
                self.champion, batch.features(~is_challenger)
            )
            probability[is_challenger] = _positive_proba(
                self.challenger, batch.features(is_challenger)
            )
        label = (probability >= self.threshold).astype(np.int64)
        return Prediction(probability=probability, label=label, is_challenger=is_challenger)

    def versions(self, prediction: Prediction) -> list[str]:
        """The model version that answered each row."""
        if not prediction.is_challenger.any():
            return [self.champion.version] * len(prediction.probability)
        return np.where(
            prediction.is_challenger, self.challenger.version, self.champion.version
        ).tolist()

    def with_challenger(self, challenger: ServedModel | None, share: float) -> Deployment:
        """A new deployment with another challenger (``None`` = roll back to champion only)."""
        return replace(self, challenger=challenger, challenger_share=share if challenger else 0.0)

    def info(self) -> dict[str, Any]:
        return {
            CHAMPION: self.champion.info(),
            CHALLENGER: self.challenger.info() if self.challenger else None,
            "challenger_share": self.challenger_share if self.challenger else 0.0,
            "threshold": self.threshold,
        }


def _positive_proba(served: ServedModel, frame: Any) -> np.ndarray:
    # A contiguous copy: orjson serialises only C-contiguous arrays.
    return np.ascontiguousarray(served.model.predict_proba(frame)[:, 1], dtype=np.float64)
