"""How clean are a --regrasp-same folder's pairs (session 29)? Ground truth read only to score.

    PYTHONPATH=. python docs/results/val-s29/pair_precision.py runs/out/s29/same-train-390 \
        > docs/results/val-s29/pair-precision.txt

Over the folder's records: the first lifts the gripper sensed, the second lifts made (put back, the same grasp
again), the pairs (both sensed, what ``OutcomePairDataset`` serves, all splits) and what each pair held.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from graspdata.folder import scan_folder
from graspdata.layout import AGAIN_LIFTED, AGAIN_SENSED, RECORD_GROUP, TRUTH_GROUP, open_h5, read_grasp_sensed


def main(folder: str) -> None:
    counts: Counter[str] = Counter()
    for info in scan_folder(folder).shards:
        with open_h5(info.path) as f:
            sensed, again = read_grasp_sensed(f[RECORD_GROUP]), np.asarray(f[RECORD_GROUP][AGAIN_SENSED][:], bool)
            lifted, lifted_again = f[TRUTH_GROUP]["lifted"][:], f[TRUTH_GROUP][AGAIN_LIFTED][:]
        counts["attempts"] += len(sensed)
        counts["first lift sensed"] += int(sensed.sum())
        counts["pairs (both lifts sensed)"] += int((sensed & again).sum())
        for first, second in zip(lifted[sensed & again], lifted_again[sensed & again], strict=True):
            if first.sum() == 1 and np.array_equal(first, second):
                kind = "the same single object"
            elif first.sum() == 1 and (first & second).any():
                kind = "the same object, with another the second time"
            elif (first & second).any():
                kind = "overlapping sets of several objects"
            else:
                kind = "different objects (or nothing lifted by the simulator's count)"
            counts[f"pair held {kind}"] += 1
    pairs = counts["pairs (both lifts sensed)"]
    print(f"{folder}:")
    for key, value in counts.items():
        share = f" ({100 * value / pairs:.1f} % of pairs)" if key.startswith("pair held") else ""
        print(f"  {key}: {value}{share}")
    print(f"  pairs per attempt: {pairs / counts['attempts']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
