"""Instance-grasping benchmark: success of each policy on seen and unseen objects.

    python -m runs.benchmark                                    # headline table, 200 trials per cell
    python -m runs.benchmark --quick --json runs/out/benchmark/quick.json
    python -m runs.benchmark --rows random privileged --task indiscriminate --trials 200
    python -m runs.benchmark --objects seen unseen 'my_objects/*.urdf' --checkpoint mine=runs/out/policy/run
    python -m runs.benchmark --goals single composite --ray-address local

Protocol (docs/benchmark.md): N = 5 objects per bin, trial seeds disjoint from training seeds, goal
images from a goal bank of grasps taken in episodes of their own, success = the target and only it
lifted (ground truth, read only to score). Rows whose checkpoint does not exist are reported as not
available. Writes the Markdown table (stdout and ``--markdown``), JSON (``--json``) and a PNG bar
chart beside the JSON. The library is :mod:`benchmark`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.report import CellSummary
from benchmark.runner import (
    DEFAULT_ROWS,
    HEADLINE_TRIALS,
    QUICK_TRIALS,
    BenchmarkConfig,
    ReportFiles,
    parse_checkpoints,
    run_and_report,
)
from benchmark.tasks import (
    BENCHMARK_SEED_OFFSET,
    GOAL_KINDS,
    ROWS,
    TASKS,
    TRIALS_PER_SEED,
    WorldSettings,
)
from common.provenance import command_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runs.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", help=f"rows to run (default: all); known: {', '.join(ROWS)} "
                        "and any NAME given with --checkpoint")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="evaluate the policy in PATH (a runs.train_policy folder or its checkpoint/) as row NAME")
    parser.add_argument("--objects", nargs="+", default=["seen", "unseen"],
                        help="object sets, one column each: seen, unseen, a folder, a glob or a URDF")
    parser.add_argument("--goals", nargs="+", choices=GOAL_KINDS, default=["single"],
                        help="single goals and/or composite goals (two targets, either counts)")
    parser.add_argument("--task", choices=TASKS, default="instance",
                        help="instance: lift the goal object only; indiscriminate: lift any object")
    parser.add_argument("--trials", type=int,
                        help=f"trials per cell (default {HEADLINE_TRIALS}, --quick {QUICK_TRIALS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_TRIALS} trials per cell (not for headline numbers)")
    parser.add_argument("--seed", type=int, default=0, help=f"trial seeds are {BENCHMARK_SEED_OFFSET:,} + "
                        f"SEED × {TRIALS_PER_SEED:,} + trial")
    parser.add_argument("--num-objects", type=int, default=WorldSettings().num_objects, help="objects per bin")
    parser.add_argument("--image-size", type=int, default=WorldSettings().image_size,
                        help="scripted rows' image size (learned rows use their training size)")
    parser.add_argument("--max-steps", type=int, default=WorldSettings().max_steps, help="scripted rows' step limit")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (spawned, 1 torch thread each)")
    parser.add_argument("--ray-address", help="run the trials on Ray: 'local' (start one here), 'auto' or an address")
    parser.add_argument("--json", type=Path, help="write results here (and the bar chart beside it as .png)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> list[CellSummary]:
    args = build_parser().parse_args(argv)
    try:
        rows = parse_checkpoints(args.checkpoint)
        extra = [item.partition("=")[0] for item in args.checkpoint if item.partition("=")[0] not in ROWS]
        config = BenchmarkConfig(
            rows=tuple(args.rows or (*DEFAULT_ROWS, *extra)), objects=tuple(args.objects), goals=tuple(args.goals),
            task=args.task, trials=args.trials or (QUICK_TRIALS if args.quick else HEADLINE_TRIALS), seed=args.seed,
            world=WorldSettings(args.num_objects, args.image_size, args.max_steps), workers=args.workers)
        return run_and_report(config, rows, ReportFiles(args.json, args.markdown), args.ray_address,
                              progress=not args.no_progress, command=command_line("runs.benchmark", argv))
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark: error: {error}")


if __name__ == "__main__":
    main()
