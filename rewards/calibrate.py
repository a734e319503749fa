"""Fit a similarity reward's calibration: its decision threshold and its "object in gripper" classifier.


Threshold: on goal/outcome pairs (see :func:`rewards.quality.make_pairs`; they need objects grasped
twice) from grasps of *training* objects that the embedding did not train on — a calibration
folder of fresh grasps, or a training folder's validation split — never the held-out folders
that ``runs.eval_reward`` reports on (``--collect N`` grasps N times on the spot instead): the
cosine similarity maximising Youden's J = TPR − FPR, or with ``--recall R`` the highest one that keeps
a share R of the same-object pairs (:func:`rewards.calibration.recall_threshold`: stricter, so that an
outcome holding the goal *with another* object is paid less often). Written as JSON beside the checkpoint
(:func:`rewards.calibration.calibration_path`), unless ``--out`` says otherwise.

Presence classifier (:func:`rewards.presence.fit_presence`): a tiny CNN on the outcome images of
every attempt in ``--presence-data`` (default: ``--data``), labelled by each record's sensed grasp
bit only (the gripper's fingertips stayed apart after the lift) — sensed attempts hold an object,
the others are empty — plus ``--empty`` grasps
closed in mid-air (empty by construction, :func:`rewards.presence.empty_gripper_images`). No
ground truth is read for it. Written beside the checkpoint as ``presence.safetensors`` +
``presence.json`` (:func:`rewards.presence.presence_path`), unless ``--presence-out`` says otherwise.

Aperture threshold (the ``presence="gripper"`` gate, :func:`rewards.presence.label_free_aperture_threshold`):
the gripper's closed-on-nothing aperture, measured by closing it in mid-air, plus
``ArmConfig.grasp_margin`` (no labels: the sensed bit's own rule), stored in the calibration JSON.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.protocols import RewardError
from common.provenance import machine_description
from common.stats import roc_auc
from rewards.calibration import RewardCalibration, calibration_path, recall_threshold, youden_threshold
from rewards.presence import (
    TrainPresenceConfig,
    attempt_apertures,
    attempt_outcomes,
    empty_gripper_images,
    fit_presence,
    label_free_aperture_threshold,
    presence_path,
)
from rewards.quality import load_labelled_outcomes, make_pairs, precision_recall
from rewards.registry import make_reward, parse_reward_kwargs
from rewards.similarity import EmbeddingSimilarityReward

VAL_FRACTION = 0.05  # runs.train_embedding's default: calibrate on the grasps it held out
COLLECT_SEED = 6_000_000  # --collect episodes: disjoint from collection, training and runs.eval_reward seeds


def calibrate(reward: EmbeddingSimilarityReward, held: np.ndarray, objects: list[str], seed: int,
              recall: float | None = None) -> RewardCalibration:
    """Fit the threshold on labelled outcomes ``held`` (N, S, S, 3) showing ``objects`` (N names):
    Youden's J, or with ``recall`` the highest threshold keeping that share of same-object pairs."""
    embeddings = reward.embed(held)
    pairs = make_pairs(objects, seed)
    similarity = np.sum(embeddings[pairs.goal] * embeddings[pairs.outcome], axis=1)
    threshold, youden = youden_threshold(similarity[pairs.label == 1], similarity[pairs.label == 0])
    if recall is not None:
        threshold = recall_threshold(similarity[pairs.label == 1], recall)
    provenance = {
        "pairs": len(pairs), "positives": int(pairs.label.sum()), "grasps": len(held),
        "seed": seed, "rule": "youden" if recall is None else f"recall {recall}", "youden_j": youden,
        "auc": roc_auc(similarity, pairs.label),
        **{f"fit_{k}": v for k, v in precision_recall(similarity, pairs.label, threshold).items()},
    }
    return RewardCalibration(reward.name, reward.fingerprint(), threshold, provenance)


@dataclass(frozen=True)
class CalibrateConfig:
    """What :func:`calibrate_reward` fits and on which data (the command's flags, one field each)."""

    reward: str = "grasp2vec"
    reward_args: tuple[str, ...] = ()
    data: str = "runs/out/rewards-data/seen-calibration"
    split: str = "all"
    val_fraction: float = VAL_FRACTION
    limit: int | None = None
    collect: int = 0
    presence_data: tuple[str, ...] | None = None
    presence_steps: int = TrainPresenceConfig.steps
    empty: int = 400
    negatives: str = "both"
    objects: str = "seen"
    num_objects: int = 5
    seed: int = 0
    recall: float | None = None
    threads: int = 1
    out: Path | None = None
    presence_out: Path | None = None
    command: str = ""


def calibrate_reward(config: CalibrateConfig) -> dict[str, Any]:
    """Fit and save the threshold (and aperture threshold) and the presence classifier; returns a summary.

    Raises:
        RewardError: the reward is not an embedding-similarity reward, or the data lack what is asked for.
    """
    torch.set_num_threads(config.threads)
    began = time.perf_counter()
    reward = make_reward(config.reward, presence=False, **parse_reward_kwargs(list(config.reward_args)))
    if not isinstance(reward, EmbeddingSimilarityReward):
        raise RewardError(f"reward {config.reward!r} is not an embedding-similarity reward; nothing to calibrate")
    if config.collect:
        from embedding.heldout import collect_held_out

        grasps = collect_held_out(config.objects, config.collect, COLLECT_SEED + config.seed,
                                  image_size=reward.image_size, num_objects=config.num_objects)
        held, objects = grasps.outcome, grasps.objects
        source = f"collected: {config.collect} attempts, seeds from {COLLECT_SEED + config.seed}"
        presence_held, failed, presence_source = held, np.zeros((0, *held.shape[1:]), np.uint8), source
    else:
        held, objects, _ = load_labelled_outcomes(config.data, config.split, config.seed, config.limit,
                                                  config.val_fraction)
        source = f"{config.data} split {config.split} (val_fraction {config.val_fraction}, seed {config.seed})"
        presence_source = list(config.presence_data) if config.presence_data else [config.data]
        images, sensed = attempt_outcomes(presence_source)
        presence_held, failed = images[sensed], images[~sensed]
    parts = []
    if config.negatives in ("midair", "both"):
        parts.append(empty_gripper_images(config.empty, config.objects, config.num_objects, reward.image_size,
                                          config.seed))
    if config.negatives in ("failures", "both"):
        if len(failed) == 0 and config.negatives == "failures":
            raise RewardError(f"negatives 'failures' needs failed attempts recorded in {presence_source}")
        parts.append(failed)
    empty = np.concatenate(parts)
    calibration = calibrate(reward, held, objects, config.seed, config.recall)
    apertures = np.zeros(0) if config.collect else attempt_apertures(presence_source)
    aperture_threshold, aperture_provenance = label_free_aperture_threshold(apertures)
    calibration = dataclasses.replace(calibration, aperture_threshold=aperture_threshold)
    calibration.provenance["aperture"] = {"data": presence_source, **aperture_provenance}
    presence_config = TrainPresenceConfig(steps=config.presence_steps, seed=config.seed)
    classifier = fit_presence(presence_held, empty, presence_config)
    common = {"checkpoint": str(reward.checkpoint), "machine": machine_description(),
              "command": config.command}
    classifier.provenance.update({
        "data": presence_source, "labels": "sensed grasp bit of each attempt; mid-air grasps are empty",
        "negatives": config.negatives, "failed_attempts_used": len(failed) if config.negatives != "midair" else 0,
        "midair_images": 0 if config.negatives == "failures" else config.empty, "objects_below_empty": config.objects,
        "wall_time_s": round(time.perf_counter() - began, 1), **common,
    })
    calibration.provenance.update({"data": source, "wall_time_s": round(time.perf_counter() - began, 1), **common})
    out = config.out or calibration_path(reward.checkpoint)
    presence_out = config.presence_out or presence_path(reward.checkpoint)
    calibration.save(out)
    classifier.save(presence_out)
    return {"calibration": str(out), "threshold": calibration.threshold,
                      "aperture_threshold": calibration.aperture_threshold, **calibration.provenance,
                      "presence_classifier": str(presence_out), "presence_threshold": classifier.threshold,
                      "presence_train_config": dataclasses.asdict(presence_config),
                      "presence": classifier.provenance}

