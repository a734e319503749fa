"""The PyBullet world: table, tray, Kuka arm, objects and cameras, with no Gymnasium in sight.

The arm, table and tray are loaded once per world; a reset only swaps the objects and settles
them together, which is what makes the world fast. PyBullet never frees the shapes of removed
bodies, so every ``WorldConfig.rebuild_after_loads`` object loads the world empties the simulation
and loads table, tray and arm again (a few tens of milliseconds), which keeps memory flat.
Each world owns its own ``BulletClient``, so several live side by side in one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from envs.arm import KukaArm
from envs.cameras import SceneCamera, WristCamera
from envs.config import WorldConfig
from envs.heightmap import Heightmap, HeightmapCamera, HeightmapConfig

LOGGER = logging.getLogger(__name__)
HIDDEN_POSITION = (0.0, 0.0, -50.0)
MAX_SPEED = 20.0  # m/s; anything faster has exploded


class UnloadableObjectError(RuntimeError):
    """A URDF could not be loaded by PyBullet."""


@dataclass(frozen=True)
class GraspOutcome:
    """What a grasp attempt (close → lift → hold) produced.

    Attributes:
        lifted: PyBullet body ids of the objects lifted and still held (ground truth): above the lift
            threshold when the lift ended and again after ``PhysicsConfig.hold_s`` of holding still.
        dropped: body ids above the threshold when the lift ended but no longer after the hold
            (thrown up, or slipped out): lifted under the old, lift's-end-only definition.
        fault: why the world became invalid during the attempt, or None.
        aperture: measured distance between the fingertips after the lift, metres: the robot's
            own "is something in my hand" sensor (closed on nothing ≈ 0.0395 m), no ground truth.
        grasp_sensed: the robot's own bit "something is in my hand": ``aperture`` exceeds the
            world's ``closed_aperture`` by more than ``ArmConfig.grasp_margin``. No ground truth.
        touching: PyBullet body ids of the objects in contact with the arm or gripper after the
            lift (ground truth; lifted but not touching = thrown up, not held).
    """

    lifted: tuple[int, ...]
    dropped: tuple[int, ...] = ()
    fault: str | None = None
    aperture: float = float("nan")
    grasp_sensed: bool = False
    touching: tuple[int, ...] = ()


class GraspWorld:
    """Simulated bin-picking cell. All poses are in the world frame, metres and radians."""

    def __init__(self, config: WorldConfig | None = None, gui: bool = False) -> None:
        self.config = config or WorldConfig()
        if gui and not os.environ.get("DISPLAY"):
            # PyBullet's GUI would abort the whole process without a display.
            LOGGER.warning("no display (DISPLAY is unset): the PyBullet GUI is not opened, the world runs headless")
            gui = False
        self.gui = gui
        self.client = BulletClient(connection_mode=pybullet.GUI if gui else pybullet.DIRECT)
        self.objects: list[int] = []
        self.object_urdfs: dict[int, Path] = {}
        self._hidden: set[int] = set()
        self._heightmap_camera: HeightmapCamera | None = None
        self.rebuilds = 0
        self._build()

    def _build(self) -> None:
        """Set the engine parameters and load plane, table, tray and arm into an empty simulation."""
        c, layout, physics = self.client, self.config.layout, self.config.physics
        c.setAdditionalSearchPath(pybullet_data.getDataPath())
        c.setPhysicsEngineParameter(numSolverIterations=physics.solver_iterations,
                                    fixedTimeStep=physics.time_step, deterministicOverlappingPairs=1,
                                    enableFileCaching=1)
        c.setGravity(0, 0, -9.81)
        self.plane = c.loadURDF("plane.urdf", (0, 0, -1), useFixedBase=True)
        self.table = c.loadURDF("table/table.urdf", layout.table_position, useFixedBase=True)
        self.tray = c.loadURDF("tray/tray.urdf", layout.tray_position, (0, 0, 1, 0), useFixedBase=True)
        self.arm = KukaArm(c, layout.arm_base_position, self.config.arm)
        # PyBullet's file cache keeps every file it read until the process ends (~35 KiB per object
        # mesh): it serves the static scene's files, which a rebuild reads again (40 ms instead
        # of 400 ms), but not the objects', whose number is unbounded.
        c.setPhysicsEngineParameter(enableFileCaching=0)
        self.scene_camera = SceneCamera(c, self.config.camera)
        self.wrist_camera = WristCamera(c, self.config.camera)
        self.closed_aperture = self.measure_closed_aperture()
        self.loads_since_build = 0

    def measure_closed_aperture(self) -> float:
        """Fingertip distance (m) after closing and lifting on nothing, high above the empty bin.

        A property of the gripper found without labels: every build closes the gripper once in mid-air,
        exactly as :meth:`grasp` does (``close_steps`` then ``lift_steps``), before any object is
        loaded, and reads the fingertips (about 8 ms). The next :meth:`reset` homes the arm again.
        """
        self.arm.reset(self.home_position())
        self.close_and_lift()
        return self.arm.fingertip_distance()

    def grasp_sensed(self, aperture: float) -> bool:
        """Whether a measured post-lift ``aperture`` (m) says the gripper holds something:
        ``aperture > closed_aperture + ArmConfig.grasp_margin`` (False for NaN)."""
        return bool(aperture > self.closed_aperture + self.config.arm.grasp_margin)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with contextlib.suppress(pybullet.error):
            self.client.disconnect()

    def rebuild(self) -> None:
        """Empty the simulation and load the static scene and the arm again, as a new world would.

        ``removeBody`` leaves a body's collision shapes and meshes allocated (PyBullet frees them
        only in ``resetSimulation``), so a world that swaps objects every episode grows without
        bound unless it is rebuilt now and then. Body ids come out as in a new world.
        """
        self.client.resetSimulation()
        self.objects, self.object_urdfs, self._hidden = [], {}, set()
        self._build()
        self.rebuilds += 1

    def reset(self, urdfs: Sequence[Path], rng: np.random.Generator) -> None:
        """Replace the objects with ``urdfs`` dropped at random poses, settle them, home the arm.

        The world is rebuilt first once ``config.rebuild_after_loads`` objects have been loaded
        since its last build. A rebuilt world is a new world (same body ids, same scene), so the
        schedule is deterministic and a seed gives the episode a new world would give.

        Raises:
            UnloadableObjectError: PyBullet cannot load one of the URDFs (the message names it).
        """
        c, layout = self.client, self.config.layout
        if self.loads_since_build >= self.config.rebuild_after_loads:
            self.rebuild()
        # Reverse order: PyBullet reuses freed ids last-in first-out, so ids repeat exactly.
        for body in reversed(self.objects):
            c.removeBody(body)
        self.objects, self.object_urdfs, self._hidden = [], {}, set()
        self.arm.reset(self.home_position())
        for index, urdf in enumerate(urdfs):
            position = (rng.uniform(*layout.drop_x), rng.uniform(*layout.drop_y),
                        layout.drop_height + layout.drop_spacing * index)
            orientation = c.getQuaternionFromEuler(rng.uniform(-np.pi, np.pi, size=3).tolist())
            self.loads_since_build += 1
            try:
                body = c.loadURDF(str(urdf), position, orientation)
            except pybullet.error as error:
                raise UnloadableObjectError(f"PyBullet could not load object URDF {urdf}: {error}") from None
            physics = self.config.physics
            c.changeDynamics(body, -1, rollingFriction=physics.object_rolling_friction,
                             spinningFriction=physics.object_rolling_friction,
                             angularDamping=physics.object_angular_damping)
            self.objects.append(body)
            self.object_urdfs[body] = Path(urdf)
        self.settle()

    def settle(self) -> int:
        """Step (at ``settle_time_step``) until every object is nearly still or ``max_settle_steps``
        have passed; return the steps taken."""
        physics = self.config.physics
        self.client.setPhysicsEngineParameter(fixedTimeStep=physics.settle_time_step)
        taken = 0
        while taken < physics.max_settle_steps:
            self.step(physics.settle_chunk)
            taken += physics.settle_chunk
            speeds = [np.linalg.norm(self.client.getBaseVelocity(b)[0]) for b in self.objects]
            if max(speeds, default=0.0) < physics.settle_speed:
                break
        self.client.setPhysicsEngineParameter(fixedTimeStep=physics.time_step)
        return taken

    def home_position(self) -> np.ndarray:
        """End-effector start position: above the tray centre."""
        layout = self.config.layout
        return np.array([np.mean(layout.drop_x), np.mean(layout.drop_y), layout.start_height])

    def step(self, n: int) -> None:
        for _ in range(n):
            self.client.stepSimulation()

    # ------------------------------------------------------------------ control
    def clip_to_workspace(self, position: np.ndarray) -> np.ndarray:
        layout = self.config.layout
        low = np.array([layout.workspace_x[0], layout.workspace_y[0], layout.workspace_z[0]])
        high = np.array([layout.workspace_x[1], layout.workspace_y[1], layout.workspace_z[1]])
        return np.clip(position, low, high)

    def move(self, translation: np.ndarray, yaw_change: float) -> None:
        """Move the end-effector target by ``translation`` (m, (3,)) and the wrist by ``yaw_change``.

        The target is clipped to the workspace box; the arm tracks it for one action's sub-steps.
        """
        target = self.clip_to_workspace(self.arm.target_position + np.asarray(translation))
        self.arm.set_target(target, self.arm.yaw + float(yaw_change))
        self.step(self.config.physics.substeps_per_action)

    def close_and_lift(self) -> None:
        """Close the fingers (``close_steps``), then lift the gripper to ``lift_height`` (``lift_steps``)."""
        physics = self.config.physics
        self.arm.set_fingers(0.0)
        self.step(physics.close_steps)
        self._move_to_height(self.config.layout.lift_height, physics.lift_steps)

    def _move_to_height(self, height: float, steps: int) -> None:
        """Move the end-effector target straight up or down to ``height`` (m) and track it for ``steps``."""
        target = self.arm.target_position.copy()
        target[2] = height
        self.arm.set_target(target, self.arm.yaw)
        self.step(steps)

    def grasp(self) -> GraspOutcome:
        """Close the fingers, lift to ``lift_height``, hold still for ``hold_s`` and report what is held
        and what the gripper senses."""
        physics = self.config.physics
        self.close_and_lift()
        raised = self.above_line()
        self.step(physics.hold_steps)
        fault = self.fault()
        still = set(self.above_line())
        touching = tuple(b for b in self.objects if self.client.getContactPoints(self.arm.body, b))
        aperture = self.arm.fingertip_distance()
        return GraspOutcome(lifted=tuple(b for b in raised if b in still),
                            dropped=tuple(b for b in raised if b not in still), fault=fault, aperture=aperture,
                            grasp_sensed=self.grasp_sensed(aperture), touching=touching)

    def release(self) -> None:
        """Put back what the gripper holds: lower it to ``release_height``, open the fingers, raise it to
        ``start_height``, then home the arm (as a reset does) and let the objects settle."""
        physics, layout = self.config.physics, self.config.layout
        self._move_to_height(layout.release_height, physics.lift_steps)
        self.arm.set_fingers(self.config.arm.finger_open)
        self.step(physics.close_steps)
        self._move_to_height(layout.start_height, physics.lift_steps)
        self.arm.reset(self.home_position())
        self.settle()

    def above_line(self) -> tuple[int, ...]:
        """Body ids of the objects whose base is more than ``lift_threshold`` above the tray floor."""
        layout = self.config.layout
        threshold = layout.tray_floor_z + layout.lift_threshold
        return tuple(b for b in self.objects if self.object_position(b)[2] > threshold)

    # ------------------------------------------------------------------ state
    def object_position(self, body: int) -> np.ndarray:
        return np.asarray(self.client.getBasePositionAndOrientation(body)[0])

    def object_poses(self) -> np.ndarray:
        """Position and orientation of each object, (N, 7): xyz then quaternion xyzw."""
        poses = [np.concatenate(self.client.getBasePositionAndOrientation(b)) for b in self.objects]
        return np.asarray(poses, dtype=np.float64).reshape(len(self.objects), 7)

    def fault(self) -> str | None:
        """Why the world is no longer valid (an object or the arm left the workspace, exploded), or None."""
        layout = self.config.layout
        low, high = np.asarray(layout.bounds_low), np.asarray(layout.bounds_high)
        for body in self.objects:
            if body in self._hidden:
                continue
            position = self.object_position(body)
            velocity = np.asarray(self.client.getBaseVelocity(body)[0])
            if not np.all(np.isfinite(position)) or np.linalg.norm(velocity) > MAX_SPEED:
                return f"object {self.object_urdfs[body].stem} exploded"
            if np.any(position < low) or np.any(position > high):
                return f"object {self.object_urdfs[body].stem} left the workspace"
        ee = self.arm.end_effector_position()
        if not np.all(np.isfinite(ee)) or np.linalg.norm(ee - self.arm.target_position) > 0.25:
            return "arm lost track of its target"
        return None

    # ------------------------------------------------------------------ images
    @contextlib.contextmanager
    def _hidden_bodies(self, bodies: Sequence[int]) -> Iterator[None]:
        """Move bodies out of sight for a render and put them back exactly (no physics runs)."""
        c = self.client
        saved = [(b, c.getBasePositionAndOrientation(b), c.getBaseVelocity(b)) for b in bodies]
        for body in bodies:
            c.resetBasePositionAndOrientation(body, HIDDEN_POSITION, (0, 0, 0, 1))
        try:
            yield
        finally:
            for body, (position, orientation), (linear, angular) in saved:
                c.resetBasePositionAndOrientation(body, position, orientation)
                c.resetBaseVelocity(body, linear, angular)

    def render_scene(self, hide_arm: bool = False, hide: Sequence[int] = (), with_mask: bool = False,
                     size: int | None = None, fov: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Scene camera image (H, W, 3) uint8 and optional body-id mask (H, W) int32.

        ``hide_arm`` renders the bin without the arm; ``hide`` lists objects to leave out
        (a held object, for the post-grasp image). ``size`` (pixels) overrides the camera's ``image_size``,
        ``fov`` (degrees) its ``scene_fov``.
        """
        bodies = ([self.arm.body] if hide_arm else []) + list(hide)
        with self._hidden_bodies(bodies):
            return self.scene_camera.render(with_mask, size, fov)

    def render_heightmap(self, config: HeightmapConfig | None = None) -> Heightmap:
        """Top-down height map of the drop zone with the arm out of sight (:mod:`envs.heightmap`)."""
        config = config or HeightmapConfig()
        if self._heightmap_camera is None or self._heightmap_camera.config != config:
            self._heightmap_camera = HeightmapCamera(self.client, self.config.layout, config)
        with self._hidden_bodies([self.arm.body]):
            return self._heightmap_camera.render()

    def render_wrist(self, with_mask: bool = False, size: int | None = None, backdrop: bool = False
                     ) -> tuple[np.ndarray, np.ndarray | None]:
        """Wrist camera image (H, W, 3) uint8: after a lift, the outcome image; ``size`` as in ``render_scene``.
        ``backdrop``: only the arm and the objects above the lift line in sight (floor, table, tray and the bin's
        other objects hidden), as a camera would see the lift against a plain backdrop."""
        position, orientation = self.arm.end_effector_pose()
        hidden = [self.plane, self.table, self.tray, *(b for b in self.objects if b not in self.above_line())]
        with self._hidden_bodies(hidden if backdrop else []):
            return self.wrist_camera.render(position, orientation, with_mask, size)
