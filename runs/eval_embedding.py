"""Evaluate a Grasp2Vec checkpoint on held-out grasps: retrieval top-1 and localization.

    python -m runs.eval_embedding --checkpoint checkpoints/grasp2vec --objects unseen \\
        --data runs/out/data/unseen-heldout --json runs/out/eval/unseen.json

Held-out grasps come from ``--data`` (a dataset folder, all its successful grasps) or, without it,
are collected now on ``--objects`` (``--attempts`` episodes from ``--seed``; keep those seeds
disjoint from the training data's). The same figures are computed for a random-weight model of the
same architecture (the floor). Writes the JSON, a Markdown table (``.md``) and PNG grids beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from common.io import atomic_write_text
from common.provenance import command_line, machine_description
from embedding.checkpoint import load_checkpoint, read_card
from embedding.evaluate import HeldOutGrasps, choose_goals, evaluate_model, format_table, save_figures
from embedding.heatmap import DENSE, HeatmapReadout
from embedding.heldout import collect_held_out, goal_bank_source, read_held_out
from embedding.model import Grasp2Vec
from graspdata.card import DatasetCard

DEFAULT_EVAL_SEED = 700_000_000  # far from the collection seeds used for training data
GOAL_BANK_SEED_OFFSET = 1_000_003


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint folder or PATH.safetensors")
    parser.add_argument("--objects", default="seen", help="seen | unseen | folder | glob (the held-out object set)")
    parser.add_argument("--data", type=Path, nargs="+", help="read held-out grasps from these dataset folders")
    parser.add_argument("--attempts", type=int, default=2400, help="episodes to collect when --data is not given")
    parser.add_argument("--num-objects", type=int, default=5, help="objects per bin when collecting")
    parser.add_argument("--limit", type=int, help="use at most this many held-out grasps")
    parser.add_argument("--min-pool", type=int, default=2,
                        help="refuse to report on fewer held-out grasps (retrieval pool = localization trials)")
    parser.add_argument("--seed", type=int, default=DEFAULT_EVAL_SEED, help="collection and goal-choice seed")
    parser.add_argument("--no-goal-bank", action="store_true",
                        help="only use goals from other held-out grasps (never grasp objects alone)")
    parser.add_argument("--heatmap-shifts", type=int, default=DENSE.shifts,
                        help="shifted reads per axis of the localization heatmap (embedding.heatmap.HeatmapReadout; "
                             "1 = a single read)")
    parser.add_argument("--flip-average", action="store_true",
                        help="retrieval embeddings averaged with their left-right mirror images (test-time averaging)")
    parser.add_argument("--any-camera", action="store_true",
                        help="score the checkpoint on pre and post images seen through another field of view than "
                             "its training triplets' (runs.collect --triplet-fov), which is refused otherwise")
    parser.add_argument("--floor-seed", type=int, default=0, help="initialisation seed of the random-weight floor")
    parser.add_argument("--json", required=True, type=Path, help="output JSON (table .md and PNGs beside it)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def load_grasps(args: argparse.Namespace, image_size: int) -> tuple[HeldOutGrasps, dict]:
    if args.data is not None:
        grasps = read_held_out(args.data, objects=args.objects, limit=args.limit, progress=not args.no_progress)
        return grasps, {"source": "dataset", "roots": [str(d) for d in args.data],
                        "triplet_fov": DatasetCard.load(args.data[0]).triplet_fov,
                        "triplet_backdrop": DatasetCard.load(args.data[0]).triplet_backdrop}
    grasps = collect_held_out(args.objects, args.attempts, args.seed, image_size=image_size,
                              num_objects=args.num_objects, progress=not args.no_progress)
    if args.limit is not None:
        grasps = HeldOutGrasps.from_records([{"pre": grasps.pre[i], "post": grasps.post[i],
                                              "outcome": grasps.outcome[i], "object": grasps.objects[i],
                                              "pre_object_mask": grasps.masks[i]}
                                             for i in range(min(args.limit, len(grasps)))], grasps.urdfs)
    return grasps, {"source": "collected", "attempts": args.attempts, "seed_first": args.seed,
                    "num_objects": args.num_objects, "policy": "RandomGraspPolicy", "triplet_fov": None,
                    "triplet_backdrop": False}


def check_camera(checkpoint: Path, held_out: dict, any_camera: bool) -> None:
    """Refuse (SystemExit) held-out pre and post images seen through another field of view than the checkpoint's
    training triplets, unless ``any_camera``: φ_s reads objects at the scale it was trained on."""
    trained = read_card(checkpoint).get("extra", {}).get("data", {}).get("triplet_fov")
    if trained != held_out["triplet_fov"] and not any_camera:
        raise SystemExit(f"eval_embedding: error: {checkpoint} was trained on pre and post images through a {trained} "
                         f"degree field of view, the held-out grasps are through {held_out['triplet_fov']} (None: "
                         "the policy's scene camera): collect them with the training data's --triplet-fov, or pass "
                         "--any-camera to compare anyway")
    backdrop = bool(read_card(checkpoint).get("extra", {}).get("data", {}).get("triplet_backdrop", False))
    if backdrop != held_out["triplet_backdrop"] and not any_camera:
        raise SystemExit(f"eval_embedding: error: {checkpoint} was trained on outcome images "
                         f"{'with' if backdrop else 'without'} a plain backdrop, the held-out grasps' are "
                         f"{'with' if held_out['triplet_backdrop'] else 'without'}: collect them with the training "
                         "data's --triplet-backdrop, or pass --any-camera to compare anyway")


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    model = load_checkpoint(args.checkpoint)
    grasps, source = load_grasps(args, model.config.image_size)
    check_camera(args.checkpoint, source, args.any_camera)
    if len(grasps) < max(2, args.min_pool):
        raise SystemExit(f"only {len(grasps)} held-out grasps, --min-pool is {max(2, args.min_pool)}: collect more "
                         "(--attempts, or runs.collect into a --data folder; about 1 attempt in 5 lifts one object)")
    bank = None
    fallback = None
    if not args.no_goal_bank:
        fallback, bank = goal_bank_source(grasps, args.seed + GOAL_BANK_SEED_OFFSET)
    goals = choose_goals(grasps, args.seed, fallback)
    if bank is not None:
        bank.close()
    torch.manual_seed(args.floor_seed)
    floor = Grasp2Vec(model.config).eval()
    results, figures = {}, []
    for name, candidate in (("trained", model), ("random_init", floor)):
        result = evaluate_model(candidate, grasps, goals, HeatmapReadout(shifts=args.heatmap_shifts), args.flip_average)
        results[name] = result.metrics
        figures += save_figures(grasps, result, args.json.with_suffix("").with_name(f"{args.json.stem}_{name}"))
    report = {
        "checkpoint": str(args.checkpoint), "checkpoint_card": read_card(args.checkpoint).get("extra", {}),
        "objects": args.objects, "held_out": {**source, "grasps": len(grasps),
                                              "distinct_objects": len(set(grasps.objects))},
        "goals": {s: int(np.sum([g == s for g in goals.sources])) for s in ("heldout", "bank", "none")},
        "models": results, "figures": [str(f) for f in figures], "machine": machine_description(),
        "command": command_line("runs.eval_embedding", argv), "wall_s": round(time.perf_counter() - began, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    table = format_table(results)
    atomic_write_text(args.json.with_suffix(".md"), f"Held-out {args.objects}: {len(grasps)} grasps, "
                      f"{report['held_out']['distinct_objects']} objects\n\n{table}\n")
    print(table)
    return report


if __name__ == "__main__":
    main()
