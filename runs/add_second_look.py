"""Give a pose policy a look before closing (agents.second_look): a copy of the policy that scores the wrist view at
the bottom of each approach and takes its next candidate when the grasp looks bound to fail.

    python -m runs.add_second_look --base checkpoints/policies/qtopt-grasp2vec-product/checkpoint \\
        --view runs/out/second-look/probe/presence \\
        --prior checkpoints/policies/qtopt-patch-indiscriminate-2k/checkpoint --threshold -2 \\
        --out runs/out/candidates/prod-look

Score it like any checkpoint: python -m runs.benchmark --split validation --checkpoint NAME=FOLDER --rows NAME
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.second_look import SecondLookConfig
from agents.variants import add_second_look
from common.provenance import command_line


def main(argv: list[str] | None = None) -> Path:
    defaults = SecondLookConfig()
    parser = argparse.ArgumentParser(prog="python -m runs.add_second_look", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the pose policy's checkpoint folder (QT-Opt or "
                        "product)")
    parser.add_argument("--view", type=Path, required=True, metavar="PREFIX", help="the wrist-view classifier "
                        "(PREFIX.safetensors + PREFIX.json, as runs.second_look_probe writes it)")
    parser.add_argument("--prior", type=Path, default=None, help="an indiscriminate pose QT-Opt checkpoint whose "
                        "logit is added to the view's (default: the view alone)")
    parser.add_argument("--threshold", type=float, default=defaults.threshold,
                        help=f"log-odds under which a grasp is given up (default {defaults.threshold})")
    parser.add_argument("--looks", type=int, default=defaults.looks,
                        help=f"grasps that may be given up per episode (default {defaults.looks})")
    parser.add_argument("--retreat", type=float, default=defaults.retreat,
                        help=f"metres above the bottom at which the next approach moves across (default "
                        f"{defaults.retreat})")
    parser.add_argument("--min-steps-left", type=int, default=defaults.min_steps_left,
                        help=f"steps that must remain to give a grasp up (default {defaults.min_steps_left})")
    parser.add_argument("--avoid-radius", type=float, default=defaults.avoid_radius,
                        help=f"metres around a given-up grasp point that the next search leaves out, at any yaw "
                        f"(default {defaults.avoid_radius})")
    parser.add_argument("--out", type=Path, required=True, help="the new checkpoint folder")
    args = parser.parse_args(argv)
    try:
        config = SecondLookConfig(threshold=args.threshold, looks=args.looks, retreat=args.retreat,
                                  min_steps_left=args.min_steps_left, avoid_radius=args.avoid_radius)
        out = add_second_look(args.base, args.view, args.prior, config, args.out,
                              command_line("runs.add_second_look", argv))
    except (ValueError, FileExistsError, FileNotFoundError) as error:  # a classifier that does not load: RewardError
        sys.exit(f"add_second_look: error: {error}")
    print(out)
    return out


if __name__ == "__main__":
    main()
