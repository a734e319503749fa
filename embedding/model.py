"""Grasp2Vec encoders: φ_s for scene images, φ_o for outcome (wrist) images.

Each encoder is a small ResNet: a strided stem convolution, residual stages of basic blocks
(3×3 conv, BatchNorm, ReLU), and a 1×1 projection to ``embedding_dim`` channels followed by a
ReLU. That non-negative spatial map is the encoder's *feature map*; its spatial mean is the
embedding. Scene and outcome encoders have the same architecture and separate weights.

Inputs are uint8 RGB images ``(B, H, W, 3)`` (NumPy or torch), ``H == W == config.image_size``;
they are scaled to [-0.5, 0.5] inside the model, so callers never normalise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Grasp2VecConfig:
    """Architecture of both encoders.

    Attributes:
        image_size: input height = width (pixels) of scene and outcome images.
        embedding_dim: D, channels of the final ReLU feature map and size of the embedding.
        stem_channels: channels of the stem convolution (3×3, stride 2).
        stage_channels: channels of each residual stage.
        stage_strides: stride of each stage's first block.
        blocks_per_stage: basic blocks per stage.

    The default (64 px, stride 2·2·1 = 4 → a 16×16 map) has 110 k parameters and 28 M
    multiply-adds per image per encoder; ``GPU_CONFIG`` scales the same design up.
    """

    image_size: int = 64
    embedding_dim: int = 128
    stem_channels: int = 24
    stage_channels: tuple[int, ...] = (48, 64)
    stage_strides: tuple[int, ...] = (2, 1)
    blocks_per_stage: int = 1

    def __post_init__(self) -> None:
        if len(self.stage_channels) != len(self.stage_strides) or not self.stage_channels:
            raise ValueError(f"stage_channels {self.stage_channels} and stage_strides {self.stage_strides} "
                             "must be non-empty and of equal length")
        if self.image_size % self.total_stride:
            raise ValueError(f"image_size {self.image_size} must be divisible by the total stride {self.total_stride}")
        if min(self.embedding_dim, self.stem_channels, self.blocks_per_stage, *self.stage_channels) < 1:
            raise ValueError(f"all sizes must be positive, got {self}")

    @property
    def total_stride(self) -> int:
        return 2 * int(np.prod(self.stage_strides))

    @property
    def feature_size(self) -> int:
        """Side (cells) of the spatial feature map."""
        return self.image_size // self.total_stride

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Grasp2VecConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Grasp2VecConfig fields {sorted(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


GPU_CONFIG = Grasp2VecConfig(image_size=128, embedding_dim=256, stem_channels=32,
                             stage_channels=(64, 128, 256), stage_strides=(2, 2, 1), blocks_per_stage=2)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 convs with BatchNorm, identity or 1×1 projection shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class Encoder(nn.Module):
    """Image (B, 3, H, W) float → ReLU feature map (B, D, H/stride, W/stride)."""

    def __init__(self, config: Grasp2VecConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, config.stem_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(config.stem_channels),
            nn.ReLU(inplace=True),
        ]
        channels = config.stem_channels
        for out_channels, stride in zip(config.stage_channels, config.stage_strides, strict=True):
            for block in range(config.blocks_per_stage):
                layers.append(BasicBlock(channels, out_channels, stride if block == 0 else 1))
                channels = out_channels
        layers += [nn.Conv2d(channels, config.embedding_dim, 1), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def to_input(images: np.ndarray | torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (B, H, W, 3) → float (B, 3, H, W) in [-0.5, 0.5]. Raises ``ValueError`` on bad shape/dtype."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if tensor.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 RGB (B, H, W, 3), got dtype {tensor.dtype}")
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"images must have shape (B, H, W, 3), got {tuple(tensor.shape)}")
    if tensor.shape[1] != image_size or tensor.shape[2] != image_size:
        raise ValueError(f"images are {tensor.shape[1]}x{tensor.shape[2]} px but the model expects "
                         f"{image_size}x{image_size} (config.image_size)")
    return tensor.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)


class Grasp2Vec(nn.Module):
    """The two encoders. Embeddings are float (B, D); feature maps (B, D, h, w), non-negative."""

    # Feature cell k is centred on image pixel cell_origin + k · config.total_stride: every strided
    # layer is a 3×3 convolution with padding 1 or a 1×1 one, which centres output j on input j · stride.
    cell_origin = 0.0

    def __init__(self, config: Grasp2VecConfig | None = None) -> None:
        super().__init__()
        self.config = config or Grasp2VecConfig()
        self.scene_encoder = Encoder(self.config)
        self.outcome_encoder = Encoder(self.config)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _input(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        return to_input(images, self.config.image_size).to(self.device)

    def scene_feature_map(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """φ_s spatial map: uint8 (B, H, W, 3) → (B, D, h, w) ReLU features."""
        return self.scene_encoder(self._input(images))

    def outcome_feature_map(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """φ_o spatial map: uint8 (B, H, W, 3) → (B, D, h, w) ReLU features."""
        return self.outcome_encoder(self._input(images))

    def embed_scenes(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """φ_s: uint8 (B, H, W, 3) → (B, D), the mean of the scene feature map."""
        return self.scene_feature_map(images).mean(dim=(2, 3))

    def embed_outcomes(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """φ_o: uint8 (B, H, W, 3) → (B, D), the mean of the outcome feature map."""
        return self.outcome_feature_map(images).mean(dim=(2, 3))

    def forward(self, pre: torch.Tensor, post: torch.Tensor, outcome: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass on uint8 batches (B, H, W, 3): returns (φ_s(pre) − φ_s(post), φ_o(outcome)), each (B, D).

        Pre and post go through φ_s as one batch so BatchNorm sees both.
        """
        scenes = self.embed_scenes(torch.cat([pre, post]))
        difference = scenes[: len(pre)] - scenes[len(pre):]
        return difference, self.embed_outcomes(outcome)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def multiply_adds_per_image(config: Grasp2VecConfig) -> int:
    """Multiply-adds of one encoder on one image (convolutions only), measured with forward hooks."""
    encoder = Encoder(config)
    total = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.weight[0].numel()  # in_channels/groups * kh * kw
        total += output[0].numel() * kernel

    hooks = [m.register_forward_hook(count) for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        encoder.eval()(torch.zeros(1, 3, config.image_size, config.image_size))
    for hook in hooks:
        hook.remove()
    return total


__all__ = ["GPU_CONFIG", "Encoder", "Grasp2Vec", "Grasp2VecConfig", "multiply_adds_per_image",
           "parameter_count", "to_input"]
