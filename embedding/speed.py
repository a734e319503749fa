"""Training speed on this machine: images/s of the real training step under each speed setting.

Every variant times :func:`embedding.train.train_step` (augmentation, both encoders forward and
backward, the Grasp2Vec loss, AdamW) on random uint8 triplets; the loader variants also pull the
batches through the training loop's ``DataLoader`` from in-memory triplets (as ``--cache`` does).
One image = one 64 px picture; a triplet (pre, post, outcome) is 3 images. Each figure is the median
step time of ``repeats`` steps after ``warmup`` steps, with the 1-minute load average before and
after it (other jobs on the same cores slow the figures down; two threads suffer most).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from embedding.model import Grasp2Vec, Grasp2VecConfig
from embedding.train import StepBatchSampler, TrainConfig, collate_triplets, train_step, training_forward

IMAGES_PER_TRIPLET = 3


@dataclass(frozen=True)
class SpeedVariant:
    """One setting to time: a name and the ``TrainConfig`` fields it changes (threads, channels_last,
    bf16, compile, workers). ``loader``: pull batches through the DataLoader (else one fixed batch)."""

    name: str
    changes: dict[str, Any] = field(default_factory=dict)
    loader: bool = False


DEFAULT_VARIANTS: tuple[SpeedVariant, ...] = (
    SpeedVariant("baseline (2 threads, fp32)"),
    SpeedVariant("1 thread", {"threads": 1}),
    SpeedVariant("channels_last", {"channels_last": True}),
    SpeedVariant("bf16 autocast", {"bf16": True}),
    SpeedVariant("loader, 0 workers", {"workers": 0}, loader=True),
    SpeedVariant("loader, 1 worker", {"workers": 1}, loader=True),
    SpeedVariant("loader, 2 workers", {"workers": 2}, loader=True),
    SpeedVariant("torch.compile", {"compile": True}),  # last: its compile workers linger
)


@dataclass(frozen=True)
class SpeedConfig:
    """What to time: ``model`` (64 px default ``Grasp2VecConfig``), ``batch_sizes`` (triplets per step),
    ``train`` (the base settings the variants change), ``warmup`` / ``repeats`` steps per figure."""

    model: Grasp2VecConfig = field(default_factory=Grasp2VecConfig)
    batch_sizes: tuple[int, ...] = (64, 256)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(threads=2))
    variants: tuple[SpeedVariant, ...] = DEFAULT_VARIANTS
    warmup: int = 3
    repeats: int = 5
    seed: int = 0


class RandomTriplets(Dataset):
    """``n`` random uint8 triplets of ``size`` px held in memory, read like ``CachedTriplets``."""

    def __init__(self, n: int, size: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.arrays = {key: rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
                       for key in ("pre", "post", "outcome")}
        self.image_size = size

    def __len__(self) -> int:
        return len(self.arrays["pre"])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {key: array[index] for key, array in self.arrays.items()}


def time_variant(config: SpeedConfig, variant: SpeedVariant, batch_size: int) -> dict[str, Any]:
    """Median step time (s) of one variant at one batch size, its images/s, and the first step's time
    (with ``torch.compile`` that is the compile time). Restores the thread count afterwards."""
    train_config = replace(config.train, batch_size=batch_size, **variant.changes)
    threads = torch.get_num_threads()
    torch.set_num_threads(train_config.threads)
    torch.manual_seed(config.seed)
    model = Grasp2Vec(config.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
    forward = training_forward(model, train_config)
    steps = config.warmup + config.repeats
    data = RandomTriplets(batch_size * (2 if variant.loader else 1), config.model.image_size, config.seed)
    if variant.loader:
        sampler = StepBatchSampler(len(data), batch_size, config.seed, 0, steps)
        batches = iter(DataLoader(data, batch_sampler=sampler, collate_fn=collate_triplets,
                                  num_workers=train_config.workers))
    else:
        fixed = collate_triplets([data[i] for i in range(batch_size)])
        batches = iter([fixed] * steps)
    load_before = os.getloadavg()[0]
    times = []
    start = time.perf_counter()
    for step in range(steps):
        began = time.perf_counter()
        train_step(forward, optimizer, next(batches), train_config, step)
        times.append(time.perf_counter() - began)
    total = time.perf_counter() - start
    torch.set_num_threads(threads)
    step_s = statistics.median(times[config.warmup:])
    return {"variant": variant.name, "changes": variant.changes, "loader": variant.loader, "batch_size": batch_size,
            "threads": train_config.threads, "step_s": round(step_s, 4),
            "images_per_s": round(IMAGES_PER_TRIPLET * batch_size / step_s, 1),
            "triplets_per_s": round(batch_size / step_s, 1), "first_step_s": round(times[0], 2),
            "step_times_s": [round(t, 4) for t in times], "wall_s": round(total, 1),
            "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2)}


def measure_training_speed(config: SpeedConfig, progress: bool = True) -> dict[str, Any]:
    """Every variant at every batch size; each row also carries its speed ratio to the baseline (the
    first variant) at the same batch size."""
    rows = []
    for batch_size in config.batch_sizes:
        for variant in config.variants:
            row = time_variant(config, variant, batch_size)
            if progress:
                print(f"batch {batch_size:4d}  {variant.name:28s} {row['images_per_s']:8.1f} images/s  "
                      f"(load {row['load_average_before']:.2f} → {row['load_average_after']:.2f})", flush=True)
            rows.append(row)
        baseline = next(r for r in rows if r["batch_size"] == batch_size and r["variant"] == config.variants[0].name)
        for row in rows:
            if row["batch_size"] == batch_size:
                row["ratio_to_baseline"] = round(row["images_per_s"] / baseline["images_per_s"], 3)
    return {"model": config.model.to_dict(), "train": config.train.to_dict(), "warmup": config.warmup,
            "repeats": config.repeats, "torch": torch.__version__, "rows": rows,
            "variants": [dataclasses.asdict(v) for v in config.variants]}


def plot_speed(report: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Bar chart of images/s per variant, one bar group per batch size, written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = report["rows"]
    names = list(dict.fromkeys(r["variant"] for r in rows))
    batches = sorted({r["batch_size"] for r in rows})
    figure, axis = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(batches)
    for k, batch in enumerate(batches):
        values = {r["variant"]: r["images_per_s"] for r in rows if r["batch_size"] == batch}
        positions = [i + (k - (len(batches) - 1) / 2) * width for i in range(len(names))]
        bars = axis.bar(positions, [values.get(n, 0.0) for n in names], width, label=f"batch {batch}")
        axis.bar_label(bars, fmt="%.0f", fontsize=7)
    axis.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    axis.set_ylabel("training images/s")
    axis.set_title(title, fontsize=8)
    axis.legend()
    figure.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    os.replace(tmp, path)
    return path
