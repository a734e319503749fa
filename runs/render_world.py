"""Save a picture of the world: scene camera, then one grasp's pre / post / outcome images.

    python -m runs.render_world [--seed 3] [--image-size 128] [--out docs/world.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw

import envs  # noqa: F401  (registers the environments)
from envs.rollout import act_until_done
from envs.scripted import PrivilegedGraspPolicy

LABELS = ("scene camera (policy view)", "pre-grasp scene", "post-grasp scene", "outcome (wrist camera)")


def grasp_triplet(seed: int, image_size: int) -> list[np.ndarray]:
    """Run the privileged grasp until one succeeds; return [scene, pre, post, outcome] images."""
    env = gym.make("KukaGrasp-v0", image_size=image_size, max_steps=12, record_triplet=True)
    policy = PrivilegedGraspPolicy(env)
    try:
        for attempt in range(20):
            obs, _ = env.reset(seed=seed + attempt)
            policy.reset()
            scene = obs["image"]
            _, info, _ = act_until_done(env, policy, obs)
            if info["is_success"]:
                return [scene, info["pre_image"], info["post_image"], info["outcome_image"]]
    finally:
        env.close()
    raise RuntimeError(f"no successful grasp in 20 scenes from seed {seed}")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("docs/world.png"))
    args = parser.parse_args(argv)
    images = grasp_triplet(args.seed, args.image_size)
    size, caption = args.image_size, 16
    canvas = Image.new("RGB", (size * len(images), size + caption), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (image, label) in enumerate(zip(images, LABELS, strict=True)):
        canvas.paste(Image.fromarray(image), (i * size, caption))
        draw.text((i * size + 3, 2), label, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
