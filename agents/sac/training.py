"""SAC's training run: model construction, offline pre-training, evaluation/checkpoint callback, resume.

With collected attempts (``--algo sac-pose --offline-data``) SB3's replay buffer is first filled
with the decisions the grasp-pose QT-Opt learns from (:func:`agents.qtopt.training.decision_from_episode`,
relabeled by :class:`agents.core.relabel.PoseRelabeler`) as one-step, terminated transitions of
:class:`envs.grasp_pose.PoseActionWrapper`, then ``offline_updates`` gradient steps are taken;
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm import tqdm

from agents.core.episode import Episode
from agents.core.evaluation import evaluate
from agents.core.relabel import PoseRelabeler, Relabeler, decision_from_episode
from agents.core.trainer import LogFn
from agents.core.trainer import offline_pretrain as core_offline_pretrain
from agents.sac.policy import (
    GraspFeaturesExtractor,
    RelabelCallback,
    SB3Policy,
    Transition,
    add_transitions,
    save_actor,
)
from common.io import atomic_path, atomic_write_json
from common.protocols import RewardFunction
from envs.grasp_pose import PoseSpace

if TYPE_CHECKING:
    from agents.core.goal_features import GoalFeatures
    from agents.presets import Preset
    from agents.train import TrainPolicyConfig


OFFLINE_LOG_EVERY = 100  # offline gradient steps per SB3 ``train`` call, log line and progress-bar tick


@dataclass(frozen=True)
class SACConfig:
    """Stable-Baselines3 SAC settings (one env step of the pose env is one whole grasp)."""

    timesteps: int = 20_000
    buffer_size: int = 100_000
    batch_size: int = 64
    learning_starts: int = 500
    train_freq: int = 1
    gradient_steps: int = 1
    learning_rate: float = 3e-4
    features: int = 256
    channels: tuple[int, ...] = (16, 32, 32)
    readout: str = "flatten"  # agents.sac.policy.GraspFeaturesExtractor: "flatten" or "keypoints" (spatial soft-argmax)
    share_features_extractor: bool = True  # False: the critics train their own extractor on the TD error
    ent_coef: str = "auto"  # SB3's entropy coefficient: "auto" (tuned, from 1.0), "auto_X" (tuned, from X)
    eval_every_steps: int = 2000
    eval_episodes: int = 50



@dataclass
class OfflineData:
    """Collected attempts for SAC over grasp poses.

    Attributes:
        episodes: the attempts (e.g. :func:`agents.core.episode.episodes_from_dataset`), read once.
        relabel: each attempt's decision → stored copies (own reward; or posthoc, auxiliary and pool goals).
        updates: gradient steps on the filled buffer before the first online grasp.
    """

    episodes: Iterable[Episode]
    relabel: PoseRelabeler
    updates: int


def offline_transitions(episodes: Iterable[Episode], space: PoseSpace, relabel: PoseRelabeler) -> Iterator[Transition]:
    """Transitions of the one-decision pose env (:class:`envs.grasp_pose.PoseActionWrapper`) from
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

    def update(steps: int) -> dict[str, float]:
        model.train(gradient_steps=steps, batch_size=model.batch_size)
        return {k.removeprefix("train/"): float(v) for k, v in model.logger.name_to_value.items()
                if k.startswith("train/")}

    with tqdm(total=updates, initial=state["offline_updates"], desc="sac offline updates") as bar:
        state["offline_updates"] = core_offline_pretrain(update, updates, state["offline_updates"], log,
                                                         chunk=OFFLINE_LOG_EVERY, on_update=bar.update)


def make_sac(env: gym.Env, settings: SACConfig, seed: int) -> SAC:
    """SAC with :class:`GraspFeaturesExtractor`. A features extractor shared
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
        with atomic_path(checkpoint / "sac.zip") as temp:
            self.model.save(temp)
        save_actor(self.model, checkpoint)
        atomic_write_json(checkpoint / "sac_progress.json", s)


def train_sac_model(settings: SACConfig, env: gym.Env, eval_env: gym.Env, out: Path, seed: int, resume: bool,
                    relabel: Relabeler | None, log: LogFn, time_limit_s: float | None = None,
                    offline: OfflineData | None = None) -> list[dict[str, float]]:
    """Train (or continue) SAC for ``settings.timesteps`` env steps; returns the evaluations.

    ``offline`` (``env`` a :class:`envs.grasp_pose.PoseActionWrapper`): fill the buffer with its
    attempts (again on resume, SB3's buffer is not saved) and take its remaining offline updates
    first. ``time_limit_s`` caps the online phase.
    """
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


def train_sac(config: TrainPolicyConfig, preset: Preset, env: gym.Env, eval_env: gym.Env, reward: RewardFunction,
              features: GoalFeatures | None, log: LogFn) -> list[dict[str, float]]:
    """SAC over grasp poses, optionally pre-trained on ``config.offline_data``; returns the evaluations."""
    from agents.train import offline_episodes, outcome_embedding

    observe = features.observe if features is not None else None
    embed = outcome_embedding(features)
    relabel = Relabeler(reward, preset.relabel, seed=config.seed, observe=observe, embed=embed) if config.instance \
        else None
    offline = None
    if config.offline_data:
        from embedding.dataset import EpisodeDataset

        dataset = EpisodeDataset(list(config.offline_data))
        episodes = tqdm(offline_episodes(dataset, preset.world.image_size, reward, config.instance), total=len(dataset),
                        desc="offline decisions")
        goal_observe = (observe or dict) if config.instance else None  # instance data stores goal images
        relabel_offline = PoseRelabeler(reward, preset.relabel, goal_observe, seed=config.seed, embed=embed)
        offline = OfflineData(episodes, relabel_offline, preset.training.offline_updates)
    return train_sac_model(preset.sac, env, eval_env, Path(config.out), config.seed, config.resume, relabel, log,
                           config.minutes * 60 if config.minutes else None, offline)
