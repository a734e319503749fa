"""How well a second look tells the policy's own failing grasps, read from a benchmark run, and what each threshold
would give up.

Run a second-look row (:class:`agents.second_look.SecondLookPolicy`) whose look never gives up (a threshold far
below any score): it acts exactly as its base, trial for trial, and each trial's ``policy_report`` holds the
look's score of the grasp the base chose. :func:`look_rankings` then reads, per cell, the ROC-AUC of that score
against the trial's success and against lifting anything, and for each threshold how many grasps it would give
up and how many of those had failed (failures a retry could mend) or succeeded (successes it puts at risk).
The command is ``python -m runs.second_look_thresholds``; pick the threshold on validation trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from common.stats import roc_auc

THRESHOLDS = tuple(float(t) for t in np.arange(-4.0, 4.01, 1.0))


@dataclass(frozen=True)
class ThresholdRow:
    """What a threshold would give up in one cell."""

    threshold: float
    given_up: int  # trials whose look scored below the threshold
    failures: int  # of those, trials the base failed (a retry could mend them)
    successes: int  # of those, trials the base succeeded (a retry puts them at risk)


@dataclass(frozen=True)
class CellLooks:
    """One cell's looks: how many trials were looked at, the score's rankings and the threshold table."""

    cell: str
    trials: int
    looked: int  # trials with a look score (the base closed the gripper itself)
    success_rate: float  # among the looked-at trials
    auc_success: float | None  # ROC-AUC of the score against the task's success
    auc_lifted: float | None  # against lifting anything
    thresholds: tuple[ThresholdRow, ...]


def _report(trial: dict[str, Any]) -> dict[str, Any]:
    """A trial's policy report, empty when it has none."""
    return trial.get("policy_report") or {}


def first_scores(trials: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, success, lifted anything) of the trials whose report holds a look score (the first look's).

    Raises:
        ValueError: no trial carries a look report (not a second-look row, or a run from before reports).
    """
    rows = [t for t in trials if _report(t).get("look_scores")]
    if not rows and not any("look_scores" in _report(t) for t in trials):
        raise ValueError("no trial carries a second look's report: run a second-look row (runs.add_second_look) "
                         "with runs.benchmark")
    scores = np.array([t["policy_report"]["look_scores"][0] for t in rows], np.float64)
    return (scores, np.array([bool(t["success"]) for t in rows]), np.array([t["lifted"] > 0 for t in rows]))


def look_rankings(cell: str, trials: list[dict[str, Any]], thresholds: tuple[float, ...] = THRESHOLDS
                  ) -> CellLooks:
    """The look's rankings and threshold table of one cell's trials (module docstring).

    Raises:
        ValueError: a trial gave a grasp up (the rankings need a look that never does: then every trial is the
            base's), or no trial carries a look report.
    """
    if any(_report(t).get("given_up", 0) for t in trials):
        raise ValueError(f"{cell}: trials gave grasps up, so they are not the base policy's; run the row with a "
                         "threshold below every score (runs.add_second_look --threshold -100)")
    scores, success, lifted = first_scores(trials)

    def auc(labels: np.ndarray) -> float | None:
        return roc_auc(scores, labels) if 0 < labels.sum() < len(labels) else None

    table = tuple(ThresholdRow(t, int((scores < t).sum()), int(((scores < t) & ~success).sum()),
                               int(((scores < t) & success).sum())) for t in thresholds)
    return CellLooks(cell, len(trials), len(scores), float(success.mean()) if len(scores) else 0.0,
                     auc(success), auc(lifted), table)


def markdown(cells: list[CellLooks], row: str) -> str:
    """One table per cell: thresholds, grasps given up, failures and successes among them."""
    lines = []
    for cell in cells:
        aucs = ", ".join(f"{name} {value:.3f}" if value is not None else f"{name} –"
                         for name, value in (("success", cell.auc_success), ("lifted anything", cell.auc_lifted)))
        lines += [f"**{row}, {cell.cell}**: {cell.looked} of {cell.trials} trials looked at, "
                  f"{100 * cell.success_rate:.1f} % of them succeeded; the look's ROC-AUC: {aucs}.", "",
                  "| threshold | given up | failures among them | successes among them |", "|---|---|---|---|"]
        lines += [f"| {r.threshold:g} | {r.given_up} | {r.failures} | {r.successes} |" for r in cell.thresholds]
        lines.append("")
    return "\n".join(lines)
