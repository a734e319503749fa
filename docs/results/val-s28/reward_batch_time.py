"""CPU time of the shipped Grasp2Vec reward's ``batch()`` on 512 contexts, ungated, one thread (session 28).

    (for c in a7fae83 1283ad6; do git checkout -q $c -- rewards/grasp2vec.py rewards/similarity.py;
     PYTHONPATH=. python docs/results/val-s28/reward_batch_time.py $c | grep ms; done;
     git checkout -q HEAD -- rewards;
     PYTHONPATH=. python docs/results/val-s28/reward_batch_time.py 01860b0 | grep ms) \
        > docs/results/val-s28/reward-batch-time.txt

Random 64 px images (50 goals, 512 distinct outcomes); the median of five calls after a warm-up, on the reward code
of a7fae83 (before session 28), 1283ad6 (the foreign share read in every batch) and 01860b0 (read when needed).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from common.protocols import GraspContext
from rewards import make_reward


def main(label: str) -> None:
    torch.set_num_threads(1)
    images = np.random.default_rng(0).integers(0, 255, (562, 64, 64, 3), dtype=np.uint8)
    contexts = [GraspContext(images[i % 50], images[50 + i]) for i in range(512)]
    reward = make_reward("grasp2vec")
    reward.batch(contexts[:8])
    times = []
    for _ in range(5):
        start = time.process_time()
        reward.batch(contexts)
        times.append(time.process_time() - start)
    print(f"{label}: {1000 * sorted(times)[2]:.0f} ms per 512 contexts (median of 5)")


if __name__ == "__main__":
    main(sys.argv[1])
