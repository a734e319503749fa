"""Compare the robot's sensed grasp bit with the simulator's ground truth on collected attempts.

    python -m runs.collect --out runs/out/sensing/seen-s14014 --objects seen --grasps 2000 --seed 14014
    python -m runs.sensing_report runs/out/sensing/seen-s14014 --out docs/results/grasp-sensing

Writes ``OUT.json`` and ``OUT.md``: the confusion table of sensed vs lifted, thrown-not-held and
held-below-the-line counts, the share of Grasp2Vec triplets whose selection changes, and the
aperture histogram (:func:`graspdata.sensing.sensing_agreement`). ``--count-signals`` adds whether the
robot's senses tell a two-object lift from a one-object lift (:func:`graspdata.sensing.count_separation`);
``--grasp2vec CKPT`` adds the norm of φ_o(outcome) to those signals.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common.provenance import command_line, machine_description
from envs.world import GraspWorld
from graspdata.errors import DatasetError
from graspdata.sensing import (
    count_separation,
    describe_collection,
    lift_signals,
    sensing_agreement,
    write_sensing_report,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="dataset folders collected with the sensed bit")
    parser.add_argument("--out", type=Path, default=Path("docs/results/grasp-sensing"),
                        help="output path without suffix (writes .json and .md)")
    parser.add_argument("--collect-command", default="", help="the command that collected the data, for the record")
    parser.add_argument("--note", action="append", default=[], help="free-text note for the record (repeatable)")
    parser.add_argument("--count-signals", action="store_true",
                        help="also report how well sensed signals tell two-object lifts from one-object lifts")
    parser.add_argument("--grasp2vec", type=Path, default=None,
                        help="with --count-signals: a Grasp2Vec checkpoint; the norm of φ_o(outcome) joins the signals")
    return parser


def outcome_norm(checkpoint: Path) -> Callable[[np.ndarray], np.ndarray]:
    """|φ_o(image)| of the checkpoint's outcome encoder, (B, H, W, 3) uint8 → (B,), in chunks of 256."""
    import torch

    from embedding.checkpoint import load_checkpoint

    model = load_checkpoint(checkpoint)

    def score(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([model.embed_outcomes(images[i:i + 256]).norm(dim=1).numpy()
                                   for i in range(0, len(images), 256)])

    return score


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
        if args.count_signals:
            signals = lift_signals(args.folders, with_outcomes=args.grasp2vec is not None)
            score = outcome_norm(args.grasp2vec) if args.grasp2vec is not None else None
            report["count_separation"] = count_separation(signals, score, f"norm of φ_o(outcome), {args.grasp2vec}")
    except (DatasetError, ValueError) as error:
        sys.exit(f"sensing_report: error: {error}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_sensing_report(report, args.out.with_suffix(".json"), args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return report


if __name__ == "__main__":
    main()
