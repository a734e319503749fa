"""Session 23 probe: does the goal heat along the line the fingers close on (not only where they meet) tell the
product's four grasps apart? Offline 5-fold cross-validation over collected bins (held_out_scores' folds);
simulator outcomes only score the picks.

    PYTHONPATH=. python docs/results/val-s23/heat_profile.py runs/out/ranker/block8 runs/out/ranker/block9
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from agents.qtopt.ranking import (
    PROFILE_ACROSS,
    PROFILE_ALONG,
    candidate_features,
    closing_lines,
    held_out_scores,
    load_product,
    scan_geometry,
)
from agents.ranker_data import read_candidates, reward_labels
from rewards.registry import make_reward

torch.set_num_threads(1)
product, _ = load_product("checkpoints/policies/qtopt-grasp2vec-product/checkpoint")
space, geometry = product.policy.space, scan_geometry(product)
reward = make_reward("grasp2vec", thresholded=True)


def heat_profile(heatmap: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(K, 34): the goal heat at the 17 points along the closing line (the highest across ±2 cm, then the centre)."""
    heat = heatmap[..., 0] / 255.0
    fingers, closing, side = closing_lines(candidates, space)
    out = []
    for k in range(len(candidates)):
        points = fingers[k] + PROFILE_ALONG[:, None, None] * closing[k] + PROFILE_ACROSS[None, :, None] * side[k]
        pixels = (space.project(torch.as_tensor(points.reshape(-1, 2))).numpy() + 1) / 2 * heat.shape[0]
        pixels = np.clip(pixels.astype(int), 0, heat.shape[0] - 1).reshape(*points.shape[:2], 2)
        values = heat[pixels[..., 1], pixels[..., 0]]
        out.append(np.concatenate([values.max(1), values[:, 1]]))
    return np.asarray(out, np.float32)


x, hp, y, success, another, nothing, wrong = [], [], [], [], [], [], []
for row, arrays in read_candidates(sys.argv[1:]):
    c = np.asarray(row["candidates"])
    x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space, geometry))
    hp.append(heat_profile(arrays["heatmap"], c))
    y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
    o = row["outcomes"]
    success.append([v["success"] for v in o])
    another.append([v["target_lifted"] and v["lifted"] > 1 for v in o])
    nothing.append([v["lifted"] == 0 for v in o])
    wrong.append([not v["target_lifted"] and v["lifted"] > 0 for v in o])
x, hp, y = np.stack(x), np.stack(hp), np.asarray(y, np.float32)
success, another, nothing, wrong = (np.asarray(a, np.float32) for a in (success, another, nothing, wrong))
rows = np.arange(len(x))


def report(name: str, picks: np.ndarray) -> None:
    print(f"{name:40s} success {success[rows, picks].mean():.3f}  with-another {another[rows, picks].mean():.3f}  "
          f"nothing {nothing[rows, picks].mean():.3f}  wrong {wrong[rows, picks].mean():.3f}", flush=True)


print(f"bins {len(x)}")
report("first", np.zeros(len(x), int))
report("base features", held_out_scores(x, y).argmax(1))
report("+ heat along the closing line", held_out_scores(np.concatenate([x, hp], -1), y).argmax(1))
for l2 in (0.3, 1.0):
    report(f"+ heat along the closing line, l2 {l2}", held_out_scores(np.concatenate([x, hp], -1), y, l2).argmax(1))
report("+ heat along, truth labels", held_out_scores(np.concatenate([x, hp], -1), success).argmax(1))
