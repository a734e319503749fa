"""How good is a reward? ROC-AUC, precision and recall on held-out grasps with ground truth.

    python -m runs.eval_reward --reward grasp2vec --objects seen unseen --json runs/out/rewards/grasp2vec.json

For each object set, the outcome image of every successful held-out grasp of an object grasped
at least twice is scored twice: against the outcome image of *another* grasp of the same object
(positive) and of a grasp of another object (negative), with the pairs drawn by ``--seed``
(:func:`rewards.quality.make_pairs`; balanced). The
reward sees the goal and outcome images (and, for ground-truth rewards, which object was lifted
and which was the target). Reported per set: ROC-AUC of the reward's scores, precision / recall /
false-positive rate of ``score >= threshold`` (the reward's calibrated threshold, 0.5 for 0/1
rewards, or ``--threshold``), and, when the folder records failed attempts
(``EpisodeDataset``), how often a grasp that lifted nothing is rewarded, and, when it holds grasps
that lifted several objects together, how often such an outcome is rewarded for a goal showing
one of them alone (the benchmark counts that trial as a failure: "the target, and no other").
Writes the JSON and a PNG of the score distributions beside it.

Data: ``runs/out/data/{seen,unseen}-heldout`` (``--data-root``; ``--data SET=FOLDER`` for one
set), or ``--collect N`` to grasp N times on the spot with the scripted indiscriminate policy
(seeds from ``--collect-seed``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.io import atomic_write_text
from common.provenance import command_line, machine_description
from rewards.evaluation import DEFAULT_THRESHOLD, evaluate_set, markdown_table, plot_scores
from rewards.quality import (
    failed_outcomes,
    load_labelled_outcomes,
    multi_object_outcomes,
)
from rewards.registry import make_reward, parse_reward_kwargs

COLLECT_SEED = {"seen": 7_000_000, "unseen": 8_000_000}  # disjoint from collection and training seeds


def load_set(name: str, args: argparse.Namespace
             ) -> tuple[np.ndarray, list[str], np.ndarray, tuple[np.ndarray, np.ndarray] | None,
                        tuple[np.ndarray, list[tuple[str, ...]], np.ndarray] | None, str]:
    """(outcomes, objects, their apertures, failed (outcomes, apertures) or None, multi-object grasps
    (outcomes, lifted names, apertures) or None, description of the source) of one object set."""
    if args.collect:
        from embedding.heldout import collect_held_out

        seed = args.collect_seed + COLLECT_SEED[name]
        grasps = collect_held_out(name, args.collect, seed, image_size=args.image_size)
        return (grasps.outcome, grasps.objects, np.full(len(grasps.objects), np.nan), None, None,
                f"collected: {args.collect} attempts, seeds from {seed}")
    root = Path(dict(item.split("=", 1) for item in args.data).get(name, Path(args.data_root) / f"{name}-heldout"))
    outcomes, objects, apertures = load_labelled_outcomes(str(root), "all", args.seed, args.limit)
    multi = multi_object_outcomes(root, args.failures)
    return outcomes, objects, apertures, failed_outcomes(root, args.failures), multi, str(root)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--table":
        print(markdown_table([json.loads(Path(path).read_text()) for path in argv[1:]]))
        return {}
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="python -m runs.eval_reward --table A.json B.json ...: Markdown table")
    parser.add_argument("--reward", required=True, help="built-in name or package.module:ClassName")
    parser.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="constructor argument of the reward (repeatable), e.g. checkpoint=checkpoints/grasp2vec")
    parser.add_argument("--objects", nargs="+", choices=["seen", "unseen"], default=["seen", "unseen"])
    parser.add_argument("--json", type=Path, required=True, help="output JSON; the PNG goes beside it")
    parser.add_argument("--data-root", default="runs/out/data", help="folder holding {seen,unseen}-heldout")
    parser.add_argument("--data", action="append", default=[], metavar="SET=FOLDER",
                        help="dataset folder of one object set, e.g. unseen=runs/out/other/unseen (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many successful grasps per set")
    parser.add_argument("--failures", type=int, default=500,
                        help="failed attempts, and multi-object grasps, scored per set (if recorded)")
    parser.add_argument("--collect", type=int, default=0, help="instead of --data-root, grasp N times on the spot")
    parser.add_argument("--collect-seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64, help="image size when collecting")
    parser.add_argument("--threshold", type=float, default=None, help="override the reward's threshold")
    parser.add_argument("--seed", type=int, default=0, help="seed of the goal/outcome pairing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy machine)")
    args = parser.parse_args(argv)
    unknown = [item for item in args.data if item.split("=", 1)[0] not in ("seen", "unseen") or "=" not in item]
    if unknown:
        parser.error(f"--data takes seen=FOLDER or unseen=FOLDER, got {unknown}")
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    kwargs = parse_reward_kwargs(args.reward_arg)
    reward = make_reward(args.reward, **kwargs)
    own = getattr(reward, "threshold", None)
    threshold = args.threshold if args.threshold is not None else (own if own is not None else DEFAULT_THRESHOLD)
    results, raw, sources = {}, {}, {}
    for name in args.objects:
        outcomes, objects, apertures, failed, multi, sources[name] = load_set(name, args)
        results[name], raw[name] = evaluate_set(reward, outcomes, objects, apertures, threshold, args.seed, failed,
                                                multi)
        results[name]["data"] = sources[name]
        print(f"{args.reward} {name}: AUC {results[name]['roc_auc']:.4f}  precision {results[name]['precision']:.3f}"
              f"  recall {results[name]['recall']:.3f} at {threshold:.4f}  ({results[name]['pairs']} pairs)")
    report = {
        "reward": args.reward, "reward_kwargs": kwargs, "threshold": threshold,
        "threshold_source": "argument" if args.threshold is not None else ("reward" if own is not None else "default"),
        "sets": results, "seed": args.seed, "machine": machine_description(),
        "wall_time_s": round(time.perf_counter() - began, 1), "command": command_line("runs.eval_reward", argv),
    }
    atomic_write_text(args.json, json.dumps(report, indent=1))
    plot_scores(raw, results, report["command"], args.json.with_suffix(".png"))
    return report


if __name__ == "__main__":
    main()
