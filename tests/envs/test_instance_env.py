import gymnasium as gym
import numpy as np

from agents.scripted import PrivilegedGraspPolicy


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
    from envs.goal_bank import GoalBank

    other = GoalBank(bank.world_config)
    other.load(path)
    assert other.images.keys() == bank.images.keys()
    for name in bank.images:
        assert all(np.array_equal(a, b) for a, b in zip(bank.images[name], other.images[name], strict=True))
