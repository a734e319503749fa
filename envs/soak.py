"""Memory soak: run many episodes in one environment and sample the process's resident memory.

A world lives for hundreds of thousands of episodes in a collection worker, so its resident set
must stay flat. :func:`soak` runs episodes with a trivial policy (a zero action with
``auto_descend=True``: the gripper goes straight down and grasps) and records VmRSS, the
current resident set size (not the peak that ``ru_maxrss`` reports), every few episodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the environments)
from envs.objects import resolve_objects

KIB_PER_MIB = 1024.0


def rss_mib() -> float:
    """This process's current resident set size (VmRSS), MiB."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / KIB_PER_MIB
    raise OSError("VmRSS missing from /proc/self/status")


@dataclass(frozen=True)
class SoakConfig:
    """One soak run. ``objects`` is an object-set spec (``"seen"``, a folder, ...); ``object_limit``
    keeps only its first N URDFs (0: all). Episodes are seeded ``seed``, ``seed + 1``, ..."""

    env_id: str = "KukaGrasp-v0"
    objects: str = "seen"
    object_limit: int = 0
    num_objects: int = 5
    image_size: int = 64  # pixels
    max_steps: int = 4
    episodes: int = 1000
    sample_every: int = 50  # episodes between RSS samples
    warmup: int = 50  # episode whose RSS is the baseline of the growth
    seed: int = 0
    threshold: float = 0.10  # largest allowed growth over the baseline, a fraction

    def __post_init__(self) -> None:
        if not 0 < self.warmup < self.episodes or self.warmup % self.sample_every:
            raise ValueError(f"warmup must be a multiple of sample_every={self.sample_every} in "
                             f"1..episodes-1 (episodes={self.episodes}), got {self.warmup}")


@dataclass
class SoakResult:
    """RSS samples (MiB) after ``episodes[i]`` episodes, bodies in the world then, and wall time (s)."""

    episodes: list[int] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    bodies: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    warmup: int = 0

    @property
    def start_rss_mib(self) -> float:
        """RSS at the warm-up episode, MiB: the baseline."""
        return self.rss_mib[self.episodes.index(self.warmup)]

    @property
    def end_rss_mib(self) -> float:
        return self.rss_mib[-1]

    @property
    def end_growth(self) -> float:
        """(end RSS - baseline) / baseline."""
        return self.end_rss_mib / self.start_rss_mib - 1.0

    @property
    def max_growth(self) -> float:
        """Largest (RSS - baseline) / baseline over the samples from the warm-up episode on."""
        later = self.rss_mib[self.episodes.index(self.warmup):]
        return max(later) / self.start_rss_mib - 1.0


def object_paths(config: SoakConfig) -> list[Path]:
    """The URDFs the soak draws from."""
    paths = resolve_objects(config.objects)
    return paths[:config.object_limit] if config.object_limit else paths


def soak(config: SoakConfig, on_episode: Callable[[int], None] | None = None) -> SoakResult:
    """Run ``config.episodes`` episodes in one environment, sampling RSS every ``sample_every``.

    ``on_episode`` is called with the number of finished episodes (e.g. to move a progress bar).
    """
    env = gym.make(config.env_id, objects=object_paths(config), num_objects=config.num_objects,
                   image_size=config.image_size, max_steps=config.max_steps, auto_descend=True)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    result = SoakResult(warmup=config.warmup)
    start = time.perf_counter()
    try:
        for episode in range(1, config.episodes + 1):
            env.reset(seed=config.seed + episode)
            done = False
            while not done:
                _, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
            if episode % config.sample_every == 0 or episode == config.episodes:
                result.episodes.append(episode)
                result.rss_mib.append(rss_mib())
                result.bodies.append(env.unwrapped.world.client.getNumBodies())
            if on_episode is not None:
                on_episode(episode)
    finally:
        result.wall_s = time.perf_counter() - start
        env.close()
    return result
