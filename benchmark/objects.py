"""Instance-task results broken down by goal object: which objects a policy grasps, fails on or confuses.

Each trial of a ``runs.benchmark --json`` file records its goal object (``TrialResult.target``) and the
objects it lifted. Grouped by goal object, a row's trials give per-object success and the failure split
(nothing lifted, another object instead, the goal with another), plus the object most often lifted in its
place. The command is ``python -m runs.benchmark_objects``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObjectRow:
    """One goal object's trials in one cell; rates in [0, 1] and summing to 1."""

    target: str
    trials: int
    success_rate: float
    nothing_rate: float
    wrong_rate: float
    target_and_other_rate: float
    taken_instead: str | None  # the object most often lifted without the goal, if any


def per_object(trials: list[dict[str, Any]]) -> list[ObjectRow]:
    """Rows for the goal objects of one cell's trials (JSON dicts), hardest first (lowest success, then name).

    Raises:
        ValueError: the trials carry no goal object (the indiscriminate task, or a file written before
            trials recorded their target).
    """
    if not trials or any(trial.get("target") is None for trial in trials):
        raise ValueError("these trials do not name their goal object: rerun the benchmark (instance task) "
                         "with this version to record it")
    groups: dict[str, list[dict[str, Any]]] = {}
    for trial in trials:
        groups.setdefault(trial["target"], []).append(trial)
    rows = []
    for target, group in groups.items():
        n = len(group)
        wrong = [t for t in group if t["lifted"] > 0 and not t["target_lifted"]]
        instead = Counter(name for t in wrong for name in t.get("lifted_objects", ()))
        rows.append(ObjectRow(
            target=target, trials=n, success_rate=sum(bool(t["success"]) for t in group) / n,
            nothing_rate=sum(t["lifted"] == 0 for t in group) / n, wrong_rate=len(wrong) / n,
            target_and_other_rate=sum(bool(t["target_lifted"]) and not t["success"] for t in group) / n,
            taken_instead=instead.most_common(1)[0][0] if instead else None))
    return sorted(rows, key=lambda row: (row.success_rate, row.target))


def markdown(rows: list[ObjectRow], title: str) -> str:
    """A Markdown table of :func:`per_object` rows under a ``title`` line."""
    def percent(value: float) -> str:
        return f"{100 * value:.0f} %"

    lines = [f"**{title}**", "", "| goal object | trials | success | nothing lifted | another object | goal + another "
             "| most often lifted instead |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.target} | {r.trials} | {percent(r.success_rate)} | {percent(r.nothing_rate)} | "
              f"{percent(r.wrong_rate)} | {percent(r.target_and_other_rate)} | {r.taken_instead or '–'} |"
              for r in rows]
    return "\n".join(lines) + "\n"
