"""The reward protocol: (goal, outcome, ground truth of the attempt) → scalar reward."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class GraspContext:
    """What is known about one grasp attempt when it is scored.

    Attributes:
        goal_image: outcome image of the goal object from another episode, (H, W, 3) uint8, or None.
        outcome_image: wrist image after the lift, (H, W, 3) uint8.
        lifted: names of the objects lifted (ground truth; only oracle-style rewards read it).
        target: name of the instance task's target object, or None.
    """

    goal_image: np.ndarray | None
    outcome_image: np.ndarray
    lifted: tuple[str, ...] = field(default=())
    target: str | None = None


@runtime_checkable
class RewardFunction(Protocol):
    """Scores grasp attempts. ``__call__`` scores one; ``batch`` scores many (replay relabeling)."""

    def __call__(self, context: GraspContext) -> float: ...

    def batch(self, contexts: list[GraspContext]) -> np.ndarray: ...
