"""Fit a ranker of a product's best grasps (agents.qtopt.ranking) on collected candidates, labelled by the Grasp2Vec
reward (thresholded and gated) or by ``--reward`` (``sensed``: the gripper's own bit, for an any-object product);
write the ranked policy's folder (ranked.json holds its cross-validated picks; score it with runs.benchmark).

    python -m runs.fit_ranker --product checkpoints/policies/qtopt-grasp2vec-product/checkpoint \\
        --data runs/out/ranker/block8 runs/out/ranker/block9 --out runs/out/candidates/ranked
    python -m runs.fit_ranker --product checkpoints/policies/qtopt-oracle-product/checkpoint --reward oracle \\
        --data runs/out/ranker/oracle-block8 --out runs/out/candidates/ranked-oracle     # the labels comparison
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from agents.ranker_data import fit_ranker
from common.protocols import RewardError
from common.provenance import command_line
from rewards.registry import parse_reward_kwargs


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m runs.fit_ranker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--product", type=Path, required=True, help="the product's checkpoint folder")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="runs.collect_candidates folders")
    parser.add_argument("--l2", type=float, default=0.1, help="L2 penalty on the standardised weights (default 0.1)")
    parser.add_argument("--reward", help="label by: oracle | sensed (the gripper's bit) | pkg.mod:Class")
    parser.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword for --reward's constructor, e.g. thresholded=true")
    parser.add_argument("--out", type=Path, required=True, help="the new checkpoint folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        out = fit_ranker(args.product, args.data, args.out, args.l2, command_line("runs.fit_ranker", argv),
                         args.reward, parse_reward_kwargs(args.reward_arg))
    except (ValueError, FileExistsError, FileNotFoundError, RewardError) as error:
        sys.exit(f"fit_ranker: error: {error}")
    print(out)
    return out


if __name__ == "__main__":
    main()
