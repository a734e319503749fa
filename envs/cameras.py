"""The two cameras: an over-the-shoulder scene camera and a wrist camera on the gripper.

Both render with PyBullet's CPU TinyRenderer, so images are identical on every machine.
Images are uint8 RGB arrays of shape (H, W, 3); segmentation masks are int32 (H, W) holding
the PyBullet body id seen at each pixel (-1 for background).
"""

from __future__ import annotations

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from envs.config import CameraConfig

NEAR, FAR = 0.01, 10.0


def _render(client: BulletClient, view: list[float], fov: float, size: int,
            with_mask: bool) -> tuple[np.ndarray, np.ndarray | None]:
    projection = client.computeProjectionMatrixFOV(fov, 1.0, NEAR, FAR)
    flags = 0 if with_mask else client.ER_NO_SEGMENTATION_MASK
    _, _, rgba, _, seg = client.getCameraImage(
        size, size, viewMatrix=view, projectionMatrix=projection,
        renderer=client.ER_TINY_RENDERER, flags=flags)
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3].copy()
    if not with_mask:
        return rgb, None
    mask = np.asarray(seg, dtype=np.int32).reshape(size, size)
    # Without ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX the mask already holds body ids.
    return rgb, mask


class SceneCamera:
    """Fixed camera looking over the robot's shoulder at the whole tray."""

    def __init__(self, client: BulletClient, config: CameraConfig) -> None:
        self.client = client
        self.config = config
        self.view = client.computeViewMatrixFromYawPitchRoll(
            config.scene_target, config.scene_distance, config.scene_yaw, config.scene_pitch, 0.0, 2)

    def render(self, with_mask: bool = False, size: int | None = None, fov: float | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (rgb (H, W, 3) uint8, mask (H, W) int32 body ids or None); H = W = ``size`` or ``image_size``,
        seen through ``fov`` degrees (default ``scene_fov``)."""
        return _render(self.client, self.view, fov or self.config.scene_fov, size or self.config.image_size,
                       with_mask)


class WristCamera:
    """Camera fixed to the gripper, looking at the space between the fingers.

    ``wrist_offset`` and ``wrist_target_offset`` are given in the end-effector frame (the
    gripper points along the frame's +z axis).
    """

    def __init__(self, client: BulletClient, config: CameraConfig) -> None:
        self.client = client
        self.config = config

    def render(self, ee_position: np.ndarray, ee_orientation: np.ndarray, with_mask: bool = False,
               size: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Render from the end-effector pose (position (3,), quaternion xyzw (4,)), ``size`` or ``image_size`` px."""
        c = self.client
        rotation = np.asarray(c.getMatrixFromQuaternion(ee_orientation)).reshape(3, 3)
        eye = ee_position + rotation @ np.asarray(self.config.wrist_offset)
        target = ee_position + rotation @ np.asarray(self.config.wrist_target_offset)
        view = c.computeViewMatrix(eye.tolist(), target.tolist(), [0.0, 0.0, 1.0])
        return _render(c, view, self.config.wrist_fov, size or self.config.image_size, with_mask)
