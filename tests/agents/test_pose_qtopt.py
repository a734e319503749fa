"""Pose QT-Opt: CEM over a learned Q finds where the reward is; save → load → same choices; clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from agents.core.cem import CEMConfig
from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
from agents.qtopt.network import PoseNetworkConfig
from envs.config import WorldConfig

SIZE = 32
SMALL = PoseQTOptConfig(network=PoseNetworkConfig(channels=(8, 16, 16, 16), hidden=32), batch_size=64,
                        learning_rate=3e-3, cem=CEMConfig(iterations=3, population=64, elites=6))


def bright_square_batch(agent: PoseQTOpt, rng: np.random.Generator, batch: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scenes with one white square; reward 1 when the pose's pixel lies on it (a synthetic grasp task)."""
    centres = rng.uniform(-0.6, 0.6, (batch, 3))
    pixels = agent.space.pixels(centres, SIZE)
    images = np.zeros((batch, SIZE, SIZE, 3), np.uint8)
    for image, (column, row) in zip(images, pixels, strict=True):
        image[max(row - 3, 0):row + 4, max(column - 3, 0):column + 4] = 255
    poses = np.where(rng.random((batch, 1)) < 0.5, centres + rng.normal(0, 0.03, (batch, 3)),
                     rng.uniform(-1, 1, (batch, 3))).clip(-1, 1)
    hit = np.abs(agent.space.pixels(poses, SIZE) - pixels).max(axis=1) <= 3
    return images, poses, hit.astype(np.float32)


def test_q_learning_with_cem_finds_the_rewarded_spot() -> None:
    torch.manual_seed(0)
    agent = PoseQTOpt(goal_task=False, world=WorldConfig(), config=SMALL, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(250):
        images, poses, rewards = bright_square_batch(agent, rng, 64)
        agent.update(agent.inputs({"image": images}), torch.as_tensor(poses, dtype=torch.float32),
                     torch.as_tensor(rewards))
    images, _, _ = bright_square_batch(agent, np.random.default_rng(1), 20)
    truth = np.stack([np.argwhere(im[..., 0] > 0).mean(axis=0)[::-1] for im in images])  # (column, row)
    best, _ = agent.best_poses(agent.inputs({"image": images}))
    found = agent.space.pixels(best.numpy(), SIZE)
    assert np.mean(np.abs(found - truth).max(axis=1) <= 4) >= 0.8


def test_policy_chooses_once_per_episode_and_saves_and_loads(tmp_path) -> None:
    agent = PoseQTOpt(goal_task=True, world=WorldConfig(), config=SMALL, seed=3)
    rng = np.random.default_rng(0)
    observation = {"image": rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8),
                   "heatmap": rng.integers(0, 255, (SIZE, SIZE, 1), dtype=np.uint8),
                   "gripper": np.array([0.6, 0.05, 0.3, 0.0, 0.0], np.float32)}
    agent.reset()
    first = agent.act(observation)
    chosen = agent.chosen.copy()
    assert first.shape == (5,) and np.all(np.abs(first) <= 1)
    agent.act(observation)
    np.testing.assert_array_equal(agent.chosen, chosen)
    agent.save(tmp_path / "ckpt")
    loaded, _ = PoseQTOpt.load(tmp_path / "ckpt")
    agent.generator.manual_seed(5)
    loaded.generator.manual_seed(5)
    np.testing.assert_allclose(loaded.choose(observation), agent.choose(observation))
    with pytest.raises(KeyError, match="heatmap"):
        loaded.choose({"image": observation["image"]})


def test_load_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a pose QT-Opt checkpoint"):
        PoseQTOpt.load(tmp_path)
    PoseQTOpt(goal_task=False, config=SMALL).save(tmp_path / "a")
    PoseQTOpt(goal_task=True, config=SMALL).save(tmp_path / "b")
    (tmp_path / "b" / "pose_qtopt.safetensors").replace(tmp_path / "a" / "pose_qtopt.safetensors")
    with pytest.raises(ValueError, match="does not fit"):
        PoseQTOpt.load(tmp_path / "a")


def test_goal_task_learns_to_grasp_where_the_heatmap_points() -> None:
    """Two identical squares per scene; the heatmap marks one; only grasping that one is rewarded."""
    torch.manual_seed(0)
    agent = PoseQTOpt(goal_task=True, world=WorldConfig(), config=SMALL, seed=0)
    rng = np.random.default_rng(0)

    def batch(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        centres = rng.uniform(-0.6, 0.6, (size, 2, 3))
        pixels = agent.space.pixels(centres, SIZE)  # (size, 2, 2)
        images = np.zeros((size, SIZE, SIZE, 3), np.uint8)
        heat = np.zeros((size, SIZE, SIZE, 1), np.uint8)
        for i in range(size):
            for k, (column, row) in enumerate(pixels[i]):
                images[i, max(row - 2, 0):row + 3, max(column - 2, 0):column + 3] = 255
                if k == 0:
                    heat[i, max(row - 2, 0):row + 3, max(column - 2, 0):column + 3] = 255
        pick = rng.integers(0, 3, size)  # aim at the marked square, the other one, or anywhere
        aimed = centres[np.arange(size), np.minimum(pick, 1)]
        poses = np.where((pick < 2)[:, None], aimed, rng.uniform(-1, 1, (size, 3)))
        distance = np.abs(agent.space.pixels(poses, SIZE) - pixels[:, 0]).max(axis=1)
        return images, heat, poses, (distance <= 2).astype(np.float32)

    for _ in range(250):
        images, heat, poses, rewards = batch(64)
        agent.update(agent.inputs({"image": images, "heatmap": heat}), torch.as_tensor(poses, dtype=torch.float32),
                     torch.as_tensor(rewards))
    images, heat, _, _ = batch(20)
    best, _ = agent.best_poses(agent.inputs({"image": images, "heatmap": heat}))
    marked = np.stack([np.argwhere(h[..., 0] > 0).mean(axis=0)[::-1] for h in heat])
    assert np.mean(np.abs(agent.space.pixels(best.numpy(), SIZE) - marked).max(axis=1) <= 3) >= 0.8


def test_heatmap_proposals_start_cem_where_the_goal_heatmap_is_high() -> None:
    config = PoseQTOptConfig(network=SMALL.network, cem=SMALL.cem, heatmap_proposals=8)
    agent = PoseQTOpt(goal_task=True, world=WorldConfig(), config=config, seed=0)
    target = np.array([0.5, -0.4, 0.0])
    column, row = agent.space.pixels(target, SIZE)
    heatmap = np.zeros((1, SIZE, SIZE, 1), np.uint8)
    heatmap[0, max(row - 4, 0):row + 5, max(column - 4, 0):column + 5] = 255
    inputs = agent.inputs({"image": np.zeros((1, SIZE, SIZE, 3), np.uint8), "heatmap": heatmap})
    proposals = agent.heatmap_proposals(inputs)
    assert proposals.shape == (1, SMALL.cem.population, 3)
    on_peak = np.abs(agent.space.pixels(proposals[0].numpy(), SIZE) - (column, row)).max(axis=1) <= 5
    assert on_peak.mean() > 0.9  # uniform draws would land there a few % of the time
    assert PoseQTOpt(goal_task=True, world=WorldConfig(), config=SMALL, seed=0).heatmap_proposals(inputs) is None
    pose, _ = agent.best_poses(inputs)
    assert pose.shape == (1, 3)


@pytest.mark.parametrize("reach", [0.0, 0.05])
def test_goal_network_starts_as_the_indiscriminate_one_it_is_copied_from(reach: float) -> None:
    from agents.qtopt.network import PoseQNetwork

    torch.manual_seed(0)
    config = PoseNetworkConfig(channels=(8, 8, 8, 8), hidden=16, reach=reach)
    source, goal = PoseQNetwork(3, config), PoseQNetwork(4, config)
    goal.copy_grasp_prior(source)
    images = torch.rand(2, 4, 32, 32)
    coordinates, poses = torch.rand(2, 5, config.reads, 2) * 2 - 1, torch.rand(2, 5, 3) * 2 - 1
    expected = source.score(source.feature_map(images[:, :3]), coordinates, poses)
    for heat in (images[:, 3:], torch.zeros(2, 1, 32, 32)):  # the heatmap is ignored until training uses it
        inputs = torch.cat([images[:, :3], heat], dim=1)
        torch.testing.assert_close(goal.score(goal.feature_map(inputs), coordinates, poses), expected)
    with pytest.raises(ValueError, match="indiscriminate \\(3-channel\\) network to a goal-task"):
        source.copy_grasp_prior(goal)
    with pytest.raises(ValueError, match="same PoseNetworkConfig"):
        PoseQNetwork(4, PoseNetworkConfig(channels=(8, 8, 8, 16), hidden=16)).copy_grasp_prior(source)


def test_a_network_with_reach_reads_five_points_per_pose_and_each_one_matters() -> None:
    from agents.qtopt.network import PoseQNetwork

    torch.manual_seed(0)
    network = PoseQNetwork(3, PoseNetworkConfig(channels=(8, 8, 8, 8), hidden=16, reach=0.05))
    maps = network.feature_map(torch.rand(1, 3, 32, 32))
    points, poses = torch.rand(1, 4, 5, 2) * 2 - 1, torch.zeros(1, 4, 3)
    base = network.score(maps, points, poses)
    assert base.shape == (1, 4)
    for side in range(1, 5):  # moving only one side point changes the score
        moved = points.clone()
        moved[:, :, side] = -moved[:, :, side]
        assert not torch.allclose(network.score(maps, moved, poses), base)
    with pytest.raises(ValueError, match="reads 5 point"):
        network.score(maps, points[:, :, 0], poses)
    agent = PoseQTOpt(False, config=PoseQTOptConfig(network=PoseNetworkConfig(channels=(8, 8, 8, 8), hidden=16,
                                                                            reach=0.05)))
    inputs = agent.inputs({"image": np.zeros((1, 32, 32, 3), np.uint8)})
    assert agent.q_values(inputs, torch.zeros(1, 6, 3)).shape == (1, 6)


def test_robust_scoring_prefers_a_pose_whose_neighbours_also_succeed(monkeypatch) -> None:
    config = PoseQTOptConfig(network=PoseNetworkConfig(channels=(4, 4, 4, 4), hidden=8), robust_translation=0.02,
                             robust_yaw=0.2)
    agent = PoseQTOpt(False, WorldConfig(), config)
    offsets = agent.robust_offsets()
    assert offsets.shape == (7, 3) and torch.equal(offsets[0], torch.zeros(3))
    scale = 2.0 / (agent.space.high - agent.space.low)
    assert offsets[1, 0].item() == pytest.approx(0.02 * scale[0])
    assert offsets[6, 2].item() == pytest.approx(-0.2 * scale[2])
    sharp, broad = torch.tensor([-0.5, 0.0, 0.0]), torch.tensor([0.5, 0.0, 0.0])

    def peaks(features, points, poses):  # a needle (logit 6) and a wide hill (logit 2) in pose space
        to_sharp, to_broad = (poses - sharp).norm(dim=-1), (poses - broad).norm(dim=-1)
        return torch.where(to_sharp < 0.05, 6.0, -6.0).maximum(2.0 - 2.0 * to_broad)

    monkeypatch.setattr(agent.q, "score", peaks)
    candidates = torch.stack([sharp, broad])[None]
    plain = PoseQTOpt(False, WorldConfig(), dataclasses.replace(config, robust_translation=0.0, robust_yaw=0.0))
    monkeypatch.setattr(plain.q, "score", peaks)
    assert plain.candidate_scores(None, candidates).argmax().item() == 0  # alone, the needle wins
    assert agent.candidate_scores(None, candidates).argmax().item() == 1  # with its neighbours, the hill
    with pytest.raises(ValueError, match="robust_translation"):
        PoseQTOptConfig(robust_translation=-0.01)
