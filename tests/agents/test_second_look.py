"""agents.second_look and agents.variants.add_second_look: a look before closing that gives up doubtful grasps
and takes the next candidate elsewhere, acts as its base when it never gives up, always ends in a grasp, and
round-trips through a checked checkpoint folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.loading import load_policy
from agents.qtopt.learner import PoseQTOpt
from agents.second_look import SECOND_LOOK_META, VIEW_PREFIX, SecondLookConfig, SecondLookPolicy
from agents.variants import add_second_look
from envs.grasp_env import KukaGraspEnv, make_world_config
from envs.grasp_pose import AVOID_RADIUS
from rewards.presence import PresenceClassifier, PresenceConfig, PresenceNet
from tests.agents.test_pose_product import CONFIG, SIZE, checkpoint

STEPS = 12


class FixedView(PresenceClassifier):
    """A view classifier that says the same probability of every image."""

    def __init__(self, probability: float) -> None:
        super().__init__(PresenceNet(PresenceConfig(image_size=SIZE, channels=(4, 4))), 0.5)
        self.fixed = probability

    def probability(self, images: np.ndarray) -> np.ndarray:
        return np.full(len(images), self.fixed, np.float32)


def base() -> PoseQTOpt:
    return PoseQTOpt(False, make_world_config(2, SIZE, None), CONFIG, seed=3)


def episode(policy, seed: int = 5) -> tuple[list[np.ndarray], dict]:
    env = KukaGraspEnv(num_objects=2, image_size=SIZE, max_steps=STEPS, wrist_view=True)
    try:
        observation, _ = env.reset(seed=seed)
        policy.reset()
        actions, done, info = [], False, {}
        while not done:
            actions.append(policy.act(observation))
            observation, _, terminated, truncated, info = env.step(actions[-1])
            done = terminated or truncated
        return actions, info
    finally:
        env.close()


def test_a_look_that_never_gives_up_acts_exactly_as_its_base() -> None:
    alone = base()
    expected, _ = episode(alone)
    looking = SecondLookPolicy(base(), FixedView(0.9), None, SecondLookConfig(threshold=-50.0), STEPS)
    actions, _ = episode(looking)
    assert len(actions) == len(expected) and all(np.array_equal(a, b) for a, b in zip(actions, expected, strict=True))
    assert len(looking.scores) == 1 and not looking.given_up


def test_a_doubtful_grasp_is_given_up_once_and_the_next_one_is_elsewhere_and_closes() -> None:
    alone = base()
    episode(alone)
    looking = SecondLookPolicy(base(), FixedView(0.01), None, SecondLookConfig(threshold=0.0, looks=1), STEPS)
    actions, info = episode(looking)
    assert len(looking.given_up) == 1 and len(looking.scores) == 1
    assert looking.trial_report() == {"look_scores": [pytest.approx(float(np.log(0.01 / 0.99)), abs=1e-3)],
                                      "given_up": 1}
    first, final = looking.given_up[0], looking.chosen
    apart = looking.space.grasp_point_distances(*(torch.tensor(p, dtype=torch.float32)[None] for p in (final, first)))
    assert float(apart[0, 0]) >= AVOID_RADIUS
    assert info["grasp_attempted"] and actions[-1][4] > 0 and len(actions) <= STEPS
    assert any(a[4] <= 0 and a[2] > 0 for a in actions)  # the gripper rises before it moves across
    # the base's random streams were put back: the next episode searches as the base alone would
    assert np.array_equal(looking.base.rng.random(3), alone.rng.random(3))


def test_every_episode_ends_in_a_grasp_however_often_the_look_gives_up() -> None:
    config = SecondLookConfig(threshold=0.0, looks=20, min_steps_left=2)
    looking = SecondLookPolicy(base(), FixedView(0.01), None, config, STEPS)
    actions, info = episode(looking)
    assert len(looking.given_up) >= 1 and info["grasp_attempted"] and actions[-1][4] > 0 and len(actions) <= STEPS


def test_the_prior_adds_its_logit_of_the_chosen_pose_to_the_view() -> None:
    prior = base()
    looking = SecondLookPolicy(base(), FixedView(0.5), prior, SecondLookConfig(), STEPS)
    observation = {"image": np.zeros((SIZE, SIZE, 3), np.uint8), "wrist": np.zeros((SIZE, SIZE, 3), np.uint8)}
    looking.scan = {"image": observation["image"]}
    pose = np.array([0.2, -0.3, 0.5])
    with torch.no_grad():
        expected = float(prior.q_values(prior.inputs({"image": observation["image"][None]}),
                                        torch.tensor(pose, dtype=torch.float32).reshape(1, 1, 3))[0, 0])
    assert looking.look(observation, pose) == pytest.approx(expected, abs=1e-5)  # the view's log-odds are 0


def test_the_look_needs_the_wrist_camera_and_a_sane_config() -> None:
    looking = SecondLookPolicy(base(), FixedView(0.5), None, SecondLookConfig(), STEPS)
    with pytest.raises(KeyError, match="wrist"):
        looking.look({"image": np.zeros((SIZE, SIZE, 3), np.uint8)}, np.zeros(3))
    with pytest.raises(ValueError, match="retreat > 0"):
        SecondLookConfig(retreat=0.0)
    with pytest.raises(ValueError, match="indiscriminate"):
        SecondLookPolicy(base(), FixedView(0.5), PoseQTOpt(True, make_world_config(2, SIZE, None), CONFIG),
                         SecondLookConfig(), STEPS)


def test_a_second_look_folder_round_trips_and_refuses_other_weights(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    FixedView(0.5).save(tmp_path / "view")
    out = add_second_look(tmp_path / "goal", tmp_path / "view", tmp_path / "grasp",
                          SecondLookConfig(threshold=-1.5), tmp_path / "look", command="python -m runs.add_second_look")
    policy, card = load_policy(out)
    assert isinstance(policy, SecondLookPolicy) and policy.prior is not None
    assert card.algo == "qtopt-second-look" and card.wrist_view and card.env_id == "KukaInstanceGrasp-v0"
    assert policy.config.threshold == -1.5 and policy.max_steps == card.world["max_steps"]
    assert (out / SECOND_LOOK_META).is_file()
    with pytest.raises(FileExistsError, match="exists"):
        add_second_look(tmp_path / "goal", tmp_path / "view", None, SecondLookConfig(), out)
    with pytest.raises(ValueError, match="second look is added to a pose QT-Opt or a product"):
        add_second_look(out, tmp_path / "view", None, SecondLookConfig(), tmp_path / "look-again")
    weights = out / f"{VIEW_PREFIX}.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="not the ones"):
        load_policy(out)
