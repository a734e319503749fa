"""Session 23 probe: does a small CNN on the grasp-aligned scan (height and colour, 9.6 cm square centred where the
fingers meet, turned to the closing line) rank the product's four candidates better than the logistic ranker?
Offline, 5-fold cross-validation over the collected bins (the folds of agents.qtopt.ranking.held_out_scores);
simulator outcomes only score the picks (and serve as the labels of the "truth" ceiling rows).

    PYTHONPATH=. python docs/results/val-s23/patch_cnn.py OUT.json runs/out/ranker/block8 runs/out/ranker/block9
    PYTHONPATH=. QUICK=1 python docs/results/val-s23/patch_cnn.py OUT.json runs/out/ranker/block8   # half the bins
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from patchnet import fit_scores, grasp_patches

from agents.qtopt.ranking import candidate_features, held_out_scores, load_product, scan_geometry
from agents.ranker_data import read_candidates, reward_labels
from rewards.registry import make_reward

torch.set_num_threads(1)
torch.manual_seed(0)
P = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
QUICK = bool(os.environ.get("QUICK"))
product, _ = load_product(P)
space, geometry = product.policy.space, scan_geometry(product)
reward = make_reward("grasp2vec", thresholded=True)
x, px, y, success, another, nothing = [], [], [], [], [], []
for row, arrays in read_candidates(sys.argv[2:]):
    c = np.asarray(row["candidates"])
    x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space,
                                geometry))
    px.append(grasp_patches(arrays["heightmap"], c, space, geometry))
    y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
    o = row["outcomes"]
    success.append([v["success"] for v in o])
    another.append([v["target_lifted"] and v["lifted"] > 1 for v in o])
    nothing.append([v["lifted"] == 0 for v in o])
x, px, y = np.stack(x), np.stack(px), np.asarray(y, np.float32)
success, another, nothing = (np.asarray(a, np.float32) for a in (success, another, nothing))
rows = np.arange(len(x))


def cnn_scores(labels: np.ndarray, epochs: int, use_patch: bool = True, folds: int = 5) -> np.ndarray:
    order = np.random.default_rng(0).permutation(len(x))
    scores = np.zeros(labels.shape)
    for fold in np.array_split(order, folds):
        scores[fold] = fit_scores(x, px, labels, np.setdiff1d(order, fold), fold, epochs, use_patch)
    return scores


results = {}


def report(name: str, picks: np.ndarray) -> None:
    results[name] = {"success": float(success[rows, picks].mean()), "with_another": float(another[rows, picks].mean()),
                     "nothing": float(nothing[rows, picks].mean())}
    print(f"{name:36s} success {results[name]['success']:.3f}  with-another {results[name]['with_another']:.3f}  "
          f"nothing {results[name]['nothing']:.3f}", flush=True)


print(f"bins {len(x)}")
report("first", np.zeros(len(x), int))
report("hindsight best (truth)", success.argmax(1))
report("logistic, grasp2vec labels", held_out_scores(x, y).argmax(1))
if QUICK:  # the learning-curve point: one CNN setting
    report("CNN + features, 10 epochs", cnn_scores(y, 10).argmax(1))
else:
    for epochs in (10, 30):
        report(f"MLP on features, {epochs} epochs", cnn_scores(y, epochs, use_patch=False).argmax(1))
        report(f"CNN + features, {epochs} epochs", cnn_scores(y, epochs).argmax(1))
    report("CNN + features, truth labels, 30 ep", cnn_scores(success, 30).argmax(1))
Path(sys.argv[1]).write_text(json.dumps({"bins": len(x), "command": " ".join(sys.argv), "results": results}, indent=1))
