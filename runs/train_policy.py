"""Train a grasp policy: ``python -m runs.train_policy --algo qtopt-pose --task instance --reward grasp2vec --out DIR``.

``--task`` picks the task (``indiscriminate``: grasp anything; ``instance``: grasp the goal's object;
default: indiscriminate for the indiscriminate reward, else instance); ``--reward`` picks the reward
(``oracle``, ``indiscriminate``, ``grasp2vec``, ``autoencoder``, ``package.module:Class``). ``--algo random``
trains nothing: it evaluates a random mover as the reference line. Outputs and resuming:
:mod:`agents.train`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.core.relabel import AUXILIARY_SAMPLING
from agents.presets import PRESETS
from agents.train import ALGOS, FEATURE_CHOICES, TrainPolicyConfig, train_policy
from common.protocols import TASK_ENVS, RewardError
from common.provenance import command_line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runs.train_policy", description=__doc__.split("\n")[0])
    p.add_argument("--algo", choices=ALGOS, required=True,
                   help="qtopt-pose, sac-pose: one grasp pose per episode; random: the reference line")
    p.add_argument("--task", choices=sorted(TASK_ENVS), help="default: indiscriminate for --reward indiscriminate")
    p.add_argument("--reward", required=True, help="indiscriminate | oracle | grasp2vec | autoencoder | pkg.mod:Class")
    p.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword for the reward's constructor, e.g. checkpoint=checkpoints/grasp2vec")
    p.add_argument("--preset", choices=sorted(PRESETS), default="pose")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grasps", type=int, help="override the preset's online grasps (qtopt-pose; 0 = offline "
                   "updates only)")
    p.add_argument("--timesteps", type=int, help="override the preset's env steps (sac-pose)")
    p.add_argument("--eval-episodes", type=int, help="override the preset's episodes per evaluation")
    p.add_argument("--goal-features", choices=sorted(FEATURE_CHOICES), default="heatmap",
                   help="Grasp2Vec inputs for the instance task")
    p.add_argument("--heatmap-shifts", type=int, default=1, help="shifted reads per axis of the goal heatmap")
    p.add_argument("--grasp2vec", type=Path, default=Path("checkpoints/grasp2vec"),
                   help="Grasp2Vec checkpoint for --goal-features")
    p.add_argument("--posthoc", action=argparse.BooleanOptionalAction, default=None, help="posthoc relabeling")
    p.add_argument("--auxiliary-goals", type=int, help="auxiliary goals per grasp (default: preset)")
    p.add_argument("--auxiliary-sampling", choices=AUXILIARY_SAMPLING,
                   help="uniform (the paper) or nearest (the pool's outcomes most like this one under φ_o)")
    p.add_argument("--goal-pool-size", type=int, help="recent outcomes kept as auxiliary goals")
    p.add_argument("--replay-capacity", type=int, help="stored samples (default: preset)")
    p.add_argument("--offline-data", type=Path, nargs="+", help="dataset folder(s) for offline pre-training")
    p.add_argument("--init-from", type=Path,
                   help="instance qtopt-pose: start from this indiscriminate qtopt-pose checkpoint's grasp prior")
    p.add_argument("--offline-updates", type=int, help="gradient steps on --offline-data before going online")
    p.add_argument("--minutes", type=float, help="stop the online phase after this many minutes; --resume continues")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on 2 shared cores)")
    return p


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    args = build_parser().parse_args(argv)
    try:
        config = TrainPolicyConfig(
            algo=args.algo, task=args.task, reward=args.reward, out=args.out, reward_args=tuple(args.reward_arg),
            preset=args.preset, resume=args.resume, seed=args.seed, grasps=args.grasps, timesteps=args.timesteps,
            eval_episodes=args.eval_episodes, goal_features=args.goal_features, heatmap_shifts=args.heatmap_shifts,
            grasp2vec=args.grasp2vec, posthoc=args.posthoc, auxiliary_goals=args.auxiliary_goals,
            auxiliary_sampling=args.auxiliary_sampling, goal_pool_size=args.goal_pool_size,
            replay_capacity=args.replay_capacity, offline_data=tuple(args.offline_data) if args.offline_data else None,
            init_from=args.init_from, offline_updates=args.offline_updates, minutes=args.minutes,
            threads=args.threads, command=command_line("runs.train_policy", argv))
        return train_policy(config)
    except (ValueError, FileNotFoundError, RewardError) as error:
        sys.exit(f"train_policy: error: {error}")


if __name__ == "__main__":
    main()
