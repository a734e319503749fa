"""Scripted grasping policies.

- :class:`RandomGraspPolicy` sees only the gripper state: it picks a random spot and wrist
  angle in the bin, goes there while descending, and closes at the bottom. The paper's
  indiscriminate data collector, before a learned one replaces it.
- :class:`PrivilegedGraspPolicy` reads ground-truth object geometry from the simulator and
  grasps across an object's narrowest horizontal axis: the ceiling learned policies are
  compared to. It is never used to train anything that is evaluated without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pybullet

from envs.config import WorldConfig
from envs.grasp_pose import ALIGNED, BOTTOM_MARGIN, PoseFollower, wrap_half_turn
from envs.world import GraspWorld

HOVER_CLEARANCE = 0.10  # m above the bottom kept while still far from the target


def approach_action(world: GraspWorld, point_xy: np.ndarray, yaw: float) -> np.ndarray:
    """Normalised action that brings the fingertip midpoint over ``point_xy`` at wrist ``yaw``,
    descending as it aligns, and closes once at the bottom. Shape (5,), values in [-1, 1]."""
    arm, layout, cfg = world.arm, world.config.layout, world.config.arm
    finger_offset = arm.grasp_point()[:2] - arm.end_effector_position()[:2]
    goal_xy = np.asarray(point_xy) - finger_offset
    error_xy = goal_xy - arm.target_position[:2]
    bottom = layout.workspace_z[0]
    height = arm.target_position[2]
    if height <= bottom + BOTTOM_MARGIN and np.linalg.norm(error_xy) < 2 * ALIGNED:
        return np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
    distance = float(np.linalg.norm(error_xy))
    floor = bottom if distance < ALIGNED * 2 else bottom + HOVER_CLEARANCE
    dz = max(floor - height, -cfg.max_translation)
    step = error_xy / cfg.max_translation
    dyaw = wrap_half_turn(yaw - arm.yaw) / cfg.max_yaw
    action = np.array([step[0], step[1], dz / cfg.max_translation, dyaw, -1.0])
    return np.clip(action, -1.0, 1.0).astype(np.float32)


class ObjectGeometryError(ValueError):
    """No usable collision geometry could be read for an object (the message names its URDF)."""


def _rotation(client: Any, quaternion: Any) -> np.ndarray:
    return np.asarray(client.getMatrixFromQuaternion(quaternion)).reshape(3, 3)


def _primitive_points(geometry: int, dimensions: tuple[float, ...]) -> np.ndarray | None:
    """Points (N, 3) outlining a primitive collision shape in its own frame (metres), or None for other types."""
    ring = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    if geometry == pybullet.GEOM_BOX:  # dimensions: full extents along x, y, z
        corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
        return corners * 0.5 * np.asarray(dimensions[:3])
    if geometry == pybullet.GEOM_SPHERE:  # dimensions[0]: radius
        radius = dimensions[0]
        circle = np.stack([np.cos(ring), np.sin(ring), np.zeros_like(ring)], axis=1)
        return radius * np.concatenate([circle, [[0, 0, 1], [0, 0, -1]]])
    if geometry in (pybullet.GEOM_CYLINDER, pybullet.GEOM_CAPSULE):  # dimensions: length, radius (axis z)
        length, radius = dimensions[0], dimensions[1]
        half = length / 2 + (radius if geometry == pybullet.GEOM_CAPSULE else 0.0)
        circle = np.stack([radius * np.cos(ring), radius * np.sin(ring)], axis=1)
        return np.concatenate([np.column_stack([circle, np.full(len(ring), z)]) for z in (-half, half)])
    return None


def object_points(world: GraspWorld, body: int) -> np.ndarray:
    """World-frame points (N, 3), metres, outlining an object's collision shape: its mesh vertices; for
    primitive shapes (box, sphere, cylinder, capsule) points on their surface from PyBullet's collision
    shape data; otherwise the corners of its axis-aligned bounding box.

    Raises:
        ObjectGeometryError: none of these gives a finite outline (the message names the URDF).
    """
    c = world.client
    position, orientation = c.getBasePositionAndOrientation(body)
    base = _rotation(c, orientation)
    vertices = np.asarray(c.getMeshData(body)[1], dtype=np.float64).reshape(-1, 3)
    if len(vertices) >= 3:
        return vertices @ base.T + np.asarray(position)
    outlines = []
    for shape in c.getCollisionShapeData(body, -1):
        local = _primitive_points(shape[2], shape[3])
        if local is None:
            outlines = []
            break
        # The shape's frame relative to the base's inertial frame, which getBasePositionAndOrientation gives.
        in_base = local @ _rotation(c, shape[6]).T + np.asarray(shape[5])
        outlines.append(in_base @ base.T + np.asarray(position))
    if outlines:
        points = np.concatenate(outlines)
    else:
        low, high = (np.asarray(corner, dtype=np.float64) for corner in c.getAABB(body))
        points = np.array(np.meshgrid(*zip(low, high, strict=True))).reshape(3, -1).T
    if len(points) < 3 or not np.all(np.isfinite(points)) or np.ptp(points[:, :2], axis=0).max() <= 0:
        raise ObjectGeometryError(f"object URDF {world.object_urdfs.get(body, body)}: no usable collision geometry "
                                  "for a grasp (no mesh vertices, primitive shapes or bounding box)")
    return points


def grasp_pose(world: GraspWorld, body: int) -> tuple[np.ndarray, float]:
    """Ground-truth grasp for an object: (centre xy (2,), wrist yaw closing across its narrow axis).

    Raises:
        ObjectGeometryError: the object's geometry cannot be read (see :func:`object_points`).
    """
    xy = object_points(world, body)[:, :2]
    centre = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
    _, axes = np.linalg.eigh(np.cov((xy - xy.mean(axis=0)).T))
    minor = axes[:, 0]
    # The fingers close along (-cos yaw, sin yaw): align that with the minor axis.
    return centre, wrap_half_turn(-float(np.arctan2(minor[1], minor[0])))


class RandomGraspPolicy:
    """Indiscriminate grasps at random places, using only the observation's gripper state.

    Each episode it draws a spot in the bin and a wrist angle, moves there while descending, and
    closes at the bottom — or earlier, when the fingers rest on something and stop descending
    (:class:`envs.grasp_pose.PoseFollower`).
    """

    def __init__(self, world_config: WorldConfig | None = None, seed: int | None = None) -> None:
        self.config = world_config or WorldConfig()
        self.rng = np.random.default_rng(seed)
        self.follower = PoseFollower(self.config)
        self.reset()

    def reset(self) -> None:
        layout = self.config.layout
        self.follower.start(self.rng.uniform(*layout.drop_x), self.rng.uniform(*layout.drop_y),
                            self.rng.uniform(-np.pi / 2, np.pi / 2))

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        return self.follower.act(observation)


class PrivilegedGraspPolicy:
    """Grasps a chosen object using simulator ground truth (a ceiling, never a learner).

    Args:
        env: the environment whose ``unwrapped.world`` is read. The target is the instance
            task's target when the env has one, otherwise the object nearest the bin centre.
        yaw_offset: radians added to the across-the-narrow-axis wrist angle (0: the heuristic grasp).
        shift: metres the grasp point moves along the object's long axis (0: its centre).
    """

    def __init__(self, env, yaw_offset: float = 0.0, shift: float = 0.0) -> None:
        self.env = env
        self.yaw_offset, self.shift = float(yaw_offset), float(shift)

    def reset(self) -> None:
        pass

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        env = self.env.unwrapped
        world: GraspWorld = env.world
        body = getattr(env, "target_body", None)
        if body is None:
            centre = world.home_position()[:2]
            body = min(world.objects, key=lambda b: np.linalg.norm(world.object_position(b)[:2] - centre))
        point, yaw = grasp_pose(world, body)
        # The fingers close along (-cos yaw, sin yaw); the long axis is perpendicular to that.
        point = point + self.shift * np.array([np.sin(yaw), np.cos(yaw)])
        return approach_action(world, point, wrap_half_turn(yaw + self.yaw_offset))
