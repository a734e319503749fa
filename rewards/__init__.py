"""Swappable reward functions: see :mod:`rewards.base` for the protocol."""

from rewards.base import GraspContext, RewardFunction
from rewards.ground_truth import IndiscriminateReward, OracleReward

__all__ = ["GraspContext", "IndiscriminateReward", "OracleReward", "RewardFunction"]
