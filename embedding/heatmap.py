"""Goal heatmaps: where in a scene is the object shown in a goal (outcome) image?

Per feature cell, ``φ_o(goal) · φ_s-spatial(scene)`` (dot product over the D channels), then
bilinearly upsampled from the (h, w) feature grid to the (H, W) image. A composite goal — several
outcome images of the same object — uses the mean of their embeddings.

Where each cell sits in the image is the encoder's to say (``cell_origin``): cell k is centred on
pixel ``cell_origin + k·stride``. For :class:`embedding.model.Grasp2Vec` that is pixel k·stride (a
3×3 convolution with padding 1, or a 1×1 one, with stride s centres output j on input j·s). Bilinear
resizing with ``align_corners=False`` puts cell k at k·stride + (stride − 1)/2 instead, 1.5 px off
at stride 4; maps made so before 2026-11-26 are reproduced by ``centred=False`` for the policies
trained on them.

One value per cell limits where a map can peak. :class:`HeatmapReadout` reads the same dot
product more densely: the scene is also encoded shifted by fractions of the stride, each map is
moved back into the scene's pixel frame, and the maps are averaged. Nothing is retrained; it
costs ``shifts``² scene encodings instead of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from embedding.model import Grasp2Vec


@dataclass(frozen=True)
class HeatmapReadout:
    """How a heatmap is read from φ_s.

    Args:
        shifts: offsets per image axis at which the scene is encoded, spread evenly over the
            encoder's stride (1: one encoding; must divide the stride).
        centred: place each cell where the encoder centres it (``model.cell_origin``); False: the
            half-cell-off placement of maps made before 2026-11-26, kept for policies trained on them.
    """

    shifts: int = 1
    centred: bool = True

    def __post_init__(self) -> None:
        if self.shifts < 1:
            raise ValueError(f"HeatmapReadout.shifts must be >= 1, got {self.shifts}")

    @property
    def passes(self) -> int:
        """Scene encodings per heatmap."""
        return self.shifts ** 2

    def offsets(self, stride: int) -> list[int]:
        """Pixel offsets (per axis) of the shifted reads for an encoder of total ``stride``."""
        if stride % self.shifts:
            raise ValueError(f"HeatmapReadout.shifts={self.shifts} must divide the encoder stride {stride}")
        return [k * (stride // self.shifts) for k in range(self.shifts)]


PLAIN = HeatmapReadout()
DENSE = HeatmapReadout(shifts=2)  # reads at half-stride offsets (4 encodings; 4 shifts scored the same)
UNCENTRED = HeatmapReadout(centred=False)  # the maps policies trained before 2026-11-26 saw


def heatmap_from_embeddings(goal_embeddings: torch.Tensor, feature_maps: torch.Tensor,
                            image_size: int, cell_origin: float | None = 0.0) -> torch.Tensor:
    """Goal embeddings (B, D) · scene feature maps (B, D, h, w) → (B, image_size, image_size) float.

    Cell k is centred on pixel ``cell_origin + k · image_size / h`` (pixel indices); beyond the
    outer cells the map is constant. ``None``: bilinear resizing with ``align_corners=False``, the
    placement of maps made before 2026-11-26 (module docstring).
    """
    if goal_embeddings.ndim != 2 or feature_maps.ndim != 4 or goal_embeddings.shape[:2] != feature_maps.shape[:2]:
        raise ValueError(f"goal embeddings (B, D) and feature maps (B, D, h, w) must agree, got "
                         f"{tuple(goal_embeddings.shape)} and {tuple(feature_maps.shape)}")
    cells = torch.einsum("bd,bdhw->bhw", goal_embeddings, feature_maps)[:, None]
    if cell_origin is None:
        return functional.interpolate(cells, size=(image_size, image_size), mode="bilinear", align_corners=False)[:, 0]
    height, width = cells.shape[-2:]
    pixels = torch.arange(image_size, dtype=cells.dtype, device=cells.device) - cell_origin
    rows = 2 * pixels * height / image_size / max(height - 1, 1) - 1  # grid_sample's [-1, 1] cell coordinates
    columns = 2 * pixels * width / image_size / max(width - 1, 1) - 1
    grid = torch.stack(torch.meshgrid(columns, rows, indexing="xy"), dim=-1).expand(len(cells), -1, -1, -1)
    return functional.grid_sample(cells, grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]


@torch.no_grad()
def goal_embeddings(model: Grasp2Vec, goal_images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """φ_o of goals: uint8 (B, H, W, 3) → (B, D); composite goals (B, K, H, W, 3) → the mean over K."""
    if goal_images.ndim == 5:
        batch, count = goal_images.shape[:2]
        flat = goal_images.reshape(batch * count, *goal_images.shape[2:])
        return model.embed_outcomes(flat).reshape(batch, count, -1).mean(dim=1)
    return model.embed_outcomes(goal_images)


def _shifted(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """uint8 (B, H, W, C) read ``dy`` rows and ``dx`` columns further on: out[i, j] = in[i + dy, j + dx],
    edge pixels repeated past the border. No offset returns ``images`` itself (the single read copies nothing)."""
    if not (dy or dx):
        return images
    rows = (torch.arange(images.shape[1], device=images.device) + dy).clamp(0, images.shape[1] - 1)
    columns = (torch.arange(images.shape[2], device=images.device) + dx).clamp(0, images.shape[2] - 1)
    return images[:, rows][:, :, columns]


@torch.no_grad()
def scene_heatmaps(model: Grasp2Vec, goal_embeddings: torch.Tensor, scene_images: np.ndarray | torch.Tensor,
                   readout: HeatmapReadout = PLAIN) -> torch.Tensor:
    """Goal embeddings (B, D) over scenes uint8 (B, H, W, 3) at the model's size → heatmaps
    (B, H, W) float, read as ``readout`` says."""
    size = model.config.image_size
    scenes = torch.as_tensor(np.ascontiguousarray(scene_images) if isinstance(scene_images, np.ndarray)
                             else scene_images)
    offsets = readout.offsets(model.config.total_stride)
    origin = model.cell_origin if readout.centred else None
    total = torch.zeros(len(scenes), size, size, device=goal_embeddings.device)
    for dy in offsets:
        for dx in offsets:
            maps = model.scene_feature_map(_shifted(scenes, dy, dx))
            heat = heatmap_from_embeddings(goal_embeddings, maps, size, origin)
            total += _shifted(heat[..., None], -dy, -dx)[..., 0]
    return total / readout.passes


@torch.no_grad()
def goal_heatmap(model: Grasp2Vec, goal_images: np.ndarray | torch.Tensor,
                 scene_images: np.ndarray | torch.Tensor, readout: HeatmapReadout = PLAIN) -> torch.Tensor:
    """Heatmaps (B, H, W) float of goal i in scene i. Goals uint8 (B, H, W, 3), or (B, K, H, W, 3)
    for composite goals; scenes uint8 (B, H, W, 3). Higher = more goal-like."""
    if len(goal_images) != len(scene_images):
        raise ValueError(f"got {len(goal_images)} goals but {len(scene_images)} scenes: one goal per scene")
    return scene_heatmaps(model, goal_embeddings(model, goal_images), scene_images, readout)


def localize(heatmap: torch.Tensor | np.ndarray) -> np.ndarray:
    """Argmax pixel of each heatmap (B, H, W) → int64 (B, 2) as (row, col)."""
    values = torch.as_tensor(heatmap)
    if values.ndim != 3:
        raise ValueError(f"heatmap must be (B, H, W), got {tuple(values.shape)}")
    flat = values.reshape(len(values), -1).argmax(dim=1)
    width = values.shape[2]
    return torch.stack([flat // width, flat % width], dim=1).cpu().numpy().astype(np.int64)
