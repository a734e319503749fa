"""Retrieval readouts of the shipped Grasp2Vec weights (issue #17, session 26): does reading the scene difference
map differently find the held object in a pool of outcomes more often than the mean-pooled difference does?

    python docs/results/val-s26/retrieval_readouts.py runs/out/s26/seen-pool-380 \
        > docs/results/val-s26/retrieval-readouts.txt

Query i: the maps φ_s(pre_i) − φ_s(post_i) (D, 16, 16); pool: φ_o of every outcome of the set (single-object lifts,
``graspdata.ground_truth.EvaluationGrasps``); top-1 correct when the retrieved outcome shows the same object.
Readouts: the mean over cells (the model's own, ``runs.eval_embedding``'s); the mean over the k cells whose
difference is largest; and, per candidate outcome, the largest (or top-4 mean) cell of its dot product with the
difference map (localization's readout, which finds the object in 97 % of scenes).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from embedding.checkpoint import load_checkpoint
from embedding.model import to_input
from graspdata.ground_truth import EvaluationGrasps


def main() -> None:
    torch.set_num_threads(2)
    model = load_checkpoint("checkpoints/grasp2vec")
    grasps = EvaluationGrasps(sys.argv[1], split="all")
    items = [grasps[i] for i in range(len(grasps))]
    names = np.array([item["object"] for item in items])

    def maps(encoder: torch.nn.Module, key: str) -> torch.Tensor:
        images = np.stack([item[key] for item in items])
        with torch.inference_mode():
            return torch.cat([encoder(to_input(images[i:i + 128], model.config.image_size))
                              for i in range(0, len(images), 128)])

    difference = (maps(model.scene_encoder, "pre") - maps(model.scene_encoder, "post")).flatten(2)  # (N, D, HW)
    outcomes = maps(model.outcome_encoder, "outcome").mean(dim=(2, 3))  # (N, D)

    def top1(scores: torch.Tensor) -> float:
        return float(np.mean(names[scores.argmax(1).numpy()] == names))

    def pooled(query: torch.Tensor) -> str:
        cosine = F.normalize(query, dim=1) @ F.normalize(outcomes, dim=1).T
        return f"dot {top1(query @ outcomes.T):.3f}, cosine {top1(cosine):.3f}"

    print(f"{sys.argv[1]}: {len(names)} single-object lifts of {len(set(names))} objects (pool = all of them)")
    print(f"  mean over cells (the model's readout): {pooled(difference.mean(2))}")
    strength = difference.norm(dim=1)  # (N, HW)
    for k in (4, 16, 64):
        cells = strength.topk(k, dim=1).indices[:, None, :].expand(-1, difference.shape[1], -1)
        print(f"  mean over the {k} most changed cells: {pooled(torch.gather(difference, 2, cells).mean(2))}")
    readouts = {"largest cell": lambda h: h.max(2).values, "top-4 cells": lambda h: h.topk(4, 2).values.mean(2)}
    for name, readout in readouts.items():
        scores = torch.cat([readout(torch.einsum("md,ndx->nmx", outcomes, difference[s:s + 64]))
                            for s in range(0, len(names), 64)])
        print(f"  each outcome's dot with the difference map, {name}: dot {top1(scores):.3f}")


if __name__ == "__main__":
    main()
