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


class SingleObjectReward(_PerItem):
    """1 when exactly one object, whichever, was lifted; else 0: the indiscriminate task without
    two-object lifts, for a grasp prior that learns to singulate (``--task indiscriminate``).

    Ground truth, like the oracle: the robot's own senses do not tell a two-object lift from a one-object
    lift (docs/results-log.md, session 17), so this reward is a probe of what a singulation bit would buy.
    """

    reads_ground_truth = True

    def __call__(self, context: GraspContext) -> float:
        return float(len(context.lifted) == 1)
