"""Top-down height maps of the tray and grasp-aligned patches of them: the view a grasp is decided at.

:class:`HeightmapCamera` renders a depth image from straight above the tray (TinyRenderer's depth
buffer, returned in the same call as the colours), unprojects every pixel to a 3-D point and keeps,
in each cell of a regular grid over the workspace, the highest point: an orthographic height map in
metres above the tray floor, with the colour seen there (as in VPG, Zeng et al. 2018).
:func:`aligned_patches` cuts, for each candidate grasp (x, y, yaw), a square patch of such maps centred
on the grasp point and rotated so that the fingers close along the patch's horizontal axis (as
Dex-Net 2.0's GQ-CNN aligns its depth crops): a CNN scoring the patch sees the object, its width
across the fingers and its neighbours at the scale the gripper acts on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from pybullet_utils.bullet_client import BulletClient

from envs.cameras import FAR, NEAR
from envs.config import LayoutConfig


@dataclass(frozen=True)
class HeightmapConfig:
    """The grid and the camera that fills it.

    Attributes:
        resolution: cell side, metres.
        margin: metres added around the layout's drop zone on every side.
        camera_height: metres above the tray floor of the top-down camera.
        render_size: side of the rendered depth image, pixels (more pixels than cells fill every cell).
        fov: vertical field of view of the camera, degrees.
    """

    resolution: float = 0.004
    margin: float = 0.04
    camera_height: float = 0.9
    render_size: int = 160
    fov: float = 30.0

    def __post_init__(self) -> None:
        if self.resolution <= 0 or self.margin < 0 or self.camera_height <= 0 or self.render_size < 8:
            raise ValueError(f"invalid heightmap config {self}")


HEIGHT_UNIT = 0.001  # m per level of an encoded height map's height channel (uint8: 0 to 25.5 cm)
ENCODED_CHANNELS = 4  # height, red, green, blue


def grid_ranges(layout: LayoutConfig, config: HeightmapConfig) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x range, y range) in metres a height map covers: the layout's drop zone plus ``config.margin``."""
    return ((layout.drop_x[0] - config.margin, layout.drop_x[1] + config.margin),
            (layout.drop_y[0] - config.margin, layout.drop_y[1] + config.margin))


@dataclass(frozen=True)
class GridGeometry:
    """Where a height-map grid lies: cell (0, 0)'s centre (x, y) in metres, the cell side in metres and
    the grid's shape (rows along y, columns along x). A pure function of the layout and the config, so a
    learner can place patches on stored maps without a simulator."""

    origin: tuple[float, float]
    resolution: float
    shape: tuple[int, int]

    @classmethod
    def of(cls, layout: LayoutConfig, config: HeightmapConfig = HeightmapConfig()) -> GridGeometry:
        x_range, y_range = grid_ranges(layout, config)
        res = config.resolution
        shape = (int(np.ceil((y_range[1] - y_range[0]) / res)), int(np.ceil((x_range[1] - x_range[0]) / res)))
        return cls((x_range[0] + res / 2, y_range[0] + res / 2), res, shape)

    def cell(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) of the cell holding world point (x, y): rows follow y, columns follow x."""
        return int(round((y - self.origin[1]) / self.resolution)), int(round((x - self.origin[0]) / self.resolution))

    def cell_centres(self) -> np.ndarray:
        """(H, W, 2) world (x, y) in metres of every cell's centre."""
        rows, cols = np.meshgrid(np.arange(self.shape[0]), np.arange(self.shape[1]), indexing="ij")
        return np.stack([self.origin[0] + cols * self.resolution, self.origin[1] + rows * self.resolution], axis=-1)


@dataclass(frozen=True)
class Heightmap:
    """Heights (H, W) float32 metres above the tray floor (0 where nothing was seen), colours (H, W, 3)
    uint8, and the world coordinates of cell (0, 0)'s centre and the cell size."""

    heights: np.ndarray
    colours: np.ndarray
    origin: tuple[float, float]
    resolution: float

    def cell(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) of the cell holding world point (x, y) (:meth:`GridGeometry.cell`)."""
        return GridGeometry(self.origin, self.resolution, self.heights.shape).cell(x, y)

    def encode(self) -> np.ndarray:
        """(H, W, 4) uint8 as an observation carries it: height in :data:`HEIGHT_UNIT` s (saturating at
        255), then the colour."""
        levels = np.clip(np.round(self.heights / HEIGHT_UNIT), 0, 255).astype(np.uint8)
        return np.concatenate([levels[..., None], self.colours], axis=-1)


def decode_heightmaps(encoded: np.ndarray | torch.Tensor, height_scale: float = 0.05) -> torch.Tensor:
    """Encoded maps (B, H, W, 4) uint8 → float (B, 4, H, W): height / ``height_scale`` (metres; so a 5 cm
    object reads 1), colours in [0, 1]."""
    if not isinstance(encoded, torch.Tensor):  # a read-only array (np.load, a frozen view) is copied for torch
        encoded = torch.from_numpy(np.require(encoded, requirements=("C", "W")))
    x = encoded.permute(0, 3, 1, 2).float()
    scale = torch.tensor([HEIGHT_UNIT / height_scale, 1 / 255, 1 / 255, 1 / 255]).view(1, 4, 1, 1)
    return x * scale


class HeightmapCamera:
    """Renders :class:`Heightmap` s of the drop zone (plus ``config.margin``) from straight above."""

    def __init__(self, client: BulletClient, layout: LayoutConfig, config: HeightmapConfig = HeightmapConfig()) -> None:
        self.client, self.layout, self.config = client, layout, config
        self.geometry = GridGeometry.of(layout, config)
        self.x_range, self.y_range = grid_ranges(layout, config)
        self.shape = self.geometry.shape
        centre = [float(np.mean(self.x_range)), float(np.mean(self.y_range)), layout.tray_floor_z]
        eye = [centre[0], centre[1], layout.tray_floor_z + config.camera_height]
        self.view = client.computeViewMatrix(eye, centre, [1.0, 0.0, 0.0])
        self.projection = client.computeProjectionMatrixFOV(config.fov, 1.0, NEAR, FAR)
        clip_from_world = (np.asarray(self.projection).reshape(4, 4).T @ np.asarray(self.view).reshape(4, 4).T)
        self.world_from_clip = np.linalg.inv(clip_from_world)

    def render(self) -> Heightmap:
        """Render depth and colour once and bin the unprojected points into the grid."""
        points, colours, _ = self.surface_points()
        return self._bin(points, colours)

    def surface_points(self, segmentation: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """One render, every pixel unprojected: world points (N, 3) in metres, their colours (N, 3) uint8 and, with
        ``segmentation``, the PyBullet body id seen at each (N,) int64 (-1: nothing), else None."""
        size = self.config.render_size
        flags = 0 if segmentation else self.client.ER_NO_SEGMENTATION_MASK
        _, _, rgba, depth, seg = self.client.getCameraImage(
            size, size, viewMatrix=self.view, projectionMatrix=self.projection,
            renderer=self.client.ER_TINY_RENDERER, flags=flags)
        colours = np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3].reshape(-1, 3)
        ndc_z = 2.0 * np.asarray(depth, dtype=np.float64).reshape(-1) - 1.0
        pixel = (np.arange(size) + 0.5) / size * 2.0 - 1.0
        ndc_x, ndc_y = np.meshgrid(pixel, -pixel)  # image rows run top to bottom, NDC y bottom to top
        clip = np.stack([ndc_x.reshape(-1), ndc_y.reshape(-1), ndc_z, np.ones_like(ndc_z)])
        points = self.world_from_clip @ clip
        bodies = np.asarray(seg, dtype=np.int64).reshape(-1) if segmentation else None
        return (points[:3] / points[3]).T, colours, bodies

    def _bin(self, points: np.ndarray, colours: np.ndarray) -> Heightmap:
        res = self.config.resolution
        rows = np.floor((points[:, 1] - self.y_range[0]) / res).astype(int)
        cols = np.floor((points[:, 0] - self.x_range[0]) / res).astype(int)
        heights = points[:, 2] - self.layout.tray_floor_z
        keep = (rows >= 0) & (rows < self.shape[0]) & (cols >= 0) & (cols < self.shape[1]) & (heights > -0.05)
        rows, cols, heights, colours = rows[keep], cols[keep], heights[keep], colours[keep]
        order = np.argsort(heights)  # later writes win: each cell keeps its highest point
        grid = np.zeros(self.shape, np.float32)
        image = np.zeros((*self.shape, 3), np.uint8)
        grid[rows[order], cols[order]] = np.maximum(heights[order], 0.0)
        image[rows[order], cols[order]] = colours[order]
        return Heightmap(grid, image, self.geometry.origin, res)


def aligned_patches(maps: torch.Tensor, geometry: GridGeometry, grasps: torch.Tensor, size: int,
                    extent: float) -> torch.Tensor:
    """Grasp-aligned patches of stacked maps, N grasps per map, in one ``grid_sample``.

    Args:
        maps: (B, C, H, W) float maps on the grid ``geometry`` describes (heights, colours, a goal heatmap, ...).
        geometry: the grid's placement in the world.
        grasps: (B, N, 3) grasp poses (x m, y m, yaw rad).
        size: patch side, pixels.
        extent: patch side, metres.

    Returns:
        (B, N, C, size, size): centred on the grasp point, columns running along the direction the fingers
        close in, (-cos yaw, sin yaw); outside the grid reads 0.
    """
    batch, channels, height, width = maps.shape
    count = grasps.shape[1]
    x, y = grasps[..., 0].reshape(-1), grasps[..., 1].reshape(-1)
    closing = torch.pi - grasps[..., 2].reshape(-1)  # the fingers close along (-cos yaw, sin yaw) (envs.scripted)
    # grid_sample's normalised coordinates (align_corners=False): pixel centre j ↔ (2j + 1) / W - 1
    cx = (2 * ((x - geometry.origin[0]) / geometry.resolution) + 1) / width - 1
    cy = (2 * ((y - geometry.origin[1]) / geometry.resolution) + 1) / height - 1
    sx, sy = extent / (width * geometry.resolution), extent / (height * geometry.resolution)
    cos, sin = torch.cos(closing), torch.sin(closing)
    theta = torch.stack([torch.stack([cos * sx, -sin * sx, cx], dim=1),
                         torch.stack([sin * sy, cos * sy, cy], dim=1)], dim=1)  # (B·N, 2, 3)
    grid = F.affine_grid(theta.to(maps.dtype), [batch * count, channels, size, size], align_corners=False)
    grid = grid.reshape(batch, count * size, size, 2)  # every grasp's patch stacked along the rows
    patches = F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return patches.reshape(batch, channels, count, size, size).transpose(1, 2)
