"""A second look before closing: a pose policy that scores the wrist view at the bottom of its approach and,
when the grasp looks bound to fail, rises and takes its next candidate instead of closing.

The base policy (a pose QT-Opt or a product of them) decides once, from the first observation, and its follower
drives the gripper down. At the moment the follower would close, :class:`SecondLookPolicy` rates the grasp as

    look(u) = logit P_view(sensed | wrist view) + logit P_prior(sensed | scan, u)

(the probe's sum, :mod:`agents.second_look_probe`): a small classifier on the wrist camera's image, trained on
replayed attempts with the robot's own sensed bit, plus an indiscriminate grasp prior's logit of the chosen pose
on the scan. Below ``threshold`` the grasp is given up: the gripper rises ``retreat`` metres while it moves to the
base's best pose at least ``avoid_radius`` from the grasp points given up (:func:`envs.grasp_pose.avoiding`,
searched on the first observation, the scan the base decided on), and descends there. At most ``looks`` grasps
are given up per episode, and only while ``min_steps_left`` steps remain; the episode's last step always closes.

Nothing here reads the simulator: the wrist image and gripper state are observations. The base's random streams
are put back after each further search, so with a look that never gives up the policy acts exactly as its base,
trial for trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.qtopt.learner import OBSERVATION_KEYS, WEIGHTS, PoseQTOpt
from agents.qtopt.product import PoseQProduct
from common.io import check_sha256, read_json_card
from common.settings import from_fields
from common.stats import log_odds
from envs.grasp_pose import AVOID_RADIUS, ApproachConfig, Avoid, PoseFollower
from rewards.presence import PresenceClassifier, load_presence

SECOND_LOOK_META = "second_look.json"  # the card of a second-look checkpoint folder
BASE_FOLDER = "base"  # the base policy's checkpoint, copied
PRIOR_FOLDER = "prior"  # the grasp prior's checkpoint, copied
VIEW_PREFIX = "view"  # the view classifier: view.safetensors + view.json
SECOND_LOOK_ALGO = "qtopt-second-look"
CLOSE = np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)


@dataclass(frozen=True)
class SecondLookConfig:
    """When a grasp is given up, and how the next one is approached.

    Attributes:
        threshold: log-odds; a grasp whose look (view + prior logits) scores below it is given up.
        looks: grasps that may be given up per episode (0: the base policy unchanged).
        retreat: metres above the bottom of the workspace at which the next approach moves across, before it
            descends (the gripper rises this far first, so it does not drag through the bin).
        max_align_steps: steps of the next approach after which it descends, centred or not.
        min_steps_left: a grasp is given up only when at least this many steps remain in the episode (counting
            the one that would have closed), enough to rise, move and descend.
        avoid_radius: metres around each given-up grasp point that the next search leaves out, at any yaw.
    """

    threshold: float = -2.0
    looks: int = 1
    retreat: float = 0.05
    max_align_steps: int = 3
    min_steps_left: int = 5
    avoid_radius: float = AVOID_RADIUS

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold) or self.looks < 0 or self.retreat <= 0 or self.max_align_steps < 0 \
                or self.min_steps_left < 2 or not self.avoid_radius >= 0:
            raise ValueError(f"invalid second look {self}: a finite threshold, looks >= 0, retreat > 0, "
                             "max_align_steps >= 0, min_steps_left >= 2 and avoid_radius >= 0")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SecondLookConfig:
        """A config from a card's or a command line's fields; an unknown field is a ``ValueError`` naming it."""
        return from_fields(cls, values, "second look")


class SecondLookPolicy:
    """A :class:`common.protocols.Policy`: the base pose policy, with a look before each close (module docstring).

    Args:
        base: the pose policy that decides (a :class:`PoseQProduct` or a :class:`PoseQTOpt`).
        view: the classifier of the wrist camera's image just before closing (P(the gripper will sense an object)).
        prior: an indiscriminate pose Q-function whose logit of the chosen pose is added, or None (the view alone).
        config: threshold, looks and the next approach.
        max_steps: the episode's step limit (the world's ``max_steps``).

    Raises:
        ValueError: the prior is goal-conditioned, or places poses in another world than the base.
    """

    def __init__(self, base: PoseQProduct | PoseQTOpt, view: PresenceClassifier, prior: PoseQTOpt | None,
                 config: SecondLookConfig, max_steps: int) -> None:
        space = base.policy.space  # where the base places its poses
        if prior is not None and prior.goal_task:
            raise ValueError("the second look's prior rates grasps of anything: give an indiscriminate Q-function")
        if prior is not None and prior.space != space:
            raise ValueError("the prior places poses in another world than the base policy")
        if prior is not None:
            prior.q.eval()
        self.base, self.view, self.prior, self.config = base, view, prior, config
        self.max_steps = max_steps
        self.space = space
        self.reset()

    def reset(self) -> None:
        """Start an episode: the base decides afresh, no grasp given up, all looks left."""
        self.base.reset()
        self.scan: dict[str, np.ndarray] | None = None
        self.steps = 0
        self.pose: np.ndarray | None = None
        self.follower: PoseFollower | None = None  # the approach after a grasp was given up; None: the base's
        self.given_up: list[np.ndarray] = []
        self.scores: list[float] = []

    def trial_report(self) -> dict[str, Any]:
        """The episode's looks: ``look_scores`` (log-odds, one per look taken) and ``given_up`` (grasps given up);
        the benchmark records it beside each trial (:class:`benchmark.tasks.TrialResult`)."""
        return {"look_scores": [round(score, 4) for score in self.scores], "given_up": len(self.given_up)}

    @property
    def chosen(self) -> np.ndarray | None:
        """The normalised pose (3,) being approached, None before the first action."""
        return self.pose

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """Motor action (5,) for an observation with ``gripper``, ``wrist`` and what the base reads."""
        if self.scan is None:
            self.scan = {k: np.array(v, copy=True) for k, v in observation.items() if k in OBSERVATION_KEYS}
        self.steps += 1
        if self.follower is None:
            action = self.base.act(observation)
            self.pose = self.base.chosen
        else:
            action = self.follower.act(observation)
        if action[4] > 0 and self._may_give_up():
            score = self.look(observation, self.pose)
            self.scores.append(score)
            if score < self.config.threshold:
                action = self._next_grasp(observation)
        if action[4] <= 0 and self.steps >= self.max_steps:
            return CLOSE.copy()  # the last step: close wherever the gripper is rather than end without a grasp
        return action

    def look(self, observation: dict[str, Any], pose: np.ndarray) -> float:
        """The look's score (log-odds) of closing now at normalised ``pose``: the view's logit plus the prior's.

        Raises:
            KeyError: the observation holds no ``wrist`` image (the card's ``wrist_view`` asks the env for it).
        """
        if "wrist" not in observation:
            raise KeyError("a second-look policy needs observation key 'wrist' (the wrist camera; policy.json's "
                           "wrist_view asks the environment for it)")
        score = float(log_odds(self.view.probability(np.asarray(observation["wrist"])[None])[0]))
        if self.prior is not None and self.scan is not None:
            batch = {k: v[None] for k, v in self.scan.items()}
            poses = torch.as_tensor(pose, dtype=torch.float32).reshape(1, 1, 3)
            with torch.no_grad():
                score += float(self.prior.q_values(self.prior.inputs(batch), poses)[0, 0])
        return score

    def _may_give_up(self) -> bool:
        return (len(self.given_up) < self.config.looks
                and self.max_steps - self.steps + 1 >= self.config.min_steps_left)

    def _next_grasp(self, observation: dict[str, Any]) -> np.ndarray:
        """Give up the current pose, search again away from every pose given up, and take the first step there."""
        if self.pose is None or self.scan is None:
            raise RuntimeError("no grasp to give up before the episode's first action")
        self.given_up.append(np.asarray(self.pose, np.float64))
        generator, rng = self.base.generator.get_state(), self.base.rng.bit_generator.state
        try:
            avoid = Avoid(np.stack(self.given_up), self.config.avoid_radius) if self.config.avoid_radius > 0 else None
            self.pose = np.asarray(self.base.choose(self.scan, avoid=avoid), np.float64)
        finally:  # the base's streams as if it had searched once: the next episodes draw what the base alone would
            self.base.generator.set_state(generator)
            self.base.rng.bit_generator.state = rng
        approach = ApproachConfig(hover=self.config.retreat, max_align_steps=self.config.max_align_steps)
        self.follower = PoseFollower(self.space.world, approach)
        self.follower.start(*self.space.to_pose(self.pose))
        return self.follower.act(observation)

    # ------------------------------------------------------------------------------------ checkpoints
    @classmethod
    def load(cls, directory: str | Path, base: PoseQProduct | PoseQTOpt, max_steps: int) -> SecondLookPolicy:
        """Rebuild from a checkpoint folder, given its base policy (loaded from ``directory/base``); nothing is
        unpickled.

        Raises:
            FileNotFoundError: the card, the classifier or the prior is missing.
            ValueError: the card is malformed, or a file's weights are not the ones the card recorded.
        """
        directory = Path(directory)
        path = directory / SECOND_LOOK_META
        meta = read_json_card(path, "second-look policy")
        try:
            config = SecondLookConfig.from_dict(meta["config"])
            view_sha = meta["view_weights_sha256"]
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a second-look card ({error!r})") from None
        check_sha256(directory / f"{VIEW_PREFIX}.safetensors", view_sha, path)
        view = load_presence(directory / VIEW_PREFIX)
        prior = None
        if "prior_weights_sha256" in meta:
            check_sha256(directory / PRIOR_FOLDER / WEIGHTS, meta["prior_weights_sha256"], path)
            prior = PoseQTOpt.load(directory / PRIOR_FOLDER)[0]
        return cls(base, view, prior, config, max_steps)
