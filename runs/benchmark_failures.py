"""Why a benchmark row's trials fail: nothing lifted split into closed on nothing, dropped in the hold and held low
(benchmark.failures).

    python -m runs.benchmark_failures runs/out/benchmark/mine.json:mine --markdown runs/out/benchmark/mine-failures.md

The argument is ``FILE:ROW`` (a ``runs.benchmark --json`` file and a row in it). One line per cell, shares in %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.failures import failures as count_failures
from benchmark.failures import markdown
from benchmark.merge import load_part, row_cells
from common.io import atomic_write_text
from runs.benchmark_compare import file_and_row


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m runs.benchmark_failures", description=__doc__.split("\n")[0])
    parser.add_argument("row", type=file_and_row, help="FILE:ROW")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    path, row = args.row
    try:
        text = markdown([count_failures(cell, trials) for cell, trials in row_cells(load_part(path), row).items()],
                        row)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark_failures: error: {error}")
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    return text


if __name__ == "__main__":
    main()
