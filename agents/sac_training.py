"""SAC's training run: model construction, evaluation/checkpoint callback, resume.

Checkpoints are SB3's zip (``checkpoint/sac.zip``, for ``--resume``) plus
``checkpoint/sac_progress.json`` (episode count, evaluations) and the actor alone
(``sac_actor.safetensors`` + ``sac_actor.json``, :func:`agents.sac.save_actor`): what
:func:`agents.loading.load_policy` reads and ``runs.ship_policy`` ships. SB3 stores its replay buffer
only as a pickle, which this project does not load, so ``--resume`` restarts with an empty buffer
(counters, weights and optimizers continue).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm import tqdm

from agents.evaluation import evaluate
from agents.relabel import Relabeler
from agents.sac import GraspFeaturesExtractor, RelabelCallback, SB3Policy, save_actor
from graspdata.atomic import atomic_write_json

LogFn = Callable[[dict[str, float], int], None]


def make_sac(env: gym.Env, settings: Any, seed: int) -> SAC:
    """SAC with :class:`GraspFeaturesExtractor` shared by actor and critics (``settings``: a ``SACPreset``)."""
    policy_kwargs = dict(features_extractor_class=GraspFeaturesExtractor, share_features_extractor=True,
                         features_extractor_kwargs=dict(features=settings.features, channels=tuple(settings.channels)))
    return SAC("MultiInputPolicy", DummyVecEnv([lambda: env]), buffer_size=settings.buffer_size,
               batch_size=settings.batch_size, learning_starts=settings.learning_starts,
               train_freq=settings.train_freq, gradient_steps=settings.gradient_steps,
               learning_rate=settings.learning_rate, policy_kwargs=policy_kwargs, seed=seed, verbose=0)


class EvalCheckpointCallback(BaseCallback):
    """Every ``every`` env steps (and at the end): evaluate, log, write ``eval.json`` and a checkpoint.
    Stops training after ``time_limit_s`` seconds of this call (None: no limit)."""

    def __init__(self, eval_env: gym.Env, every: int, episodes: int, out: Path, log: LogFn,
                 state: dict[str, Any], bar: tqdm, time_limit_s: float | None = None) -> None:
        super().__init__()
        self.eval_env, self.every, self.episodes = eval_env, every, episodes
        self.out, self.log, self.state, self.bar = out, log, state, bar
        self.start = time.perf_counter() - state["wall_s"]
        self.deadline = time.perf_counter() + time_limit_s if time_limit_s is not None else float("inf")

    def _on_step(self) -> bool:
        self.bar.update(1)
        for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True):
            if done:
                self.state["grasps"] += 1
                self.state["train_successes"] += bool(info.get("is_success", False))
        if self.num_timesteps % self.every == 0:
            self.evaluate_and_save()
        return time.perf_counter() < self.deadline

    def _on_training_end(self) -> None:
        if not self.state["evals"] or self.state["evals"][-1]["timesteps"] != self.num_timesteps:
            self.evaluate_and_save()

    def evaluate_and_save(self) -> None:
        s = self.state
        s["wall_s"] = time.perf_counter() - self.start
        result = evaluate(SB3Policy(self.model), self.eval_env, self.episodes, seed=len(s["evals"]))
        result.update(grasps=float(s["grasps"]), wall_s=s["wall_s"], timesteps=float(self.num_timesteps),
                      train_success_rate=s["train_successes"] / max(s["grasps"], 1))
        s["evals"].append(result)
        self.log({f"eval/{k}": v for k, v in result.items()}, s["grasps"])
        self.bar.set_postfix(eval=f"{result['success_rate']:.2f}", grasps=s["grasps"])
        atomic_write_json(self.out / "eval.json", s["evals"])
        checkpoint = self.out / "checkpoint"
        checkpoint.mkdir(parents=True, exist_ok=True)
        tmp = checkpoint / "sac.tmp.zip"
        self.model.save(tmp)
        tmp.replace(checkpoint / "sac.zip")
        save_actor(self.model, checkpoint)
        atomic_write_json(checkpoint / "sac_progress.json", s)


def train_sac_model(preset: Any, env: gym.Env, eval_env: gym.Env, out: Path, seed: int, resume: bool,
                    relabel: Relabeler | None, log: LogFn, time_limit_s: float | None = None) -> list[dict[str, float]]:
    """Train (or continue) SAC for ``preset.sac.timesteps`` env steps (or ``time_limit_s``); returns the evaluations."""
    settings = preset.sac
    checkpoint = out / "checkpoint"
    if resume:
        model = SAC.load(checkpoint / "sac.zip", env=DummyVecEnv([lambda: env]), device="cpu")
        state = json.loads((checkpoint / "sac_progress.json").read_text())
    else:
        model = make_sac(env, settings, seed)
        state = {"grasps": 0, "train_successes": 0, "wall_s": 0.0, "evals": []}
    remaining = settings.timesteps - model.num_timesteps
    with tqdm(total=settings.timesteps, initial=model.num_timesteps, desc="sac env steps") as bar:
        callbacks: list[BaseCallback] = [EvalCheckpointCallback(eval_env, settings.eval_every_steps,
                                                                settings.eval_episodes, out, log, state, bar,
                                                                time_limit_s)]
        if relabel is not None:
            callbacks.insert(0, RelabelCallback(relabel, env.observation_space))
        if remaining > 0:
            model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=not resume)
    return state["evals"]
