"""Training augmentation: random shifted crops and horizontal flips (as the reference code does), and optionally
a colour-channel order shared by a whole triplet.

Crops pad each image by ``pad`` pixels (edge-replicated) and cut a window of the original size at
a random offset, so image size is unchanged. A scene pair (pre, post) shares one crop and flip so
that their embedding difference still isolates the grasped object; outcome images get their own.
Colour is part of an object's identity, so it is never changed within a triplet; ``colour_permute`` may reorder
the colour channels of a whole triplet alike (pre, post and outcome), so that the batch holds objects whose colour
the training data never paired with their shape, and telling them apart takes shape as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional


@dataclass(frozen=True)
class AugmentConfig:
    """``pad``: maximum shift in pixels (0 disables crops); ``flip``: random horizontal flips; ``colour_permute``: the
    probability that a triplet's colour channels are put in one of the five other orders (the same one for its pre,
    post and outcome images; 0 disables it)."""

    pad: int = 4
    flip: bool = True
    colour_permute: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.colour_permute <= 1.0:
            raise ValueError(f"colour_permute is a probability, in [0, 1], got {self.colour_permute}")


# Channel orders a permuted triplet takes (every order but the identity).
CHANNEL_ORDERS = torch.tensor([[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])


def permute_colours(images: list[torch.Tensor], probability: float, generator: torch.Generator) -> list[torch.Tensor]:
    """Reorder the colour channels of each batch item with ``probability``, the same order across ``images``
    (each uint8 (B, H, W, 3): a triplet's pre, post and outcome). Draws from ``generator`` only when
    ``probability`` > 0, so a run without it draws what it always did."""
    if probability <= 0.0:
        return images
    batch = images[0].shape[0]
    chosen = torch.rand(batch, generator=generator) < probability
    orders = CHANNEL_ORDERS[torch.randint(0, len(CHANNEL_ORDERS), (batch,), generator=generator)]
    orders = torch.where(chosen[:, None], orders, torch.arange(3))  # (B, 3)
    index = orders[:, None, None, :]
    return [torch.gather(image, 3, index.expand_as(image)) for image in images]


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
