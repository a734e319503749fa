"""Rewards that read the simulator's ground truth (for ablations and the indiscriminate task)."""

from __future__ import annotations

import numpy as np

from common.protocols import GraspContext

BINARY_THRESHOLD = 0.5  # a 0/1 reward counts an attempt as a success at or above this


class _PerItem:
    """Batched scoring by scoring each context in turn."""

    threshold: float = BINARY_THRESHOLD

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        return np.array([self(c) for c in contexts], dtype=np.float32)  # type: ignore[operator]


class OracleReward(_PerItem):
    """1 when the target object, and only it, was lifted; else 0.

    ``reads_ground_truth``: training code gives it the names of what offline attempts lifted
    (``runs.train_policy``), which the label-free rewards never see.
    """

    reads_ground_truth = True

    def __call__(self, context: GraspContext) -> float:
        return float(context.target is not None and context.lifted == (context.target,))


class IndiscriminateReward(_PerItem):
    """1 when anything was lifted; else 0."""

    def __call__(self, context: GraspContext) -> float:
        return float(len(context.lifted) > 0)
