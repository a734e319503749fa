"""Keep a lift only when the learned reward says it holds the goal; otherwise put it back and grasp again.

In a world that allows more than one grasp an episode (``KukaGraspEnv(max_grasps=K)``, a benchmark's
``--max-grasps``), the environment asks the policy after every lift but the last whether to keep what it holds
(:data:`envs.grasp_env.KEEP_ACTION`) or to put it back (:data:`envs.grasp_env.RELEASE_ACTION`), as QT-Opt's
policies open the gripper again when a grasp went wrong. :class:`RegraspPolicy` decides with a reward function
on the goal image and the wrist camera's image of what came up (observation keys ``goal`` and ``outcome``):
the label-free Grasp2Vec reward the policies are trained on, so nothing it reads is ground truth. After a
release its pose chooser looks at the bin again and chooses anew (away from the grasps already tried, if asked).

A checkpoint folder (:func:`add_regrasp`, ``runs.add_regrasp``) holds ``regrasp.json`` (the reward, its arguments,
the threshold), the ranked product's own checkpoint under ``base/`` and its ``policy.json`` with
``algo = "qtopt-regrasp"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from common.io import atomic_write_json, file_sha256, read_json_card, staged_folder
from common.protocols import GraspContext, PolicyCard, RewardFunction
from envs.grasp_env import KEEP_ACTION, RELEASE_ACTION, awaits_keep_or_release
from envs.grasp_pose import PosePolicy

REGRASP_META = "regrasp.json"
BASE_FOLDER = "base"
REGRASP_ALGO = "qtopt-regrasp"


class GivenUpChooser(Protocol):
    """A pose chooser that can leave out grasps already tried (:class:`agents.qtopt.ranking.RankedProduct`)."""

    policy: PosePolicy

    def choose(self, observation: dict[str, np.ndarray], given_up: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class RegraspConfig:
    """When a lift is kept.

    Attributes:
        threshold: a lift scoring at least this is kept; below it the object is put back (``inf``: put back every
            lift but the last, which the environment keeps; what a threshold sweep runs once). It belongs to one
            verifier: choose it on validation trials (the shipped policy's 0.8086 was, for the shipped Grasp2Vec).
        reward: a reward name or ``package.module:Class`` (:func:`rewards.make_reward`), continuous: it scores
            the lift's outcome image against the goal image.
        reward_kwargs: the reward's keyword arguments (its checkpoint, say).
        avoid_tried: the next grasp leaves out the grasp points already tried (the ranking's ``avoid_radius``
            around each); False lets the chooser grasp there again.
        retry_empty: with ``avoid_tried``, leave out only the grasps whose lift held something: a lift the verifier
            found empty (its ``explain()`` reports ``holds_object`` 0, the presence gate's label-free verdict) may be
            tried again, since what it missed still lies there, while a wrong object or a pair put back lies where it
            was lifted and may be lifted again there. A verifier that does not explain counts every lift as holding
            something.
    """

    threshold: float
    reward: str = "grasp2vec"
    reward_kwargs: dict[str, Any] = field(default_factory=dict)
    avoid_tried: bool = True
    retry_empty: bool = False

    def __post_init__(self) -> None:
        if np.isnan(self.threshold):
            raise ValueError("threshold must be a number (inf puts back every lift but the last), got nan")
        if self.retry_empty and not self.avoid_tried:
            raise ValueError("retry_empty leaves out only the grasps that held something, so it needs avoid_tried; "
                             "without avoid_tried every grasp may be tried again already")


class RegraspPolicy:
    """A :class:`common.protocols.Policy`: ``chooser``'s grasps, each lift kept when ``verifier`` scores it at
    least ``threshold`` and put back otherwise (then the chooser chooses again; away from the grasps tried when
    ``avoid_tried``).

    Args:
        chooser: chooses a grasp pose from an observation, leaving out given-up poses.
        verifier: scores ``GraspContext(goal_image, outcome_image)``; it must not read ground truth.
        threshold: the score at which a lift is kept.
        avoid_tried: leave the grasps already tried out of the next choice.
        retry_empty: leave out only the tried grasps whose lift held something (:class:`RegraspConfig`).
    """

    decides_after_lift = True  # the benchmark hands it the observation after a lift instead of keeping for it

    def __init__(self, chooser: GivenUpChooser, verifier: RewardFunction, threshold: float,
                 avoid_tried: bool = True, retry_empty: bool = False) -> None:
        self.chooser, self.verifier, self.threshold = chooser, verifier, float(threshold)
        self.avoid_tried, self.retry_empty = avoid_tried, retry_empty
        follower = chooser.policy.follower
        self.policy = PosePolicy(self._choose, follower.world, follower.approach)
        self.tried: list[np.ndarray] = []
        self.scores: list[float] = []
        self.details: list[dict[str, float]] = []
        self.choices: list[dict[str, Any]] = []

    def _choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return self.chooser.choose(observation, np.stack(self.tried) if self.tried and self.avoid_tried else None)

    def reset(self) -> None:
        self.policy.reset()
        self.tried, self.scores, self.details, self.choices = [], [], [], []

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """Motor action (5,); after a lift (``envs.grasp_env.awaits_keep_or_release``) keep or release.

        Raises:
            KeyError: the observation after a lift lacks ``goal`` or ``outcome``.
        """
        if not awaits_keep_or_release(observation):
            return self.policy.act(observation)
        context = GraspContext(goal_image=np.asarray(observation["goal"]),
                               outcome_image=np.asarray(observation["outcome"]))
        explain = getattr(self.verifier, "explain", None)
        held = True
        if callable(explain):  # a reward that says what its score is made of (rewards.similarity)
            details = explain(context)
            self.details.append({key: round(float(value), 4) for key, value in details.items()})
            score = float(details["score"])
            held = float(details.get("holds_object", 1.0)) > 0
        else:
            score = float(self.verifier(context))
        self.scores.append(score)
        self.choices.append(self._chooser_report())
        if self.policy.chosen is not None and (held or not self.retry_empty):
            self.tried.append(self.policy.chosen)
        if score >= self.threshold:
            return KEEP_ACTION.copy()
        self.policy.reset()  # the next observation (the bin after the release) chooses again
        return RELEASE_ACTION.copy()

    def _chooser_report(self) -> dict[str, Any]:
        report = getattr(self.chooser, "trial_report", None)
        return report() if callable(report) else {}

    def trial_report(self) -> dict[str, Any]:
        """The verifier's score of each lift the policy was asked about (and, from a verifier with an ``explain``
        method, what each score is made of: ``lift_details``), and the chooser's report of every grasp
        (``attempts``, in order: those the policy was asked about, then the last)."""
        report: dict[str, Any] = {"lift_scores": [round(s, 4) for s in self.scores]}
        if self.details:
            report["lift_details"] = list(self.details)
        return {**report, "attempts": [*self.choices, self._chooser_report()]}


def make_verifier(config: RegraspConfig) -> RewardFunction:
    """The reward ``config`` names, continuous (a thresholded reward would make ``threshold`` meaningless)."""
    from rewards import make_reward

    return make_reward(config.reward, **config.reward_kwargs)


def add_regrasp(base: str | Path, config: RegraspConfig, out: str | Path, command: str = "") -> Path:
    """Build a regrasp checkpoint folder ``out`` around the ranked product in ``base``: ``base`` copied under
    ``base/``, its card as ``policy.json`` with ``algo = "qtopt-regrasp"``, and ``regrasp.json`` (``config``, the
    verifier's weights' SHA-256 when it has a weights file, the sources and ``command``).

    Raises:
        ValueError: ``base`` is not a ranked product.
        FileExistsError: ``out`` exists.
        RewardError: the verifier does not load.
    """
    import shutil

    base, out = Path(base), Path(out)
    card = PolicyCard.load(base)
    if card.algo != "qtopt-ranked":
        raise ValueError(f"{base} holds a {card.algo} policy; a regrasp policy wraps a ranked product "
                         "(runs.fit_ranker), whose chooser leaves out the grasps already tried")
    if out.exists():
        raise FileExistsError(f"{out} exists: choose a new folder for the regrasp policy")
    meta: dict[str, Any] = {**dataclasses.asdict(config), "base_source": str(base), "command": command,
                            "verifier_weights_sha256": verifier_fingerprint(make_verifier(config))}
    with staged_folder(out) as staging:
        shutil.copytree(base, staging / BASE_FOLDER)
        dataclasses.replace(card, algo=REGRASP_ALGO, reward=f"{card.reward} + regrasp").save(staging)
        atomic_write_json(staging / REGRASP_META, meta)
    return out


def verifier_fingerprint(verifier: RewardFunction) -> str | None:
    """SHA-256 of a learned verifier's weights file (None for rewards without one)."""
    weights = getattr(verifier, "weights_file", None)
    return file_sha256(weights()) if callable(weights) else None


def load_regrasp(directory: str | Path, chooser: GivenUpChooser) -> RegraspPolicy:
    """A regrasp policy from its folder's ``regrasp.json`` around ``chooser`` (loaded from ``directory/base``).

    Raises:
        FileNotFoundError: no ``regrasp.json``.
        ValueError: the card is malformed, the verifier's weights are not the ones it recorded, or ``chooser``
            cannot leave out given-up grasps.
    """
    directory = Path(directory)
    meta = read_json_card(directory / REGRASP_META, "regrasp policy")
    try:
        config = RegraspConfig(float(meta["threshold"]), str(meta["reward"]), dict(meta["reward_kwargs"]),
                               bool(meta.get("avoid_tried", True)), bool(meta.get("retry_empty", False)))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{directory / REGRASP_META}: not a regrasp card ({error!r})") from None
    if not hasattr(chooser, "choose") or not hasattr(chooser, "policy"):
        raise ValueError(f"{directory / BASE_FOLDER} holds a policy that does not choose grasp poses; a regrasp "
                         "policy wraps a ranked product (runs.fit_ranker)")
    verifier = make_verifier(config)
    recorded, found = meta.get("verifier_weights_sha256"), verifier_fingerprint(verifier)
    if recorded is not None and found != recorded:
        raise ValueError(f"{directory / REGRASP_META} was made with verifier weights {recorded[:12]}, but "
                         f"{config.reward} now loads {str(found)[:12]}: point reward_kwargs at those weights")
    return RegraspPolicy(chooser, verifier, config.threshold, config.avoid_tried, config.retry_empty)
