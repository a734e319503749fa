"""Configuration of a collection run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from envs.config import CameraConfig

# Fields that define the data: a resumed run must use the same values.
IDENTITY_FIELDS = ("objects", "num_objects", "image_size", "triplet_size", "max_steps", "policy", "seed", "heightmap",
                   "scene_each_step", "triplet_fov", "regrasp_same", "triplet_backdrop")
# Identity fields added later, with the value datasets collected before them have.
IDENTITY_DEFAULTS = {"heightmap": False, "triplet_size": None, "scene_each_step": True, "triplet_fov": None,
                     "regrasp_same": False, "triplet_backdrop": False}
CARD_WORLD = "world"  # a dataset card records the world beside the collection settings (graspdata.collect.new_card)


@dataclass(frozen=True)
class CollectConfig:
    """What to collect and how.

    Attributes:
        objects: object set: ``"seen"``, ``"unseen"``, a folder, a glob, or a list of URDF paths.
        num_objects: objects dropped into the bin per episode.
        image_size: side of the observed images (what the policy sees), pixels.
        triplet_size: side of the recorded pre, post and outcome images, pixels; None: ``image_size``.
            A sharper triplet (say 128 over a 64 px policy) costs the collector about 30 ms of rendering
            per attempt and leaves the episodes unchanged: the same seed collects the same grasps.
        triplet_fov: field of view (degrees) of the recorded pre and post images, narrower than the policy's
            scene camera (``envs.config.CameraConfig.triplet_fov``): a zoom on the bin that gives each object
            more pixels at the same size. None: the policy's view. The episodes are unchanged, as above.
        triplet_backdrop: record the outcome image against a plain backdrop (``CameraConfig.triplet_backdrop``): only
            the arm and what it holds in sight, no floor whose pattern says where the arm lifted. The episodes and
            the policy's outcome observation are unchanged.
        max_steps: actions per episode before it is cut.
        policy: ``"random"``, ``package.module:callable`` or a saved policy folder (see :mod:`graspdata.policies`).
        seed: base seed; episode ``i`` is reset with ``episode_seed(seed, i)``.
        grasps: total grasp attempts (episodes) the dataset should hold.
        shard_size: attempts per shard file (the unit of work, of loss on a kill, and of a resume).
        workers: parallel worker processes (or Ray actors).
        max_task_failures: a shard whose worker crashes this many times stops the run.
        heightmap: also record each attempt's top-down height map of the bin before the grasp
            (:class:`envs.heightmap_observation.HeightmapObservation`, default grid), the view a
            grasp-aligned-patch policy reads; about 34 KB per attempt before compression.
        scene_each_step: render the scene image at every step of an attempt. False (the default since
            2026-12-07): once per attempt, each later step's ``image`` repeating the attempt's first
            (:class:`envs.grasp_env.KukaGraspEnv`). Every learner here reads an episode's first image only
            (grasp poses), and the same seed collects the same grasps, triplets and first images either way;
            a closed-loop learner that reads every step's image needs True. About 6 ms of rendering per step.
        regrasp_same: after a lift the gripper sensed, put it back and make the same grasp again (the attempt's
            actions replayed from home), recording that second lift's outcome image and sensed bit beside the
            record (``GraspRecord.again_outcome_image``): two views of one object, paired by the robot's own
            actions, without labels. The record's attempt, triplet and first images are the ones a collection
            without it makes from the same seed; the second lift costs about as much as the first.
    """

    objects: str | tuple[str, ...] = "seen"
    num_objects: int = 5
    image_size: int = 64
    triplet_size: int | None = None
    triplet_fov: float | None = None
    triplet_backdrop: bool = False
    max_steps: int = 10
    policy: str = "random"
    seed: int = 0
    grasps: int = 1000
    shard_size: int = 100
    workers: int = 2
    max_task_failures: int = 3
    heightmap: bool = False
    scene_each_step: bool = False
    regrasp_same: bool = False

    def __post_init__(self) -> None:
        for name in ("grasps", "shard_size", "workers", "max_task_failures", "num_objects"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.triplet_fov is not None:
            CameraConfig(triplet_fov=self.triplet_fov)  # a ValueError names the range
        if isinstance(self.objects, list):
            object.__setattr__(self, "objects", tuple(self.objects))

    def identity(self) -> dict[str, Any]:
        """The fields a dataset is defined by (JSON-ready)."""
        data = asdict(self)
        data["objects"] = list(self.objects) if isinstance(self.objects, tuple) else self.objects
        return {name: data[name] for name in IDENTITY_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["objects"] = list(self.objects) if isinstance(self.objects, tuple) else self.objects
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectConfig:
        """The config a dataset card's ``config`` records (its ``world``, a copy of the world it implies, aside);
        an identity field the card predates takes the value its data were collected with (``IDENTITY_DEFAULTS``).

        Raises:
            ValueError: a field this code does not know (a card from other code).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {CARD_WORLD})
        if unknown:
            raise ValueError(f"unknown collection settings {unknown}; this code reads {sorted(known)}")
        return cls(**{**IDENTITY_DEFAULTS, **{k: v for k, v in data.items() if k in known}})
