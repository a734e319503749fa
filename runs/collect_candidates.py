"""Collect a product's best grasps in many bins, each carried out from a fresh reset (agents.ranker_data): the data
runs.fit_ranker fits a ranker on. A killed run resumes from its last block of bins (run the same command again).

    python -m runs.collect_candidates --product checkpoints/policies/qtopt-grasp2vec-product/checkpoint \\
        --bins 300 --first-seed 28000000 --out runs/out/ranker/block8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from agents.ranker_data import CandidateCollection, collect_candidates


def main(argv: list[str] | None = None) -> Path:
    d = CandidateCollection()
    parser = argparse.ArgumentParser(prog="python -m runs.collect_candidates", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--product", type=Path, required=True, help="the product's checkpoint folder")
    parser.add_argument("--bins", type=int, default=d.bins, help=f"bins (default {d.bins})")
    parser.add_argument("--first-seed", type=int, default=d.first_seed, help="bin i resets with this + i")
    parser.add_argument("--goal-seed", type=int, default=d.goal_seed, help="the goal bank's (default: training's)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--out", type=Path, required=True, help="the collection's folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        config = CandidateCollection(bins=args.bins, first_seed=args.first_seed,
                                     goal_seed=args.goal_seed)
        out = collect_candidates(args.product, config, args.out, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"collect_candidates: error: {error}")
    print(out)
    return out


if __name__ == "__main__":
    main()
