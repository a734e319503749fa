"""envs.tasks: the one factory of the two grasp tasks."""

from __future__ import annotations

import numpy as np

from envs.config import WorldSettings
from envs.goal_bank import GoalBank
from envs.grasp_env import KukaGraspEnv, make_world_config
from envs.instance_env import KukaInstanceGraspEnv
from envs.tasks import make_task_env

TINY = WorldSettings(num_objects=2, image_size=32, max_steps=4)


def test_any_object_task_takes_the_settings() -> None:
    env = make_task_env(False, "seen", TINY, wrist_view=True)
    try:
        assert type(env) is KukaGraspEnv
        assert (env.max_steps, env.config.num_objects, env.config.camera.image_size) == (4, 2, 32)
        observation, _ = env.reset(seed=0)
        assert observation["image"].shape == (32, 32, 3) and "wrist" in observation and "goal" not in observation
    finally:
        env.close()


def test_instance_task_uses_the_goal_bank_and_is_deterministic() -> None:
    bank = GoalBank(make_world_config(1, TINY.image_size, None), seed=5)
    env = make_task_env(True, "seen", TINY, bank)
    try:
        assert isinstance(env, KukaInstanceGraspEnv) and env.goal_bank is bank
        first, _ = env.reset(seed=3)
        again, _ = env.reset(seed=3)
        assert first["goal"].shape == (32, 32, 3) and "wrist" not in first
        np.testing.assert_array_equal(first["image"], again["image"])
    finally:
        env.close()
