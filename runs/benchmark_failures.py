"""Why a benchmark row's trials fail: nothing lifted split into closed on nothing, dropped in the hold and held low
(benchmark.failures).

    python -m runs.benchmark_failures runs/out/benchmark/mine.json:mine --markdown runs/out/benchmark/mine-failures.md

The argument is ``FILE:ROW`` (a ``runs.benchmark --json`` file and a row in it). One line per cell, shares in %.
"""

from __future__ import annotations

from benchmark.failures import failures, markdown
from runs.benchmark_compare import row_table_main


def main(argv: list[str] | None = None) -> str:
    return row_table_main("benchmark_failures", __doc__.split("\n")[0], lambda row, cells: markdown(
        [failures(cell, trials) for cell, trials in cells.items()], row), argv)


if __name__ == "__main__":
    main()
