"""Non-learning reference policies for the learned ones' curves."""

from __future__ import annotations

from typing import Any

import numpy as np

CLOSE_INDEX = 4


class RandomMovePolicy:
    """Uniform random moves in [-1, 1] that never close: with ``auto_descend`` the gripper still
    closes at the bottom, so this is what QT-Opt's exploration alone achieves."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """No per-episode state."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        action = self.rng.uniform(-1.0, 1.0, 5).astype(np.float32)
        action[CLOSE_INDEX] = -1.0
        return action
