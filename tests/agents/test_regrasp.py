"""agents.regrasp: a lift the verifier accepts is kept, one it rejects is put back and the next grasp is chosen away
from the ones tried; the checkpoint folder round-trips around the shipped ranked product and refuses other weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents.loading import load_policy
from agents.qtopt.ranking import RankedProduct, RankingConfig, product_candidates
from agents.regrasp import REGRASP_META, RegraspConfig, RegraspPolicy, add_regrasp
from envs.config import WorldConfig
from envs.grasp_env import KEEP_ACTION, RELEASE_ACTION
from envs.grasp_pose import PosePolicy, PoseSpace
from tests.agents.test_ranking import observation, tiny_product

RANKED = "checkpoints/policies/qtopt-grasp2vec-ranked/checkpoint"


class Chooser:
    """Chooses the poses it is given in turn and records what it was told to leave out."""

    def __init__(self, poses: list[np.ndarray]) -> None:
        self.poses, self.given_up = list(poses), []
        self.policy = PosePolicy(self.choose, WorldConfig())

    def choose(self, observation, given_up=None) -> np.ndarray:
        self.given_up.append(None if given_up is None else np.array(given_up))
        return self.poses.pop(0)


class Fixed:
    """A stand-in verifier that gives every outcome the scores it holds, in turn."""

    def __init__(self, *scores: float) -> None:
        self.scores = list(scores)

    def __call__(self, context) -> float:
        assert context.goal_image is not None and context.lifted == ()  # no ground truth reaches it
        return self.scores.pop(0)

    def batch(self, contexts) -> np.ndarray:
        return np.array([self(c) for c in contexts], np.float32)


def approach() -> dict[str, np.ndarray]:
    return {"gripper": np.array([0.6, 0.03, 0.3, 0.0, 0.3], np.float32), "goal": np.zeros((8, 8, 3), np.uint8),
            "outcome": np.zeros((8, 8, 3), np.uint8)}


def after_lift() -> dict[str, np.ndarray]:
    return {**approach(), "gripper": np.array([0.6, 0.03, 0.4, 0.0, 0.0], np.float32)}


def test_a_rejected_lift_is_put_back_and_the_next_grasp_avoids_it_an_accepted_one_is_kept() -> None:
    first, second = np.array([0.5, -0.2, 0.1]), np.array([-0.3, 0.4, 0.0])
    chooser = Chooser([first, second])
    policy = RegraspPolicy(chooser, Fixed(0.2, 0.9), threshold=0.5)
    policy.reset()
    assert policy.act(approach())[4] == -1.0  # approaching: the pose follower's action, fingers open
    assert chooser.given_up == [None]
    assert np.array_equal(policy.act(after_lift()), RELEASE_ACTION)  # 0.2 < 0.5: put back
    policy.act(approach())  # the bin after the release: choose again, away from the first grasp
    assert np.array_equal(chooser.given_up[1], first[None])
    assert np.array_equal(policy.act(after_lift()), KEEP_ACTION)  # 0.9 >= 0.5: keep
    assert policy.trial_report()["lift_scores"] == [0.2, 0.9]
    policy.reset()
    assert policy.tried == [] and policy.scores == []


def test_an_infinite_threshold_puts_back_every_lift_it_is_asked_about() -> None:
    policy = RegraspPolicy(Chooser([np.zeros(3)]), Fixed(1.0), threshold=float("inf"))
    policy.reset()
    policy.act(approach())
    assert np.array_equal(policy.act(after_lift()), RELEASE_ACTION)
    with pytest.raises(ValueError, match="nan"):
        RegraspConfig(float("nan"))


class Explained(Fixed):
    """A stand-in verifier that also says what each score is made of (as rewards.similarity's do)."""

    def explain(self, context) -> dict[str, float]:
        score = self(context)
        return {"similarity": score + 0.1, "foreign_share": 0.123456, "score": score}


def test_a_verifier_that_explains_its_score_has_each_lifts_parts_recorded() -> None:
    policy = RegraspPolicy(Chooser([np.zeros(3), np.ones(3)]), Explained(0.2, 0.9), threshold=0.5)
    policy.reset()
    policy.act(approach())
    assert np.array_equal(policy.act(after_lift()), RELEASE_ACTION)  # decided on explain()'s "score"
    policy.act(approach())
    assert np.array_equal(policy.act(after_lift()), KEEP_ACTION)
    report = policy.trial_report()
    assert report["lift_scores"] == [0.2, 0.9]
    assert report["lift_details"] == [{"similarity": 0.3, "foreign_share": 0.1235, "score": 0.2},
                                      {"similarity": 1.0, "foreign_share": 0.1235, "score": 0.9}]
    policy.reset()
    assert "lift_details" not in policy.trial_report()  # a verifier without explain() adds nothing either


class Presence(Fixed):
    """A stand-in verifier whose explanation says, in turn, whether the gripper held something."""

    def __init__(self, scores: list[float], held: list[float]) -> None:
        super().__init__(*scores)
        self.held = list(held)

    def explain(self, context) -> dict[str, float]:
        return {"holds_object": self.held.pop(0), "score": self(context)}


def test_with_retry_empty_only_a_lift_that_held_something_is_left_out_of_the_next_choice() -> None:
    poses = [np.full(3, 0.1), np.full(3, 0.2), np.full(3, 0.3), np.full(3, 0.4)]
    chooser = Chooser(poses)
    policy = RegraspPolicy(chooser, Presence([0.0, 0.1, 0.2, 0.9], held=[0.0, 1.0, 0.0, 1.0]), threshold=0.5,
                           retry_empty=True)
    policy.reset()
    for _ in range(3):  # empty, held, empty: each put back
        policy.act(approach())
        assert np.array_equal(policy.act(after_lift()), RELEASE_ACTION)
    policy.act(approach())
    assert chooser.given_up[1] is None  # the empty first lift may be tried again
    assert np.array_equal(chooser.given_up[2], poses[1][None])  # the held second one is left out
    assert np.array_equal(chooser.given_up[3], poses[1][None])  # and stays out; the empty third is not added
    assert np.array_equal(policy.act(after_lift()), KEEP_ACTION)
    # without retry_empty (the default) every tried grasp is left out, empty or not
    chooser = Chooser(poses)
    policy = RegraspPolicy(chooser, Presence([0.0, 0.9], held=[0.0, 1.0]), threshold=0.5)
    policy.reset()
    policy.act(approach())
    policy.act(after_lift())
    policy.act(approach())
    assert np.array_equal(chooser.given_up[1], poses[0][None])
    with pytest.raises(ValueError, match="retry_empty .* needs avoid_tried"):
        RegraspConfig(0.5, avoid_tried=False, retry_empty=True)


def test_the_ranked_products_candidates_leave_out_the_grasps_given_up() -> None:
    config = RankingConfig(candidates=3)
    best = product_candidates(tiny_product(), observation(), config)[0]
    again = product_candidates(tiny_product(), observation(), config, given_up=best[:1])[0]
    distances = PoseSpace(WorldConfig()).grasp_point_distances(torch.as_tensor(again), torch.as_tensor(best[:1]))
    assert distances.min().item() >= config.avoid_radius - 1e-6


def test_a_regrasp_folder_round_trips_around_the_shipped_ranked_product_and_refuses_other_weights(tmp_path) -> None:
    folder = add_regrasp(RANKED, RegraspConfig(threshold=0.7), tmp_path / "regrasp", command="test")
    policy, card = load_policy(folder)
    assert isinstance(policy, RegraspPolicy) and isinstance(policy.chooser, RankedProduct)
    assert card.algo == "qtopt-regrasp" and policy.threshold == 0.7 and policy.decides_after_lift
    assert policy.avoid_tried and not policy.retry_empty
    retrying = add_regrasp(RANKED, RegraspConfig(0.7, retry_empty=True), tmp_path / "retrying", command="test")
    assert load_policy(retrying)[0].retry_empty
    with pytest.raises(FileExistsError):
        add_regrasp(RANKED, RegraspConfig(0.5), folder)
    with pytest.raises(ValueError, match="wraps a ranked product"):
        add_regrasp("checkpoints/policies/qtopt-grasp2vec-product/checkpoint", RegraspConfig(0.5),
                    tmp_path / "other")
    meta = json.loads((folder / REGRASP_META).read_text())
    (folder / REGRASP_META).write_text(json.dumps({**meta, "verifier_weights_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="verifier weights 000000000000"):
        load_policy(folder)
