"""Goal-feature wrapper: the heatmap channel lines up with the goal object in the scene."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.core.goal_features import GoalFeatures, GoalFeaturesConfig, GoalFeaturesVecWrapper, GoalObservationWrapper
from embedding.model import Grasp2Vec, Grasp2VecConfig

SIZE = 32
RED = (220, 30, 30)


class ColourModel:
    """Synthetic Grasp2Vec: features are the mean-free colour of each 4x4 cell, so a red goal
    lights up red pixels (stands in for a trained model, whose weights are not needed here)."""

    cell_origin = 1.5  # a 4x4 average pool centres cell k between pixels 4k + 1 and 4k + 2

    def __init__(self, image_size: int) -> None:
        self.config = SimpleNamespace(image_size=image_size, total_stride=4)

    @staticmethod
    def _colour(images) -> torch.Tensor:
        return torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0 - 0.5

    def embed_outcomes(self, images) -> torch.Tensor:
        return self._colour(images).mean(dim=(2, 3))

    def scene_feature_map(self, images) -> torch.Tensor:
        return F.avg_pool2d(self._colour(images), 4)


class SceneEnv(gym.Env):
    """Grey scene with a red square at ``corner``; the goal is a red image."""

    def __init__(self, corner: tuple[int, int], length: int = 1000) -> None:
        self.corner, self.length, self.steps = corner, length, 0
        image = spaces.Box(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict({"image": image, "gripper": spaces.Box(-1, 1, (5,)), "goal": image})
        self.action_space = spaces.Box(-1, 1, (5,))

    def _obs(self) -> dict[str, np.ndarray]:
        scene = np.full((SIZE, SIZE, 3), 128, np.uint8)
        r, c = self.corner
        scene[r:r + 8, c:c + 8] = RED
        return {"image": scene, "gripper": np.zeros(5, np.float32), "goal": np.full((SIZE, SIZE, 3), RED, np.uint8)}

    def reset(self, *, seed=None, options=None):
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        self.steps += 1
        return self._obs(), 0.0, self.steps >= self.length, False, {}


@pytest.mark.parametrize("model_size", [SIZE, 2 * SIZE])
def test_heatmap_channel_peaks_on_the_goal_object(model_size: int) -> None:
    corner = (20, 4)
    env = GoalObservationWrapper(SceneEnv(corner), GoalFeatures(ColourModel(model_size)))
    obs, _ = env.reset()
    heat = obs["heatmap"][..., 0]
    assert obs["heatmap"].shape == (SIZE, SIZE, 1) and obs["heatmap"].dtype == np.uint8
    assert env.observation_space.contains(obs)
    inside = heat[corner[0] + 2:corner[0] + 6, corner[1] + 2:corner[1] + 6]
    assert inside.min() > 200 and np.median(heat) < 50
    row, col = np.unravel_index(heat.argmax(), heat.shape)
    assert corner[0] <= row < corner[0] + 8 and corner[1] <= col < corner[1] + 8


def test_random_weight_grasp2vec_gives_embedding_once_per_episode() -> None:
    torch.manual_seed(0)
    model = Grasp2Vec(Grasp2VecConfig(image_size=SIZE, embedding_dim=8, stem_channels=4, stage_channels=(8,),
                                      stage_strides=(1,)))
    features = GoalFeatures(model, GoalFeaturesConfig(heatmap=True, embedding=True, keep_goal_image=False))
    env = GoalObservationWrapper(SceneEnv((0, 0)), features)
    calls = []
    original = model.embed_outcomes
    model.embed_outcomes = lambda images: calls.append(len(images)) or original(images)
    obs, _ = env.reset()
    for _ in range(3):
        obs, *_ = env.step(np.zeros(5, np.float32))
    assert calls == [1]
    assert set(obs) == {"image", "gripper", "heatmap", "goal_embedding"}
    assert obs["goal_embedding"].shape == (8,) and env.observation_space.contains(obs)


def test_wrapper_refuses_an_env_without_goal() -> None:
    env = SceneEnv((0, 0))
    env.observation_space = spaces.Dict({"image": env.observation_space["image"]})
    with pytest.raises(ValueError, match="'goal' image"):
        GoalObservationWrapper(env, GoalFeatures(ColourModel(SIZE)))


def test_vec_wrapper_batches_envs_and_embeds_goals_only_after_resets() -> None:
    venv = DummyVecEnv([lambda: SceneEnv((20, 4), length=2), lambda: SceneEnv((4, 20), length=3)])
    model = ColourModel(SIZE)
    calls = []
    original = model.embed_outcomes
    model.embed_outcomes = lambda images: calls.append(len(images)) or original(images)
    wrapped = GoalFeaturesVecWrapper(venv, GoalFeatures(model))
    obs = wrapped.reset()
    assert obs["heatmap"].shape == (2, SIZE, SIZE, 1) and calls == [1]  # equal goals: embedded once
    peaks = [np.unravel_index(h[..., 0].argmax(), (SIZE, SIZE)) for h in obs["heatmap"]]
    assert 20 <= peaks[0][0] < 28 and 4 <= peaks[1][0] < 12
    actions = np.zeros((2, 5), np.float32)
    wrapped.step(actions)
    assert calls == [1]
    obs, _, dones, infos = wrapped.step(actions)
    assert dones.tolist() == [True, False] and calls == [1, 1]
    assert infos[0]["terminal_observation"]["heatmap"].shape == (SIZE, SIZE, 1)


def test_config_reads_its_heatmap_readout_back_from_a_policy_card() -> None:
    import dataclasses
    import json

    from agents.loading import goal_features_config
    from common.protocols import PolicyCard
    from embedding.heatmap import DENSE, UNCENTRED

    config = GoalFeaturesConfig(readout=DENSE)
    def card(features: dict) -> PolicyCard:
        return PolicyCard(algo="qtopt-pose", reward="oracle", world={}, goal_features="heatmap",
                          goal_features_config=features)

    assert goal_features_config(card(json.loads(json.dumps(dataclasses.asdict(config))))) == config
    older = card({"heatmap": True, "embedding": False, "keep_goal_image": True})
    assert goal_features_config(older).readout == UNCENTRED  # the map policies trained before readouts saw
