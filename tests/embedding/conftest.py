"""Synthetic grasp triplets for fast embedding tests: coloured squares on a grey floor.

Each "object" is a colour. A scene holds three squares; the grasp removes one; the outcome image
shows that colour as a big square. Learnable in a few dozen steps at 32 px.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedding.evaluate import HeldOutGrasps

PALETTE = np.array([[230, 40, 40], [40, 200, 40], [40, 60, 230], [230, 220, 40], [200, 40, 200], [40, 210, 210],
                    [250, 140, 20], [120, 60, 20]], dtype=np.uint8)
FLOOR = 110
SQUARE = 6


class SyntheticTriplets(torch.utils.data.Dataset):
    """``n`` triplets of ``size`` px; ``ds[i]`` → pre/post/outcome uint8 (H, W, 3), like ``TripletDataset``.
    ``objects[i]`` and ``masks[i]`` hold the ground truth for evaluation tests."""

    def __init__(self, n: int, size: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.image_size = size
        self.pre = np.full((n, size, size, 3), FLOOR, np.uint8)
        self.post = self.pre.copy()
        self.outcome = np.full((n, size, size, 3), FLOOR // 2, np.uint8)
        self.masks = np.zeros((n, size, size), bool)
        self.objects: list[str] = []
        cells = (size // SQUARE) ** 2
        for i in range(n):
            colours = rng.choice(len(PALETTE), 3, replace=False)
            spots = rng.choice(cells, 3, replace=False)
            for k, (colour, spot) in enumerate(zip(colours, spots, strict=True)):
                row, col = divmod(int(spot), size // SQUARE)
                window = np.s_[row * SQUARE:(row + 1) * SQUARE, col * SQUARE:(col + 1) * SQUARE]
                self.pre[i][window] = PALETTE[colour]
                if k == 0:
                    self.masks[i][window] = True
                else:
                    self.post[i][window] = PALETTE[colour]
            self.outcome[i, size // 4:3 * size // 4, size // 4:3 * size // 4] = PALETTE[colours[0]]
            self.objects.append(str(colours[0]))

    def __len__(self) -> int:
        return len(self.pre)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return {"pre": self.pre[i], "post": self.post[i], "outcome": self.outcome[i]}

    def held_out(self) -> HeldOutGrasps:
        return HeldOutGrasps(pre=self.pre, post=self.post, outcome=self.outcome, masks=self.masks,
                             objects=list(self.objects), urdfs={})


@pytest.fixture
def synthetic() -> SyntheticTriplets:
    return SyntheticTriplets(48, size=32, seed=0)
