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
from torch import nn

from agents.qtopt.ranking import candidate_features, held_out_scores, load_product, scan_geometry
from agents.ranker_data import read_candidates, reward_labels
from envs.heightmap import HEIGHT_UNIT
from rewards.registry import make_reward

torch.set_num_threads(1)
torch.manual_seed(0)
P = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
QUICK = bool(os.environ.get("QUICK"))
SIDE, STEP = 24, 0.004  # patch cells, metres per cell
product, _ = load_product(P)
space, geometry = product.policy.space, scan_geometry(product)
reward = make_reward("grasp2vec", thresholded=True)
grid = (np.arange(SIDE) - (SIDE - 1) / 2) * STEP


def patches(heightmap: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(K, 4, SIDE, SIDE): height (5 cm units) and colour around where each candidate's fingers meet; rows run
    across the closing line, columns along it."""
    fingers = space.finger_points(torch.as_tensor(candidates, dtype=torch.float64)).numpy()
    out = []
    for k, c in enumerate(candidates):
        yaw = c[2] * np.pi / 2
        closing = np.array([-np.cos(yaw), np.sin(yaw)])
        side = np.array([closing[1], -closing[0]])
        points = fingers[k] + grid[None, :, None] * closing + grid[:, None, None] * side
        r = np.clip(np.round((points[..., 1] - geometry.origin[1]) / geometry.resolution).astype(int), 0,
                    geometry.shape[0] - 1)
        cc = np.clip(np.round((points[..., 0] - geometry.origin[0]) / geometry.resolution).astype(int), 0,
                     geometry.shape[1] - 1)
        cells = heightmap[r, cc].astype(np.float32)
        cells[..., 0] *= HEIGHT_UNIT / 0.05
        cells[..., 1:] /= 255.0
        out.append(cells.transpose(2, 0, 1))
    return np.stack(out)


x, px, y, success, another, nothing = [], [], [], [], [], []
for row, arrays in read_candidates(sys.argv[2:]):
    c = np.asarray(row["candidates"])
    x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space,
                                geometry))
    px.append(patches(arrays["heightmap"], c))
    y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
    o = row["outcomes"]
    success.append([v["success"] for v in o])
    another.append([v["target_lifted"] and v["lifted"] > 1 for v in o])
    nothing.append([v["lifted"] == 0 for v in o])
x, px, y = np.stack(x), np.stack(px), np.asarray(y, np.float32)
success, another, nothing = (np.asarray(a, np.float32) for a in (success, another, nothing))
rows = np.arange(len(x))


class PatchRanker(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Linear(32 + features, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.conv(p).flatten(1), f], 1)).squeeze(1)


def cnn_scores(labels: np.ndarray, epochs: int, use_patch: bool = True, folds: int = 5) -> np.ndarray:
    order = np.random.default_rng(0).permutation(len(x))
    scores = np.zeros(labels.shape)
    for fold in np.array_split(order, folds):
        train = np.setdiff1d(order, fold)
        flat = x[train].reshape(-1, x.shape[-1])
        mean, std = flat.mean(0), flat.std(0) + 1e-6
        f_all = torch.as_tensor((x - mean) / std).reshape(-1, x.shape[-1])
        p_all = torch.as_tensor(px).reshape(-1, *px.shape[2:])
        if not use_patch:
            p_all = torch.zeros_like(p_all)
        t_all = torch.as_tensor(labels).reshape(-1)
        index = torch.as_tensor((train[:, None] * x.shape[1] + np.arange(x.shape[1])).reshape(-1))
        torch.manual_seed(0)
        model = PatchRanker(x.shape[-1])
        opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-3)
        for _ in range(epochs):
            model.train()
            for batch in index[torch.randperm(len(index))].split(64):
                p = p_all[batch]
                flip = torch.rand(len(batch)) < 0.5  # mirror across the closing line
                p = torch.where(flip[:, None, None, None], p.flip(2), p)
                loss = nn.functional.binary_cross_entropy_with_logits(model(p, f_all[batch]), t_all[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        test = torch.as_tensor((fold[:, None] * x.shape[1] + np.arange(x.shape[1])).reshape(-1))
        with torch.no_grad():
            s = (model(p_all[test], f_all[test]) + model(p_all[test].flip(2), f_all[test])) / 2
        scores[fold] = s.numpy().reshape(len(fold), -1)
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
