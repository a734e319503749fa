"""Why trials fail: a row's trials split by how the grasp ended, read from a benchmark run.

"Nothing lifted" hides three different failures, which ask for different remedies:

- **closed on nothing**: the gripper closed and sensed nothing, and nothing was up when the lift ended (the fingers
  missed, pushed the object away, or it slipped out before the top);
- **dropped in the hold**: an object was above the line when the lift ended and fell during the hold (a grasp that
  held, badly);
- **held low**: the gripper senses something, yet nothing is above the line (caught by an edge and hanging).

"Closed on nothing" is also counted apart when the fingers began to close more than 2 cm above the bottom: the
descent stopped on something, and the fingers closed on top of it. Beside them: trials without a grasp (the
episode ran out of steps or faulted), and on the instance task the wrong object or the target with another.
Trials recorded before ``grasp_sensed`` and ``dropped_objects`` existed are refused. The command is
``python -m runs.benchmark_failures``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

ENDINGS = ("success", "closed on nothing", "dropped in the hold", "held low", "no grasp", "wrong object",
           "target + another", "other")
HIGH_CLOSE = 0.02  # m above the bottom of the workspace: fingers that close higher rest on something (blocked)


def ending(trial: dict[str, Any]) -> str:
    """How one trial (a ``runs.benchmark --json`` trial) ended: one of :data:`ENDINGS`."""
    if trial["success"]:
        return "success"
    if not trial["grasp_attempted"] or trial.get("fault"):
        return "no grasp"
    if trial["lifted"] == 0:
        if trial.get("dropped_objects"):
            return "dropped in the hold"
        return "held low" if trial["grasp_sensed"] else "closed on nothing"
    if trial.get("target_lifted") is False:
        return "wrong object"
    if trial.get("target_lifted") is True:
        return "target + another"
    return "other"  # the indiscriminate task succeeds on any lift, so a lift that failed is unusual


@dataclass(frozen=True)
class CellFailures:
    """One cell's trials counted by :func:`ending`; ``closed_high``: the "closed on nothing" trials whose fingers
    began to close more than :data:`HIGH_CLOSE` above the bottom (None for trials recorded without the height)."""

    cell: str
    trials: int
    counts: dict[str, int]
    closed_high: int | None = None


def failures(cell: str, trials: list[dict[str, Any]]) -> CellFailures:
    """Count one cell's trials by how they ended.

    Raises:
        ValueError: a trial recorded before the grasp's sensed bit and dropped objects were kept.
    """
    if any("grasp_sensed" not in t for t in trials):
        raise ValueError(f"{cell}: trials recorded before grasp_sensed and dropped_objects were kept; run the row "
                         "again with runs.benchmark")
    endings = [ending(t) for t in trials]
    counts = Counter(endings)
    missed = [t for t, end in zip(trials, endings, strict=True) if end == "closed on nothing"]
    high = None if any(t.get("close_height") is None for t in missed) else \
        sum(t["close_height"] > HIGH_CLOSE for t in missed)
    return CellFailures(cell, len(trials), {name: counts.get(name, 0) for name in ENDINGS}, high)


def markdown(cells: list[CellFailures], row: str) -> str:
    """One line per cell: the share of trials in each ending, in %."""
    high_column = f"closed on nothing > {100 * HIGH_CLOSE:g} cm up"
    lines = [f"| {row}: cell | trials | " + " | ".join((*ENDINGS, high_column)) + " |",
             "|" + "---|" * (len(ENDINGS) + 3)]
    for cell in cells:
        shares = " | ".join(f"{100 * cell.counts[name] / max(cell.trials, 1):.1f}" for name in ENDINGS)
        high = "–" if cell.closed_high is None else f"{100 * cell.closed_high / max(cell.trials, 1):.1f}"
        lines.append(f"| {cell.cell} | {cell.trials} | {shares} | {high} |")
    return "\n".join(lines)
