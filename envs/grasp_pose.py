"""Grasp poses as actions: where to grasp (x, y, wrist yaw), where that is in the scene image, and
the controller that carries a chosen pose out with the environment's motor actions.

A grasp-pose policy decides once per episode, from the first observation; the move there, the
descent and the close are done by :class:`PoseFollower` from the observed gripper state alone
(no simulator access), exactly as the scripted random collector does. So a learner only has to
learn *where* to grasp, which is what instance grasping is about.

Poses are handled normalised, ``u`` in ``[-1, 1]^3``, by :class:`PoseSpace`:
``x, y`` span the bin's drop zone (``LayoutConfig.drop_x/drop_y``, metres) and ``u[2]`` spans the
wrist yaw ``[-pi/2, pi/2)`` (a two-finger grasp is symmetric under a half turn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet
import torch
from gymnasium import spaces

from common.settings import from_fields
from envs.arm import FINGER_OFFSET
from envs.cameras import FAR, NEAR
from envs.config import WorldConfig

BOTTOM_MARGIN = 0.004  # m above the lowest reachable height at which the gripper closes
ALIGNED = 0.012  # m horizontal error below which the gripper may close
STALLED = 0.005  # m: a descent smaller than this in one step means the fingers rest on something
OBJECT_HEIGHT = 0.03  # m above the tray floor at which a pose is projected into the scene image
AVOID_PENALTY = 1e4  # subtracted from a search's score (a sum of log-probabilities) near a pose given up
AVOID_RADIUS = 0.02  # m around a given-up grasp point that a further search leaves out (any yaw)


def wrap_half_turn(angle: float) -> float:
    """Two-finger grasps are symmetric under a half turn: map to [-pi/2, pi/2)."""
    return (angle + np.pi / 2) % np.pi - np.pi / 2


def finger_offsets(yaw: torch.Tensor) -> torch.Tensor:
    """Where the fingertips meet relative to the end effector at wrist angles ``yaw`` (..., radians): (..., 2) metres,
    ``envs.arm.FINGER_OFFSET`` across the closing direction (-cos yaw, sin yaw)."""
    return FINGER_OFFSET * torch.stack([torch.sin(yaw), torch.cos(yaw)], dim=-1)


@dataclass(frozen=True)
class Avoid:
    """Grasp points a pose search leaves out: every pose whose grasp point lies within ``radius`` metres of one
    of ``poses``' grasp points, at any wrist yaw (a grasp given up, and the spot it was tried at).

    Attributes:
        poses: (K, 3) normalised poses.
        radius: metres.
    """

    poses: np.ndarray
    radius: float = AVOID_RADIUS

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses, dtype=np.float64).reshape(-1, 3)
        if not np.all(np.isfinite(poses)) or not self.radius > 0:
            raise ValueError(f"avoid needs finite poses (K, 3) and a radius > 0 m, got {self.poses!r}, {self.radius}")
        object.__setattr__(self, "poses", poses)


def avoiding(score: Callable[[torch.Tensor], torch.Tensor], avoid: Avoid | None, space: PoseSpace
             ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``score`` (candidates (B, N, 3) → (B, N)) less :data:`AVOID_PENALTY` for candidates whose grasp point lies
    within ``avoid.radius`` of a pose in ``avoid`` (:meth:`PoseSpace.grasp_point_distances`); ``score`` itself
    when there is nothing to avoid. What a search uses to take its next candidate after a grasp was given up."""
    if avoid is None or len(avoid.poses) == 0:
        return score
    others = torch.as_tensor(avoid.poses, dtype=torch.float32)

    def penalised(candidates: torch.Tensor) -> torch.Tensor:
        near = (space.grasp_point_distances(candidates, others) < avoid.radius).any(dim=-1)
        return score(candidates) - AVOID_PENALTY * near.to(candidates.dtype)

    return penalised


@dataclass(frozen=True)
class PoseSpace:
    """Normalised grasp poses ``u`` (..., 3) in [-1, 1] ↔ (x m, y m, yaw rad), and their pixels.

    A pose's (x, y), called its grasp point in this module, is where the end effector goes; the fingertips meet
    ``envs.arm.FINGER_OFFSET`` beside it (:meth:`finger_points`).

    Args:
        world: the world whose layout bounds the poses and whose scene camera sees them.
    """

    world: WorldConfig

    @property
    def low(self) -> np.ndarray:
        layout = self.world.layout
        return np.array([layout.drop_x[0], layout.drop_y[0], -np.pi / 2])

    @property
    def high(self) -> np.ndarray:
        layout = self.world.layout
        return np.array([layout.drop_x[1], layout.drop_y[1], np.pi / 2])

    def to_pose(self, u: np.ndarray) -> np.ndarray:
        """Normalised (..., 3) → (x, y, yaw) (..., 3)."""
        return self.low + (np.clip(u, -1.0, 1.0) + 1.0) / 2.0 * (self.high - self.low)

    def from_pose(self, pose: np.ndarray) -> np.ndarray:
        """(x, y, yaw) (..., 3) → normalised (..., 3); yaw is wrapped to a half turn first."""
        pose = np.array(pose, dtype=np.float64)
        pose[..., 2] = (pose[..., 2] + np.pi / 2) % np.pi - np.pi / 2
        return np.clip(2.0 * (pose - self.low) / (self.high - self.low) - 1.0, -1.0, 1.0)

    def camera_matrix(self) -> np.ndarray:
        """(4, 4) projection @ view of the scene camera (world homogeneous → clip coordinates)."""
        c = self.world.camera
        view = pybullet.computeViewMatrixFromYawPitchRoll(c.scene_target, c.scene_distance, c.scene_yaw,
                                                          c.scene_pitch, 0.0, 2)
        projection = pybullet.computeProjectionMatrixFOV(c.scene_fov, 1.0, NEAR, FAR)
        return np.asarray(projection).reshape(4, 4).T @ np.asarray(view).reshape(4, 4).T

    def image_coordinates(self, u: torch.Tensor) -> torch.Tensor:
        """Normalised poses (..., 3) → where their (x, y) lie in the scene image, (..., 2) as
        ``grid_sample`` coordinates: -1 = left / top edge, +1 = right / bottom edge."""
        return self.project(self._metres(u))

    def read_at_poses(self, maps: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Scene-image-aligned maps (B, C, H, W) read bilinearly where normalised poses (B, N, 3) grasp:
        (B, C, N)."""
        return self._read(maps, self.image_coordinates(u))

    def read_at_fingers(self, maps: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Scene-image-aligned maps (B, C, H, W) read bilinearly where the fingertips of normalised poses (B, N, 3)
        meet (:meth:`finger_points`), not under the pose's (x, y): (B, C, N)."""
        return self._read(maps, self.project(self.finger_points(u)))

    @staticmethod
    def _read(maps: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
        """Maps (B, C, H, W) read bilinearly at image coordinates (B, N, 2): (B, C, N)."""
        grid = coordinates[:, :, None, :]
        return torch.nn.functional.grid_sample(maps, grid, mode="bilinear", align_corners=False)[..., 0]

    def finger_points(self, u: torch.Tensor) -> torch.Tensor:
        """Where the fingertips of normalised poses (..., 3) meet, (x, y) metres (..., 2): the pose's (x, y) is
        the end effector's, and the fingers hang ``envs.arm.FINGER_OFFSET`` beside it, across the closing
        direction."""
        return self._metres(u) + finger_offsets(u[..., 2].clamp(-1, 1) * (torch.pi / 2))

    def pose_at_fingers(self, fingers: np.ndarray, yaw: np.ndarray | float) -> np.ndarray:
        """Normalised poses (..., 3) whose fingertips meet at ``fingers`` (..., 2) (x, y metres) with the wrist at
        ``yaw`` (radians, in [-pi/2, pi/2): a half turn more would put the fingers on the other side): the inverse
        of :meth:`finger_points` (clipped to the drop zone like any pose)."""
        yaw = np.broadcast_to(np.asarray(yaw, dtype=np.float64), np.shape(fingers)[:-1])
        xy = np.asarray(fingers, dtype=np.float64) - finger_offsets(torch.from_numpy(yaw.copy())).numpy()
        return self.from_pose(np.concatenate([xy, yaw[..., None]], axis=-1))

    def read_points(self, u: torch.Tensor, reach: float) -> torch.Tensor:
        """Image coordinates (..., P, 2) of the grasp point of normalised poses (..., 3) and, when
        ``reach`` > 0, of the four points ``reach`` metres from it along and across the wrist's
        axis (yaw): what lies where the fingers close and beside them. P = 1 or 5, centre first."""
        centre = self._metres(u)
        if reach <= 0:
            return self.project(centre)[..., None, :]
        yaw = u[..., 2].clamp(-1, 1) * (torch.pi / 2)
        along = torch.stack([torch.cos(yaw), torch.sin(yaw)], dim=-1)
        across = torch.stack([-along[..., 1], along[..., 0]], dim=-1)
        points = [centre, centre + reach * along, centre - reach * along, centre + reach * across,
                  centre - reach * across]
        return self.project(torch.stack(points, dim=-2))

    def to_pose_tensor(self, u: torch.Tensor) -> torch.Tensor:
        """Normalised poses (..., 3) → (x m, y m, yaw rad) (..., 3), differentiable (:meth:`to_pose` in torch)."""
        low = torch.as_tensor(self.low, dtype=u.dtype, device=u.device)
        high = torch.as_tensor(self.high, dtype=u.dtype, device=u.device)
        return low + (u.clamp(-1, 1) + 1) / 2 * (high - low)

    def grasp_point_distances(self, candidates: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
        """Distances (..., N, K) in metres between the grasp points of normalised poses ``candidates`` (..., N, 3)
        and ``others`` (K, 3); the yaw plays no part."""
        difference = self._metres(candidates)[..., :, None, :] - self._metres(others.to(candidates.dtype))
        return torch.linalg.vector_norm(difference, dim=-1)

    def _metres(self, u: torch.Tensor) -> torch.Tensor:
        """Normalised poses (..., 3) → their (x, y) in metres (..., 2)."""
        low = torch.as_tensor(self.low[:2], dtype=u.dtype, device=u.device)
        high = torch.as_tensor(self.high[:2], dtype=u.dtype, device=u.device)
        return low + (u[..., :2].clamp(-1, 1) + 1) / 2 * (high - low)

    def project(self, xy: torch.Tensor) -> torch.Tensor:
        """Points (..., 2) in metres at object height → ``grid_sample`` image coordinates (..., 2)."""
        z = torch.full_like(xy[..., :1], self.world.layout.tray_floor_z + OBJECT_HEIGHT)
        points = torch.cat([xy, z, torch.ones_like(z)], dim=-1)
        matrix = torch.as_tensor(self.camera_matrix(), dtype=xy.dtype, device=xy.device)
        clip = points @ matrix.T
        ndc = clip[..., :2] / clip[..., 3:4]
        return torch.stack([ndc[..., 0], -ndc[..., 1]], dim=-1)

    def pixels(self, u: np.ndarray, image_size: int) -> np.ndarray:
        """Normalised poses (..., 3) → (column, row) pixel indices (..., 2) int in an image of ``image_size``."""
        coords = self.image_coordinates(torch.as_tensor(np.asarray(u, dtype=np.float64))).numpy()
        return np.clip(np.floor((coords + 1) / 2 * image_size), 0, image_size - 1).astype(np.int64)


@dataclass(frozen=True)
class ApproachConfig:
    """How :class:`PoseFollower` approaches a pose.

    Attributes:
        hover: metres above the lowest reachable height at which the gripper waits, turning the wrist and
            centring over the pose, until it is aligned; then it descends straight down. 0 = descend while
            moving and turning (the approach every collector and shipped checkpoint was trained with).
        translation_tolerance: horizontal error (m) under which the gripper counts as centred.
        yaw_tolerance: wrist-angle error (rad) under which it counts as turned.
        max_align_steps: actions from the start of the episode after which the descent begins, aligned or not,
            so the grasp still closes within the episode's step limit.
        offset: (x m, y m, yaw rad) added to every chosen pose before it is carried out: a probe of how much
            success depends on carrying a pose out exactly (compare trial for trial with the offset at 0).
    """

    hover: float = 0.0
    translation_tolerance: float = 0.004
    yaw_tolerance: float = 0.05
    max_align_steps: int = 7
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.hover < 0 or self.translation_tolerance <= 0 or self.yaw_tolerance <= 0 or self.max_align_steps < 0:
            raise ValueError(f"invalid approach {self}: hover >= 0, tolerances > 0 and max_align_steps >= 0")
        if len(self.offset) != 3 or not all(np.isfinite(self.offset)):
            raise ValueError(f"offset must be three finite numbers (x m, y m, yaw rad), got {self.offset}")
        object.__setattr__(self, "offset", tuple(float(v) for v in self.offset))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ApproachConfig:
        """An approach from a card's or a command line's fields; an unknown field is a ``ValueError`` naming it."""
        return from_fields(cls, values, "approach")


class PoseFollower:
    """Drives the gripper to a grasp pose from the observed gripper state, then closes.

    It moves towards (x, y, bottom of the workspace) while turning the wrist to ``yaw``, and
    closes once aligned and at the bottom — or earlier, when the fingers rest on something and
    stop descending. With ``approach.hover`` > 0 it first waits that high above the bottom until it is
    centred and turned (or ``approach.max_align_steps`` have passed), then descends. Actions are the
    environment's ``[dx, dy, dz, dyaw, close]`` in [-1, 1].
    """

    def __init__(self, world: WorldConfig, approach: ApproachConfig = ApproachConfig()) -> None:
        self.world, self.approach = world, approach
        self.target = np.zeros(3)
        self.yaw = 0.0
        self._last_height = np.inf
        self._steps = 0
        self._descending = True

    def start(self, x: float, y: float, yaw: float) -> None:
        """Aim at a new pose (metres, radians), moved by ``approach.offset``; call once per episode."""
        dx, dy, dyaw = self.approach.offset
        self.target = np.array([x + dx, y + dy, self.world.layout.workspace_z[0]])
        self.yaw = float(yaw) + dyaw
        self._last_height = np.inf
        self._steps = 0
        self._descending = self.approach.hover == 0

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """Next action (5,) float32 for an observation with ``gripper`` = (x, y, z, yaw, opening)."""
        arm, approach = self.world.arm, self.approach
        gripper = np.asarray(observation["gripper"], dtype=np.float64)
        position, yaw = gripper[:3], gripper[3]
        self._steps += 1
        if not self._descending:
            centred = np.linalg.norm(self.target[:2] - position[:2]) < approach.translation_tolerance
            turned = abs(wrap_half_turn(self.yaw - yaw)) < approach.yaw_tolerance
            self._descending = (centred and turned) or self._steps > approach.max_align_steps
        target = self.target if self._descending else self.target + np.array([0.0, 0.0, approach.hover])
        error = target - position
        aligned = np.linalg.norm(error[:2]) < 2 * ALIGNED
        at_bottom = error[2] > -BOTTOM_MARGIN - 0.01
        blocked = self._last_height - position[2] < STALLED
        self._last_height = position[2] if self._descending else np.inf
        if self._descending and aligned and (at_bottom or blocked):
            return np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
        action = np.array([*(error / arm.max_translation), wrap_half_turn(self.yaw - yaw) / arm.max_yaw, -1.0])
        return np.clip(action, -1.0, 1.0).astype(np.float32)


class PosePolicy:
    """An :class:`common.protocols.Policy` from a pose chooser: the first observation of an episode picks
    the normalised pose (``choose(observation) -> (3,)``), :class:`PoseFollower` drives there."""

    def __init__(self, choose: Callable[[dict[str, np.ndarray]], np.ndarray], world: WorldConfig,
                 approach: ApproachConfig = ApproachConfig()) -> None:
        self.choose = choose
        self.space = PoseSpace(world)
        self.follower = PoseFollower(world, approach)
        self.chosen: np.ndarray | None = None

    def reset(self) -> None:
        self.chosen = None

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        if self.chosen is None:
            self.chosen = np.asarray(self.choose(observation), dtype=np.float64).reshape(3)
            self.follower.start(*self.space.to_pose(self.chosen))
        return self.follower.act(observation)


class PoseChooser:
    """Base of pose choosers that act as an :class:`common.protocols.Policy` through ``self.policy``, a
    :class:`PosePolicy` built on their own ``choose``."""

    policy: PosePolicy

    @property
    def chosen(self) -> np.ndarray | None:
        """The normalised pose (3,) of the current episode, None before its first action."""
        return self.policy.chosen

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """Motor action (5,): the first call of an episode picks the pose, the follower drives to it."""
        return self.policy.act(observation)


class PoseActionWrapper(gym.Wrapper):
    """A Kuka grasp env (or a wrapper of one) as a one-decision task: the action is a normalised
    grasp pose ``Box(-1, 1, (3,))``; one ``step`` runs :class:`PoseFollower` to the end of the
    episode and returns its last observation, summed reward and info, always ``terminated``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        world = env.unwrapped.config
        self.space, self.follower = PoseSpace(world), PoseFollower(world)
        self.action_space = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
        self._observation: dict[str, np.ndarray] | None = None

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._observation, info = self.env.reset(**kwargs)
        return self._observation, info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._observation is None:
            raise RuntimeError("call reset() before step()")
        u = np.asarray(action, dtype=np.float64)
        if u.shape != (3,) or not np.all(np.isfinite(u)):
            raise ValueError(f"a grasp-pose action is 3 finite numbers [x, y, yaw] in [-1, 1], got {u.tolist()}")
        self.follower.start(*self.space.to_pose(u))
        observation, total, done = self._observation, 0.0, False
        while not done:
            observation, reward, terminated, truncated, info = self.env.step(self.follower.act(observation))
            total += float(reward)
            done = terminated or truncated
        self._observation = None
        return observation, total, True, False, info
