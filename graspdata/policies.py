"""Which policy collects the grasps: ``random`` (scripted), a factory ``package.module:callable``, or a
trained policy's checkpoint folder.

- ``random``: :class:`agents.scripted.RandomGraspPolicy`, reseeded for every episode.
- ``package.module:callable``: called as ``callable(env, seed)`` once per episode; returns a
  :class:`agents.base.Policy` (a class with that constructor works).
- a checkpoint folder written by ``runs.train_policy`` (``policy.json`` + weights): loaded once per
  worker with :func:`agents.loading.load_policy`. It must be an indiscriminate policy (no goal
  input). Scene images are resized to the resolution it was trained at. Each episode calls its
  ``reset()`` and, when it has one, ``seed(seed)``; without ``seed`` a stochastic policy's
  actions depend on which worker ran the episode (the scenes still do not).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.base import Policy

PolicyFactory = Callable[[gym.Env, int], Policy]
INDISCRIMINATE_ENV = "KukaGrasp-v0"


def import_object(spec: str) -> Any:
    """The object named by ``package.module:attribute``; raises ``ValueError`` naming what is missing."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'package.module:attribute', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r} for {spec!r}: {error}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None


def _random_policy(env: gym.Env, seed: int) -> Policy:
    from agents.scripted import RandomGraspPolicy

    return RandomGraspPolicy(env.unwrapped.config, seed=seed)


class _ResizedObservations:
    """Shows a policy the scene image at the resolution it was trained at."""

    def __init__(self, policy: Policy, size: int) -> None:
        self.policy, self.size = policy, size

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        from agents.images import resize_images

        image = resize_images(observation["image"][None], self.size).numpy()[0]
        return self.policy.act({**observation, "image": image})


class _CheckpointPolicy:
    """Loads a trained policy once per worker and reseeds it for each episode."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.policy: Policy | None = None

    def __call__(self, env: gym.Env, seed: int) -> Policy:
        if self.policy is None:
            from agents.loading import load_policy

            policy, card = load_policy(self.folder)
            size = card.get("world", {}).get("image_size")
            if size is not None and size != env.unwrapped.config.camera.image_size:
                policy = _ResizedObservations(policy, int(size))
            self.policy = policy
        seed_policy = getattr(getattr(self.policy, "policy", self.policy), "seed", None)
        if callable(seed_policy):
            seed_policy(seed)
        return self.policy


def _check_indiscriminate(folder: Path, card: dict[str, Any]) -> None:
    env_id = card.get("env_id", INDISCRIMINATE_ENV)
    if env_id != INDISCRIMINATE_ENV or card.get("goal_features", "none") != "none":
        raise ValueError(f"policy {folder} was trained on {env_id} with goal features "
                         f"{card.get('goal_features')!r}; collection needs an indiscriminate policy "
                         "(runs.train_policy --reward indiscriminate)")


def check_policy_spec(spec: str) -> None:
    """Fail early, in the driver, on a spec no worker could resolve."""
    if spec == "random":
        return
    path = Path(spec).expanduser()
    if path.exists():
        from agents.loading import POLICY_CARD

        if not (path / POLICY_CARD).is_file():
            raise ValueError(f"policy folder {path} holds no {POLICY_CARD} (not a runs.train_policy checkpoint)")
        _check_indiscriminate(path, json.loads((path / POLICY_CARD).read_text()))
        return
    if ":" not in spec:
        raise ValueError(f"unknown policy {spec!r}: use 'random', package.module:callable, or a checkpoint folder")
    if not callable(import_object(spec)):
        raise ValueError(f"policy factory {spec!r} is not callable")


def policy_factory(spec: str) -> PolicyFactory:
    """A per-episode policy factory ``(env, seed) -> Policy`` for the spec (see the module docstring)."""
    check_policy_spec(spec)
    if spec == "random":
        return _random_policy
    path = Path(spec).expanduser()
    if path.exists():
        return _CheckpointPolicy(path)
    return import_object(spec)
