"""Policy variants: trained pose QT-Opt checkpoints acting differently, for comparison on validation
seeds without retraining (the weights are copied unchanged).

:func:`derive_policy` copies a checkpoint folder and overrides fields of its learner config that only
change how poses are chosen (CEM, robust scoring, heatmap proposals); ``derivation.json`` records the
source, its weights' SHA-256 and the overrides. The command is ``python -m runs.derive_policy``.

:func:`combine_policies` builds a product of several checkpoints (:class:`agents.qtopt.product.PoseQProduct`):
a folder with the members' weights, ``pose_product.json`` and a ``policy.json`` that asks the environment
for what any member reads. The command is ``python -m runs.combine_policies``.

:func:`add_second_look` gives a pose policy a look before closing (:class:`agents.second_look.SecondLookPolicy`):
a folder with the base's and the prior's checkpoints copied, the view classifier, ``second_look.json`` and a
``policy.json`` that asks the environment for the wrist camera. The command is ``python -m runs.add_second_look``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.core.cem import CEMConfig
from agents.core.focus import FocusConfig
from agents.loading import run_name
from agents.qtopt.learner import META, WEIGHTS, PoseQTOptConfig
from agents.qtopt.product import PRODUCT_META, ProductConfig
from agents.second_look import (
    BASE_FOLDER,
    PRIOR_FOLDER,
    SECOND_LOOK_ALGO,
    SECOND_LOOK_META,
    VIEW_PREFIX,
    SecondLookConfig,
)
from common.io import atomic_write_json, file_sha256, staged_folder
from common.protocols import INDISCRIMINATE_ENV, INSTANCE_ENV, POLICY_CARD, PolicyCard
from envs.grasp_pose import ApproachConfig
from rewards.presence import load_presence

MEMBERS = "members"
# world settings that shape the observation every member must read alike
SHARED_WORLD = ("image_size", "max_steps", "auto_descend")

ACTING_FIELDS = ("robust_translation", "robust_yaw", "heatmap_proposals", "cem", "symmetric_scoring", "approach")


def parse_override(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a JSON value (``robust_yaw=0.2``, ``cem={"iterations": 4}``)."""
    key, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"expected KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{item!r}: the value must be JSON (a number, true/false, or an object)") from None


def derive_policy(source: str | Path, out: str | Path, overrides: dict[str, Any], command: str = "") -> Path:
    """Copy the pose QT-Opt checkpoint ``source`` to ``out`` with ``overrides`` of its acting settings.

    Raises:
        ValueError: ``source`` is not a pose QT-Opt checkpoint, or an override names a field that is not
            an acting setting (training settings would not match the weights), or its value is invalid.
        FileExistsError: ``out`` exists.
    """
    source, out = Path(source), Path(out)
    if PolicyCard.load(source).algo != "qtopt-pose" or not (source / META).is_file():
        raise ValueError(f"{source} is not a pose QT-Opt checkpoint (policy.json algo qtopt-pose and {META})")
    unknown = sorted(set(overrides) - set(ACTING_FIELDS))
    if unknown:
        raise ValueError(f"{unknown} are not acting settings; derive_policy changes only {ACTING_FIELDS}")
    if out.exists():
        raise FileExistsError(f"{out} exists: choose another folder")
    meta = json.loads((source / META).read_text())
    config = {**meta["config"], **overrides}
    for nested in ("cem", "approach"):
        if isinstance(overrides.get(nested), dict):
            config[nested] = {**meta["config"].get(nested, {}), **overrides[nested]}
    PoseQTOptConfig.from_dict(config)  # validates the result
    shutil.copytree(source, out)
    atomic_write_json(out / META, {**meta, "config": config})
    atomic_write_json(out / "derivation.json", {
        "source": str(source), "weights_sha256": file_sha256(source / WEIGHTS), "overrides": overrides,
        "command": command})
    return out


def product_card(cards: Sequence[PolicyCard]) -> PolicyCard:
    """The ``policy.json`` of a product of ``cards``' policies: the goal features its goal members read
    (they must read the same ones), the height map any member reads, the first member's world.

    Raises:
        ValueError: a member is not a pose QT-Opt policy, goal members read different goal features or
            Grasp2Vec weights, members read different height maps, or their worlds differ in image size or
            episode length.
    """
    for index, card in enumerate(cards):
        if card.algo != "qtopt-pose":
            raise ValueError(f"member {index} is a {card.algo} policy; a product combines qtopt-pose checkpoints")
    goal = [card for card in cards if card.goal_features != "none"]
    features = {json.dumps([c.goal_features, c.goal_features_config, c.grasp2vec_sha256], sort_keys=True)
                for c in goal}
    if len(features) > 1:
        raise ValueError("the goal members read different goal features or Grasp2Vec weights; one environment "
                         f"cannot serve them all: {sorted(features)}")
    heightmaps = {json.dumps(c.heightmap, sort_keys=True) for c in cards if c.heightmap is not None}
    if len(heightmaps) > 1:
        raise ValueError(f"the members read different height maps: {sorted(heightmaps)}")
    for key in SHARED_WORLD:
        values = {json.dumps(card.world.get(key)) for card in cards}
        if len(values) > 1:
            raise ValueError(f"the members were trained in worlds with different {key}: {sorted(values)}")
    first = goal[0] if goal else cards[0]
    rewards = list(dict.fromkeys(card.reward for card in cards))
    return PolicyCard(algo="qtopt-product", reward=" × ".join(rewards), world=dict(first.world),
                      env_id=INSTANCE_ENV if goal else INDISCRIMINATE_ENV, goal_features=first.goal_features,
                      goal_features_config=first.goal_features_config, grasp2vec=first.grasp2vec,
                      grasp2vec_sha256=first.grasp2vec_sha256,
                      heightmap=next((c.heightmap for c in cards if c.heightmap is not None), None))


def member_name(index: int, folder: Path) -> str:
    """``members/`` subfolder of member ``index``: its run's name (``checkpoints/policies/NAME/checkpoint`` → NAME)."""
    return f"{index}-{run_name(folder)}"


def combine_policies(members: Sequence[tuple[str | Path, float]], out: str | Path, cem: dict[str, Any] | None = None,
                     seed: int = 0, command: str = "", approach: dict[str, Any] | None = None,
                     goal_heat: float = 0.0, goal_heat_level: float = 1.0,
                     focus: dict[str, Any] | None = None) -> Path:
    """Write a product of pose QT-Opt checkpoints to ``out`` (built beside it and renamed when complete).

    Args:
        members: (checkpoint folder, weight > 0) pairs; the first member's CEM settings are the default.
        out: the new folder (must not exist).
        cem: overrides of the CEM settings (``iterations``, ``population``, ``elites``, ...).
        seed: seeds CEM.
        command: the command line, recorded in ``pose_product.json``.
        approach: how the follower carries poses out (``envs.grasp_pose.ApproachConfig`` fields, e.g.
            ``{"hover": 0.08}``); default: the first member's.
        goal_heat: weight of the goal heatmap term (``ProductConfig.goal_heat``); > 0 needs a goal member.
        goal_heat_level: the heat above which the term costs nothing (``ProductConfig.goal_heat_level``).
        focus: a focused search for collection (``agents.core.focus.FocusConfig`` fields, e.g.
            ``{"radius": 0.03}``); default off. Needs a member that reads the height map.

    Raises:
        ValueError: fewer than two members, a weight <= 0, members that cannot share one environment
            (:func:`product_card`), a goal heat term with no goal member to ask for the heatmap, or a focus with
            no member reading the height map.
        FileNotFoundError: a member folder is not a pose QT-Opt checkpoint.
        FileExistsError: ``out`` exists.
    """
    out = Path(out)
    if len(members) < 2:
        raise ValueError(f"a product needs at least two members, got {len(members)}")
    if out.exists():
        raise FileExistsError(f"{out} exists: choose another folder")
    folders = [Path(folder) for folder, _ in members]
    for folder in folders:
        if not (folder / META).is_file() or not (folder / POLICY_CARD).is_file():
            raise FileNotFoundError(f"{folder} is not a pose QT-Opt checkpoint (needs {META} and {POLICY_CARD})")
    cards = [PolicyCard.load(folder) for folder in folders]
    card = product_card(cards)
    first = json.loads((folders[0] / META).read_text())["config"]
    config = ProductConfig(weights=tuple(float(w) for _, w in members),
                           cem=CEMConfig(**{**first["cem"], **(cem or {})}), seed=seed,
                           approach=ApproachConfig.from_dict({**first.get("approach", {}), **(approach or {})}),
                           goal_heat=goal_heat, goal_heat_level=goal_heat_level,
                           focus=FocusConfig.from_dict(focus or {}))
    if goal_heat > 0 and card.goal_features not in ("heatmap", "both"):
        raise ValueError(f"goal_heat {goal_heat} reads the goal heatmap, but no member reads it (goal features "
                         f"{card.goal_features!r}); add a goal member with --goal-features heatmap")
    if config.focus.enabled and card.heightmap is None:
        raise ValueError("focus draws its point from the height map, but no member reads one (add a patch-view "
                         "member, e.g. checkpoints/policies/qtopt-patch-indiscriminate-2k/checkpoint)")
    entries = []
    with staged_folder(out) as staging:
        for index, (folder, member_card) in enumerate(zip(folders, cards, strict=True)):
            name = f"{MEMBERS}/{member_name(index, folder)}"
            (staging / name).mkdir(parents=True)
            for file in (WEIGHTS, META, POLICY_CARD):
                shutil.copy2(folder / file, staging / name / file)
            entries.append({"folder": name, "weight": config.weights[index], "source": str(folder),
                            "weights_sha256": file_sha256(folder / WEIGHTS), "reward": member_card.reward})
        card.save(staging)
        atomic_write_json(staging / PRODUCT_META, {"members": entries, "cem": dataclasses.asdict(config.cem),
                                                   "seed": seed, "approach": dataclasses.asdict(config.approach),
                                                   "goal_heat": goal_heat, "goal_heat_level": goal_heat_level,
                                                   "focus": dataclasses.asdict(config.focus),
                                                   "command": command})
    return out


def add_second_look(base: str | Path, view: str | Path, prior: str | Path | None, config: SecondLookConfig,
                    out: str | Path, command: str = "") -> Path:
    """Build a second-look checkpoint folder ``out`` from the pose policy folder ``base``, the view classifier at
    file prefix ``view`` (``PREFIX.safetensors`` + ``PREFIX.json``) and an indiscriminate pose QT-Opt folder
    ``prior`` (or None: the view alone).

    Raises:
        ValueError: ``base`` is not a pose QT-Opt or product checkpoint, or ``prior`` not a pose QT-Opt one.
        FileExistsError: ``out`` exists.
        RewardError: the classifier does not load.
    """
    base, out = Path(base), Path(out)
    card = PolicyCard.load(base)
    if card.algo not in ("qtopt-pose", "qtopt-product"):
        raise ValueError(f"{base} holds a {card.algo} policy; a second look is added to a pose QT-Opt or a product")
    if prior is not None and PolicyCard.load(prior).algo != "qtopt-pose":
        raise ValueError(f"{prior} is not a pose QT-Opt checkpoint (the prior the look adds)")
    if out.exists():
        raise FileExistsError(f"{out} exists: choose a new folder for the second-look policy")
    classifier = load_presence(view)
    meta: dict[str, Any] = {"config": dataclasses.asdict(config), "base_source": str(base), "command": command}
    with staged_folder(out) as staging:
        shutil.copytree(base, staging / BASE_FOLDER)
        if prior is not None:
            shutil.copytree(prior, staging / PRIOR_FOLDER)
            meta["prior_source"] = str(prior)
            meta["prior_weights_sha256"] = file_sha256(staging / PRIOR_FOLDER / WEIGHTS)
        classifier.save(staging / VIEW_PREFIX)
        meta["view_source"] = str(view)
        meta["view_weights_sha256"] = file_sha256(staging / f"{VIEW_PREFIX}.safetensors")
        dataclasses.replace(card, algo=SECOND_LOOK_ALGO, wrist_view=True,
                            reward=f"{card.reward} + second look").save(staging)
        atomic_write_json(staging / SECOND_LOOK_META, meta)
    return out
