"""agents.qtopt.product and agents.variants.combine_policies: the product ranks poses by every member's
weighted log probability, its folder round-trips, and members that cannot share an environment are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from agents.core.cem import CEMConfig
from agents.loading import load_policy
from agents.qtopt.learner import WEIGHTS, PoseQTOpt, PoseQTOptConfig
from agents.qtopt.network import PoseNetworkConfig
from agents.qtopt.product import PRODUCT_META, PoseQProduct, ProductConfig
from agents.variants import combine_policies, product_card
from common.protocols import INSTANCE_ENV, PolicyCard
from envs.grasp_env import make_world_config

SIZE = 16
CONFIG = PoseQTOptConfig(network=PoseNetworkConfig(channels=(4, 4, 4, 4), hidden=8),
                         cem=CEMConfig(iterations=3, population=64, elites=6))
WORLD = {"num_objects": 1, "image_size": SIZE, "max_steps": 12, "auto_descend": False}
GOAL_FEATURES = {"heatmap": True, "embedding": False, "keep_goal_image": True}


def member(goal_task: bool, seed: int) -> PoseQTOpt:
    return PoseQTOpt(goal_task, make_world_config(1, SIZE, None), CONFIG, seed=seed)


def observation() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"image": rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8),
            "heatmap": rng.integers(0, 255, (SIZE, SIZE, 1), dtype=np.uint8),
            "gripper": np.array([0.6, 0.05, 0.3, 0.0, 0.0], np.float32)}


def checkpoint(folder, goal_task: bool, seed: int, **card) -> None:
    member(goal_task, seed).save(folder)
    fields = {"goal_features": "heatmap", "goal_features_config": GOAL_FEATURES, "env_id": INSTANCE_ENV} \
        if goal_task else {}
    PolicyCard(algo="qtopt-pose", reward="grasp2vec" if goal_task else "indiscriminate",
               **{"world": dict(WORLD), **fields, **card}).save(folder)


def test_the_product_chooses_where_every_member_rates_the_grasp_well() -> None:
    """Member A rates poses with x > 0, member B poses with y > 0: alone each is indifferent to the other
    axis; together they pick the quadrant both like."""
    a, b = member(True, 0), member(False, 1)
    a.candidate_scores = lambda features, poses: 8.0 * poses[..., 0]
    b.candidate_scores = lambda features, poses: 8.0 * poses[..., 1]
    product = PoseQProduct([a, b], ProductConfig(weights=(1.0, 1.0), cem=CONFIG.cem))
    chosen = np.stack([product.choose(observation()) for _ in range(5)])
    assert np.all(chosen[:, 0] > 0.5) and np.all(chosen[:, 1] > 0.5)
    poses = torch.rand(1, 7, 3) * 2 - 1
    weighted = PoseQProduct([a, b], ProductConfig(weights=(2.0, 0.5)))
    expected = 2.0 * F.logsigmoid(8.0 * poses[..., 0]) + 0.5 * F.logsigmoid(8.0 * poses[..., 1])
    assert torch.allclose(weighted.candidate_scores([None, None], poses), expected)


def test_the_product_acts_once_per_episode_as_a_policy() -> None:
    product = PoseQProduct([member(True, 0), member(False, 1)], ProductConfig(weights=(1.0, 0.5)))
    product.reset()
    action = product.act(observation())
    chosen = product.chosen.copy()
    product.act(observation())
    assert action.shape == (5,) and np.array_equal(product.chosen, chosen)
    product.reset()
    assert product.chosen is None


def test_a_combined_folder_loads_as_a_policy_that_chooses_like_the_product_it_was_built_from(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    out = combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "grasp", 0.5)], tmp_path / "product",
                           cem={"population": 32}, seed=4, command="python -m runs.combine_policies ...")
    policy, card = load_policy(out)
    assert isinstance(policy, PoseQProduct) and card.algo == "qtopt-product" and card.env_id == INSTANCE_ENV
    assert card.goal_features == "heatmap" and card.reward == "grasp2vec × indiscriminate"
    assert policy.config.weights == (1.0, 0.5) and policy.config.cem.population == 32
    meta = json.loads((out / PRODUCT_META).read_text())
    assert [m["source"] for m in meta["members"]] == [str(tmp_path / "goal"), str(tmp_path / "grasp")]
    again = PoseQProduct([PoseQTOpt.load(tmp_path / "goal")[0], PoseQTOpt.load(tmp_path / "grasp")[0]],
                         ProductConfig(weights=(1.0, 0.5), cem=policy.config.cem, seed=4))
    assert np.array_equal(policy.choose(observation()), again.choose(observation()))
    with pytest.raises(FileExistsError):
        combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "grasp", 1.0)], out)


def test_changed_member_weights_are_refused_on_load(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    out = combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "grasp", 1.0)], tmp_path / "product")
    member(False, 9).save(tmp_path / "other")
    (out / "members" / "1-grasp" / WEIGHTS).write_bytes((tmp_path / "other" / WEIGHTS).read_bytes())
    with pytest.raises(ValueError, match="1-grasp/.* are not the ones .* combine the policies again"):
        load_policy(out)


def test_members_that_cannot_share_one_environment_are_refused(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "other-embedding", True, 1, grasp2vec_sha256="f" * 64)
    checkpoint(tmp_path / "big", False, 2, world={**WORLD, "image_size": 64})
    checkpoint(tmp_path / "grasp", False, 3)
    with pytest.raises(ValueError, match="different goal features or Grasp2Vec weights"):
        combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "other-embedding", 1.0)], tmp_path / "a")
    with pytest.raises(ValueError, match="different image_size"):
        combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "big", 1.0)], tmp_path / "b")
    with pytest.raises(ValueError, match="at least two members"):
        combine_policies([(tmp_path / "goal", 1.0)], tmp_path / "c")
    with pytest.raises(ValueError, match="weights must be"):
        combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "grasp", 0.0)], tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="not a pose QT-Opt checkpoint"):
        combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "missing", 1.0)], tmp_path / "e")
    assert not any((tmp_path / name).exists() for name in "abcde")


def test_the_product_card_asks_for_the_height_map_a_patch_member_reads() -> None:
    heightmap = {"resolution": 0.004, "margin": 0.04, "camera_height": 0.9, "render_size": 160, "fov": 30.0}
    goal = PolicyCard(algo="qtopt-pose", reward="grasp2vec", world=dict(WORLD), env_id=INSTANCE_ENV,
                      goal_features="heatmap", goal_features_config=GOAL_FEATURES)
    patch = PolicyCard(algo="qtopt-pose", reward="indiscriminate", world=dict(WORLD), heightmap=heightmap)
    card = product_card([goal, patch])
    assert card.heightmap == heightmap and card.goal_features == "heatmap" and card.env_id == INSTANCE_ENV
    with pytest.raises(ValueError, match="different height maps"):
        product_card([goal, patch, PolicyCard(algo="qtopt-pose", reward="indiscriminate", world=dict(WORLD),
                                              heightmap={**heightmap, "resolution": 0.002})])
    with pytest.raises(ValueError, match="combines qtopt-pose"):
        product_card([goal, PolicyCard(algo="sac-pose", reward="grasp2vec", world=dict(WORLD))])


def test_the_goal_heat_term_adds_the_log_heat_where_the_fingers_meet_and_steers_the_choice() -> None:
    """Two flat members and a heatmap hot only in its left half: the term is goal_heat · log((heat + 1) / 256)
    at the pixel where each pose's fingertips meet, so the product grasps on the left; with the term off it is
    indifferent."""
    a, b = member(True, 0), member(False, 1)
    a.candidate_scores = b.candidate_scores = lambda features, poses: torch.zeros(poses.shape[:2])
    seen = observation()
    seen["heatmap"] = np.zeros((SIZE, SIZE, 1), np.uint8)
    seen["heatmap"][:, : SIZE // 2] = 255
    product = PoseQProduct([a, b], ProductConfig(weights=(1.0, 1.0), cem=CONFIG.cem, goal_heat=0.5))
    heat = product.goal_heat_maps({k: v[None] for k, v in seen.items()})
    poses = torch.rand(1, 200, 3) * 2 - 1
    columns = a.space.project(a.space.finger_points(poses))[..., 0]
    members = 2 * np.log(0.5)  # each flat member: log σ(0)
    scores = product.candidate_scores([None, None], poses, heat)
    clear = columns.abs() > 0.2  # away from the edge the bilinear read blends
    assert torch.allclose(scores[clear & (columns < 0)], torch.tensor(members, dtype=torch.float32))
    assert torch.allclose(scores[clear & (columns > 0)], torch.tensor(members + 0.5 * np.log(1 / 256),
                                                                       dtype=torch.float32))
    chosen = torch.as_tensor(np.stack([product.choose(seen) for _ in range(5)]), dtype=torch.float32)
    assert torch.all(a.space.project(a.space.finger_points(chosen))[:, 0] < 0)
    gate = PoseQProduct([a, b], ProductConfig(weights=(1.0, 1.0), goal_heat=0.5, goal_heat_level=0.5))
    seen["heatmap"][:, : SIZE // 2] = 191  # 0.75 of the peak: warm enough for the gate, not the peak
    gated = gate.candidate_scores([None, None], poses, gate.goal_heat_maps({k: v[None] for k, v in seen.items()}))
    assert torch.allclose(gated[clear & (columns < 0)], torch.tensor(members, dtype=torch.float32))
    assert torch.allclose(gated[clear & (columns > 0)], torch.tensor(members + 0.5 * np.log(2 / 256),
                                                                      dtype=torch.float32))
    off = PoseQProduct([a, b], ProductConfig(weights=(1.0, 1.0)))
    assert off.goal_heat_maps(seen) is None
    assert torch.allclose(off.candidate_scores([None, None], poses), torch.tensor(members, dtype=torch.float32))
    with pytest.raises(KeyError, match="needs observation key 'heatmap'"):
        product.goal_heat_maps({"image": seen["image"][None]})
    with pytest.raises(ValueError, match="goal_heat must be"):
        ProductConfig(weights=(1.0,), goal_heat=-1.0)
    with pytest.raises(ValueError, match="goal_heat_level must be"):
        ProductConfig(weights=(1.0,), goal_heat=1.0, goal_heat_level=0.0)


def test_the_goal_heat_weight_is_recorded_loaded_and_needs_a_member_that_reads_the_heatmap(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    checkpoint(tmp_path / "grasp2", False, 2)
    out = combine_policies([(tmp_path / "goal", 1.0), (tmp_path / "grasp", 0.5)], tmp_path / "heat", goal_heat=0.75,
                           goal_heat_level=0.4)
    assert json.loads((out / PRODUCT_META).read_text())["goal_heat"] == 0.75
    config = PoseQProduct.load(out).config
    assert (config.goal_heat, config.goal_heat_level) == (0.75, 0.4)
    with pytest.raises(ValueError, match="no member reads it"):
        combine_policies([(tmp_path / "grasp", 1.0), (tmp_path / "grasp2", 0.5)], tmp_path / "none", goal_heat=1.0)
    assert not (tmp_path / "none").exists()
