"""envs.heightmap: a box on the tray shows at its place and height; patches turn with the grasp."""

import numpy as np
import pybullet
import pytest
import torch
from pybullet_utils.bullet_client import BulletClient

from envs.config import LayoutConfig
from envs.heightmap import (
    GridGeometry,
    HeightmapCamera,
    HeightmapConfig,
    aligned_patches,
    decode_heightmaps,
)

BOX = (0.06, 0.02, 0.03)  # half extents, metres: 12 cm long along x, 4 cm wide, 6 cm tall


@pytest.fixture(scope="module")
def scene():
    client = BulletClient(connection_mode=pybullet.DIRECT)
    layout = LayoutConfig()
    floor = client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[0.5, 0.5, 0.01])
    client.createMultiBody(0, floor, client.createVisualShape(pybullet.GEOM_BOX, halfExtents=[0.5, 0.5, 0.01]),
                           [0.6, 0.05, layout.tray_floor_z - 0.01])
    box = client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=BOX)
    client.createMultiBody(0, box, client.createVisualShape(pybullet.GEOM_BOX, halfExtents=BOX, rgbaColor=[1, 0, 0, 1]),
                           [0.60, 0.03, layout.tray_floor_z + BOX[2]])
    camera = HeightmapCamera(client, layout, HeightmapConfig(resolution=0.005, render_size=200))
    yield camera.render()
    client.disconnect()


def test_surface_points_name_the_body_seen() -> None:
    client = BulletClient(connection_mode=pybullet.DIRECT)
    try:
        layout = LayoutConfig()
        shape = client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=BOX)
        box = client.createMultiBody(0, shape, client.createVisualShape(pybullet.GEOM_BOX, halfExtents=BOX),
                                     [0.60, 0.03, layout.tray_floor_z + BOX[2]])
        camera = HeightmapCamera(client, layout, HeightmapConfig(resolution=0.005, render_size=64))
        points, colours, bodies = camera.surface_points(segmentation=True)
        assert points.shape == colours.shape == (64 * 64, 3) and bodies.shape == (64 * 64,)
        on_box = bodies == box
        assert on_box.any() and (bodies[~on_box] == -1).all()  # the box on an empty background
        top = points[on_box, 2] - layout.tray_floor_z
        assert np.median(top) == pytest.approx(2 * BOX[2], abs=0.003)
        assert camera.surface_points()[2] is None
    finally:
        client.disconnect()


def test_the_box_stands_at_its_place_and_height(scene):
    row, col = scene.cell(0.60, 0.03)
    assert scene.heights[row, col] == pytest.approx(2 * BOX[2], abs=0.006)
    assert scene.colours[row, col, 0] > 150 and scene.colours[row, col, 1] < 80  # red
    far_row, far_col = scene.cell(0.50, -0.10)
    assert scene.heights[far_row, far_col] == pytest.approx(0.0, abs=0.006)
    tall = scene.heights > BOX[2]
    rows, cols = np.nonzero(tall)
    assert (cols.max() - cols.min()) * scene.resolution == pytest.approx(2 * BOX[0], abs=0.015)  # long along x
    assert (rows.max() - rows.min()) * scene.resolution == pytest.approx(2 * BOX[1], abs=0.015)


def test_patches_are_centred_on_the_grasp_and_turn_with_the_wrist(scene):
    maps = torch.from_numpy(scene.heights)[None, None]
    grasps = torch.tensor([[[0.60, 0.03, np.pi], [0.60, 0.03, np.pi / 2], [0.45, -0.10, 0.0]]], dtype=torch.float32)
    geometry = GridGeometry(scene.origin, scene.resolution, scene.heights.shape)
    patches = aligned_patches(maps, geometry, grasps, size=24, extent=0.12)[0, :, 0]
    assert patches.shape == (3, 24, 24)
    centre = patches[:, 11:13, 11:13].mean(dim=(1, 2))
    assert centre[0] == pytest.approx(2 * BOX[2], abs=0.01) and centre[2] == pytest.approx(0.0, abs=0.01)
    # yaw = pi closes the fingers along +x, the box's long side: the box fills the patch's middle row;
    # yaw = pi/2 closes them along y, across the 4 cm width: the box then fills the middle column.
    along, across = patches[0] > BOX[2], patches[1] > BOX[2]
    assert along[12].float().mean() > 0.7 and along[:, 12].float().mean() < 0.5
    assert across[:, 12].float().mean() > 0.7 and across[12].float().mean() < 0.5


def test_batched_patches_match_one_map_at_a_time(scene):
    geometry = GridGeometry(scene.origin, scene.resolution, scene.heights.shape)
    maps = torch.stack([torch.from_numpy(scene.heights), torch.from_numpy(scene.heights[::-1].copy())])[:, None]
    grasps = torch.tensor([[[0.60, 0.03, 0.3], [0.55, 0.0, -1.0]], [[0.62, 0.05, 1.2], [0.5, -0.05, 0.0]]])
    together = aligned_patches(maps, geometry, grasps, size=16, extent=0.08)
    for b in range(2):
        alone = aligned_patches(maps[b:b + 1], geometry, grasps[b:b + 1], size=16, extent=0.08)
        torch.testing.assert_close(together[b], alone[0])


def test_encoding_keeps_height_in_millimetres_and_the_colour(scene):
    encoded = scene.encode()
    assert encoded.shape == (*scene.heights.shape, 4) and encoded.dtype == np.uint8
    row, col = scene.cell(0.60, 0.03)
    assert encoded[row, col, 0] == pytest.approx(2 * BOX[2] * 1000, abs=6)
    decoded = decode_heightmaps(encoded[None], height_scale=0.05)[0]
    assert decoded[0, row, col].item() == pytest.approx(2 * BOX[2] / 0.05, abs=0.15)
    np.testing.assert_allclose(decoded[1:, row, col].numpy(), encoded[row, col, 1:] / 255, atol=1e-6)


def test_grid_geometry_is_what_the_camera_fills(scene):
    layout = LayoutConfig()
    config = HeightmapConfig(resolution=0.005, render_size=200)
    geometry = GridGeometry.of(layout, config)
    assert geometry.shape == scene.heights.shape and geometry.origin == pytest.approx(scene.origin)
    centres = geometry.cell_centres()
    assert scene.cell(*centres[7, 11]) == (7, 11)


def test_read_only_maps_decode_without_a_warning() -> None:
    import warnings

    encoded = np.full((1, 3, 3, 4), 7, np.uint8)
    encoded.setflags(write=False)  # as np.load and frozen dataset views hand them over
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = decode_heightmaps(encoded)
    assert torch.allclose(decoded, decode_heightmaps(encoded.copy()))
