"""Training loop of :class:`agents.qtopt.learner.PoseQTOpt`, top to bottom.

1. Offline: every attempt of the collected datasets (the scripted collector's, failures included)
   becomes a *decision*: the first scene image, the pose the gripper closed at, and whether
   something was lifted. Goal tasks relabel them (posthoc goal = own outcome, reward 1; auxiliary
   goals scored by the reward function; an attempt that lifted nothing is stored with a pool goal
   and reward 0) and ``offline_updates`` gradient steps are taken, checkpointed every
   :data:`OFFLINE_CHECKPOINT_EVERY` and stopped by ``--minutes``, so ``--resume`` continues them exactly.
2. Online: episodes with the learner's own poses (ε-random or CEM + noise), each relabeled the same
   way, ``updates_per_step`` gradient steps per grasp; evaluation and checkpoints on a schedule.

The schedule is :class:`agents.core.trainer.TrainingConfig` (``updates_per_step`` counts steps
per grasp here; ``replay_capacity`` is the number of stored decisions) and the counters are its
:class:`~agents.core.trainer.Progress`, so both QT-Opt variants resume the same way.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from agents.core.episode import EpisodeRecorder
from agents.core.relabel import Decision, PoseRelabeler, decision_from_episode
from agents.core.trainer import LogFn, Progress, ScheduledTrainer, TrainingConfig
from agents.core.trainer import offline_pretrain as core_offline_pretrain
from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
from common.io import atomic_path
from common.protocols import RewardFunction
from envs.config import LayoutConfig
from envs.heightmap import ENCODED_CHANNELS, GridGeometry
from envs.heightmap_observation import HEIGHTMAP_KEY

if TYPE_CHECKING:
    from agents.core.goal_features import GoalFeatures
    from agents.presets import Preset
    from agents.train import TrainPolicyConfig


SAMPLES_FILE = "pose_samples.npz"
OFFLINE_CHECKPOINT_EVERY = 1000  # offline updates between checkpoints (learner, counters; samples are saved once)


class PoseSamples:
    """Fixed-capacity store of (scene, heatmap, height map, pose, reward) samples; the oldest are overwritten.

    Memory per sample: H·W·3 bytes of scene image (+ H·W with heatmaps, + Hm·Wm·4 with height maps) plus
    16 bytes; :attr:`nbytes` says the total.

    Args:
        capacity: samples kept.
        image_size: scene image side, pixels.
        heatmaps: whether samples carry the goal's heatmap (goal tasks).
        heightmap_shape: (Hm, Wm, 4) of the height maps samples carry (patch view), or None.
    """

    def __init__(self, capacity: int, image_size: int, heatmaps: bool,
                 heightmap_shape: tuple[int, int, int] | None = None) -> None:
        self.capacity = capacity
        self.images = np.zeros((capacity, image_size, image_size, 3), np.uint8)
        self.heatmaps = np.zeros((capacity, image_size, image_size, 1), np.uint8) if heatmaps else None
        self.heightmaps = np.zeros((capacity, *heightmap_shape), np.uint8) if heightmap_shape else None
        self.poses = np.zeros((capacity, 3), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.size = self.cursor = 0

    def __len__(self) -> int:
        return self.size

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {"images": self.images, "poses": self.poses, "rewards": self.rewards, "heatmaps": self.heatmaps,
                  "heightmaps": self.heightmaps}
        return {name: array for name, array in arrays.items() if array is not None}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays().values())

    def add(self, images: np.ndarray, heatmaps: np.ndarray | None, poses: np.ndarray, rewards: np.ndarray,
            heightmaps: np.ndarray | None = None) -> None:
        """Append a batch: images (B, H, W, 3), heatmaps (B, H, W, 1) or None, poses (B, 3), rewards (B,),
        heightmaps (B, Hm, Wm, 4) or None (each given exactly when the store keeps it)."""
        if (heatmaps is None) != (self.heatmaps is None):
            raise ValueError("heatmaps must be given exactly when the store keeps them")
        if (heightmaps is None) != (self.heightmaps is None):
            raise ValueError("height maps must be given exactly when the store keeps them (patch view: collect "
                             "the data with runs.collect --heightmap)")
        for i in range(len(images)):
            self.images[self.cursor] = images[i]
            if self.heatmaps is not None:
                self.heatmaps[self.cursor] = heatmaps[i]
            if self.heightmaps is not None:
                self.heightmaps[self.cursor] = heightmaps[i]
            self.poses[self.cursor], self.rewards[self.cursor] = poses[i], rewards[i]
            self.cursor = (self.cursor + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], torch.Tensor, torch.Tensor]:
        """(observations ``image`` [``heatmap``, ``heightmap``] (B, ...) uint8, poses (B, 3), rewards (B,)),
        drawn uniformly with replacement; :meth:`PoseQTOpt.inputs` turns the observations into network input."""
        if self.size == 0:
            raise ValueError("no samples stored yet")
        index = rng.integers(self.size, size=batch)
        observations = {"image": self.images[index]}
        if self.heatmaps is not None:
            observations["heatmap"] = self.heatmaps[index]
        if self.heightmaps is not None:
            observations[HEIGHTMAP_KEY] = self.heightmaps[index]
        return observations, torch.from_numpy(self.poses[index]), torch.from_numpy(self.rewards[index])

    def save(self, path: Path) -> None:
        """Write the filled part as ``.npz`` (no pickle), atomically."""
        arrays = {name: array[:self.size] for name, array in self._arrays().items()}
        with atomic_path(path) as temp:
            np.savez(temp, cursor=np.array(self.cursor), **arrays)

    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote (same capacity, image size, heatmap and height-map setting)."""
        with np.load(path, allow_pickle=False) as data:
            size = len(data["rewards"])
            mine = self._arrays()
            if set(mine) != set(data.files) - {"cursor"}:
                raise ValueError(f"{path}: holds {sorted(set(data.files) - {'cursor'})}, this store keeps "
                                 f"{sorted(mine)}")
            if size > self.capacity or any(data[name].shape[1:] != array.shape[1:] for name, array in mine.items()):
                raise ValueError(f"{path}: {size} samples of {data['images'].shape[1:]} do not fit a store of "
                                 f"{self.capacity} × {self.images.shape[1:]} (or its other arrays differ in shape)")
            for name, array in mine.items():
                array[:size] = data[name]
            self.size, self.cursor = size, int(data["cursor"])


def train_step(agent: PoseQTOpt, samples: PoseSamples, rng: np.random.Generator) -> dict[str, float]:
    """One gradient step on a uniform batch of the stored samples."""
    observations, poses, rewards = samples.sample(agent.config.batch_size, rng)
    return agent.update(agent.inputs(observations), poses, rewards)


def store(samples: PoseSamples, relabel: PoseRelabeler, decisions: Iterable[Decision]) -> int:
    """Relabel and store decisions; returns how many samples were added."""
    added = 0
    for decision in decisions:
        images, heat, poses, rewards = relabel(decision)
        heightmaps = None
        if samples.heightmaps is not None:
            if decision.heightmap is None:
                raise ValueError("a patch-view learner needs the height map of every decision: collect the "
                                 "offline data with runs.collect --heightmap")
            if decision.heightmap.shape != samples.heightmaps.shape[1:]:
                raise ValueError(f"the data's height maps are {decision.heightmap.shape}, the learner reads "
                                 f"{samples.heightmaps.shape[1:]}: collect with the learner's "
                                 "PoseQTOptConfig.heightmap grid (runs.collect --heightmap uses the default)")
            heightmaps = np.broadcast_to(decision.heightmap, (len(rewards), *decision.heightmap.shape))
        samples.add(images, heat, poses, rewards, heightmaps)
        added += len(rewards)
    return added


def offline_pretrain(agent: PoseQTOpt, samples: PoseSamples, updates: int, rng: np.random.Generator, log: LogFn,
                     progress: Progress, on_update: Callable[[int], None] | None = None) -> None:
    """Take gradient steps on the stored samples until ``progress.offline_updates == updates``."""
    if len(samples) == 0:
        raise ValueError("offline pre-training got no samples: the dataset has no attempts that closed the gripper")
    progress.offline_updates = core_offline_pretrain(
        lambda _: train_step(agent, samples, rng), updates, progress.offline_updates,
        log, on_update=on_update)


class PoseTrainer(ScheduledTrainer):
    """The online phase of grasp-pose QT-Opt: exploring episodes, each relabeled into the samples,
    then ``updates_per_step`` gradient steps once ``learning_starts`` samples are stored.

    Args:
        agent, samples: the learner and its memory (possibly restored from a checkpoint).
        env, eval_env: training and evaluation environments (goal tasks: wrapped with the heatmap).
        config: the schedule.
        relabel: decision → samples.
        out: run folder (``out/checkpoint``, ``out/eval.json``).
        log: receives metrics with the grasp count as step.
    """

    def __init__(self, agent: PoseQTOpt, samples: PoseSamples, env: gym.Env, eval_env: gym.Env,
                 config: TrainingConfig, relabel: PoseRelabeler, out: Path, log: LogFn,
                 progress: Progress | None = None) -> None:
        super().__init__(agent, eval_env, config, out, log, progress)
        self.samples, self.env, self.relabel = samples, env, relabel

    def episode(self, seed: int) -> tuple[Decision | None, dict[str, Any]]:
        """One exploring episode; returns its decision (None if it never closed) and the last info."""
        recorder = EpisodeRecorder()
        observation, _ = self.env.reset(seed=seed)
        recorder.start(observation)
        self.agent.reset()
        self.agent.exploring = True
        try:
            done = False
            while not done:
                action = self.agent.act(observation)
                observation, reward, terminated, truncated, info = self.env.step(action)
                recorder.step(action, observation, float(reward))
                self.progress.env_steps += 1
                done = terminated or truncated
        finally:
            self.agent.exploring = False
        return decision_from_episode(recorder.finish(terminated, info), self.agent.space), info

    def train_one_grasp(self, seed: int) -> dict[str, Any]:
        decision, info = self.episode(seed)
        if decision is not None:
            store(self.samples, self.relabel, [decision])
        if len(self.samples) >= self.config.learning_starts:
            for _ in range(self.config.updates_per_step):
                metrics = train_step(self.agent, self.samples, self.rng)
                self.progress.updates += 1
            if self.progress.grasps % 25 == 0:
                self.log({f"train/{k}": v for k, v in metrics.items()}, self.progress.grasps)
        return info

    def checkpoint(self) -> None:
        save_pose_state(self.out / "checkpoint", self.agent, self.samples, self.progress)


def heightmap_shape(config: PoseQTOptConfig, layout: LayoutConfig) -> tuple[int, int, int] | None:
    """(Hm, Wm, 4) of the height maps a learner with ``config`` reads in ``layout``, or None (scene view)."""
    if config.view != "patch":
        return None
    return (*GridGeometry.of(layout, config.heightmap).shape, ENCODED_CHANNELS)


def save_pose_state(directory: Path, agent: PoseQTOpt, samples: PoseSamples, progress: Progress) -> None:
    """Learner (safetensors + JSON), samples (``pose_samples.npz``) and counters, each written atomically."""
    agent.save(directory, extra={"progress": dataclasses.asdict(progress)})
    samples.save(directory / SAMPLES_FILE)


def load_pose_state(directory: Path, samples: PoseSamples) -> tuple[PoseQTOpt, Progress]:
    """Inverse of :func:`save_pose_state`; fills ``samples`` in place when its file is there."""
    agent, extra = PoseQTOpt.load(directory)
    if (directory / SAMPLES_FILE).is_file():
        samples.load(directory / SAMPLES_FILE)
    return agent, Progress(**extra["progress"])


def train_pose_qtopt(config: TrainPolicyConfig, preset: Preset, env: gym.Env, eval_env: gym.Env,
                     reward: RewardFunction, features: GoalFeatures | None, log: LogFn) -> list[dict[str, float]]:
    """Offline pre-training on ``config.offline_data``, then online grasps; returns the evaluations."""
    from agents.train import offline_episodes, outcome_embedding, run_with_progress_bar

    t, goal_task = preset.training, config.instance
    if goal_task and (features is None or not features.config.heatmap):
        raise ValueError("qtopt-pose on the instance task needs the heatmap: goal features 'heatmap' or 'both'")
    samples = PoseSamples(t.replay_capacity, preset.world.image_size, heatmaps=goal_task,
                          heightmap_shape=heightmap_shape(preset.pose, env.unwrapped.config.layout))
    if config.resume:
        agent, progress = load_pose_state(Path(config.out) / "checkpoint", samples)
    else:
        agent, progress = PoseQTOpt(goal_task, env.unwrapped.config, preset.pose, seed=config.seed), Progress()
        if config.init_from is not None:
            agent.q.copy_grasp_prior(PoseQTOpt.load(config.init_from)[0].q)
    observe = features.observe if goal_task else None
    relabel = PoseRelabeler(reward, preset.relabel, observe, seed=config.seed, embed=outcome_embedding(features))
    print(f"samples: {samples.nbytes / t.replay_capacity:.0f} B each, {samples.nbytes / 2**20:.0f} MiB for "
          f"{t.replay_capacity}", flush=True)
    started = time.monotonic()
    if config.offline_data and progress.offline_updates < t.offline_updates:
        from embedding.dataset import EpisodeDataset

        checkpoint = Path(config.out) / "checkpoint"
        if len(samples) == 0:
            dataset = EpisodeDataset(list(config.offline_data))
            episodes = offline_episodes(dataset, preset.world.image_size, reward, goal_task)
            decisions = (d for e in tqdm(episodes, total=len(dataset), desc="offline decisions")
                         if (d := decision_from_episode(e, agent.space)) is not None)
            print(f"offline: {store(samples, relabel, decisions)} samples", flush=True)
            save_pose_state(checkpoint, agent, samples, progress)  # the samples once: they do not change offline
        with tqdm(total=t.offline_updates, initial=progress.offline_updates, desc="offline updates") as bar:
            while progress.offline_updates < t.offline_updates:
                # chunks of OFFLINE_CHECKPOINT_EVERY updates, each drawing its batches from a generator seeded by
                # where it starts: a run resumed from any checkpoint takes the same steps as one that never stopped
                target = min(t.offline_updates, progress.offline_updates + OFFLINE_CHECKPOINT_EVERY)
                rng = np.random.default_rng([config.seed, progress.offline_updates])
                offline_pretrain(agent, samples, target, rng, log, progress, bar.update)
                agent.save(checkpoint, extra={"progress": dataclasses.asdict(progress)})
                if config.minutes and time.monotonic() - started > config.minutes * 60 \
                        and progress.offline_updates < t.offline_updates:
                    print(f"offline: stopped after {config.minutes} min at {progress.offline_updates} updates; "
                          "continue with --resume", flush=True)
                    return []
    rng = np.random.default_rng(config.seed)
    trainer = PoseTrainer(agent, samples, env, eval_env, t, relabel, Path(config.out), log, progress)
    left = config.minutes - (time.monotonic() - started) / 60 if config.minutes else None
    return run_with_progress_bar(trainer, t.grasps, progress, left, "qtopt-pose grasps")
