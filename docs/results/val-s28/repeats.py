"""What a second grasp lifts after a put-back, by whether the first lift held something (session 28).

    PYTHONPATH=. python docs/results/val-s28/repeats.py docs/results/val-s28/retry-empty.json \
        qtopt-grasp2vec-regrasp-foreign retry-empty > docs/results/val-s28/repeats.txt

For each row of a two-grasp benchmark JSON: the trials whose first lift was put back, split by the verifier's
presence verdict on that lift (``holds_object``, label-free), by whether the second lift held the same objects as
the first (ground truth, read only to score) and by success.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def main(path: str, rows: list[str]) -> None:
    data = json.loads(Path(path).read_text())
    for row in rows:
        counts: Counter[tuple[str, str, str]] = Counter()
        for cell, trials in data["trials"].items():
            if not cell.startswith(f"{row}/"):
                continue
            for trial in trials:
                released = trial["released_objects"]
                if not released:
                    continue
                held = trial["policy_report"]["lift_details"][0]["holds_object"] > 0
                again = bool(released[0]) and sorted(released[0]) == sorted(trial["lifted_objects"])
                counts[("held" if held else "empty", "same objects again" if again else "other",
                        "success" if trial["success"] else "failure")] += 1
        print(f"{row}: {sum(counts.values())} trials put their first lift back")
        for key, count in sorted(counts.items()):
            print(f"  first lift {key[0]:5s} | second lift: {key[1]:18s} | {key[2]:7s} | {count}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
