"""envs.rollout: the one episode loop ends within the step limit and repeats for a seed."""

import numpy as np

from envs.grasp_env import KukaGraspEnv
from envs.rollout import play_episode
from envs.scripted import RandomGraspPolicy


def test_an_episode_ends_within_the_step_limit_and_repeats_for_its_seed():
    env = KukaGraspEnv(num_objects=2, image_size=32, max_steps=6)
    runs = []
    for _ in range(2):
        observation, info, steps = play_episode(env, RandomGraspPolicy(env.config, seed=4), seed=11)
        assert 1 <= steps <= 6 and "is_success" in info
        runs.append((observation["image"], steps, info["is_success"]))
    env.close()
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1:] == runs[1][1:]
