"""A cross-batch memory of past embedding pairs: more negatives for the n-pairs loss at no extra compute.

In-batch n-pairs sees ``B - 1`` negatives per pair; retrieval is scored among a pool of 1,000. A
first-in-first-out memory of the last ``size`` pairs' embeddings (detached, from earlier steps) adds
``size`` negatives per pair: the loss then ranks each positive among ``B + size`` candidates. Because the
encoders change slowly, embeddings a few dozen steps old stay close to what the current encoders would
give (Wang et al., "Cross-Batch Memory for Embedding Learning", CVPR 2020). It suits a warm start, whose
embeddings move little from the first step, better than training from random weights.

Each row keeps the dataset index of its triplet, so a pair is never its own negative when its triplet
comes round again in the next epoch. The memory is part of a run's state: it is saved beside the
optimizer, so a resumed run continues exactly.
"""

from __future__ import annotations

import torch

EMPTY_INDEX = -1


class PairMemory:
    """FIFO of the last ``size`` (scene difference, outcome, dataset index) rows.

    Args:
        size: rows kept (> 0).
        dim: embedding size D.
    """

    def __init__(self, size: int, dim: int) -> None:
        if size < 1 or dim < 1:
            raise ValueError(f"a pair memory needs size >= 1 and dim >= 1, got size={size}, dim={dim}")
        self.size, self.dim = size, dim
        self.differences = torch.zeros(size, dim)
        self.outcomes = torch.zeros(size, dim)
        self.indices = torch.full((size,), EMPTY_INDEX, dtype=torch.long)
        self.head = 0  # the next row to overwrite

    @property
    def filled(self) -> int:
        """Rows holding a pair (the rest are empty until the memory has seen ``size`` pairs)."""
        return int((self.indices != EMPTY_INDEX).sum())

    def negatives(self, batch_indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The stored pairs and which of them may serve as each batch item's negatives.

        Args:
            batch_indices: (B,) dataset indices of the batch's triplets.
        Returns:
            differences (M, D), outcomes (M, D) of the filled rows, and a bool mask (B, M) that is False
            where a row holds the batch item's own triplet.
        """
        filled = self.indices != EMPTY_INDEX
        indices = self.indices[filled]
        allowed = batch_indices.reshape(-1, 1).cpu() != indices.reshape(1, -1)
        return self.differences[filled], self.outcomes[filled], allowed

    def push(self, differences: torch.Tensor, outcomes: torch.Tensor, batch_indices: torch.Tensor) -> None:
        """Store a batch's embeddings (B, D) (detached, on the CPU) in place of the oldest rows."""
        if differences.shape != outcomes.shape or differences.shape[-1] != self.dim:
            raise ValueError(f"expected two (B, {self.dim}) embeddings, got {tuple(differences.shape)} and "
                             f"{tuple(outcomes.shape)}")
        count = len(batch_indices)
        if count > self.size:
            differences, outcomes, batch_indices = differences[-self.size:], outcomes[-self.size:], \
                batch_indices[-self.size:]
            count = self.size
        rows = (self.head + torch.arange(count)) % self.size
        self.differences[rows] = differences.detach().float().cpu()
        self.outcomes[rows] = outcomes.detach().float().cpu()
        self.indices[rows] = batch_indices.cpu().long()
        self.head = int((self.head + count) % self.size)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors to save (safetensors) for an exact resume."""
        return {"memory.differences": self.differences, "memory.outcomes": self.outcomes,
                "memory.indices": self.indices, "memory.head": torch.tensor([self.head])}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` saved; refuses a memory of another size or width."""
        saved = tuple(tensors["memory.differences"].shape)
        if saved != (self.size, self.dim):
            raise ValueError(f"the saved pair memory is {saved}, this run's is {(self.size, self.dim)}")
        self.differences = tensors["memory.differences"].clone().float()
        self.outcomes = tensors["memory.outcomes"].clone().float()
        self.indices = tensors["memory.indices"].clone().long()
        self.head = int(tensors["memory.head"][0])
