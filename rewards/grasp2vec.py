"""Grasp2Vec reward: cosine similarity of φ_o(goal) and φ_o(outcome) (Jang & Devin et al., 2018).

The model is loaded once per process (shared by every reward built on the same checkpoint file),
goal embeddings are cached, and outcome images are embedded in batches. Continuous by default;
``thresholded=True`` gives 1/0 at the calibrated threshold. 0 when the presence classifier (a tiny
CNN on the outcome image, see :mod:`rewards.presence`) says the gripper came up empty, and, with
``max_foreign_share``, when the outcome shows more than the goal: the paper's localization read in the
outcome image, where the cells of φ_o's spatial map that do not look like the goal hold too much of its mass
(the goal's object lifted *with another*).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.protocols import RewardError
from embedding.model import to_input
from rewards.similarity import EmbeddingSimilarityReward, Encoder, normalize

DEFAULT_CHECKPOINT = "checkpoints/grasp2vec"
DEFAULT_FOREIGN_COSINE = 0.7  # a map cell less like the goal than this is foreign (chosen on pools, docs/rewards.md)


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _pooled(maps: np.ndarray) -> np.ndarray:
    """φ_o's embedding from its spatial maps (B, D, H, W): the mean over cells, (B, D) (Grasp2Vec's mean pooling)."""
    return maps.mean(axis=(2, 3))


@functools.lru_cache(maxsize=4)
def _cached_encoder(path: str, mtime_ns: int, precision: str) -> tuple[Any, torch.nn.Module]:
    """(model, φ_o prepared for inference), one per checkpoint file, precision and process.

    ``float32``: traced and frozen by ``torch.jit.freeze`` (BatchNorm folded into the convolutions;
    same outputs to ~1e-7). ``bfloat16``: BatchNorm folded by ``torch.fx`` and the weights cast to
    bfloat16 (cosine similarities within ~1e-4 of float32; fast only on CPUs with native bfloat16,
    e.g. AVX512-BF16 / AMX).
    """
    from torch.fx.experimental.optimization import fuse

    from embedding.checkpoint import load_checkpoint

    model = load_checkpoint(path)
    encoder = model.outcome_encoder.eval()
    if precision == "bfloat16":
        return model, fuse(encoder).to(torch.bfloat16)
    example = torch.zeros(1, 3, model.config.image_size, model.config.image_size)
    with torch.no_grad():
        return model, torch.jit.freeze(torch.jit.trace(encoder, example))


class Grasp2VecReward(EmbeddingSimilarityReward):
    """cos(φ_o(goal), φ_o(outcome)) from a Grasp2Vec checkpoint (see :class:`EmbeddingSimilarityReward`).

    Extra keywords:
        precision: φ_o's arithmetic, ``"float32"`` (default) or ``"bfloat16"``.
        max_foreign_share: score 0 when the outcome's :meth:`foreign_shares` exceeds this (in [0, 1]); None (the
            default) never does. It belongs to one checkpoint: choose it on validation data.
        foreign_cosine: a cell of φ_o(outcome)'s spatial map whose cosine with φ_o(goal) is below this is foreign.
    """

    name = "grasp2vec"

    def __init__(self, checkpoint: str | Path = DEFAULT_CHECKPOINT, precision: str = "float32",
                 max_foreign_share: float | None = None, foreign_cosine: float = DEFAULT_FOREIGN_COSINE,
                 **kwargs: Any) -> None:
        if precision not in PRECISIONS:
            raise RewardError(f"grasp2vec reward: precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        if max_foreign_share is not None and not 0.0 <= float(max_foreign_share) <= 1.0:
            raise RewardError(f"grasp2vec reward: max_foreign_share is a share of the outcome's feature mass, in "
                              f"[0, 1], got {max_foreign_share!r}")
        if not -1.0 <= float(foreign_cosine) <= 1.0:
            raise RewardError(f"grasp2vec reward: foreign_cosine is a cosine, in [-1, 1], got {foreign_cosine!r}")
        self.precision = precision
        self.max_foreign_share = None if max_foreign_share is None else float(max_foreign_share)
        self.foreign_cosine = float(foreign_cosine)
        super().__init__(checkpoint, **kwargs)

    def foreign_shares(self, outcomes: np.ndarray, goals: np.ndarray, slots: np.ndarray | None = None) -> np.ndarray:
        """(N,) float in [0, 1]: for each goal's unit embedding (N, D) and its outcome image (``outcomes[slots[i]]``,
        uint8 (S, S, 3); ``slots`` defaults to ``arange(N)``), the share of φ_o(outcome)'s spatial feature mass (each
        cell's L2 norm) in cells whose cosine with the goal is below ``foreign_cosine``. Low when the outcome shows
        the goal's object alone; high when it shows another object too (or instead); 0 for an all-zero map."""
        goals = np.asarray(goals, dtype=np.float32)
        slots = np.arange(len(goals)) if slots is None else np.asarray(slots)
        return self.readouts(self._check_images(outcomes), slots, goals, every=True)["foreign_share"]

    def readouts(self, outcomes: np.ndarray, slots: np.ndarray, goals: np.ndarray, every: bool = False
                 ) -> dict[str, np.ndarray]:
        """``similarity``, and ``foreign_share`` (:meth:`foreign_shares`) when the reward gates on it or ``every``
        asks (:meth:`explain` reports it either way), from one pass of φ_o over ``outcomes``, ``batch_size`` images at
        a time (the pooled embeddings are those :meth:`embed` gives), shares ``batch_size`` contexts at a time."""
        shares_wanted = every or self.max_foreign_share is not None
        pooled = np.zeros((len(outcomes), self.embedding_dim), dtype=np.float32)
        shares = np.zeros(len(goals))
        for start in range(0, len(outcomes), self.batch_size):
            maps = self._outcome_maps(outcomes[start:start + self.batch_size])  # (B, D, H, W)
            pooled[start:start + len(maps)] = normalize(_pooled(maps))
            if not shares_wanted:
                continue
            cells = maps.reshape(*maps.shape[:2], -1)  # (B, D, HW)
            mine = np.flatnonzero((slots >= start) & (slots < start + len(maps)))
            for part in np.array_split(mine, max(1, -(-len(mine) // self.batch_size))):
                shares[part] = self._foreign_share(cells[slots[part] - start], goals[part])
        similarity = np.sum(goals * pooled[slots], axis=1)
        return {"similarity": similarity, "foreign_share": shares} if shares_wanted else {"similarity": similarity}

    def _foreign_share(self, cells: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """(n,) share of the mass of ``cells`` (n, D, HW) in cells less like ``goals`` (n, D) than
        ``foreign_cosine``."""
        mass = np.linalg.norm(cells, axis=1)  # (n, HW)
        along = np.einsum("ndc,nd->nc", cells, goals)
        total = mass.sum(axis=1)
        foreign = (mass * (along < self.foreign_cosine * mass)).sum(axis=1)
        return np.where(total > 0, foreign / np.maximum(total, 1e-12), 0.0)

    def vetoes(self, readouts: dict[str, np.ndarray]) -> np.ndarray | None:
        if self.max_foreign_share is None:
            return None
        return readouts["foreign_share"] > self.max_foreign_share

    def weights_file(self) -> Path:
        from embedding.checkpoint import checkpoint_files

        return checkpoint_files(self.checkpoint)[0]

    def load_encoder(self, checkpoint: Path, image_size: int | None) -> tuple[Encoder, int]:
        try:
            weights = self.weights_file()
            model, encoder = _cached_encoder(str(checkpoint.resolve()), weights.stat().st_mtime_ns, self.precision)
        except (OSError, ValueError) as error:  # CheckpointMismatchError is a ValueError
            raise RewardError(f"grasp2vec reward: checkpoint {checkpoint} does not load: {error}") from error
        size = model.config.image_size
        if image_size is not None and size != image_size:
            raise RewardError(f"grasp2vec checkpoint {checkpoint} was trained on {size} px images, not {image_size} px")
        dtype = PRECISIONS[self.precision]

        def maps(images: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return encoder(to_input(images, size).to(dtype)).float().numpy()

        self._outcome_maps = maps  # uint8 (B, S, S, 3) -> φ_o's spatial maps (B, D, H, W) float32
        return (lambda images: _pooled(maps(images))), size
