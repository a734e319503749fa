"""Presets of policy training (:func:`agents.train.train_policy`): the world, the learners and the schedule.

- ``pose``: ``--algo qtopt-pose`` / ``sac-pose`` (one grasp pose per episode) at 64 px, the
  collected data's resolution: what the shipped policies were trained with.
- ``pose-reach``: ``pose`` whose Q-network also reads beside the grasp point.
- ``pose-32``: the same at 32 px, for the main job (``runs.pipeline``).
- ``pose-patch``: ``pose`` with the grasp-aligned height-map patch view (data from ``runs.collect --heightmap``).
- ``pose-patch-sym``: ``pose-patch`` with symmetry augmentation (``PoseQTOptConfig.augment_symmetries``).
- ``pose-patch-coarse``: ``pose-patch`` with its patch sampled at 16 px (8 mm a pixel): a resolution probe.
- ``pose-patch-placed``: ``pose-patch`` that also reads the grasp's place in the bin and its wrist angle.
- ``pose-patch-heat``: ``pose-patch`` with the goal heat at the grasp point as a scalar input (goal tasks).
- ``pose-patch-small``: the patch view on a small dataset, the main job's (``runs.pipeline``): 1,500 offline
  updates, at most 2,000 online grasps.
- ``pose-patch-tiny``: ``pose-patch`` at test size.
- ``pose-tiny``: a minute on 2 CPU cores; for tests and smoke runs, not for results.

A learned reward fixes the image size: training takes the world's ``image_size`` from the reward
when it has one (a 64 px Grasp2Vec checkpoint makes a 64 px world, ``pose-tiny`` included).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from agents.core.cem import CEMConfig
from agents.core.relabel import RelabelConfig
from agents.core.trainer import TrainingConfig
from agents.qtopt.learner import PoseQTOptConfig
from agents.qtopt.network import PoseNetworkConfig
from agents.qtopt.patch_network import PatchNetworkConfig
from agents.sac.training import SACConfig
from envs.config import WorldSettings


@dataclass(frozen=True)
class Preset:
    """One training setup: the object set, the task world, the schedule, relabeling and the learners."""

    objects: str = "seen"  # training uses seen objects only (docs/design.md)
    world: WorldSettings = field(default_factory=WorldSettings)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    relabel: RelabelConfig = field(default_factory=RelabelConfig)
    sac: SACConfig = field(default_factory=SACConfig)
    pose: PoseQTOptConfig = field(default_factory=PoseQTOptConfig)


# --algo qtopt-pose: 64 px like the collected data, no auto_descend (the pose follower descends)
_POSE = Preset(
    world=WorldSettings(),
    training=TrainingConfig(grasps=3000, offline_updates=2000, updates_per_step=2, learning_starts=64,
                            replay_capacity=60_000, eval_every=500, eval_episodes=100, checkpoint_every=250),
    relabel=RelabelConfig(posthoc=True, auxiliary_goals=0),
    # sac-pose: one env step is one whole grasp; 64 px Dict observations cost ~60 KB per stored transition.
    # Keypoint readout (16x16 maps) and a critic extractor of its own: 0.75 MB actor, 173 ms per update.
    # Entropy coefficient from 0.01: from SB3's 1.0 it stays near 1 for thousands of updates, and with
    # rewards in [0, 1] the actor then chose the same central pose for every scene.
    sac=SACConfig(timesteps=4000, buffer_size=20_000, learning_starts=200, channels=(32, 64), readout="keypoints",
                  share_features_extractor=False, ent_coef="auto_0.01", eval_every_steps=1000,
                  eval_episodes=100))

_PATCH = dataclasses.replace(
    _POSE, training=dataclasses.replace(_POSE.training, offline_updates=20_000, replay_capacity=80_000),
    pose=PoseQTOptConfig(view="patch"))

PRESETS: dict[str, Preset] = {
    "pose": _POSE,
    # "pose" whose Q-network also reads the scene 5 cm along and across the wrist axis
    # (PoseNetworkConfig.reach): where the fingers close, and whether a neighbour lies there
    "pose-reach": dataclasses.replace(_POSE, pose=PoseQTOptConfig(network=PoseNetworkConfig(reach=0.05))),
    # the main job's policy stage (runs.pipeline): the same learner on its 32 px data
    "pose-32": Preset(
        world=WorldSettings(image_size=32),
        training=TrainingConfig(grasps=2000, offline_updates=1000, updates_per_step=2, learning_starts=64,
                                replay_capacity=60_000, eval_every=500, eval_episodes=50, checkpoint_every=250),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1)),
    # "pose" whose Q-network reads a grasp-aligned patch of the top-down height map per candidate
    # (PoseQTOptConfig.view = "patch", agents.qtopt.patch_network); offline data collected with --heightmap
    "pose-patch": _PATCH,
    # "pose-patch" trained on each patch under a random one of the grasp's four symmetries (mirrors, half turn)
    "pose-patch-sym": dataclasses.replace(_PATCH, pose=dataclasses.replace(_PATCH.pose, augment_symmetries=True)),
    # "pose-patch" at twice the convolution and hidden widths (about 4x the multiply-adds): a capacity probe
    "pose-patch-wide": dataclasses.replace(
        _PATCH, pose=dataclasses.replace(_PATCH.pose, patch=dataclasses.replace(
            _PATCH.pose.patch, channels=(64, 128, 128), hidden=512))),
    # "pose-patch" sampling the same 12.8 cm patch at 16 px (8 mm a pixel, half the height map's resolution):
    # a resolution probe (does the prior lose ranking when its patch is coarser?)
    "pose-patch-coarse": dataclasses.replace(
        _PATCH, pose=dataclasses.replace(_PATCH.pose, patch=dataclasses.replace(_PATCH.pose.patch, size=16))),
    # "pose-patch" that also feeds the grasp's place in the bin and its wrist angle to the fully connected layer
    # (PatchNetworkConfig.pose_input): what the grasp-aligned patch cannot show
    "pose-patch-placed": dataclasses.replace(
        _PATCH, pose=dataclasses.replace(_PATCH.pose, patch=dataclasses.replace(_PATCH.pose.patch, pose_input=True))),
    # goal tasks: "pose-patch" that also feeds the goal heat at the grasp point to the fully connected layer
    # (PatchNetworkConfig.centre_heat)
    "pose-patch-heat": dataclasses.replace(
        _PATCH, pose=dataclasses.replace(_PATCH.pose, patch=PatchNetworkConfig(centre_heat=True))),
    # the main job's policy stage (runs.pipeline): the patch view on its 1,000 grasps
    "pose-patch-small": Preset(
        training=TrainingConfig(grasps=2000, offline_updates=1500, updates_per_step=2, learning_starts=64,
                                replay_capacity=20_000, eval_every=500, eval_episodes=50, checkpoint_every=250),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1),
        pose=PoseQTOptConfig(view="patch")),
    "pose-patch-tiny": Preset(
        world=WorldSettings(num_objects=2, image_size=32),
        training=TrainingConfig(grasps=6, offline_updates=10, learning_starts=4, replay_capacity=500, eval_every=3,
                                eval_episodes=2, checkpoint_every=3),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1, pool_size=50),
        pose=PoseQTOptConfig(view="patch", patch=PatchNetworkConfig(size=16, extent=0.064, channels=(8, 8, 8),
                                                                    hidden=16),
                             batch_size=8,
                             cem=CEMConfig(iterations=2, population=16, elites=4))),
    "pose-tiny": Preset(
        world=WorldSettings(num_objects=2, image_size=32),
        training=TrainingConfig(grasps=6, offline_updates=10, learning_starts=4, replay_capacity=500, eval_every=3,
                                eval_episodes=2, checkpoint_every=3),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1, pool_size=50),
        pose=PoseQTOptConfig(network=PoseNetworkConfig(channels=(8, 8, 16, 16), hidden=16), batch_size=8,
                             cem=CEMConfig(iterations=2, population=16, elites=4)),
        sac=SACConfig(timesteps=12, buffer_size=100, batch_size=4, learning_starts=4, features=16, channels=(8, 8),
                      readout="keypoints", share_features_extractor=False, eval_every_steps=6, eval_episodes=2)),
}
