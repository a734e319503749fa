"""Q-network over grasp poses: Q(scene [+ goal heatmap], pose) as a success logit.

The scene (and, for goal tasks, the Grasp2Vec heatmap as a 4th channel, plus two coordinate
channels) goes once through a fully convolutional trunk to a spatial feature map at 1/4 of the
image size. Each candidate pose reads the map where its (x, y) lies in the image (bilinear,
:meth:`envs.grasp_pose.PoseSpace.read_points`) — and, with ``reach`` > 0, also ``reach`` metres
along and across its wrist axis, where the fingers close and what lies beside them — adds its
wrist angle as (cos 2θ, sin 2θ), and a small MLP scores it. One trunk pass serves every CEM candidate.

With a heatmap, the head also reads the heatmap itself at the pose, at full resolution (its 3×3
mean and 5×5 maximum there): the trunk's 1/4-resolution features blur a small object's peak, and
"grasp where the goal's heatmap is high" should not have to be relearned through the trunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


@dataclass(frozen=True)
class PoseNetworkConfig:
    """Layer sizes of :class:`PoseQNetwork`."""

    channels: tuple[int, int, int, int] = (32, 64, 64, 64)  # trunk: 5x5 s2, 3x3 s2, 3x3, 3x3
    hidden: int = 128
    reach: float = 0.0  # m: also read the map this far along and across the wrist axis (0: the grasp point only)

    @property
    def reads(self) -> int:
        """Points of the feature map each pose reads (:meth:`envs.grasp_pose.PoseSpace.read_points`)."""
        return 5 if self.reach > 0 else 1


def coordinate_channels(batch: int, size: int, device: torch.device) -> torch.Tensor:
    """(batch, 2, size, size) with x and y from -1 to 1 (CoordConv): lets the trunk know where it looks."""
    line = torch.linspace(-1.0, 1.0, size, device=device)
    grid_y, grid_x = torch.meshgrid(line, line, indexing="ij")
    return torch.stack([grid_x, grid_y])[None].expand(batch, -1, -1, -1)


class PoseMaps(NamedTuple):
    """What one pass over the images gives every candidate pose to read."""

    features: torch.Tensor  # (B, F, H/4, W/4)
    heat: torch.Tensor | None  # (B, 2, H, W): heatmap 3x3 mean and 5x5 max, or None without a heatmap


class PoseQNetwork(nn.Module):
    """Args:
        in_channels: image channels (3 for RGB, 4 with the heatmap).
        config: layer sizes.
    """

    def __init__(self, in_channels: int, config: PoseNetworkConfig = PoseNetworkConfig()) -> None:
        super().__init__()
        c1, c2, c3, c4 = config.channels
        self.in_channels = in_channels
        self.reads = config.reads
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels + 2, c1, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU())
        self.heat_inputs = 2 if in_channels == 4 else 0  # the 4th channel is the goal heatmap
        self.head = nn.Sequential(nn.Linear(self.reads * c4 + 2 + self.heat_inputs, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, 1))

    @torch.no_grad()
    def copy_grasp_prior(self, source: PoseQNetwork) -> None:
        """Start this goal-task network (heatmap channel) from an indiscriminate one (RGB only):
        every weight is copied and the heatmap's inputs (its channel in the first convolution, its
        two readings in the head) start at zero, so the network begins as ``source``'s
        grasp-anything Q and learns from there what the heatmap adds."""
        if not isinstance(source, PoseQNetwork):
            raise ValueError(f"copy_grasp_prior needs a scene-view source network, got {type(source).__name__}")
        if not (self.heat_inputs and not source.heat_inputs):
            raise ValueError("copy_grasp_prior goes from an indiscriminate (3-channel) network to a goal-task "
                             f"(4-channel) one, got {source.in_channels} → {self.in_channels} channels")
        mine, theirs = self.state_dict(), source.state_dict()  # mine shares storage with the parameters
        conv, head = "trunk.0.weight", "head.0.weight"
        if set(mine) != set(theirs) or any(mine[k].shape != theirs[k].shape for k in mine if k not in (conv, head)):
            raise ValueError("copy_grasp_prior needs networks of the same PoseNetworkConfig")
        features = self.head[0].in_features - 2 - self.heat_inputs  # head inputs: features (all reads), heat, cos, sin
        for key, value in theirs.items():
            if key == conv:  # inputs: RGB, heatmap, x, y  ←  RGB, x, y
                mine[key].zero_()
                mine[key][:, :3], mine[key][:, 4:] = value[:, :3], value[:, 3:]
            elif key == head:  # inputs: features, heat (2), angle (2)  ←  features, angle (2)
                mine[key].zero_()
                mine[key][:, :features], mine[key][:, features + 2:] = value[:, :features], value[:, features:]
            else:
                mine[key].copy_(value)

    def feature_map(self, images: torch.Tensor) -> PoseMaps:
        """Float images (B, C, H, W) in [0, 1] → the maps the candidate poses read."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W), got {tuple(images.shape)}")
        coords = coordinate_channels(images.shape[0], images.shape[-1], images.device)
        heat = None
        if self.heat_inputs:
            heatmap = images[:, 3:4]
            heat = torch.cat([F.avg_pool2d(heatmap, 3, 1, 1, count_include_pad=False),
                              F.max_pool2d(heatmap, 5, 1, 2)], dim=1)
        return PoseMaps(self.trunk(torch.cat([images, coords], dim=1)), heat)

    def score(self, maps: PoseMaps, coordinates: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        """Logits (B, N) of N poses per map.

        Args:
            maps: from :meth:`feature_map`.
            coordinates: (B, N, P, 2) image coordinates in [-1, 1] (``grid_sample`` order x, y) of the
                P = ``config.reads`` points each pose reads, grasp point first; (B, N, 2) when P = 1.
            poses: (B, N, 3) normalised poses; only the angle ``poses[..., 2]`` is read here.
        """
        grid = coordinates[:, :, None, :] if coordinates.ndim == 3 else coordinates
        if grid.shape[2] != self.reads:
            raise ValueError(f"this network reads {self.reads} point(s) per pose, got coordinates {tuple(grid.shape)}")
        read = F.grid_sample(maps.features, grid, mode="bilinear", align_corners=False)  # (B, F, N, P)
        parts = [read.permute(0, 2, 3, 1).flatten(2)]
        if maps.heat is not None:
            centre = grid[:, :, :1]
            parts.append(F.grid_sample(maps.heat, centre, mode="bilinear", align_corners=False)[..., 0].transpose(1, 2))
        angle = poses[..., 2] * torch.pi  # 2θ for θ = u * π/2
        parts += [torch.cos(angle)[..., None], torch.sin(angle)[..., None]]
        return self.head(torch.cat(parts, dim=-1))[..., 0]
