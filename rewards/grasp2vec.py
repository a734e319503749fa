"""Grasp2Vec reward: cosine similarity of φ_o(goal) and φ_o(outcome) (Jang & Devin et al., 2018).

The model is loaded once per process (shared by every reward built on the same checkpoint file),
goal embeddings are cached, and outcome images are embedded in batches. Continuous by default;
``thresholded=True`` gives 1/0 at the calibrated threshold. 0 when the presence classifier (a tiny
CNN on the outcome image, see :mod:`rewards.presence`) says the gripper came up empty.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.protocols import RewardError
from embedding.model import to_input
from rewards.similarity import EmbeddingSimilarityReward, Encoder

DEFAULT_CHECKPOINT = "checkpoints/grasp2vec"


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


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

    Extra keyword: ``precision`` of φ_o's arithmetic, ``"float32"`` (default) or ``"bfloat16"``.
    """

    name = "grasp2vec"

    def __init__(self, checkpoint: str | Path = DEFAULT_CHECKPOINT, precision: str = "float32", **kwargs: Any) -> None:
        if precision not in PRECISIONS:
            raise RewardError(f"grasp2vec reward: precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.precision = precision
        super().__init__(checkpoint, **kwargs)

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

        def encode(images: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return encoder(to_input(images, size).to(dtype)).float().mean(dim=(2, 3)).numpy()

        return encode, size
