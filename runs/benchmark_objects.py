"""Instance-task success by goal object for one benchmark row (benchmark.objects).

    python -m runs.benchmark_objects runs/out/benchmark/mine.json:mine --markdown runs/out/benchmark/mine-objects.md

The argument is ``FILE:ROW`` (a ``runs.benchmark --json`` file and a row in it). One table per cell (object
set and goal kind), hardest goal objects first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.merge import load_part, row_cells
from benchmark.objects import markdown, per_object
from common.io import atomic_write_text
from runs.benchmark_compare import file_and_row


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m runs.benchmark_objects", description=__doc__.split("\n")[0])
    parser.add_argument("row", type=file_and_row, help="FILE:ROW")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args(argv)
    path, row = args.row
    try:
        cells = row_cells(load_part(path), row)
        text = "\n".join(markdown(per_object(trials), f"{row}, {cell}") for cell, trials in cells.items())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark_objects: error: {error}")
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    return text


if __name__ == "__main__":
    main()
