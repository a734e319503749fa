"""Presets of the main job (:func:`pipeline.run.run_pipeline`): how much of each stage it runs.

- ``tiny``: a minute or two on 2 CPU cores; tests and smoke runs only, the numbers mean nothing.
- ``default``: about 15 minutes on this 2-core machine: a small but complete run of the method.
- ``large``: the same pipeline scaled up (hours on 2 cores; minutes on a many-core machine or a
  Ray cluster for collection and benchmark).

Every stage is one library call with a config built from these presets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envs.objects import random_urdfs_dir

# Four seen objects: a tiny dataset then repeats objects, which the reward calibration needs.
TINY_OBJECTS = str(random_urdfs_dir() / "00[1-4]" / "*.urdf")


@dataclass(frozen=True)
class CollectStage:
    """Collection (``runs.collect``): indiscriminate (random scripted) grasps on seen objects."""

    grasps: int = 1000
    objects: str = "seen"
    workers: int = 2
    num_objects: int = 5
    image_size: int = 64  # the shipped Grasp2Vec's: the embedding stage starts from it, reward and heatmaps share it
    shard_size: int = 100
    seed: int = 0
    heightmap: bool = True  # record the height maps the patch-view policy reads


@dataclass(frozen=True)
class EmbeddingStage:
    """Embedding training (``runs.train_embedding``): Grasp2Vec on the collected triplets.

    ``init_from`` starts from a shipped checkpoint (fine-tuning; its architecture and image size then
    replace ``embedding_dim`` and must match the collected images); ``None`` trains from random weights.
    """

    steps: int = 250
    batch_size: int = 32
    lr: float = 5e-4  # peak learning rate: a tenth of training from scratch, for the warm start
    embedding_dim: int = 64
    eval_every: int = 100
    checkpoint_every: int = 100
    seed: int = 0
    init_from: str | None = "checkpoints/grasp2vec"


@dataclass(frozen=True)
class CalibrationStage:
    """Reward calibration (``runs.calibrate_reward``): threshold and empty-gripper classifier, on training objects."""

    split: str = "all"
    empty: int = 100
    presence_steps: int = 1500  # training steps of the presence classifier
    seed: int = 0


@dataclass(frozen=True)
class PolicyStage:
    """Policy training (``runs.train_policy``): a goal-conditioned policy on the grasp2vec reward."""

    algo: str = "qtopt-pose"
    preset: str = "pose-patch-small"  # an agents.presets preset
    grasps: int = 2000
    minutes: float = 5.0  # online phase time cap of one call (then evaluated and checkpointed)
    goal_features: str = "heatmap"
    offline_data: bool = True  # pre-train on the collect stage's grasps (all attempts, failures included)
    seed: int = 0
    # the grasp prior: an indiscriminate patch-view checkpoint whose weights start the policy (None: random weights)
    init_from: str | None = "checkpoints/policies/qtopt-patch-indiscriminate/checkpoint"


@dataclass(frozen=True)
class BenchmarkStage:
    """The benchmark (``runs.benchmark``): this run's policy beside the shipped checkpoints and the scripted rows."""

    trials: int = 60
    workers: int = 2
    objects: tuple[str, ...] = ("seen", "unseen")
    # the reference rows beside the run's own policy: 60 trials a cell keeps the job within 15 minutes
    # with these four; the whole table is `make benchmark`
    shipped_rows: tuple[str, ...] = ("random", "qtopt-indiscriminate", "qtopt-grasp2vec", "privileged")


@dataclass(frozen=True)
class PipelinePreset:
    collect: CollectStage = field(default_factory=CollectStage)
    embedding: EmbeddingStage = field(default_factory=EmbeddingStage)
    calibration: CalibrationStage = field(default_factory=CalibrationStage)
    policy: PolicyStage = field(default_factory=PolicyStage)
    benchmark: BenchmarkStage = field(default_factory=BenchmarkStage)


PRESETS: dict[str, PipelinePreset] = {
    "tiny": PipelinePreset(
        collect=CollectStage(grasps=40, objects=TINY_OBJECTS, workers=1, num_objects=2, image_size=32, shard_size=20),
        embedding=EmbeddingStage(steps=3, batch_size=4, lr=5e-3, embedding_dim=16, eval_every=3, checkpoint_every=3,
                                 init_from=None),
        calibration=CalibrationStage(empty=8, presence_steps=20),
        policy=PolicyStage(preset="pose-patch-tiny", grasps=6, minutes=1.0, init_from=None),
        benchmark=BenchmarkStage(trials=2, workers=1, shipped_rows=("random",)),
    ),
    "default": PipelinePreset(),
    "large": PipelinePreset(
        collect=CollectStage(grasps=20_000, shard_size=200),
        embedding=EmbeddingStage(steps=6000, batch_size=64, lr=5e-3, eval_every=500, checkpoint_every=250),
        calibration=CalibrationStage(split="val", empty=400),
        policy=PolicyStage(grasps=20_000, minutes=600.0),
        benchmark=BenchmarkStage(trials=200),
    ),
}
