"""A pose QT-Opt checkpoint with other acting settings (same weights), for validation comparisons.

    python -m runs.derive_policy --source checkpoints/policies/qtopt-grasp2vec/checkpoint \\
        --out runs/out/candidates/robust --set robust_translation=0.01 --set robust_yaw=0.2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.variants import derive_policy, parse_override
from common.provenance import command_line


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m runs.derive_policy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a pose QT-Opt checkpoint folder")
    parser.add_argument("--out", type=Path, required=True, help="the new checkpoint folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="an acting setting")
    args = parser.parse_args(argv)
    try:
        out = derive_policy(args.source, args.out, dict(parse_override(item) for item in args.set),
                            command_line("runs.derive_policy", argv))
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        sys.exit(f"derive_policy: error: {error}")
    print(out)
    return out


if __name__ == "__main__":
    main()
