"""Throughput of batched reward scoring (outcome images per second) on this machine.

    python -m runs.bench_reward --reward grasp2vec --json runs/out/rewards/bench_grasp2vec.json

Scores ``--images`` fresh outcome images (never seen before, so nothing is cached) against
``--goals`` goal images with ``reward.batch`` in calls of ``--call-size`` contexts, ``--repeats``
times after one warm-up call, and reports the median images/s. Images are drawn from the
held-out data when ``--data`` exists, else random pixels (throughput does not depend on content).
Without the shipped checkpoint, ``--untrained`` benchmarks a freshly initialised model of the
default architecture (same cost; its calibration is skipped and recorded as such).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from common.io import atomic_write_text
from common.provenance import command_line, machine_description
from rewards.registry import make_reward, parse_reward_kwargs
from rewards.speed import TARGET_IMAGES_PER_S, _images, _untrained_grasp2vec, benchmark


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reward", default="grasp2vec")
    parser.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--untrained", action="store_true",
                        help="grasp2vec only: benchmark an untrained model of the default architecture")
    parser.add_argument("--data", type=Path, default=Path("runs/out/data/seen-heldout"))
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--goals", type=int, default=64)
    parser.add_argument("--call-size", type=int, default=1024, help="contexts per reward.batch call")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; on a machine shared with other jobs one beats two (no spin-waiting)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    kwargs = parse_reward_kwargs(args.reward_arg)
    with tempfile.TemporaryDirectory() as temp:
        if args.untrained:
            kwargs.update(checkpoint=str(_untrained_grasp2vec(Path(temp), args.image_size)), presence=False)
        reward = make_reward(args.reward, **kwargs)
        images, source = _images(args.data, args.images + args.goals, args.image_size, args.seed)
        result = benchmark(reward, images[args.goals:], images[:args.goals], args.call_size, args.repeats)
    report = {"reward": args.reward, "reward_kwargs": {k: v for k, v in kwargs.items() if k != "checkpoint"},
              "untrained": args.untrained, "images_from": source, **result, "torch_threads": args.threads,
              "target_images_per_s": TARGET_IMAGES_PER_S,
              "meets_target": result["images_per_s_median"] >= TARGET_IMAGES_PER_S,
              "machine": machine_description(), "command": command_line("runs.bench_reward", argv)}
    print(json.dumps(report, indent=1))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
