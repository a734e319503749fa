"""Success rate of a policy on fresh episodes (seeds disjoint from training)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np

from agents.base import Policy

if TYPE_CHECKING:  # the Wilson interval below is used without gymnasium (embedding evaluation)
    import gymnasium as gym

EVAL_SEED_OFFSET = 10_000_000  # evaluation resets use seeds from here on; training uses seeds below


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % by default) of a success proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(policy: Policy, env: gym.Env, episodes: int, seed: int = 0) -> dict[str, float]:
    """Run ``episodes`` episodes (reset seeds ``EVAL_SEED_OFFSET + seed * episodes + i``) and count
    ``info["is_success"]`` at the end of each. Returns success_rate, its Wilson 95 % bounds, episodes, seconds."""
    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    start, successes = time.perf_counter(), 0
    for i in range(episodes):
        observation, info = env.reset(seed=EVAL_SEED_OFFSET + seed * episodes + i)
        policy.reset()
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(np.asarray(policy.act(observation)))
            done = terminated or truncated
        successes += bool(info.get("is_success", False))
    low, high = wilson_interval(successes, episodes)
    return {"success_rate": successes / episodes, "success_low": low, "success_high": high,
            "episodes": float(episodes), "seconds": time.perf_counter() - start}
