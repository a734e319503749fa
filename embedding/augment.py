"""Training augmentation: random shifted crops and horizontal flips (as the reference code does).

Crops pad each image by ``pad`` pixels (edge-replicated) and cut a window of the original size at
a random offset, so image size is unchanged. A scene pair (pre, post) shares one crop and flip so
that their embedding difference still isolates the grasped object; outcome images get their own.
Colour is left alone: it is part of an object's identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional


@dataclass(frozen=True)
class AugmentConfig:
    """``pad``: maximum shift in pixels (0 disables crops); ``flip``: random horizontal flips."""

    pad: int = 4
    flip: bool = True


def random_crop_flip(images: list[torch.Tensor], config: AugmentConfig, generator: torch.Generator
                     ) -> list[torch.Tensor]:
    """Apply one random crop/flip per batch item, shared across ``images`` (each uint8 (B, H, W, 3))."""
    first = images[0]
    batch, height, width = first.shape[:3]
    if any(img.shape != first.shape for img in images):
        raise ValueError(f"images to augment together must share a shape, got {[tuple(i.shape) for i in images]}")
    stacked = torch.stack(images).permute(0, 1, 4, 2, 3).reshape(-1, 3, height, width)  # (N*B, 3, H, W)
    if config.pad > 0:
        padded = functional.pad(stacked.float(), (config.pad,) * 4, mode="replicate")
        offsets = torch.randint(0, 2 * config.pad + 1, (batch, 2), generator=generator)
        rows = offsets[:, 0, None] + torch.arange(height)  # (B, H)
        cols = offsets[:, 1, None] + torch.arange(width)  # (B, W)
        rows = rows.repeat(len(images), 1)
        cols = cols.repeat(len(images), 1)
        index = torch.arange(len(padded))[:, None, None]
        stacked = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
        stacked = stacked.round().to(torch.uint8)
    if config.flip:
        flips = (torch.rand(batch, generator=generator) < 0.5).repeat(len(images))
        stacked = torch.where(flips[:, None, None, None], stacked.flip(-1), stacked)
    out = stacked.reshape(len(images), batch, 3, height, width).permute(0, 1, 3, 4, 2).contiguous()
    return list(out.unbind(0))
