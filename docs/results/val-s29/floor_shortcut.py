"""Does φ_o read where the arm lifted, rather than what it holds (session 29, issue #17)? A probe.

    PYTHONPATH=. python docs/results/val-s29/floor_shortcut.py runs/out/s27/g2v/seen-pool-391 checkpoints/grasp2vec \
        runs/out/s29/arm-c runs/out/s29/arm-s | grep -v '^argv' > docs/results/val-s29/floor-shortcut.txt

The wrist camera's outcome image shows the held object against the floor's checkerboard, whose phase moves with the
arm's x, y. Two lifts made by the same grasp share it. On a pool's first 1,000 one-object lifts, for each outcome the
nearest *other* outcome by φ_o (cosine): how far apart the two lifted objects lay in the scene image (the centroids
of their pre-grasp masks, pixels of the 64 px scene; ground truth, read only to score), and how often it is the
same object. A φ_o that encodes the lift's place finds near places; one that encodes the object finds the object.
Then the retrieval the benchmark scores (scene difference → outcomes, dot): where its misses' lifts lay.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from embedding.checkpoint import load_checkpoint
from embedding.evaluate import embed_held_out
from embedding.heldout import read_held_out
from embedding.metrics import similarity


def centroids(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool → (N, 2) row, column of each mask's centroid."""
    rows, cols = np.indices(masks.shape[1:])
    area = masks.sum(axis=(1, 2)).clip(min=1)
    return np.stack([(masks * rows).sum(axis=(1, 2)) / area, (masks * cols).sum(axis=(1, 2)) / area], axis=1)


def main(pool: str, checkpoints: list[str], limit: int = 1000) -> None:
    grasps = read_held_out(pool, limit=limit, progress=False)
    where, names = centroids(grasps.masks), np.array(grasps.objects)
    rng = np.random.default_rng(0)
    other = (np.arange(len(names)) + rng.integers(1, len(names), len(names))) % len(names)
    apart = np.linalg.norm(where - where[other], axis=1)
    print(f"{pool}: {len(names)} one-object lifts. Any other lift (a random one): median {np.median(apart):.1f} px "
          f"apart, within 4 px {100 * np.mean(apart < 4):.1f} %, "
          f"the same object {100 * np.mean(names == names[other]):.1f} %")
    for checkpoint in checkpoints:
        _, outcomes = embed_held_out(load_checkpoint(checkpoint), grasps)
        scores = similarity(outcomes, outcomes, "cosine")
        scores.fill_diagonal_(-torch.inf)
        found = scores.argmax(dim=1).numpy()
        apart = np.linalg.norm(where - where[found], axis=1)
        print(f"  {checkpoint}: nearest other outcome by φ_o: median {np.median(apart):.1f} px apart, within 4 px "
              f"{100 * np.mean(apart < 4):.1f} %, the same object {100 * np.mean(names == names[found]):.1f} %")
        differences, _ = embed_held_out(load_checkpoint(checkpoint), grasps)
        retrieved = similarity(differences, outcomes, "dot").argmax(dim=1).numpy()
        missed = names[retrieved] != names
        apart = np.linalg.norm(where - where[retrieved], axis=1)[missed]
        print(f"    retrieval (dot) misses {missed.sum()} of {len(names)}: the retrieved lift median "
              f"{np.median(apart):.1f} px apart, within 4 px {100 * np.mean(apart < 4):.1f} %")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
