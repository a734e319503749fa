"""One grasp episode as a shard stores it: the self-supervised record and its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTION_DIM = 5


@dataclass(frozen=True)
class GroundTruth:
    """What only the simulator (or a human label) knows about a grasp. Evaluation only.

    Attributes:
        objects: names of the K objects in the bin (URDF stems), or ``()`` when unknown.
        urdfs: URDF paths of those objects, (K,) (empty strings for imported data).
        lifted: which of the K objects were lifted, (K,) bool.
        object_poses: pre-grasp pose of each object, (K, 7) float32: xyz (m) then quaternion xyzw.
        pre_mask: pre-grasp scene segmentation, (H, W) int8: index into ``objects``, -1 elsewhere;
            None when not recorded.
        post_mask: the same for the post-grasp scene, or None.
        touching: which of the K objects touched the arm or gripper after the lift, (K,) bool (lifted
            but not touching: thrown up, not held); None when not recorded.
        again_lifted: which of the K objects the second lift of the same grasp lifted (a collection with
            ``regrasp_same``), (K,) bool; None when not recorded.
    """

    objects: tuple[str, ...]
    urdfs: tuple[str, ...]
    lifted: np.ndarray
    object_poses: np.ndarray
    pre_mask: np.ndarray | None = None
    post_mask: np.ndarray | None = None
    touching: np.ndarray | None = None
    again_lifted: np.ndarray | None = None

    @property
    def lifted_objects(self) -> tuple[str, ...]:
        """Names of the lifted objects."""
        return tuple(name for name, up in zip(self.objects, self.lifted, strict=True) if up)


@dataclass(frozen=True)
class GraspRecord:
    """One grasp episode.

    Attributes:
        index: position in the dataset, 0-based; simulated episode ``index`` always uses the same seed.
        key: stable 63-bit id of the record, used for the deterministic train/validation split.
        seed: the ``env.reset`` seed (-1 for imported data).
        pre_image, post_image, outcome_image: (H, W, 3) uint8; all zeros when no grasp was attempted.
        grasp_attempted: the gripper closed (False when the episode was cut at ``max_steps`` or faulted).
        success: something was lifted and no fault occurred (the simulator's ground truth: for
            evaluation, never a training label).
        grasp_sensed: the gripper sensed an object after the lift (its measured aperture exceeded the
            closed-on-nothing aperture by ``ArmConfig.grasp_margin``) and no fault occurred: the
            self-supervised label that training reads. None when the source did not sense it (the
            shard then omits the field and readers fall back, see ``graspdata.layout.read_grasp_sensed``).
        fault: why the world became invalid, or ``""``.
        observations: what the policy saw, key → (T+1, ...) (``image`` (T+1, H, W, 3) uint8, ``gripper`` (T+1, 5)).
        actions: (T, 5) float32 in [-1, 1].
        rewards: (T,) float32 as the environment paid them.
        terminated: the episode ended by a grasp or a fault (False: cut at ``max_steps``).
        truth: ground truth, kept in its own group on disk; None when nothing is known.
        outcome_aperture: measured fingertip distance after the lift, metres (a gripper sensor);
            NaN when no grasp was attempted or the source did not record it.
        pre_heightmap: the top-down height map scanned before the grasp, (Hm, Wm, 4) uint8
            (:meth:`envs.heightmap.Heightmap.encode`), or None when not recorded.
        again_outcome_image: (H, W, 3) uint8, the outcome of the same grasp made again after the lift was put
            back (a collection with ``regrasp_same``): a second view of what the first lift held, when
            ``again_sensed``; all zeros when there was no second lift. None when not recorded.
        again_sensed: the gripper sensed an object after that second lift (its own bit, as ``grasp_sensed``);
            False when there was none. None when not recorded.
    """

    index: int
    key: int
    seed: int
    pre_image: np.ndarray
    post_image: np.ndarray
    outcome_image: np.ndarray
    grasp_attempted: bool
    success: bool
    fault: str = ""
    observations: dict[str, np.ndarray] = field(default_factory=dict)
    actions: np.ndarray = field(default_factory=lambda: np.zeros((0, ACTION_DIM), np.float32))
    rewards: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    terminated: bool = True
    truth: GroundTruth | None = None
    outcome_aperture: float = float("nan")
    grasp_sensed: bool | None = None
    pre_heightmap: np.ndarray | None = None
    again_outcome_image: np.ndarray | None = None
    again_sensed: bool | None = None

    def __post_init__(self) -> None:
        size = self.pre_image.shape
        if len(size) != 3 or size[2] != 3 or self.pre_image.dtype != np.uint8:
            raise ValueError(f"pre_image must be (H, W, 3) uint8, got {size} {self.pre_image.dtype}")
        for name in ("post_image", "outcome_image"):
            image = getattr(self, name)
            if image.shape != size or image.dtype != np.uint8:
                raise ValueError(f"{name} must be {size} uint8 like pre_image, got {image.shape} {image.dtype}")
        again = self.again_outcome_image
        if (again is None) != (self.again_sensed is None):
            raise ValueError("again_outcome_image and again_sensed are recorded together or not at all")
        if again is not None and (again.shape != size or again.dtype != np.uint8):
            raise ValueError(f"again_outcome_image must be {size} uint8 like pre_image, got {again.shape} "
                             f"{again.dtype}")
        heightmap = self.pre_heightmap
        if heightmap is not None and (heightmap.ndim != 3 or heightmap.shape[2] != 4 or heightmap.dtype != np.uint8):
            raise ValueError(f"pre_heightmap must be (H, W, 4) uint8, got {heightmap.shape} {heightmap.dtype}")
        steps = len(self.actions)
        if self.actions.shape != (steps, ACTION_DIM) or self.rewards.shape != (steps,):
            raise ValueError(f"actions must be (T, {ACTION_DIM}) and rewards (T,), "
                             f"got {self.actions.shape} and {self.rewards.shape}")
        for key, value in self.observations.items():
            if len(value) != steps + 1:
                raise ValueError(f"observation {key!r} has {len(value)} entries, expected T+1 = {steps + 1}")

    @property
    def num_steps(self) -> int:
        return len(self.actions)
