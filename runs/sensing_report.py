"""Compare the robot's sensed grasp bit with the simulator's ground truth on collected attempts.

    python -m runs.collect --out runs/out/sensing/seen-s14014 --objects seen --grasps 2000 --seed 14014
    python -m runs.sensing_report runs/out/sensing/seen-s14014 --out docs/results/grasp-sensing

Writes ``OUT.json`` and ``OUT.md``: the confusion table of sensed vs lifted, thrown-not-held and
held-below-the-line counts, the share of Grasp2Vec triplets whose selection changes, and the
aperture histogram (:func:`graspdata.sensing.sensing_agreement`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from common.provenance import command_line, machine_description
from envs.world import GraspWorld
from graspdata.errors import DatasetError
from graspdata.sensing import describe_collection, sensing_agreement, write_sensing_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="dataset folders collected with the sensed bit")
    parser.add_argument("--out", type=Path, default=Path("docs/results/grasp-sensing"),
                        help="output path without suffix (writes .json and .md)")
    parser.add_argument("--collect-command", default="", help="the command that collected the data, for the record")
    parser.add_argument("--note", action="append", default=[], help="free-text note for the record (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    world = GraspWorld()
    closed, margin = world.closed_aperture, world.config.arm.grasp_margin
    world.close()
    try:
        report = {"agreement": sensing_agreement(args.folders, closed), "closed_aperture_m": closed, "margin_m": margin,
                  "collection": describe_collection(args.folders[0]), "collect_command": args.collect_command,
                  "report_command": command_line("runs.sensing_report", argv), "machine": machine_description(),
                  "load_average": [round(x, 2) for x in os.getloadavg()], "notes": args.note}
    except (DatasetError, ValueError) as error:
        sys.exit(f"sensing_report: error: {error}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_sensing_report(report, args.out.with_suffix(".json"), args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return report


if __name__ == "__main__":
    main()
