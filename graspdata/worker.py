"""A collection worker: one environment and policy, turning shard tasks into shard bytes.

Workers run the same code whether they live in a local process or a Ray actor. ``collect`` is a
generator of events, so the driver sees every episode as it finishes (for the progress bar) and
the finished shard last.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import gymnasium as gym

from envs.grasp_env import KukaGraspEnv
from envs.heightmap_observation import HeightmapObservation
from graspdata.config import CollectConfig
from graspdata.episode import episode_seed, policy_seed, run_episode, run_regrasp_same_episode
from graspdata.layout import encode_shard
from graspdata.policies import PolicyFactory

SOURCE = "sim"


@dataclass(frozen=True)
class ShardTask:
    """Collect dataset indices ``first`` to ``stop - 1`` into one shard."""

    first: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.first


@dataclass(frozen=True)
class EpisodeDone:
    """One episode of a task finished."""

    task: ShardTask
    success: bool
    grasp_attempted: bool


@dataclass(frozen=True)
class ShardDone:
    """A task finished: ``data`` is the complete shard file's bytes, ``cpu_s`` the worker's CPU time on it."""

    task: ShardTask
    data: bytes
    cpu_s: float


def limit_threads() -> None:
    """One compute thread per worker: the workers are the parallelism."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def collector_env(config: CollectConfig, record_triplet: bool = True, heightmap: bool | None = None,
                  max_grasps: int = 1) -> gym.Env:
    """The environment ``config`` collects in: a :class:`KukaGraspEnv` (recording triplets unless told not to,
    ``max_grasps`` lifts an episode may make), wrapped in :class:`HeightmapObservation` when ``heightmap``
    (default: ``config.heightmap``) asks for the scan. The one place collection settings become a world, for the
    collector and for a replay of its data."""
    env = KukaGraspEnv(objects=config.objects, num_objects=config.num_objects, image_size=config.image_size,
                       max_steps=config.max_steps, record_triplet=record_triplet, triplet_size=config.triplet_size,
                       scene_each_step=config.scene_each_step, triplet_fov=config.triplet_fov, max_grasps=max_grasps,
                       triplet_backdrop=config.triplet_backdrop)
    return HeightmapObservation(env) if (config.heightmap if heightmap is None else heightmap) else env


class ShardCollector:
    """Owns a :class:`KukaGraspEnv` (with triplet recording; two lifts an episode with ``regrasp_same``) and the
    policy factory."""

    def __init__(self, config: CollectConfig, make_policy: PolicyFactory) -> None:
        self.config = config
        self.env = collector_env(config, max_grasps=2 if config.regrasp_same else 1)
        self.make_policy = make_policy
        self.run = run_regrasp_same_episode if config.regrasp_same else run_episode

    def collect(self, task: ShardTask) -> Iterator[EpisodeDone | ShardDone]:
        """Run the task's episodes, yielding :class:`EpisodeDone` for each, then :class:`ShardDone`."""
        records, start = [], time.process_time()
        for index in range(task.first, task.stop):
            policy = self.make_policy(self.env, policy_seed(self.config.seed, index))
            record = self.run(self.env, policy, index, episode_seed(self.config.seed, index))
            records.append(record)
            yield EpisodeDone(task, record.success, record.grasp_attempted)
        data = encode_shard(records, SOURCE)
        yield ShardDone(task, data, time.process_time() - start)

    def close(self) -> None:
        self.env.close()
