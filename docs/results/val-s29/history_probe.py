"""Does an episode depend on the episodes its world ran before (session 29)? A probe.

    PYTHONPATH=. python docs/results/val-s29/history_probe.py 20 | grep -v '^argv' \
        > docs/results/val-s29/history-probe.txt

For N collection episodes (seed 390's episode seeds 10, 11, ...; the shipped learned indiscriminate policy, seeded per
episode as ``runs.collect`` seeds it), run the episode in a new world, and in a world that first ran the episode
before it (index − 1) in a one-grasp collection and in a ``--regrasp-same`` one. Compare what the records keep: the
actions, the first scene image, the outcome image, the lifted objects and the post-grasp bin image.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from agents.collection import policy_factory
from graspdata.config import CollectConfig
from graspdata.episode import episode_seed, policy_seed, run_episode, run_regrasp_same_episode
from graspdata.records import GraspRecord
from graspdata.worker import collector_env

POLICY = "checkpoints/policies/qtopt-indiscriminate/checkpoint"
SEED, FIRST = 390, 10


def episode(index: int, before: str) -> GraspRecord:
    """Episode ``index`` in a new world, after ``before`` ("plain" or "regrasp") ran episode ``index - 1`` in it."""
    config = CollectConfig(objects="seen", num_objects=5, image_size=64, max_steps=12, policy=POLICY, seed=SEED)
    make = policy_factory(POLICY)
    if before == "new":
        env = collector_env(config)
    else:
        env = collector_env(config, max_grasps=2 if before == "regrasp" else 1)
        run = run_regrasp_same_episode if before == "regrasp" else run_episode
        run(env, make(env, policy_seed(SEED, index - 1)), index - 1, episode_seed(SEED, index - 1))
        if before == "regrasp":  # the episode itself as a one-grasp world runs it, in the world the other one left
            env.unwrapped.max_grasps = 1
    record = run_episode(env, make(env, policy_seed(SEED, index)), index, episode_seed(SEED, index))
    env.close()
    return record


def main(count: int) -> None:
    differs: Counter[str] = Counter()
    for index in range(FIRST, FIRST + count):
        new = episode(index, "new")
        for before in ("plain", "regrasp"):
            other = episode(index, before)
            checks = {"actions": np.array_equal(new.actions, other.actions),
                      "first scene image": np.array_equal(new.observations["image"][0], other.observations["image"][0]),
                      "outcome image": np.array_equal(new.outcome_image, other.outcome_image),
                      "lifted objects": np.array_equal(new.truth.lifted, other.truth.lifted),
                      "post image": np.array_equal(new.post_image, other.post_image)}
            for name, same in checks.items():
                differs[f"after a {before:7s} episode | {name}"] += not same
    print(f"{count} episodes (seed {SEED}, indices {FIRST}..{FIRST + count - 1}), {POLICY}: how many differ from the "
          "same episode in a new world")
    for key in sorted(differs):
        print(f"  {key}: {differs[key]}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
