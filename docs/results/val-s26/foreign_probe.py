"""Does the outcome show more than the goal? Signals that tell "the goal's object alone" from "with another", on
fresh grasp pools with ground truth (evaluation only; session 26).

    python docs/results/val-s26/foreign_probe.py runs/out/s26/seen-pool-380 runs/out/s26/unseen-pool-381 \
        > docs/results/val-s26/foreign-probe.txt

Pools: ``runs.collect --objects seen --grasps 1400 --seed 380 --num-objects 5 --image-size 64 --max-steps 12 --policy
checkpoints/policies/qtopt-indiscriminate/checkpoint --shard-size 200 --workers 2`` (unseen: seed 381). For every
single-object grasp of an object grasped at least twice, the goal is another grasp of it (positives, as
``runs.eval_reward``); for every multi-object grasp, a single grasp of one of its objects
(``rewards.quality.with_another_pairs``). Printed: ROC-AUC of each signal at telling the two apart (1 = perfect),
then what the shipped regrasp threshold (0.8086) pays with each foreign-share limit.
"""

from __future__ import annotations

import sys

import numpy as np

from common.stats import roc_auc
from rewards.grasp2vec import Grasp2VecReward
from rewards.quality import load_labelled_outcomes, make_pairs, multi_object_outcomes, with_another_pairs

THRESHOLD = 0.8086  # the shipped regrasp policy's
CELL_COSINES = (0.5, 0.6, 0.7, 0.8)


def main() -> None:
    for root in sys.argv[1:]:
        outcomes, objects, apertures = load_labelled_outcomes(root, "all", 0, None)
        multi, lifted, multi_apertures = multi_object_outcomes(root, 100_000)
        pairs = make_pairs(objects, seed=0)
        same = pairs.label.astype(bool)
        goal, alone = pairs.goal[same], pairs.outcome[same]
        goal_m, with_another, _ = with_another_pairs(objects, lifted, seed=0)
        reward = Grasp2VecReward(presence="none")
        units = reward.embed(outcomes)
        goals = np.concatenate([units[goal], units[goal_m]])
        images = np.concatenate([outcomes[alone], multi[with_another]])
        label = np.r_[np.ones(len(alone)), np.zeros(len(with_another))]
        cosine = np.sum(goals * reward.embed(images), axis=1)
        print(f"{root}: {len(alone)} pairs of the goal's object alone, {len(with_another)} with another")
        print(f"  cosine of the embeddings: ROC-AUC {roc_auc(cosine, label):.3f}")
        goal_images = np.concatenate([outcomes[goal], outcomes[goal_m]])
        norms = [np.linalg.norm(reward.encoder(x), axis=1) for x in (goal_images, images)]  # raw pooled φ_o
        print(f"  norm of φ_o(outcome) / norm of φ_o(goal) (smaller = alone): ROC-AUC "
              f"{roc_auc(-norms[1] / norms[0], label):.3f}")
        aperture = np.concatenate([apertures[alone], multi_apertures[with_another]])
        print(f"  measured gripper aperture (smaller = alone): ROC-AUC {roc_auc(-aperture, label):.3f}")
        shares = {}
        for cell in CELL_COSINES:
            shares[cell] = Grasp2VecReward(presence="none", foreign_cosine=cell).foreign_shares(images, goals)
            print(f"  foreign share, cells below cosine {cell}: ROC-AUC {roc_auc(-shares[cell], label):.3f}, "
                  f"median alone {np.median(shares[cell][label == 1]):.3f}, with another "
                  f"{np.median(shares[cell][label == 0]):.3f}")
        kept = cosine >= THRESHOLD
        for limit in (1.0, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55):
            paid = kept & (shares[0.7] <= limit)
            print(f"  cosine >= {THRESHOLD} and foreign share (0.7) <= {limit}: keeps {paid[label == 1].mean():.3f} "
                  f"of the goal alone, {paid[label == 0].mean():.3f} of the goal with another")


if __name__ == "__main__":
    main()
