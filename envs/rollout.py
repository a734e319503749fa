"""The one episode loop: a policy acts on observations until the episode terminates or is truncated."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from common.protocols import Policy


def act_until_done(env: gym.Env, policy: Policy, observation: dict[str, np.ndarray]
                   ) -> tuple[dict[str, np.ndarray], dict[str, Any], int]:
    """Step ``env`` with ``policy.act`` from ``observation`` (just after a reset) until the episode ends.

    Returns:
        (last observation, last ``info``, steps taken).
    """
    done, steps, info = False, 0, {}
    while not done:
        observation, _, terminated, truncated, info = env.step(np.asarray(policy.act(observation)))
        done, steps = terminated or truncated, steps + 1
    return observation, info, steps


def play_episode(env: gym.Env, policy: Policy, seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any], int]:
    """Reset ``env`` with ``seed`` and ``policy``, then :func:`act_until_done`; returns the same triple."""
    observation, _ = env.reset(seed=seed)
    policy.reset()
    return act_until_done(env, policy, observation)
