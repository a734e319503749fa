"""Swappable reward functions: see :mod:`common.protocols` for the protocol, :mod:`rewards.registry` to choose one."""

from common.protocols import GraspContext, RewardError, RewardFunction
from rewards.ground_truth import IndiscriminateReward, OracleReward, SingleObjectReward
from rewards.registry import available_rewards, make_reward, parse_reward_kwargs, register_reward

__all__ = [
    "GraspContext", "IndiscriminateReward", "OracleReward", "RewardError", "RewardFunction", "SingleObjectReward",
    "available_rewards", "make_reward", "parse_reward_kwargs", "register_reward",
]
