"""Reward classes loaded by path in the registry tests."""

from __future__ import annotations

import numpy as np

from common.protocols import GraspContext


class ScaledLiftReward:
    """``scale`` when anything was lifted, else 0."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, context: GraspContext) -> float:
        return self.scale * float(bool(context.lifted))

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        return np.array([self(c) for c in contexts], dtype=np.float32)


class NoBatchReward:
    """Scores one attempt but has no ``batch``: does not follow the protocol."""

    def __call__(self, context: GraspContext) -> float:
        return 0.0


NOT_A_CLASS = 3
