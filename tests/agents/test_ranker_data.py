"""agents.ranker_data's labels: a label-free reward never sees the collection's record of what was lifted; the
oracle reward of a labels comparison row reads it; a card names the reward that labelled its ranker; an any-object
product's candidates are collected without a goal, labelled by the gripper's own bit and ranked as a policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.loading import load_policy
from agents.qtopt.ranking import RankingConfig, load_product
from agents.ranker_data import (
    CANDIDATES_FILE,
    SENSED,
    CandidateCollection,
    candidate_env,
    collect_candidates,
    fit_ranker,
    label_reward,
    read_candidates,
    reward_labels,
    sensed_labels,
)
from common.protocols import GraspContext, RewardError
from rewards.ground_truth import OracleReward

IMAGES = np.zeros((4, 8, 8, 3), np.uint8)
TRUTH = [{"lifted": 1, "target_lifted": True}, {"lifted": 2, "target_lifted": True},
         {"lifted": 0, "target_lifted": False}, {"lifted": 1, "target_lifted": False}]


class SeesTruth:
    """A label-free reward that records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[GraspContext] = []

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        self.seen += contexts
        return np.ones(len(contexts), np.float32)


def test_the_oracle_pays_for_the_target_alone_from_the_collections_record() -> None:
    labels = reward_labels(IMAGES[0], IMAGES, OracleReward(), TRUTH)
    assert labels.tolist() == [1.0, 0.0, 0.0, 0.0]  # alone; with another; nothing; another object
    with pytest.raises(ValueError, match="record of each candidate's outcome"):
        reward_labels(IMAGES[0], IMAGES, OracleReward(), TRUTH[:3])


def test_a_label_free_reward_never_sees_what_was_lifted() -> None:
    reward = SeesTruth()
    reward_labels(IMAGES[0], IMAGES, reward, TRUTH)
    assert [(c.lifted, c.target) for c in reward.seen] == [((), None)] * 4


def test_the_card_names_the_reward_that_labelled_the_ranker() -> None:
    assert label_reward("oracle")[1] == "oracle" and isinstance(label_reward("oracle")[0], OracleReward)
    reward = SeesTruth()
    assert label_reward(reward) == (reward, "SeesTruth")
    with pytest.raises(RewardError, match="need a reward name"):
        label_reward(None, {"thresholded": True})


def test_an_any_object_products_candidates_are_labelled_by_the_grippers_own_bit(tmp_path) -> None:
    product = "checkpoints/policies/qtopt-indiscriminate-product-2k/checkpoint"
    config = CandidateCollection(bins=2, first_seed=30_000_000, policy_every=2, ranking=RankingConfig(candidates=2))
    collect_candidates(product, config, tmp_path / "data", progress=False)
    (row, arrays), _ = read_candidates([tmp_path / "data"])
    assert sorted(arrays) == ["heightmap", "outcome_images"]  # no goal, no heatmap
    assert sensed_labels(row).tolist() == [float(o["sensed"]) for o in row["outcomes"]]
    index = json.loads((tmp_path / "data" / CANDIDATES_FILE).read_text())
    index["bins"][0]["outcomes"][0]["sensed"] = not index["bins"][0]["outcomes"][0]["sensed"]  # both labels occur
    (tmp_path / "data" / CANDIDATES_FILE).write_text(json.dumps(index))
    folder = fit_ranker(product, [tmp_path / "data"], tmp_path / "ranked", reward=SENSED)
    assert json.loads((folder / "ranked.json").read_text())["label"].startswith("the gripper's sensed bit")
    policy, _ = load_policy(folder)
    env = candidate_env(load_product(product)[1], "seen", 0)
    try:
        observation, _ = env.reset(seed=30_000_000)
        assert "heatmap" not in observation
        assert policy.choose(observation).shape == (3,) and policy.trial_report()["chosen"] in (0, 1)
    finally:
        env.close()
    del index["bins"][1]["outcomes"][0]["sensed"]  # a collection made before the bit was recorded
    with pytest.raises(ValueError, match="records no sensed bit"):
        sensed_labels(index["bins"][1])
    with pytest.raises(RewardError, match="need a reward name"):
        label_reward(SENSED, {"threshold": 0.5})
