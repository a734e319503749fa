"""The privileged grasp's headroom (:mod:`benchmark.headroom`): best of K grasp variations per bin.

    python -m runs.grasp_headroom --objects seen unseen --trials 200 \\
        --json docs/results/grasp-headroom.json --markdown docs/results/grasp-headroom.md
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmark.headroom import VARIATIONS, markdown, measure, plot
from benchmark.tasks import trial_seed
from common.io import atomic_write_text
from common.provenance import code_version, command_line, machine_description
from envs.config import WorldSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", nargs="+", default=["seen", "unseen"], help="object sets (seen | unseen | ...)")
    parser.add_argument("--trials", type=int, default=200, help="bins per object set")
    parser.add_argument("--seed", type=int, default=0, help="benchmark seed: trial i resets with trial_seed(seed, i)")
    parser.add_argument("--variations", type=int, default=len(VARIATIONS),
                        help=f"use the first N of the {len(VARIATIONS)} variations")
    parser.add_argument("--num-objects", type=int, default=WorldSettings().num_objects)
    parser.add_argument("--image-size", type=int, default=WorldSettings().image_size)
    parser.add_argument("--json", type=Path, required=True, help="results (the .png plot is written beside it)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if not 1 <= args.variations <= len(VARIATIONS) or args.trials < 1:
        raise SystemExit(f"--variations must be in 1..{len(VARIATIONS)} and --trials >= 1")
    settings = WorldSettings(num_objects=args.num_objects, image_size=args.image_size)
    began = time.perf_counter()
    results = [measure(objects, args.trials, args.seed, VARIATIONS[:args.variations], settings,
                       progress=not args.no_progress) for objects in args.objects]
    report = {"command": command_line("runs.grasp_headroom", argv), "settings": asdict(settings),
              "first_trial_seed": trial_seed(args.seed, 0), "results": results,
              "wall_s": round(time.perf_counter() - began, 1), "machine": machine_description(),
              "code_version": code_version()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    plot(results, args.json.with_suffix(".png"))
    table = markdown(results)
    if args.markdown is not None:
        atomic_write_text(args.markdown, f"{table}\n\n`{report['command']}`: wall {report['wall_s']} s\n")
    print(table)
    return report


if __name__ == "__main__":
    main()
