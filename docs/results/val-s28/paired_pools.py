"""Are two retrieval pools the same grasps, and how large is the lifted object in each (session 28)?

    PYTHONPATH=. python docs/results/val-s28/paired_pools.py runs/out/s27/g2v/seen-pool-391 \
        runs/out/s28/zoom/seen-pool-391 > docs/results/val-s28/paired-pools-seen.txt      # and unseen-pool-392

Reads the first 1,000 one-object lifts of each folder as ``runs.eval_embedding --limit 1000`` does, checks that the
lifted objects' names agree in order (the same attempts), and prints the lifted object's pixels in the pre image
(median, 10th / 90th percentiles) and the share of lifts whose object touches the image border.
"""

from __future__ import annotations

import sys

import numpy as np

from embedding.heldout import read_held_out


def main(plain_root: str, zoomed_root: str, limit: int = 1000) -> None:
    plain, zoomed = (read_held_out(root, limit=limit, progress=False) for root in (plain_root, zoomed_root))
    same = plain.objects == zoomed.objects
    print(f"{len(plain)} / {len(zoomed)} lifts; same objects in the same order: {same}")
    for name, grasps in (("plain", plain), ("zoomed", zoomed)):
        area = grasps.masks.sum(axis=(1, 2))
        edge = (grasps.masks[:, 0].any(1) | grasps.masks[:, -1].any(1) | grasps.masks[:, :, 0].any(1)
                | grasps.masks[:, :, -1].any(1))
        p10, p50, p90 = np.percentile(area, [10, 50, 90])
        print(f"{name:7s} {plain_root if name == 'plain' else zoomed_root}: object pixels median {p50:.0f} "
              f"(10th / 90th {p10:.0f} / {p90:.0f}), out of view {int((area == 0).sum())}, "
              f"touching the border {100 * edge.mean():.1f} %")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
