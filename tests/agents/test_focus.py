"""agents.core.focus and the product's focus setting: the search stays near one object the height map
shows, drawn per decision, and a product records, loads and reseeds it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents.core.cem import CEMConfig
from agents.core.focus import FocusConfig, FocusedSearch
from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
from agents.qtopt.patch_network import PatchNetworkConfig
from agents.qtopt.product import PRODUCT_META, PoseQProduct, ProductConfig
from agents.variants import combine_policies
from common.protocols import PolicyCard
from envs.config import WorldConfig
from envs.grasp_pose import PoseSpace
from envs.heightmap import GridGeometry, HeightmapConfig

HEIGHTMAP = HeightmapConfig(resolution=0.008)
PATCH = PoseQTOptConfig(view="patch", patch=PatchNetworkConfig(size=16, extent=0.064, channels=(4, 4, 4), hidden=8),
                        heightmap=HEIGHTMAP, cem=CEMConfig(iterations=3, population=64, elites=6))
WORLD = WorldConfig()
SPACE = PoseSpace(WORLD)
GEOMETRY = GridGeometry.of(WORLD.layout, HEIGHTMAP)


def scan(blocks: list[tuple[float, float]], height_levels: int = 40) -> np.ndarray:
    """An encoded height map (Hm, Wm, 4) with a 3 cm square block at each (x, y) metres."""
    cells = GEOMETRY.cell_centres()
    encoded = np.zeros((*GEOMETRY.shape, 4), np.uint8)
    for x, y in blocks:
        encoded[(np.abs(cells[..., 0] - x) < 0.015) & (np.abs(cells[..., 1] - y) < 0.015)] = (height_levels, 90, 90, 90)
    return encoded


def metres(u: torch.Tensor | np.ndarray) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    return SPACE.to_pose(np.concatenate([u[..., :2], np.zeros_like(u[..., :1])], axis=-1))[..., :2]


def block_positions() -> list[tuple[float, float]]:
    x, y = SPACE.to_pose(np.array([-0.6, -0.5, 0.0]))[:2], SPACE.to_pose(np.array([0.6, 0.5, 0.0]))[:2]
    return [(float(x[0]), float(x[1])), (float(y[0]), float(y[1]))]


def test_points_are_drawn_on_objects_only_and_each_object_gets_drawn() -> None:
    blocks = block_positions()
    search = FocusedSearch(SPACE, GEOMETRY, FocusConfig(radius=0.03))
    centres = search.draw(np.stack([scan(blocks)] * 200), np.random.default_rng(0))
    nearest = np.min([np.abs(metres(centres) - b).max(axis=1) for b in blocks], axis=0)
    assert np.all(nearest < 0.015 + GEOMETRY.resolution)
    first = np.abs(metres(centres) - blocks[0]).max(axis=1) < 0.02
    assert 60 < first.sum() < 140  # two blocks of the same size: about half each
    low = search.draw(scan(blocks, height_levels=5)[None], np.random.default_rng(0))  # 5 mm: below min_height
    assert torch.equal(low, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="another grid"):
        search.draw(np.zeros((1, 10, 10, 4), np.uint8), np.random.default_rng(0))


def test_candidates_map_onto_the_square_around_the_centre_with_yaw_free() -> None:
    search = FocusedSearch(SPACE, GEOMETRY, FocusConfig(radius=0.03))
    centres = torch.tensor([[0.1, -0.2], [0.98, 0.98]])
    local = torch.rand(2, 50, 3) * 2 - 1
    poses = search.poses(local, centres)
    offsets = metres(poses[0]) - metres(centres[0].numpy())
    assert np.abs(offsets).max() <= 0.03 + 1e-6 and np.abs(offsets).max() > 0.02
    assert torch.equal(poses[..., 2], local[..., 2])
    assert poses[1, :, :2].max() <= 1.0  # clipped to the bin at its edge
    with pytest.raises(ValueError, match="radius > 0"):
        FocusedSearch(SPACE, GEOMETRY, FocusConfig())


def test_focus_settings_are_checked_by_name() -> None:
    with pytest.raises(ValueError, match="radius must be"):
        FocusConfig(radius=-0.01)
    with pytest.raises(ValueError, match="min_height must be"):
        FocusConfig(radius=0.03, min_height=0.0)
    with pytest.raises(ValueError, match=r"unknown focus settings \['radious'\]"):
        FocusConfig.from_dict({"radious": 0.03})


def focused_product(radius: float, seed: int = 0) -> PoseQProduct:
    """Two patch members that both rate grasps best at the bin's far corner (x, y = 1, 1)."""
    members = [PoseQTOpt(goal_task=False, world=WORLD, config=PATCH, seed=i) for i in range(2)]
    for member in members:
        member.candidate_scores = lambda features, poses: 4.0 * (poses[..., 0] + poses[..., 1])
    return PoseQProduct(members, ProductConfig(weights=(1.0, 1.0), cem=PATCH.cem, seed=seed,
                                               focus=FocusConfig(radius=radius)))


def test_a_focused_product_grasps_at_the_best_pose_near_the_drawn_object_not_the_best_in_the_bin() -> None:
    blocks = block_positions()
    observation = {"heightmap": scan(blocks)}
    unfocused = np.stack([focused_product(0.0).choose(observation) for _ in range(3)])
    assert np.all(unfocused[:, :2] > 0.9)  # the corner the members like, nothing there
    product = focused_product(0.03)
    chosen = np.stack([product.choose(observation) for _ in range(40)])
    nearest = np.min([np.abs(metres(chosen) - b).max(axis=1) for b in blocks], axis=0)
    assert np.all(nearest < 0.015 + GEOMETRY.resolution + 0.03)
    near_first = np.abs(metres(chosen) - blocks[0]).max(axis=1) < 0.05
    assert 5 < near_first.sum() < 35  # both objects get attempts
    product.seed(7)
    again = product.choose(observation)
    product.seed(7)
    np.testing.assert_array_equal(product.choose(observation), again)
    with pytest.raises(ValueError, match="no member reads one"):
        scene = PoseQTOpt(goal_task=False, world=WORLD, config=PoseQTOptConfig(), seed=0)
        PoseQProduct([scene, scene], ProductConfig(weights=(1.0, 1.0), focus=FocusConfig(radius=0.03)))


def test_combine_records_the_focus_and_refuses_it_without_a_height_map(tmp_path) -> None:
    card = PolicyCard(algo="qtopt-pose", reward="indiscriminate",
                      world={"num_objects": 5, "image_size": 64, "max_steps": 12, "auto_descend": False})
    for name, config, heightmap in (("a", PATCH, HEIGHTMAP.__dict__), ("b", PATCH, HEIGHTMAP.__dict__),
                                    ("scene", PoseQTOptConfig(), None)):
        PoseQTOpt(goal_task=False, world=WORLD, config=config, seed=0).save(tmp_path / name)
        PolicyCard(**{**card.__dict__, "heightmap": heightmap}).save(tmp_path / name)
    out = combine_policies([(tmp_path / "a", 1.0), (tmp_path / "b", 1.0)], tmp_path / "focus",
                           focus={"radius": 0.03})
    assert json.loads((out / PRODUCT_META).read_text())["focus"] == {"radius": 0.03, "min_height": 0.01}
    assert PoseQProduct.load(out).config.focus == FocusConfig(radius=0.03)
    with pytest.raises(ValueError, match="no member reads one"):
        combine_policies([(tmp_path / "scene", 1.0), (tmp_path / "scene", 1.0)], tmp_path / "none",
                         focus={"radius": 0.03})
    assert not (tmp_path / "none").exists()
