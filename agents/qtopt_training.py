"""QT-Opt's training schedule: offline pre-training on collected episodes, then online learning.

Online, each episode is run with ε-greedy CEM actions (random actions only, until the replay holds
``learning_starts`` transitions: an untrained Q-function would close the gripper at once), relabeled
(goal tasks) and stored; after ``learning_starts`` transitions, ``updates_per_step`` gradient
steps follow every env step.
Counters live in :class:`Progress` and travel with checkpoints, so ``--resume`` continues them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.episode import Episode, EpisodeRecorder
from agents.evaluation import evaluate
from agents.qtopt import QTOpt
from agents.replay import ReplayBuffer
from graspdata.atomic import atomic_write_json

LogFn = Callable[[dict[str, float], int], None]
EpisodeFn = Callable[[Episode], list[Episode]]


@dataclass(frozen=True)
class TrainingConfig:
    """Schedule of one QT-Opt run (counts of grasp episodes unless stated)."""

    grasps: int = 2000  # online training episodes
    offline_updates: int = 0  # gradient steps on the offline data before going online
    updates_per_step: int = 1  # gradient steps per online env step
    learning_starts: int = 256  # transitions in replay before online updates begin
    replay_capacity: int = 100_000  # transitions
    eval_every: int = 250
    eval_episodes: int = 50
    checkpoint_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("grasps", "eval_every", "eval_episodes", "checkpoint_every", "replay_capacity"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class Progress:
    """Counters of a run (saved with every checkpoint)."""

    grasps: int = 0
    env_steps: int = 0
    updates: int = 0
    offline_updates: int = 0
    train_successes: int = 0
    wall_s: float = 0.0
    evals: list[dict[str, float]] = field(default_factory=list)


def offline_pretrain(agent: QTOpt, replay: ReplayBuffer, episodes: Iterable[Episode], updates: int,
                     rng: np.random.Generator, log: LogFn, progress: Progress,
                     on_update: Callable[[], None] | None = None) -> None:
    """Fill ``replay`` with ``episodes`` (already relabeled), then take ``updates`` gradient steps."""
    if progress.offline_updates == 0:
        replay.add_episodes(episodes)
    if len(replay) == 0:
        raise ValueError("offline pre-training got no episodes: the dataset is empty, or (goal tasks) its goal-free "
                         "episodes only enter through relabeling, which is off (enable posthoc or auxiliary goals)")
    while progress.offline_updates < updates:
        metrics = agent.update(replay.sample(agent.config.batch_size, rng))
        progress.offline_updates += 1
        if progress.offline_updates % 100 == 0:
            log({f"offline/{k}": v for k, v in metrics.items()}, progress.offline_updates)
        if on_update is not None:
            on_update()


def run_episode(agent: QTOpt, env: gym.Env, seed: int, recorder: EpisodeRecorder,
                on_step: Callable[[], None], random_only: bool = False) -> tuple[Episode, dict[str, Any]]:
    """One ε-greedy (or random) episode; ``on_step`` runs after every env step (learning happens there)."""
    observation, _ = env.reset(seed=seed)
    recorder.start(observation)
    done = False
    while not done:
        action = agent.explore(observation, random_only)
        observation, reward, terminated, truncated, info = env.step(action)
        recorder.step(action, observation, float(reward))
        on_step()
        done = terminated or truncated
    return recorder.finish(terminated, info), info


class ScheduledTrainer:
    """The online phase's schedule, shared by both QT-Opt variants: training grasps one at a time,
    an evaluation every ``eval_every`` and a checkpoint every ``checkpoint_every`` grasps (and both
    at the end, or when ``time_limit_s`` has passed). Subclasses say what one grasp and a checkpoint are.

    Args:
        agent: the learner, also the evaluated :class:`agents.base.Policy`.
        eval_env: evaluation environment.
        config: the schedule.
        out: run folder; evaluations go to ``out/eval.json``.
        log: receives metrics with the grasp count as step.
        progress: counters to continue from (a resumed run), or None.
    """

    def __init__(self, agent: Any, eval_env: gym.Env, config: TrainingConfig, out: Path, log: LogFn,
                 progress: Progress | None = None) -> None:
        self.agent, self.eval_env, self.config, self.out, self.log = agent, eval_env, config, Path(out), log
        self.progress = progress or Progress()
        self.rng = np.random.default_rng([config.seed, self.progress.grasps])

    def train_one_grasp(self, seed: int) -> dict[str, Any]:
        """Run one training episode reset with ``seed``, store it and learn; returns its last ``info``."""
        raise NotImplementedError

    def checkpoint(self) -> None:
        raise NotImplementedError

    def run(self, on_grasp: Callable[[Progress], None] | None = None, time_limit_s: float | None = None) -> Progress:
        """Train until ``config.grasps`` online episodes (or ``time_limit_s`` of this call, then a last
        evaluation and checkpoint); returns the final counters."""
        start = time.perf_counter() - self.progress.wall_s
        deadline = time.perf_counter() + time_limit_s if time_limit_s is not None else float("inf")
        if not self.progress.evals:
            self.evaluate()  # the untrained (or offline pre-trained) starting point
        while self.progress.grasps < self.config.grasps:
            info = self.train_one_grasp(self.config.seed * 1_000_000 + self.progress.grasps)
            self.progress.grasps += 1
            self.progress.train_successes += bool(info.get("is_success", False))
            self.progress.wall_s = time.perf_counter() - start
            last = self.progress.grasps == self.config.grasps or time.perf_counter() > deadline
            if self.progress.grasps % self.config.eval_every == 0 or last:
                self.evaluate()
            if self.progress.grasps % self.config.checkpoint_every == 0 or last:
                self.checkpoint()
            if on_grasp is not None:
                on_grasp(self.progress)
            if last:
                break
        return self.progress

    def evaluate(self) -> dict[str, float]:
        p = self.progress
        result = evaluate(self.agent, self.eval_env, self.config.eval_episodes, seed=len(p.evals))
        result.update(grasps=float(p.grasps), wall_s=p.wall_s, updates=float(p.updates),
                      offline_updates=float(p.offline_updates),
                      train_success_rate=p.train_successes / max(p.grasps, 1))
        p.evals.append(result)
        self.log({f"eval/{k}": v for k, v in result.items()}, p.grasps)
        atomic_write_json(self.out / "eval.json", p.evals)
        return result


class OnlineTrainer(ScheduledTrainer):
    """The online phase of motor-action QT-Opt: ε-greedy episodes, relabeled into the replay buffer,
    ``updates_per_step`` gradient steps per env step once ``learning_starts`` transitions are stored.

    Args:
        agent, replay: the learner and its memory (possibly restored from a checkpoint).
        env, eval_env: training and evaluation environments (same observation space).
        config: the schedule.
        relabel: turns a finished episode into the episodes to store (identity when None).
        out: run folder; checkpoints go to ``out/checkpoint``, evaluations to ``out/eval.json``.
        log: receives metrics with the grasp count as step.
    """

    def __init__(self, agent: QTOpt, replay: ReplayBuffer, env: gym.Env, eval_env: gym.Env,
                 config: TrainingConfig, out: Path, log: LogFn, relabel: EpisodeFn | None = None,
                 progress: Progress | None = None) -> None:
        super().__init__(agent, eval_env, config, out, log, progress)
        self.replay, self.env = replay, env
        self.relabel = relabel or (lambda episode: [episode])
        self.recorder = EpisodeRecorder()

    def learn_step(self) -> None:
        self.progress.env_steps += 1
        if len(self.replay) < self.config.learning_starts:
            return
        for _ in range(self.config.updates_per_step):
            metrics = self.agent.update(self.replay.sample(self.agent.config.batch_size, self.rng))
            self.progress.updates += 1
        if self.progress.updates % 100 < self.config.updates_per_step:
            self.log({f"train/{k}": v for k, v in metrics.items()}, self.progress.grasps)

    def train_one_grasp(self, seed: int) -> dict[str, Any]:
        warmup = len(self.replay) < self.config.learning_starts
        episode, info = run_episode(self.agent, self.env, seed, self.recorder, self.learn_step, random_only=warmup)
        self.replay.add_episodes(self.relabel(episode))
        return info

    def checkpoint(self) -> None:
        save_training_state(self.out / "checkpoint", self.agent, self.replay, self.progress)


def save_training_state(directory: Path, agent: QTOpt, replay: ReplayBuffer, progress: Progress) -> None:
    """Agent (safetensors + JSON), replay (``replay.npz``) and counters, each written atomically."""
    agent.save(directory, extra={"progress": dataclasses.asdict(progress)})
    replay.save(directory / "replay.npz")


def load_training_state(directory: Path, replay: ReplayBuffer) -> tuple[QTOpt, Progress]:
    """Inverse of :func:`save_training_state`; fills ``replay`` in place."""
    agent, extra = QTOpt.load(directory)
    replay_path = directory / "replay.npz"
    if replay_path.is_file():
        replay.load(replay_path)
    return agent, Progress(**extra["progress"])

