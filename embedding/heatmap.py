"""Goal heatmaps: where in a scene is the object shown in a goal (outcome) image?

Per feature cell, ``φ_o(goal) · φ_s-spatial(scene)`` (dot product over the D channels), then
bilinearly upsampled from the (h, w) feature grid to the (H, W) image. A composite goal — several
outcome images of the same object — uses the mean of their embeddings.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from embedding.model import Grasp2Vec


def heatmap_from_embeddings(goal_embeddings: torch.Tensor, feature_maps: torch.Tensor,
                            image_size: int) -> torch.Tensor:
    """Goal embeddings (B, D) · scene feature maps (B, D, h, w) → (B, image_size, image_size) float."""
    if goal_embeddings.ndim != 2 or feature_maps.ndim != 4 or goal_embeddings.shape[:2] != feature_maps.shape[:2]:
        raise ValueError(f"goal embeddings (B, D) and feature maps (B, D, h, w) must agree, got "
                         f"{tuple(goal_embeddings.shape)} and {tuple(feature_maps.shape)}")
    cells = torch.einsum("bd,bdhw->bhw", goal_embeddings, feature_maps)
    upsampled = functional.interpolate(cells[:, None], size=(image_size, image_size), mode="bilinear",
                                       align_corners=False)
    return upsampled[:, 0]


@torch.no_grad()
def goal_embeddings(model: Grasp2Vec, goal_images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """φ_o of goals: uint8 (B, H, W, 3) → (B, D); composite goals (B, K, H, W, 3) → the mean over K."""
    if goal_images.ndim == 5:
        batch, count = goal_images.shape[:2]
        flat = goal_images.reshape(batch * count, *goal_images.shape[2:])
        return model.embed_outcomes(flat).reshape(batch, count, -1).mean(dim=1)
    return model.embed_outcomes(goal_images)


@torch.no_grad()
def goal_heatmap(model: Grasp2Vec, goal_images: np.ndarray | torch.Tensor,
                 scene_images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Heatmaps (B, H, W) float of goal i in scene i. Goals uint8 (B, H, W, 3), or (B, K, H, W, 3)
    for composite goals; scenes uint8 (B, H, W, 3). Higher = more goal-like."""
    if len(goal_images) != len(scene_images):
        raise ValueError(f"got {len(goal_images)} goals but {len(scene_images)} scenes: one goal per scene")
    goals = goal_embeddings(model, goal_images)
    return heatmap_from_embeddings(goals, model.scene_feature_map(scene_images), model.config.image_size)


def localize(heatmap: torch.Tensor | np.ndarray) -> np.ndarray:
    """Argmax pixel of each heatmap (B, H, W) → int64 (B, 2) as (row, col)."""
    values = torch.as_tensor(heatmap)
    if values.ndim != 3:
        raise ValueError(f"heatmap must be (B, H, W), got {tuple(values.shape)}")
    flat = values.reshape(len(values), -1).argmax(dim=1)
    width = values.shape[2]
    return torch.stack([flat // width, flat % width], dim=1).cpu().numpy().astype(np.int64)
