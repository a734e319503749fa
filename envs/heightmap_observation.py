"""A top-down height map in the observation: the sensor a grasp-aligned-patch policy reads.

:class:`HeightmapObservation` scans the bin once per attempt: when the episode is reset, and again when a
lift is put back and a new attempt begins (``info["released"]``, worlds of more than one grasp), each time with
the arm out of sight, as a fixed overhead depth camera would before the arm moves in. Every observation until the
next scan carries it under ``heightmap``: (H, W, 4) uint8, height in millimetres then colour
(:meth:`envs.heightmap.Heightmap.encode`). A policy that decides where to grasp from an attempt's first
observation reads the scene as it was when it decided.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.heightmap import ENCODED_CHANNELS, GridGeometry, HeightmapConfig

HEIGHTMAP_KEY = "heightmap"


class HeightmapObservation(gym.Wrapper):
    """Adds ``heightmap`` to a Kuka grasp env's (or a wrapper of one's) dict observations.

    Args:
        env: the env; its ``unwrapped.world`` renders the map.
        config: the height map's grid and camera (default: :class:`envs.heightmap.HeightmapConfig`'s).
    """

    def __init__(self, env: gym.Env, config: HeightmapConfig | None = None) -> None:
        super().__init__(env)
        config = config or HeightmapConfig()
        if not isinstance(env.observation_space, spaces.Dict):
            raise TypeError(f"HeightmapObservation needs a Dict observation space, got {env.observation_space}")
        self.config = config
        self.geometry = GridGeometry.of(env.unwrapped.config.layout, config)
        box = spaces.Box(0, 255, (*self.geometry.shape, ENCODED_CHANNELS), dtype=np.uint8)
        self.observation_space = spaces.Dict({**env.observation_space.spaces, HEIGHTMAP_KEY: box})
        self._scan: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self._scan = self._render()
        return {**observation, HEIGHTMAP_KEY: self._scan}, info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._scan is None:
            raise RuntimeError("call reset() before step()")
        observation, reward, terminated, truncated, info = self.env.step(action)
        if info.get("released"):  # a lift was put back: the bin changed and a new attempt begins
            self._scan = self._render()
        return {**observation, HEIGHTMAP_KEY: self._scan}, reward, terminated, truncated, info

    def _render(self) -> np.ndarray:
        return self.env.unwrapped.world.render_heightmap(self.config).encode()
