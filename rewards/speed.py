"""Reward scoring speed: images per second of a reward's batched scoring (``python -m runs.bench_reward``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.protocols import GraspContext, RewardFunction

TARGET_IMAGES_PER_S = 1000.0  # the requirement for batched Grasp2Vec scoring on the project's 2-core CPU


def benchmark(reward: RewardFunction, outcomes: np.ndarray, goals: np.ndarray, call_size: int,
              repeats: int) -> dict[str, Any]:
    """Median, min and max images/s (wall clock) of ``reward.batch`` over ``repeats`` passes through
    ``outcomes``, and the median images per CPU-second of this process (all threads together): on a
    machine shared with other jobs, that times the thread count bounds what idle cores would give."""
    goal_index = np.arange(len(outcomes)) % len(goals)
    contexts = [GraspContext(goals[g], image) for g, image in zip(goal_index, outcomes, strict=True)]
    reward.batch(contexts[:call_size])  # warm-up (and goal embeddings cached, as in relabeling)
    rates, cpu_rates = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(contexts), call_size):
            reward.batch(contexts[i:i + call_size])
        rates.append(len(contexts) / (time.perf_counter() - began))
        cpu_rates.append(len(contexts) / max(time.process_time() - began_cpu, 1e-9))
    return {"images_per_s_median": round(float(np.median(rates)), 1), "images_per_s_min": round(min(rates), 1),
            "images_per_s_max": round(max(rates), 1),
            "images_per_cpu_s_median": round(float(np.median(cpu_rates)), 1),
            "images": len(outcomes), "goals": len(goals), "call_size": call_size, "repeats": repeats}


def _images(data: Path, count: int, image_size: int, seed: int) -> tuple[np.ndarray, str]:
    if data.exists():
        from rewards.quality import load_labelled_outcomes

        outcomes, _, _ = load_labelled_outcomes(str(data), limit=count)
        repeat = int(np.ceil(count / len(outcomes)))
        # Fresh copies with one pixel changed, so that no cache can recognise them.
        images = np.tile(outcomes, (repeat, 1, 1, 1))[:count].copy()
        images[:, 0, 0, 0] = np.arange(count) % 256
        return images, f"{data} ({len(outcomes)} distinct outcomes)"
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, image_size, image_size, 3), dtype=np.uint8), "random pixels"


def _untrained_grasp2vec(folder: Path, image_size: int) -> Path:
    from embedding.checkpoint import save_checkpoint
    from embedding.model import Grasp2Vec, Grasp2VecConfig

    torch.manual_seed(0)
    path = folder / "untrained-grasp2vec"
    save_checkpoint(Grasp2Vec(Grasp2VecConfig(image_size=image_size)).eval(), path, {"note": "untrained, benchmark"})
    return path
