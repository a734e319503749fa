"""Goal relabeling as in Grasp2Vec (Jang & Devin et al., 2018), section 5.

- **posthoc labels**: an episode that lifted something becomes a success for the goal "what it
  lifted": its goal image is replaced by its own outcome image and its last reward set to 1.
- **auxiliary goals**: the episode is also stored with goals drawn from other episodes' outcomes,
  rewarded by the reward function (e.g. the Grasp2Vec cosine) on this episode's outcome.

An episode that lifted nothing gets reward 0 for every goal (the paper's gripper-closure check).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from agents.episode import Episode, ObservationFn
from rewards.base import GraspContext, RewardFunction


@dataclass(frozen=True)
class RelabelConfig:
    """Which relabeled copies of each episode enter the replay buffer."""

    posthoc: bool = True
    auxiliary_goals: int = 0  # goals drawn from the pool per episode, scored by the reward function
    pool_size: int = 1000  # recent successful outcomes kept as auxiliary goals

    def __post_init__(self) -> None:
        if self.auxiliary_goals < 0 or self.pool_size < 1:
            raise ValueError(f"auxiliary_goals must be >= 0 and pool_size >= 1, got {self.auxiliary_goals}, "
                             f"{self.pool_size}")


class GoalPool:
    """Recent outcome images of successful grasps (with the ground-truth name when known)."""

    def __init__(self, capacity: int) -> None:
        self.entries: deque[tuple[np.ndarray, str | None]] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, image: np.ndarray, name: str | None) -> None:
        self.entries.append((np.asarray(image, dtype=np.uint8), name))

    def sample(self, count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, str | None]]:
        """``count`` entries drawn with replacement; empty when the pool is."""
        if not self.entries:
            return []
        return [self.entries[int(i)] for i in rng.integers(len(self.entries), size=count)]


def relabel_episode(episode: Episode, reward: RewardFunction, pool: GoalPool, config: RelabelConfig,
                    rng: np.random.Generator, observe: ObservationFn | None = None) -> list[Episode]:
    """The episode as stored for a goal-conditioned learner: itself (when it has a goal) and its relabelings.

    Args:
        episode: a finished episode with raw observations (``image``, ``gripper``[, ``goal``]).
        reward: scores auxiliary goals: ``reward.batch`` on (goal, this outcome) contexts.
        pool: auxiliary goals are drawn from it *before* this episode's outcome is added to it.
        config: which copies to make.
        observe: recomputes goal-dependent observation keys (heatmap, goal embedding) for a new goal.

    Returns:
        Episodes in order: original (if it has a goal), posthoc (if something was lifted), auxiliary.
    """
    result = [episode] if episode.goal is not None else []
    single = episode.lifted[0] if len(episode.lifted) == 1 else None
    if config.posthoc and episode.grasped and episode.outcome is not None:
        result.append(episode.with_goal(episode.outcome, single, 1.0, observe))
    goals = pool.sample(config.auxiliary_goals, rng)
    if goals and episode.outcome is not None:
        contexts = [GraspContext(goal_image=g, outcome_image=episode.outcome, lifted=episode.lifted, target=name,
                                 gripper_aperture=episode.aperture) for g, name in goals]
        scores = reward.batch(contexts) if episode.grasped else np.zeros(len(goals), dtype=np.float32)
        result.extend(episode.with_goal(g, name, float(s), observe) for (g, name), s in zip(goals, scores, strict=True))
    if episode.grasped and episode.outcome is not None:
        pool.add(episode.outcome, single)
    return result


class Relabeler:
    """:func:`relabel_episode` with its reward, goal pool, settings, RNG and observation hook bundled."""

    def __init__(self, reward: RewardFunction, config: RelabelConfig = RelabelConfig(), seed: int = 0,
                 observe: ObservationFn | None = None) -> None:
        self.reward = reward
        self.config = config
        self.pool = GoalPool(config.pool_size)
        self.rng = np.random.default_rng(seed)
        self.observe = observe

    def __call__(self, episode: Episode) -> list[Episode]:
        return relabel_episode(episode, self.reward, self.pool, self.config, self.rng, self.observe)
