"""SAC from Stable-Baselines3 on the grasp envs, with goal relabeling.

- :class:`GraspFeaturesExtractor` wraps :class:`agents.sac.networks.ObservationEncoder` for SB3's Dict
  observations (images arrive channel-first in [0, 1] after SB3's preprocessing).
- :class:`RelabelCallback` is the HER equivalent. SB3's ``HerReplayBuffer`` needs a GoalEnv whose
  ``achieved_goal`` exists at every step and a ``compute_reward(achieved, desired)``; here the
  achieved goal (the outcome image) exists only after the grasp, and a new goal also changes the
  heatmap channel, so relabeled copies are made per finished episode by
  :func:`agents.core.relabel.relabel_episode` (posthoc + auxiliary goals) and added to SB3's own
  ``DictReplayBuffer`` next to the original transitions.
- :class:`SB3Policy` adapts a trained model (or an exported actor) to :class:`common.protocols.Policy`.
- :func:`save_actor` / :func:`load_actor`: the deterministic policy alone (the actor and its features
  extractor) as ``sac_actor.safetensors`` + ``sac_actor.json``, about 1 MB instead of SB3's zip with
  critics, optimizers and replay; it loads without unpickling anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from safetensors.torch import load_file, save
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.sac.policies import Actor
from torch import nn

from agents.core.episode import Episode, EpisodeRecorder
from agents.core.relabel import Relabeler
from agents.sac.networks import (
    EncoderConfig,
    ObservationEncoder,
    conv_stack,
    scene_input,
    scene_shape,
    space_from_dict,
    space_to_dict,
)
from common.io import atomic_write_bytes, atomic_write_json

ACTOR_WEIGHTS, ACTOR_CARD = "sac_actor.safetensors", "sac_actor.json"
ACTOR_FORMAT = "sb3-sac-actor/1"  # bump when the card's meaning changes
ACTIVATIONS: dict[str, type[nn.Module]] = {"ReLU": nn.ReLU, "Tanh": nn.Tanh, "ELU": nn.ELU, "LeakyReLU": nn.LeakyReLU}
MAX_LISTED_MISMATCHES = 5
# (observation, action, reward, next observation, terminated); observations raw (channel-last images)
Transition = tuple[dict[str, np.ndarray], np.ndarray, float, dict[str, np.ndarray], bool]


class KeypointEncoder(nn.Module):
    """Scene [+ heatmap] → stride-2 conv maps (B, C, h, w) → each channel's spatial soft-argmax, the
    expected (x, y) in [-1, 1] under a softmax over its h·w cells (Levine et al., 2016) → with
    ``gripper`` [+ ``goal_embedding``] one linear layer → (B, features).

    Where-to-grasp is a location in the image, so the readout keeps locations explicit, in 2·C numbers
    instead of C·h·w; the goal enters through the heatmap (or embedding), the goal image is not read.
    """

    def __init__(self, observation_space: spaces.Dict, channels: tuple[int, ...], features: int,
                 channels_first: bool) -> None:
        super().__init__()
        s = observation_space.spaces
        if "goal" in s and not ("heatmap" in s or "goal_embedding" in s):
            raise ValueError("the keypoint readout reads the goal through 'heatmap' or 'goal_embedding'; "
                             f"this observation has neither: {sorted(s)}")
        in_channels, size = scene_shape(s, channels_first)
        self.use_heatmap = "heatmap" in s
        stack, flat = conv_stack(in_channels, size, channels)
        self.maps = nn.Sequential(*list(stack)[:-1])  # without the flatten
        size = math.isqrt(flat // channels[-1])  # the last maps' side
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.flatten(), ys.flatten()], dim=1), persistent=False)  # (h·w, 2)
        self.use_goal_embedding = "goal_embedding" in s
        fused = 2 * channels[-1] + s["gripper"].shape[0] + (s["goal_embedding"].shape[0] if self.use_goal_embedding
                                                            else 0)
        self.fuse = nn.Sequential(nn.Linear(fused, features), nn.ReLU())

    def keypoints(self, scene: torch.Tensor) -> torch.Tensor:
        """Scene [+ heatmap] (B, C_in, H, W) in [0, 1] → (B, 2·C): per map (x, y), -1 = left / top edge."""
        attention = torch.softmax(self.maps(scene).flatten(2), dim=-1)  # (B, C, h·w)
        return (attention @ self.grid).flatten(1)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.keypoints(scene_input(observations, self.use_heatmap)), observations["gripper"].float()]
        if self.use_goal_embedding:
            parts.append(observations["goal_embedding"].float())
        return self.fuse(torch.cat(parts, dim=1))


READOUTS = ("flatten", "keypoints")


class GraspFeaturesExtractor(BaseFeaturesExtractor):
    """Dict observation (``image`` [+ ``heatmap``] + ``gripper`` [+ ``goal``, ``goal_embedding``]) → (B, features).

    ``readout``: ``"flatten"`` (:class:`agents.sac.networks.ObservationEncoder`, conv maps flattened) or
    ``"keypoints"`` (:class:`KeypointEncoder`, spatial soft-argmax).
    """

    def __init__(self, observation_space: spaces.Dict, features: int = 256,
                 channels: tuple[int, ...] = (32, 64, 64), readout: str = "flatten") -> None:
        super().__init__(observation_space, features)
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        # constructor keywords, for export
        self.settings = {"features": features, "channels": list(channels), "readout": readout}
        channels_first = int(np.argmin(observation_space["image"].shape)) == 0
        self.encoder: nn.Module = (
            KeypointEncoder(observation_space, tuple(channels), features, channels_first) if readout == "keypoints"
            else ObservationEncoder(observation_space, EncoderConfig(tuple(channels), features),
                                    channels_first=channels_first))

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
        self.pending: list[Transition] = []
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
        n = self.training_env.num_envs
        while len(self.pending) >= n:
            group, self.pending = self.pending[:n], self.pending[n:]
            add_transitions(self.model, group)
            self.added += n


def add_transitions(model: Any, group: list[Transition]) -> None:
    """Add one transition per env (``len(group) == n_envs``; raw channel-last observations) to the
    replay buffer of an SB3 model, transposing images the way SB3 stores them."""
    stored = {k: tuple(s.shape) for k, s in model.observation_space.spaces.items()}
    obs = [to_channels_first(g[0], stored) for g in group]
    nxt = [to_channels_first(g[3], stored) for g in group]
    model.replay_buffer.add({k: np.stack([o[k] for o in obs]) for k in stored},
                            {k: np.stack([o[k] for o in nxt]) for k in stored},
                            np.stack([g[1] for g in group]), np.array([g[2] for g in group], np.float32),
                            np.array([g[4] for g in group]), [{} for _ in group])


class SB3Policy:
    """A trained SB3 model, or an actor from :func:`load_actor`, as an :class:`common.protocols.Policy`
    (deterministic actions; anything with SB3's ``predict`` works)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def reset(self) -> None:
        """SAC's policy keeps no per-episode state."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        action, _ = self.model.predict(observation, deterministic=True)
        return np.asarray(action, dtype=np.float32)


def save_actor(model: Any, directory: str | Path) -> None:
    """Write the deterministic policy of an SB3 ``SAC`` model: the actor's weights (its features
    extractor, ``latent_pi``, ``mu``, ``log_std``) as ``sac_actor.safetensors`` and what rebuilds it
    (spaces, layer sizes, activation) as ``sac_actor.json``, each atomically."""
    actor = model.actor
    extractor = actor.features_extractor
    if actor.use_sde:
        raise ValueError("actors with gSDE exploration are not exported (their noise net is not saved)")
    if not isinstance(extractor, GraspFeaturesExtractor):
        raise ValueError(f"only GraspFeaturesExtractor actors are exported, got {type(extractor).__name__}")
    activation = actor.activation_fn.__name__
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation} is not one of {sorted(ACTIVATIONS)}")
    action_space = actor.action_space
    card = {"format": ACTOR_FORMAT, "observation_space": space_to_dict(actor.observation_space),
            "action_space": {"low": action_space.low.tolist(), "high": action_space.high.tolist()},
            "net_arch": list(actor.net_arch), "activation_fn": activation, "features_extractor": extractor.settings,
            "normalize_images": bool(actor.normalize_images)}
    directory = Path(directory)
    weights = {k: v.detach().cpu().contiguous() for k, v in actor.state_dict().items()}
    atomic_write_bytes(directory / ACTOR_WEIGHTS, save(weights))
    atomic_write_json(directory / ACTOR_CARD, card)


def load_actor(directory: str | Path) -> Actor:
    """The actor :func:`save_actor` wrote, on the CPU in eval mode; nothing is unpickled.

    Raises:
        ValueError: the card's format is not this code's, or the weights do not fit the architecture
            the card describes (each mismatched tensor is named with both shapes).
    """
    directory = Path(directory)
    card = json.loads((directory / ACTOR_CARD).read_text())
    if card.get("format") != ACTOR_FORMAT:
        raise ValueError(f"{directory / ACTOR_CARD}: format {card.get('format')!r}, this code reads {ACTOR_FORMAT!r}")
    observation_space = space_from_dict(card["observation_space"])
    bounds = card["action_space"]
    action_space = spaces.Box(np.array(bounds["low"], np.float32), np.array(bounds["high"], np.float32),
                              dtype=np.float32)
    extractor = GraspFeaturesExtractor(observation_space, **card["features_extractor"])
    actor = Actor(observation_space, action_space, net_arch=list(card["net_arch"]), features_extractor=extractor,
                  features_dim=extractor.features_dim, activation_fn=ACTIVATIONS[card["activation_fn"]],
                  normalize_images=card["normalize_images"])
    weights = load_file(str(directory / ACTOR_WEIGHTS))
    expected = actor.state_dict()
    problems = [f"{k} missing from the file" for k in expected if k not in weights]
    problems += [f"{k} in the file is not in the card's actor" for k in weights if k not in expected]
    problems += [f"{k}: {tuple(weights[k].shape)} in the file, {tuple(v.shape)} in the card's actor"
                 for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if problems:
        shown = "; ".join(problems[:MAX_LISTED_MISMATCHES])
        more = f" (and {len(problems) - MAX_LISTED_MISMATCHES} more)" if len(problems) > MAX_LISTED_MISMATCHES else ""
        raise ValueError(f"{directory / ACTOR_WEIGHTS} does not fit the architecture in {ACTOR_CARD}: {shown}{more}")
    actor.load_state_dict(weights)
    actor.set_training_mode(False)
    return actor
