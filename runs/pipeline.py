"""The main job, end to end: collect → train Grasp2Vec → calibrate its reward → train a policy on it → benchmark.

    python -m runs.pipeline                          # default preset, about 15 minutes on 2 cores
    python -m runs.pipeline --preset tiny --out runs/out/pipeline-tiny
    python -m runs.pipeline --out runs/out/pipeline --resume   # after a kill: finished stages are skipped

Outputs under ``--out``: ``data/``, ``grasp2vec/`` (with its calibration), ``policy/``, ``benchmark/``
(table, JSON, chart), ``stages/`` and ``pipeline.json`` (provenance). The stages: :mod:`pipeline.run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from common.provenance import command_line
from pipeline.presets import PRESETS
from pipeline.run import STAGES, PipelineError, run_pipeline


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runs.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--out", type=Path, help="run folder (default runs/out/pipeline-PRESET)")
    parser.add_argument("--resume", action="store_true", help="skip finished stages, continue the unfinished one")
    parser.add_argument("--stop-after", choices=STAGES, help="stop after this stage (--resume continues)")
    parser.add_argument("--wandb-mode", choices=["offline", "online", "disabled"],
                        help="wandb mode of every stage (default: $WANDB_MODE, else offline)")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    wandb_mode = args.wandb_mode or os.environ.get("WANDB_MODE", "offline")
    os.environ["WANDB_MODE"] = wandb_mode  # policy training reads it
    try:
        return run_pipeline(args.preset, args.out or Path("runs/out") / f"pipeline-{args.preset}", args.resume,
                            args.stop_after, wandb_mode, command_line("runs.pipeline", argv))
    except PipelineError as error:
        sys.exit(f"pipeline: {error}")


if __name__ == "__main__":
    main()
