"""The paper's baseline reward: similarity in the latent space of a convolutional autoencoder.

The autoencoder is trained to reconstruct outcome images (``python -m runs.train_autoencoder``);
the reward is the cosine similarity of goal and outcome latents, gated and thresholded like
:class:`rewards.grasp2vec.Grasp2VecReward`. Its latent keeps whatever explains most pixels
(pose, background, gripper), not object identity — which is why the paper rejected it.

Checkpoint: a folder holding ``model.safetensors`` and ``config.json`` (architecture + ``extra``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from common.io import atomic_path, atomic_write_text
from common.protocols import RewardError
from rewards.similarity import EmbeddingSimilarityReward, Encoder

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture: stride-2 conv stages down to ``image_size / 2**len(channels)``, then a linear latent.

    Attributes:
        image_size: input/output image size in pixels (square); divisible by 2**len(channels).
        channels: output channels of each stride-2 encoder stage (the decoder mirrors them).
        latent_dim: size of the bottleneck vector used by the reward.
    """

    image_size: int = 64
    channels: tuple[int, ...] = (16, 32, 64)
    latent_dim: int = 64

    def __post_init__(self) -> None:
        stride = 2 ** len(self.channels)
        if self.image_size % stride or self.image_size < stride:
            raise ValueError(f"image_size {self.image_size} must be a positive multiple of {stride}")
        if self.latent_dim < 1 or not self.channels:
            raise ValueError("latent_dim must be positive and channels non-empty")

    @property
    def feature_size(self) -> int:
        return self.image_size // 2 ** len(self.channels)


class ConvAutoencoder(nn.Module):
    """uint8 images (B, S, S, 3) → latent (B, latent_dim) → reconstruction (B, 3, S, S) in [0, 1]."""

    def __init__(self, config: AutoencoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or AutoencoderConfig()
        encoder: list[nn.Module] = []
        previous = 3
        for width in config.channels:
            encoder += [nn.Conv2d(previous, width, 4, stride=2, padding=1), nn.ReLU()]
            previous = width
        flat = previous * config.feature_size ** 2
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(flat, config.latent_dim))
        decoder: list[nn.Module] = [nn.Linear(config.latent_dim, flat), nn.ReLU(),
                                    nn.Unflatten(1, (previous, config.feature_size, config.feature_size))]
        widths = list(reversed(config.channels))[1:] + [3]
        for index, width in enumerate(widths):
            decoder.append(nn.ConvTranspose2d(previous, width, 4, stride=2, padding=1))
            decoder.append(nn.ReLU() if index < len(widths) - 1 else nn.Sigmoid())
            previous = width
        self.decoder = nn.Sequential(*decoder)

    @staticmethod
    def to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (B, S, S, 3) → float (B, 3, S, S) in [0, 1]."""
        tensor = torch.as_tensor(images)
        return tensor.permute(0, 3, 1, 2).float().div(255.0)

    def encode(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 images (B, S, S, 3) → latent (B, latent_dim)."""
        return self.encoder(self.to_input(images))

    def forward(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 images (B, S, S, 3) → reconstruction (B, 3, S, S) in [0, 1]."""
        return self.decoder(self.encode(images))


def save_autoencoder(model: ConvAutoencoder, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``path/model.safetensors`` and ``path/config.json`` (each atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / WEIGHTS_FILE) as temp:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(temp))
    config = {"architecture": "ConvAutoencoder", **dataclasses.asdict(model.config), "extra": extra or {}}
    atomic_write_text(path / CONFIG_FILE, json.dumps(config, indent=1))


def load_autoencoder(path: str | Path, expect_image_size: int | None = None) -> ConvAutoencoder:
    """Load a checkpoint written by :func:`save_autoencoder` (eval mode).

    Raises:
        RewardError: missing files, another architecture, or another image size than expected.
    """
    path = Path(path)
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        state = load_file(str(path / WEIGHTS_FILE))
    except (OSError, json.JSONDecodeError) as error:
        raise RewardError(f"{path} is not an autoencoder checkpoint "
                          f"({CONFIG_FILE} + {WEIGHTS_FILE}): {error}") from error
    if config.get("architecture") != "ConvAutoencoder":
        raise RewardError(f"{path} holds a {config.get('architecture')!r}, not a ConvAutoencoder")
    try:
        model = ConvAutoencoder(AutoencoderConfig(image_size=config["image_size"], channels=tuple(config["channels"]),
                                                  latent_dim=config["latent_dim"]))
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as error:
        raise RewardError(f"autoencoder checkpoint {path} does not fit its config: {error}") from error
    if expect_image_size is not None and model.config.image_size != expect_image_size:
        raise RewardError(f"autoencoder checkpoint {path} was trained on {model.config.image_size} px images, "
                          f"not {expect_image_size} px")
    return model.eval()


@functools.lru_cache(maxsize=4)
def _cached_autoencoder(path: str, mtime_ns: int) -> ConvAutoencoder:
    return load_autoencoder(path)


class AutoencoderReward(EmbeddingSimilarityReward):
    """Cosine similarity of autoencoder latents of goal and outcome (see :class:`EmbeddingSimilarityReward`)."""

    name = "autoencoder"

    def __init__(self, checkpoint: str | Path = "checkpoints/autoencoder", **kwargs: Any) -> None:
        super().__init__(checkpoint, **kwargs)

    def weights_file(self) -> Path:
        return self.checkpoint / WEIGHTS_FILE

    def load_encoder(self, checkpoint: Path, image_size: int | None) -> tuple[Encoder, int]:
        weights = self.weights_file()
        if not weights.exists():
            raise RewardError(f"autoencoder checkpoint {checkpoint} has no {WEIGHTS_FILE}")
        model = _cached_autoencoder(str(checkpoint.resolve()), weights.stat().st_mtime_ns)
        if image_size is not None and model.config.image_size != image_size:
            raise RewardError(f"autoencoder checkpoint {checkpoint} was trained on {model.config.image_size} px "
                              f"images, not {image_size} px")

        def encode(images: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model.encode(images).numpy()

        return encode, model.config.image_size
