"""Paired comparison of two benchmark rows on the same trial seeds: wins, losses and an exact test.

Two rows measured with the same trial settings (:data:`benchmark.merge.SAME_TRIALS`) face the same
bins and goals trial for trial, so their difference is read from the discordant trials: those one
row succeeded and the other failed. The exact two-sided McNemar test (a sign test on those trials)
says how often a difference at least this lopsided would come from two equal policies.
The command is ``python -m runs.benchmark_compare``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

from benchmark.merge import SAME_TRIALS, row_cells, setting
from common.provenance import recorded_cpu_model


@dataclass(frozen=True)
class PairedCell:
    """One cell (object set / goal kind / task) of row ``a`` against row ``b``."""

    cell: str
    trials: int  # trials both rows ran (same seeds)
    a_successes: int
    b_successes: int
    wins: int  # trials a succeeded and b failed
    losses: int  # trials b succeeded and a failed
    p_value: float


def mcnemar_exact(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value: P(a split at least as lopsided | n = wins + losses, p = ½)."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must be >= 0, got {wins}, {losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2.0 * tail)


def row_trials(part: dict[str, Any], row: str) -> dict[str, dict[int, bool]]:
    """``{cell: {trial seed: success}}`` of ``row`` in a loaded ``runs.benchmark --json`` file."""
    return {cell: {int(trial["seed"]): bool(trial["success"]) for trial in trials}
            for cell, trials in row_cells(part, row).items()}


def compare(part_a: dict[str, Any], row_a: str, part_b: dict[str, Any], row_b: str) -> list[PairedCell]:
    """Row ``row_a`` of ``part_a`` against ``row_b`` of ``part_b``, cell by cell, on their shared seeds.

    Raises:
        ValueError: the two files were run with other trial settings, a row is missing, or no
            cell shares a trial seed.
    """
    differ = [key for key in SAME_TRIALS if key not in ("objects", "trials", "first_trial")  # paired by seed below
              and setting(part_a["config"], key) != setting(part_b["config"], key)]
    if differ:
        raise ValueError(f"the two benchmark files differ in {', '.join(differ)}: their trials are not paired")
    a, b = row_trials(part_a, row_a), row_trials(part_b, row_b)
    result = []
    for cell in a:
        seeds = sorted(set(a[cell]) & set(b.get(cell, {})))
        if not seeds:
            continue
        wins = sum(a[cell][s] and not b[cell][s] for s in seeds)
        losses = sum(b[cell][s] and not a[cell][s] for s in seeds)
        result.append(PairedCell(cell, len(seeds), sum(a[cell][s] for s in seeds), sum(b[cell][s] for s in seeds),
                                 wins, losses, mcnemar_exact(wins, losses)))
    if not result:
        raise ValueError(f"{row_a} and {row_b} share no trial seed in any cell")
    return result


def cpu_models(part: dict[str, Any]) -> set[str]:
    """The CPU models a loaded benchmark file's trials ran on (a merged file's parts each name theirs)."""
    records = [p.get("machine") for p in part.get("parts", [])] or [part.get("machine")]
    return {model for record in records if isinstance(record, dict) and (model := recorded_cpu_model(record))}


def cpu_note(part_a: dict[str, Any], part_b: dict[str, Any]) -> str | None:
    """A note when the two files ran on different CPU models, else None. The same code gives the same trials on one
    model; on another, floating-point rounding flips some near-tie choices (5 of 200 product outcomes a cell between
    two models, session 22), so the pairing is weaker: the test stays valid but has less power."""
    a, b = cpu_models(part_a), cpu_models(part_b)
    if not a or not b or a == b:
        return None
    return (f"note: the two files ran on different CPU models ({', '.join(sorted(a))} / {', '.join(sorted(b))}); "
            "even the same policy differs in some trials across models, so the pairing is weaker (pair runs from "
            "one model where you can)")


def markdown(cells: list[PairedCell], row_a: str, row_b: str) -> str:
    """A Markdown table of :func:`compare`'s cells."""
    lines = [f"| cell | trials | {row_a} | {row_b} | {row_a} wins / losses | exact McNemar p |",
             "|---|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {c.cell} | {c.trials} | {100 * c.a_successes / c.trials:.1f} % | "
                     f"{100 * c.b_successes / c.trials:.1f} % | {c.wins} / {c.losses} | {c.p_value:.2f} |")
    return "\n".join(lines)
