"""envs.heightmap_observation: one scan per attempt, taken with the arm out of sight, in every observation."""

import numpy as np

from envs.grasp_env import RELEASE_ACTION, KukaGraspEnv
from envs.heightmap import GridGeometry, HeightmapConfig
from envs.heightmap_observation import HEIGHTMAP_KEY, HeightmapObservation
from envs.scripted import PrivilegedGraspPolicy


def test_the_scan_is_taken_at_reset_and_carried_through_the_episode() -> None:
    config = HeightmapConfig(resolution=0.008, render_size=80)
    env = HeightmapObservation(KukaGraspEnv(objects="seen", num_objects=2, image_size=32, max_steps=3), config)
    observation, _ = env.reset(seed=3)
    shape = (*GridGeometry.of(env.unwrapped.config.layout, config).shape, 4)
    assert env.observation_space[HEIGHTMAP_KEY].shape == shape
    assert env.observation_space.contains(observation)
    scan = observation[HEIGHTMAP_KEY]
    assert scan[..., 0].max() > 5  # objects stand above the floor
    np.testing.assert_array_equal(scan, env.unwrapped.world.render_heightmap(config).encode())  # arm hidden
    moved, *_ = env.step(np.array([0.5, 0.0, -1.0, 0.0, -1.0], np.float32))
    np.testing.assert_array_equal(moved[HEIGHTMAP_KEY], scan)
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(again[HEIGHTMAP_KEY], scan)  # reset(seed) is deterministic
    env.close()


def test_a_lift_put_back_is_followed_by_a_new_scan() -> None:
    config = HeightmapConfig(resolution=0.008, render_size=80)
    env = HeightmapObservation(KukaGraspEnv(objects="unseen", num_objects=1, image_size=32, max_steps=10,
                                            max_grasps=2), config)
    observation, _ = env.reset(seed=4)
    before = observation[HEIGHTMAP_KEY]
    policy = PrivilegedGraspPolicy(env.unwrapped)
    info = {"grasp_attempted": False}
    while not info["grasp_attempted"]:
        observation, _, _, _, info = env.step(policy.act(observation))
    assert info["is_success"]
    np.testing.assert_array_equal(observation[HEIGHTMAP_KEY], before)  # the same attempt: the same scan
    observation, _, _, _, info = env.step(RELEASE_ACTION)
    assert info["released"]
    after = observation[HEIGHTMAP_KEY]
    np.testing.assert_array_equal(after, env.unwrapped.world.render_heightmap(config).encode())
    assert not np.array_equal(after, before)  # the object fell back elsewhere
    env.close()
