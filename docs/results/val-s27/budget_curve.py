"""Success against the grasp budget, from one benchmark run at the largest budget (issue #14, session 27).

A regrasp policy's first k - 1 lifts do not depend on the budget K >= k: the environment asks after every lift but
the last whether to keep it, and the policy puts back what its verifier rejects. A trial run at budget K therefore
holds its outcome at every budget k <= K: the k-th lift (recorded, with what it held, in ``released_objects`` when
it was put back) or the trial's end when it ended sooner. Reads the simulator's record only to score.

    python docs/results/val-s27/budget_curve.py docs/results/val-s27/budget3.json > docs/results/val-s27/budget3-curve.txt
"""

from __future__ import annotations

import json
import sys
from collections import Counter


def ending(lifted: list[str], target: str) -> str:
    if not lifted:
        return "nothing lifted"
    if target not in lifted:
        return "wrong object"
    return "success" if len(lifted) == 1 else "target + another"


def at_budget(trial: dict, k: int) -> str:
    lifts = list(trial.get("released_objects") or [])
    if len(lifts) >= k:
        return ending(lifts[k - 1], trial["target"])
    if trial.get("fault"):
        return "fault"
    return ending(list(trial["lifted_objects"]), trial["target"])


def main(path: str) -> None:
    run = json.load(open(path))
    budget = run["config"]["world"]["max_grasps"]
    print(f"{path}: {run['footer']}")
    for cell, trials in run["trials"].items():
        print(f"\n{cell} ({len(trials)} trials)")
        print("budget | success | nothing lifted | wrong object | target + another | fault | attempts begun (mean)")
        for k in range(1, budget + 1):
            counts = Counter(at_budget(t, k) for t in trials)
            made = sum(min(k, len(t.get("released_objects") or []) + 1) for t in trials) / len(trials)
            row = [100 * counts[c] / len(trials) for c in
                   ("success", "nothing lifted", "wrong object", "target + another", "fault")]
            print(f"{k} | " + " | ".join(f"{v:.1f} %" for v in row) + f" | {made:.2f}")
        finals = Counter(t["success"] for t in trials)
        print(f"check: the run's own success at budget {budget}: {100 * finals[True] / len(trials):.1f} %")


if __name__ == "__main__":
    main(sys.argv[1])
