"""Success rate of a policy on fresh episodes (seeds disjoint from training)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from common.protocols import Policy
from common.stats import wilson_interval
from envs.rollout import play_episode

if TYPE_CHECKING:
    import gymnasium as gym

EVAL_SEED_OFFSET = 10_000_000  # evaluation resets use seeds from here on; training uses seeds below


def evaluate(policy: Policy, env: gym.Env, episodes: int, seed: int = 0) -> dict[str, float]:
    """Run ``episodes`` episodes (reset seeds ``EVAL_SEED_OFFSET + seed * episodes + i``) and count
    ``info["is_success"]`` at the end of each. Returns success_rate, its Wilson 95 % bounds, episodes, seconds."""
    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    start, successes = time.perf_counter(), 0
    for i in range(episodes):
        _, info, _ = play_episode(env, policy, EVAL_SEED_OFFSET + seed * episodes + i)
        successes += bool(info.get("is_success", False))
    low, high = wilson_interval(successes, episodes)
    return {"success_rate": successes / episodes, "success_low": low, "success_high": high,
            "episodes": float(episodes), "seconds": time.perf_counter() - start}
