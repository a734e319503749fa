"""Image resizing shared by the goal-feature wrapper and offline data loading."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812


def resize_images(images: torch.Tensor | np.ndarray, size: int) -> torch.Tensor:
    """uint8 (B, H, W, C) → uint8 tensor (B, size, size, C), bilinear; unchanged when already that size."""
    images = torch.as_tensor(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if images.ndim != 4:
        raise ValueError(f"images must be (B, H, W, C), got {tuple(images.shape)}")
    if images.shape[1] == size and images.shape[2] == size:
        return images
    x = F.interpolate(images.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
