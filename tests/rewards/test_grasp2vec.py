"""rewards.grasp2vec's foreign share: the share of φ_o(outcome)'s spatial feature mass unlike the goal, and the gate
that scores an outcome showing more than the goal 0 (32 px constructed blocks, tests/rewards/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewards import GraspContext, RewardError, make_reward
from tests.rewards.conftest import COLOURS, scene


def two_blocks(first: str, second: str, seed: int) -> np.ndarray:
    """A gripper view holding a ``first`` block on the left and a ``second`` block on the right."""
    image = scene(None, seed)
    image[8:22, 2:14] = COLOURS[first]
    image[8:22, 18:30] = COLOURS[second]
    return image


def contexts() -> list[GraspContext]:
    """red goal: red alone (twice), red with blue (twice)."""
    return [GraspContext(scene("red", 1), scene("red", 2)), GraspContext(scene("red", 3), scene("red", 4)),
            GraspContext(scene("red", 5), two_blocks("red", "blue", 6)),
            GraspContext(scene("red", 7), two_blocks("blue", "red", 8))]


def test_the_foreign_share_is_the_mass_of_map_cells_unlike_the_goal(grasp2vec_checkpoint) -> None:
    from embedding.checkpoint import load_checkpoint

    reward = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, foreign_cosine=0.5)
    goals = reward.embed(np.stack([c.goal_image for c in contexts()]))
    outcomes = np.stack([c.outcome_image for c in contexts()])
    with torch.no_grad():
        maps = load_checkpoint(grasp2vec_checkpoint).outcome_encoder(
            torch.from_numpy(outcomes).permute(0, 3, 1, 2).float() / 255.0 - 0.5).numpy()
    cells = maps.reshape(*maps.shape[:2], -1)
    mass = np.linalg.norm(cells, axis=1)
    cosine = np.einsum("ndc,nd->nc", cells, goals) / np.maximum(mass, 1e-12)
    expected = (mass * (cosine < 0.5)).sum(axis=1) / mass.sum(axis=1)
    shares = reward.foreign_shares(outcomes, goals)
    np.testing.assert_allclose(shares, expected, atol=1e-5)
    assert max(shares[:2]) < min(shares[2:])  # the goal's object with another: more of the map is unlike it
    slots = np.array([3, 0, 3])  # one outcome scored against several goals is embedded once
    np.testing.assert_allclose(reward.foreign_shares(outcomes, goals[[0, 1, 2]], slots),
                               reward.foreign_shares(outcomes[slots], goals[[0, 1, 2]]), atol=1e-6)


def test_the_gate_scores_an_outcome_showing_more_than_the_goal_zero(grasp2vec_checkpoint) -> None:
    plain = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence=False)
    shares = [plain.explain(c)["foreign_share"] for c in contexts()]
    limit = (max(shares[:2]) + min(shares[2:])) / 2
    gated = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence=False, max_foreign_share=limit,
                        batch_size=3)
    scores, ungated = gated.batch(contexts()), plain.batch(contexts())
    np.testing.assert_allclose(scores[:2], ungated[:2], atol=1e-6)
    assert scores[2:].tolist() == [0.0, 0.0] and min(ungated[2:]) > 0
    np.testing.assert_allclose(scores, [gated(c) for c in contexts()], atol=1e-6)
    thresholded = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence=False, thresholded=True,
                              threshold=-1.0, max_foreign_share=limit)
    assert thresholded.batch(contexts()).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_explain_gives_the_parts_of_the_score(grasp2vec_checkpoint) -> None:
    reward = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint)
    empty = GraspContext(scene("red", 11), scene(None, 12))
    for context in [*contexts(), empty]:
        parts = reward.explain(context)
        assert set(parts) == {"similarity", "holds_object", "score", "foreign_share"}
        assert parts["score"] == pytest.approx(reward(context), abs=1e-6)
        goal, outcome = reward.embed(np.stack([context.goal_image, context.outcome_image]))
        assert parts["similarity"] == pytest.approx(float(goal @ outcome), abs=1e-5)
        assert 0.0 <= parts["foreign_share"] <= 1.0
    assert reward.explain(empty)["holds_object"] == 0.0 and reward.explain(empty)["score"] == 0.0


@pytest.mark.parametrize(("kwargs", "message"), [({"max_foreign_share": 1.5}, "max_foreign_share is a share"),
                                                 ({"foreign_cosine": 2.0}, "foreign_cosine is a cosine")])
def test_bad_gate_arguments_are_refused(grasp2vec_checkpoint, kwargs, message) -> None:
    with pytest.raises(RewardError, match=message):
        make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, **kwargs)


def test_the_gated_reward_reads_each_distinct_outcome_once(grasp2vec_checkpoint) -> None:
    """One pass of φ_o gives both the similarity and the foreign share, in chunks of ``batch_size`` images."""
    plain = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence=False)
    gated = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence=False, max_foreign_share=1.0,
                        batch_size=3)
    seen: list[int] = []
    maps = gated._outcome_maps
    gated._outcome_maps = lambda images: (seen.append(len(images)), maps(images))[1]
    outcomes = [*contexts(), *contexts()[:2]]  # two outcomes scored twice
    scores = gated.batch(outcomes)
    assert seen == [3, 1]  # four distinct outcomes, no second pass for the shares
    np.testing.assert_allclose(scores, plain.batch(outcomes), atol=1e-6)  # a limit of 1 vetoes nothing
    plain_maps = plain._outcome_maps
    plain._outcome_maps = lambda images: (seen.append(len(images)), plain_maps(images))[1]
    seen.clear()
    parts = plain.explain(outcomes[0])  # the ungated reward reports the share too, from the same pass
    assert seen == [1] and parts["foreign_share"] == pytest.approx(gated.explain(outcomes[0])["foreign_share"])
