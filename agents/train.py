"""Train a grasp policy end to end: world, reward, goal features, learner, logs, curves, policy card.

:func:`train_policy` reads one :class:`TrainPolicyConfig` (what ``python -m runs.train_policy`` parses)
and writes into ``config.out``: ``config.json``, ``eval.json`` (success rate with Wilson 95 % bounds
vs grasps and wall time), ``curves.png``, ``checkpoint/`` (weights + ``policy.json``) and an offline
wandb run. ``resume=True`` continues from ``checkpoint/``.

The task (``indiscriminate``: grasp anything, ``KukaGrasp-v0``; ``instance``: grasp the goal's object,
``KukaInstanceGrasp-v0``) is chosen apart from the reward. Instance training relabels its grasps
(posthoc and auxiliary goals) and reads the Grasp2Vec goal heatmap (``goal_features``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from tqdm import tqdm

from agents.core.episode import Episode, episodes_from_dataset
from agents.core.goal_features import GoalFeatures, GoalFeaturesConfig, GoalObservationWrapper
from agents.core.relabel import AUXILIARY_SAMPLING, Embed
from agents.core.report import plot_curves
from agents.core.trainer import Progress, ScheduledTrainer
from agents.loading import grasp2vec_fingerprint
from agents.presets import PRESETS, Preset
from common.io import atomic_write_json
from common.protocols import TASK_ENVS, GraspContext, PolicyCard, RewardFunction
from common.provenance import machine_description
from embedding.heatmap import HeatmapReadout
from envs.goal_bank import GoalBank
from envs.heightmap_observation import HeightmapObservation
from envs.tasks import make_task_env
from rewards import make_reward, parse_reward_kwargs

ALGOS = ("qtopt-pose", "sac-pose", "random")
FEATURE_CHOICES = {"none": None, "heatmap": GoalFeaturesConfig(heatmap=True),
                   "embedding": GoalFeaturesConfig(heatmap=False, embedding=True),
                   "both": GoalFeaturesConfig(heatmap=True, embedding=True)}


@dataclass(frozen=True)
class TrainPolicyConfig:
    """One training run. ``None`` overrides keep the preset's value.

    Attributes:
        algo: ``qtopt-pose`` (QT-Opt, CEM over grasp poses), ``sac-pose`` (SB3 SAC over grasp poses) or
            ``random`` (evaluates :class:`agents.baselines.RandomMovePolicy` once: the reference line).
        task: ``indiscriminate`` or ``instance``; None: ``indiscriminate`` for the indiscriminate reward,
            else ``instance``.
        reward: a reward registry name or ``package.module:Class``; ``reward_args`` its ``KEY=VALUE`` keywords.
        preset: a name in :data:`agents.presets.PRESETS`.
        goal_features: Grasp2Vec inputs of instance policies (``none``, ``heatmap``, ``embedding``, ``both``)
            from the ``grasp2vec`` checkpoint, read with ``heatmap_shifts`` shifts per axis.
        offline_data: dataset folders for offline pre-training; ``offline_updates`` its gradient steps.
        init_from: an indiscriminate ``qtopt-pose`` checkpoint whose grasp prior starts an instance policy.
        minutes: stop after this many minutes of this call, at the next offline checkpoint (pose QT-Opt) or
            online grasp (``resume`` continues).
        threads: torch CPU threads (1 is fastest on a shared 2-core machine).
        command: the command line recorded in ``config.json``.
    """

    algo: str
    reward: str
    out: Path
    task: str | None = None
    reward_args: tuple[str, ...] = ()
    preset: str = "pose"
    resume: bool = False
    seed: int = 0
    grasps: int | None = None
    timesteps: int | None = None
    eval_episodes: int | None = None
    goal_features: str = "heatmap"
    heatmap_shifts: int = 1
    grasp2vec: Path = Path("checkpoints/grasp2vec")
    posthoc: bool | None = None
    auxiliary_goals: int | None = None
    auxiliary_sampling: str | None = None
    goal_pool_size: int | None = None
    replay_capacity: int | None = None
    offline_data: tuple[Path, ...] | None = None
    init_from: Path | None = None
    offline_updates: int | None = None
    minutes: float | None = None
    threads: int = 1
    command: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.task is None:
            object.__setattr__(self, "task", "indiscriminate" if self.reward == "indiscriminate" else "instance")
        if self.task not in TASK_ENVS:
            raise ValueError(f"task must be one of {sorted(TASK_ENVS)}, got {self.task!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if self.goal_features not in FEATURE_CHOICES:
            raise ValueError(f"goal_features must be one of {sorted(FEATURE_CHOICES)}, got {self.goal_features!r}")
        if self.auxiliary_sampling not in (None, *AUXILIARY_SAMPLING):
            raise ValueError(f"auxiliary_sampling must be one of {AUXILIARY_SAMPLING}, got {self.auxiliary_sampling!r}")
        if self.offline_updates is not None and self.offline_data and self.offline_updates < 1:
            raise ValueError(f"offline_updates must be at least 1 with offline data, got {self.offline_updates}")
        if self.init_from is not None and (self.algo != "qtopt-pose" or self.task != "instance"):
            raise ValueError("init_from starts an instance-task qtopt-pose policy from an indiscriminate one; "
                             f"got algo {self.algo}, task {self.task}")

    @property
    def instance(self) -> bool:
        return self.task == "instance"


def resolve_preset(config: TrainPolicyConfig, reward: RewardFunction) -> Preset:
    """The preset with the config's overrides, its world at the reward's image size when the reward has one."""
    preset = PRESETS[config.preset]
    training = dataclasses.replace(preset.training, seed=config.seed, **_given(
        grasps=config.grasps, replay_capacity=config.replay_capacity, eval_episodes=config.eval_episodes))
    if not config.offline_data:
        training = dataclasses.replace(training, offline_updates=0)
    elif config.offline_updates is not None:
        training = dataclasses.replace(training, offline_updates=config.offline_updates)
    sac = dataclasses.replace(preset.sac, **_given(timesteps=config.timesteps, eval_episodes=config.eval_episodes))
    relabel = dataclasses.replace(preset.relabel, **_given(
        posthoc=config.posthoc, auxiliary_goals=config.auxiliary_goals,
        auxiliary_sampling=config.auxiliary_sampling, pool_size=config.goal_pool_size))
    world = preset.world
    size = getattr(reward, "image_size", None)
    if size is not None and size != world.image_size:
        print(f"world image size {world.image_size} → {size} px: the {config.reward} reward scores {size} px "
              "outcome images", flush=True)
        world = dataclasses.replace(world, image_size=int(size))
    return dataclasses.replace(preset, world=world, training=training, sac=sac, relabel=relabel)


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def goal_features_config(config: TrainPolicyConfig) -> GoalFeaturesConfig | None:
    """The goal features the run asks for (None: indiscriminate task or none)."""
    features = FEATURE_CHOICES[config.goal_features]
    if features is None or not config.instance:
        return None
    return dataclasses.replace(features, readout=HeatmapReadout(shifts=config.heatmap_shifts))


def load_goal_features(config: TrainPolicyConfig) -> GoalFeatures | None:
    """Grasp2Vec goal features from ``config.grasp2vec`` (None when the run uses none)."""
    features = goal_features_config(config)
    if features is None:
        return None
    from embedding.checkpoint import load_checkpoint

    if not (config.grasp2vec.exists() or config.grasp2vec.with_suffix(".safetensors").exists()):
        raise FileNotFoundError(f"goal features {config.goal_features!r} need a Grasp2Vec checkpoint; "
                                f"{config.grasp2vec} does not exist (train one with runs.train_embedding, "
                                "or use --goal-features none)")
    return GoalFeatures(load_checkpoint(config.grasp2vec), features)


def outcome_embedding(features: GoalFeatures | None) -> Embed | None:
    """φ_o of the policy's Grasp2Vec model as an image → embedding function (nearest auxiliary goals)."""
    if features is None:
        return None
    return lambda images: features.embed_goals(images).numpy()


def offline_episodes(dataset: Any, image_size: int, reward: RewardFunction, instance: bool = True
                     ) -> Iterator[Episode]:
    """The dataset's attempts as episodes; a reward that reads ground truth (the oracle) also gets
    the names of what each attempt lifted, read from the shards' ground-truth group. On the
    indiscriminate task (``instance=False``) such a reward also scores each attempt's own outcome: its
    grasp step pays ``reward(context)`` instead of the gripper's sensed bit."""
    if not getattr(reward, "reads_ground_truth", False):
        return episodes_from_dataset(dataset, image_size)
    from graspdata.ground_truth import GroundTruthReader

    truth = GroundTruthReader()

    def lifted(index: int) -> tuple[str, ...]:
        return truth.read(dataset.ref(index)).lifted_objects

    episodes = episodes_from_dataset(dataset, image_size, lifted=lifted)
    return episodes if instance else (scored_by_own_outcome(e, reward) for e in episodes)


def scored_by_own_outcome(episode: Episode, reward: RewardFunction) -> Episode:
    """``episode`` with its grasp step paid by ``reward`` on its own outcome (no goal): 0 without a grasp."""
    paid = 0.0
    if episode.outcome is not None:
        paid = reward(GraspContext(goal_image=None, outcome_image=episode.outcome, lifted=episode.lifted))
    rewards = episode.rewards.copy()
    rewards[-1] = paid
    return dataclasses.replace(episode, rewards=rewards)


def make_env(config: TrainPolicyConfig, preset: Preset, reward: RewardFunction, features: GoalFeatures | None,
             goal_bank: GoalBank | None) -> gym.Env:
    """The training (or evaluation) environment of the run's task, with its goal features."""
    env: gym.Env = make_task_env(config.instance, preset.objects, preset.world, goal_bank, reward=reward)
    if config.instance and features is not None:
        env = GoalObservationWrapper(env, features)
    if reads_heightmap(config, preset):
        env = HeightmapObservation(env, preset.pose.heightmap)
    if config.algo == "sac-pose":
        from envs.grasp_pose import PoseActionWrapper

        env = PoseActionWrapper(env)
    return env


def policy_card(config: TrainPolicyConfig, preset: Preset) -> PolicyCard:
    """``checkpoint/policy.json``: what :func:`agents.loading.wrap_for_policy` needs to rebuild the inputs."""
    features = goal_features_config(config)
    return PolicyCard(
        algo=config.algo, reward=config.reward, world={"objects": preset.objects, **dataclasses.asdict(preset.world)},
        env_id=TASK_ENVS[config.task],
        goal_features=config.goal_features if features else "none",
        goal_features_config=dataclasses.asdict(features) if features else None,
        grasp2vec=str(config.grasp2vec) if features else None,
        grasp2vec_sha256=grasp2vec_fingerprint(config.grasp2vec) if features else None,
        init_from=str(config.init_from) if config.init_from else None,
        heightmap=dataclasses.asdict(preset.pose.heightmap) if reads_heightmap(config, preset) else None)


def reads_heightmap(config: TrainPolicyConfig, preset: Preset) -> bool:
    """Whether the run's policy reads the top-down height map (pose QT-Opt with the patch view)."""
    return config.algo == "qtopt-pose" and preset.pose.view == "patch"


class RunLogger:
    """wandb (offline unless WANDB_MODE says otherwise) plus the latest values for the progress bar."""

    def __init__(self, out: Path, config: dict[str, Any]) -> None:
        import wandb

        self.run = wandb.init(project="grasp2vec-sim", dir=str(out), config=config,
                              mode=os.environ.get("WANDB_MODE", "offline"), reinit=True)
        self.latest: dict[str, float] = {}

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        self.latest.update(metrics)
        self.run.log({**metrics, "grasps": step})

    def finish(self) -> None:
        self.run.finish()


def run_with_progress_bar(trainer: ScheduledTrainer, grasps: int, progress: Progress, minutes: float | None,
                          label: str) -> list[dict[str, float]]:
    """``trainer.run`` with a tqdm bar over training grasps (train success, last evaluation, updates)."""
    with tqdm(total=grasps, initial=progress.grasps, desc=label) as bar:
        def on_grasp(p: Progress) -> None:
            bar.update()
            bar.set_postfix(train_success=f"{p.train_successes / p.grasps:.2f}",
                            eval=f"{p.evals[-1]['success_rate']:.2f}" if p.evals else "-", updates=p.updates)

        return trainer.run(on_grasp, minutes * 60 if minutes else None).evals


def train_policy(config: TrainPolicyConfig) -> list[dict[str, float]]:
    """Train (or, with ``config.resume``, continue) one policy; returns its evaluations.

    Raises:
        FileNotFoundError: ``resume`` without a checkpoint, or missing Grasp2Vec weights for goal features.
        ValueError: a combination the learner cannot run (see :class:`TrainPolicyConfig`).
    """
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.resume and not (out / "checkpoint").is_dir():
        raise FileNotFoundError(f"resume: no checkpoint folder {out / 'checkpoint'}")
    reward = make_reward(config.reward, **parse_reward_kwargs(list(config.reward_args)))
    preset = resolve_preset(config, reward)
    record = {"command": config.command, "algo": config.algo, "task": config.task, "reward": config.reward,
              "reward_args": list(config.reward_args), "preset": config.preset,
              "goal_features": config.goal_features if config.instance else "none", "seed": config.seed,
              "offline_data": [str(p) for p in config.offline_data] if config.offline_data else None,
              "settings": dataclasses.asdict(preset),
              "machine": f"{machine_description()}, torch threads {config.threads}, "
              f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}"}
    atomic_write_json(out / ("config-resume.json" if config.resume else "config.json"), record)
    features = load_goal_features(config)
    if config.algo != "random":
        (out / "checkpoint").mkdir(parents=True, exist_ok=True)
        policy_card(config, preset).save(out / "checkpoint")
    goal_bank = GoalBank(dataclasses.replace(preset.world, num_objects=1).world_config()) if config.instance else None
    env = make_env(config, preset, reward, features, goal_bank)
    eval_env = make_env(config, preset, reward, features, goal_bank)
    log = RunLogger(out, record)
    start = time.perf_counter()
    try:
        if config.algo == "qtopt-pose":
            from agents.qtopt.training import train_pose_qtopt

            evals = train_pose_qtopt(config, preset, env, eval_env, reward, features, log)
        elif config.algo == "sac-pose":
            from agents.sac.training import train_sac

            evals = train_sac(config, preset, env, eval_env, reward, features, log)
        else:
            evals = evaluate_random(config, preset, eval_env, log)
    finally:
        log.finish()
        env.close()
        eval_env.close()
        if goal_bank is not None:
            goal_bank.close()
    plot_curves(evals, out / "curves.png", f"{config.algo} / {config.task} / {config.reward} / {config.preset} "
                f"(seed {config.seed})")
    print(json.dumps({"out": str(out), "wall_s_this_call": round(time.perf_counter() - start, 1),
                      "last_eval": evals[-1] if evals else {}}, indent=1))
    return evals


def evaluate_random(config: TrainPolicyConfig, preset: Preset, eval_env: gym.Env,
                    log: RunLogger) -> list[dict[str, float]]:
    """The reference line: :class:`agents.baselines.RandomMovePolicy` under the same evaluation."""
    from agents.baselines import RandomMovePolicy
    from agents.core.evaluation import evaluate

    result = evaluate(RandomMovePolicy(config.seed), eval_env, preset.training.eval_episodes, seed=0)
    result.update(grasps=0.0, wall_s=0.0)
    log({f"eval/{k}": v for k, v in result.items()}, 0)
    atomic_write_json(Path(config.out) / "eval.json", [result])
    return [result]


