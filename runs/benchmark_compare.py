"""Compare two benchmark rows trial for trial (same seeds): wins, losses and an exact McNemar test.

    python -m runs.benchmark_compare docs/results/val-patch-c-robust.json:patch-c-robust \
        docs/results/val-robust-scoring.json:qtopt-grasp2vec

Each argument is ``FILE:ROW`` (a ``runs.benchmark --json`` file and a row in it); the files must
share the trial settings (split, goals, task, world), so every shared seed is the same bin and goal.
Files from different CPU models are compared with a note on stderr: across models some near-tie choices differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.merge import load_part, row_cells
from benchmark.paired import compare, cpu_note, markdown
from common.io import atomic_write_text


def file_and_row(text: str) -> tuple[Path, str]:
    path, sep, row = text.rpartition(":")
    if not sep or not path or not row:
        raise argparse.ArgumentTypeError(f"expected FILE:ROW, got {text!r}")
    return Path(path), row


def row_table_main(name: str, description: str, render: Callable[[str, dict[str, list[dict[str, Any]]]], str],
                   argv: list[str] | None) -> str:
    """A command over one row of a benchmark file: ``FILE:ROW [--markdown PATH]``; ``render(row, cells)`` makes the
    text from the row's ``{cell: trials}``. Prints it, writes it when asked, and exits with an error naming the
    problem (a missing file or row, trials it cannot read)."""
    parser = argparse.ArgumentParser(prog=f"python -m runs.{name}", description=description)
    parser.add_argument("row", type=file_and_row, help="FILE:ROW")
    parser.add_argument("--markdown", type=Path, help="also write the text here")
    args = parser.parse_args(argv)
    path, row = args.row
    try:
        text = render(row, row_cells(load_part(path), row))
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"{name}: error: {error}")
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    return text


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m runs.benchmark_compare", description=__doc__.split("\n")[0])
    parser.add_argument("a", type=file_and_row, help="FILE:ROW of the candidate")
    parser.add_argument("b", type=file_and_row, help="FILE:ROW it is compared with")
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    args = parser.parse_args(argv)
    (path_a, row_a), (path_b, row_b) = args.a, args.b
    try:
        part_a, part_b = load_part(path_a), load_part(path_b)
        cells = compare(part_a, row_a, part_b, row_b)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark_compare: error: {error}")
    note = cpu_note(part_a, part_b)
    if note:
        print(note, file=sys.stderr)
    print(markdown(cells, row_a, row_b))
    result = [dataclasses.asdict(cell) for cell in cells]
    if args.json:
        atomic_write_text(args.json, json.dumps({"a": f"{path_a}:{row_a}", "b": f"{path_b}:{row_b}",
                                                 "cpu_note": note, "cells": result}, indent=1))
    return result


if __name__ == "__main__":
    main()
