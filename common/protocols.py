"""The interfaces every layer shares: policies, rewards, what a grasp attempt knows, and the policy card.

Nothing here imports the rest of the project, so the world (``envs``), the data (``graspdata``), the
rewards and the agents can all speak these types without importing each other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from common.io import atomic_write_text

POLICY_CARD = "policy.json"
INDISCRIMINATE_ENV = "KukaGrasp-v0"
INSTANCE_ENV = "KukaInstanceGrasp-v0"
TASK_ENVS = {"indiscriminate": INDISCRIMINATE_ENV, "instance": INSTANCE_ENV}


@runtime_checkable
class Policy(Protocol):
    """Maps an observation to an action ``[dx, dy, dz, dyaw, close]`` in ``[-1, 1]``, shape (5,)."""

    def reset(self) -> None:
        """Forget per-episode state; called after every ``env.reset``."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """Action for one observation (a dict of numpy arrays as the environment returns it)."""


class RewardError(ValueError):
    """A reward cannot be built or used: unknown name, bad plugin, unfit checkpoint, bad input."""


@dataclass(frozen=True)
class GraspContext:
    """What is known about one grasp attempt when it is scored.

    Attributes:
        goal_image: outcome image of the goal object from another episode, (H, W, 3) uint8, or None.
        outcome_image: wrist image after the lift, (H, W, 3) uint8.
        lifted: names of the objects lifted (ground truth; only oracle-style rewards read it).
        target: name of the instance task's target object, or None (ground truth, like ``lifted``).
        goal_embedding: optional precomputed goal embedding (D,) float in the scoring reward's own
            space (e.g. φ_o(goal) from the same Grasp2Vec checkpoint); learned rewards use it
            instead of embedding ``goal_image`` when given.
        gripper_aperture: measured fingertip distance after the lift, metres (a robot sensor, not
            ground truth); None (or NaN, as datasets store it) when it was not recorded.
    """

    goal_image: np.ndarray | None
    outcome_image: np.ndarray
    lifted: tuple[str, ...] = field(default=())
    target: str | None = None
    goal_embedding: np.ndarray | None = None
    gripper_aperture: float | None = None


@runtime_checkable
class RewardFunction(Protocol):
    """Scores grasp attempts. ``__call__`` scores one; ``batch`` scores many (replay relabeling).

    ``batch(contexts)[i] == self(contexts[i])`` (up to float rounding) for every reward.
    """

    def __call__(self, context: GraspContext) -> float: ...

    def batch(self, contexts: list[GraspContext]) -> np.ndarray: ...


@dataclass(frozen=True)
class PolicyCard:
    """``policy.json``: what a trained policy needs from its world, written beside its weights.

    Attributes:
        algo: the learner that trained it (``qtopt-pose``, ``sac-pose``).
        reward: the reward it was trained on (a registry name or ``package.module:Class``).
        world: the world settings it was trained in (objects, num_objects, image_size, max_steps, ...).
        env_id: the Gymnasium id of its task (``KukaGrasp-v0`` or ``KukaInstanceGrasp-v0``).
        goal_features: ``none``, ``heatmap``, ``embedding`` or ``both``: the Grasp2Vec observation
            channels it reads; ``goal_features_config`` their exact settings.
        grasp2vec: the Grasp2Vec checkpoint its goal features come from, and that file's SHA-256.
        init_from: the checkpoint its grasp prior was copied from, if any.
        heightmap: the height-map sensor it reads (``envs.heightmap.HeightmapConfig`` as a dict), or
            None when it reads none.
        wrist_view: it reads the wrist camera at every step (observation ``wrist``, the scene image's size).
    """

    algo: str
    reward: str
    world: dict[str, Any]
    env_id: str = INDISCRIMINATE_ENV
    goal_features: str = "none"
    goal_features_config: dict[str, Any] | None = None
    grasp2vec: str | None = None
    grasp2vec_sha256: str | None = None
    init_from: str | None = None
    heightmap: dict[str, Any] | None = None
    wrist_view: bool = False

    @property
    def task(self) -> str:
        """``indiscriminate`` or ``instance``: the task its ``env_id`` names."""
        return next((task for task, env in TASK_ENVS.items() if env == self.env_id), self.env_id)

    def save(self, folder: str | Path) -> None:
        """Write ``folder/policy.json`` atomically."""
        atomic_write_text(Path(folder) / POLICY_CARD, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> PolicyCard:
        """Read ``folder/policy.json``.

        Raises:
            FileNotFoundError: the folder holds no ``policy.json``.
            ValueError: the file is not a policy card (unknown or missing keys, bad JSON).
        """
        path = Path(folder) / POLICY_CARD
        if not path.is_file():
            raise FileNotFoundError(f"{folder} holds no {POLICY_CARD}: not a policy checkpoint folder")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown policy card keys {unknown}; this code reads {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ValueError(f"{path}: not a policy card ({error})") from None
