"""agents.qtopt.ranking and agents.ranker_data: the features read the scan and the heat where the fingers meet, the
ranker learns a rule and round-trips, the ranked product carries out the candidate its ranker prefers, and a
collection of the shipped product's candidates resumes, is fitted on and loads as a policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents.loading import load_policy
from agents.qtopt.product import PoseQProduct, ProductConfig
from agents.qtopt.ranking import (
    RANKER_FILE,
    LogisticRanker,
    RankedProduct,
    RankingConfig,
    candidate_features,
    closing_lines,
    feature_count,
    product_candidates,
    scan_geometry,
)
from agents.ranker_data import CANDIDATES_FILE, CandidateCollection, collect_candidates, fit_ranker, read_candidates
from envs.config import WorldConfig
from envs.grasp_pose import PoseSpace
from envs.heightmap import HEIGHT_UNIT, GridGeometry, HeightmapConfig
from tests.agents.test_pose_product import CONFIG, member

PRODUCT = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
SPACE = PoseSpace(WorldConfig())
GEOMETRY = GridGeometry.of(WorldConfig().layout, HeightmapConfig())


def scan_with_block(centre: np.ndarray, height: float = 0.03) -> np.ndarray:
    """A height map (Hm, Wm, 4) uint8, flat but for a 2 cm block of ``height`` metres at ``centre`` (x, y)."""
    heights = np.zeros(GEOMETRY.shape)
    cells = GEOMETRY.cell_centres()
    heights[np.abs(cells - centre).max(-1) < 0.01] = height
    scan = np.zeros((*GEOMETRY.shape, 4), np.uint8)
    scan[..., 0] = np.round(heights / HEIGHT_UNIT).astype(np.uint8)
    return scan


def test_features_read_the_scan_and_the_goal_heat_where_the_fingers_meet() -> None:
    pose = np.array([0.1, -0.2, 0.3])
    fingers = SPACE.finger_points(torch.as_tensor(pose[None])).numpy()[0]
    heat = np.zeros((64, 64, 1), np.uint8)
    pixel = np.clip(((SPACE.project(torch.as_tensor(fingers[None])).numpy()[0] + 1) / 2 * 64).astype(int), 0, 63)
    heat[pixel[1], pixel[0], 0] = 255
    far = np.array([-0.8, 0.8, -0.5])
    x = candidate_features(scan_with_block(fingers), heat, np.stack([pose, far]), np.array([[1.0, 2.0], [3.0, 4.0]]),
                           SPACE, GEOMETRY)
    assert x.shape == (2, feature_count(2)) and x.dtype == np.float32
    assert x[0, :3].tolist() == [1.0, 3.0, 1.0] and x[1, :3].tolist() == [2.0, 4.0, 0.0]  # logits, is-first
    assert x[0, 3] == pytest.approx(1.0) and x[1, 3] == 0.0  # the heat where the fingers meet
    centre_line = x[:, 4 + 17:4 + 34]
    assert centre_line[0, 8] == pytest.approx(0.03 / 0.05, abs=0.02)  # the block, under the fingers
    assert centre_line[0, 0] == 0.0 and centre_line[1].max() == 0.0  # 8 cm away, and the other grasp: flat
    assert x[0, -2:].tolist() == pytest.approx([0.1, -0.2])
    logits = np.array([[1.0, 2.0], [3.0, 4.0]])
    blind = candidate_features(scan_with_block(fingers), None, np.stack([pose, far]), logits, SPACE, GEOMETRY)
    assert blind[:, 3].tolist() == [0.0, 0.0]  # any-object grasping: no goal, no heat; the rest as before
    assert np.array_equal(np.delete(blind, 3, 1), np.delete(x, 3, 1))


def test_closing_lines_start_where_the_fingers_meet_and_turn_with_the_wrist() -> None:
    poses = np.array([[0.1, -0.2, 0.0], [0.1, -0.2, 1.0]])  # wrist at 0 and at a quarter turn
    fingers, closing, side = closing_lines(poses, SPACE)
    assert np.allclose(fingers, SPACE.finger_points(torch.as_tensor(poses)).numpy())
    assert np.allclose(closing, [[-1.0, 0.0], [0.0, 1.0]]) and np.allclose(side, [[0.0, 1.0], [1.0, 0.0]])


def test_the_ranker_learns_a_rule_round_trips_and_refuses_other_features(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4, 5)).astype(np.float32)
    y = (x[..., 2] > 0.3).astype(np.float32)
    ranker = LogisticRanker.fit(x, y)
    picked = y[np.arange(200), ranker.scores(x).argmax(1)]
    assert picked.mean() >= y.max(1).mean() - 0.01  # it picks a paid candidate wherever the bin has one
    assert np.abs(ranker.weights).argmax() == 2
    ranker.save(tmp_path / "r.safetensors")
    again = LogisticRanker.load(tmp_path / "r.safetensors")
    assert np.allclose(again.scores(x), ranker.scores(x))
    with pytest.raises(ValueError, match="reads 5 features"):
        ranker.scores(x[..., :4])
    with pytest.raises(ValueError, match="all one value"):
        LogisticRanker.fit(x, np.ones((200, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(N, K, F\)"):
        LogisticRanker.fit(x[0], y[0])


def tiny_product() -> PoseQProduct:
    a, b = member(True, 0), member(False, 1)
    a.candidate_scores = lambda features, poses: 4.0 - 2.0 * poses[..., :2].abs().sum(-1)  # the centre is best
    b.candidate_scores = lambda features, poses: torch.zeros(poses.shape[:2])
    return PoseQProduct([a, b], ProductConfig(weights=(1.0, 1.0), cem=CONFIG.cem))


def observation() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"image": rng.integers(0, 255, (16, 16, 3), dtype=np.uint8),
            "heatmap": rng.integers(0, 255, (16, 16, 1), dtype=np.uint8),
            "heightmap": scan_with_block(np.array([0.6, 0.0])), "gripper": np.zeros(5, np.float32)}


def test_the_ranked_product_carries_out_the_candidate_its_ranker_prefers() -> None:
    product = tiny_product()
    candidates, scores, logits = product_candidates(tiny_product(), observation(), RankingConfig(candidates=4))
    assert candidates.shape == (4, 3) and scores.shape == (4,) and logits.shape == (2, 4)
    assert np.all(np.isfinite(scores))
    poses = torch.as_tensor(candidates)
    spacing = SPACE.grasp_point_distances(poses, poses).numpy()
    assert spacing[~np.eye(4, dtype=bool)].min() >= 0.02 - 1e-6  # candidates at least 2 cm apart
    weights = np.zeros(feature_count(2), np.float32)
    weights[-2] = 1.0  # prefers the largest x
    ranker = LogisticRanker(np.zeros_like(weights), np.ones_like(weights), weights, np.zeros(1, np.float32))
    policy = RankedProduct(product, ranker, RankingConfig(candidates=4))
    assert scan_geometry(product) == GridGeometry.of(product.members[0].world.layout, HeightmapConfig())
    chosen = policy.choose(observation())
    assert chosen.tolist() == candidates[candidates[:, 0].argmax()].tolist()
    report = policy.trial_report()
    assert len(report["scores"]) == 4 and report["chosen"] == int(candidates[:, 0].argmax())
    with pytest.raises(KeyError, match="heightmap"):
        policy.choose({k: v for k, v in observation().items() if k != "heightmap"})
    with pytest.raises(ValueError, match="fitted on another product"):
        RankedProduct(product, LogisticRanker(np.zeros(3), np.ones(3), np.zeros(3), np.zeros(1)), RankingConfig())


class EveryOther:
    """A stand-in reward that pays every other outcome it scores (no Grasp2Vec needed; both labels occur)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, context) -> float:
        self.calls += 1
        return float(self.calls % 2)

    def batch(self, contexts) -> np.ndarray:
        return np.array([self(c) for c in contexts], np.float32)


def test_a_collection_of_the_shipped_products_candidates_resumes_fits_and_loads(tmp_path) -> None:
    config = CandidateCollection(bins=2, first_seed=28_000_000, goal_seed=3_000_017, policy_every=1,
                                 ranking=RankingConfig(candidates=2))
    collect_candidates(PRODUCT, config, tmp_path / "data", progress=False)
    rows = json.loads((tmp_path / "data" / CANDIDATES_FILE).read_text())["bins"]
    assert [r["seed"] for r in rows] == [28_000_000, 28_000_001] and all(len(r["candidates"]) == 2 for r in rows)
    first = rows[0]
    (tmp_path / "data" / "bin-0001.npz").unlink()  # a killed run: the index is ahead of a lost file; redo block 1
    index = json.loads((tmp_path / "data" / CANDIDATES_FILE).read_text())
    (tmp_path / "data" / CANDIDATES_FILE).write_text(json.dumps({**index, "bins": index["bins"][:1]}))
    collect_candidates(PRODUCT, config, tmp_path / "data", progress=False)
    again = read_candidates([tmp_path / "data"])
    assert [row for row, _ in again] == rows and again[0][0] == first
    assert again[0][1]["outcome_images"].shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match="other settings"):
        collect_candidates(PRODUCT, CandidateCollection(bins=3), tmp_path / "data", progress=False)

    folder = fit_ranker(PRODUCT, [tmp_path / "data"], tmp_path / "ranked", command="test", reward=EveryOther())
    policy, card = load_policy(folder)
    assert isinstance(policy, RankedProduct) and card.algo == "qtopt-ranked" and policy.config.candidates == 2
    assert json.loads((folder / "ranked.json").read_text())["cross_validation"]["folds"] == 2
    with pytest.raises(FileExistsError):
        fit_ranker(PRODUCT, [tmp_path / "data"], tmp_path / "ranked", reward=EveryOther())
    (folder / RANKER_FILE).write_bytes((folder / RANKER_FILE).read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="are not the ones .*ranked.json recorded"):
        load_policy(folder)


def test_cross_validation_reports_the_held_out_picks_against_the_first() -> None:
    from agents.ranker_data import cross_validate

    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 4, 3)).astype(np.float32)
    labels = (x[..., 1] > 0.5).astype(np.float32)
    report = cross_validate(x, labels, labels, 0.1)
    assert report["folds"] == 5 and report["pick_rewarded"] > report["first_rewarded"] + 0.2
    assert report["pick_success"] == report["pick_rewarded"]
    assert cross_validate(x[:3], np.zeros((3, 4), np.float32), labels[:3], 0.1)["skipped"]
