"""SAC's networks: an encoder for the Dict observation, and the JSON form of observation spaces.

Observation keys (any subset beyond ``image`` and ``gripper``):
    ``image``   scene (H, W, 3) uint8;   ``heatmap`` Grasp2Vec goal heatmap (H, W, 1) uint8, stacked
    onto the scene as a 4th channel;     ``gripper`` (5,) float32;
    ``goal``    goal image (H, W, 3) uint8, its own small CNN;   ``goal_embedding`` (D,) float32.
Image inputs to :class:`ObservationEncoder` are float (B, C, H, W) in [0, 1] (what SB3's
preprocessing yields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    """Sizes of the observation encoder."""

    channels: tuple[int, ...] = (16, 32, 32)  # stride-2 3x3 convolutions
    features: int = 256  # output size
    use_goal_image: bool = True  # encode ``goal`` when the observation has it


def conv_stack(in_channels: int, image_size: int, channels: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    """Stride-2 conv layers + flatten; returns the module and its output size for a square image."""
    layers: list[nn.Module] = []
    size = image_size
    for out in channels:
        layers += [nn.Conv2d(in_channels, out, 3, stride=2, padding=1), nn.ReLU()]
        in_channels, size = out, (size + 1) // 2
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), in_channels * size * size


def image_shape(space: spaces.Box, channels_first: bool) -> tuple[int, int]:
    """(channels, size) of a square image space."""
    c, h, w = space.shape if channels_first else (space.shape[2], space.shape[0], space.shape[1])
    if h != w:
        raise ValueError(f"images must be square, got {space.shape}")
    return c, h


def scene_shape(spaces_: dict[str, spaces.Space], channels_first: bool) -> tuple[int, int]:
    """(channels, size) of the scene input: ``image`` with ``heatmap`` stacked on when the space has one."""
    channels, size = image_shape(spaces_["image"], channels_first)
    if "heatmap" in spaces_:
        channels += image_shape(spaces_["heatmap"], channels_first)[0]
    return channels, size


def scene_input(observations: dict[str, torch.Tensor], use_heatmap: bool) -> torch.Tensor:
    """The scene batch (B, C, H, W) an encoder reads: ``image``, with ``heatmap`` as extra channels."""
    scene = observations["image"]
    return torch.cat([scene, observations["heatmap"]], dim=1) if use_heatmap else scene


class ObservationEncoder(nn.Module):
    """Dict observation → feature vector (B, ``config.features``).

    Args:
        observation_space: the Dict space; images channel-last unless ``channels_first``.
        config: layer sizes.
        channels_first: True for spaces SB3 has transposed to (C, H, W).
    """

    def __init__(self, observation_space: spaces.Dict, config: EncoderConfig = EncoderConfig(),
                 channels_first: bool = False) -> None:
        super().__init__()
        s = observation_space.spaces
        for key in ("image", "gripper"):
            if key not in s:
                raise ValueError(f"observation space needs key {key!r}, has {sorted(s)}")
        channels, size = scene_shape(s, channels_first)
        self.use_heatmap = "heatmap" in s
        self.scene, scene_out = conv_stack(channels, size, config.channels)
        fused = scene_out + s["gripper"].shape[0]
        self.use_goal_image = config.use_goal_image and "goal" in s
        if self.use_goal_image:
            goal_channels, goal_size = image_shape(s["goal"], channels_first)
            self.goal, goal_out = conv_stack(goal_channels, goal_size, config.channels)
            fused += goal_out
        self.use_goal_embedding = "goal_embedding" in s
        if self.use_goal_embedding:
            fused += s["goal_embedding"].shape[0]
        self.fuse = nn.Sequential(nn.Linear(fused, config.features), nn.ReLU())
        self.features = config.features

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.scene(scene_input(observations, self.use_heatmap)), observations["gripper"].float()]
        if self.use_goal_image:
            parts.append(self.goal(observations["goal"]))
        if self.use_goal_embedding:
            parts.append(observations["goal_embedding"].float())
        return self.fuse(torch.cat(parts, dim=1))


def space_to_dict(space: spaces.Dict) -> dict[str, Any]:
    """JSON description of a Dict of Box spaces (shape, dtype, bounds' extremes)."""
    return {k: {"shape": list(s.shape), "dtype": str(s.dtype), "low": float(np.min(s.low)),
                "high": float(np.max(s.high))} for k, s in space.spaces.items()}


def space_from_dict(data: dict[str, Any]) -> spaces.Dict:
    return spaces.Dict({k: spaces.Box(v["low"], v["high"], tuple(v["shape"]), dtype=np.dtype(v["dtype"]))
                        for k, v in data.items()})
