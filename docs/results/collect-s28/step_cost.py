"""What one physics step costs in a settled bin, and what the objects add to the arm's cost (session 28, issue #14).

    PYTHONPATH=. python docs/results/collect-s28/step_cost.py 20 | grep -v '^argv' \
        > docs/results/collect-s28/step-cost.txt

For N seeded bins (``KukaGraspEnv`` defaults, 5 seen objects): CPU ms per ``stepSimulation`` over 120 steps (the
hold's length) with the arm still at home and (a) the settled objects as the world leaves them, (b) the same objects
put to sleep (``ACTIVATION_STATE_SLEEP``, a probe: the world never does this), then (c) with the objects removed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from envs.grasp_env import KukaGraspEnv

STEPS = 120


def ms_per_step(world) -> float:
    start = time.process_time()
    world.step(STEPS)
    return 1000 * (time.process_time() - start) / STEPS


def main(bins: int) -> None:
    env = KukaGraspEnv(image_size=64)
    world, rows = env.unwrapped.world, []
    client = world.client
    for seed in range(bins):
        env.reset(seed=seed)
        awake = ms_per_step(world)
        for body in world.objects:
            client.changeDynamics(body, -1, activationState=client.ACTIVATION_STATE_ENABLE_SLEEPING)
            client.changeDynamics(body, -1, activationState=client.ACTIVATION_STATE_SLEEP)
        asleep = ms_per_step(world)
        for body in reversed(world.objects):
            client.removeBody(body)
        world.objects = []
        rows.append((awake, asleep, ms_per_step(world)))
        world.rebuild()
    env.close()
    table = np.array(rows)
    for name, column in zip(("5 settled objects", "the same asleep", "arm alone"), table.T, strict=True):
        print(f"{name:18s}: {np.median(column):.3f} ms/step median (min {column.min():.3f}, max {column.max():.3f}) "
              f"over {bins} bins")


if __name__ == "__main__":
    main(int(sys.argv[1]))
