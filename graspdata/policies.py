"""Which policy collects the grasps: ``random`` (scripted) or a factory ``package.module:callable``.

- ``random``: :class:`envs.scripted.RandomGraspPolicy`, reseeded for every episode.
- ``package.module:callable``: called as ``callable(env, seed)`` once per episode; returns a
  :class:`common.protocols.Policy` (a class with that constructor works). The collector renders the scene image once
  per attempt unless ``CollectConfig.scene_each_step`` (``--scene-each-step``): a closed-loop policy that reads the
  image at every step needs it.

A trained policy's checkpoint folder is a third kind of spec; the agents layer resolves it
(:func:`agents.collection.policy_factory`) and hands the factory to :func:`graspdata.collect.collect`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

from common.protocols import Policy
from envs.scripted import RandomGraspPolicy

PolicyFactory = Callable[[gym.Env, int], Policy]


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


def random_policy(env: gym.Env, seed: int) -> Policy:
    """The scripted random grasp, seeded for one episode."""
    return RandomGraspPolicy(env.unwrapped.config, seed=seed)


def policy_factory(spec: str) -> PolicyFactory:
    """A per-episode policy factory ``(env, seed) -> Policy`` for ``random`` or ``package.module:callable``.

    Raises:
        ValueError: the spec is unknown, names nothing importable or callable, or is a checkpoint
            folder (which :func:`agents.collection.policy_factory` resolves).
    """
    if spec == "random":
        return random_policy
    if Path(spec).expanduser().exists():
        raise ValueError(f"policy {spec!r} is a folder: a trained policy's checkpoint is loaded by "
                         "agents.collection.policy_factory (runs.collect does this)")
    if ":" not in spec:
        raise ValueError(f"unknown policy {spec!r}: use 'random', package.module:callable, or a checkpoint folder")
    factory = import_object(spec)
    if not callable(factory):
        raise ValueError(f"policy factory {spec!r} is not callable")
    return factory
