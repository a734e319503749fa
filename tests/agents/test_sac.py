"""SAC pieces: the features extractor and the relabeling callback on a fast fake goal env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.relabel import RelabelConfig, Relabeler
from agents.sac import RelabelCallback, SB3Policy
from agents.sac_training import make_sac
from rewards.ground_truth import IndiscriminateReward
from runs.policy_presets import SACPreset

SIZE = 16
SETTINGS = SACPreset(buffer_size=500, batch_size=16, learning_starts=10_000, features=16, channels=(4,))


class FakeGoalEnv(gym.Env):
    """Two-step episodes; the grasp lifts 'ball' (outcome image all 200) when action[0] > 0."""

    def __init__(self) -> None:
        image = spaces.Box(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict({"image": image, "gripper": spaces.Box(-10, 10, (5,), np.float32),
                                              "goal": image})
        self.action_space = spaces.Box(-1, 1, (5,), dtype=np.float32)
        self.steps = 0

    def _obs(self) -> dict[str, np.ndarray]:
        return {"image": np.full((SIZE, SIZE, 3), 10 * self.steps, np.uint8), "gripper": np.zeros(5, np.float32),
                "goal": np.full((SIZE, SIZE, 3), 50, np.uint8)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        self.steps += 1
        if self.steps < 2:
            return self._obs(), 0.0, False, False, {}
        lifted = ["ball"] if action[0] > 0 else []
        info = {"outcome_image": np.full((SIZE, SIZE, 3), 200, np.uint8), "is_success": False, "fault": None,
                "ground_truth": {"lifted": lifted}}
        return self._obs(), 0.0, True, False, info


def test_relabel_callback_adds_posthoc_copies_to_the_sb3_buffer() -> None:
    env = FakeGoalEnv()
    model = make_sac(env, SETTINGS, seed=0)
    callback = RelabelCallback(Relabeler(IndiscriminateReward(), RelabelConfig(posthoc=True)), env.observation_space)
    model.learn(40, callback=callback)
    buffer = model.replay_buffer
    stored = buffer.pos
    assert stored == 40 + callback.added and callback.added > 0 and callback.added % 2 == 0
    goals = buffer.observations["goal"][:stored, 0]
    assert goals.shape[1:] == (3, SIZE, SIZE)
    relabeled = goals[:, 0, 0, 0] == 200
    assert relabeled.sum() == callback.added
    rewards, dones = buffer.rewards[:stored, 0], buffer.dones[:stored, 0]
    assert np.all(rewards[relabeled & (dones == 1)] == 1.0)
    assert np.all(rewards[~relabeled] == 0.0)
    action = SB3Policy(model).act(env.reset()[0])
    assert action.shape == (5,) and np.all(np.abs(action) <= 1)
