import numpy as np
import pytest

from common.protocols import RewardError
from rewards.calibration import recall_threshold, youden_threshold
from rewards.quality import make_pairs, precision_recall


def test_pairs_are_same_object_positives_and_other_object_negatives():
    objects = ["a", "a", "b", "c", "c", "c"]
    pairs = make_pairs(objects, seed=3)
    names = np.asarray(objects)
    assert np.all(pairs.goal != pairs.outcome)
    assert np.all((names[pairs.goal] == names[pairs.outcome]) == pairs.label.astype(bool))
    assert pairs.label.sum() == (pairs.label == 0).sum() == 5  # every grasp but the lone "b": one of each
    assert 2 not in pairs.outcome
    assert len(make_pairs(["a", "a"], seed=0)) == 0  # no other object: no negative, so no pair
    again = make_pairs(objects, seed=3)
    assert np.array_equal(pairs.goal, again.goal)


def test_precision_recall_at_threshold():
    metrics = precision_recall(np.array([0.9, 0.4, 0.6, 0.1]), np.array([1, 1, 0, 0]), threshold=0.5)
    assert metrics == {"precision": 0.5, "recall": 0.5, "false_positive_rate": 0.5, "accuracy": 0.5}


def test_youden_threshold_separates_and_sits_between_scores():
    threshold, j = youden_threshold(np.array([0.8, 0.9, 0.7]), np.array([0.1, 0.3, 0.2]))
    assert j == 1.0 and 0.3 < threshold <= 0.7
    threshold, j = youden_threshold(np.array([0.5, 0.9]), np.array([0.6, 0.1]))
    assert j == 0.5


def test_recall_threshold_keeps_the_asked_share_of_positives_and_no_more():
    positive = np.arange(1, 101) / 100.0  # 0.01 .. 1.00
    for recall in (1.0, 0.98, 0.95, 0.5):
        threshold = recall_threshold(positive, recall)
        kept = np.mean(positive >= threshold)
        assert kept >= recall and np.mean(positive >= threshold + 0.011) < recall
    assert 0.02 < recall_threshold(positive, 0.98) < 0.03  # midway between 0.02 and 0.03
    assert recall_threshold(positive, 1.0) < 0.01
    with pytest.raises(RewardError, match="recall must be in"):
        recall_threshold(positive, 0.0)
    with pytest.raises(RewardError, match="positive pair"):
        recall_threshold(np.zeros(0), 0.9)



def test_with_another_pairs_take_a_single_grasp_of_one_lifted_object_as_the_goal():
    from rewards.quality import with_another_pairs

    objects = ["a", "b", "a", "c"]
    goal, outcome, target = with_another_pairs(objects, [("a", "x"), ("y", "z"), ("c", "b")], seed=1)
    assert outcome.tolist() == [0, 2]  # ("y", "z"): no single grasp shows either object
    assert target[0] == "a" and objects[goal[0]] == "a"
    assert target[1] in ("b", "c") and objects[goal[1]] == target[1]
