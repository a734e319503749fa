"""Pose QT-Opt with the grasp-aligned patch view: it learns from height maps where grasps work, starts a
goal network from an indiscriminate one, and round-trips through its checkpoint."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from agents.core.cem import CEMConfig
from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
from agents.qtopt.patch_network import SYMMETRIES, PatchNetworkConfig, PatchQNetwork, symmetric_patches
from envs.config import WorldConfig
from envs.heightmap import GridGeometry, HeightmapConfig

SMALL = PoseQTOptConfig(view="patch", patch=PatchNetworkConfig(size=16, extent=0.064, channels=(8, 16, 16), hidden=32),
                        heightmap=HeightmapConfig(resolution=0.008), batch_size=32, learning_rate=3e-3,
                        cem=CEMConfig(iterations=3, population=64, elites=6))


def block_scenes(agent: PoseQTOpt, rng: np.random.Generator, batch: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Height maps with one 4 cm block; reward 1 when the grasp point lies on it (a synthetic grasp task)."""
    geometry = GridGeometry.of(agent.world.layout, agent.config.heightmap)
    maps = np.zeros((batch, *geometry.shape, 4), np.uint8)
    centres = rng.uniform(-0.7, 0.7, (batch, 3))
    cells = geometry.cell_centres()
    xy = agent.space.to_pose(centres)[:, :2]
    for scan, (x, y) in zip(maps, xy, strict=True):
        scan[(np.abs(cells[..., 0] - x) < 0.02) & (np.abs(cells[..., 1] - y) < 0.02)] = (40, 200, 50, 50)
    poses = np.where(rng.random((batch, 1)) < 0.5, centres + rng.normal(0, 0.05, (batch, 3)),
                     rng.uniform(-1, 1, (batch, 3))).clip(-1, 1)
    hit = np.abs(agent.space.to_pose(poses)[:, :2] - xy).max(axis=1) < 0.02
    return {"heightmap": maps}, poses, hit.astype(np.float32)


def test_patch_q_learns_where_the_block_is_and_cem_finds_it() -> None:
    agent = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(150):
        observations, poses, rewards = block_scenes(agent, rng, 32)
        agent.update(agent.inputs(observations), torch.tensor(poses, dtype=torch.float32), torch.tensor(rewards))
    observations, _, _ = block_scenes(agent, np.random.default_rng(1), 8)
    chosen, _ = agent.best_poses(agent.inputs(observations))
    scans = observations["heightmap"]
    geometry = GridGeometry.of(agent.world.layout, agent.config.heightmap)
    on_block = [scans[i][geometry.cell(*agent.space.to_pose(chosen[i].numpy())[:2])][0] > 0 for i in range(8)]
    assert sum(on_block) >= 7


def goal_from_prior(goal_config: PoseQTOptConfig) -> tuple[PoseQTOpt, torch.Tensor]:
    """A goal network started from an indiscriminate one; asserts it scores 4 block scenes as its source
    does, and returns it with those scenes' inputs (random heatmaps on the grid)."""
    source = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    goal = PoseQTOpt(goal_task=True, world=WorldConfig(), config=goal_config, seed=1)
    goal.q.copy_grasp_prior(source.q)
    observations, poses, _ = block_scenes(source, np.random.default_rng(2), 4)
    heat = np.random.default_rng(3).integers(0, 255, (4, 64, 64, 1), dtype=np.uint8)
    inputs = goal.inputs({**observations, "heatmap": heat})
    poses = torch.tensor(poses, dtype=torch.float32)[:, None]
    torch.testing.assert_close(goal.q_values(inputs, poses), source.q_values(source.inputs(observations), poses))
    return goal, inputs


def test_goal_network_starts_as_the_indiscriminate_one_and_reads_the_heatmap_on_the_grid() -> None:
    goal, inputs = goal_from_prior(SMALL)
    assert inputs.shape[1] == 5 and inputs[:, 4].max() > 0  # the heatmap carried onto the grid
    source = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    with pytest.raises(ValueError, match="indiscriminate patch network to a goal-task"):
        source.q.copy_grasp_prior(goal.q)


def test_centre_heat_starts_as_the_prior_reads_the_grasp_point_and_needs_a_goal_task() -> None:
    heat_config = dataclasses.replace(SMALL, patch=dataclasses.replace(SMALL.patch, centre_heat=True))
    goal, _ = goal_from_prior(heat_config)
    # the scalar reads the heat at the grasp point: a spot there moves the score through it, a spot 24 mm
    # along the fingers (in the patch, but not at its centre) does not
    cells = torch.as_tensor(goal.q.geometry.cell_centres(), dtype=torch.float32)
    grasp = torch.tensor([[[0.1, 0.05, 0.0]]])
    xy = goal.space.to_pose_tensor(grasp)[0, 0, :2]

    def spot(dx: float) -> torch.Tensor:
        maps = torch.zeros(1, 5, *goal.q.geometry.shape)
        maps[0, 4] = ((cells - (xy + torch.tensor([dx, 0.0]))).abs().max(dim=-1).values < 0.008).float()
        return maps

    def score(maps: torch.Tensor, weight: float) -> float:
        with torch.no_grad():
            goal.q.centre_heat.fill_(weight)
            return goal.q.score(maps, goal.space.to_pose_tensor(grasp)).item()

    assert score(spot(0.0), 1.0) != pytest.approx(score(spot(0.0), 0.0), abs=1e-4)
    assert goal.q.patches(spot(0.024), goal.space.to_pose_tensor(grasp))[0, 0, 4].max() > 0.5
    assert score(spot(0.024), 1.0) == pytest.approx(score(spot(0.024), 0.0), abs=1e-6)
    with pytest.raises(ValueError, match="needs a goal task"):
        PoseQTOpt(goal_task=False, world=WorldConfig(), config=heat_config)


def test_patch_view_checkpoint_round_trip_and_missing_sensor(tmp_path) -> None:
    agent = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    agent.save(tmp_path)
    again, _ = PoseQTOpt.load(tmp_path)
    assert again.config == SMALL
    observations, poses, _ = block_scenes(agent, np.random.default_rng(0), 2)
    poses = torch.tensor(poses, dtype=torch.float32)[:, None]
    torch.testing.assert_close(again.q_values(again.inputs(observations), poses),
                               agent.q_values(agent.inputs(observations), poses))
    with pytest.raises(KeyError, match="HeightmapObservation"):
        agent.inputs({"image": np.zeros((1, 64, 64, 3), np.uint8)})
    with pytest.raises(ValueError, match="heatmap_proposals"):
        PoseQTOptConfig(view="patch", heatmap_proposals=4)


def test_the_half_turn_symmetry_is_the_patch_cut_at_the_opposite_yaw() -> None:
    maps = torch.rand(1, 2, 30, 26)
    geometry = GridGeometry((0.4, -0.1), 0.01, (30, 26))
    grasps = torch.tensor([[[0.52, 0.03, 0.4], [0.5, 0.05, -1.1]]])
    turned = grasps + torch.tensor([0.0, 0.0, torch.pi])
    net = PatchQNetwork(False, geometry, PatchNetworkConfig(size=8, extent=0.08, channels=(4, 4, 4), hidden=8))
    patches = net.patches(maps, grasps).flatten(0, 1)
    opposite = net.patches(maps, turned).flatten(0, 1)
    torch.testing.assert_close(symmetric_patches(patches, torch.full((2,), 3)), opposite, atol=1e-5, rtol=0)
    torch.testing.assert_close(symmetric_patches(patches, torch.tensor([0, 1])),
                               torch.stack([patches[0], patches[1].flip(-2)]))
    torch.testing.assert_close(symmetric_patches(patches, torch.tensor([2, 2])), patches.flip(-1))
    with pytest.raises(ValueError, match="symmetries are 0..3"):
        symmetric_patches(patches, torch.tensor([0, 4]))


def test_symmetric_scoring_is_the_mean_over_the_four_symmetries_and_augmentation_draws_them() -> None:
    agent = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    observations, poses, rewards = block_scenes(agent, np.random.default_rng(4), 6)
    inputs, poses = agent.inputs(observations), torch.tensor(poses, dtype=torch.float32)[:, None]
    features = agent.q.eval().feature_map(inputs)
    each = torch.stack([agent.score(features, poses, torch.full((6, 1), k)) for k in range(SYMMETRIES)])
    torch.testing.assert_close(agent.score(features, poses, average=True), each.mean(dim=0))
    assert not torch.allclose(each[0], each[3])  # an untrained network is not symmetric by itself
    symmetric = PoseQTOpt(goal_task=False, world=WorldConfig(), seed=0,
                          config=dataclasses.replace(SMALL, symmetric_scoring=True))
    symmetric.q.load_state_dict(agent.q.state_dict())
    torch.testing.assert_close(symmetric.candidate_scores(features, poses), each.mean(dim=0))
    with pytest.raises(ValueError, match="not both"):
        agent.score(features, poses, torch.zeros(6, 1, dtype=torch.long), average=True)

    augmented = PoseQTOpt(goal_task=False, world=WorldConfig(), seed=0,
                          config=dataclasses.replace(SMALL, augment_symmetries=True))
    plain = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    state = augmented.generator.get_state()
    augmented.update(inputs, poses[:, 0], torch.tensor(rewards))
    plain.update(inputs, poses[:, 0], torch.tensor(rewards))
    assert not torch.equal(augmented.generator.get_state(), state)  # the draws come from the saved generator
    assert not torch.allclose(augmented.q.net[0].weight, plain.q.net[0].weight)


def test_symmetries_need_the_patch_view() -> None:
    with pytest.raises(ValueError, match="need view 'patch'"):
        PoseQTOptConfig(symmetric_scoring=True)
    with pytest.raises(ValueError, match="need view 'patch'"):
        PoseQTOptConfig(augment_symmetries=True)


def test_the_wide_preset_doubles_the_patch_widths_and_round_trips(tmp_path) -> None:
    from agents.presets import PRESETS

    base, wide = PRESETS["pose-patch"].pose, PRESETS["pose-patch-wide"].pose
    assert wide.patch.channels == tuple(2 * c for c in base.patch.channels)
    assert wide.patch.hidden == 2 * base.patch.hidden
    assert dataclasses.replace(wide, patch=base.patch) == base  # only the widths differ
    agent = PoseQTOpt(goal_task=False, world=WorldConfig(), config=wide, seed=0)
    agent.save(tmp_path)
    assert PoseQTOpt.load(tmp_path)[0].config == wide


def test_the_coarse_preset_samples_the_same_patch_at_half_the_pixels() -> None:
    from agents.presets import PRESETS

    base, coarse = PRESETS["pose-patch"].pose, PRESETS["pose-patch-coarse"].pose
    assert coarse.patch.size * 2 == base.patch.size and coarse.patch.extent == base.patch.extent
    assert dataclasses.replace(coarse, patch=base.patch) == base


def test_pose_input_tells_grasps_with_the_same_patch_apart_and_round_trips(tmp_path) -> None:
    from agents.presets import PRESETS

    config = dataclasses.replace(SMALL, patch=dataclasses.replace(SMALL.patch, pose_input=True))
    agent = PoseQTOpt(goal_task=False, world=WorldConfig(), config=config, seed=0)
    plain = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    empty = {"heightmap": np.zeros((1, *GridGeometry.of(agent.world.layout, SMALL.heightmap).shape, 4), np.uint8)}
    poses = torch.tensor([[[-0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.9]]])
    with torch.no_grad():
        same = plain.q_values(plain.inputs(empty), poses)[0]
        placed = agent.q_values(agent.inputs(empty), poses)[0]
    torch.testing.assert_close(same, same[:1].expand(3))  # an empty bin: every patch alike, every score alike
    assert placed.unique().numel() == 3  # the pose input tells them apart
    features = agent.q.pose_features(torch.as_tensor(agent.space.to_pose_tensor(torch.tensor([[-1.0, -1.0, -1.0]]))))
    assert (features[0, :2] > -1).all() and features[0, 2] == pytest.approx(-1.0)  # the drop zone lies inside the grid
    with pytest.raises(ValueError, match="pose_input needs the grasp"):
        agent.q.patch_logits(torch.zeros(2, 4, 16, 16))
    agent.save(tmp_path)
    assert PoseQTOpt.load(tmp_path)[0].config == config
    assert PRESETS["pose-patch-placed"].pose.patch.pose_input
