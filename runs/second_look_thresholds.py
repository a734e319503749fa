"""How well a second look tells its base policy's failing grasps, from a benchmark run (benchmark.looks).

    python -m runs.add_second_look --base checkpoints/policies/qtopt-grasp2vec-product/checkpoint \\
        --view runs/out/second-look/probe/presence \\
        --prior checkpoints/policies/qtopt-patch-indiscriminate-2k/checkpoint --threshold -100 \\
        --out runs/out/candidates/prod-look-never
    python -m runs.benchmark --split validation --rows never --checkpoint never=runs/out/candidates/prod-look-never \\
        --trials 200 --objects seen unseen --json runs/out/benchmark/never.json
    python -m runs.second_look_thresholds runs/out/benchmark/never.json:never --out runs/out/benchmark/never-looks

The argument is ``FILE:ROW``: a second-look row whose look never gave a grasp up. Writes ``looks.json``,
``looks.md`` and ``looks.png`` (per cell, failures and successes the look would give up at each threshold).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from benchmark.looks import CellLooks, look_rankings, markdown
from benchmark.merge import load_part, row_cells
from common.io import atomic_write_text
from common.provenance import command_line
from runs.benchmark_compare import file_and_row


def plot(cells: list[CellLooks], row: str, path: Path) -> None:
    """Failures and successes given up against the threshold, one panel per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(cells), figsize=(5 * len(cells), 3.6), squeeze=False)
    for axis, cell in zip(axes[0], cells, strict=True):
        thresholds = [r.threshold for r in cell.thresholds]
        axis.plot(thresholds, [r.failures for r in cell.thresholds], "o-", color="tab:green",
                  label="failures given up (a retry may mend)")
        axis.plot(thresholds, [r.successes for r in cell.thresholds], "o-", color="tab:red",
                  label="successes given up (put at risk)")
        axis.set_xlabel("threshold (log-odds)")
        axis.set_ylabel(f"trials of {cell.looked}")
        auc = "–" if cell.auc_success is None else f"{cell.auc_success:.3f}"
        axis.set_title(f"{cell.cell}: ROC-AUC (success) {auc}", fontsize=9)
        axis.legend(fontsize=7)
    figure.suptitle(f"{row}: what the second look would give up")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv: list[str] | None = None) -> list[CellLooks]:
    parser = argparse.ArgumentParser(prog="python -m runs.second_look_thresholds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("row", type=file_and_row, help="FILE:ROW, a runs.benchmark --json file and a second-look row")
    parser.add_argument("--out", type=Path, required=True, help="folder for looks.json, looks.md and looks.png")
    args = parser.parse_args(argv)
    path, row = args.row
    try:
        part = load_part(path)
        cells = [look_rankings(cell, trials) for cell, trials in row_cells(part, row).items()]
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"second_look_thresholds: error: {error}")
    text = markdown(cells, row)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "looks.md", text)
    atomic_write_text(args.out / "looks.json", json.dumps({
        "command": command_line("runs.second_look_thresholds", argv), "source": str(path), "row": row,
        "benchmark_command": part["command"], "code_version": part.get("code_version"),
        "cells": [dataclasses.asdict(c) for c in cells]}, indent=1))
    plot(cells, row, args.out / "looks.png")
    return cells


if __name__ == "__main__":
    main()
