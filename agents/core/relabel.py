"""Goal relabeling as in Grasp2Vec (Jang & Devin et al., 2018), section 5.

- **posthoc labels**: an episode that lifted something becomes a success for the goal "what it
  lifted": its goal image is replaced by its own outcome image and its last reward set to 1.
- **auxiliary goals**: the episode is also stored with goals drawn from other episodes' outcomes,
  rewarded by the reward function (e.g. the Grasp2Vec cosine) on this episode's outcome. Drawn
  uniformly (the paper), or ``nearest``: the pool's outcomes most like this one under a label-free
  embedding (e.g. Grasp2Vec's φ_o) — other grasps of the same object, and of it with a neighbour,
  which a strict reward tells apart: the hard cases a uniform draw almost never offers.

An episode that lifted nothing gets reward 0 for every goal (the paper's gripper-closure check).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agents.core.episode import Episode, ObservationFn
from common.protocols import GraspContext, RewardFunction


@dataclass(frozen=True)
class RelabelConfig:
    """Which relabeled copies of each episode enter the replay buffer."""

    posthoc: bool = True
    auxiliary_goals: int = 0  # goals drawn from the pool per episode, scored by the reward function
    pool_size: int = 1000  # recent successful outcomes kept as auxiliary goals
    auxiliary_sampling: str = "uniform"  # "uniform" or "nearest" (needs an embedding, see GoalPool)

    def __post_init__(self) -> None:
        if self.auxiliary_goals < 0 or self.pool_size < 1:
            raise ValueError(f"auxiliary_goals must be >= 0 and pool_size >= 1, got {self.auxiliary_goals}, "
                             f"{self.pool_size}")
        if self.auxiliary_sampling not in AUXILIARY_SAMPLING:
            raise ValueError(f"auxiliary_sampling must be one of {AUXILIARY_SAMPLING}, got {self.auxiliary_sampling!r}")


AUXILIARY_SAMPLING = ("uniform", "nearest")
Embed = Callable[[np.ndarray], np.ndarray]  # uint8 images (B, H, W, 3) -> float32 embeddings (B, D)
Goal = tuple[np.ndarray, str | None]  # outcome image, ground-truth name of the single lifted object (or None)


class GoalPool:
    """Recent outcome images of successful grasps (with the ground-truth name when known).

    Args:
        capacity: entries kept; the oldest are dropped.
        embed: when given, every added image is embedded (L2-normalised) so that :meth:`nearest` can
            rank the pool by cosine similarity to a query image.
    """

    def __init__(self, capacity: int, embed: Embed | None = None) -> None:
        self.entries: deque[Goal] = deque(maxlen=capacity)
        self.embed = embed
        self._keys: np.ndarray | None = None  # (capacity, D) unit rows, ring-indexed like the deque
        self._added = 0
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (image, unit key) of the latest embedding

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, image: np.ndarray, name: str | None) -> None:
        self.entries.append((np.asarray(image, dtype=np.uint8), name))
        if self.embed is not None:
            key = self._unit(image)
            if self._keys is None:
                self._keys = np.zeros((self.entries.maxlen or 1, len(key)), np.float32)
            self._keys[self._added % len(self._keys)] = key
        self._added += 1

    def sample(self, count: int, rng: np.random.Generator) -> list[Goal]:
        """``count`` entries drawn with replacement; empty when the pool is."""
        if not self.entries:
            return []
        return [self.entries[int(i)] for i in rng.integers(len(self.entries), size=count)]

    def nearest(self, image: np.ndarray, count: int) -> list[Goal]:
        """The ``count`` entries most similar to ``image`` (cosine of embeddings), most similar first."""
        if self.embed is None:
            raise ValueError("GoalPool.nearest needs the pool to be built with an embed function")
        if not self.entries or count == 0:
            return []
        capacity = len(self._keys)
        similarity = self._keys[:len(self.entries)] @ self._unit(image)
        slots = np.argsort(-similarity, kind="stable")[:count]
        oldest = self._added - len(self.entries)  # the deque's entry 0 sits in ring slot oldest % capacity
        return [self.entries[(int(s) - oldest) % capacity] for s in slots]

    def _unit(self, image: np.ndarray) -> np.ndarray:
        """Unit embedding of one image. Relabeling queries :meth:`nearest` with an outcome and then
        passes the same outcome to :meth:`add`, so the latest image's key is reused instead of recomputed."""
        image = np.asarray(image, np.uint8)
        if self._last is not None and np.array_equal(self._last[0], image):
            return self._last[1]
        key = np.asarray(self.embed(image[None]), np.float32)[0]
        key = key / max(float(np.linalg.norm(key)), 1e-8)
        self._last = (image.copy(), key)
        return key

    def auxiliary_goals(self, config: RelabelConfig, outcome: np.ndarray | None, grasped: bool,
                        rng: np.random.Generator) -> list[Goal]:
        """The auxiliary goals ``config`` asks for: nearest to a lifted ``outcome`` or uniform draws."""
        if config.auxiliary_sampling == "nearest" and grasped and outcome is not None:
            return self.nearest(outcome, config.auxiliary_goals)
        return self.sample(config.auxiliary_goals, rng)


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
    goals = pool.auxiliary_goals(config, episode.outcome, episode.grasped, rng)
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
                 observe: ObservationFn | None = None, embed: Embed | None = None) -> None:
        self.reward = reward
        self.config = config
        self.pool = goal_pool(config, embed)
        self.rng = np.random.default_rng(seed)
        self.observe = observe

    def __call__(self, episode: Episode) -> list[Episode]:
        return relabel_episode(episode, self.reward, self.pool, self.config, self.rng, self.observe)


def goal_pool(config: RelabelConfig, embed: Embed | None) -> GoalPool:
    """The goal pool ``config`` needs; ``nearest`` sampling refuses to run without an embedding."""
    if config.auxiliary_sampling == "nearest" and embed is None:
        raise ValueError("auxiliary_sampling='nearest' needs an embedding of outcome images (e.g. Grasp2Vec's φ_o); "
                         "none was given")
    return GoalPool(config.pool_size, embed if config.auxiliary_sampling == "nearest" else None)
