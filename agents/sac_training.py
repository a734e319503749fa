"""SAC's training run: model construction, offline pre-training, evaluation/checkpoint callback, resume.

With collected attempts (``--algo sac-pose --offline-data``) SB3's replay buffer is first filled
with the decisions the grasp-pose QT-Opt learns from (:func:`agents.pose_training.decision_from_episode`,
relabeled by :class:`agents.pose_training.PoseRelabeler`) as one-step, terminated transitions of
:class:`agents.grasp_pose.PoseActionWrapper`, then ``offline_updates`` gradient steps are taken;
the online phase then acts with the pre-trained actor from its first grasp and keeps that buffer.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm import tqdm

from agents.episode import Episode
from agents.evaluation import evaluate
from agents.grasp_pose import PoseSpace
from agents.pose_training import PoseRelabeler, decision_from_episode
from agents.relabel import Relabeler
from agents.sac import GraspFeaturesExtractor, RelabelCallback, SB3Policy, Transition, add_transitions, save_actor
from graspdata.atomic import atomic_write_json

LogFn = Callable[[dict[str, float], int], None]
OFFLINE_LOG_EVERY = 100  # offline gradient steps per SB3 ``train`` call, log line and progress-bar tick


@dataclass
class OfflineData:
    """Collected attempts for SAC over grasp poses.

    Attributes:
        episodes: the attempts (e.g. :func:`agents.episode.episodes_from_dataset`), read once.
        relabel: each attempt's decision → stored copies (own reward; or posthoc, auxiliary and pool goals).
        updates: gradient steps on the filled buffer before the first online grasp.
    """

    episodes: Iterable[Episode]
    relabel: PoseRelabeler
    updates: int


def offline_transitions(episodes: Iterable[Episode], space: PoseSpace, relabel: PoseRelabeler) -> Iterator[Transition]:
    """Transitions of the one-decision pose env (:class:`agents.grasp_pose.PoseActionWrapper`) from
    attempts that closed the gripper, one per stored copy of each decision.

    Observation: the attempt's first scene and gripper state, with the copy's goal and its goal features
    (goal tasks); action: the normalised pose (3,) the gripper closed at; terminated, so the next
    observation (the first one repeated) is never bootstrapped from.
    """
    for episode in episodes:
        decision = decision_from_episode(episode, space)
        if decision is None:
            continue
        gripper = episode.observations["gripper"][0]
        action = decision.pose.astype(np.float32)
        batch, rewards = relabel.observations(decision)
        for i, reward in enumerate(rewards):
            observation = {**{k: v[i] for k, v in batch.items()}, "gripper": gripper}
            yield observation, action, float(reward), observation, True


def fill_replay(model: SAC, transitions: Iterable[Transition]) -> int:
    """Add ``transitions`` to the model's replay buffer (the oldest are overwritten past its size); returns how many."""
    group: list[Transition] = []
    added = 0
    for transition in transitions:
        group.append(transition)
        if len(group) == model.replay_buffer.n_envs:
            add_transitions(model, group)
            added, group = added + len(group), []
    return added


def offline_pretrain(model: SAC, updates: int, state: dict[str, Any], log: LogFn) -> None:
    """SB3's SAC gradient steps on the filled buffer until ``state["offline_updates"] == updates``."""
    if model.replay_buffer.size() == 0:
        raise ValueError("offline pre-training got no transitions: the data has no attempts that closed the gripper")
    model.set_logger(Logger(folder=None, output_formats=[]))
    with tqdm(total=updates, initial=state["offline_updates"], desc="sac offline updates") as bar:
        while state["offline_updates"] < updates:
            steps = min(OFFLINE_LOG_EVERY, updates - state["offline_updates"])
            model.train(gradient_steps=steps, batch_size=model.batch_size)
            state["offline_updates"] += steps
            bar.update(steps)
            log({f"offline/{k.removeprefix('train/')}": float(v) for k, v in model.logger.name_to_value.items()
                 if k.startswith("train/")}, state["offline_updates"])


def make_sac(env: gym.Env, settings: Any, seed: int) -> SAC:
    """SAC with :class:`GraspFeaturesExtractor` (``settings``: a ``SACPreset``). A features extractor shared
    by actor and critics is trained by the actor's loss alone (SB3 keeps it out of the critic's optimizer);
    ``settings.share_features_extractor=False`` gives the critics their own, trained on the TD error."""
    policy_kwargs = dict(features_extractor_class=GraspFeaturesExtractor,
                         share_features_extractor=settings.share_features_extractor,
                         features_extractor_kwargs=dict(features=settings.features, channels=tuple(settings.channels),
                                                        readout=settings.readout))
    return SAC("MultiInputPolicy", DummyVecEnv([lambda: env]), buffer_size=settings.buffer_size,
               batch_size=settings.batch_size, learning_starts=settings.learning_starts,
               train_freq=settings.train_freq, gradient_steps=settings.gradient_steps,
               learning_rate=settings.learning_rate, ent_coef=settings.ent_coef, policy_kwargs=policy_kwargs,
               seed=seed, verbose=0)


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

    def _on_training_start(self) -> None:
        if not self.state["evals"] and self.state["offline_updates"]:  # what offline pre-training alone gives
            self.evaluate_and_save()

    def _on_training_end(self) -> None:
        if not self.state["evals"] or self.state["evals"][-1]["timesteps"] != self.num_timesteps:
            self.evaluate_and_save()

    def evaluate_and_save(self) -> None:
        s = self.state
        s["wall_s"] = time.perf_counter() - self.start
        result = evaluate(SB3Policy(self.model), self.eval_env, self.episodes, seed=len(s["evals"]))
        result.update(grasps=float(s["grasps"]), wall_s=s["wall_s"], timesteps=float(self.num_timesteps),
                      updates=float(self.model._n_updates),
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
                    relabel: Relabeler | None, log: LogFn, time_limit_s: float | None = None,
                    offline: OfflineData | None = None) -> list[dict[str, float]]:
    """Train (or continue) SAC for ``preset.sac.timesteps`` env steps; returns the evaluations.

    ``offline`` (``env`` a :class:`agents.grasp_pose.PoseActionWrapper`): fill the buffer with its
    attempts (again on resume, SB3's buffer is not saved) and take its remaining offline updates
    first. ``time_limit_s`` caps the online phase.
    """
    settings = preset.sac
    checkpoint = out / "checkpoint"
    if resume:
        model = SAC.load(checkpoint / "sac.zip", env=DummyVecEnv([lambda: env]), device="cpu")
        state = {"offline_updates": 0, **json.loads((checkpoint / "sac_progress.json").read_text())}
    else:
        model = make_sac(env, settings, seed)
        state = {"grasps": 0, "train_successes": 0, "wall_s": 0.0, "evals": [], "offline_updates": 0}
    if offline is not None:
        transitions = offline_transitions(offline.episodes, PoseSpace(env.unwrapped.config), offline.relabel)
        print(f"offline: {fill_replay(model, transitions)} transitions for a buffer of {settings.buffer_size}",
              flush=True)
        if relabel is not None:  # online auxiliary goals start from the offline outcomes
            relabel.pool = offline.relabel.pool
        offline_pretrain(model, offline.updates, state, log)
        model.learning_starts = 0  # the pre-trained actor chooses from the first online grasp
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
