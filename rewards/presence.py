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

MIDAIR_MOVES = 8  # at most this many moves towards the random spot before closing


def empty_gripper_images(count: int, objects: str = "seen", num_objects: int = 5, image_size: int = 64,
                         seed: int = 0) -> np.ndarray:
    """Outcome images (count, S, S, 3) uint8 of grasps closed in mid-air at the episode's start height.

    Each episode drops ``num_objects`` objects (so the bin below looks as in real attempts), picks
    a spot and wrist angle uniformly over the drop zone — as the indiscriminate collector does —
    and moves there horizontally, without descending, using only the observed gripper state; then
    it closes: the world lifts the empty gripper and renders the wrist camera. The wrist view
    depends on where the gripper is, so the spots must cover the bin like real grasps do.
    """
    from envs.grasp_env import KukaGraspEnv

    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    rng = np.random.default_rng(seed)
    env = KukaGraspEnv(objects=objects, num_objects=num_objects, image_size=image_size,
                       max_steps=MIDAIR_MOVES + 2)
    layout, arm = env.config.layout, env.config.arm
    images = []
    try:
        while len(images) < count:
            observation, _ = env.reset(seed=int(rng.integers(2**31)))
            target = np.array([rng.uniform(*layout.drop_x), rng.uniform(*layout.drop_y)])
            yaw = rng.uniform(-np.pi / 2, np.pi / 2)
            ended = False
            for _ in range(MIDAIR_MOVES):
                gripper = observation["gripper"]
                step = np.clip((target - gripper[:2]) / arm.max_translation, -1, 1)
                turn = np.clip((yaw - gripper[3]) / arm.max_yaw, -1, 1)
                observation, _, terminated, truncated, _ = env.step(np.array([step[0], step[1], 0.0, turn, -1.0]))
                ended = terminated or truncated  # a fault (e.g. an object thrown out) ends it early
                if ended:
                    break
            if not ended:
                _, _, _, _, info = env.step(np.array([0.0, 0.0, 0.0, 0.0, 1.0]))
                if "outcome_image" in info and info.get("fault") is None:
                    images.append(info["outcome_image"])
    finally:
        env.close()
    return np.stack(images)
