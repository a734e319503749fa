"""The one training schedule every learner shares: offline pre-training, then online grasps.

:func:`offline_pretrain` takes gradient steps on data stored before going online; :class:`ScheduledTrainer`
runs the online phase (one grasp episode at a time, evaluations and checkpoints on a schedule).
Counters live in :class:`Progress` and travel with checkpoints, so ``--resume`` continues them.
Each learner (:mod:`agents.qtopt.training`, :mod:`agents.sac.training`) says what one grasp and one
checkpoint are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.core.evaluation import evaluate
from common.io import atomic_write_json

LogFn = Callable[[dict[str, float], int], None]
LOG_EVERY = 100  # offline gradient steps between logged metrics


@dataclass(frozen=True)
class TrainingConfig:
    """Schedule of one training run (counts of grasp episodes unless stated)."""

    grasps: int = 2000  # online training episodes (0: the offline updates only, then one evaluation)
    offline_updates: int = 0  # gradient steps on the offline data before going online
    updates_per_step: int = 1  # gradient steps per online grasp
    learning_starts: int = 256  # stored samples before online updates begin
    replay_capacity: int = 100_000  # stored samples (grasp decisions and their relabeled copies)
    eval_every: int = 250
    eval_episodes: int = 50
    checkpoint_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("eval_every", "eval_episodes", "checkpoint_every", "replay_capacity"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.grasps < 0:
            raise ValueError(f"grasps must be >= 0 (0: offline training only), got {self.grasps}")


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


def offline_pretrain(update: Callable[[int], dict[str, float]], updates: int, done: int, log: LogFn,
                     chunk: int = 1, on_update: Callable[[int], None] | None = None) -> int:
    """Call ``update(n)`` (``n`` gradient steps on the stored data; returns metrics) until ``done`` reaches
    ``updates``; log each time a multiple of :data:`LOG_EVERY` is passed, and at the end; ``on_update(n)``
    after each call. Returns the new count."""
    while done < updates:
        steps = min(chunk, updates - done)
        metrics = update(steps)
        done += steps
        if done // LOG_EVERY > (done - steps) // LOG_EVERY or done >= updates:
            log({f"offline/{k}": v for k, v in metrics.items()}, done)
        if on_update is not None:
            on_update(steps)
    return done


class ScheduledTrainer:
    """The online phase's schedule, shared by every learner: training grasps one at a time,
    an evaluation every ``eval_every`` and a checkpoint every ``checkpoint_every`` grasps (and both
    at the end, or when ``time_limit_s`` has passed). Subclasses say what one grasp and a checkpoint are.

    Args:
        agent: the learner, also the evaluated :class:`common.protocols.Policy`.
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
            if self.config.grasps == 0:  # offline training only: that evaluation is the last
                self.checkpoint()
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
