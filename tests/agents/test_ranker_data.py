"""agents.ranker_data's labels: a label-free reward never sees the collection's record of what was lifted; the
oracle reward of a labels comparison row reads it; a card names the reward that labelled its ranker."""

from __future__ import annotations

import numpy as np
import pytest

from agents.ranker_data import label_reward, reward_labels
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
