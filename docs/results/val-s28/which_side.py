"""Which encoder limits seen retrieval: the scene difference, or the outcome (session 28, issue #17)?

    PYTHONPATH=. python docs/results/val-s28/which_side.py runs/out/s27/g2v/arm-a runs/out/s27/g2v/seen-pool-391 \
        > docs/results/val-s28/which-side-a.txt      # and arm-z on runs/out/s28/zoom/seen-pool-391

On a pool's first 1,000 one-object lifts (as ``runs.eval_embedding --limit 1000`` reads them), for the lifts whose
object was lifted more than once in the pool: top-1 retrieval among the *other* 999 outcomes of the pool, by
(a) φ_s(pre) − φ_s(post), the retrieval the benchmark scores, and (b) φ_o of another lift's outcome image of the
same object, the query a goal image makes. Labels (object names) are read only to score. Cosine similarity in
both, so that the query's norm does not matter.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import torch

from embedding.checkpoint import load_checkpoint
from embedding.evaluate import embed_held_out
from embedding.heldout import read_held_out
from embedding.metrics import similarity


def main(checkpoint: str, pool: str, limit: int = 1000) -> None:
    model = load_checkpoint(checkpoint)
    grasps = read_held_out(pool, limit=limit, progress=False)
    differences, outcomes = embed_held_out(model, grasps)
    names = np.array(grasps.objects)
    counts = Counter(grasps.objects)
    queries = np.flatnonzero([counts[n] > 1 for n in names])
    hits_scene, hits_outcome = [], []
    for metric_name, query in (("scene", differences), ("outcome", outcomes)):
        scores = similarity(query[queries], outcomes, "cosine")
        scores[torch.arange(len(queries)), torch.as_tensor(queries)] = -torch.inf  # never the lift itself
        found = scores.argmax(dim=1).numpy()
        hits = names[found] == names[queries]
        (hits_scene if metric_name == "scene" else hits_outcome).append(hits)
    scene, outcome = np.concatenate(hits_scene), np.concatenate(hits_outcome)
    print(f"{checkpoint} on {pool}: {len(grasps)} lifts, {len(queries)} of objects lifted more than once "
          f"({len(set(names[queries]))} objects)")
    print(f"  scene difference -> another lift's outcome: {100 * scene.mean():.1f} %")
    print(f"  outcome -> another lift's outcome:          {100 * outcome.mean():.1f} %")
    print(f"  both right {int((scene & outcome).sum())}, scene only {int((scene & ~outcome).sum())}, "
          f"outcome only {int((~scene & outcome).sum())}, neither {int((~scene & ~outcome).sum())}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
