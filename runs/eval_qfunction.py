"""Score an indiscriminate pose Q-function on held-out grasp attempts (agents.qtopt.quality).

    python -m runs.eval_qfunction --checkpoint checkpoints/policies/qtopt-patch-indiscriminate/checkpoint \\
        --data runs/out/hm-data/seen-qtopt-310 --json runs/out/eval/qfunction.json

The attempts must come from seeds the Q-function never trained on (and, for a patch-view network, be
collected with --heightmap). Several --checkpoint folders are scored as one ensemble: the geometric mean of
their success probabilities, as a product giving each the same weight ranks poses. Writes the JSON, a
Markdown table beside it (.md) and a reliability plot (.png).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from agents.loading import run_name
from agents.qtopt.learner import PoseQTOpt
from agents.qtopt.quality import markdown, plot_reliability, score_attempts, summarize
from common.io import atomic_write_text
from common.provenance import code_version, command_line, machine_description


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runs.eval_qfunction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, nargs="+", required=True,
                        help="pose QT-Opt checkpoint folder(s) (indiscriminate); several are scored as an ensemble")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="held-out dataset folder(s) (runs.collect)")
    parser.add_argument("--json", type=Path, required=True, help="results; .md and .png are written beside it")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    from embedding.dataset import EpisodeDataset

    started = time.monotonic()
    try:
        agents = [PoseQTOpt.load(folder)[0] for folder in args.checkpoint]
        dataset = EpisodeDataset([str(folder) for folder in args.data])
        scores = score_attempts(agents, dataset, agents[0].world.camera.image_size)
        summary = summarize(scores)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"eval_qfunction: error: {error}")
    name = " × ".join(run_name(folder) for folder in args.checkpoint)
    report = {"checkpoint": [str(folder) for folder in args.checkpoint],
              "data": [str(folder) for folder in args.data], **summary,
              "wall_s": round(time.monotonic() - started, 1), "machine": machine_description(),
              "code_version": code_version(), "command": command_line("runs.eval_qfunction", argv)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    atomic_write_text(args.json.with_suffix(".md"), markdown(summary, name))
    plot_reliability(summary, args.json.with_suffix(".png"), name)
    print(markdown(summary, name))
    return report


if __name__ == "__main__":
    main()
