"""Training the autoencoder baseline reward's model on outcome images, resumably.

The command is ``python -m runs.train_autoencoder``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from common.io import atomic_path
from rewards.autoencoder import AutoencoderConfig, ConvAutoencoder

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TrainAutoencoderConfig:
    """Training hyper-parameters (defaults: the shipped checkpoint's)."""

    steps: int = 3000
    batch_size: int = 32
    learning_rate: float = 1e-3
    latent_dim: int = 64
    channels: tuple[int, ...] = (16, 32, 64)
    seed: int = 0
    checkpoint_every: int = 500
    threads: int = 1  # torch threads; on a machine shared with other jobs one is ~10x faster than two


def outcome_images(triplets: Any) -> np.ndarray:
    """The ``outcome`` images (N, S, S, 3) uint8 of a triplet dataset, read once into memory
    (12 KiB each at 64 px: 10,000 grasps take 120 MiB; training draws random batches from them)."""
    return np.stack([np.asarray(triplets[i]["outcome"]) for i in tqdm(range(len(triplets)), desc="outcome images")])


def _batch(images: Sequence[np.ndarray] | np.ndarray, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Step ``step``'s batch, uint8 (B, S, S, 3): drawn with replacement from a (seed, step) RNG, so a
    resumed run sees exactly the batches an uninterrupted one would."""
    indices = np.random.default_rng([seed, step]).integers(0, len(images), batch_size)
    return np.stack([np.asarray(images[int(i)]) for i in indices])


def train_autoencoder(images: Sequence[np.ndarray] | np.ndarray, config: TrainAutoencoderConfig, run_dir: Path,
                      resume: bool = False, log: Any = None) -> tuple[ConvAutoencoder, dict[str, Any]]:
    """Train on ``images`` (items uint8 (S, S, 3)); returns (model, summary with losses and wall time)."""
    if len(images) == 0:
        raise ValueError("no outcome images to train on")
    torch.manual_seed(config.seed)
    image_size = int(np.asarray(images[0]).shape[0])
    model = ConvAutoencoder(AutoencoderConfig(image_size=image_size, channels=config.channels,
                                              latent_dim=config.latent_dim))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    state_path = run_dir / STATE_FILE
    start, losses = 0, []
    if resume and state_path.exists():
        state = torch.load(state_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, losses = int(state["step"]), list(state["losses"])
    began = time.perf_counter()
    for step in tqdm(range(start, config.steps), initial=start, total=config.steps, desc="autoencoder"):
        batch = _batch(images, config.batch_size, config.seed, step)
        loss = torch.nn.functional.mse_loss(model(batch), ConvAutoencoder.to_input(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if log is not None:
            log({"loss": losses[-1]}, step=step)
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            with atomic_path(state_path) as temp:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step + 1,
                            "losses": torch.tensor(losses)}, temp)
    tail = losses[-min(len(losses), 50):]
    summary = {"steps": config.steps, "resumed_from": start, "images": len(images),
               "final_loss_mean_last_50": float(np.mean(tail)) if tail else None,
               "wall_time_s_this_run": round(time.perf_counter() - began, 1)}
    return model.eval(), summary
