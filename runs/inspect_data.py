"""Look at a grasp dataset: counts, success rate, per-object statistics and example triplets.

    python -m runs.inspect_data runs/out/data/seen            # writes runs/out/data/seen/inspect/
    python -m runs.inspect_data DIR --verify                   # also test every checksum and SHA-256

Writes ``summary.json``, ``triplets.png`` (pre / post / outcome of random successful grasps) and
``objects.png`` (how often each object was lifted) into ``--out`` (default ``DIR/inspect``). Object
names come from the ground-truth group: fine for a human look, never for training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common.io import atomic_write_text
from graspdata.errors import DatasetError
from graspdata.summary import DatasetSummary, example_triplets, save_object_histogram, save_triplet_grid, summarize


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="dataset folder")
    parser.add_argument("--out", type=Path, help="where to write the summary and figures (default FOLDER/inspect)")
    parser.add_argument("--examples", type=int, default=8, help="triplets in the example grid")
    parser.add_argument("--seed", type=int, default=0, help="which examples are drawn")
    parser.add_argument("--top", type=int, default=15, help="objects listed in the table")
    parser.add_argument("--verify", action="store_true", help="read every chunk (checksums) and compare SHA-256s")
    parser.add_argument("--skip-bad", action="store_true", help="report bad shards and go on without them")
    return parser


def format_table(summary: DatasetSummary, top: int) -> str:
    rate = summary.success_rate
    bad = f"  ({len(summary.bad_shards)} bad, skipped)" if summary.bad_shards else ""
    lines = [f"dataset     {summary.folder} ({summary.source}, {summary.image_size} px, objects {summary.object_set})",
             f"shards      {summary.shards}{bad}",
             f"attempts    {summary.attempts}",
             f"grasped     {summary.grasps_attempted} (the gripper closed)",
             f"successes   {summary.successes}" + (f"  ({rate:.1%} of attempts)" if rate is not None else ""),
             f"single      {summary.single_object_successes} successes lifted exactly one object",
             f"faults      {summary.faults}",
             f"objects     {len(summary.objects)} distinct in the bin, "
             f"{sum(1 for o in summary.objects.values() if o['lifted'])} lifted at least once"]
    ranked = sorted(summary.objects.items(), key=lambda kv: (-kv[1]["lifted"], kv[0]))[:top]
    if ranked:
        lines.append(f"\n{'object':>12} {'in bin':>7} {'lifted':>7} {'rate':>6}")
        for name, counts in ranked:
            lines.append(f"{name:>12} {counts['present']:>7} {counts['lifted']:>7} "
                         f"{counts['lifted'] / max(counts['present'], 1):>6.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    out = args.out or args.folder / "inspect"
    try:
        summary = summarize(args.folder, verify=args.verify, skip_bad=args.skip_bad)
        items, labels = example_triplets(args.folder, args.examples, args.seed, skip_bad=args.skip_bad)
    except DatasetError as error:
        sys.exit(f"inspect_data: error: {error}")
    out.mkdir(parents=True, exist_ok=True)
    data = summary.to_json()
    atomic_write_text(out / "summary.json", json.dumps(data, indent=2) + "\n")
    save_triplet_grid(items, labels, out / "triplets.png")
    save_object_histogram(summary, out / "objects.png")
    print(format_table(summary, args.top))
    print(f"\nwrote {out / 'summary.json'}, {out / 'triplets.png'}, {out / 'objects.png'}")
    return data


if __name__ == "__main__":
    main()
