"""Grasp2Vec's training objective, as pure functions of embedding batches.

With ``a_i = φ_s(pre_i) − φ_s(post_i)`` and ``b_i = φ_o(outcome_i)`` (both (B, D)), the i-th pair
is the positive and every other item of the batch a negative:

    loss = npairs(a, b) + npairs(b, a) + λ · (mean_i ‖a_i‖² + mean_i ‖b_i‖²)

where ``npairs(x, y) = mean_i −log softmax_j(x_i · y_j)[i]``, the softmax cross-entropy over the
batch's dot products (Sohn 2016), taken in both directions as in the paper.

An optional same-object term ties φ_o's two views of one object together (``c_i``, ``d_i``: the outcomes of a
lift and of the same grasp made again after a put-back, ``graspdata.reader.OutcomePairDataset``):

    same_object = npairs(c, d) + npairs(d, c)
"""

from __future__ import annotations

import torch
from torch.nn import functional

DEFAULT_L2_WEIGHT = 5e-4


def _check_pair(anchors: torch.Tensor, positives: torch.Tensor) -> None:
    if anchors.ndim != 2 or anchors.shape != positives.shape:
        raise ValueError(f"anchors and positives must both be (B, D), got {tuple(anchors.shape)} "
                         f"and {tuple(positives.shape)}")
    if anchors.shape[0] < 2:
        raise ValueError("n-pairs needs a batch of at least 2 pairs (the other pairs are the negatives)")


def npairs_loss(anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy of ``anchors @ positives.T`` (B, B) against the diagonal. Scalar."""
    _check_pair(anchors, positives)
    logits = anchors @ positives.T
    return functional.cross_entropy(logits, torch.arange(len(anchors), device=anchors.device))


def embedding_l2_penalty(anchors: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """``mean_i ‖a_i‖² + mean_i ‖b_i‖²``. Scalar."""
    _check_pair(anchors, positives)
    return anchors.pow(2).sum(dim=1).mean() + positives.pow(2).sum(dim=1).mean()


def grasp2vec_loss(scene_differences: torch.Tensor, outcomes: torch.Tensor,
                   l2_weight: float = DEFAULT_L2_WEIGHT) -> dict[str, torch.Tensor]:
    """Symmetric n-pairs plus L2. Inputs (B, D). Returns scalars ``loss`` (the total), ``npairs_scene``
    (scene difference → outcome), ``npairs_outcome`` (outcome → scene difference) and ``l2``."""
    scene_term = npairs_loss(scene_differences, outcomes)
    outcome_term = npairs_loss(outcomes, scene_differences)
    l2 = embedding_l2_penalty(scene_differences, outcomes)
    return {"loss": scene_term + outcome_term + l2_weight * l2, "npairs_scene": scene_term,
            "npairs_outcome": outcome_term, "l2": l2}


def same_object_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Symmetric n-pairs between two outcome embeddings of the same objects, (P, D) each: the i-th rows are one
    object seen twice, every other row a negative. Scalar."""
    return npairs_loss(first, second) + npairs_loss(second, first)
