"""Train a grasp policy: ``python -m runs.train_policy --algo qtopt|sac --reward NAME --preset tiny|default --out DIR``.

``--algo random`` trains nothing: it evaluates :class:`agents.baselines.RandomMovePolicy` once with
the same evaluation (world, seeds, episode count), as the reference line for the learned curves.

``--reward indiscriminate`` trains on ``KukaGrasp-v0`` (grasp anything); any other reward
(``oracle``, ``grasp2vec``, ``autoencoder``, ``package.module:Class``) trains the goal-conditioned
``KukaInstanceGrasp-v0`` with that reward, relabeling on, and (``--goal-features``) the Grasp2Vec
heatmap channel and/or goal embedding from ``--grasp2vec``. Writes into ``--out``:
``config.json``, ``eval.json`` (success rate with Wilson 95 % bounds vs grasps and wall time),
``curves.png``, ``checkpoint/`` (QT-Opt: safetensors + JSON + replay.npz; SAC: SB3 zip for
``--resume`` and the actor as safetensors + JSON),
and an offline wandb run under ``wandb/``. ``--resume`` continues from ``checkpoint/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from agents.episode import Episode, episodes_from_dataset
from agents.goal_features import GoalFeatures, GoalFeaturesConfig, GoalObservationWrapper
from agents.loading import grasp2vec_fingerprint
from agents.pose_qtopt import PoseQTOpt
from agents.qtopt import QTOpt
from agents.qtopt_training import OnlineTrainer, Progress, ScheduledTrainer, load_training_state, offline_pretrain
from agents.relabel import AUXILIARY_SAMPLING, Embed, Relabeler
from agents.replay import ReplayBuffer
from embedding.heatmap import HeatmapReadout
from envs.goal_bank import GoalBank
from envs.grasp_env import KukaGraspEnv, make_world_config
from envs.instance_env import KukaInstanceGraspEnv
from graspdata.atomic import atomic_write_json
from rewards import make_reward, parse_reward_kwargs
from rewards.base import RewardFunction
from rewards.provenance import command_line, machine_description
from runs.policy_presets import PRESETS, Preset

POSE_ALGOS = ("qtopt-pose", "sac-pose")  # one grasp pose per episode; agents.grasp_pose.PoseFollower descends
FEATURE_CHOICES = {"none": None, "heatmap": GoalFeaturesConfig(heatmap=True),
                   "embedding": GoalFeaturesConfig(heatmap=False, embedding=True),
                   "both": GoalFeaturesConfig(heatmap=True, embedding=True)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runs.train_policy", description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=("qtopt", "qtopt-pose", "sac", "sac-pose", "random"), required=True,
                        help="qtopt, sac: motor actions every step; qtopt-pose, sac-pose: one grasp pose per "
                        "episode, carried out by agents.grasp_pose.PoseFollower (use a pose preset); "
                        "random: the reference line")
    parser.add_argument("--reward", required=True,
                        help="indiscriminate | oracle | grasp2vec | autoencoder | pkg.mod:Class")
    parser.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword for the reward's constructor, e.g. checkpoint=checkpoints/grasp2vec")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grasps", type=int, help="override the preset's online episodes (QT-Opt)")
    parser.add_argument("--timesteps", type=int, help="override the preset's env steps (SAC)")
    parser.add_argument("--eval-episodes", type=int, help="override the preset's episodes per evaluation")
    parser.add_argument("--goal-features", choices=sorted(FEATURE_CHOICES), default="heatmap",
                        help="Grasp2Vec inputs for goal tasks (ignored for indiscriminate)")
    parser.add_argument("--heatmap-shifts", type=int, default=1,
                        help="shifted reads per axis of the goal heatmap (embedding.heatmap.HeatmapReadout)")
    parser.add_argument("--grasp2vec", type=Path, default=Path("checkpoints/grasp2vec"),
                        help="Grasp2Vec checkpoint for --goal-features")
    parser.add_argument("--posthoc", action=argparse.BooleanOptionalAction, default=None,
                        help="posthoc relabeling (goal tasks; default: the preset's)")
    parser.add_argument("--auxiliary-goals", type=int, help="auxiliary goals per episode (goal tasks; default: preset)")
    parser.add_argument("--auxiliary-sampling", choices=AUXILIARY_SAMPLING,
                        help="how auxiliary goals are drawn from the pool: uniform (the paper) or nearest (the "
                             "outcomes most like this one under the --grasp2vec φ_o; default: preset)")
    parser.add_argument("--goal-pool-size", type=int, help="recent outcomes kept as auxiliary goals (default: preset)")
    parser.add_argument("--replay-capacity", type=int,
                        help="override the preset's replay capacity (transitions; stored decisions for qtopt-pose)")
    parser.add_argument("--offline-data", type=Path, nargs="+",
                        help="EpisodeDataset folder(s) for offline pre-training (qtopt, qtopt-pose, sac-pose)")
    parser.add_argument("--init-from", type=Path,
                        help="qtopt-pose goal tasks: start the Q-network from this indiscriminate pose QT-Opt "
                             "checkpoint folder (its weights; the heatmap's inputs start at zero)")
    parser.add_argument("--offline-updates", type=int,
                        help="override the preset's gradient steps on --offline-data before going online")
    parser.add_argument("--minutes", type=float, help="stop training after this many minutes of this call "
                        "of the online phase, then evaluate and checkpoint; --resume continues")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 is fastest on a shared 2-core machine)")
    return parser.parse_args(argv)


def apply_overrides(preset: Preset, args: argparse.Namespace) -> Preset:
    training = dataclasses.replace(preset.training, seed=args.seed,
                                   **({"grasps": args.grasps} if args.grasps else {}),
                                   **({"replay_capacity": args.replay_capacity} if args.replay_capacity else {}),
                                   **({"eval_episodes": args.eval_episodes} if args.eval_episodes else {}))
    if args.offline_data is None:
        training = dataclasses.replace(training, offline_updates=0)
    elif args.offline_updates is not None:
        if args.offline_updates < 1:
            raise ValueError(f"--offline-updates must be at least 1 with --offline-data, got {args.offline_updates}")
        training = dataclasses.replace(training, offline_updates=args.offline_updates)
    sac = dataclasses.replace(preset.sac, **({"timesteps": args.timesteps} if args.timesteps else {}),
                              **({"eval_episodes": args.eval_episodes} if args.eval_episodes else {}))
    relabel_overrides = {"posthoc": args.posthoc, "auxiliary_goals": args.auxiliary_goals,
                         "auxiliary_sampling": args.auxiliary_sampling, "pool_size": args.goal_pool_size}
    relabel = dataclasses.replace(preset.relabel, **{k: v for k, v in relabel_overrides.items() if v is not None})
    return dataclasses.replace(preset, training=training, sac=sac, relabel=relabel)


def goal_features_config(args: argparse.Namespace) -> GoalFeaturesConfig | None:
    """The goal features ``--goal-features`` and ``--heatmap-shifts`` ask for (None: indiscriminate or none)."""
    config = FEATURE_CHOICES[args.goal_features]
    if config is None or args.reward == "indiscriminate":
        return None
    return dataclasses.replace(config, readout=HeatmapReadout(shifts=args.heatmap_shifts))


def load_goal_features(args: argparse.Namespace) -> GoalFeatures | None:
    config = goal_features_config(args)
    if config is None:
        return None
    from embedding.checkpoint import load_checkpoint

    if not (args.grasp2vec.exists() or args.grasp2vec.with_suffix(".safetensors").exists()):
        raise SystemExit(f"--goal-features {args.goal_features} needs a Grasp2Vec checkpoint; {args.grasp2vec} "
                         "does not exist (train one with runs.train_embedding, or pass --goal-features none)")
    return GoalFeatures(load_checkpoint(args.grasp2vec), config)


def outcome_embedding(features: GoalFeatures | None) -> Embed | None:
    """φ_o of the policy's Grasp2Vec model as an image → embedding function (nearest auxiliary goals)."""
    if features is None:
        return None
    return lambda images: features.embed_goals(images).numpy()


def offline_episodes(dataset: Any, image_size: int, reward: RewardFunction) -> Iterator[Episode]:
    """The dataset's attempts as episodes; a reward that reads ground truth (the oracle) also gets
    the names of what each attempt lifted, read from the shards' ground-truth group."""
    if not getattr(reward, "reads_ground_truth", False):
        return episodes_from_dataset(dataset, image_size)
    from graspdata.ground_truth import GroundTruthReader

    truth = GroundTruthReader()

    def lifted(index: int) -> tuple[str, ...]:
        return truth.read(dataset.ref(index)).lifted_objects

    return episodes_from_dataset(dataset, image_size, lifted=lifted)


def make_env(preset: Preset, reward_name: str, reward: RewardFunction, features: GoalFeatures | None,
             goal_bank: GoalBank | None) -> gym.Env:
    w = preset.world
    kwargs: dict[str, Any] = dict(objects=w.objects, num_objects=w.num_objects, image_size=w.image_size,
                                  max_steps=w.max_steps, auto_descend=w.auto_descend, reward=reward)
    if reward_name == "indiscriminate":
        return KukaGraspEnv(**kwargs)
    env: gym.Env = KukaInstanceGraspEnv(goal_bank=goal_bank, **kwargs)
    return GoalObservationWrapper(env, features) if features is not None else env


def write_policy_card(args: argparse.Namespace, preset: Preset) -> None:
    """``checkpoint/policy.json``: what :func:`agents.loading.wrap_for_policy` needs to rebuild the inputs."""
    goal_task = args.reward != "indiscriminate"
    features = goal_features_config(args)
    card = {"algo": args.algo, "reward": args.reward, "goal_features": args.goal_features if features else "none",
            "goal_features_config": dataclasses.asdict(features) if features else None,
            "grasp2vec": str(args.grasp2vec) if features else None,
            "grasp2vec_sha256": grasp2vec_fingerprint(args.grasp2vec) if features else None,
            "init_from": str(args.init_from) if args.init_from else None,
            "world": dataclasses.asdict(preset.world),
            "env_id": "KukaInstanceGrasp-v0" if goal_task else "KukaGrasp-v0"}
    (args.out / "checkpoint").mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "checkpoint" / "policy.json", card)


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


def plot_curves(evals: list[dict[str, float]], path: Path, title: str) -> None:
    """Success rate (with Wilson 95 % band) vs training grasps and vs wall time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    rate = np.array([e["success_rate"] for e in evals])
    low, high = np.array([e["success_low"] for e in evals]), np.array([e["success_high"] for e in evals])
    for ax, key, label in ((axes[0], "grasps", "training grasps"), (axes[1], "wall_s", "wall time (min)")):
        x = np.array([e[key] for e in evals]) / (60.0 if key == "wall_s" else 1.0)
        ax.plot(x, rate, marker="o")
        ax.fill_between(x, low, high, alpha=0.25)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("eval success rate")
    axes[0].set_ylim(0, 1)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def run_with_progress_bar(trainer: ScheduledTrainer, grasps: int, progress: Progress, minutes: float | None,
                          label: str) -> list[dict[str, float]]:
    """``trainer.run`` with a tqdm bar over training grasps (train success, last evaluation, updates)."""
    with tqdm(total=grasps, initial=progress.grasps, desc=label) as bar:
        def on_grasp(p: Progress) -> None:
            bar.update()
            bar.set_postfix(train_success=f"{p.train_successes / p.grasps:.2f}",
                            eval=f"{p.evals[-1]['success_rate']:.2f}" if p.evals else "-", updates=p.updates)

        return trainer.run(on_grasp, minutes * 60 if minutes else None).evals


def train_qtopt(args: argparse.Namespace, preset: Preset, env: gym.Env, eval_env: gym.Env, reward: RewardFunction,
                features: GoalFeatures | None, log: RunLogger) -> list[dict[str, float]]:
    t = preset.training
    replay = ReplayBuffer(env.observation_space, 5, t.replay_capacity)
    checkpoint = args.out / "checkpoint"
    if args.resume:
        agent, progress = load_training_state(checkpoint, replay)
    else:
        agent, progress = QTOpt(env.observation_space, preset.qtopt, seed=args.seed), Progress()
    goal_task = args.reward != "indiscriminate"
    observe = features.observe if features is not None else None
    relabel = (Relabeler(reward, preset.relabel, seed=args.seed, observe=observe, embed=outcome_embedding(features))
               if goal_task else None)
    print(f"replay: {ReplayBuffer.bytes_per_transition(env.observation_space, 5)} B/transition, "
          f"{replay.nbytes / 2**20:.0f} MiB for {t.replay_capacity} transitions", flush=True)
    rng = np.random.default_rng(args.seed)
    if args.offline_data is not None and progress.offline_updates < t.offline_updates:
        from embedding.dataset import EpisodeDataset

        episodes = offline_episodes(EpisodeDataset(args.offline_data), preset.world.image_size, reward)
        stored = (e for episode in episodes for e in (relabel(episode) if relabel else [episode]))
        with tqdm(total=t.offline_updates, initial=progress.offline_updates, desc="offline updates") as bar:
            offline_pretrain(agent, replay, stored, t.offline_updates, rng, log, progress, lambda: bar.update())
    trainer = OnlineTrainer(agent, replay, env, eval_env, t, args.out, log, relabel, progress)
    return run_with_progress_bar(trainer, t.grasps, progress, args.minutes, "qtopt grasps")


def train_pose_qtopt(args: argparse.Namespace, preset: Preset, env: gym.Env, eval_env: gym.Env,
                     reward: RewardFunction, features: GoalFeatures | None, log: RunLogger) -> list[dict[str, float]]:
    from agents.pose_training import (
        PoseRelabeler,
        PoseSamples,
        PoseTrainer,
        decision_from_episode,
        load_pose_state,
        store,
    )
    from agents.pose_training import offline_pretrain as pose_offline_pretrain

    t, goal_task = preset.training, args.reward != "indiscriminate"
    if goal_task and (features is None or not features.config.heatmap):
        raise SystemExit("--algo qtopt-pose on a goal task needs the heatmap: --goal-features heatmap")
    samples = PoseSamples(t.replay_capacity, preset.world.image_size, heatmaps=goal_task)
    checkpoint = args.out / "checkpoint"
    if args.resume:
        agent, progress = load_pose_state(checkpoint, samples)
    else:
        agent, progress = PoseQTOpt(goal_task, env.unwrapped.config, preset.pose, seed=args.seed), Progress()
        if args.init_from is not None:
            agent.q.copy_grasp_prior(PoseQTOpt.load(args.init_from)[0].q)
    observe = features.observe if goal_task else None
    relabel = PoseRelabeler(reward, preset.relabel, observe, seed=args.seed, embed=outcome_embedding(features))
    print(f"samples: {samples.nbytes / t.replay_capacity:.0f} B each, {samples.nbytes / 2**20:.0f} MiB for "
          f"{t.replay_capacity}", flush=True)
    rng = np.random.default_rng(args.seed)
    if args.offline_data is not None and progress.offline_updates < t.offline_updates:
        from embedding.dataset import EpisodeDataset

        if progress.offline_updates == 0:
            dataset = EpisodeDataset(args.offline_data)
            episodes = offline_episodes(dataset, preset.world.image_size, reward)
            decisions = (d for e in tqdm(episodes, total=len(dataset), desc="offline decisions")
                         if (d := decision_from_episode(e, agent.space)) is not None)
            print(f"offline: {store(samples, relabel, decisions)} samples", flush=True)
        with tqdm(total=t.offline_updates, initial=progress.offline_updates, desc="offline updates") as bar:
            pose_offline_pretrain(agent, samples, t.offline_updates, rng, log, progress, lambda: bar.update())
    trainer = PoseTrainer(agent, samples, env, eval_env, t, relabel, args.out, log, progress)
    return run_with_progress_bar(trainer, t.grasps, progress, args.minutes, "qtopt-pose grasps")


def train_sac(args: argparse.Namespace, preset: Preset, env: gym.Env, eval_env: gym.Env, reward: RewardFunction,
              features: GoalFeatures | None, log: RunLogger) -> list[dict[str, float]]:
    from agents.sac_training import OfflineData, train_sac_model

    goal_task = args.reward != "indiscriminate"
    observe = features.observe if features is not None else None
    relabel = (Relabeler(reward, preset.relabel, seed=args.seed, observe=observe, embed=outcome_embedding(features))
               if goal_task else None)
    offline = None
    if args.offline_data is not None:
        if args.algo != "sac-pose":
            raise SystemExit("--offline-data with SAC needs --algo sac-pose: the collected attempts are grasp-pose "
                             "decisions, not this env's motor actions")
        from agents.pose_training import PoseRelabeler
        from embedding.dataset import EpisodeDataset

        dataset = EpisodeDataset(args.offline_data)
        episodes = tqdm(offline_episodes(dataset, preset.world.image_size, reward), total=len(dataset),
                        desc="offline decisions")
        goal_observe = (observe or dict) if goal_task else None  # a goal task stores goal images, features or not
        relabel_offline = PoseRelabeler(reward, preset.relabel, goal_observe, seed=args.seed,
                                        embed=outcome_embedding(features))
        offline = OfflineData(episodes, relabel_offline, preset.training.offline_updates)
    return train_sac_model(preset, env, eval_env, args.out, args.seed, args.resume, relabel, log,
                           args.minutes * 60 if args.minutes else None, offline)


def evaluate_random(args: argparse.Namespace, preset: Preset, env: gym.Env, eval_env: gym.Env,
                    reward: RewardFunction, features: GoalFeatures | None, log: RunLogger) -> list[dict[str, float]]:
    from agents.baselines import RandomMovePolicy
    from agents.evaluation import evaluate

    result = evaluate(RandomMovePolicy(args.seed), eval_env, preset.training.eval_episodes, seed=0)
    result.update(grasps=0.0, wall_s=0.0)
    log({f"eval/{k}": v for k, v in result.items()}, 0)
    atomic_write_json(args.out / "eval.json", [result])
    return [result]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    preset = apply_overrides(PRESETS[args.preset], args)
    if args.algo in POSE_ALGOS and preset.world.auto_descend:
        raise SystemExit(f"--algo {args.algo} drives the descent itself: use a pose preset without auto_descend "
                         f"(pose, pose-32, pose-tiny), not {args.preset!r}")
    if args.init_from is not None and (args.algo != "qtopt-pose" or args.reward == "indiscriminate"):
        raise SystemExit("--init-from starts a goal-task --algo qtopt-pose from an indiscriminate one; "
                         f"got --algo {args.algo} --reward {args.reward}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.resume and not (args.out / "checkpoint").is_dir():
        raise SystemExit(f"--resume: no checkpoint folder {args.out / 'checkpoint'}")
    config = {"command": command_line("runs.train_policy", argv),
              "algo": args.algo, "reward": args.reward, "reward_args": args.reward_arg, "preset": args.preset,
              "goal_features": args.goal_features if args.reward != "indiscriminate" else "none",
              "seed": args.seed, "offline_data": [str(p) for p in args.offline_data] if args.offline_data else None,
              "settings": dataclasses.asdict(preset),
              "machine": f"{machine_description()}, torch threads {args.threads}, "
              f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}"}
    atomic_write_json(args.out / ("config-resume.json" if args.resume else "config.json"), config)
    features = load_goal_features(args)
    if args.algo != "random":
        write_policy_card(args, preset)
    reward = make_reward(args.reward, **parse_reward_kwargs(args.reward_arg))
    w = preset.world
    goal_bank = None if args.reward == "indiscriminate" else GoalBank(make_world_config(1, w.image_size, None))
    env = make_env(preset, args.reward, reward, features, goal_bank)
    eval_env = make_env(preset, args.reward, reward, features, goal_bank)
    if args.algo == "sac-pose":
        from agents.grasp_pose import PoseActionWrapper

        env, eval_env = PoseActionWrapper(env), PoseActionWrapper(eval_env)
    log = RunLogger(args.out, config)
    start = time.perf_counter()
    try:
        train = {"qtopt": train_qtopt, "qtopt-pose": train_pose_qtopt, "sac": train_sac, "sac-pose": train_sac,
                 "random": evaluate_random}[args.algo]
        evals = train(args, preset, env, eval_env, reward, features, log)
    finally:
        log.finish()
        env.close()
        eval_env.close()
    plot_curves(evals, args.out / "curves.png", f"{args.algo} / {args.reward} / {args.preset} (seed {args.seed})")
    last = evals[-1] if evals else {}
    print(json.dumps({"out": str(args.out), "wall_s_this_call": round(time.perf_counter() - start, 1),
                      "last_eval": last}, indent=1))


if __name__ == "__main__":
    main()
