"""Q-network over grasp poses that sees each candidate grasp as the gripper would.

For every candidate (x, y, yaw) it cuts a square patch of the top-down height map (height and
colour, and for goal tasks the goal's Grasp2Vec heatmap carried onto the same grid) centred on the
grasp point and turned so the fingers close along the patch's rows (:func:`envs.heightmap.aligned_patches`,
as Dex-Net 2.0's GQ-CNN aligns its depth crops), and a small CNN scores the patch. At the default
4 mm cells a 5 cm object spans about 12 pixels: whether the fingers would close on one object, two,
or nothing is visible in the input instead of being guessed from a 1/4-resolution feature map at one point.

For goal tasks ``PatchNetworkConfig.centre_heat`` also feeds the heatmap's value at the grasp point (the
mean of the patch's four central heat pixels) straight into the fully connected layer. Three 2x2
max-poolings leave the convolutional read of the heat channel about 3 cm coarse, as coarse as the gap
between the target and the object touching it; the scalar keeps the exact value.

The maps go in once per scene (:meth:`PatchQNetwork.feature_map` only checks and keeps them); every
CEM candidate costs one patch through the CNN (four with ``average``).

A two-finger grasp stays the same grasp when its patch is mirrored across or along the closing direction,
or turned a half turn (the fingers swap): :func:`every_symmetry` lists these ``SYMMETRIES``, for
training-time augmentation (Dex-Net 2.0 augments its crops with the same reflections and half turn) and for
scoring a grasp as the mean over all four.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from envs.heightmap import ENCODED_CHANNELS, GridGeometry, aligned_patches

HIDDEN_ACTIVATION = 11  # index in PatchQNetwork.net of the ReLU after the first fully connected layer
POSE_FEATURES = 3  # x, y, yaw, each scaled to [-1, 1] (PatchNetworkConfig.pose_input)
SYMMETRIES = 4  # identity, mirror of the rows, mirror of the columns, half turn (both mirrors)


def every_symmetry(patches: torch.Tensor) -> torch.Tensor:
    """Patches (M, C, S, S) under each of the ``SYMMETRIES``, (SYMMETRIES, M, C, S, S): unchanged, rows
    mirrored, columns mirrored, both (a half turn)."""
    return torch.stack([patches, patches.flip(-2), patches.flip(-1), patches.flip(-2, -1)])


def symmetric_patches(patches: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Patches (M, C, S, S), each under symmetry ``which`` (M,) in [0, SYMMETRIES) (:func:`every_symmetry`)."""
    if which.shape != patches.shape[:1]:
        raise ValueError(f"expected one symmetry per patch, {patches.shape[0]}, got {tuple(which.shape)}")
    if which.numel() and (int(which.min()) < 0 or int(which.max()) >= SYMMETRIES):
        raise ValueError(f"symmetries are 0..{SYMMETRIES - 1}, got {which.unique().tolist()}")
    return every_symmetry(patches)[which, torch.arange(len(patches))]


@dataclass(frozen=True)
class PatchNetworkConfig:
    """Patch and layer sizes of :class:`PatchQNetwork`.

    Attributes:
        size: patch side, pixels (a multiple of 8: three 2x2 poolings).
        extent: patch side, metres (0.128 m at 32 px: one pixel per 4 mm height-map cell).
        channels: the three convolutions' widths (5x5, 3x3, 3x3, each followed by 2x2 max pooling).
        hidden: width of the fully connected layer.
        height_scale: metres of height that read 1 (:func:`envs.heightmap.decode_heightmaps`).
        centre_heat: goal tasks only: also feed the heat at the grasp point to the fully connected layer.
        pose_input: also feed the grasp's place on the grid and its wrist angle (x, y, yaw, each scaled to
            [-1, 1]) to the fully connected layer: what the aligned patch hides (how far the gripper travels and
            turns from its start pose to get there, the tray's walls). The symmetries transform the patch, not
            this input.
    """

    size: int = 32
    extent: float = 0.128
    channels: tuple[int, int, int] = (32, 64, 64)
    hidden: int = 256
    height_scale: float = 0.05
    centre_heat: bool = False
    pose_input: bool = False

    def __post_init__(self) -> None:
        if self.size < 8 or self.size % 8 or self.extent <= 0 or self.height_scale <= 0:
            raise ValueError(f"patch size must be a positive multiple of 8 and extent, height_scale > 0: {self}")


class PatchQNetwork(nn.Module):
    """Args:
        goal_task: whether a 5th input channel carries the goal's heatmap on the height-map grid.
        geometry: where the height-map grid lies (patches are cut in metres).
        config: patch and layer sizes.
    """

    def __init__(self, goal_task: bool, geometry: GridGeometry, config: PatchNetworkConfig) -> None:
        super().__init__()
        if config.centre_heat and not goal_task:
            raise ValueError("PatchNetworkConfig.centre_heat reads the goal heatmap: it needs a goal task")
        self.geometry, self.config = geometry, config
        self.in_channels = ENCODED_CHANNELS + (1 if goal_task else 0)
        c1, c2, c3 = config.channels
        cells = (config.size // 8) ** 2
        self.net = nn.Sequential(
            nn.Conv2d(self.in_channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c3 * cells, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 1))
        # the centre heat's column of the first fully connected layer (zero: starts as the network without it)
        self.centre_heat = nn.Parameter(torch.zeros(config.hidden)) if config.centre_heat else None
        # the grasp's pose's columns of the first fully connected layer
        self.pose_weights = nn.Linear(POSE_FEATURES, config.hidden, bias=False) if config.pose_input else None

    def feature_map(self, maps: torch.Tensor) -> torch.Tensor:
        """Grid maps (B, C, H, W) (see :meth:`agents.qtopt.learner.PoseQTOpt.inputs`), checked: the patches
        are cut per candidate in :meth:`score`."""
        if maps.ndim != 4 or maps.shape[1] != self.in_channels or tuple(maps.shape[2:]) != self.geometry.shape:
            raise ValueError(f"expected maps (B, {self.in_channels}, {self.geometry.shape[0]}, "
                             f"{self.geometry.shape[1]}), got {tuple(maps.shape)}")
        return maps

    def patches(self, maps: torch.Tensor, grasps: torch.Tensor) -> torch.Tensor:
        """(B, N, C, size, size) patches of maps (B, C, H, W) for grasps (B, N, 3) in metres and radians."""
        return aligned_patches(maps, self.geometry, grasps, self.config.size, self.config.extent)

    def score(self, maps: torch.Tensor, grasps: torch.Tensor, symmetry: torch.Tensor | None = None,
              average: bool = False) -> torch.Tensor:
        """Success logits (B, N) of grasps (B, N, 3) (x m, y m, yaw rad) on maps from :meth:`feature_map`.

        Args:
            symmetry: (B, N) ints: score each patch under that symmetry (:func:`symmetric_patches`;
                training-time augmentation), or None for the patches as cut.
            average: score each grasp as the mean logit of its patch under all ``SYMMETRIES``.
        """
        if symmetry is not None and average:
            raise ValueError("give a symmetry per grasp or average over all of them, not both")
        batch, count = grasps.shape[:2]
        patches = self.patches(maps, grasps).flatten(0, 1)
        flat = grasps.reshape(-1, grasps.shape[-1])
        if symmetry is not None:
            patches = symmetric_patches(patches, symmetry.reshape(-1))
        if not average:
            return self.patch_logits(patches, flat).view(batch, count)
        each = self.patch_logits(every_symmetry(patches).flatten(0, 1), flat.repeat(SYMMETRIES, 1))
        return each.view(SYMMETRIES, batch, count).mean(dim=0)

    def pose_features(self, grasps: torch.Tensor) -> torch.Tensor:
        """Grasps (..., 3) (x m, y m, yaw rad) → (..., 3): x and y scaled to [-1, 1] over the grid, yaw over
        [-pi/2, pi/2)."""
        geometry = self.geometry
        half = torch.tensor([geometry.shape[1], geometry.shape[0]], dtype=grasps.dtype) * geometry.resolution / 2
        centre = torch.tensor(geometry.origin, dtype=grasps.dtype) - geometry.resolution / 2 + half
        return torch.cat([(grasps[..., :2] - centre) / half, grasps[..., 2:3] / (torch.pi / 2)], dim=-1)

    def patch_logits(self, patches: torch.Tensor, grasps: torch.Tensor | None = None) -> torch.Tensor:
        """Success logits (M,) of patches (M, C, size, size) cut for grasps (M, 3) (x m, y m, yaw rad; read only
        with ``config.pose_input``)."""
        if self.centre_heat is None and self.pose_weights is None:
            return self.net(patches)[:, 0]
        hidden = self.net[:HIDDEN_ACTIVATION](patches)
        if self.centre_heat is not None:
            middle = self.config.size // 2
            heat = patches[:, -1, middle - 1:middle + 1, middle - 1:middle + 1].mean(dim=(1, 2))
            hidden = hidden + heat[:, None] * self.centre_heat
        if self.pose_weights is not None:
            if grasps is None or grasps.shape != (len(patches), POSE_FEATURES):
                raise ValueError(f"pose_input needs the grasp (x, y, yaw) of each of the {len(patches)} patches, got "
                                 f"{None if grasps is None else tuple(grasps.shape)}")
            hidden = hidden + self.pose_weights(self.pose_features(grasps))
        return self.net[HIDDEN_ACTIVATION:](hidden)[:, 0]

    @torch.no_grad()
    def copy_grasp_prior(self, source: PatchQNetwork) -> None:
        """Start this goal-task network from an indiscriminate one: every weight copied, the heatmap
        channel's first-layer weights zero, so it begins as ``source``'s grasp-anything Q."""
        if not isinstance(source, PatchQNetwork):
            raise ValueError(f"copy_grasp_prior needs a patch-view source network, got {type(source).__name__}")
        if self.in_channels != ENCODED_CHANNELS + 1 or source.in_channels != ENCODED_CHANNELS:
            raise ValueError("copy_grasp_prior goes from an indiscriminate patch network to a goal-task one, got "
                             f"{source.in_channels} → {self.in_channels} channels")
        if dataclasses.replace(source.config, centre_heat=self.config.centre_heat) != self.config:
            raise ValueError(f"copy_grasp_prior needs the same PatchNetworkConfig, got {source.config} "
                             f"and {self.config}")
        mine = self.state_dict()
        for key, value in source.state_dict().items():
            if key == "net.0.weight":
                mine[key].zero_()
                mine[key][:, :ENCODED_CHANNELS] = value
            else:
                mine[key].copy_(value)
