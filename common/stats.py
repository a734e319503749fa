"""Statistics shared by every evaluation: the one Wilson interval and the one ROC-AUC."""

from __future__ import annotations

import math

import numpy as np

LOGIT_CLIP = 1e-6  # probabilities are clipped to [this, 1 - this] before their log-odds are taken


def log_odds(probability: np.ndarray | float) -> np.ndarray:
    """Log-odds of probabilities (any shape), clipped to stay finite."""
    p = np.clip(np.asarray(probability, np.float64), LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(p) - np.log1p(-p)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % by default) of a success proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random positive > that of a random negative), ties
    counting one half (Mann–Whitney U). Raises ``ValueError`` without both classes."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"ROC-AUC needs positives and negatives, got {n_pos} and {n_neg}")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def paired_auc_difference(first: np.ndarray, second: np.ndarray, labels: np.ndarray, resamples: int = 1000,
                          seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """ROC-AUC of ``second`` minus that of ``first`` on the same items, with a percentile bootstrap interval
    (items resampled with replacement, the two scores kept paired): (difference, low, high). Resamples that
    draw a single class are skipped."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    labels = np.asarray(labels).astype(bool)
    if not first.shape == second.shape == labels.shape or first.ndim != 1:
        raise ValueError(f"need three (N,) arrays, got {first.shape}, {second.shape} and {labels.shape}")
    difference = roc_auc(second, labels) - roc_auc(first, labels)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        if 0 < labels[pick].sum() < len(pick):
            draws.append(roc_auc(second[pick], labels[pick]) - roc_auc(first[pick], labels[pick]))
    if not draws:
        raise ValueError("no bootstrap resample held both classes")
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(difference), float(low), float(high)
