"""A product of pose QT-Opt checkpoints: CEM picks the pose that maximises Σ w_i log p_i (agents.qtopt.product).

    python -m runs.combine_policies --member checkpoints/policies/qtopt-grasp2vec/checkpoint \\
        --member checkpoints/policies/qtopt-patch-indiscriminate/checkpoint:0.5 --out runs/out/candidates/product

Score it like any checkpoint: python -m runs.benchmark --split validation --checkpoint product=FOLDER --rows product
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.variants import combine_policies, parse_override
from common.provenance import command_line


def parse_member(item: str) -> tuple[Path, float]:
    """``FOLDER`` or ``FOLDER:WEIGHT`` (weight 1 when left out)."""
    folder, sep, weight = item.rpartition(":")
    if not sep:
        return Path(item), 1.0
    try:
        return Path(folder), float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{item!r}: expected FOLDER or FOLDER:WEIGHT with a number") from None


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m runs.combine_policies", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--member", type=parse_member, action="append", required=True, metavar="FOLDER[:WEIGHT]",
                        help="a pose QT-Opt checkpoint folder and its exponent in the product (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="the new checkpoint folder")
    parser.add_argument("--cem", action="append", default=[], metavar="KEY=JSON",
                        help="a CEM setting (iterations, population, elites); default: the first member's")
    parser.add_argument("--approach", action="append", default=[], metavar="KEY=JSON",
                        help="how the follower carries the pose out (envs.grasp_pose.ApproachConfig: hover, "
                        "translation_tolerance, yaw_tolerance, max_align_steps, offset); default: the first member's")
    parser.add_argument("--goal-heat", type=float, default=0.0, metavar="W",
                        help="add W · log min(1, h(u) / LEVEL), h(u) the goal's Grasp2Vec heatmap where the "
                        "fingers meet (needs a goal member reading the heatmap; default 0: no such term)")
    parser.add_argument("--goal-heat-level", type=float, default=1.0, metavar="LEVEL",
                        help="heat in (0, 1] above which the goal heat term costs nothing (default 1: the peak)")
    parser.add_argument("--focus", action="append", default=[], metavar="KEY=JSON",
                        help="collection: search near one object drawn from the height map per episode "
                        "(agents.core.focus.FocusConfig: radius metres, min_height metres); default off")
    parser.add_argument("--seed", type=int, default=0, help="seeds CEM's sampling")
    args = parser.parse_args(argv)
    try:
        out = combine_policies(args.member, args.out, dict(parse_override(item) for item in args.cem), args.seed,
                               command_line("runs.combine_policies", argv),
                               dict(parse_override(item) for item in args.approach), args.goal_heat,
                               args.goal_heat_level, dict(parse_override(item) for item in args.focus))
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        sys.exit(f"combine_policies: error: {error}")
    print(out)
    return out


if __name__ == "__main__":
    main()
