"""Session 23 probe: does a learned patch ranker gain with data where the logistic ranker does not? A learning
curve over the label-free product's collected candidates: one held-out fifth of the bins (a fixed permutation,
seed 0), the rankers trained on nested subsets of the rest; simulator outcomes only score the held-out picks.
Uses patchnet.py's patches and CNN, as patch_cnn.py does.

    PYTHONPATH=. python docs/results/val-s23/curve.py OUT.json runs/out/ranker/block8 runs/out/ranker/block9 \\
        runs/out/ranker/block32 runs/out/ranker/block33
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from patchnet import fit_scores, grasp_patches, plot_curve

from agents.qtopt.ranking import LogisticRanker, candidate_features, load_product, scan_geometry
from agents.ranker_data import read_candidates, reward_labels
from rewards.registry import make_reward

OUT, FOLDERS = Path(sys.argv[1]), sys.argv[2:]

torch.set_num_threads(2)
product, _ = load_product("checkpoints/policies/qtopt-grasp2vec-product/checkpoint")
space, geometry = product.policy.space, scan_geometry(product)
reward = make_reward("grasp2vec", thresholded=True)
x, px, y, success = [], [], [], []
for row, arrays in read_candidates(FOLDERS):
    c = np.asarray(row["candidates"])
    x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space, geometry))
    px.append(grasp_patches(arrays["heightmap"], c, space, geometry))
    y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
    success.append([o["success"] for o in row["outcomes"]])
x, px, y, success = np.stack(x), np.stack(px), np.asarray(y, np.float32), np.asarray(success, np.float32)
order = np.random.default_rng(0).permutation(len(x))
test, pool = order[: len(x) // 5], order[len(x) // 5:]


def rate(picks: np.ndarray) -> float:
    return float(success[test, picks].mean())


results = {"bins": len(x), "held_out": len(test), "first": rate(np.zeros(len(test), int)),
           "hindsight": float(success[test].max(1).mean()), "curve": []}
print(json.dumps({k: v for k, v in results.items() if k != "curve"}), flush=True)
sizes = [n for n in (480, 1200, 2400, 4800, len(pool)) if n <= len(pool)]
for n in dict.fromkeys(sizes):
    train = pool[:n]
    point = {"train_bins": n, "logistic": rate(LogisticRanker.fit(x[train], y[train]).scores(x[test]).argmax(1)),
             "cnn": rate(fit_scores(x, px, y, train, test, 10).argmax(1))}
    results["curve"].append(point)
    print(json.dumps(point), flush=True)
OUT.write_text(json.dumps({**results, "command": " ".join(sys.argv)}, indent=1))
plot_curve(results, str(OUT.with_suffix(".png")))
