"""Merge benchmark runs of different rows into one table.

    python -m runs.benchmark_merge docs/results/part-a.json docs/results/part-b.json \
        --json docs/results/headline.json --markdown docs/results/headline.md

Rows benchmarked by separate ``runs.benchmark`` calls (as each policy becomes ready, or on
different machines) are comparable only when every trial setting is the same: object sets, goal
kinds, task, trials per cell, seed, goal-bank seed and the scripted rows' world. This refuses parts
that differ in any of them, or that share a row, and writes the merged cells and trials with each
part's command, code version, machine and wall time under ``parts``; rows in the benchmark's order.
``--replace`` lets a later part re-measure a row of an earlier one (recorded under ``replaced``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmark.merge import footer, load_part, merge
from benchmark.publish import readme_table, update_readme
from benchmark.report import CellSummary, bar_chart
from common.io import atomic_write_text


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m runs.benchmark_merge", description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="+", type=Path, help="runs.benchmark --json files")
    parser.add_argument("--json", type=Path, required=True, help="merged result (and its bar chart beside it as .png)")
    parser.add_argument("--markdown", type=Path, help="also write the merged Markdown table here")
    parser.add_argument("--readme", type=Path, help="also replace the headline table of this README (single goals)")
    parser.add_argument("--replace", action="store_true",
                        help="a row in a later part replaces the same row of an earlier part (a re-measured policy)")
    args = parser.parse_args(argv)
    try:
        merged = merge([load_part(path) for path in args.parts], [str(path) for path in args.parts], args.replace)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark_merge: error: {error}")
    text = merged["table"] + "\n\n" + footer(merged)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(merged, indent=1) + "\n")
    bar_chart([CellSummary(**cell) for cell in merged["cells"]], args.json.with_suffix(".png"),
              f"{merged['config']['task']} grasping, {merged['config']['trials']} trials/cell (merged)")
    if args.markdown:
        atomic_write_text(args.markdown, text + "\n")
    if args.readme:
        update_readme(args.readme, readme_table([CellSummary(**cell) for cell in merged["cells"]]) + "\n\n"
                      + footer(merged))
    return merged


if __name__ == "__main__":
    main()
