"""The interface every policy follows."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    """Maps an observation to an action ``[dx, dy, dz, dyaw, close]`` in ``[-1, 1]``, shape (5,)."""

    def reset(self) -> None:
        """Forget per-episode state; called after every ``env.reset``."""

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """Action for one observation (a dict of numpy arrays as the environment returns it)."""
