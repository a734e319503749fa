import resource
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.grasp_env import KEEP_ACTION, RELEASE_ACTION, awaits_keep_or_release
from envs.objects import builtin_split
from envs.scripted import PrivilegedGraspPolicy
from tests.conftest import TINY


@pytest.mark.parametrize("env_id", ["KukaGrasp-v0", "KukaInstanceGrasp-v0"])
def test_checkers_pass_without_warnings(env_id):
    env = gym.make(env_id, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)
    env.close()


def test_reset_with_seed_is_deterministic(grasp_env):
    first, info1 = grasp_env.reset(seed=11)
    for _ in range(2):
        grasp_env.step(np.array([0.5, 0.5, -0.5, 0.3, -1.0], dtype=np.float32))
    grasp_env.reset(seed=12)
    second, info2 = grasp_env.reset(seed=11)
    assert np.array_equal(first["image"], second["image"])
    assert np.array_equal(info1["ground_truth"]["object_poses"], info2["ground_truth"]["object_poses"])
    action = np.array([0.4, -0.3, -1.0, 0.5, -1.0], dtype=np.float32)
    a = [grasp_env.step(action)[0]["image"] for _ in range(2)]
    grasp_env.reset(seed=11)
    b = [grasp_env.step(action)[0]["image"] for _ in range(2)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_observation_layout(grasp_env):
    obs, info = grasp_env.reset(seed=0)
    assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
    assert obs["gripper"].shape == (5,) and obs["gripper"].dtype == np.float32
    assert "ground_truth" in info and "lifted" in info["ground_truth"]
    assert set(obs) == {"image", "gripper"}


@pytest.mark.parametrize("bad", [np.zeros(4), np.zeros((5, 1)), [np.nan, 0, 0, 0, 0], [0, np.inf, 0, 0, 0]])
def test_malformed_actions_raise(grasp_env, bad):
    grasp_env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        grasp_env.unwrapped.step(bad)


def test_out_of_range_actions_are_clipped(grasp_env):
    env = grasp_env.unwrapped
    env.reset(seed=0)
    start = env.world.arm.target_position.copy()
    env.step(np.array([5.0, 0.0, 0.0, 0.0, -3.0]))
    moved = env.world.arm.target_position - start
    assert moved[0] == pytest.approx(env.config.arm.max_translation)


def test_step_before_reset_raises(grasp_env):
    with pytest.raises(RuntimeError, match="reset"):
        grasp_env.unwrapped.step(np.zeros(5))


def test_episode_truncates_at_max_steps(grasp_env):
    grasp_env.reset(seed=0)
    for _ in range(TINY["max_steps"]):
        _, _, terminated, truncated, _ = grasp_env.step(np.array([0.1, 0, 0, 0, -1.0]))
        assert not terminated
    assert truncated


def test_object_leaving_workspace_ends_episode_cleanly(grasp_env):
    env = grasp_env.unwrapped
    env.reset(seed=0)
    env.world.client.resetBasePositionAndOrientation(env.world.objects[0], (0.5, 0.0, 5.0), (0, 0, 0, 1))
    _, reward, terminated, truncated, info = env.step(np.zeros(5))
    assert terminated and not truncated and reward == 0.0
    assert "left the workspace" in info["fault"]


def test_too_many_objects_and_bad_arguments():
    with pytest.raises(ValueError, match="holds only 1"):
        gym.make("KukaGrasp-v0", objects=builtin_split("unseen")[:1], num_objects=2)
    with pytest.raises(ValueError, match="num_objects"):
        gym.make("KukaGrasp-v0", num_objects=0)
    with pytest.raises(FileNotFoundError, match="nothing.urdf"):
        gym.make("KukaGrasp-v0", objects=["/tmp/nothing.urdf"], num_objects=1)


def test_privileged_grasp_of_single_object_and_triplet_images():
    env = gym.make("KukaGrasp-v0", objects="unseen", num_objects=1, image_size=48, max_steps=10,
                   record_triplet=True)
    policy = PrivilegedGraspPolicy(env)
    obs, _ = env.reset(seed=4)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        done = terminated or truncated
    assert terminated and info["grasp_attempted"] and info["is_success"] and reward == 1.0
    truth = info["ground_truth"]
    assert truth["lifted"] == truth["objects"]
    pre, post, outcome = info["pre_image"], info["post_image"], info["outcome_image"]
    object_pixels = truth["pre_mask"] == truth["object_ids"][0]
    assert object_pixels.any()
    assert not (truth["post_mask"] == truth["object_ids"][0]).any()
    assert np.abs(pre.astype(int) - post.astype(int))[object_pixels].mean() > 10
    assert not np.array_equal(outcome, obs["image"])
    assert info["gripper_aperture"] > 0.046  # the fingers stopped on the object (closed on nothing: ~0.04 m)
    # The robot's own sensing agrees: the fingertips stayed apart by more than the margin.
    assert info["grasp_sensed"] is True
    assert info["gripper_aperture"] > info["closed_aperture"] + env.unwrapped.config.arm.grasp_margin
    assert truth["touching_ids"] == truth["object_ids"]  # held, not thrown
    env.close()


def test_gripper_aperture_after_closing_on_nothing():
    env = gym.make("KukaGrasp-v0", num_objects=1, image_size=32, max_steps=2)
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(np.array([0, 0, 0, 0, 1], dtype=np.float32))  # close high above the bin
    assert terminated and info["grasp_attempted"] and not info["is_success"]
    assert 0.03 < info["gripper_aperture"] < 0.046
    assert info["grasp_sensed"] is False and info["ground_truth"]["touching_ids"] == []
    assert abs(info["gripper_aperture"] - info["closed_aperture"]) < 1e-3
    env.close()


def test_auto_descend_grasps_at_the_bottom():
    env = gym.make("KukaGrasp-v0", num_objects=1, image_size=48, max_steps=4, auto_descend=True)
    env.reset(seed=1)
    for _ in range(4):
        _, _, terminated, truncated, info = env.step(np.zeros(5, dtype=np.float32))
        if terminated or truncated:
            break
    assert terminated and info["grasp_attempted"]
    env.close()


def test_many_episodes_keep_memory_flat():
    env = gym.make("KukaGrasp-v0", num_objects=1, image_size=32, max_steps=2, auto_descend=True)
    env.reset(seed=0)
    bodies = env.unwrapped.world.client.getNumBodies()
    for episode in range(200):
        env.reset(seed=episode)
        if episode == 20:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(2):
            _, _, terminated, truncated, _ = env.step(np.zeros(5, dtype=np.float32))
            if terminated or truncated:
                break
    assert env.unwrapped.world.client.getNumBodies() == bodies
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 50_000  # KiB
    env.close()


def test_reward_is_an_object_and_defaults_to_the_tasks_success():
    class Half:
        def __call__(self, context):
            return 0.5

        def batch(self, contexts):
            return np.full(len(contexts), 0.5, dtype=np.float32)

    half = Half()
    env = gym.make("KukaGrasp-v0", reward=half, **TINY)
    assert env.unwrapped.reward_function is half
    env.close()
    env = gym.make("KukaGrasp-v0", **TINY)
    assert env.unwrapped.reward_function is None
    env.close()
    with pytest.raises(ValueError, match="rewards.make_reward"):
        gym.make("KukaGrasp-v0", reward="oracle", **TINY)


def test_sharper_triplet_images_leave_the_episode_unchanged():
    """``triplet_size`` renders the recorded pre/post/outcome images larger; the policy's observation,
    the reward's outcome image and the physics stay those of the plain env."""
    def run(**kwargs):
        env = gym.make("KukaGrasp-v0", objects="unseen", num_objects=1, image_size=32, max_steps=10,
                       record_triplet=True, **kwargs)
        policy = PrivilegedGraspPolicy(env)
        obs, _ = env.reset(seed=4)
        observations, done = [obs["image"]], False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
            observations.append(obs["image"])
            done = terminated or truncated
        env.close()
        return np.stack(observations), info

    plain, plain_info = run()
    sharp, info = run(triplet_size=48)
    np.testing.assert_array_equal(sharp, plain)
    np.testing.assert_array_equal(info["outcome_image"], plain_info["outcome_image"])
    assert plain_info["triplet_outcome_image"] is plain_info["outcome_image"]
    assert info["is_success"] and info["outcome_image"].shape == (32, 32, 3)
    for key in ("pre_image", "post_image", "triplet_outcome_image"):
        assert info[key].shape == (48, 48, 3) and info[key].dtype == np.uint8
    assert info["ground_truth"]["pre_mask"].shape == (48, 48)
    lifted = info["ground_truth"]["pre_mask"] == info["ground_truth"]["object_ids"][0]
    assert lifted.sum() > (plain_info["ground_truth"]["pre_mask"] == info["ground_truth"]["object_ids"][0]).sum()
    with pytest.raises(ValueError, match="triplet_size"):
        gym.make("KukaGrasp-v0", triplet_size=8)
    zoomed, zoomed_info = run(triplet_fov=27.0)  # a narrower view of the bin for the pre and post images alone
    np.testing.assert_array_equal(zoomed, plain)
    np.testing.assert_array_equal(zoomed_info["triplet_outcome_image"], plain_info["triplet_outcome_image"])
    assert zoomed_info["is_success"] and zoomed_info["pre_image"].shape == (32, 32, 3)
    zoomed_truth, plain_truth = zoomed_info["ground_truth"], plain_info["ground_truth"]
    body = zoomed_truth["object_ids"][0]
    assert (zoomed_truth["pre_mask"] == body).sum() > (plain_truth["pre_mask"] == body).sum()
    with pytest.raises(ValueError, match="triplet_fov narrows"):
        gym.make("KukaGrasp-v0", triplet_fov=60.0)


def grasp_until_lift(env, obs):
    """Step the privileged grasp of ``env``'s bin until it lifts (or the episode ends); the last step's results."""
    policy = PrivilegedGraspPolicy(env)
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        if terminated or truncated or info["grasp_attempted"]:
            return obs, reward, terminated, truncated, info


def test_with_grasps_to_spare_a_lift_waits_for_keep_and_keeping_ends_the_episode_with_it():
    env = gym.make("KukaGrasp-v0", objects="unseen", num_objects=1, image_size=48, max_steps=10, max_grasps=2)
    obs, _ = env.reset(seed=4)
    assert not obs["outcome"].any() and not awaits_keep_or_release(obs)
    obs, reward, terminated, truncated, lift = grasp_until_lift(env, obs)
    assert lift["is_success"] and not terminated and not truncated and reward == 0.0  # paid when kept
    assert awaits_keep_or_release(obs) and np.array_equal(obs["outcome"], lift["outcome_image"])
    obs, reward, terminated, truncated, kept = env.step(KEEP_ACTION)
    assert terminated and not truncated and reward == 1.0 and kept is lift
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(KEEP_ACTION)
    env.close()


def test_a_lift_put_back_begins_a_new_attempt_and_the_last_grasp_ends_the_episode():
    env = gym.make("KukaGrasp-v0", objects="unseen", num_objects=1, image_size=48, max_steps=10, max_grasps=2)
    config = env.unwrapped.config
    start, _ = env.reset(seed=4)
    obs, *_ = grasp_until_lift(env, start)
    obs, reward, terminated, truncated, info = env.step(RELEASE_ACTION)
    assert info["released"] and not info["is_success"] and reward == 0.0 and not terminated and not truncated
    assert obs["gripper"][4] == config.arm.finger_open and not awaits_keep_or_release(obs)
    assert np.allclose(obs["gripper"], start["gripper"], atol=1e-3)  # homed, as a reset does
    height = info["ground_truth"]["object_poses"][0, 2] - config.layout.tray_floor_z
    assert height < config.layout.lift_threshold  # back in the bin
    assert info["ground_truth"]["released"] == [info["ground_truth"]["objects"]]  # what the put-back lift held
    for _ in range(9):  # a new attempt has max_steps of its own: nine moves, and the tenth step still acts
        obs, _, terminated, truncated, _ = env.step(np.array([0, 0, 0.2, 0, -1], np.float32))
        assert not terminated and not truncated
    obs, reward, terminated, _, info = env.step(KEEP_ACTION)  # close: the last grasp allowed ends the episode
    assert terminated and info["grasp_attempted"] and len(info["ground_truth"]["released"]) == 1
    assert env.reset(seed=4)[1]["ground_truth"]["released"] == []  # a new episode has put nothing back
    with pytest.raises(ValueError, match="max_grasps must be at least 1"):
        gym.make("KukaGrasp-v0", num_objects=1, max_grasps=0)
    env.close()


def test_scene_once_per_attempt_repeats_the_attempts_first_image_and_changes_nothing_else():
    """``scene_each_step=False`` renders the scene when an attempt begins (reset, a put-back lift) and repeats it;
    the physics, the gripper states, the triplet and the outcome are those of the env that renders every step."""
    def run(scene_each_step):
        env = gym.make("KukaGrasp-v0", objects="unseen", num_objects=1, image_size=32, max_steps=10, max_grasps=2,
                       record_triplet=True, scene_each_step=scene_each_step)
        obs, _ = env.reset(seed=4)
        images, grippers = [obs["image"]], [obs["gripper"]]
        obs, *_, lift = grasp_until_lift(env, obs)
        images.append(obs["image"])
        obs, *_, released = env.step(RELEASE_ACTION)
        images.append(obs["image"])
        grippers.append(obs["gripper"])
        obs, *_ = env.step(np.array([0.5, 0, -0.3, 0, -1], np.float32))
        images.append(obs["image"])
        grippers.append(obs["gripper"])
        env.close()
        return np.stack(images), np.stack(grippers), lift, released

    every, every_grippers, every_lift, every_released = run(True)
    once, once_grippers, lift, released = run(False)
    assert lift["is_success"] and released["released"]
    np.testing.assert_array_equal(once_grippers, every_grippers)
    for key in ("pre_image", "post_image", "outcome_image"):
        np.testing.assert_array_equal(lift[key], every_lift[key])
    poses = "ground_truth", "object_poses"
    np.testing.assert_array_equal(released[poses[0]][poses[1]], every_released[poses[0]][poses[1]])
    np.testing.assert_array_equal(once[0], every[0])  # the first observation is the same render
    np.testing.assert_array_equal(once[1], once[0])  # repeated through the attempt, the lift included
    assert not np.array_equal(every[1], every[0])  # where the every-step env shows the arm elsewhere
    np.testing.assert_array_equal(once[2], every[2])  # a put-back lift begins an attempt: rendered anew
    np.testing.assert_array_equal(once[3], once[2])
    assert not np.array_equal(every[3], every[2])
