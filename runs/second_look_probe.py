"""How much does the wrist view just before closing tell about a grasp? (agents.second_look_probe)

    python -m runs.second_look_probe --train runs/out/hm-data/seen-qtopt runs/out/hm-data/seen-focus-320 \\
        --heldout runs/out/hm-data/seen-qtopt-310 runs/out/hm-data/seen-focus-321 \\
        --prior checkpoints/policies/qtopt-patch-indiscriminate-2k/checkpoint --workers 2 \\
        --out runs/out/second-look/probe

Replays every attempt up to its closing action (cached in --cache), trains a small classifier on the training
views with the sensed bit as label, and ranks the held-out attempts by it, by the prior and by both. Writes
report.json, the classifier (presence.safetensors/.json) and examples.png into --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agents.second_look_probe import SecondLookProbeConfig, plot_examples, run_probe
from common.io import atomic_write_text
from common.provenance import code_version, command_line, machine_description
from graspdata.errors import DatasetError


def build_parser() -> argparse.ArgumentParser:
    d = SecondLookProbeConfig(train=("a",), heldout=("b",))
    parser = argparse.ArgumentParser(prog="python -m runs.second_look_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="dataset folders the classifier trains on")
    parser.add_argument("--heldout", nargs="+", required=True, help="held-out dataset folders it is scored on")
    parser.add_argument("--prior", help="indiscriminate pose QT-Opt checkpoint to compare with and add to")
    parser.add_argument("--size", type=int, default=d.size, help="wrist view side, pixels")
    parser.add_argument("--workers", type=int, default=d.workers, help="processes replaying shards")
    parser.add_argument("--cache", default=d.cache, help="folder of the replayed views")
    parser.add_argument("--steps", type=int, default=d.steps, help="classifier training steps")
    parser.add_argument("--channels", type=int, nargs="+", default=list(d.channels),
                        help="the classifier's convolution widths, each halving the resolution")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json, the classifier, examples.png")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    try:
        config = SecondLookProbeConfig(train=tuple(args.train), heldout=tuple(args.heldout), prior=args.prior,
                                       size=args.size, workers=args.workers, cache=args.cache, steps=args.steps,
                                       channels=tuple(args.channels), seed=args.seed)
        report, classifier = run_probe(config)
    except (DatasetError, ValueError, FileNotFoundError) as error:
        sys.exit(f"second_look_probe: error: {error}")
    report.update(machine=machine_description(), code_version=code_version(),
                  command=command_line("runs.second_look_probe", argv))
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "report.json", json.dumps(report, indent=2) + "\n")
    classifier.save(args.out / "presence")
    plot_examples(config, classifier, config.heldout[0], args.out / "examples.png")
    print(json.dumps(report["heldout"], indent=1))
    return report


if __name__ == "__main__":
    main()
