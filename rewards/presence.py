"""How a label-free reward knows that nothing was lifted: an "object in gripper" probe.

A learned reward sees only images, never the simulator's ``lifted`` list. Like the paper, we
learn whether the outcome image shows an object in the gripper by contrasting outcome images
of grasps with images of an *empty* gripper. Empty-gripper images need no labels: the robot
closes its gripper in mid-air, well above the bin, lifts and takes the wrist picture — nothing
can be held, by construction (:func:`empty_gripper_images`). Images with an object are the
outcome images of the grasp dataset the embedding itself is trained on. A logistic-regression
probe on the reward's own normalised outcome embedding separates the two (fitted in
:mod:`rewards.calibration`), so the gate costs one dot product per image.
"""

from __future__ import annotations

import numpy as np

MIDAIR_MOVES = (1, 4)  # range of random horizontal moves before closing in mid-air


def empty_gripper_images(count: int, objects: str = "seen", num_objects: int = 5, image_size: int = 64,
                         seed: int = 0) -> np.ndarray:
    """Outcome images (count, S, S, 3) uint8 of grasps closed in mid-air at the episode's start height.

    Each episode drops ``num_objects`` objects (so the bin below looks as in real attempts), moves
    the gripper horizontally and turns the wrist at random for a few steps without descending,
    then closes: the world lifts the empty gripper and renders the wrist camera.
    """
    from envs.grasp_env import KukaGraspEnv

    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    rng = np.random.default_rng(seed)
    env = KukaGraspEnv(objects=objects, num_objects=num_objects, image_size=image_size,
                       max_steps=MIDAIR_MOVES[1] + 2)
    images = []
    try:
        while len(images) < count:
            env.reset(seed=int(rng.integers(2**31)))
            for _ in range(int(rng.integers(*MIDAIR_MOVES, endpoint=True))):
                env.step(np.array([*rng.uniform(-1, 1, 2), 0.0, rng.uniform(-1, 1), -1.0]))
            _, _, _, _, info = env.step(np.array([0.0, 0.0, 0.0, 0.0, 1.0]))
            if "outcome_image" in info:
                images.append(info["outcome_image"])
    finally:
        env.close()
    return np.stack(images)
