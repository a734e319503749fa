"""Let a ranked product put back a lift its learned reward rejects (agents.regrasp): scored in a benchmark table
that allows more than one grasp (``runs.benchmark --max-grasps 2``), where rows that cannot decide keep every lift.

    python -m runs.add_regrasp --base checkpoints/policies/qtopt-grasp2vec-ranked --threshold 0.8 \\
        --out runs/out/candidates/ranked-regrasp
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agents.regrasp import RegraspConfig, add_regrasp
from common.provenance import command_line


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m runs.add_regrasp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the ranked product's checkpoint folder")
    parser.add_argument("--reward", default="grasp2vec", help="the verifier: a reward name or package.module:Class")
    parser.add_argument("--reward-kwargs", type=json.loads, default={}, help="its keyword arguments, as JSON")
    parser.add_argument("--threshold", type=float, required=True,
                        help="a lift scoring at least this is kept (inf: put back all but the last); choose it on "
                        "validation trials for the verifier at hand")
    parser.add_argument("--retry-tried", action="store_true", help="let the next grasp go where one was tried")
    parser.add_argument("--retry-empty", action="store_true",
                        help="leave out only the tried grasps whose lift held something (the verifier's presence "
                        "gate): one that came up empty may be tried again")
    parser.add_argument("--out", type=Path, required=True, help="the new checkpoint folder")
    args = parser.parse_args(argv)
    try:
        out = add_regrasp(args.base, RegraspConfig(args.threshold, args.reward, args.reward_kwargs,
                                                      not args.retry_tried, args.retry_empty), args.out,
                          command_line("runs.add_regrasp", argv))
    except (ValueError, FileExistsError, FileNotFoundError) as error:  # a verifier that does not load: RewardError
        sys.exit(f"add_regrasp: error: {error}")
    print(out)
    return out


if __name__ == "__main__":
    main()
