"""Session 23 probes' shared pieces (patch_cnn.py, curve.py): the grasp-aligned scan around each candidate and a
small CNN ranker fitted on it beside the logistic ranker's features."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from agents.qtopt.ranking import closing_lines
from envs.grasp_pose import PoseSpace
from envs.heightmap import HEIGHT_UNIT, GridGeometry

SIDE, STEP = 24, 0.004  # patch cells, metres per cell


def grasp_patches(heightmap: np.ndarray, candidates: np.ndarray, space: PoseSpace, geometry: GridGeometry
                  ) -> np.ndarray:
    """(K, 4, SIDE, SIDE): height (5 cm units) and colour around where each candidate's fingers meet; rows run
    across the closing line, columns along it."""
    grid = (np.arange(SIDE) - (SIDE - 1) / 2) * STEP
    fingers, closing, side = closing_lines(candidates, space)
    out = []
    for k in range(len(candidates)):
        points = fingers[k] + grid[None, :, None] * closing[k] + grid[:, None, None] * side[k]
        r = np.clip(np.round((points[..., 1] - geometry.origin[1]) / geometry.resolution).astype(int), 0,
                    geometry.shape[0] - 1)
        cc = np.clip(np.round((points[..., 0] - geometry.origin[0]) / geometry.resolution).astype(int), 0,
                     geometry.shape[1] - 1)
        cells = heightmap[r, cc].astype(np.float32)
        cells[..., 0] *= HEIGHT_UNIT / 0.05
        cells[..., 1:] /= 255.0
        out.append(cells.transpose(2, 0, 1))
    return np.stack(out)


class PatchRanker(nn.Module):
    """Three small convolutions on the patch, pooled, beside the standardised features; one logit."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Linear(32 + features, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.conv(p).flatten(1), f], 1)).squeeze(1)


def fit_scores(x: np.ndarray, px: np.ndarray, labels: np.ndarray, train: np.ndarray, held: np.ndarray, epochs: int,
               use_patch: bool = True, model: Callable[[], nn.Module] | None = None,
               flips: tuple[int, ...] = (2,)) -> np.ndarray:
    """Scores (len(held), K) of the held-out bins' candidates by a PatchRanker (or ``model()``, built after
    seeding) fitted on the ``train`` bins (features x (N, K, F), patches px (N, K, 4, S, S), labels (N, K)); the
    patch mirrored along each of ``flips`` at random in training (dim 2: across the closing line) and averaged over
    every combination of them at test. ``use_patch=False``: an MLP on the features."""
    k = x.shape[1]
    flat = x[train].reshape(-1, x.shape[-1])
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    f_all = torch.as_tensor((x - mean) / std).reshape(-1, x.shape[-1])
    p_all = torch.as_tensor(px).reshape(-1, *px.shape[2:])
    if not use_patch:
        p_all = torch.zeros_like(p_all)
    t_all = torch.as_tensor(labels).reshape(-1)
    index = torch.as_tensor((train[:, None] * k + np.arange(k)).reshape(-1))
    torch.manual_seed(0)
    net = model() if model is not None else PatchRanker(x.shape[-1])
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-3)
    for _ in range(epochs):
        net.train()
        for batch in index[torch.randperm(len(index))].split(64):
            p = p_all[batch].float()
            for dim in flips:
                flip = torch.rand(len(batch)) < 0.5
                p = torch.where(flip[:, None, None, None], p.flip(dim), p)
            loss = nn.functional.binary_cross_entropy_with_logits(net(p, f_all[batch]), t_all[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    test = torch.as_tensor((held[:, None] * k + np.arange(k)).reshape(-1))
    views = [p_all[test].float()]
    for dim in flips:
        views += [view.flip(dim) for view in views]
    with torch.no_grad():
        s = sum(net(view, f_all[test]) for view in views) / len(views)
    return s.numpy().reshape(len(held), k)


def plot_curve(results: dict, path: str) -> None:
    """curve.py's learning curve as a PNG: held-out pick success against training bins, both rankers, with the
    product's first and the hindsight best as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = [p["train_bins"] for p in results["curve"]]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(bins, [100 * p["logistic"] for p in results["curve"]], "o-", label="logistic ranker (shipped features)")
    ax.plot(bins, [100 * p["cnn"] for p in results["curve"]], "s-", label="CNN on the grasp-aligned scan + features")
    ax.axhline(100 * results["first"], color="grey", ls="--", label="the product's first")
    ax.axhline(100 * results["hindsight"], color="black", ls=":", label="best of four in hindsight")
    ax.set_xlabel("training bins (four grasps each)")
    ax.set_ylabel(f"held-out pick success, % ({results['held_out']} bins)")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
