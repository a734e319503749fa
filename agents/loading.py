"""Load a trained policy from its checkpoint folder, with what its environment must provide.

``runs.train_policy`` writes ``checkpoint/policy.json`` beside the weights: algorithm, reward,
goal features and Grasp2Vec checkpoint, world settings. :func:`load_policy` returns the policy
and that description; :func:`wrap_for_policy` adds the goal features the policy was trained with.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.base import Policy

POLICY_CARD = "policy.json"
# one per algorithm family; SAC: the exported actor (sac_actor.json) or, from older runs, SB3's zip
CHECKPOINT_MARKERS = ("pose_qtopt.json", "qtopt.json", "sac_actor.json", "sac.zip")


def is_policy_checkpoint(directory: str | Path) -> bool:
    """Whether ``directory`` holds a checkpoint :func:`load_policy` can read."""
    return any((Path(directory) / marker).is_file() for marker in CHECKPOINT_MARKERS)


def load_policy(directory: str | Path) -> tuple[Policy, dict[str, Any]]:
    """(policy, card) from a ``checkpoint/`` folder of a QT-Opt, pose QT-Opt or SAC run (safetensors + JSON;
    a SAC folder without its exported actor falls back to SB3's zip)."""
    directory = Path(directory)
    card_path = directory / POLICY_CARD
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    if (directory / "pose_qtopt.json").is_file():
        from agents.pose_qtopt import PoseQTOpt

        return PoseQTOpt.load(directory)[0], card
    if (directory / "qtopt.json").is_file():
        from agents.qtopt import QTOpt

        return QTOpt.load(directory)[0], card
    if (directory / "sac_actor.json").is_file() or (directory / "sac.zip").is_file():
        from agents.sac import SB3Policy, load_actor

        if (directory / "sac_actor.json").is_file():
            sb3 = SB3Policy(load_actor(directory))
        else:
            from stable_baselines3 import SAC

            sb3 = SB3Policy(SAC.load(directory / "sac.zip", device="cpu"))
        if card.get("algo") == "sac-pose":  # SAC chose grasp poses; the follower turns them into motor actions
            from agents.grasp_pose import PosePolicy
            from envs.grasp_env import make_world_config

            world = card["world"]
            return PosePolicy(sb3.act, make_world_config(world["num_objects"], world["image_size"], None)), card
        return sb3, card
    raise FileNotFoundError(f"{directory}: none of {', '.join(CHECKPOINT_MARKERS)} found: "
                            "not a policy checkpoint folder")


def goal_features_config(card: dict[str, Any]) -> Any:
    """The :class:`agents.goal_features.GoalFeaturesConfig` a policy card names. Cards written before
    heatmap readouts were recorded trained on the uncentred map (``embedding.heatmap.UNCENTRED``)."""
    from agents.goal_features import GoalFeaturesConfig
    from embedding.heatmap import UNCENTRED

    return GoalFeaturesConfig(**{"readout": dataclasses.asdict(UNCENTRED), **card["goal_features_config"]})


def wrap_for_policy(env: gym.Env, card: dict[str, Any]) -> gym.Env:
    """``env`` with the Grasp2Vec goal features named in ``card`` (unchanged when it names none)."""
    features = card.get("goal_features", "none")
    if features == "none":
        return env
    from agents.goal_features import GoalFeatures, GoalObservationWrapper
    from embedding.checkpoint import load_checkpoint

    check_grasp2vec(card)
    return GoalObservationWrapper(env, GoalFeatures(load_checkpoint(card["grasp2vec"]), goal_features_config(card)))


def grasp2vec_fingerprint(path: str | Path) -> str:
    """SHA-256 of a Grasp2Vec checkpoint's weights file: which heatmap a policy was trained on."""
    from embedding.checkpoint import checkpoint_files
    from rewards.calibration import file_fingerprint

    return file_fingerprint(checkpoint_files(path)[0])


def check_grasp2vec(card: dict[str, Any]) -> None:
    """Refuse to give a policy the heatmap of Grasp2Vec weights other than those it was trained on
    (``policy.json``'s ``grasp2vec_sha256``; cards without one are not checked)."""
    expected = card.get("grasp2vec_sha256")
    if expected is None:
        return
    found = grasp2vec_fingerprint(card["grasp2vec"])
    if found != expected:
        raise ValueError(f"the policy was trained on the heatmap of Grasp2Vec weights {expected[:12]}, but "
                         f"{card['grasp2vec']} holds {found[:12]}: point policy.json's grasp2vec at the "
                         "checkpoint it was trained with (a retrained embedding keeps its predecessor as "
                         "checkpoints/grasp2vec-vN)")
