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
    localization alone (paper, section 4) turned into a grasp by :class:`envs.grasp_pose.PoseFollower`.

    Each episode it scores a grid of ``grid`` × ``grid`` positions over the drop zone by the
    heatmap value at their pixel (``PoseSpace.pixels``) and grasps at the best one with wrist yaw
    ``yaw`` (normalised, 0 = straight). Reads the observation's ``heatmap`` (H, W, 1) uint8.
    """

    def __init__(self, world: Any, grid: int = 48, yaw: float = 0.0) -> None:
        from envs.grasp_pose import PosePolicy

        line = np.linspace(-1.0, 1.0, grid)
        xs, ys = np.meshgrid(line, line, indexing="ij")
        self.candidates = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, yaw)], axis=1)
        self.policy = PosePolicy(self.choose, world)
        self._pixels: dict[int, np.ndarray] = {}  # image size → (2, grid²) columns and rows of the candidates

    def heat_at_candidates(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """The goal heatmap's value (grid²,) at each candidate's pixel."""
        if "heatmap" not in observation:
            raise KeyError(f"{type(self).__name__} needs observation key 'heatmap' (agents.core.goal_features)")
        heat = np.asarray(observation["heatmap"])[..., 0]
        size = heat.shape[0]
        if size not in self._pixels:
            self._pixels[size] = self.policy.space.pixels(self.candidates, size).T
        columns, rows = self._pixels[size]
        return heat[rows, columns]

    def choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """The normalised pose (3,) whose pixel has the highest heatmap value."""
        return self.candidates[int(np.argmax(self.heat_at_candidates(observation)))]

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        return self.policy.act(observation)


class HeatmapQGraspPolicy(HeatmapGraspPolicy):
    """*Where* from the goal's Grasp2Vec heatmap, *how* from a learned indiscriminate grasp
    Q-function: the ``positions`` grid cells with the highest heatmap value, each with ``yaws``
    wrist angles, ranked by the Q-function of a grasp-anything pose QT-Opt (``goal_task=False``),
    which picks the pose most likely to lift something there. Both parts are label-free and neither
    was trained on the instance task.

    Args:
        world: the world the poses live in.
        q: a :class:`agents.qtopt.learner.PoseQTOpt` trained with the ``indiscriminate`` reward.
        grid: candidate positions per side of the drop zone.
        positions: how many of the heatmap's best positions the Q-function chooses among.
        yaws: wrist angles tried at each position, spread over [-1, 1) (normalised).
    """

    def __init__(self, world: Any, q: Any, grid: int = 48, positions: int = 48, yaws: int = 8) -> None:
        if q.goal_task:
            raise ValueError("HeatmapQGraspPolicy needs an indiscriminate (goal_task=False) pose Q-function")
        if not 1 <= positions <= grid * grid or yaws < 1:
            raise ValueError(f"need 1 <= positions <= grid² = {grid * grid} and yaws >= 1, got {positions}, {yaws}")
        super().__init__(world, grid=grid)
        self.q, self.positions = q, positions
        self.yaws = np.linspace(-1.0, 1.0, yaws, endpoint=False)

    def choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """The normalised pose (3,) with the highest Q among the heatmap's best positions × the wrist angles."""
        import torch

        best = np.argsort(self.heat_at_candidates(observation), kind="stable")[-self.positions:]
        xy = np.repeat(self.candidates[best, :2], len(self.yaws), axis=0)
        poses = np.concatenate([xy, np.tile(self.yaws, len(best))[:, None]], axis=1)
        inputs = self.q.inputs({"image": np.asarray(observation["image"])[None]})
        with torch.no_grad():
            logits = self.q.q_values(inputs, torch.as_tensor(poses, dtype=torch.float32)[None])[0]
        return poses[int(torch.argmax(logits))]
