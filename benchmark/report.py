"""Benchmark results: per-cell summaries, the Markdown table, the JSON file and the bar chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.tasks import Cell, TrialResult
from common.io import atomic_write_bytes, atomic_write_text
from common.stats import wilson_interval


@dataclass(frozen=True)
class CellSummary:
    """Numbers of one cell. Rates in [0, 1]; ``episode_s`` sums the cell's episode times over all workers,
    so ``grasps_per_s`` = trials / episode_s is one worker's throughput.

    Instance-task failures split into ``nothing_rate`` (nothing lifted, or no grasp), ``wrong_rate``
    (only non-targets lifted) and ``target_and_other_rate`` (a target came up together with another
    object); with ``success_rate`` they sum to 1. None for the indiscriminate task.

    ``target_lift_rate`` (with its Wilson interval ``target_lift_low``/``_high``): the target lifted, with or
    without other objects (success + target and another); beside the strict success rate, which stays the
    headline. None for the indiscriminate task."""

    row: str
    label: str
    objects: str
    goals: str
    task: str
    status: str
    trials: int = 0
    successes: int = 0
    success_rate: float | None = None
    success_low: float | None = None
    success_high: float | None = None
    any_lift_rate: float | None = None
    faults: int = 0
    nothing_rate: float | None = None
    wrong_rate: float | None = None
    target_and_other_rate: float | None = None
    target_lift_rate: float | None = None
    target_lift_low: float | None = None
    target_lift_high: float | None = None
    episode_s: float = 0.0
    grasps_per_s: float | None = None
    paper: float | None = None


def summarize(cell: Cell, status: str, results: list[TrialResult]) -> CellSummary:
    """Aggregate a cell's trials (none when ``status`` says it did not run)."""
    paper = None
    if cell.row.paper is not None and cell.goals == "single" and cell.task == "instance":
        paper = dict(zip(("seen", "unseen"), cell.row.paper, strict=True)).get(cell.objects)
    base = dict(row=cell.row.name, label=cell.row.label, objects=cell.objects, goals=cell.goals, task=cell.task,
                status=status, paper=paper)
    if not results:
        return CellSummary(**base)
    successes = sum(r.success for r in results)
    low, high = wilson_interval(successes, len(results))
    seconds = sum(r.seconds for r in results)
    breakdown: dict[str, float] = {}
    if cell.task == "instance":
        n = len(results)
        target = sum(bool(r.target_lifted) for r in results)
        target_low, target_high = wilson_interval(target, n)
        breakdown = dict(nothing_rate=sum(r.lifted == 0 for r in results) / n,
                         wrong_rate=sum(r.lifted > 0 and not r.target_lifted for r in results) / n,
                         target_and_other_rate=sum(bool(r.target_lifted) and not r.success for r in results) / n,
                         target_lift_rate=target / n, target_lift_low=target_low, target_lift_high=target_high)
    return CellSummary(**base, **breakdown, trials=len(results), successes=successes,
                       success_rate=successes / len(results),
                       success_low=low, success_high=high,
                       any_lift_rate=sum(r.lifted > 0 for r in results) / len(results),
                       faults=sum(r.fault is not None for r in results), episode_s=seconds,
                       grasps_per_s=len(results) / seconds if seconds > 0 else None)


def _column(summary: CellSummary) -> str:
    suffix = "" if summary.goals == "single" else f" ({summary.goals})"
    return f"{summary.objects}{suffix}"


def format_cell(summary: CellSummary) -> str:
    """``62.5 % [55.6, 68.9] (n=200)`` or the status text."""
    if summary.success_rate is None:
        return summary.status.split(" (")[0]
    return (f"{100 * summary.success_rate:.1f} % [{100 * summary.success_low:.1f}, "
            f"{100 * summary.success_high:.1f}] (n={summary.trials})")


def target_lift_column(summaries: list[CellSummary], columns: list[str]) -> str | None:
    """Header of the "target lifted, with or without others" column, or None when no cell has the rate."""
    if all(s.target_lift_rate is None for s in summaries):
        return None
    return f"target lifted, ± others ({' / '.join(columns)})"


def _target_lift_values(cells: dict[str, CellSummary], columns: list[str]) -> str:
    values = [cells[c].target_lift_rate if c in cells else None for c in columns]
    return " / ".join("–" if v is None else f"{100 * v:.1f} %" for v in values)


def markdown_table(summaries: list[CellSummary], timing: bool = True, format_value=None) -> str:
    """Rows × (object set, goal kind) success rates with Wilson 95 % intervals, the target lifted with
    or without others (instance task), the paper's numbers and, with ``timing``, each row's throughput
    (grasps/s per worker) and episode time. ``format_value`` formats a cell (default :func:`format_cell`)."""
    format_value = format_value or format_cell
    rows = list(dict.fromkeys(s.row for s in summaries))
    columns = list(dict.fromkeys(_column(s) for s in summaries))
    by_key = {(s.row, _column(s)): s for s in summaries}
    show_paper = any(s.paper is not None for s in summaries)
    target_header = target_lift_column(summaries, columns)
    header = (["policy", *columns] + ([target_header] if target_header else [])
              + (["paper (seen / unseen)"] if show_paper else []) + (["grasps/s", "episode time"] if timing else []))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [by_key[(row, c)] for c in columns if (row, c) in by_key]
        label = cells[0].label
        line = [label] + [format_value(by_key[(row, c)]) if (row, c) in by_key else "" for c in columns]
        if target_header:
            line.append(_target_lift_values({c: by_key[(row, c)] for c in columns if (row, c) in by_key}, columns))
        if show_paper:
            paper = {c.objects: c.paper for c in cells if c.paper is not None}
            line.append(" / ".join(f"{paper[o]:.1f} %" if o in paper else "–" for o in ("seen", "unseen")))
        if timing:
            ran = [c for c in cells if c.trials]
            seconds = sum(c.episode_s for c in ran)
            trials = sum(c.trials for c in ran)
            line += [f"{trials / seconds:.2f}" if seconds > 0 else "–", f"{seconds:.0f} s" if ran else "–"]
        lines.append("| " + " | ".join(line) + " |")
    notes = dict.fromkeys(f"- {s.label}: {s.status}" for s in summaries if s.status != "ok")
    return "\n".join(lines + ([""] + list(notes) if notes else []))


def failure_table(summaries: list[CellSummary]) -> str:
    """Where the instance task's trials end, per row and column, in %: success, nothing lifted, only
    wrong objects, the target with another object. Empty when no instance cell ran."""
    ran = [s for s in summaries if s.trials and s.nothing_rate is not None]
    if not ran:
        return ""
    lines = ["| policy | objects | success | nothing lifted | wrong object | target + another |", "|" + "---|" * 6]
    for s in ran:
        rates = (s.success_rate, s.nothing_rate, s.wrong_rate, s.target_and_other_rate)
        lines.append(f"| {s.label} | {_column(s)} | " + " | ".join(f"{100 * r:.1f}" for r in rates) + " |")
    return "\n".join(lines)


def report_tables(summaries: list[CellSummary]) -> str:
    """The headline table, with :func:`failure_table` under it when instance cells ran."""
    table = markdown_table(summaries)
    if failures := failure_table(summaries):
        table += "\n\nWhere the trials end (% of trials):\n\n" + failures
    return table


def write_json(path: Path, summaries: list[CellSummary], meta: dict[str, Any],
               trials: dict[str, list[TrialResult]]) -> None:
    """``path``: meta (config, seeds, code version, machine, wall time), cells, and every trial's outcome."""
    data = {**meta, "cells": [asdict(s) for s in summaries],
            "trials": {key: [asdict(r) for r in results] for key, results in trials.items()}}
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def bar_chart(summaries: list[CellSummary], path: Path, title: str) -> None:
    """Grouped bars (rows × columns) of success rate with Wilson 95 % error bars, saved as PNG."""
    import io
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(s.row for s in summaries))
    columns = list(dict.fromkeys(_column(s) for s in summaries))
    by_key = {(s.row, _column(s)): s for s in summaries}
    labels = [next(s.label for s in summaries if s.row == row) for row in rows]
    width = 0.8 / max(len(columns), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(rows) + 2), 4.2))
    x = np.arange(len(rows))
    for j, column in enumerate(columns):
        cells = [by_key.get((row, column)) for row in rows]
        rate = np.array([c.success_rate if c and c.success_rate is not None else np.nan for c in cells])
        low = np.array([c.success_low if c and c.success_low is not None else np.nan for c in cells])
        high = np.array([c.success_high if c and c.success_high is not None else np.nan for c in cells])
        errors = np.nan_to_num(np.vstack([rate - low, high - rate]))
        ax.bar(x + (j - (len(columns) - 1) / 2) * width, np.nan_to_num(rate), width, yerr=errors, capsize=3,
               label=column)
        for i, cell in enumerate(cells):
            if cell is not None and cell.success_rate is None:
                ax.text(x[i] + (j - (len(columns) - 1) / 2) * width, 0.02, "n/a", ha="center", fontsize=7,
                        rotation=90)
    ax.set_xticks(x, [textwrap.fill(label, 20) for label in labels], fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("success rate (Wilson 95 % interval)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
