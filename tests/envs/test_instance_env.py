import gymnasium as gym
import numpy as np
import pytest

from envs.config import WorldConfig
from envs.goal_bank import GoalBank
from envs.objects import builtin_split, object_name
from envs.scripted import PrivilegedGraspPolicy
from tests.conftest import TINY


def test_goal_is_an_outcome_image_from_another_episode(instance_env):
    obs, info = instance_env.reset(seed=3)
    env = instance_env.unwrapped
    truth = info["ground_truth"]
    assert truth["target"] in truth["objects"]
    assert obs["goal"].shape == (48, 48, 3) and obs["goal"].dtype == np.uint8
    assert obs["goal"].any()
    bank = env.goal_bank
    assert any(np.array_equal(obs["goal"], g) for g in bank.images[truth["target"]])
    # The goal is not rendered from the live scene: the bank's own world made it.
    assert bank._world is not None and bank._world.client is not env.world.client


def test_success_means_the_target_and_only_it():
    instance_env = gym.make("KukaInstanceGrasp-v0", num_objects=2, image_size=48, max_steps=10)
    env = instance_env.unwrapped
    policy = PrivilegedGraspPolicy(instance_env)
    successes = 0
    for seed in range(3):
        obs, _ = instance_env.reset(seed=seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = instance_env.step(policy.act(obs))
            done = terminated or truncated
        lifted = info["ground_truth"]["lifted"]
        assert info["is_success"] == (lifted == [env._target_name()])
        assert reward == float(info["is_success"])
        successes += info["is_success"]
    assert successes >= 1
    instance_env.close()


def test_goal_bank_round_trip(instance_env, tmp_path):
    instance_env.reset(seed=0)
    bank = instance_env.unwrapped.goal_bank
    path = tmp_path / "goals.npz"
    bank.save(path)
    other = GoalBank(bank.world_config)
    other.load(path)
    assert other.images.keys() == bank.images.keys()
    for name in bank.images:
        assert all(np.array_equal(a, b) for a, b in zip(bank.images[name], other.images[name], strict=True))


class _PickyBank(GoalBank):
    """A goal bank that can only make goals of the given objects."""

    def __init__(self, world_config, allowed: set[str]) -> None:
        super().__init__(world_config)
        self.allowed = allowed

    def has_goal(self, urdf) -> bool:
        return object_name(urdf) in self.allowed and super().has_goal(urdf)


def test_bins_without_a_goal_object_are_redrawn_deterministically():
    objects = builtin_split("unseen")[:4]
    env = gym.make("KukaInstanceGrasp-v0", objects=objects, num_objects=1, image_size=48, max_steps=4).unwrapped
    env.goal_bank = _PickyBank(env.goal_bank.world_config, {object_name(objects[2])})
    _, info = env.reset(seed=5)
    assert info["ground_truth"]["objects"] == [object_name(objects[2])]
    _, again = env.reset(seed=5)
    assert np.array_equal(info["ground_truth"]["object_poses"], again["ground_truth"]["object_poses"])
    env.goal_bank = _PickyBank(env.goal_bank.world_config, set())
    with pytest.raises(RuntimeError, match="no task"):
        env.reset(seed=5)
    env.close()


def test_closing_one_env_leaves_a_shared_goal_bank_usable():
    first = gym.make("KukaInstanceGrasp-v0", **TINY)
    bank = first.unwrapped.goal_bank
    first.reset(seed=0)
    second = gym.make("KukaInstanceGrasp-v0", goal_bank=bank, **TINY)
    second.close()
    first.reset(seed=1)
    bank.close()
    first.reset(seed=2)  # the bank reopens its world on demand
    first.close()


def test_an_object_whose_geometry_cannot_be_read_gets_no_goal_instead_of_crashing_the_reset(monkeypatch):
    import envs.scripted

    def unreadable(world, body):
        raise envs.scripted.ObjectGeometryError(f"object URDF {world.object_urdfs[body]}: no usable collision geometry")

    objects = builtin_split("unseen")[:1]
    bank = GoalBank(WorldConfig(), max_attempts=2)
    monkeypatch.setattr(envs.scripted, "grasp_pose", unreadable)
    assert not bank.has_goal(objects[0])
    assert object_name(objects[0]) in bank._ungraspable
    bank.close()
