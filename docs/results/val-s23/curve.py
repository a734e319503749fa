"""Session 23 probe: does a learned patch ranker gain with data where the logistic ranker does not? A learning
curve over the label-free product's collected candidates: one held-out fifth of the bins (a fixed permutation,
seed 0), the rankers trained on nested subsets of the rest; simulator outcomes only score the held-out picks.
Uses patch_cnn.py's patches and CNN.

    PYTHONPATH=. python docs/results/val-s23/curve.py OUT.json runs/out/ranker/block8 runs/out/ranker/block9 \\
        runs/out/ranker/block32 runs/out/ranker/block33
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

OUT, FOLDERS = Path(sys.argv[1]), sys.argv[2:]

from agents.qtopt.ranking import LogisticRanker, candidate_features, load_product, scan_geometry  # noqa: E402
from agents.ranker_data import read_candidates, reward_labels  # noqa: E402
from rewards.registry import make_reward  # noqa: E402

torch.set_num_threads(2)
SIDE, STEP = 24, 0.004
product, _ = load_product("checkpoints/policies/qtopt-grasp2vec-product/checkpoint")
space, geometry = product.policy.space, scan_geometry(product)
reward = make_reward("grasp2vec", thresholded=True)
grid = (np.arange(SIDE) - (SIDE - 1) / 2) * STEP


def patches(heightmap: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(K, 4, SIDE, SIDE) height (5 cm units) and colour around where each candidate's fingers meet."""
    from envs.heightmap import HEIGHT_UNIT

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


x, px, y, success = [], [], [], []
for row, arrays in read_candidates(FOLDERS):
    c = np.asarray(row["candidates"])
    x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space, geometry))
    px.append(patches(arrays["heightmap"], c))
    y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
    success.append([o["success"] for o in row["outcomes"]])
x, px, y, success = np.stack(x), np.stack(px), np.asarray(y, np.float32), np.asarray(success, np.float32)
order = np.random.default_rng(0).permutation(len(x))
test, pool = order[: len(x) // 5], order[len(x) // 5:]
K = x.shape[1]


class PatchRanker(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Linear(32 + features, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.conv(p).flatten(1), f], 1)).squeeze(1)


def cnn_picks(train: np.ndarray, epochs: int) -> np.ndarray:
    flat = x[train].reshape(-1, x.shape[-1])
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    f_all = torch.as_tensor((x - mean) / std).reshape(-1, x.shape[-1])
    p_all, t_all = torch.as_tensor(px).reshape(-1, *px.shape[2:]), torch.as_tensor(y).reshape(-1)
    index = torch.as_tensor((train[:, None] * K + np.arange(K)).reshape(-1))
    torch.manual_seed(0)
    model = PatchRanker(x.shape[-1])
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-3)
    for _ in range(epochs):
        model.train()
        for batch in index[torch.randperm(len(index))].split(64):
            p = p_all[batch]
            p = torch.where((torch.rand(len(batch)) < 0.5)[:, None, None, None], p.flip(2), p)
            loss = nn.functional.binary_cross_entropy_with_logits(model(p, f_all[batch]), t_all[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    held = torch.as_tensor((test[:, None] * K + np.arange(K)).reshape(-1))
    with torch.no_grad():
        s = (model(p_all[held], f_all[held]) + model(p_all[held].flip(2), f_all[held])) / 2
    return s.numpy().reshape(len(test), K).argmax(1)


def rate(picks: np.ndarray) -> float:
    return float(success[test, picks].mean())


results = {"bins": len(x), "held_out": len(test), "first": rate(np.zeros(len(test), int)),
           "hindsight": float(success[test].max(1).mean()), "curve": []}
print(json.dumps({k: v for k, v in results.items() if k != "curve"}), flush=True)
sizes = [n for n in (480, 1200, 2400, 4800, len(pool)) if n <= len(pool)]
for n in dict.fromkeys(sizes):
    train = pool[:n]
    point = {"train_bins": n, "logistic": rate(LogisticRanker.fit(x[train], y[train]).scores(x[test]).argmax(1)),
             "cnn": rate(cnn_picks(train, 10))}
    results["curve"].append(point)
    print(json.dumps(point), flush=True)
OUT.write_text(json.dumps({**results, "command": " ".join(sys.argv)}, indent=1))
