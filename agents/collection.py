"""Trained indiscriminate policies as grasp collectors: the checkpoint-folder kind of collection policy.

:func:`policy_factory` accepts every spec :mod:`graspdata.policies` does, plus a checkpoint folder
written by ``runs.train_policy`` (``policy.json`` + weights). The folder's policy is loaded once per
worker with :func:`agents.loading.load_policy`; it must be an indiscriminate policy (no goal input).
Scene images are resized to the resolution it was trained at. Each episode calls its ``reset()``
and, when it has one, ``seed(seed)``; without ``seed`` a stochastic policy's actions depend on
which worker ran the episode (the scenes still do not).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.core.images import resize_images
from common.protocols import INDISCRIMINATE_ENV, Policy, PolicyCard
from graspdata import policies
from graspdata.policies import PolicyFactory


class ResizedObservations:
    """Shows a policy the scene image at the resolution it was trained at."""

    def __init__(self, policy: Policy, size: int) -> None:
        self.policy, self.size = policy, size

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        image = resize_images(observation["image"][None], self.size).numpy()[0]
        return self.policy.act({**observation, "image": image})


class CheckpointPolicy:
    """A picklable factory: loads a trained policy once per worker and reseeds it for each episode."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.policy: Policy | None = None

    def __call__(self, env: gym.Env, seed: int) -> Policy:
        if self.policy is None:
            from agents.loading import load_policy

            policy, card = load_policy(self.folder)
            size = card.world.get("image_size")
            if size is not None and size != env.unwrapped.config.camera.image_size:
                policy = ResizedObservations(policy, int(size))
            self.policy = policy
        inner = self.policy.policy if isinstance(self.policy, ResizedObservations) else self.policy
        seed_policy = getattr(inner, "seed", None)
        if callable(seed_policy):
            seed_policy(seed)
        return self.policy


def check_indiscriminate(folder: Path) -> None:
    """Refuse a policy that needs a goal: collection runs the indiscriminate task.

    Raises:
        ValueError: the folder holds no policy card, or its policy was trained for another task.
    """
    try:
        card = PolicyCard.load(folder)
    except FileNotFoundError:
        raise ValueError(f"policy folder {folder} holds no policy.json (not a runs.train_policy checkpoint)") from None
    if card.env_id != INDISCRIMINATE_ENV or card.goal_features != "none":
        raise ValueError(f"policy {folder} was trained on {card.env_id} with goal features "
                         f"{card.goal_features!r}; collection needs an indiscriminate policy "
                         "(runs.train_policy --task indiscriminate)")


def policy_factory(spec: str) -> PolicyFactory:
    """``(env, seed) -> Policy`` for ``random``, ``package.module:callable`` or a checkpoint folder."""
    path = Path(spec).expanduser()
    if spec != "random" and path.exists():
        check_indiscriminate(path)
        return CheckpointPolicy(path)
    return policies.policy_factory(spec)
