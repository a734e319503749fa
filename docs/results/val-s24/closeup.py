"""Session 24 probe: does a close, high-resolution look at each candidate grasp tell the product's four best grasps
apart better than the 4 mm scan? Offline, on the bins session 22/23 collected (each bin is reset again from its
seed; the candidates are not carried out again: their outcomes are in the collection).

The close look is the library's top-down height-map camera (:class:`envs.heightmap.HeightmapCamera`) placed
``HEIGHT`` m above the tray floor over the point where the candidate's fingers meet, rendering ``RENDER`` px over a
``2 * HALF`` m square (about 0.7 mm a pixel) into 1 mm cells: a wrist depth camera hovering over the chosen grasp.
Each look is cut into a grasp-aligned patch (``SIDE`` cells of ``STEP`` m, rows across the closing line).

    PYTHONPATH=. python docs/results/val-s24/closeup.py render runs/out/ranker/block8 runs/out/s24/close-block8.npz
    # and block9, block32, block33 (about 4 minutes for all 3,000 bins, two at a time)
    PYTHONPATH=. python docs/results/val-s24/closeup.py fit docs/results/val-s24/closeup-cv.json \
        runs/out/ranker/block8:runs/out/s24/close-block8.npz ...   # the four pairs; closeup-cv.txt, about 6 minutes
    PYTHONPATH=. python docs/results/val-s24/closeup.py figure docs/results/val-s24/closeup.png \
        runs/out/ranker/block8:runs/out/s24/close-block8.npz
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agents.qtopt.ranking import LogisticRanker, candidate_features, closing_lines, load_product, scan_geometry
from agents.ranker_data import CANDIDATES_FILE, candidate_env, read_candidates, reward_labels
from envs.heightmap import HEIGHT_UNIT, GridGeometry, HeightmapCamera, HeightmapConfig, aligned_patches
from rewards.registry import make_reward

PRODUCT = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
HEIGHT, HALF, RENDER, CELL = 0.25, 0.056, 160, 0.001  # camera height, half side (m), pixels, grid cell (m)
SIDE, STEP = 48, 0.002  # patch cells, metres per cell: 9.6 cm, the 4 mm scan patch's extent


def close_camera(env: object, point: np.ndarray) -> HeightmapCamera:
    """The library's height-map camera ``HEIGHT`` m over ``point`` (x, y) m, seeing a ``2 * HALF`` m square."""
    world = env.unwrapped.world
    layout = dataclasses.replace(world.config.layout, drop_x=(point[0] - HALF, point[0] + HALF),
                                 drop_y=(point[1] - HALF, point[1] + HALF))
    fov = float(np.degrees(2 * np.arctan(HALF / HEIGHT)))
    return HeightmapCamera(world.client, layout, HeightmapConfig(resolution=CELL, margin=0.0, camera_height=HEIGHT,
                                                                 render_size=RENDER, fov=fov))


def look(env: object, point: np.ndarray) -> tuple[np.ndarray, GridGeometry]:
    """(4, H, W) float32 (height in 5 cm units, colour 0–1) of a close look centred on ``point`` (x, y) m."""
    camera = close_camera(env, point)
    encoded = camera.render().encode().astype(np.float32)
    encoded[..., 0] *= HEIGHT_UNIT / 0.05
    encoded[..., 1:] /= 255.0
    return encoded.transpose(2, 0, 1), camera.geometry


def render(folder: str, out: str) -> None:
    product, card = load_product(PRODUCT)
    settings = json.loads((Path(folder) / CANDIDATES_FILE).read_text())["settings"]
    env = candidate_env(card, settings["objects"], settings["goal_seed"])
    space = product.policy.space
    patches, mismatches, start = [], 0, time.time()
    for n, (row, arrays) in enumerate(read_candidates([folder])):
        if n % settings["policy_every"] == 0:
            env.unwrapped.world.rebuild()
        observation, _ = env.reset(seed=row["seed"])
        mismatches += int(not np.array_equal(observation["heightmap"], arrays["heightmap"]))
        c = np.asarray(row["candidates"])
        fingers, _, _ = closing_lines(c, space)
        bin_patches = []
        for k in range(len(c)):
            maps, geometry = look(env, fingers[k])
            grasp = torch.tensor([[[fingers[k][0], fingers[k][1], c[k, 2] * np.pi / 2]]], dtype=torch.float32)
            bin_patches.append(aligned_patches(torch.as_tensor(maps)[None], geometry, grasp, SIDE, SIDE * STEP)[0, 0])
        patches.append(torch.stack(bin_patches).numpy().astype(np.float16))
        if n % 100 == 0:
            print(f"{folder}: bin {n}, {time.time() - start:.0f} s, heightmap mismatches {mismatches}", flush=True)
    env.close()
    np.savez_compressed(out, patches=np.stack(patches), mismatches=mismatches)
    print(f"{folder}: {len(patches)} bins, {time.time() - start:.0f} s, heightmap mismatches {mismatches}")


class GraspNet(nn.Module):
    """Three convolutions and pools on a grasp-aligned patch, flattened (where things lie relative to the fingers
    matters), beside the standardised features; one logit."""

    def __init__(self, side: int, features: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Linear(32 * (side // 8) ** 2 + features, 64), nn.ReLU(), nn.Dropout(0.2),
                                  nn.Linear(64, 1))

    def forward(self, p: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.conv(p).flatten(1), f], 1)).squeeze(1)


def fit(out: str, pairs: list[str]) -> None:
    """5-fold cross-validation over every bin of the ``FOLDER:CLOSE.npz`` pairs: the shipped logistic ranker, the
    GraspNet on the 4 mm scan's patch and on the close look's patch (both beside the shipped features)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "val-s23"))
    from patchnet import fit_scores, grasp_patches

    def fit_net(px: np.ndarray, train: np.ndarray, held: np.ndarray) -> np.ndarray:
        """A GraspNet's held-out scores; both mirror symmetries of a two-finger grasp at random in training,
        all four averaged at test."""
        return fit_scores(x, px, y, train, held, 12, model=lambda: GraspNet(px.shape[-1], x.shape[-1]), flips=(2, 3))

    product, _ = load_product(PRODUCT)
    space, geometry = product.policy.space, scan_geometry(product)
    reward = make_reward("grasp2vec", thresholded=True)
    x, p4, pc, y, outcome = [], [], [], [], []
    for pair in pairs:
        folder, close = pair.split(":")
        looks = np.load(close)["patches"]
        for n, (row, arrays) in enumerate(read_candidates([folder])):
            c = np.asarray(row["candidates"])
            x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space,
                                        geometry))
            p4.append(grasp_patches(arrays["heightmap"], c, space, geometry))
            pc.append(looks[n])
            y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
            outcome.append([[o["success"], o["target_lifted"] and o["lifted"] > 1, o["lifted"] == 0]
                            for o in row["outcomes"]])
    x, p4, pc = np.stack(x), np.stack(p4).astype(np.float32), np.stack(pc)
    y, outcome = np.asarray(y, np.float32), np.asarray(outcome, np.float32)
    torch.set_num_threads(2)
    folds = np.array_split(np.random.default_rng(0).permutation(len(x)), 5)
    picks = {name: np.zeros(len(x), int) for name in ("first", "logistic", "scan 4 mm", "close look")}
    for i, held in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        picks["logistic"][held] = LogisticRanker.fit(x[train], y[train]).scores(x[held]).argmax(1)
        picks["scan 4 mm"][held] = fit_net(p4, train, held).argmax(1)
        picks["close look"][held] = fit_net(pc, train, held).argmax(1)
        print(f"fold {i}: " + ", ".join(f"{k} {outcome[held, v[held], 0].mean():.3f}" for k, v in picks.items()),
              flush=True)
    rows = np.arange(len(x))
    result = {"bins": len(x), "hindsight": float(outcome[:, :, 0].max(1).mean()), "pairs": pairs, "rankers": {}}
    for name, pick in picks.items():
        chosen = outcome[rows, pick]
        win = int(((chosen[:, 0] == 1) & (outcome[rows, picks["logistic"], 0] == 0)).sum())
        loss = int(((chosen[:, 0] == 0) & (outcome[rows, picks["logistic"], 0] == 1)).sum())
        result["rankers"][name] = {"success": float(chosen[:, 0].mean()), "with_another": float(chosen[:, 1].mean()),
                                   "nothing": float(chosen[:, 2].mean()), "vs_logistic": [win, loss]}
        print(f"{name:12s} success {chosen[:, 0].mean():.3f}  with-another {chosen[:, 1].mean():.3f}  "
              f"nothing {chosen[:, 2].mean():.3f}  against logistic {win} / {loss}")
    Path(out).write_text(json.dumps({**result, "command": " ".join(sys.argv)}, indent=1))


def figure(out: str, pair: str, bins: int = 6) -> None:
    """The first ``bins`` bins' four candidates: the 4 mm scan's patch beside the close look's (colour; rows across
    the closing line), titled with the simulator's outcome."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(Path(__file__).parents[1] / "val-s23"))
    from patchnet import grasp_patches

    product, _ = load_product(PRODUCT)
    space, geometry = product.policy.space, scan_geometry(product)
    folder, close = pair.split(":")
    looks = np.load(close)["patches"]
    fig, axes = plt.subplots(bins, 8, figsize=(12, 1.6 * bins))
    for n, (row, arrays) in enumerate(read_candidates([folder])[:bins]):
        scan = grasp_patches(arrays["heightmap"], np.asarray(row["candidates"]), space, geometry)
        for k, outcome in enumerate(row["outcomes"]):
            verdict = "target" if outcome["success"] else ("nothing" if outcome["lifted"] == 0 else "other/two")
            for j, patch in enumerate((scan[k], looks[n, k].astype(np.float32))):
                ax = axes[n, 2 * k + j]
                ax.imshow(np.clip(patch[1:].transpose(1, 2, 0), 0, 1))
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"#{k} {'4 mm' if j == 0 else 'close'}: {verdict}", fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=60)
    plt.close(fig)


if __name__ == "__main__":
    if sys.argv[1] == "render":
        render(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "fit":
        fit(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "figure":
        figure(sys.argv[2], sys.argv[3])
