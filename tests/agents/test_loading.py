"""agents.loading: a policy gets the heatmap of the Grasp2Vec weights it was trained on, or an error."""

import dataclasses

import pytest
import torch

from agents.loading import check_grasp2vec, grasp2vec_fingerprint
from common.protocols import PolicyCard
from embedding.checkpoint import save_checkpoint
from embedding.model import Grasp2Vec, Grasp2VecConfig

TINY = Grasp2VecConfig(image_size=16, embedding_dim=4, stem_channels=4, stage_channels=(4,), stage_strides=(1,))


def test_policy_card_pins_the_grasp2vec_weights(tmp_path):
    for seed, name in ((0, "v1"), (1, "v2")):
        torch.manual_seed(seed)
        save_checkpoint(Grasp2Vec(TINY), tmp_path / name)
    card = PolicyCard(algo="qtopt-pose", reward="oracle", world={}, grasp2vec=str(tmp_path / "v1"),
                      grasp2vec_sha256=grasp2vec_fingerprint(tmp_path / "v1"))
    check_grasp2vec(card)
    with pytest.raises(ValueError, match="trained on the heatmap of Grasp2Vec weights"):
        check_grasp2vec(dataclasses.replace(card, grasp2vec=str(tmp_path / "v2")))
    older = dataclasses.replace(card, grasp2vec=str(tmp_path / "v2"), grasp2vec_sha256=None)
    check_grasp2vec(older)  # older cards name no weights: not checked


def test_every_shipped_policy_names_the_grasp2vec_weights_it_was_trained_on(monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # policy cards name repo-relative paths
    cards = sorted(Path("checkpoints/policies").glob("*/checkpoint/policy.json"))
    assert cards, "no shipped policies found"
    for path in cards:
        card = PolicyCard.load(path.parent)
        if card.goal_features == "none":
            continue
        assert card.grasp2vec_sha256, f"{path} does not pin its Grasp2Vec weights"
        check_grasp2vec(card)  # the named checkpoint holds those weights
