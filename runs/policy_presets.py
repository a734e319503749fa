"""Presets of ``python -m runs.train_policy``: the world, the learners and the schedule.

- ``tiny``: a minute or two on 2 CPU cores; for tests and smoke runs, not for results.
- ``default``: motor-action QT-Opt / SAC, indiscriminate grasping with ``auto_descend`` and 32 px
  policy images (see docs/agents.md for what a run of it measured).
- ``pose``: ``--algo qtopt-pose`` / ``sac-pose`` (one grasp pose per episode) at 64 px, the
  collected data's resolution: what the shipped policies were trained with.
- ``pose-32``: the same at 32 px, for the main job (``runs.pipeline``); ``pose-tiny`` for tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from agents.cem import CEMConfig
from agents.networks import EncoderConfig
from agents.pose_qnetwork import PoseNetworkConfig
from agents.pose_qtopt import PoseQTOptConfig
from agents.qtopt import QTOptConfig
from agents.qtopt_training import TrainingConfig
from agents.relabel import RelabelConfig


@dataclass(frozen=True)
class WorldPreset:
    """Environment settings shared by training and evaluation."""

    objects: str = "seen"
    num_objects: int = 5
    image_size: int = 32  # policy images (scene, goal); Grasp2Vec inputs are resized to its own size
    max_steps: int = 6
    auto_descend: bool = True


@dataclass(frozen=True)
class SACPreset:
    """Stable-Baselines3 SAC settings."""

    timesteps: int = 20_000
    buffer_size: int = 100_000
    batch_size: int = 64
    learning_starts: int = 500
    train_freq: int = 1
    gradient_steps: int = 1
    learning_rate: float = 3e-4
    features: int = 256
    channels: tuple[int, ...] = (16, 32, 32)
    readout: str = "flatten"  # agents.sac.GraspFeaturesExtractor: "flatten" or "keypoints" (spatial soft-argmax)
    share_features_extractor: bool = True  # False: the critics train their own extractor on the TD error
    ent_coef: str = "auto"  # SB3's entropy coefficient: "auto" (tuned, from 1.0), "auto_X" (tuned, from X)
    eval_every_steps: int = 2000
    eval_episodes: int = 50


@dataclass(frozen=True)
class Preset:
    world: WorldPreset = field(default_factory=WorldPreset)
    qtopt: QTOptConfig = field(default_factory=QTOptConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    relabel: RelabelConfig = field(default_factory=RelabelConfig)
    sac: SACPreset = field(default_factory=SACPreset)
    pose: PoseQTOptConfig = field(default_factory=PoseQTOptConfig)


_TINY_ENCODER = EncoderConfig(channels=(8, 16), features=32)

# --algo qtopt-pose: 64 px like the collected data, no auto_descend (the pose follower descends)
_POSE = Preset(
    world=WorldPreset(image_size=64, max_steps=12, auto_descend=False),
    training=TrainingConfig(grasps=3000, offline_updates=2000, updates_per_step=2, learning_starts=64,
                            replay_capacity=60_000, eval_every=500, eval_episodes=100, checkpoint_every=250),
    relabel=RelabelConfig(posthoc=True, auxiliary_goals=0),
    # sac-pose: one env step is one whole grasp; 64 px Dict observations cost ~60 KB per stored transition.
    # Keypoint readout (16x16 maps) and a critic extractor of its own: 0.75 MB actor, 173 ms per update.
    # Entropy coefficient from 0.01: from SB3's 1.0 it stays near 1 for thousands of updates, and with
    # rewards in [0, 1] the actor then chose the same central pose for every scene.
    sac=SACPreset(timesteps=4000, buffer_size=20_000, learning_starts=200, channels=(32, 64), readout="keypoints",
                  share_features_extractor=False, ent_coef="auto_0.01", eval_every_steps=1000,
                  eval_episodes=100))

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        world=WorldPreset(num_objects=2, image_size=32, max_steps=4),
        qtopt=QTOptConfig(batch_size=32, hidden=32, encoder=_TINY_ENCODER, cem=CEMConfig(population=32, elites=4)),
        training=TrainingConfig(grasps=12, learning_starts=16, replay_capacity=2000, eval_every=6, eval_episodes=3,
                                checkpoint_every=6, offline_updates=10),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1, pool_size=50),
        sac=SACPreset(timesteps=200, buffer_size=2000, batch_size=32, learning_starts=50, features=32,
                      channels=(8, 16), eval_every_steps=100, eval_episodes=2),
    ),
    "default": Preset(relabel=RelabelConfig(posthoc=True, auxiliary_goals=0)),
    "pose": _POSE,
    # "pose" whose Q-network also reads the scene 5 cm along and across the wrist axis
    # (PoseNetworkConfig.reach): where the fingers close, and whether a neighbour lies there
    "pose-reach": dataclasses.replace(_POSE, pose=PoseQTOptConfig(network=PoseNetworkConfig(reach=0.05))),
    # the main job's policy stage (runs.pipeline): the same learner on its 32 px data
    "pose-32": Preset(
        world=WorldPreset(image_size=32, max_steps=12, auto_descend=False),
        training=TrainingConfig(grasps=2000, offline_updates=1000, updates_per_step=2, learning_starts=64,
                                replay_capacity=60_000, eval_every=500, eval_episodes=50, checkpoint_every=250),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1)),
    "pose-tiny": Preset(
        world=WorldPreset(num_objects=2, image_size=32, max_steps=12, auto_descend=False),
        training=TrainingConfig(grasps=6, offline_updates=10, learning_starts=4, replay_capacity=500, eval_every=3,
                                eval_episodes=2, checkpoint_every=3),
        relabel=RelabelConfig(posthoc=True, auxiliary_goals=1, pool_size=50),
        pose=PoseQTOptConfig(network=PoseNetworkConfig(channels=(8, 8, 16, 16), hidden=16), batch_size=8,
                             cem=CEMConfig(iterations=2, population=16, elites=4)),
        sac=SACPreset(timesteps=12, buffer_size=100, batch_size=4, learning_starts=4, features=16, channels=(8, 8),
                      readout="keypoints", share_features_extractor=False, eval_every_steps=6, eval_episodes=2)),
}
