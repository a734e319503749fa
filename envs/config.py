"""Configuration of the simulated grasping world (all lengths in metres, angles in radians)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhysicsConfig:
    """Simulation settings. The defaults are the fastest ones that keep grasps sound.

    ``python -m runs.bench_world --fidelity N`` runs the same scenes with ``scaled(4)`` and
    reports how often grasps that succeed here also succeed there.
    """

    time_step: float = 1.0 / 240.0
    solver_iterations: int = 50
    substeps_per_action: int = 12
    # Falling objects need no fine time step: settling runs at a coarser one.
    settle_time_step: float = 1.0 / 120.0
    settle_chunk: int = 5
    max_settle_steps: int = 100
    settle_speed: float = 0.04  # m/s: objects slower than this count as settled
    # Random blobs otherwise roll for seconds on the tray floor.
    object_rolling_friction: float = 0.002
    object_angular_damping: float = 0.5
    close_steps: int = 30
    lift_steps: int = 40
    # After the lift the arm holds still this long (s); an object counts as lifted only when it is above
    # the line both when the lift ends and after the hold: held, not thrown up or slipping out. 0 = the
    # lift's end alone (the definition before 2026-11-27).
    hold_s: float = 0.5

    def __post_init__(self) -> None:
        if self.hold_s < 0:
            raise ValueError(f"hold_s must be non-negative (seconds), got {self.hold_s}")

    @property
    def hold_steps(self) -> int:
        """Simulation steps of the hold after the lift (``hold_s`` at ``time_step``)."""
        return round(self.hold_s / self.time_step)

    def scaled(self, factor: int) -> PhysicsConfig:
        """A high-fidelity copy for checking the defaults: ``factor`` × the sub-steps per action,
        per close and per lift (the arm gets that much longer to track each target). Object
        drops and settling are unchanged, so both settings start from identical scenes; the hold
        after the lift is a duration and stays as it is."""
        return dataclasses.replace(
            self,
            substeps_per_action=self.substeps_per_action * factor,
            close_steps=self.close_steps * factor,
            lift_steps=self.lift_steps * factor,
        )


@dataclass(frozen=True)
class LayoutConfig:
    """Where things stand: table, tray, arm, drop zone and the gripper's workspace."""

    table_position: tuple[float, float, float] = (0.5, 0.0, -0.82)
    tray_position: tuple[float, float, float] = (0.64, 0.075, -0.19)
    arm_base_position: tuple[float, float, float] = (-0.1, 0.0, 0.07)
    tray_floor_z: float = -0.185
    # Objects are dropped uniformly in this rectangle (x range, y range) at ``drop_height``.
    drop_x: tuple[float, float] = (0.47, 0.73)
    drop_y: tuple[float, float] = (-0.13, 0.19)
    drop_height: float = -0.12
    drop_spacing: float = 0.03  # each further object is dropped this much higher
    # The end-effector (link 6) target is clipped to this box.
    workspace_x: tuple[float, float] = (0.42, 0.80)
    workspace_y: tuple[float, float] = (-0.18, 0.26)
    workspace_z: tuple[float, float] = (0.06, 0.40)
    start_height: float = 0.30
    lift_height: float = 0.40
    # End-effector height at which a lifted object is let go when a policy releases it (KukaGraspEnv's max_grasps).
    release_height: float = 0.11
    # An object counts as lifted when its base is this far above the tray floor after the lift.
    lift_threshold: float = 0.15
    # Anything beyond this box (or below it) has left the workspace.
    bounds_low: tuple[float, float, float] = (-0.2, -0.7, -0.6)
    bounds_high: tuple[float, float, float] = (1.4, 0.7, 1.5)


@dataclass(frozen=True)
class ArmConfig:
    """Kuka iiwa with PyBullet's 2-finger gripper."""

    max_force: float = 200.0
    finger_force: float = 30.0
    finger_tip_force: float = 10.0
    finger_open: float = 0.3
    position_gain: float = 0.3
    max_joint_velocity: float = 3.0
    max_translation: float = 0.05
    max_yaw: float = 0.25
    # After the lift the gripper senses an object when its fingertips stay more than this far
    # (m) apart beyond where they meet closing on nothing (``GraspWorld.closed_aperture``).
    # Label-free choice: of 1,986 random in-bin attempts, 72 % stopped within 2.5 mm of the mid-air
    # value (closed on nothing, brushing the floor or an object's edge) and most held objects keep
    # the tips > 10 mm apart; 5 mm sits in the sparse band between (docs/results/grasp-sensing.md).
    grasp_margin: float = 0.005

    def __post_init__(self) -> None:
        if not 0.0 < self.grasp_margin < 0.05:
            raise ValueError(f"grasp_margin must be in (0, 0.05) m, got {self.grasp_margin}")


# Fingertip distance (m) of the default gripper closed on nothing in mid-air, as
# ``GraspWorld.measure_closed_aperture`` measures it (0.03954 m ± 1e-5 over positions and wrist
# angles). Only for data that recorded apertures but no sensed bit (older shards); a world
# measures its own at every build.
NOMINAL_CLOSED_APERTURE = 0.0395


@dataclass(frozen=True)
class CameraConfig:
    """Image sizes (pixels, square) and the two cameras' placement.

    ``image_size`` is what a policy observes and a reward scores. ``triplet_size`` is the side of the
    recorded pre-grasp, post-grasp and outcome images (the embedding's training data), when they are
    rendered sharper than the observation; None records them at ``image_size``. ``triplet_fov`` narrows the
    scene camera's field of view (degrees) for the recorded pre- and post-grasp images alone, a zoom on
    ``scene_target`` that gives each object more pixels at the same image size; None records them as the
    policy sees the scene (``scene_fov``). ``triplet_backdrop`` records the outcome image with only the arm and what
    it holds in sight (``GraspWorld.render_wrist(backdrop=True)``): no floor behind the held object, whose pattern
    moves with the arm and tells where it lifted; the policy's own outcome observation is unchanged.
    """

    image_size: int = 64
    triplet_size: int | None = None
    triplet_fov: float | None = None
    triplet_backdrop: bool = False
    scene_target: tuple[float, float, float] = (0.62, 0.06, -0.18)
    scene_distance: float = 1.0
    scene_yaw: float = 245.0
    scene_pitch: float = -56.0
    scene_fov: float = 36.0
    # Beside the gripper, looking almost horizontally at the fingertips, so that a held object
    # fills the image against the distant floor rather than the cluttered bin.
    wrist_offset: tuple[float, float, float] = (0.0, 0.22, 0.20)
    wrist_target_offset: tuple[float, float, float] = (0.0, 0.022, 0.235)
    wrist_fov: float = 40.0

    def __post_init__(self) -> None:
        if self.triplet_fov is not None and not 5.0 <= self.triplet_fov <= self.scene_fov:
            raise ValueError(f"triplet_fov narrows the scene camera's view: degrees in [5, scene_fov = "
                             f"{self.scene_fov}], got {self.triplet_fov}")

    @property
    def triplet_scene_fov(self) -> float:
        """Field of view (degrees) of the recorded pre- and post-grasp images."""
        return self.scene_fov if self.triplet_fov is None else self.triplet_fov

    @property
    def triplet_image_size(self) -> int:
        """Side (pixels) of the recorded pre, post and outcome images."""
        return self.image_size if self.triplet_size is None else self.triplet_size


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines the world; pass to :class:`envs.world.GraspWorld`."""

    num_objects: int = 5
    # ``removeBody`` keeps a body's collision shapes (about 53 KiB per random_urdfs object); only
    # ``resetSimulation`` frees them. A reset first rebuilds the world (about 40 ms of CPU) once this
    # many objects were loaded since the last build, which bounds that memory to ~5 MiB.
    rebuild_after_loads: int = 100
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    arm: ArmConfig = field(default_factory=ArmConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.num_objects <= 10:
            raise ValueError(f"num_objects must be in 1..10, got {self.num_objects}")
        if self.rebuild_after_loads < 1:
            raise ValueError(f"rebuild_after_loads must be at least 1, got {self.rebuild_after_loads}")
        if not 16 <= self.camera.image_size <= 512:
            raise ValueError(f"image_size must be in 16..512 pixels, got {self.camera.image_size}")
        if not 16 <= self.camera.triplet_image_size <= 512:
            raise ValueError(f"triplet_size must be in 16..512 pixels, got {self.camera.triplet_size}")


@dataclass(frozen=True)
class WorldSettings:
    """The task world a Gymnasium grasp env is made with: what a policy is trained in and scored in.

    :class:`WorldConfig` is the simulator underneath (physics, layout, arm, cameras); these are the
    settings a task varies. A training preset (:mod:`agents.presets`) and a benchmark table
    (:mod:`benchmark.tasks`) each hold one; the object set is chosen apart (a training preset's
    ``objects``, a benchmark table's columns).

    Attributes:
        num_objects: objects per bin.
        image_size: side of the scene, goal and outcome images, pixels (in a benchmark table: the scripted
            rows'; a learned row sees the size it was trained at, the only setting it brings along).
        max_steps: actions per episode before it is cut off (12: the shipped policies' training world).
        auto_descend: whether the gripper descends by itself every step.
        hold_s: seconds the arm holds still after the lift before "lifted" is read (``PhysicsConfig.hold_s``;
            0 = above the line when the lift ends, the definition before 2026-11-27).
        max_grasps: grasps an episode may make (``KukaGraspEnv``'s ``max_grasps``): 1 = the first lift ends it;
            more = after a lift the policy keeps what it holds or puts it back and grasps again.
    """

    num_objects: int = 5
    image_size: int = 64
    max_steps: int = 12
    auto_descend: bool = False
    hold_s: float = PhysicsConfig.hold_s
    max_grasps: int = 1

    def world_config(self) -> WorldConfig:
        """The environment's world: defaults with these settings' objects, image size and hold."""
        camera = dataclasses.replace(CameraConfig(), image_size=self.image_size)
        return WorldConfig(num_objects=self.num_objects, physics=PhysicsConfig(hold_s=self.hold_s), camera=camera)
