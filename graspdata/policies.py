"""Which policy collects the grasps: ``random`` (scripted), a factory ``package.module:callable``, or a
saved policy folder.

- ``random``: :class:`agents.scripted.RandomGraspPolicy`, reseeded for every episode.
- ``package.module:callable``: called as ``callable(env, seed)`` once per episode; returns a
  :class:`agents.base.Policy` (a class with that constructor works).
- a folder holding ``policy.json`` with ``{"class": "package.module:Class"}``: loaded once per
  worker with ``Class.load(folder, env=env)``; each episode then calls ``reset()`` and, when the
  policy has it, ``seed(seed)``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.base import Policy

PolicyFactory = Callable[[gym.Env, int], Policy]
SAVED_POLICY_FILE = "policy.json"


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


class _SavedPolicy:
    """Loads a saved policy once and reseeds it for each episode."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.policy: Policy | None = None

    def __call__(self, env: gym.Env, seed: int) -> Policy:
        if self.policy is None:
            meta = json.loads((self.folder / SAVED_POLICY_FILE).read_text())
            if "class" not in meta:
                raise ValueError(f"{self.folder / SAVED_POLICY_FILE} names no 'class' (package.module:Class)")
            self.policy = import_object(meta["class"]).load(self.folder, env=env)
        seed_fn = getattr(self.policy, "seed", None)
        if callable(seed_fn):
            seed_fn(seed)
        return self.policy


def check_policy_spec(spec: str) -> None:
    """Fail early, in the driver, on a spec no worker could resolve."""
    if spec == "random":
        return
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / SAVED_POLICY_FILE).is_file():
            raise ValueError(f"policy folder {path} holds no {SAVED_POLICY_FILE}")
        return
    if ":" not in spec:
        raise ValueError(f"unknown policy {spec!r}: use 'random', package.module:callable, or a saved policy folder")
    if not callable(import_object(spec)):
        raise ValueError(f"policy factory {spec!r} is not callable")


def policy_factory(spec: str) -> PolicyFactory:
    """A per-episode policy factory ``(env, seed) -> Policy`` for the spec (see the module docstring)."""
    check_policy_spec(spec)
    if spec == "random":
        return _random_policy
    path = Path(spec).expanduser()
    if path.exists():
        return _SavedPolicy(path)
    return import_object(spec)
