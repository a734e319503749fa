"""Non-learning reference policies for the learned ones' curves."""

from __future__ import annotations

from typing import Any

import numpy as np

CLOSE_INDEX = 4


class RandomMovePolicy:
    """Uniform random moves in [-1, 1] that never close: with ``auto_descend`` the gripper still
    closes at the bottom, so this is what QT-Opt's exploration alone achieves."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """No per-episode state."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        action = self.rng.uniform(-1.0, 1.0, 5).astype(np.float32)
        action[CLOSE_INDEX] = -1.0
        return action


class HeatmapGraspPolicy:
    """Grasps where the Grasp2Vec heatmap of the goal peaks, with no learning on top: the
    localization alone (paper, section 4) turned into a grasp by :class:`agents.grasp_pose.PoseFollower`.

    Each episode it scores a grid of ``grid`` × ``grid`` positions over the drop zone by the
    heatmap value at their pixel (``PoseSpace.pixels``) and grasps at the best one with wrist yaw
    ``yaw`` (normalised, 0 = straight). Reads the observation's ``heatmap`` (H, W, 1) uint8.
    """

    def __init__(self, world: Any, grid: int = 48, yaw: float = 0.0) -> None:
        from agents.grasp_pose import PosePolicy

        line = np.linspace(-1.0, 1.0, grid)
        xs, ys = np.meshgrid(line, line, indexing="ij")
        self.candidates = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, yaw)], axis=1)
        self.policy = PosePolicy(self.choose, world)
        self._pixels: dict[int, np.ndarray] = {}  # image size → (2, grid²) columns and rows of the candidates

    def choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """The normalised pose (3,) whose pixel has the highest heatmap value."""
        if "heatmap" not in observation:
            raise KeyError("HeatmapGraspPolicy needs observation key 'heatmap' (agents.goal_features)")
        heat = np.asarray(observation["heatmap"])[..., 0]
        size = heat.shape[0]
        if size not in self._pixels:
            self._pixels[size] = self.policy.space.pixels(self.candidates, size).T
        columns, rows = self._pixels[size]
        return self.candidates[int(np.argmax(heat[rows, columns]))]

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        return self.policy.act(observation)
