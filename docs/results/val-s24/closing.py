"""Session 24 probes: does carrying a chosen grasp out differently help the product's grasps? Two changes to how
the pose follower closes, each run on session 22's seed block 8 (300 bins of the label-free product's candidates,
``runs/out/ranker/block8``), every bin reset from its seed exactly as it was collected:

- ``exact``: every candidate as collected, recording how far the end effector was from the pose (mm), the wrist
  from its angle and the gripper above the bottom when it closed (the baseline; it reproduces the collection's
  outcomes);
- ``tolerance MM``: every candidate, but the gripper does not close while it is more than MM mm from the pose
  (it keeps centring) unless the episode's step limit is near;
- ``slow PERCENT``: every candidate, but once a full step (5 cm) would end within ``SLOW_ABOVE`` m of the bottom,
  the gripper descends at PERCENT % of that speed, so that the fingers push less of what they meet (the follower's
  stall test, made for full steps, is overruled while the gripper still descends by ``SLOW_STALLED`` a step);
- ``stall MM``: the product's first, and when its descent stalls at least MM mm above the bottom (the fingers rest
  on something: the robot's own sensing), the product's second instead, approached from a 5 cm hover.

    PYTHONPATH=. python docs/results/val-s24/closing.py exact docs/results/val-s24/closing-exact.json
    PYTHONPATH=. python docs/results/val-s24/closing.py tolerance 3 docs/results/val-s24/closing-tolerance3.json
    PYTHONPATH=. python docs/results/val-s24/closing.py stall 30 docs/results/val-s24/closing-stall30.json
    PYTHONPATH=. python docs/results/val-s24/closing.py slow 30 docs/results/val-s24/closing-slow30.json
    PYTHONPATH=. python docs/results/val-s24/closing.py summary docs/results/val-s24/closing-*.json
    PYTHONPATH=. python docs/results/val-s24/closing.py features docs/results/val-s24/closing-exact.json

``features``: how much the shipped logistic ranker (5-fold over the 300 bins) gains from what the close itself
showed (its height above the bottom, and its distance from the pose: known only after the grasp, an upper bound
for any prediction of them).

Two processes, each on half the bins (about 4 minutes a run on the 2-core VM).
"""

from __future__ import annotations

import json
import os
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

FOLDER, BINS, EVERY = "runs/out/ranker/block8", 300, 10
PRODUCT = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
STALL_HOVER, STALL_ALIGN_STEPS, STEPS_TO_SPARE = 0.05, 3, 5
SLOW_ABOVE = 0.05  # m above the bottom where ``slow`` mode slows the descent
SLOW_STALLED, SLOW_CLOSE_ABOVE = 0.002, 0.015  # m: a slow step still descending; a close this high is a stall


class Recorder:
    """A policy around the follower of one pose (or of the next pose, after a high stall, in ``stall`` mode)."""

    def __init__(self, poses: list[np.ndarray], mode: str, mm: float, world: Any, approach: Any,
                 max_steps: int) -> None:
        from envs.grasp_pose import ApproachConfig, PoseFollower, PoseSpace

        self.poses, self.mode, self.limit, self.max_steps = poses, mode, mm / 1000, max_steps
        self.speed, self.last_z = mm / 100, np.inf  # slow mode: the fraction of the top speed; the last height
        self.world, self.space, self.retry = world, PoseSpace(world), ApproachConfig(hover=STALL_HOVER,
                                                                                      max_align_steps=STALL_ALIGN_STEPS)
        self.follower, self.steps, self.at_close, self.switched = PoseFollower(world, approach), 0, None, False
        self.follower.start(*self.space.to_pose(poses[0]))

    def reset(self) -> None:
        pass

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        from envs.grasp_pose import PoseFollower, wrap_half_turn

        self.steps += 1
        action = self.follower.act(observation)
        gripper = np.asarray(observation["gripper"], np.float64)
        follower, arm = self.follower, self.world.arm
        error = follower.target[:2] - gripper[:2]
        height = gripper[2] - follower.target[2]
        spare = self.max_steps - self.steps
        turn = wrap_half_turn(follower.yaw - gripper[3]) / arm.max_yaw
        # instead of closing: keep centring and turning on the way down
        go_on = np.clip([*(error / arm.max_translation), -1.0, turn, -1.0], -1, 1).astype(np.float32)
        if action[4] > 0 and self.mode == "tolerance" and np.linalg.norm(error) > self.limit and spare >= 1:
            action = go_on
        elif self.mode == "slow" and height - arm.max_translation < SLOW_ABOVE:
            still_moving = self.last_z - gripper[2] > SLOW_STALLED
            if action[4] > 0 and height > SLOW_CLOSE_ABOVE and still_moving and spare >= 1:
                action = go_on  # a slow step is no stall
            if action[4] <= 0:
                action = action.copy()
                action[2] = max(float(action[2]), -self.speed)
        elif (action[4] > 0 and self.mode == "stall" and not self.switched and height >= self.limit
              and spare >= STEPS_TO_SPARE):
            self.switched = True
            self.follower = PoseFollower(self.world, self.retry)
            self.follower.start(*self.space.to_pose(self.poses[1]))
            action = self.follower.act(observation)
        self.last_z = gripper[2]
        if action[4] > 0 and self.at_close is None:
            self.at_close = [float(np.linalg.norm(error) * 1000), float(np.degrees(abs(wrap_half_turn(
                follower.yaw - gripper[3])))), float(height * 1000)]
        return action


def run_bins(job: tuple[str, float, int, int]) -> list[dict[str, Any]]:
    """Carry out the bins [start, stop) in one process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from agents.qtopt.ranking import load_product
    from agents.ranker_data import CANDIDATES_FILE, candidate_env
    from envs.rollout import play_episode

    mode, mm, start, stop = job
    product, card = load_product(PRODUCT)
    data = json.loads(Path(FOLDER, CANDIDATES_FILE).read_text())
    env = candidate_env(card, data["settings"]["objects"], data["settings"]["goal_seed"])
    world, max_steps, rows = env.unwrapped.config, env.unwrapped.max_steps, []
    for i in range(start, stop):
        if i % EVERY == 0 or i == start:
            env.unwrapped.world.rebuild()  # as the collection did at each block's start
        row = data["bins"][i]
        poses = [np.asarray(p) for p in row["candidates"]]
        for k in range(len(poses)) if mode != "stall" else [0]:
            policy = Recorder(poses[k:] if mode != "stall" else poses, mode, mm, world, product.config.approach,
                              max_steps)
            _, info, _ = play_episode(env, policy, row["seed"])
            truth = info["ground_truth"]
            rows.append({"bin": i, "k": k, "success": bool(info["is_success"]),
                         "collected": bool(row["outcomes"][k]["success"]), "lifted": len(truth["lifted"]),
                         "target_lifted": truth.get("target") in truth["lifted"], "steps": policy.steps,
                         "switched": policy.switched, "at_close": policy.at_close})
    env.close()
    return rows


def summary(paths: list[str]) -> None:
    for path in paths:
        rows = json.loads(Path(path).read_text())["rows"]
        s = np.array([r["success"] for r in rows])
        c = np.array([r["collected"] for r in rows])
        first = np.array([r["k"] == 0 for r in rows])
        line = (f"{path}: {len(rows)} grasps, success {s.mean():.3f} (as collected {c.mean():.3f}; wins / losses "
                f"{int((s & ~c).sum())} / {int((c & ~s).sum())}); the product's first {s[first].mean():.3f}")
        switched = np.array([r["switched"] for r in rows])
        if switched.any():
            line += f"; switched in {switched.mean():.3f}, success there {s[switched].mean():.3f} " \
                    f"(the first as collected there {c[switched].mean():.3f})"
        closes = [r for r in rows if r["at_close"] is not None]
        xy, dz = np.array([r["at_close"][0] for r in closes]), np.array([r["at_close"][2] for r in closes])
        cs = np.array([r["success"] for r in closes])
        line += f"\n  closed {len(closes) / len(rows):.3f}; median mm from the pose at the close {np.median(xy):.1f}"
        for lo, hi in ((0, 2), (2, 5), (5, 10), (10, 25)):
            m = (xy >= lo) & (xy < hi)
            line += f"\n  {lo}-{hi} mm from the pose: {m.sum()} closes, success {cs[m].mean():.3f}"
        for lo, hi in ((-50, 15), (15, 30), (30, 300)):
            m = (dz >= lo) & (dz < hi)
            line += f"\n  {lo}-{hi} mm above the bottom: {m.sum()} closes, success {cs[m].mean():.3f}"
        print(line)


def close_features(path: str) -> None:
    from agents.qtopt.ranking import candidate_features, held_out_scores, load_product, scan_geometry
    from agents.ranker_data import read_candidates, reward_labels
    from rewards.registry import make_reward

    product, _ = load_product(PRODUCT)
    space, geometry = product.policy.space, scan_geometry(product)
    reward = make_reward("grasp2vec", thresholded=True)
    closes = [r["at_close"] or [30.0, 0.0, 300.0] for r in json.loads(Path(path).read_text())["rows"]]
    distance, height = (np.array([c[i] for c in closes], np.float32).reshape(-1, 4, 1) / 1000 for i in (0, 2))
    x, y, success = [], [], []
    for row, arrays in read_candidates([FOLDER]):
        x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], np.asarray(row["candidates"]),
                                    np.asarray(row["logits"]), space, geometry))
        y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
        success.append([o["success"] for o in row["outcomes"]])
    x, y, success = np.stack(x), np.asarray(y, np.float32), np.asarray(success, np.float32)
    rows = np.arange(len(x))
    variants = {"the shipped features": x,
                "+ the close's height (and > 3 cm)": np.concatenate([x, height / 0.05, height > 0.03], -1),
                "+ its height and distance from the pose": np.concatenate([x, height / 0.05, height > 0.03,
                                                                           distance / 0.01], -1)}
    print(f"{len(x)} bins: the product's first {success[:, 0].mean():.3f}, hindsight {success.max(1).mean():.3f}")
    stalled = height[:, 0, 0] >= 0.03
    switched = np.where(stalled, success[:, 1], success[:, 0]).mean()
    print(f"the first stalls 30 mm or more up in {stalled.mean():.3f} of bins; there the first lifts the target alone "
          f"in {success[stalled, 0].mean():.3f}, the second (from a fresh reset) in {success[stalled, 1].mean():.3f}; "
          f"switching there, from fresh resets: {switched:.3f}")
    for name, features in variants.items():
        picks = held_out_scores(features.astype(np.float32), y, 0.1, 5).argmax(1)
        print(f"logistic ranker, {name}: {success[rows, picks].mean():.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2:])
    elif sys.argv[1] == "features":
        close_features(sys.argv[2])
    else:
        mode, mm, out = (sys.argv[1], 0.0, sys.argv[2]) if sys.argv[1] == "exact" else \
            (sys.argv[1], float(sys.argv[2]), sys.argv[3])
        with Pool(2) as pool:
            parts = pool.map(run_bins, [(mode, mm, 0, BINS // 2), (mode, mm, BINS // 2, BINS)])
        rows = [r for part in parts for r in part]
        Path(out).write_text(json.dumps({"command": " ".join(sys.argv), "folder": FOLDER, "rows": rows}))
        summary([out])
