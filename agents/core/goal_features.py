"""Grasp2Vec goal information in the policy's observation.

:class:`GoalFeatures` adds to an observation batch that has ``image`` (scene) and ``goal`` (goal
image), both uint8 (B, H, W, 3):

- ``heatmap`` (B, H, W, 1) uint8: φ_o(goal) · φ_s-spatial(scene) (:func:`embedding.heatmap.scene_heatmaps`,
  read as ``GoalFeaturesConfig.readout`` says), min-max scaled to 0..255 per image. Policies stack it
  onto the scene as a 4th channel.
- ``goal_embedding`` (B, D) float32: φ_o(goal).

The goal embedding is computed once per distinct goal (once per episode in the wrapper, once per
relabeled episode in :func:`agents.core.relabel.relabel_episode`); the scene map once per step. When
the policy's images are smaller or larger than the model's ``config.image_size``, inputs are
resized bilinearly to the model's size and the heatmap back to the policy's.
:class:`GoalObservationWrapper` serves one Gymnasium env; :class:`GoalFeaturesVecWrapper` serves an
SB3 ``VecEnv`` with one batched model call per step for all its envs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from agents.core.images import resize_images
from embedding.heatmap import PLAIN, HeatmapReadout, goal_embeddings, scene_heatmaps


@dataclass(frozen=True)
class GoalFeaturesConfig:
    """Which goal features the policy sees."""

    heatmap: bool = True
    embedding: bool = False
    keep_goal_image: bool = True  # relabeling needs the goal image to recompute the features
    readout: HeatmapReadout = PLAIN  # how the heatmap is read from φ_s

    def __post_init__(self) -> None:
        if isinstance(self.readout, dict):  # as read back from a policy card's JSON
            object.__setattr__(self, "readout", HeatmapReadout(**self.readout))
        if not (self.heatmap or self.embedding):
            raise ValueError("GoalFeaturesConfig needs heatmap=True or embedding=True (or no wrapper at all)")


def scale_to_uint8(heatmaps: torch.Tensor) -> torch.Tensor:
    """Per-image min-max scaling of (B, H, W) float to uint8 0..255 (a flat map becomes zeros)."""
    flat = heatmaps.reshape(len(heatmaps), -1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    span = (high - low).clamp_min(1e-8)[:, None, None]
    return ((heatmaps - low[:, None, None]) / span * 255.0).round().to(torch.uint8)


class GoalFeatures:
    """Computes Grasp2Vec goal features for observation batches.

    Args:
        model: an ``embedding.model.Grasp2Vec`` (anything with ``config.image_size``,
            ``embed_outcomes`` and ``scene_feature_map`` works); it is put in eval mode.
        config: which features to add.
    """

    def __init__(self, model: Any, config: GoalFeaturesConfig = GoalFeaturesConfig()) -> None:
        self.model = model.eval() if hasattr(model, "eval") else model
        self.config = config
        self.model_size = int(model.config.image_size)

    @torch.no_grad()
    def embed_goals(self, goals: np.ndarray) -> torch.Tensor:
        """φ_o of goal images uint8 (B, H, W, 3) → (B, D), computed once when all B goals are equal."""
        goal_tensor = torch.as_tensor(np.require(goals, requirements=["C", "W"]))
        if len(goal_tensor) > 1 and bool((goal_tensor == goal_tensor[:1]).all()):
            one = goal_embeddings(self.model, resize_images(goal_tensor[:1], self.model_size))
            return one.expand(len(goal_tensor), -1)
        return goal_embeddings(self.model, resize_images(goal_tensor, self.model_size))

    @torch.no_grad()
    def heatmaps(self, embeddings: torch.Tensor, scenes: np.ndarray) -> np.ndarray:
        """Heatmaps uint8 (B, H, W, 1) of goal embeddings (B, D) over scenes uint8 (B, H, W, 3)."""
        scene_tensor = torch.as_tensor(np.require(scenes, requirements=["C", "W"]))
        size = scene_tensor.shape[1]
        heat = scene_heatmaps(self.model, embeddings.float(), resize_images(scene_tensor, self.model_size),
                              self.config.readout)
        if size != self.model_size:
            heat = F.interpolate(heat[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        return scale_to_uint8(heat)[..., None].cpu().numpy()

    def observe(self, observations: dict[str, np.ndarray],
                embeddings: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Batch (B leading) with ``image`` and ``goal`` → a copy with the goal features added.

        ``embeddings`` (B, D) may be passed when the goals' embeddings are already known.
        """
        for key in ("image", "goal"):
            if key not in observations:
                raise KeyError(f"goal features need observation key {key!r}, got {sorted(observations)}")
        if embeddings is None:
            embeddings = self.embed_goals(observations["goal"])
        result = dict(observations)
        if self.config.heatmap:
            result["heatmap"] = self.heatmaps(embeddings, observations["image"])
        if self.config.embedding:
            result["goal_embedding"] = embeddings.float().cpu().numpy()
        if not self.config.keep_goal_image:
            del result["goal"]
        return result

    def observation_space(self, space: spaces.Dict) -> spaces.Dict:
        """The Dict space of :meth:`observe`'s output for inputs from ``space``."""
        result = dict(space.spaces)
        height, width = space["image"].shape[:2]
        if self.config.heatmap:
            result["heatmap"] = spaces.Box(0, 255, (height, width, 1), dtype=np.uint8)
        if self.config.embedding:
            dim = int(self.embed_goals(np.zeros((1, *space["goal"].shape), np.uint8)).shape[1])
            result["goal_embedding"] = spaces.Box(-np.inf, np.inf, (dim,), dtype=np.float32)
        if not self.config.keep_goal_image:
            del result["goal"]
        return spaces.Dict(result)


class GoalObservationWrapper(gym.Wrapper):
    """Adds :class:`GoalFeatures` to a goal-conditioned env's observations.

    The goal embedding is computed at ``reset`` and reused for every step of the episode.
    """

    def __init__(self, env: gym.Env, features: GoalFeatures) -> None:
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict) or "goal" not in env.observation_space.spaces:
            raise ValueError("GoalObservationWrapper needs a Dict observation with a 'goal' image "
                             "(e.g. KukaInstanceGrasp-v0)")
        self.features = features
        self.observation_space = features.observation_space(env.observation_space)
        self._embedding: torch.Tensor | None = None

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self._embedding = self.features.embed_goals(observation["goal"][None])
        return self._observe(observation), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(observation), reward, terminated, truncated, info

    def _observe(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = {k: np.asarray(v)[None] for k, v in observation.items()}
        return {k: v[0] for k, v in self.features.observe(batch, self._embedding).items()}


class GoalFeaturesVecWrapper(VecEnvWrapper):
    """:class:`GoalFeatures` for an SB3 ``VecEnv``: one model call per step for all envs.

    Goal embeddings are recomputed only for envs that were reset (all at ``reset``, the finished
    ones after a step); terminal observations in ``infos`` get their episode's old embedding.
    """

    def __init__(self, venv: VecEnv, features: GoalFeatures) -> None:
        if not isinstance(venv.observation_space, spaces.Dict) or "goal" not in venv.observation_space.spaces:
            raise ValueError("GoalFeaturesVecWrapper needs a Dict observation with a 'goal' image")
        super().__init__(venv, observation_space=features.observation_space(venv.observation_space))
        self.features = features
        self._embeddings: torch.Tensor | None = None

    def reset(self) -> dict[str, np.ndarray]:
        observation = self.venv.reset()
        self._embeddings = self.features.embed_goals(observation["goal"])
        return self.features.observe(observation, self._embeddings)

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        observation, rewards, dones, infos = self.venv.step_wait()
        if self._embeddings is None:
            raise RuntimeError("reset() must be called before step()")
        for i in np.flatnonzero(dones):
            terminal = infos[i].get("terminal_observation")
            if terminal is not None:
                batch = {k: np.asarray(v)[None] for k, v in terminal.items()}
                infos[i]["terminal_observation"] = {k: v[0] for k, v in
                                                    self.features.observe(batch, self._embeddings[i:i + 1]).items()}
        if dones.any():
            embeddings = self._embeddings.clone()
            index = torch.as_tensor(np.flatnonzero(dones))
            embeddings[index] = self.features.embed_goals(observation["goal"][index.numpy()])
            self._embeddings = embeddings
        return self.features.observe(observation, self._embeddings), rewards, dones, infos
