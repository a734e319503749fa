"""A focused grasp search: CEM over poses near one object the robot sees, drawn at random.

A collection setting. An indiscriminate grasp policy picks the grasp it rates best in the whole bin, so
the data it collects is mostly about the objects it finds easiest, while an instance task hands it a
given object, easy or not. Focused, the policy draws one point where its own top-down height map sees
something above the tray floor (each such cell equally likely, so no simulator truth is read) and lets
CEM search only the square of half-side ``radius`` metres around it, yaw free: its best grasp *on
whatever lies there*. The outcome is labelled as any attempt's is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from common.settings import from_fields
from envs.grasp_pose import PoseSpace
from envs.heightmap import HEIGHT_UNIT, GridGeometry


@dataclass(frozen=True)
class FocusConfig:
    """Where a focused search looks.

    Attributes:
        radius: half-side of the searched square around the drawn point, metres (0: no focus, the
            whole bin is searched).
        min_height: metres above the tray floor a height-map cell must reach to count as an object.
    """

    radius: float = 0.0
    min_height: float = 0.01

    def __post_init__(self) -> None:
        if not np.isfinite(self.radius) or self.radius < 0:
            raise ValueError(f"focus radius must be a finite number of metres >= 0, got {self.radius}")
        if not np.isfinite(self.min_height) or self.min_height <= 0:
            raise ValueError(f"focus min_height must be a finite number of metres > 0, got {self.min_height}")

    @property
    def enabled(self) -> bool:
        return self.radius > 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FocusConfig:
        """From a card's ``focus`` entry; unknown keys are refused by name."""
        return from_fields(cls, values, "focus")


class FocusedSearch:
    """Draws focus points from encoded height maps and maps CEM's box onto the square around them.

    Args:
        space: the pose space CEM's normalised poses live in.
        geometry: where the height-map grid lies (the grid the observations' ``heightmap`` was rendered on).
        config: radius and object height.
    """

    def __init__(self, space: PoseSpace, geometry: GridGeometry, config: FocusConfig) -> None:
        if not config.enabled:
            raise ValueError("a focused search needs a radius > 0")
        self.space, self.config = space, config
        self._centres = geometry.cell_centres()  # (Hm, Wm, 2) metres
        self._half = torch.as_tensor(config.radius * 2.0 / (space.high[:2] - space.low[:2]), dtype=torch.float32)

    def draw(self, heightmaps: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """Focus centres (B, 2) in normalised (x, y) for encoded height maps (B, Hm, Wm, 4) uint8: a uniformly
        drawn cell at least ``min_height`` high, or the bin's centre (0, 0) where no cell is.

        Raises:
            ValueError: the maps are not on this search's grid.
        """
        heightmaps = np.asarray(heightmaps)
        if heightmaps.ndim != 4 or heightmaps.shape[1:3] != self._centres.shape[:2]:
            raise ValueError(f"height maps of shape {heightmaps.shape} are not (B, {self._centres.shape[0]}, "
                             f"{self._centres.shape[1]}, 4): rendered on another grid than the policy's")
        level = self.config.min_height / HEIGHT_UNIT
        centres = np.zeros((len(heightmaps), 2))
        for row, encoded in enumerate(heightmaps):
            cells = np.flatnonzero(encoded[..., 0] >= level)
            if len(cells):
                xy = self._centres.reshape(-1, 2)[cells[rng.integers(len(cells))]]
                centres[row] = self.space.from_pose(np.array([xy[0], xy[1], 0.0]))[:2]
        return torch.as_tensor(centres, dtype=torch.float32)

    def poses(self, local: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """CEM's candidates ``local`` (B, N, 3) in [-1, 1] → normalised poses (B, N, 3): (x, y) within the
        square around each centre (B, 2), clipped to the bin, yaw unchanged."""
        xy = (centres[:, None, :] + self._half * local[..., :2]).clamp(-1.0, 1.0)
        return torch.cat([xy, local[..., 2:]], dim=-1)
