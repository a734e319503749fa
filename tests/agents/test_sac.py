"""SAC pieces: the features extractor, the relabeling callback and the actor export, on a fast fake goal env."""

from __future__ import annotations

import dataclasses
import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents.core.relabel import RelabelConfig, Relabeler
from agents.sac.policy import (
    ACTOR_CARD,
    ACTOR_WEIGHTS,
    KeypointEncoder,
    RelabelCallback,
    SB3Policy,
    load_actor,
    save_actor,
)
from agents.sac.training import SACConfig, make_sac
from rewards.ground_truth import IndiscriminateReward

SIZE = 16
SETTINGS = SACConfig(buffer_size=500, batch_size=16, learning_starts=10_000, features=16, channels=(4,))


class FakeGoalEnv(gym.Env):
    """Two-step episodes; the grasp lifts 'ball' (outcome image all 200) when action[0] > 0, and the
    gripper senses it (``grasp_sensed``, which relabeling reads)."""

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
                "grasp_sensed": bool(lifted), "ground_truth": {"lifted": lifted}}
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


class GoalEmbeddingEnv(FakeGoalEnv):
    """FakeGoalEnv with a goal embedding, which the keypoint readout needs to see the goal."""

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Dict({**self.observation_space.spaces,
                                              "goal_embedding": spaces.Box(-1, 1, (4,), np.float32)})

    def _obs(self) -> dict[str, np.ndarray]:
        return {**super()._obs(), "goal_embedding": np.full(4, 0.5, np.float32)}


def random_observations(env: FakeGoalEnv, count: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    extra = {"goal_embedding": (4,)} if "goal_embedding" in env.observation_space.spaces else {}
    return [{"image": rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
             "gripper": rng.normal(size=5).astype(np.float32),
             "goal": rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8),
             **{k: rng.uniform(-1, 1, shape).astype(np.float32) for k, shape in extra.items()}} for _ in range(count)]


def test_keypoint_readout_finds_a_heatmap_peak_and_needs_a_goal_signal() -> None:
    size = 64
    image = spaces.Box(0, 255, (3, size, size), dtype=np.uint8)
    space = spaces.Dict({"image": image, "heatmap": spaces.Box(0, 255, (1, size, size), dtype=np.uint8),
                         "gripper": spaces.Box(-10, 10, (5,), np.float32), "goal": image})
    encoder = KeypointEncoder(space, channels=(1,), features=8, channels_first=True)
    with torch.no_grad():  # the one map copies the heatmap channel, sharpened
        encoder.maps[0].weight.zero_()
        encoder.maps[0].bias.zero_()
        encoder.maps[0].weight[0, 3, 1, 1] = 40.0
    heat = torch.zeros(1, 1, size, size)
    heat[0, 0, 15:18, 47:50] = 1.0  # a blob at column 48, row 16
    points = encoder.keypoints(torch.cat([torch.zeros(1, 3, size, size), heat], dim=1))
    np.testing.assert_allclose(points[0].detach().numpy(), [0.5, -0.5], atol=0.05)
    goal_only = spaces.Dict({k: v for k, v in space.spaces.items() if k != "heatmap"})
    with pytest.raises(ValueError, match="reads the goal through 'heatmap' or 'goal_embedding'"):
        KeypointEncoder(goal_only, channels=(1,), features=8, channels_first=True)


@pytest.mark.parametrize("readout", ["flatten", "keypoints"])
def test_exported_actor_acts_exactly_like_the_model_without_its_zip(tmp_path, readout: str) -> None:
    env = FakeGoalEnv()
    settings = dataclasses.replace(SETTINGS, learning_starts=5, readout=readout, share_features_extractor=False)
    model = make_sac(env, settings, seed=0) if readout == "flatten" else make_sac(GoalEmbeddingEnv(), settings, 0)
    env = env if readout == "flatten" else GoalEmbeddingEnv()
    model.learn(12)  # a few gradient steps, so the weights differ from a fresh model's
    save_actor(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [ACTOR_CARD, ACTOR_WEIGHTS]
    loaded = SB3Policy(load_actor(tmp_path))
    fresh = SB3Policy(make_sac(env, settings, seed=1))
    original = SB3Policy(model)
    observations = random_observations(env, 8)
    actions = np.stack([original.act(o) for o in observations])
    assert np.array_equal(actions, np.stack([loaded.act(o) for o in observations]))
    assert not np.array_equal(actions, np.stack([fresh.act(o) for o in observations]))
    assert actions.shape == (8, 5) and len(np.unique(actions[:, 0])) > 1


def test_actor_weights_of_another_architecture_or_format_are_refused_by_name(tmp_path) -> None:
    env = FakeGoalEnv()
    save_actor(make_sac(env, SETTINGS, seed=0), tmp_path / "small")
    save_actor(make_sac(env, dataclasses.replace(SETTINGS, channels=(8,)), seed=0), tmp_path / "wide")
    shutil.copy(tmp_path / "wide" / ACTOR_WEIGHTS, tmp_path / "small" / ACTOR_WEIGHTS)
    with pytest.raises(ValueError, match=r"features_extractor\.encoder\.scene\.0\.weight: \(8, 3, 3, 3\) in the "
                       r"file, \(4, 3, 3, 3\) in the card's actor"):
        load_actor(tmp_path / "small")
    card = json.loads((tmp_path / "wide" / ACTOR_CARD).read_text())
    (tmp_path / "wide" / ACTOR_CARD).write_text(json.dumps({**card, "format": "sb3-sac-actor/0"}))
    with pytest.raises(ValueError, match="format 'sb3-sac-actor/0'"):
        load_actor(tmp_path / "wide")
