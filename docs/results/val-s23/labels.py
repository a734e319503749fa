"""Session 23 probe: which labels and which ranker pick best among the product's four candidates (offline, 5-fold
cross-validation over session 22's 600 collected bins; simulator outcomes are read only to score the picks).

    PYTHONPATH=. python docs/results/val-s23/labels.py runs/out/ranker/block8 runs/out/ranker/block9
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from agents.qtopt.ranking import LogisticRanker, candidate_features, held_out_scores, load_product, scan_geometry
from agents.ranker_data import read_candidates
from common.protocols import GraspContext
from rewards.registry import make_reward

torch.set_num_threads(1)
P = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
product, _ = load_product(P)
space, geometry = product.policy.space, scan_geometry(product)
data = read_candidates(sys.argv[1:])
raw = make_reward("grasp2vec", thresholded=False)
x, cos, success, target_lifted, lifted = [], [], [], [], []
for row, arrays in data:
    x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], np.asarray(row["candidates"]),
                                np.asarray(row["logits"]), space, geometry))
    cos.append(raw.batch([GraspContext(goal_image=arrays["goal"], outcome_image=o, lifted=(), target=None)
                          for o in arrays["outcome_images"]]))
    success.append([o["success"] for o in row["outcomes"]])
    target_lifted.append([o["target_lifted"] for o in row["outcomes"]])
    lifted.append([o["lifted"] for o in row["outcomes"]])
x, cos = np.stack(x), np.asarray(cos, np.float32)
success, target_lifted, lifted = (np.asarray(a, np.float32) for a in (success, target_lifted, lifted))
another = target_lifted * (lifted > 1)
nothing = (lifted == 0).astype(np.float32)
rows = np.arange(len(x))
recall98 = Path("checkpoints/grasp2vec/reward_calibration_recall98.json")
calibrations = {"default": raw.calibration.threshold, "recall98": json.loads(recall98.read_text())["threshold"]}
print(f"bins {len(x)}; thresholds {calibrations}")


def report(name: str, picks: np.ndarray) -> None:
    print(f"{name:34s} success {success[rows, picks].mean():.3f}  with-another {another[rows, picks].mean():.3f}  "
          f"nothing {nothing[rows, picks].mean():.3f}")


report("first", np.zeros(len(x), int))
report("hindsight best (truth)", success.argmax(1))
for tag, threshold in [*calibrations.items(), ("0.70", 0.70), ("0.75", 0.75), ("0.90", 0.90)]:
    y = (cos >= threshold).astype(np.float32)
    for l2 in (0.1,):
        report(f"labels {tag} (rate {y.mean():.2f}) l2 {l2}", held_out_scores(x, y, l2, 5).argmax(1))
report("labels truth success", held_out_scores(x, success, 0.1, 5).argmax(1))

# the learning curve: the shipped labels, each training fold cut to a fraction of its bins (rng 1)
y = (cos >= calibrations["default"]).astype(np.float32)
order = np.random.default_rng(0).permutation(len(x))
for fraction in (0.25, 0.5, 0.75, 1.0):
    picks = np.zeros(len(x), int)
    for fold in np.array_split(order, 5):
        train = np.setdiff1d(order, fold)
        train = train[np.random.default_rng(1).permutation(len(train))[:int(fraction * len(train))]]
        picks[fold] = LogisticRanker.fit(x[train], y[train], 0.1).scores(x[fold]).argmax(1)
    report(f"shipped labels, {fraction:.0%} of each training fold", picks)
