"""What the gripper feels before it lifts (issue #14, session 27): is "closed on nothing" known at the close?

    PYTHONPATH=. python docs/results/val-s27/close_probe.py seen 200 docs/results/val-s27/close-probe-seen.json
    PYTHONPATH=. python docs/results/val-s27/close_probe.py summary docs/results/val-s27/close-probe-*.json \
        > docs/results/val-s27/close-probe.txt

Runs the ranked row (``qtopt-grasp2vec-ranked``) on validation trials 0..N-1 with session 21's trial loop (a fresh
simulation every 10 trials, as the benchmark's chunks) and reads the fingertip distance twice per grasp: right after
the fingers close, before the lift (a read that changes nothing), and after the lift and hold (the benchmark's sensed
bit). Each run writes its trials to OUT; ``summary`` compares the aperture at the close with the same close in
mid-air over an empty bin (the reference: what "nothing between the fingers" reads at that moment) and prints, by
how each trial ended (``benchmark.failures.ending``), how often the fingers were sensed holding something at the
close. A probe: it reads the simulator's outcome to score, and nothing here is a policy.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from agents.loading import load_policy
from benchmark.failures import ending
from envs.world import GraspWorld

_spec = importlib.util.spec_from_file_location("probes21", Path(__file__).parents[1] / "val-s21" / "probes.py")
probes21 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probes21)

ROW = "qtopt-grasp2vec-ranked"
CHECKPOINT = "checkpoints/policies/qtopt-grasp2vec-ranked/checkpoint"


def main(objects: str, trials: int, out: str) -> None:
    at_close: list[float] = []
    in_grasp = [False]
    original_grasp, original_move = GraspWorld.grasp, GraspWorld._move_to_height

    def grasp(world: GraspWorld):  # noqa: ANN202
        in_grasp[0] = world is env.unwrapped.world  # an episode's grasp, not a (re)build's closed-aperture measurement
        try:
            return original_grasp(world)
        finally:
            in_grasp[0] = False

    def move_to_height(world: GraspWorld, height: float, steps: int) -> None:  # a grasp's one move: the lift
        if in_grasp[0]:
            at_close.append(world.arm.fingertip_distance())
        original_move(world, height, steps)

    env = probes21.product_env(objects, ROW)
    GraspWorld.grasp, GraspWorld._move_to_height = grasp, move_to_height
    results = []
    for start in range(0, trials, probes21.CHUNK):
        before = len(at_close)
        chunk = probes21.run_trials(env, min(probes21.CHUNK, trials - start), lambda: load_policy(CHECKPOINT)[0],
                                    first=start)
        closes = at_close[before:]
        grasped = [r for r in chunk if r["grasp_attempted"]]
        if len(closes) != len(grasped):
            raise RuntimeError(f"{len(closes)} closes for {len(grasped)} grasps in trials {start}..")
        for result, aperture in zip(grasped, closes, strict=True):
            result["aperture_at_close"] = aperture
        results.extend(chunk)
    Path(out).write_text(json.dumps({"objects": objects, "row": ROW, "trials": results},
                                    default=str, indent=1))


def empty_close_aperture() -> float:
    """The fingertip distance after ``close_steps`` of closing in mid-air above the empty bin (m)."""
    world = GraspWorld()
    try:
        world.arm.reset(world.home_position())
        world.arm.set_fingers(0.0)
        world.step(world.config.physics.close_steps)
        return world.arm.fingertip_distance()
    finally:
        world.close()


def summary(paths: list[str]) -> None:
    reference = empty_close_aperture()
    margin = reference + GraspWorld().config.arm.grasp_margin
    print(f"empty close (mid-air, after close_steps): {reference:.4f} m; "
          f"sensed at the close = aperture > {margin:.4f} m")
    for path in paths:
        run = json.loads(Path(path).read_text())
        grasped = [t for t in run["trials"] if "aperture_at_close" in t]
        print(f"\n{path}: {run['objects']}, {run['row']}, {len(run['trials'])} trials, {len(grasped)} closed")
        print("ending | trials | sensed at the close | aperture at the close, median [10th, 90th pct] (cm)")
        for name in sorted({ending(t) for t in grasped}):
            values = np.array([t["aperture_at_close"] for t in grasped if ending(t) == name])
            low, mid, high = np.percentile(values, [10, 50, 90]) * 100
            print(f"{name} | {len(values)} | {int((values > margin).sum())} | {mid:.1f} [{low:.1f}, {high:.1f}]")


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2:])
    else:
        main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
