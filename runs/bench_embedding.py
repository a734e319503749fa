"""Grasp2Vec throughput on this machine: training triplets/s and inference images/s.

    python -m runs.bench_embedding --json runs/out/bench/embedding.json

Training: full steps (augmentation, both encoders forward + backward, AdamW) on random uint8
triplets. Inference: φ_s embeddings at batch 1 and batched, and goal heatmaps, in eval mode.
Each figure is the median of ``--repeats`` timed runs after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from common.io import atomic_write_text
from common.provenance import command_line, machine_description
from embedding.augment import AugmentConfig, random_crop_flip
from embedding.heatmap import DENSE, goal_heatmap
from embedding.losses import grasp2vec_loss
from embedding.model import Grasp2Vec, multiply_adds_per_image, parameter_count
from embedding.run import PRESETS


def timed(function: Callable[[], None], repeats: int) -> float:
    """Median wall seconds of ``function`` over ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64, help="training and batched-inference batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = replace(PRESETS[args.preset], image_size=args.image_size)
    model = Grasp2Vec(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    size, batch = args.image_size, args.batch_size
    images = torch.randint(0, 256, (3, batch, size, size, 3), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)

    def train_step() -> None:
        pre, post = random_crop_flip([images[0], images[1]], AugmentConfig(), generator)
        (outcome,) = random_crop_flip([images[2]], AugmentConfig(), generator)
        losses = grasp2vec_loss(*model(pre, post, outcome))
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()

    model.train()
    train_s = timed(train_step, args.repeats)
    model.eval()
    with torch.no_grad():
        single_s = timed(lambda: model.embed_scenes(images[0, :1]), args.repeats * 10)
        batched_s = timed(lambda: model.embed_scenes(images[0]), args.repeats)
        heatmap_s = timed(lambda: goal_heatmap(model, images[2], images[0]), args.repeats)
        dense_s = timed(lambda: goal_heatmap(model, images[2], images[0], DENSE), args.repeats)
        dense_single_s = timed(lambda: goal_heatmap(model, images[2, :1], images[0, :1], DENSE), args.repeats * 10)
    report = {
        "preset": args.preset, "image_size": size, "batch_size": batch, "threads": args.threads,
        "parameters": parameter_count(model), "multiply_adds_per_image": multiply_adds_per_image(config),
        "train_triplets_per_s": round(batch / train_s, 1),
        "inference_images_per_s_batch1": round(1 / single_s, 1),
        f"inference_images_per_s_batch{batch}": round(batch / batched_s, 1),
        f"heatmaps_per_s_batch{batch}": round(batch / heatmap_s, 1),
        f"dense_heatmaps_per_s_batch{batch}": round(batch / dense_s, 1),  # embedding.heatmap.DENSE readout
        "dense_heatmaps_per_s_batch1": round(1 / dense_single_s, 1),
        "machine": machine_description(), "torch": torch.__version__,
        "command": command_line("runs.bench_embedding", argv),
    }
    print(json.dumps(report, indent=2))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
