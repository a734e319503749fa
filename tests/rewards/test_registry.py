import numpy as np
import pytest

from rewards import GraspContext, IndiscriminateReward, OracleReward, RewardError, RewardFunction
from rewards.registry import available_rewards, make_reward, parse_reward_kwargs, register_reward

IMAGE = np.zeros((8, 8, 3), dtype=np.uint8)


def test_builtin_names_are_listed():
    assert {"oracle", "indiscriminate", "grasp2vec", "autoencoder"} <= set(available_rewards())


def test_make_ground_truth_rewards_by_name():
    assert isinstance(make_reward("oracle"), OracleReward)
    assert isinstance(make_reward("indiscriminate"), IndiscriminateReward)


def test_ready_object_passes_through():
    reward = OracleReward()
    assert make_reward(reward) is reward
    with pytest.raises(RewardError, match="keyword arguments"):
        make_reward(reward, scale=2)


def test_plugin_by_path_with_kwargs():
    reward = make_reward("tests.rewards.plugins:ScaledLiftReward", scale=2.5)
    assert isinstance(reward, RewardFunction)
    assert reward(GraspContext(None, IMAGE, lifted=("001",))) == 2.5
    assert reward(GraspContext(None, IMAGE)) == 0.0


@pytest.mark.parametrize(("spec", "kwargs", "message"), [
    ("no_such_reward", {}, "unknown reward 'no_such_reward'"),
    ("no_such_package.mod:Reward", {}, "cannot import module 'no_such_package.mod'"),
    ("tests.rewards.plugins:Missing", {}, "has no attribute 'Missing'"),
    ("tests.rewards.plugins:NOT_A_CLASS", {}, "is not a class"),
    ("tests.rewards.plugins:NoBatchReward", {}, r"does not follow common.protocols.RewardFunction.*\['batch'\]"),
    ("tests.rewards.plugins:ScaledLiftReward", {"colour": 1}, "does not accept \\['colour'\\]"),
    ("tests.rewards.plugins:", {}, "package.module:ClassName"),
])
def test_plugin_errors_are_clear(spec, kwargs, message):
    with pytest.raises(RewardError, match=message):
        make_reward(spec, **kwargs)


def test_register_reward_adds_a_name(monkeypatch):
    from rewards import registry

    monkeypatch.setattr(registry, "BUILTIN_REWARDS", dict(registry.BUILTIN_REWARDS))
    register_reward("scaled", "tests.rewards.plugins:ScaledLiftReward")
    assert make_reward("scaled", scale=3.0).scale == 3.0
    with pytest.raises(RewardError):
        register_reward("bad:name", "tests.rewards.plugins:ScaledLiftReward")


def test_parse_reward_kwargs():
    assert parse_reward_kwargs(["threshold=0.8", "checkpoint=ckpt/g2v", "thresholded=true"]) == {
        "threshold": 0.8, "checkpoint": "ckpt/g2v", "thresholded": True}
    with pytest.raises(RewardError, match="KEY=VALUE"):
        parse_reward_kwargs(["threshold"])


def test_an_environment_takes_a_reward_built_by_name():
    import gymnasium as gym

    import envs  # noqa: F401  (registers the environments)

    env = gym.make("KukaInstanceGrasp-v0", reward=make_reward("indiscriminate"), objects="seen", num_objects=2,
                   image_size=32, max_steps=3)
    assert type(env.unwrapped.reward_function).__name__ == "IndiscriminateReward"
    env.close()
