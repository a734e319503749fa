"""Lift, put back, lift again at the same pose: how often is it the same object (session 28, issue #17)? A probe.

    PYTHONPATH=. python docs/results/val-s28/regrasp_same.py 300 | grep -v '^argv' \
        > docs/results/val-s28/regrasp-same.txt
    PYTHONPATH=. python docs/results/val-s28/regrasp_same.py 300 90 | grep -v '^argv' \
        > docs/results/val-s28/regrasp-same-turned.txt
    PYTHONPATH=. python docs/results/val-s28/regrasp_same.py 100 0 0.07 | grep -v '^argv' \
        > docs/results/val-s29/regrasp-same-release-0.07.txt      # and 0.11 (the default): session 29

Two outcome images of one object lifted twice would tie φ_o's views of that object together without labels. For
N seeded bins (seen objects, 5 a bin, collection seeds 3,900,000+; no benchmark seed), the shipped learned
indiscriminate policy grasps (``KukaGraspEnv(max_grasps=2)``), the lift is put back (lowered to 11 cm, released,
objects settled) and the same pose is grasped again, or, with TURN degrees, the wrist turned by TURN about the same
grasp point (the fingers close 2.4 cm beside the end effector, ``PoseSpace.finger_points``): a second view of
the object held the other way. A third argument puts the lift back from another end-effector height (m) than
``LayoutConfig.release_height`` (0.11). The robot's own bit is ``grasp_sensed`` (the aperture) on both
lifts; ground truth is read only to score whether the two lifts held the same single object.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import torch

from agents.loading import load_policy
from envs.config import LayoutConfig, WorldConfig
from envs.grasp_env import RELEASE_ACTION, KukaGraspEnv, awaits_keep_or_release
from envs.grasp_pose import PosePolicy, PoseSpace, wrap_half_turn

POLICY = "checkpoints/policies/qtopt-indiscriminate/checkpoint"
FIRST_SEED = 3_900_000


def grasp(env: KukaGraspEnv, policy, observation: dict) -> tuple[dict, dict, bool]:
    """Step ``policy`` until a lift awaits keep-or-release or the episode ends: (observation, info, lifted)."""
    while True:
        observation, _, terminated, truncated, info = env.step(policy.act(observation))
        if awaits_keep_or_release(observation):
            return observation, info, True
        if terminated or truncated:
            return observation, info, False


def turned(space: PoseSpace, pose: np.ndarray, degrees: float) -> np.ndarray:
    """The normalised ``pose`` (3,) with the wrist turned by ``degrees`` about the same grasp point."""
    fingers = space.finger_points(torch.as_tensor(pose)).numpy()
    return space.pose_at_fingers(fingers, wrap_half_turn(space.to_pose(pose)[2] + np.radians(degrees)))


def main(bins: int, turn: float = 0.0, release_height: float = LayoutConfig.release_height) -> None:
    world = WorldConfig(layout=LayoutConfig(release_height=release_height))
    env = KukaGraspEnv(objects="seen", num_objects=5, image_size=64, max_steps=12, max_grasps=2, world_config=world)
    space = PoseSpace(env.config)
    chooser, _ = load_policy(POLICY)
    counts: Counter[str] = Counter()
    for index in range(bins):
        observation, _ = env.reset(seed=FIRST_SEED + index)
        chooser.reset()
        observation, first, waiting = grasp(env, chooser, observation)
        if not waiting:
            counts["first attempt ended without a lift to decide on"] += 1
            continue
        pose = turned(space, chooser.chosen, turn) if turn else chooser.chosen.copy()
        observation, _, terminated, _, _ = env.step(RELEASE_ACTION)
        if terminated:
            counts["the put-back faulted"] += 1
            continue
        again = PosePolicy(lambda _observation, pose=pose: pose, env.config)
        _, second, _ = grasp(env, again, observation)
        sensed = (bool(first["grasp_sensed"]), bool(second["grasp_sensed"]))
        one, two = first["ground_truth"]["lifted"], second["ground_truth"]["lifted"]
        if len(one) == 1 and two == one:
            what = "the same object alone"
        elif len(one) == 1 and one[0] in two:
            what = "the same object with another"
        elif two:
            what = "other objects" if len(one) == 1 else "first lift held 0 or 2+ objects"
        else:
            what = "nothing" if len(one) == 1 else "first lift held 0 or 2+ objects"
        counts[f"sensed both: {sensed == (True, True)!s:5s} | second lift: {what}"] += 1
    env.close()
    print(f"{bins} bins, {POLICY}, seeds {FIRST_SEED}+, second grasp turned by {turn:g} degrees"
          + ("" if release_height == LayoutConfig.release_height else f", put back from {release_height:g} m"))
    for key, count in sorted(counts.items()):
        print(f"  {key}: {count}")
    both = {k: v for k, v in counts.items() if k.startswith("sensed both: True")}
    same = sum(v for k, v in both.items() if k.endswith("the same object alone"))
    print(f"pairs both sensed: {sum(both.values())}; the same object alone in both lifts: {same} "
          f"({100 * same / max(sum(both.values()), 1):.1f} %)")


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0,
         float(sys.argv[3]) if len(sys.argv) > 3 else LayoutConfig.release_height)
