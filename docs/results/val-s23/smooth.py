"""Session 23 probe: do the networks' own scores around a candidate (the Q-landscape's shape) tell the product's
four grasps apart better than the score at the candidate? Offline, 5-fold cross-validation over session 22's 600
bins (the first observations kept by its looks probe); simulator outcomes only score the picks.

    PYTHONPATH=. python docs/results/val-s23/smooth.py     # reads runs/out/s22/looks-block8 and 9 (session 22)
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from agents.qtopt.ranking import candidate_features, held_out_scores, load_product, scan_geometry
from agents.ranker_data import read_candidates
from common.protocols import GraspContext
from rewards.registry import make_reward

torch.set_num_threads(1)
product, _ = load_product("checkpoints/policies/qtopt-grasp2vec-product/checkpoint")
space, geometry = product.policy.space, scan_geometry(product)
blocks = {"runs/out/ranker/block8": "runs/out/s22/looks-block8", "runs/out/ranker/block9": "runs/out/s22/looks-block9"}
reward = make_reward("grasp2vec", thresholded=True)
rng = np.random.default_rng(0)
SCALES = [float(s) for s in sys.argv[1:]] or [0.03, 0.06, 0.12]
offsets = {s: rng.normal(0, s, (16, 3)) for s in SCALES}
x, y, extra, success, another, nothing, mismatch = [], [], [], [], [], [], 0
for folder, looks in blocks.items():
    for i, (row, arrays) in enumerate(read_candidates([folder])):
        with np.load(f"{looks}/bin-{i:04d}.npz") as seen:
            image = seen["image"]
            if not np.array_equal(seen["heightmap"], arrays["heightmap"]):
                mismatch += 1
        c = np.asarray(row["candidates"])
        x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], c, np.asarray(row["logits"]), space,
                                    geometry))
        y.append(reward.batch([GraspContext(goal_image=arrays["goal"], outcome_image=o, lifted=(), target=None)
                               for o in arrays["outcome_images"]]))
        batch = {"image": image[None], "heatmap": arrays["heatmap"][None], "heightmap": arrays["heightmap"][None]}
        with torch.no_grad():
            maps = [m.q.eval().feature_map(m.inputs(batch)) for m in product.members]
            cols = []
            for s in SCALES:
                poses = np.clip(c[:, None, :] + offsets[s][None], -1, 1).reshape(1, -1, 3)
                t = torch.as_tensor(poses, dtype=torch.float32)
                for m, f in zip(product.members, maps, strict=True):
                    lg = m.candidate_scores(f, t)[0].numpy().reshape(len(c), -1)
                    cols += [lg.mean(1), lg.min(1), lg.std(1)]
        extra.append(np.stack(cols, 1))
        o = row["outcomes"]
        success.append([v["success"] for v in o])
        another.append([v["target_lifted"] and v["lifted"] > 1 for v in o])
        nothing.append([v["lifted"] == 0 for v in o])
x, y, extra = np.stack(x), np.asarray(y, np.float32), np.stack(extra).astype(np.float32)
success, another, nothing = (np.asarray(a, np.float32) for a in (success, another, nothing))
rows = np.arange(len(x))
print(f"bins {len(x)}, heightmap mismatches with the looks probe: {mismatch}")


def report(name: str, picks: np.ndarray) -> None:
    print(f"{name:40s} success {success[rows, picks].mean():.3f}  with-another {another[rows, picks].mean():.3f}"
          f"  nothing {nothing[rows, picks].mean():.3f}")


report("first", np.zeros(len(x), int))
report("base features", held_out_scores(x, y, 0.1).argmax(1))
for j, s in enumerate(SCALES):
    part = extra[..., j * 6:(j + 1) * 6]
    report(f"+ smoothed logits at {s}", held_out_scores(np.concatenate([x, part], -1), y, 0.1).argmax(1))
    report(f"  member-0 mean at {s} alone", part[..., 0].argmax(1))
    report(f"  product mean at {s} alone", (part[..., 0] + 0.5 * part[..., 3]).argmax(1))
report("+ all smoothed", held_out_scores(np.concatenate([x, extra], -1), y, 0.1).argmax(1))
report("+ all smoothed, truth labels", held_out_scores(np.concatenate([x, extra], -1), success, 0.1).argmax(1))
np.savez("runs/out/s23/smooth.npz", x=x, y=y, extra=extra, success=success, another=another, nothing=nothing)
