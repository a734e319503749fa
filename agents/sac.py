"""SAC from Stable-Baselines3 on the grasp envs, with goal relabeling.

- :class:`GraspFeaturesExtractor` wraps :class:`agents.networks.ObservationEncoder` for SB3's Dict
  observations (images arrive channel-first in [0, 1] after SB3's preprocessing).
- :class:`RelabelCallback` is the HER equivalent. SB3's ``HerReplayBuffer`` needs a GoalEnv whose
  ``achieved_goal`` exists at every step and a ``compute_reward(achieved, desired)``; here the
  achieved goal (the outcome image) exists only after the grasp, and a new goal also changes the
  heatmap channel, so relabeled copies are made per finished episode by
  :func:`agents.relabel.relabel_episode` (posthoc + auxiliary goals) and added to SB3's own
  ``DictReplayBuffer`` next to the original transitions.
- :class:`SB3Policy` adapts a trained model to :class:`agents.base.Policy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from agents.episode import Episode, EpisodeRecorder
from agents.networks import EncoderConfig, ObservationEncoder
from agents.relabel import Relabeler


class GraspFeaturesExtractor(BaseFeaturesExtractor):
    """Dict observation (``image`` [+ ``heatmap``] + ``gripper`` [+ ``goal``, ``goal_embedding``]) → (B, features)."""

    def __init__(self, observation_space: spaces.Dict, features: int = 256,
                 channels: tuple[int, ...] = (32, 64, 64)) -> None:
        super().__init__(observation_space, features)
        channels_first = int(np.argmin(observation_space["image"].shape)) == 0
        self.encoder = ObservationEncoder(observation_space, EncoderConfig(tuple(channels), features),
                                          channels_first=channels_first)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(observations)


def to_channels_last(observation: dict[str, np.ndarray], raw_space: spaces.Dict) -> dict[str, np.ndarray]:
    """Undo SB3's image transpose: keys whose shape is (C, H, W) but (H, W, C) in ``raw_space``."""
    return {k: np.moveaxis(v, 0, -1) if v.shape != raw_space[k].shape else v for k, v in observation.items()}


def to_channels_first(observation: dict[str, np.ndarray], stored: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Redo SB3's image transpose for keys stored as (C, H, W) (``stored``: key → shape); other keys are dropped."""
    return {k: np.moveaxis(observation[k], -1, 0) if observation[k].shape != shape else observation[k]
            for k, shape in stored.items()}


class RelabelCallback(BaseCallback):
    """Adds relabeled copies of every finished episode to the model's replay buffer.

    Args:
        relabeler: makes the copies (original first when it has a goal; that one SB3 stores itself).
        raw_space: the env's observation space before SB3's image transpose.
    """

    def __init__(self, relabeler: Relabeler, raw_space: spaces.Dict) -> None:
        super().__init__()
        self.relabeler = relabeler
        self.raw_space = raw_space
        self.recorders: list[EpisodeRecorder] = []
        self.started: list[bool] = []
        self.pending: list[tuple[dict[str, np.ndarray], np.ndarray, float, dict[str, np.ndarray], bool]] = []
        self.added = 0

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self.recorders, self.started = [EpisodeRecorder() for _ in range(n)], [False] * n

    def _on_step(self) -> bool:
        before, new_obs = self.model._last_obs, self.locals["new_obs"]
        actions, rewards = self.locals["buffer_actions"], self.locals["rewards"]
        for i, (done, info) in enumerate(zip(self.locals["dones"], self.locals["infos"], strict=True)):
            if not self.started[i]:
                self.recorders[i].start(to_channels_last({k: v[i] for k, v in before.items()}, self.raw_space))
                self.started[i] = True
            after = info["terminal_observation"] if done else {k: v[i] for k, v in new_obs.items()}
            self.recorders[i].step(actions[i], to_channels_last(after, self.raw_space), float(rewards[i]))
            if done:
                terminated = not info.get("TimeLimit.truncated", False)
                episode = self.recorders[i].finish(terminated, info)
                self.started[i] = False
                self._queue([e for e in self.relabeler(episode) if e is not episode])
        self._flush()
        return True

    def _queue(self, episodes: list[Episode]) -> None:
        for episode in episodes:
            obs = episode.observations
            for t in range(len(episode)):
                done = episode.terminated and t == len(episode) - 1
                self.pending.append(({k: v[t] for k, v in obs.items()}, episode.actions[t], float(episode.rewards[t]),
                                     {k: v[t + 1] for k, v in obs.items()}, done))

    def _flush(self) -> None:
        """Add pending transitions in groups of ``n_envs`` (the shape SB3's buffer takes)."""
        buffer, n = self.model.replay_buffer, self.training_env.num_envs
        stored = {k: tuple(s.shape) for k, s in self.model.observation_space.spaces.items()}
        while len(self.pending) >= n:
            group, self.pending = self.pending[:n], self.pending[n:]
            obs = [to_channels_first(g[0], stored) for g in group]
            nxt = [to_channels_first(g[3], stored) for g in group]
            buffer.add({k: np.stack([o[k] for o in obs]) for k in stored},
                       {k: np.stack([o[k] for o in nxt]) for k in stored},
                       np.stack([g[1] for g in group]), np.array([g[2] for g in group], np.float32),
                       np.array([g[4] for g in group]), [{} for _ in group])
            self.added += n


class SB3Policy:
    """A trained SB3 model as an :class:`agents.base.Policy` (deterministic actions)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def reset(self) -> None:
        """SAC's policy keeps no per-episode state."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        action, _ = self.model.predict(observation, deterministic=True)
        return np.asarray(action, dtype=np.float32)
