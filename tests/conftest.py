"""Shared tiny configurations: the suite must stay fast on 2 CPU cores."""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the environments)

TINY = {"num_objects": 2, "image_size": 48, "max_steps": 4}


@pytest.fixture
def grasp_env():
    env = gym.make("KukaGrasp-v0", **TINY)
    yield env
    env.close()


@pytest.fixture
def instance_env():
    env = gym.make("KukaInstanceGrasp-v0", **TINY)
    yield env
    env.close()
