"""Success against the grasp budget, read from one benchmark run at the largest budget.

In a world of more than one grasp a trial (``runs.benchmark --max-grasps K``) a policy is asked after every lift but
the last whether to keep what it holds (:mod:`agents.regrasp`). Its first k - 1 lifts do not depend on the budget
K >= k, so one run at budget K holds each trial's outcome at every budget k <= K: the k-th lift (a lift put back is
recorded with what it held, ``released_objects``) or the trial's end when it ended sooner. Rows that keep every lift
give a flat curve. The command is ``python -m runs.benchmark_budget``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

ENDINGS = ("success", "nothing lifted", "wrong object", "target + another", "no grasp")


def lift_ending(lifted: list[str], target: str | None) -> str:
    """How a lift of ``lifted`` (object names) ends a trial asking for ``target`` (None: any object will do)."""
    if not lifted:
        return "nothing lifted"
    if target is None:
        return "success"
    if target not in lifted:
        return "wrong object"
    return "success" if len(lifted) == 1 else "target + another"


def _released(trial: dict[str, Any]) -> list[list[str]]:
    if "released_objects" not in trial:
        raise ValueError("trials recorded before released_objects was kept (session 25); run the row again with "
                         "runs.benchmark --max-grasps K")
    return list(trial["released_objects"] or [])


def ending_at_budget(trial: dict[str, Any], budget: int) -> str:
    """How one trial (a ``runs.benchmark --json`` trial) would have ended with ``budget`` grasps: one of
    :data:`ENDINGS`.

    Raises:
        ValueError: ``budget`` < 1, or the trial was recorded before put-back lifts were.
    """
    if budget < 1:
        raise ValueError(f"a budget is at least 1 grasp, got {budget}")
    released = _released(trial)
    target = trial.get("target")
    if len(released) >= budget:
        return lift_ending(released[budget - 1], target)
    if not trial["grasp_attempted"] or trial.get("fault"):
        return "no grasp"
    return lift_ending(list(trial["lifted_objects"]), target)


@dataclass(frozen=True)
class BudgetPoint:
    """One cell's trials at one budget: how they end (counts by :data:`ENDINGS`) and the grasps they make."""

    budget: int
    trials: int
    counts: dict[str, int]
    grasps: int

    def share(self, ending: str) -> float:
        return self.counts[ending] / max(self.trials, 1)


def budget_curve(trials: list[dict[str, Any]]) -> list[BudgetPoint]:
    """One :class:`BudgetPoint` per budget from 1 to the most grasps any trial made (beyond it nothing changes)."""
    made = [len(_released(t)) + int(bool(t["grasp_attempted"])) for t in trials]
    points = []
    for budget in range(1, max([1, *made]) + 1):
        counts = Counter(ending_at_budget(t, budget) for t in trials)
        points.append(BudgetPoint(budget, len(trials), {name: counts.get(name, 0) for name in ENDINGS},
                                  sum(min(budget, m) for m in made)))
    return points


def markdown(curves: dict[str, list[BudgetPoint]], row: str) -> str:
    """One line per cell and budget: the share of trials in each ending (%) and the grasps a trial makes."""
    lines = [f"| {row}: cell | budget | trials | " + " | ".join(ENDINGS) + " | grasps a trial |",
             "|" + "---|" * (len(ENDINGS) + 4)]
    for cell, points in curves.items():
        for point in points:
            shares = " | ".join(f"{100 * point.share(name):.1f}" for name in ENDINGS)
            lines.append(f"| {cell} | {point.budget} | {point.trials} | {shares} | "
                         f"{point.grasps / max(point.trials, 1):.2f} |")
    return "\n".join(lines)
