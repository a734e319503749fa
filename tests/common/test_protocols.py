"""common.protocols: the policy card round-trips and refuses what is not one."""

import json

import pytest

from common.protocols import INSTANCE_ENV, POLICY_CARD, PolicyCard


def test_policy_card_round_trips_and_names_its_task(tmp_path):
    card = PolicyCard(algo="qtopt-pose", reward="grasp2vec", world={"image_size": 64}, env_id=INSTANCE_ENV,
                      goal_features="heatmap", goal_features_config={"heatmap": True},
                      grasp2vec="checkpoints/grasp2vec")
    card.save(tmp_path)
    assert PolicyCard.load(tmp_path) == card
    assert card.task == "instance" and PolicyCard(algo="a", reward="r", world={}).task == "indiscriminate"


def test_policy_card_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no policy.json"):
        PolicyCard.load(tmp_path)
    (tmp_path / POLICY_CARD).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        PolicyCard.load(tmp_path)
    (tmp_path / POLICY_CARD).write_text(json.dumps({"algo": "qtopt-pose", "reward": "oracle", "world": {},
                                                    "colour": "red"}))
    with pytest.raises(ValueError, match=r"unknown policy card keys \['colour'\]"):
        PolicyCard.load(tmp_path)
    (tmp_path / POLICY_CARD).write_text(json.dumps({"algo": "qtopt-pose"}))
    with pytest.raises(ValueError, match="not a policy card"):
        PolicyCard.load(tmp_path)
