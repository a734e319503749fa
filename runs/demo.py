"""A GIF of a few benchmark episodes: scene, goal and the Grasp2Vec goal heatmap side by side.

    python -m runs.demo --row privileged --episodes 3 --out runs/out/benchmark/demo.gif
    python -m runs.demo --row mine --checkpoint mine=runs/out/policy/run --objects unseen

Episodes are benchmark trials (same seeds, goal bank and observation-only harness as
``runs.benchmark``). Each frame shows, scaled up: the scene camera, the goal image, and the heatmap
φ_o(goal) · φ_s(scene) of ``--grasp2vec`` over the scene (omitted when that checkpoint is missing);
the last frame of an episode adds the outcome image and the ground-truth verdict.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.frames import FRAME_MS, LAST_FRAME_MS, heatmap_rgb, panel
from benchmark.runner import parse_checkpoints
from benchmark.tasks import (
    Cell,
    ObservationOnly,
    make_env,
    make_goal_bank,
    policy_keys,
    reset_trial,
    row_card,
    row_status,
    shared_policy,
    trial_policy,
    trial_seed,
    world_settings,
)
from common.io import atomic_write_bytes
from envs.config import WorldSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runs.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--row", default="privileged", help="a benchmark row (see runs.benchmark --help)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--objects", default="seen")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="benchmark seed (trial seeds as in runs.benchmark)")
    parser.add_argument("--grasp2vec", type=Path, default=Path("checkpoints/grasp2vec"),
                        help="Grasp2Vec checkpoint for the heatmap column")
    parser.add_argument("--out", type=Path, default=Path("runs/out/benchmark/demo.gif"))
    return parser


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    rows = parse_checkpoints(args.checkpoint)
    if args.row not in rows:
        raise SystemExit(f"demo: unknown row {args.row!r}; known: {sorted(rows)}")
    row = rows[args.row]
    status = row_status(row, "instance")
    if status != "ok":
        raise SystemExit(f"demo: row {row.name}: {status}")
    settings = world_settings(row, WorldSettings())
    features = None
    if args.grasp2vec.exists():
        from agents.core.goal_features import GoalFeatures, GoalFeaturesConfig
        from embedding.checkpoint import load_checkpoint

        features = GoalFeatures(load_checkpoint(args.grasp2vec), GoalFeaturesConfig(heatmap=True))
    card = row_card(row)
    env = make_env(Cell(row, args.objects), settings, make_goal_bank(settings.image_size), card)
    policy = shared_policy(row, env)
    frames, durations = [], []
    for trial in range(args.episodes):
        acting = policy if policy is not None else trial_policy(row, env, seed=trial)
        guarded = ObservationOnly(acting, policy_keys(env, acting, card))
        observation, info, _ = reset_trial(env, trial_seed(args.seed, trial))
        guarded.reset()
        done, step = False, 0
        while True:
            images = [observation["image"], observation["goal"]]
            if features is not None:
                batch = {"image": observation["image"][None], "goal": observation["goal"][None]}
                images.append(heatmap_rgb(features.observe(batch)["heatmap"][0, ..., 0], observation["image"]))
            caption = f"{row.name} | {args.objects} | trial {trial} step {step}"
            if done:
                truth = info["ground_truth"]
                images.append(info.get("outcome_image", np.zeros_like(observation["image"])))
                caption += f" | lifted {truth['lifted'] or 'nothing'}, target {truth['target']}: " + (
                    "SUCCESS" if info["is_success"] else "failure")
            frames.append(panel(images, caption))
            durations.append(LAST_FRAME_MS if done else FRAME_MS)
            if done:
                break
            observation, _, terminated, truncated, info = env.step(guarded.act(observation))
            done, step = terminated or truncated, step + 1
    env.close()
    width = max(f.width for f in frames)
    frames = [f if f.width == width else _pad(f, width) for f in frames]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"wrote {args.out} ({len(frames)} frames, {args.episodes} episodes)")
    return args.out


def _pad(frame: Image.Image, width: int) -> Image.Image:
    padded = Image.new("RGB", (width, frame.height), "white")
    padded.paste(frame, (0, 0))
    return padded


if __name__ == "__main__":
    main()
