"""Load a trained policy from its checkpoint folder, with what its environment must provide.

``runs.train_policy`` writes ``checkpoint/policy.json`` (a :class:`common.protocols.PolicyCard`)
beside the weights: algorithm, reward, goal features and Grasp2Vec checkpoint, world settings.
:func:`load_policy` returns the policy and that card; :func:`wrap_for_policy` adds the goal features
the policy was trained with.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gymnasium as gym

from common.protocols import Policy, PolicyCard
from envs.grasp_env import make_world_config

# one weights card per learner: pose QT-Opt, a product of pose QT-Opt checkpoints (agents.qtopt.product),
# the SAC actor exported from stable-baselines3, a pose policy with a look before closing (agents.second_look) and a
# product whose best grasps a ranker chooses among (agents.qtopt.ranking), and that product keeping a lift only when
# the learned reward accepts it (agents.regrasp)
CHECKPOINT_MARKERS = {"pose_qtopt.json": "qtopt-pose", "pose_product.json": "qtopt-product",
                      "sac_actor.json": "sac-pose", "second_look.json": "qtopt-second-look",
                      "ranked.json": "qtopt-ranked", "regrasp.json": "qtopt-regrasp"}


def run_name(folder: Path) -> str:
    """The name of the run a checkpoint folder holds: ``.../NAME/checkpoint`` → NAME, any other folder → its own."""
    folder = Path(folder)
    return folder.parent.name if folder.name == "checkpoint" else folder.name


def is_policy_checkpoint(directory: str | Path) -> bool:
    """Whether ``directory`` holds a checkpoint :func:`load_policy` can read."""
    return (Path(directory) / "policy.json").is_file() and any(
        (Path(directory) / marker).is_file() for marker in CHECKPOINT_MARKERS)


def load_policy(directory: str | Path) -> tuple[Policy, PolicyCard]:
    """(policy, card) from a ``checkpoint/`` folder of a pose QT-Opt or SAC run, of a product of pose
    QT-Opt checkpoints (``runs.combine_policies``), of a second-look policy (``runs.add_second_look``), of a
    ranked product (``runs.fit_ranker``) or of one that puts back what it should not keep (``runs.add_regrasp``);
    safetensors + JSON.

    Raises:
        FileNotFoundError: the folder holds no ``policy.json`` or no weights of a known learner.
        ValueError: ``policy.json`` names a learner whose weights are not in the folder.
    """
    directory = Path(directory)
    card = PolicyCard.load(directory)
    marker = next((m for m, algo in CHECKPOINT_MARKERS.items() if algo == card.algo), None)
    if marker is None:
        raise ValueError(f"{directory}: policy.json names algo {card.algo!r}; this code loads "
                         f"{sorted(CHECKPOINT_MARKERS.values())} (the motor-action learners are retired)")
    if not (directory / marker).is_file():
        raise FileNotFoundError(f"{directory}: policy.json names {card.algo} but {marker} is missing")
    if card.algo == "qtopt-pose":
        from agents.qtopt.learner import PoseQTOpt

        return PoseQTOpt.load(directory)[0], card
    if card.algo == "qtopt-product":
        from agents.qtopt.product import PoseQProduct

        return PoseQProduct.load(directory), card
    if card.algo == "qtopt-second-look":
        from agents.second_look import BASE_FOLDER, SecondLookPolicy

        base, _ = load_policy(directory / BASE_FOLDER)
        return SecondLookPolicy.load(directory, base, int(card.world["max_steps"])), card  # type: ignore[arg-type]
    if card.algo == "qtopt-ranked":
        from agents.qtopt.ranking import load_ranked

        return load_ranked(directory), card
    if card.algo == "qtopt-regrasp":
        from agents.regrasp import BASE_FOLDER as REGRASP_BASE
        from agents.regrasp import load_regrasp

        return load_regrasp(directory, load_policy(directory / REGRASP_BASE)[0]), card  # type: ignore[arg-type]
    from agents.sac.policy import SB3Policy, load_actor
    from envs.grasp_pose import PosePolicy

    world = make_world_config(card.world["num_objects"], card.world["image_size"], None)
    return PosePolicy(SB3Policy(load_actor(directory)).act, world), card  # the follower turns poses into motion


def goal_features_config(card: PolicyCard) -> Any:
    """The :class:`agents.core.goal_features.GoalFeaturesConfig` a policy card names. Cards written before
    heatmap readouts were recorded trained on the uncentred map (``embedding.heatmap.UNCENTRED``)."""
    from agents.core.goal_features import GoalFeaturesConfig
    from embedding.heatmap import UNCENTRED

    return GoalFeaturesConfig(**{"readout": dataclasses.asdict(UNCENTRED), **(card.goal_features_config or {})})


def wrap_for_policy(env: gym.Env, card: PolicyCard) -> gym.Env:
    """``env`` with the sensors ``card`` names: the Grasp2Vec goal features and the height map
    (unchanged when it names none)."""
    if card.heightmap is not None:
        from envs.heightmap import HeightmapConfig
        from envs.heightmap_observation import HeightmapObservation

        env = HeightmapObservation(env, HeightmapConfig(**card.heightmap))
    if card.goal_features == "none":
        return env
    from agents.core.goal_features import GoalFeatures, GoalObservationWrapper
    from embedding.checkpoint import load_checkpoint

    check_grasp2vec(card)
    return GoalObservationWrapper(env, GoalFeatures(load_checkpoint(card.grasp2vec), goal_features_config(card)))


def grasp2vec_fingerprint(path: str | Path) -> str:
    """SHA-256 of a Grasp2Vec checkpoint's weights file: which heatmap a policy was trained on."""
    from embedding.checkpoint import checkpoint_files
    from rewards.calibration import file_fingerprint

    return file_fingerprint(checkpoint_files(path)[0])


def check_grasp2vec(card: PolicyCard) -> None:
    """Refuse to give a policy the heatmap of Grasp2Vec weights other than those it was trained on
    (``policy.json``'s ``grasp2vec_sha256``; cards without one are not checked)."""
    if card.grasp2vec_sha256 is None:
        return
    found = grasp2vec_fingerprint(card.grasp2vec)
    if found != card.grasp2vec_sha256:
        raise ValueError(f"the policy was trained on the heatmap of Grasp2Vec weights {card.grasp2vec_sha256[:12]}, "
                         f"but {card.grasp2vec} holds {found[:12]}: point policy.json's grasp2vec at the "
                         "checkpoint it was trained with (a retrained embedding keeps its predecessor as "
                         "checkpoints/grasp2vec-vN)")
