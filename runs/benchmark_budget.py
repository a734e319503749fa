"""Success against the grasp budget, from one benchmark run at the largest budget (benchmark.budget).

    python -m runs.benchmark --max-grasps 3 --rows qtopt-grasp2vec-regrasp-foreign --json runs/out/benchmark/b3.json
    python -m runs.benchmark_budget runs/out/benchmark/b3.json:qtopt-grasp2vec-regrasp-foreign

The argument is ``FILE:ROW`` (a ``runs.benchmark --json`` file and a row in it). One line per cell and budget,
shares in %.
"""

from __future__ import annotations

from benchmark.budget import budget_curve, markdown
from runs.benchmark_compare import row_table_main


def main(argv: list[str] | None = None) -> str:
    return row_table_main("benchmark_budget", __doc__.split("\n")[0], lambda row, cells: markdown(
        {cell: budget_curve(trials) for cell, trials in cells.items()}, row), argv)


if __name__ == "__main__":
    main()
