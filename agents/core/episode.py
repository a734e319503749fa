"""One grasp episode as stored for off-policy learning, and where episodes come from.

An :class:`Episode` holds T steps: observations (T+1 of each key), actions (T, 5), rewards (T,).
Episodes are the unit of relabeling (:mod:`agents.core.relabel`) and of replay insertion
(:mod:`agents.replay`): relabeling swaps the goal of a whole episode and rescores its last step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.core.images import resize_images
from envs.heightmap_observation import HEIGHTMAP_KEY

ObservationFn = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class Episode:
    """A finished attempt.

    Attributes:
        observations: key → array (T+1, ...) (``image`` uint8 (T+1, H, W, C), ``gripper`` (T+1, 5), ...).
        actions: (T, 5) float32 in [-1, 1].
        rewards: (T,) float32; only the grasp step is non-zero in this task.
        terminated: True when the episode ended by a grasp or a fault (no bootstrap from the last
            state), False when it was cut at ``max_steps``.
        grasped: whether the gripper sensed an object after the lift (its aperture stayed above the
            closed-on-nothing aperture by the margin, ``info["grasp_sensed"]`` online, the record's
            ``grasp_sensed`` offline) and no fault occurred: the paper's gripper-closure bit, never
            the simulator's ``lifted``. Posthoc relabeling only uses episodes where it is True.
        outcome: wrist image after the lift (H, W, 3) uint8, or None when no grasp was attempted.
        aperture: measured fingertip distance after the lift (m); None or NaN when not recorded.
        goal: the goal image the episode was run with, or None (indiscriminate task).
        goal_name: ground-truth name of the goal object when known (only oracle rewards read it).
        lifted: ground-truth names of the lifted objects (only oracle-style rewards read it).
    """

    observations: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    grasped: bool = False
    outcome: np.ndarray | None = None
    goal: np.ndarray | None = None
    goal_name: str | None = None
    lifted: tuple[str, ...] = field(default=())
    aperture: float | None = None

    def __post_init__(self) -> None:
        steps = len(self.actions)
        if steps < 1:
            raise ValueError("an episode needs at least one step")
        if self.actions.ndim != 2 or self.rewards.shape != (steps,):
            raise ValueError(f"actions must be (T, A) and rewards (T,), got {self.actions.shape}, {self.rewards.shape}")
        for key, value in self.observations.items():
            if len(value) != steps + 1:
                raise ValueError(f"observation {key!r} has {len(value)} entries, expected T+1 = {steps + 1}")

    def __len__(self) -> int:
        return len(self.actions)

    def with_goal(self, goal: np.ndarray, goal_name: str | None, final_reward: float,
                  observe: ObservationFn | None = None) -> Episode:
        """A copy with another goal and last-step reward; ``observe`` recomputes goal-dependent keys."""
        observations = dict(self.observations)
        observations["goal"] = np.broadcast_to(goal, (len(self) + 1, *goal.shape)).copy()
        if observe is not None:
            observations = observe(observations)
        rewards = np.zeros_like(self.rewards)
        rewards[-1] = final_reward
        return dataclasses.replace(self, observations=observations, rewards=rewards, goal=goal, goal_name=goal_name)


class EpisodeRecorder:
    """Builds an :class:`Episode` from ``env.reset`` / ``env.step`` results.

    The env must be a Kuka grasp env (or a wrapper of one): the grasp step's ``info`` carries
    ``outcome_image``, ``grasp_sensed`` (which sets ``Episode.grasped``) and ``ground_truth.lifted``
    (kept only as names for oracle rewards).
    """

    def __init__(self, goal_name_key: str = "target") -> None:
        self.goal_name_key = goal_name_key
        self._observations: list[dict[str, np.ndarray]] = []
        self._actions: list[np.ndarray] = []
        self._rewards: list[float] = []

    def start(self, observation: Mapping[str, np.ndarray]) -> None:
        self._observations = [dict(observation)]
        self._actions, self._rewards = [], []

    def step(self, action: np.ndarray, observation: Mapping[str, np.ndarray], reward: float) -> None:
        if not self._observations:
            raise RuntimeError("EpisodeRecorder.start(observation) must be called after env.reset")
        self._actions.append(np.asarray(action, dtype=np.float32))
        self._observations.append(dict(observation))
        self._rewards.append(float(reward))

    def finish(self, terminated: bool, info: Mapping[str, Any]) -> Episode:
        """The episode so far, ended with the last step's ``terminated`` flag and ``info``."""
        truth = info.get("ground_truth", {})
        lifted = tuple(truth.get("lifted", ()))
        keys = self._observations[0].keys()
        observations = {k: np.stack([o[k] for o in self._observations]) for k in keys}
        goal = observations["goal"][0] if "goal" in observations else None
        episode = Episode(observations=observations, actions=np.stack(self._actions),
                          rewards=np.asarray(self._rewards, dtype=np.float32), terminated=terminated,
                          grasped=bool(info.get("grasp_sensed", False)) and info.get("fault") is None,
                          outcome=info.get("outcome_image"),
                          goal=goal, goal_name=truth.get(self.goal_name_key), lifted=lifted,
                          aperture=info.get("gripper_aperture"))
        self._observations = []
        return episode


def episodes_from_dataset(dataset: Any, image_size: int | None = None, reward_on_success: float = 1.0,
                          lifted: Callable[[int], tuple[str, ...]] | None = None) -> Iterator[Episode]:
    """Episodes from an ``embedding.dataset.EpisodeDataset`` (all attempts, failed ones too); an item's
    ``heightmap`` (data collected with ``--heightmap``) becomes the observation key of the same name.

    Each item ``{"images", "gripper", "actions", "grasp_sensed", "success", "outcome"}`` becomes an
    indiscriminate episode (no goal): ``grasped`` is the record's sensed bit, and the last step pays
    ``reward_on_success`` when it is set (``success``, ground truth, is read only to attach ``lifted``). An
    item without ``terminated`` counts as terminated (collected attempts end with a grasp), one
    without ``grasp_attempted`` as attempted. With
    ``image_size``, scene and outcome images are resized to it (the policy's resolution).
    Relabeling (:func:`agents.core.relabel.relabel_episode`) then turns sensed grasps into goal episodes.
    ``lifted`` (item index → names of the objects it lifted) attaches ground truth for rewards that
    read it (the oracle); without it, offline episodes carry no names.
    """
    for index in range(len(dataset)):
        item = dataset[index]
        images, outcome = np.asarray(item["images"]), np.asarray(item["outcome"], dtype=np.uint8)
        if image_size is not None:
            images = resize_images(images, image_size).numpy()
            outcome = resize_images(outcome[None], image_size).numpy()[0]
        gripper = np.asarray(item["gripper"], dtype=np.float32)
        actions = np.asarray(item["actions"], dtype=np.float32)
        if "grasp_sensed" not in item:
            raise KeyError(f"dataset item {index} has no 'grasp_sensed' bit (keys {sorted(item)}); read episodes "
                           "with graspdata.reader.EpisodeDataset, which provides it")
        grasped, success = bool(item["grasp_sensed"]), bool(item["success"])
        rewards = np.zeros(len(actions), dtype=np.float32)
        rewards[-1] = reward_on_success if grasped else 0.0
        observations = {"image": images, "gripper": gripper}
        if HEIGHTMAP_KEY in item:  # one scan per attempt: every step saw it (envs.heightmap_observation)
            scan = item[HEIGHTMAP_KEY]
            observations[HEIGHTMAP_KEY] = np.broadcast_to(scan, (len(images), *scan.shape))
        yield Episode(observations=observations, actions=actions, rewards=rewards,
                      terminated=bool(item.get("terminated", True)), grasped=grasped,
                      outcome=outcome if item.get("grasp_attempted", True) else None,
                      aperture=item.get("aperture"), lifted=lifted(index) if lifted is not None and success else ())
