"""Instance-grasping benchmark: success of each policy on seen and unseen objects.

    python -m runs.benchmark                                    # headline table (test split), 200 trials per cell
    python -m runs.benchmark --split validation --rows qtopt-grasp2vec --checkpoint cand=runs/out/policy/cand
    python -m runs.benchmark --quick --json runs/out/benchmark/quick.json
    python -m runs.benchmark --rows random privileged --task indiscriminate --trials 200
    python -m runs.benchmark --objects seen unseen 'my_objects/*.urdf' --checkpoint mine=runs/out/policy/run
    python -m runs.benchmark --json runs/out/b.json --partial runs/out/b.partial.jsonl   # rerun after a kill resumes

Protocol (docs/benchmark.md, docs/design.md): one world per table, test and validation splits of disjoint
trial seeds, goal images from a goal bank, success = the target and only it lifted and still held. The
library is :mod:`benchmark` (:func:`benchmark.publish.run_and_publish`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.publish import Outputs, run_and_publish
from benchmark.report import CellSummary
from benchmark.runner import DEFAULT_ROWS, HEADLINE_TRIALS, QUICK_TRIALS, BenchmarkConfig, parse_checkpoints
from benchmark.tasks import BENCHMARK_SEED_OFFSET, GOAL_KINDS, ROWS, SPLITS, TASKS, TRIALS_PER_SEED
from envs.config import WorldSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runs.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--rows", nargs="+", help=f"rows to run (default: all but those that put lifts back); known: "
        f"{', '.join(ROWS)} and any --checkpoint NAME")
    add("--checkpoint", action="append", default=[], metavar="NAME=PATH",
        help="evaluate the policy in PATH (a runs.train_policy folder or its checkpoint/) as row NAME")
    add("--objects", nargs="+", default=["seen", "unseen"],
        help="object sets, one column each: seen, unseen, a folder, a glob or a URDF")
    add("--goals", nargs="+", choices=GOAL_KINDS, default=["single"],
        help="single goals and/or composite goals (two targets, either counts)")
    add("--task", choices=TASKS, default="instance",
        help="instance: lift the goal object only; indiscriminate: lift any object")
    add("--trials", type=int, help=f"trials per cell (default {HEADLINE_TRIALS}, --quick {QUICK_TRIALS})")
    add("--first-trial", type=int, default=0,
        help="run the split's trials from this index on (default 0): a later block confirms a candidate chosen on "
        "the first one without reusing its trials")
    add("--quick", action="store_true", help=f"{QUICK_TRIALS} trials per cell (not for headline numbers)")
    add("--split", choices=tuple(SPLITS), help=f"test (headline figures) or validation (model selection); trial "
        f"seeds {BENCHMARK_SEED_OFFSET:,} + S × {TRIALS_PER_SEED:,} + trial with S = {SPLITS} (default test)")
    add("--seed", type=int, choices=tuple(SPLITS.values()), help="older name of the split: 0 = test, 1 = validation")
    world = WorldSettings()
    add("--num-objects", type=int, default=world.num_objects, help="objects per bin, every row")
    add("--image-size", type=int, default=world.image_size, help="scripted rows' image size (learned rows: their own)")
    add("--max-steps", type=int, default=world.max_steps, help="step limit, every row (learned rows must match it)")
    add("--hold-s", type=float, default=world.hold_s,
        help="seconds an object must stay above the line after the lift to count (0: the lift's end alone)")
    add("--max-grasps", type=int, default=world.max_grasps, help="grasps a trial may make: after a lift with "
        "grasps to spare a policy keeps what it holds or puts it back (rows that cannot tell keep every lift)")
    add("--workers", type=int, default=2, help="worker processes (spawned, 1 torch thread each)")
    add("--ray-address", help="run the trials on Ray: 'local' (start one here), 'auto' or an address")
    add("--json", type=Path, help="write results here (and the bar chart beside it as .png)")
    add("--markdown", type=Path, help="also write the Markdown table here")
    add("--readme", type=Path, help="replace the headline table of this README (between its markers)")
    add("--partial", type=Path, help="resume file: finished chunks are appended here and skipped on a rerun; "
        "deleted when the outputs are written")
    add("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def split_of(args: argparse.Namespace) -> str:
    """``--split``, or the split ``--seed`` names; both given must agree."""
    from_seed = next((name for name, seed in SPLITS.items() if seed == args.seed), None)
    if args.split and from_seed and args.split != from_seed:
        raise ValueError(f"--split {args.split} and --seed {args.seed} (= {from_seed}) name different splits")
    return args.split or from_seed or "test"


def main(argv: list[str] | None = None) -> list[CellSummary]:
    from common.provenance import command_line

    args = build_parser().parse_args(argv)
    try:
        rows = parse_checkpoints(args.checkpoint)
        extra = [item.partition("=")[0] for item in args.checkpoint if item.partition("=")[0] not in ROWS]
        config = BenchmarkConfig(
            rows=tuple(args.rows or (*DEFAULT_ROWS, *extra)), objects=tuple(args.objects), goals=tuple(args.goals),
            task=args.task, trials=args.trials or (QUICK_TRIALS if args.quick else HEADLINE_TRIALS),
            first_trial=args.first_trial,
            split=split_of(args), workers=args.workers,
            world=WorldSettings(args.num_objects, args.image_size, args.max_steps, hold_s=args.hold_s,
                                max_grasps=args.max_grasps))
        outputs = Outputs(args.json, args.markdown, args.readme, args.partial)
        return run_and_publish(config, rows, outputs, command_line("runs.benchmark", argv), args.ray_address,
                               progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark: error: {error}")


if __name__ == "__main__":
    main()
