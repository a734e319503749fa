"""Collect self-supervised grasp data: (pre, post, outcome) triplets plus the policy's episodes.

    python -m runs.collect --out runs/out/data/seen --grasps 10000 --workers 2
    python -m runs.collect --out runs/out/data/seen --grasps 20000 --resume          # continue / extend
    python -m runs.collect --out DIR --grasps 100000 --workers 64 --ray-address auto  # on a Ray cluster

Runs an indiscriminate policy (``--policy random`` by default) in parallel workers and writes HDF5
shards and a ``card.json`` into ``--out`` (layout: docs/datasets.md). A killed run keeps every
complete shard; ``--resume`` collects only what is missing. wandb logs offline by default.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agents.collection import policy_factory
from graspdata.collect import collect
from graspdata.config import CollectConfig
from graspdata.errors import DatasetError
from graspdata.pool import WorkerError
from graspdata.wandb_log import WandbLog


def build_parser() -> argparse.ArgumentParser:
    d = CollectConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="dataset folder")
    parser.add_argument("--objects", nargs="+", default=[d.objects],
                        help="object set: seen, unseen, a folder, a glob, or URDF paths (default: seen)")
    parser.add_argument("--grasps", type=int, default=d.grasps, help="grasp attempts (episodes) the dataset holds")
    parser.add_argument("--workers", type=int, default=d.workers, help="worker processes or Ray actors")
    parser.add_argument("--image-size", type=int, default=d.image_size, help="policy's image side, pixels")
    parser.add_argument("--triplet-size", type=int, default=d.triplet_size,
                        help="side of the recorded pre, post and outcome images, pixels (default: --image-size)")
    parser.add_argument("--triplet-fov", type=float, default=d.triplet_fov,
                        help="field of view of the recorded pre and post images, degrees, narrower than the policy's "
                             "scene camera (36): a zoom on the bin (default: the policy's view)")
    parser.add_argument("--triplet-backdrop", action="store_true",
                        help="record the outcome image against a plain backdrop: only the arm and what it holds in "
                             "sight, no floor whose pattern tells where the arm lifted (the episodes are the same)")
    parser.add_argument("--num-objects", type=int, default=d.num_objects, help="objects in the bin")
    parser.add_argument("--max-steps", type=int, default=d.max_steps, help="actions per episode")
    parser.add_argument("--policy", default=d.policy,
                        help="random, package.module:factory(env, seed), or a saved policy folder")
    parser.add_argument("--seed", type=int, default=d.seed, help="base seed of the episode seeds")
    parser.add_argument("--shard-size", type=int, default=d.shard_size, help="attempts per shard file")
    parser.add_argument("--heightmap", action="store_true",
                        help="also record each attempt's top-down height map before the grasp (patch policies read it)")
    parser.add_argument("--scene-each-step", action="store_true",
                        help="render the scene image at every step (closed-loop learners; default: once per "
                             "attempt, the image every learner here reads; datasets collected before 2026-12-07 "
                             "need it to resume)")
    parser.add_argument("--regrasp-same", action="store_true",
                        help="after a sensed lift, put it back and make the same grasp again, recording that second "
                             "outcome: label-free pairs of views of one object (the attempts are the same)")
    parser.add_argument("--resume", action="store_true", help="continue the dataset in --out")
    parser.add_argument("--ray-address", help="run on Ray: 'local' (start one here), 'auto', or a cluster address")
    parser.add_argument("--skip-bad", action="store_true", help="on --resume, set bad shards aside and redo them")
    parser.add_argument("--max-task-failures", type=int, default=d.max_task_failures,
                        help="stop when one shard's worker failed this many times")
    parser.add_argument("--wandb-mode", choices=["offline", "online", "disabled"], default="offline")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    objects = args.objects[0] if len(args.objects) == 1 else tuple(args.objects)
    try:
        config = CollectConfig(objects=objects, num_objects=args.num_objects, image_size=args.image_size,
                               triplet_size=args.triplet_size, triplet_fov=args.triplet_fov, max_steps=args.max_steps,
                               policy=args.policy, seed=args.seed, grasps=args.grasps,
                               shard_size=args.shard_size, workers=args.workers,
                               max_task_failures=args.max_task_failures, heightmap=args.heightmap,
                               scene_each_step=args.scene_each_step, regrasp_same=args.regrasp_same,
                               triplet_backdrop=args.triplet_backdrop)
        log = WandbLog(args.wandb_mode, args.out, config.to_dict()) if args.wandb_mode != "disabled" else None
        try:
            result = collect(config, args.out, resume=args.resume, ray_address=args.ray_address,
                             skip_bad=args.skip_bad, log=log, show_progress=not args.no_progress,
                             make_policy=policy_factory(config.policy))
        finally:
            if log is not None:
                log.finish()
    except (DatasetError, WorkerError, FileExistsError, FileNotFoundError, ValueError, BlockingIOError) as error:
        sys.exit(f"collect: error: {error}")
    except KeyboardInterrupt:
        sys.exit(f"collect: interrupted; the complete shards in {args.out} are kept: run again with --resume")
    summary = {"folder": str(result.folder), "attempts": result.attempts, "successes": result.successes,
               "success_rate": round(result.successes / max(result.attempts, 1), 4),
               "new_attempts": result.new_attempts, "wall_s": round(result.wall_s, 1),
               "attempts_per_hour": round(result.attempts_per_hour),
               "steady_attempts_per_hour": round(result.steady_attempts_per_hour), "failures": result.failures,
               "worker_cpu_s_per_attempt": round(result.worker_cpu_s / max(result.new_attempts, 1), 4)}
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
