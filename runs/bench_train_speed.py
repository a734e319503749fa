"""Grasp2Vec training images/s on this machine, per speed setting (threads, channels-last, bf16, compile, loader).

    python -m runs.bench_train_speed --out docs/embedding/train-speed

Writes ``OUT.json`` (every figure with its load average, the command and the machine) and ``OUT.png``
(a bar chart). See :mod:`embedding.speed`.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

from common.io import atomic_write_text
from common.provenance import command_line, machine_description, now
from embedding.model import Grasp2VecConfig
from embedding.speed import DEFAULT_VARIANTS, SpeedConfig, measure_training_speed, plot_speed


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/embedding/train-speed"),
                        help="file prefix: writes OUT.json and OUT.png")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--variants", nargs="+", help="names of the variants to time (default: all)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # no compile worker pool competing for the cores
    variants = DEFAULT_VARIANTS
    if args.variants:
        unknown = set(args.variants) - {v.name for v in DEFAULT_VARIANTS}
        if unknown:
            parser.error(f"unknown variants {sorted(unknown)}; known: {[v.name for v in DEFAULT_VARIANTS]}")
        variants = tuple(v for v in DEFAULT_VARIANTS if v.name in args.variants)
    config = SpeedConfig(model=replace(Grasp2VecConfig(), image_size=args.image_size),
                         batch_sizes=tuple(args.batch_sizes), variants=variants, warmup=args.warmup,
                         repeats=args.repeats)
    machine = machine_description()
    report = measure_training_speed(config)
    report.update(command=command_line("runs.bench_train_speed", argv), machine_at_start=machine,
                  machine_at_end=machine_description(), finished=now())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    plot_speed(report, args.out.with_suffix(".png"), f"{report['command']}\n{machine}")
    return report


if __name__ == "__main__":
    main()
