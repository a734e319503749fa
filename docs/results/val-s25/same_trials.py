"""Does a row that cannot decide score in a two-grasp table as in the one-grasp table, trial for trial?

    python docs/results/val-s25/same_trials.py docs/results/val-s25/ranked-one-grasp-test.json \
        docs/results/test-regrasp.json qtopt-grasp2vec-ranked > docs/results/val-s25/same-trials.txt

Both files must come from the same machine (a learned row's trials depend on the CPU model). Prints, per cell, how
many trials end the same (success, objects lifted) and the seeds that differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    one, two, row = sys.argv[1:4]
    parts = [json.loads(Path(path).read_text()) for path in (one, two)]
    for part, path in zip(parts, (one, two), strict=True):
        print(f"{path}: max_grasps {part['config']['world'].get('max_grasps', 1)}, {part['machine']['description']}")
    for cell in sorted(key for key in parts[0]["trials"] if key.startswith(f"{row}/")):
        a = {t["seed"]: (t["success"], t["lifted_objects"]) for t in parts[0]["trials"][cell]}
        b = {t["seed"]: (t["success"], t["lifted_objects"]) for t in parts[1]["trials"][cell]}
        differ = [seed for seed in a if a[seed] != b[seed]]
        print(f"{cell}: {len(a) - len(differ)} of {len(a)} trials end the same; differ: {differ}")


if __name__ == "__main__":
    main()
