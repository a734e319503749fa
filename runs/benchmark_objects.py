"""Instance-task success by goal object for one benchmark row (benchmark.objects).

    python -m runs.benchmark_objects runs/out/benchmark/mine.json:mine --markdown runs/out/benchmark/mine-objects.md

The argument is ``FILE:ROW`` (a ``runs.benchmark --json`` file and a row in it). One table per cell (object
set and goal kind), hardest goal objects first.
"""

from __future__ import annotations

from benchmark.objects import markdown, per_object
from runs.benchmark_compare import row_table_main


def main(argv: list[str] | None = None) -> str:
    return row_table_main("benchmark_objects", __doc__.split("\n")[0], lambda row, cells: "\n".join(
        markdown(per_object(trials), f"{row}, {cell}") for cell, trials in cells.items()), argv)


if __name__ == "__main__":
    main()
