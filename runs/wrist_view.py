"""How much of a lifted object does the wrist camera see? ``python -m runs.wrist_view --fov 40 55 70``

The learned rewards judge a grasp from its outcome (wrist) image alone, so an object that hangs
outside the wrist camera's view looks like an empty gripper. This command grasps with the random
scripted collector until ``--lifts`` attempts have lifted exactly one object, and for each of them
renders the wrist image once per ``--fov`` (degrees) with its segmentation mask. It reports, per
field of view, the mean share of the image the lifted object covers and the share of lifts where
it covers less than ``--hidden`` of the image (the "empty-looking" lifts), as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.io import atomic_write_json
from common.provenance import command_line, machine_description
from envs.grasp_env import KukaGraspEnv
from envs.rollout import play_episode
from envs.scripted import RandomGraspPolicy


def lifted_object_coverage(objects: str, lifts: int, fovs: list[float], image_size: int, seed: int) -> np.ndarray:
    """(lifts, len(fovs)) share of the wrist image showing the one lifted object, per field of view."""
    env = KukaGraspEnv(objects=objects, image_size=image_size, max_steps=12)
    policy = RandomGraspPolicy(env.config, seed=seed)
    coverage: list[list[float]] = []
    episode = 0
    with tqdm(total=lifts, desc="single-object lifts") as bar:
        while len(coverage) < lifts:
            _, info, _ = play_episode(env, policy, seed * 1_000_000 + episode)
            episode += 1
            if len(info.get("ground_truth", {}).get("lifted", ())) != 1:
                continue
            world = env.world
            camera = world.wrist_camera.config
            row = []
            for fov in fovs:
                world.wrist_camera.config = dataclasses.replace(camera, wrist_fov=fov)
                _, mask = world.render_wrist(with_mask=True)
                row.append(float(np.isin(mask, world.objects).mean()))
            world.wrist_camera.config = camera
            coverage.append(row)
            bar.update()
    env.close()
    return np.asarray(coverage)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m runs.wrist_view", description=__doc__.split("\n")[0])
    parser.add_argument("--objects", default="unseen")
    parser.add_argument("--lifts", type=int, default=60, help="single-object lifts to measure")
    parser.add_argument("--fov", type=float, nargs="+", default=[40.0, 55.0, 70.0], help="wrist fields of view, deg")
    parser.add_argument("--hidden", type=float, default=0.01, help="coverage below which a lift looks empty")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.lifts < 1:
        parser.error("--lifts must be positive")
    coverage = lifted_object_coverage(args.objects, args.lifts, args.fov, args.image_size, args.seed)
    result = {"command": command_line("runs.wrist_view", argv), "machine": machine_description(),
              "objects": args.objects, "lifts": len(coverage), "hidden_below": args.hidden, "seed": args.seed,
              "fov": {f"{fov:g}": {"mean_coverage": float(coverage[:, i].mean()),
                                   "looks_empty": float((coverage[:, i] < args.hidden).mean())}
                      for i, fov in enumerate(args.fov)}}
    for fov, numbers in result["fov"].items():
        print(f"wrist fov {fov}°: object covers {numbers['mean_coverage']:.1%} of the image on average; "
              f"{numbers['looks_empty']:.1%} of {len(coverage)} lifts show < {args.hidden:.0%} of it")
    if args.json:
        atomic_write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
