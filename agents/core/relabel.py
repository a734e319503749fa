"""Goal relabeling as in Grasp2Vec (Jang & Devin et al., 2018), section 5.

- **posthoc labels**: an episode whose gripper sensed an object after the lift (``grasped``, the
  robot's own bit, not the simulator's ``lifted``) becomes a success for the goal "what it holds":
  its goal image is replaced by its own outcome image and its last reward set to 1.
- **auxiliary goals**: the episode is also stored with goals drawn from other episodes' outcomes,
  rewarded by the reward function (e.g. the Grasp2Vec cosine) on this episode's outcome. Drawn
  uniformly (the paper), or ``nearest``: the pool's outcomes most like this one under a label-free
  embedding (e.g. Grasp2Vec's φ_o) — other grasps of the same object, and of it with a neighbour,
  which a strict reward tells apart: the hard cases a uniform draw almost never offers.

An episode whose gripper sensed nothing gets reward 0 for every goal (the paper's gripper-closure check).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agents.core.episode import Episode, ObservationFn
from common.protocols import GraspContext, RewardFunction
from envs.grasp_pose import PoseSpace
from envs.heightmap_observation import HEIGHTMAP_KEY


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
ObserveFn = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


class Attempt(Protocol):
    """What relabeling reads of a grasp attempt (an :class:`Episode` or a :class:`Decision`)."""

    goal: np.ndarray | None
    grasped: bool
    outcome: np.ndarray | None
    lifted: tuple[str, ...]
    aperture: float | None


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


def relabeled_goals(attempt: Attempt, reward: RewardFunction, pool: GoalPool, config: RelabelConfig,
                    rng: np.random.Generator) -> list[tuple[np.ndarray, str | None, float]]:
    """(goal image, goal name, reward) of each relabeled copy of ``attempt``, posthoc first, then auxiliary.

    The one relabeling rule every learner uses. Auxiliary goals are drawn from ``pool`` *before* this
    attempt's outcome is added to it; they are scored by ``reward.batch`` when the gripper sensed an
    object (``attempt.grasped``) and get 0 otherwise. A failed attempt without a goal of its own gets
    one pool goal at reward 0, so that failures are stored for goal tasks too.
    """
    single = attempt.lifted[0] if len(attempt.lifted) == 1 else None
    copies: list[tuple[np.ndarray, str | None, float]] = []
    if config.posthoc and attempt.grasped and attempt.outcome is not None:
        copies.append((attempt.outcome, single, 1.0))
    drawn = pool.auxiliary_goals(config, attempt.outcome, attempt.grasped, rng)
    if not drawn and not attempt.grasped and attempt.goal is None:
        drawn = pool.sample(1, rng)
    if drawn and attempt.outcome is not None:
        contexts = [GraspContext(goal_image=g, outcome_image=attempt.outcome, lifted=attempt.lifted, target=name,
                                 gripper_aperture=attempt.aperture) for g, name in drawn]
        scores = reward.batch(contexts) if attempt.grasped else np.zeros(len(drawn), dtype=np.float32)
        copies.extend((g, name, float(s)) for (g, name), s in zip(drawn, scores, strict=True))
    if attempt.grasped and attempt.outcome is not None:
        pool.add(attempt.outcome, single)
    return copies


def relabel_episode(episode: Episode, reward: RewardFunction, pool: GoalPool, config: RelabelConfig,
                    rng: np.random.Generator, observe: ObservationFn | None = None) -> list[Episode]:
    """The episode as stored for a goal-conditioned learner: itself (when it has a goal) and its relabelings
    (:func:`relabeled_goals`); ``observe`` recomputes goal-dependent keys (heatmap, goal embedding).

    Returns:
        Episodes in order: original (if it has a goal), posthoc (if something was lifted), auxiliary.
    """
    result = [episode] if episode.goal is not None else []
    result.extend(episode.with_goal(goal, name, value, observe)
                  for goal, name, value in relabeled_goals(episode, reward, pool, config, rng))
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


@dataclass
class Decision:
    """One grasp-pose decision and what came of it.

    Attributes:
        image: scene image when the pose was chosen, (H, W, 3) uint8.
        pose: normalised pose (3,) the gripper actually closed at.
        reward: the episode's reward for its own goal (goal tasks) or for lifting anything.
        grasped: whether the gripper sensed an object after the lift (the gripper-closure bit, the
            episode's ``grasped``; not ground truth).
        outcome: wrist image after the lift (H, W, 3) uint8, or None.
        goal: the goal image the episode ran with, or None (offline data, indiscriminate task).
        lifted: ground-truth names of what was lifted (only oracle rewards read them).
        aperture: measured fingertip distance after the lift (m); None or NaN when not recorded.
        heightmap: the top-down height map when the pose was chosen, (Hm, Wm, 4) uint8, or None.
    """

    image: np.ndarray
    pose: np.ndarray
    reward: float
    grasped: bool
    outcome: np.ndarray | None
    goal: np.ndarray | None = None
    lifted: tuple[str, ...] = ()
    aperture: float | None = None
    heightmap: np.ndarray | None = None


def decision_from_episode(episode: Episode, space: PoseSpace) -> Decision | None:
    """The decision of a finished episode, or None when it never closed the gripper (cut at ``max_steps``)."""
    if episode.outcome is None:
        return None
    gripper = episode.observations["gripper"][-2]  # observed just before the closing action
    heightmaps = episode.observations.get(HEIGHTMAP_KEY)
    return Decision(image=episode.observations["image"][0], pose=space.from_pose(gripper[[0, 1, 3]]),
                    reward=float(episode.rewards[-1]), grasped=episode.grasped, outcome=episode.outcome,
                    goal=episode.goal, lifted=episode.lifted, aperture=episode.aperture,
                    heightmap=None if heightmaps is None else np.asarray(heightmaps[0]))


class PoseRelabeler:
    """Decision → stored samples: itself (with its goal), posthoc, auxiliary goals (paper, section 5).

    For the indiscriminate task (``observe`` None, no goals) a decision is stored as is. For goal
    tasks, ``observe`` adds the ``heatmap`` of a goal to ``{"image", "goal"}`` batches; a decision
    without a goal of its own that lifted nothing is stored once with a goal from the pool at reward 0.
    ``embed`` (outcome images → embeddings) is needed by ``config.auxiliary_sampling == "nearest"``.
    """

    def __init__(self, reward: RewardFunction, config: RelabelConfig, observe: ObserveFn | None,
                 seed: int = 0, embed: Embed | None = None) -> None:
        self.reward, self.config, self.observe = reward, config, observe
        self.pool = goal_pool(config, embed)
        self.rng = np.random.default_rng(seed)

    def __call__(self, decision: Decision) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
        """(images (B, H, W, 3), heatmaps (B, H, W, 1) or None, poses (B, 3), rewards (B,)); B may be 0."""
        if self.observe is None:
            return decision.image[None], None, decision.pose[None], np.array([decision.reward], np.float32)
        observations, rewards = self.observations(decision)
        if not len(rewards):
            return self._empty(decision)
        images = observations["image"]
        return images, observations["heatmap"], np.broadcast_to(decision.pose, (len(images), 3)), rewards

    def observations(self, decision: Decision) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The stored copies as a batch with their rewards (B,). Goal tasks: ``observe``d (``image``, ``goal``
        (B, H, W, 3) uint8 and the goal features), B may be 0 (then the batch is empty), the pool is updated;
        indiscriminate (no ``observe``): the decision's ``image`` alone (B = 1) with its own reward."""
        if self.observe is None:
            return {"image": decision.image[None]}, np.array([decision.reward], np.float32)
        own = [(decision.goal, decision.reward)] if decision.goal is not None else []
        copies = relabeled_goals(decision, self.reward, self.pool, self.config, self.rng)
        goals = [g for g, _ in own] + [g for g, _, _ in copies]
        rewards = [r for _, r in own] + [r for _, _, r in copies]
        if not goals:
            return {}, np.zeros(0, np.float32)
        images = np.broadcast_to(decision.image, (len(goals), *decision.image.shape))
        observed = self.observe({"image": np.ascontiguousarray(images), "goal": np.stack(goals)})
        return observed, np.asarray(rewards, np.float32)

    @staticmethod
    def _empty(decision: Decision) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = decision.image.shape
        return (np.zeros((0, *s), np.uint8), np.zeros((0, s[0], s[1], 1), np.uint8), np.zeros((0, 3), np.float32),
                np.zeros(0, np.float32))
