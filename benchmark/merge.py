"""Merging benchmark JSON parts run with identical trial settings into one table.

The command is ``python -m runs.benchmark_merge``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.report import CellSummary, report_tables
from benchmark.tasks import ROWS, SPLITS

# Settings that make two runs' trials identical for the same row (``BenchmarkConfig`` fields).
SAME_TRIALS = ("objects", "goals", "task", "trials", "first_trial", "split", "seed", "goal_seed", "world")


def setting(config: dict[str, Any], key: str) -> Any:
    """``config[key]``; files written before the splits had names give ``split`` from their seed block, files
    written before trial blocks give ``first_trial`` 0, and files written before a trial could make more than one
    grasp give a world of ``max_grasps`` 1."""
    if key == "split" and key not in config:
        return next((name for name, seed in SPLITS.items() if seed == config["seed"]), f"seed {config['seed']}")
    if key == "first_trial":
        return config.get(key, 0)
    if key == "world":
        return {"max_grasps": 1, **config[key]}
    return config[key]


def load_part(path: Path) -> dict[str, Any]:
    """A ``runs.benchmark --json`` file; ``ValueError`` naming the file when it is not one."""
    try:
        part = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    missing = [key for key in ("config", "cells", "trials", "seeds", "rows", "command") if key not in part]
    if missing:
        raise ValueError(f"{path} is not a runs.benchmark --json file (no {', '.join(missing)})")
    return part


def row_cells(part: dict[str, Any], row: str) -> dict[str, list[dict[str, Any]]]:
    """``{cell: trials}`` of ``row`` in a loaded ``runs.benchmark --json`` file (cell: ``objects/goals/task``).

    Raises:
        ValueError: ``row`` is not in the file (the message lists the rows it holds).
    """
    cells = {key.split("/", 1)[1]: trials for key, trials in part["trials"].items() if key.split("/", 1)[0] == row}
    if not cells:
        rows = sorted({key.split("/", 1)[0] for key in part["trials"]})
        raise ValueError(f"row {row!r} is not in this benchmark file (rows: {', '.join(rows)})")
    return cells


def merge(parts: list[dict[str, Any]], names: list[str], replace: bool = False) -> dict[str, Any]:
    """One benchmark result from ``parts`` (loaded ``runs.benchmark --json`` files named ``names``).
    With ``replace``, a row measured again in a later part (a retrained policy) replaces the earlier
    measurement, and ``replaced`` records which file's row was dropped; without it a repeat is an error.

    Raises:
        ValueError: naming the setting or the row on which two parts disagree.
    """
    if not parts:
        raise ValueError("nothing to merge")
    first = parts[0]["config"]
    rows: dict[str, str] = {}  # row → the file whose measurement is kept
    replaced: list[dict[str, str]] = []
    for part, name in zip(parts, names, strict=True):
        for key in SAME_TRIALS:
            mine, theirs = setting(part["config"], key), setting(first, key)
            if mine != theirs:
                raise ValueError(f"{name}: {key} = {mine!r} differs from {names[0]}'s {theirs!r}; "
                                 "its trials are not comparable")
        for row in part["config"]["rows"]:
            if row in rows and not replace:
                raise ValueError(f"row {row!r} is in both {rows[row]} and {name} (--replace keeps the later one)")
            if row in rows:
                replaced.append({"row": row, "dropped": rows[row], "kept": name})
            rows[row] = name
    order = {name: index for index, name in enumerate(dict.fromkeys([*ROWS, *rows]))}  # the benchmark's order first
    kept = list(zip(parts, names, strict=True))
    cells = sorted((cell for part, name in kept for cell in part["cells"] if rows[cell["row"]] == name),
                   key=lambda cell: order[cell["row"]])
    summaries = [CellSummary(**cell) for cell in cells]
    table = report_tables(summaries)
    meta_keys = ("command", "code_version", "machine", "wall_s", "grasps")
    settings = {key: setting(first, key) for key in SAME_TRIALS}
    return {"config": {**settings, "rows": sorted(rows, key=order.__getitem__)},
            "seeds": parts[0]["seeds"], "rows": {k: v for part in parts for k, v in part["rows"].items()},
            "replaced": replaced,
            "parts": [{"file": name, **{key: part.get(key) for key in meta_keys}}
                      for part, name in zip(parts, names, strict=True)],
            "wall_s": sum(part["wall_s"] for part in parts), "grasps": sum(part["grasps"] for part in parts),
            "table": table, "cells": cells,
            "trials": {key: value for part, name in kept for key, value in part["trials"].items()
                       if rows[key.split("/")[0]] == name}}


def footer(merged: dict[str, Any]) -> str:
    """One line per part: its rows' command, wall time, code version and machine."""
    lines = []
    for part in merged["parts"]:
        version = part["code_version"]
        lines.append(f"- `{part['command']}`: {part['grasps']} trials, wall {part['wall_s']:.0f} s, code "
                     f"{version['git_commit'][:10]}{' (uncommitted changes)' if version['dirty'] else ''}, "
                     f"{part['machine']['description']}")
    config = merged["config"]
    return (f"{config['task']} task, {config['split']} split, {config['world']['num_objects']} objects per bin, "
            f"{config['trials']} trials per cell, trial seeds {merged['seeds']['first_trial_seed']:,}+ in every row; "
            "merged from:\n\n"
            + "\n".join(lines))
