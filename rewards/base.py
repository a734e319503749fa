"""The reward protocol: (goal, outcome, ground truth of the attempt) → scalar reward."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


class RewardError(ValueError):
    """A reward cannot be built or used: unknown name, bad plugin, unfit checkpoint, bad input."""


@dataclass(frozen=True)
class GraspContext:
    """What is known about one grasp attempt when it is scored.

    Attributes:
        goal_image: outcome image of the goal object from another episode, (H, W, 3) uint8, or None.
        outcome_image: wrist image after the lift, (H, W, 3) uint8.
        lifted: names of the objects lifted (ground truth; only oracle-style rewards read it).
        target: name of the instance task's target object, or None (ground truth, like ``lifted``).
        goal_embedding: optional precomputed goal embedding (D,) float in the scoring reward's own
            space (e.g. φ_o(goal) from the same Grasp2Vec checkpoint); learned rewards use it
            instead of embedding ``goal_image`` when given.
        gripper_aperture: measured fingertip distance after the lift, metres (a robot sensor, not
            ground truth); None (or NaN, as datasets store it) when it was not recorded.
    """

    goal_image: np.ndarray | None
    outcome_image: np.ndarray
    lifted: tuple[str, ...] = field(default=())
    target: str | None = None
    goal_embedding: np.ndarray | None = None
    gripper_aperture: float | None = None


@runtime_checkable
class RewardFunction(Protocol):
    """Scores grasp attempts. ``__call__`` scores one; ``batch`` scores many (replay relabeling).

    ``batch(contexts)[i] == self(contexts[i])`` (up to float rounding) for every reward.
    """

    def __call__(self, context: GraspContext) -> float: ...

    def batch(self, contexts: list[GraspContext]) -> np.ndarray: ...
