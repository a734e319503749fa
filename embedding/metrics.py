"""Evaluation metrics on embeddings and heatmaps: pure functions of arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

METRICS = ("dot", "cosine")


def similarity(queries: torch.Tensor, pool: torch.Tensor, metric: str = "dot") -> torch.Tensor:
    """(Q, D) × (P, D) → (Q, P) scores, higher = nearer. ``metric``: ``dot`` or ``cosine``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "cosine":
        queries = torch.nn.functional.normalize(queries, dim=1)
        pool = torch.nn.functional.normalize(pool, dim=1)
    return queries @ pool.T


def retrieval_top1(queries: torch.Tensor, pool: torch.Tensor, query_labels: Sequence, pool_labels: Sequence,
                   metric: str = "dot") -> tuple[float, np.ndarray]:
    """Top-1 retrieval: for each query its nearest pool item; correct when the labels agree.

    Returns (accuracy in [0, 1], nearest pool index per query (Q,) int64).
    """
    if len(queries) != len(query_labels) or len(pool) != len(pool_labels):
        raise ValueError("one label per query and per pool item is needed")
    if len(queries) == 0:
        raise ValueError("retrieval needs at least one query")
    nearest = similarity(queries, pool, metric).argmax(dim=1).cpu().numpy()
    hits = np.array([query_labels[q] == pool_labels[p] for q, p in enumerate(nearest)])
    return float(hits.mean()), nearest


def localization_hits(points: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Whether each (row, col) point (B, 2) lies on its mask (B, H, W) bool. Returns (B,) bool."""
    points = np.asarray(points)
    masks = np.asarray(masks, dtype=bool)
    if points.shape != (len(masks), 2):
        raise ValueError(f"points must be (B, 2) for {len(masks)} masks, got {points.shape}")
    return masks[np.arange(len(masks)), points[:, 0], points[:, 1]]

