"""Fit a similarity reward's calibration: its decision threshold and its "object in gripper" classifier.

    python -m runs.calibrate_reward --reward grasp2vec --data runs/out/rewards-data/seen-calibration \
        --presence-data runs/out/g2v-data/seen-train runs/out/rewards-data/seen-calibration

Threshold: on goal/outcome pairs (see :func:`rewards.quality.make_pairs`; they need objects grasped
twice) from grasps of *training* objects that the embedding did not train on — a calibration
folder of fresh grasps, or a training folder's validation split — never the held-out folders
that ``runs.eval_reward`` reports on (``--collect N`` grasps N times on the spot instead): the
cosine similarity maximising Youden's J = TPR − FPR. Written as JSON beside the checkpoint
(:func:`rewards.calibration.calibration_path`), unless ``--out`` says otherwise.

Presence classifier (:func:`rewards.presence.fit_presence`): a tiny CNN on the outcome images of
every attempt in ``--presence-data`` (default: ``--data``), labelled by the collector's success
bit only — successful attempts hold an object, failed ones are empty — plus ``--empty`` grasps
closed in mid-air (empty by construction, :func:`rewards.presence.empty_gripper_images`). No
ground truth is read for it. Written beside the checkpoint as ``presence.safetensors`` +
``presence.json`` (:func:`rewards.presence.presence_path`), unless ``--presence-out`` says otherwise.

Aperture threshold (the ``presence="gripper"`` gate, :func:`rewards.presence.fit_aperture_threshold`):
the measured fingertip distance after the lift separating the successful from the failed attempts
of ``--presence-data`` (those that record it), stored in the calibration JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from common.protocols import RewardError
from common.provenance import command_line, machine_description
from rewards.calibration import RewardCalibration, calibration_path, youden_threshold
from rewards.presence import (
    TrainPresenceConfig,
    attempt_apertures,
    attempt_outcomes,
    empty_gripper_images,
    fit_aperture_threshold,
    fit_presence,
    presence_path,
)
from rewards.quality import load_labelled_outcomes, make_pairs, precision_recall, roc_auc
from rewards.registry import make_reward, parse_reward_kwargs
from rewards.similarity import EmbeddingSimilarityReward

VAL_FRACTION = 0.05  # runs.train_embedding's default: calibrate on the grasps it held out
COLLECT_SEED = 6_000_000  # --collect episodes: disjoint from collection, training and runs.eval_reward seeds


def calibrate(reward: EmbeddingSimilarityReward, held: np.ndarray, objects: list[str], seed: int) -> RewardCalibration:
    """Fit the threshold on labelled outcomes ``held`` (N, S, S, 3) showing ``objects`` (N names)."""
    embeddings = reward.embed(held)
    pairs = make_pairs(objects, seed)
    similarity = np.sum(embeddings[pairs.goal] * embeddings[pairs.outcome], axis=1)
    threshold, youden = youden_threshold(similarity[pairs.label == 1], similarity[pairs.label == 0])
    provenance = {
        "pairs": len(pairs), "positives": int(pairs.label.sum()), "grasps": len(held),
        "seed": seed, "youden_j": youden, "auc": roc_auc(similarity, pairs.label),
        **{f"fit_{k}": v for k, v in precision_recall(similarity, pairs.label, threshold).items()},
    }
    return RewardCalibration(reward.name, reward.fingerprint(), threshold, provenance)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reward", default="grasp2vec", help="a similarity reward: grasp2vec, autoencoder, or a path")
    parser.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="constructor argument of the reward, e.g. checkpoint=checkpoints/grasp2vec")
    parser.add_argument("--data", default="runs/out/rewards-data/seen-calibration",
                        help="dataset folder of grasps of training objects the embedding did not train on")
    parser.add_argument("--split", default="all", choices=["train", "val", "all"])
    parser.add_argument("--val-fraction", type=float, default=VAL_FRACTION,
                        help="the validation fraction the embedding was trained with (its val split is unseen)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many grasps")
    parser.add_argument("--collect", type=int, default=0,
                        help="instead of --data, grasp N times on the spot (objects from --objects)")
    parser.add_argument("--presence-data", nargs="+", default=None, metavar="FOLDER",
                        help="dataset folders whose attempts (success bit) train the presence classifier "
                             "(default: --data)")
    parser.add_argument("--presence-steps", type=int, default=TrainPresenceConfig.steps,
                        help="training steps of the presence classifier")
    parser.add_argument("--empty", type=int, default=400, help="mid-air (empty-gripper) outcome images")
    parser.add_argument("--negatives", choices=["midair", "failures", "both"], default="both",
                        help="empty-gripper images for the presence classifier: mid-air grasps (empty by "
                             "construction), failed attempts of --presence-data (the collector's success bit), or both")
    parser.add_argument("--objects", default="seen", help="object set in the bin below the mid-air grasps")
    parser.add_argument("--num-objects", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy machine)")
    parser.add_argument("--out", type=Path, default=None, help="calibration JSON (default: beside the checkpoint)")
    parser.add_argument("--presence-out", type=Path, default=None,
                        help="file prefix of the presence classifier (default: beside the checkpoint)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    reward = make_reward(args.reward, presence=False, **parse_reward_kwargs(args.reward_arg))
    if not isinstance(reward, EmbeddingSimilarityReward):
        raise RewardError(f"reward {args.reward!r} is not an embedding-similarity reward; nothing to calibrate")
    if args.collect:
        from embedding.heldout import collect_held_out

        grasps = collect_held_out(args.objects, args.collect, COLLECT_SEED + args.seed, image_size=reward.image_size,
                                  num_objects=args.num_objects)
        held, objects = grasps.outcome, grasps.objects
        source = f"collected: {args.collect} attempts, seeds from {COLLECT_SEED + args.seed}"
        presence_held, failed, presence_source = held, np.zeros((0, *held.shape[1:]), np.uint8), source
    else:
        held, objects, _ = load_labelled_outcomes(args.data, args.split, args.seed, args.limit, args.val_fraction)
        source = f"{args.data} split {args.split} (val_fraction {args.val_fraction}, seed {args.seed})"
        presence_source = args.presence_data or [args.data]
        images, success = attempt_outcomes(presence_source)
        presence_held, failed = images[success], images[~success]
    parts = []
    if args.negatives in ("midair", "both"):
        parts.append(empty_gripper_images(args.empty, args.objects, args.num_objects, reward.image_size, args.seed))
    if args.negatives in ("failures", "both"):
        if len(failed) == 0 and args.negatives == "failures":
            raise RewardError(f"--negatives failures needs failed attempts recorded in {presence_source}")
        parts.append(failed)
    empty = np.concatenate(parts)
    calibration = calibrate(reward, held, objects, args.seed)
    apertures, aperture_success = ((np.zeros(0), np.zeros(0, bool)) if args.collect
                                   else attempt_apertures(presence_source))
    if aperture_success.any() and not aperture_success.all():
        aperture_threshold, aperture_provenance = fit_aperture_threshold(apertures, aperture_success)
        calibration = dataclasses.replace(calibration, aperture_threshold=aperture_threshold)
        calibration.provenance["aperture"] = {"data": presence_source, **aperture_provenance}
    presence_config = TrainPresenceConfig(steps=args.presence_steps, seed=args.seed)
    classifier = fit_presence(presence_held, empty, presence_config)
    common = {"checkpoint": str(reward.checkpoint), "machine": machine_description(),
              "command": command_line("runs.calibrate_reward", argv)}
    classifier.provenance.update({
        "data": presence_source, "labels": "success bit of each attempt; mid-air grasps are empty",
        "negatives": args.negatives, "failed_attempts_used": len(failed) if args.negatives != "midair" else 0,
        "midair_images": 0 if args.negatives == "failures" else args.empty, "objects_below_empty": args.objects,
        "wall_time_s": round(time.perf_counter() - began, 1), **common,
    })
    calibration.provenance.update({"data": source, "wall_time_s": round(time.perf_counter() - began, 1), **common})
    out = args.out or calibration_path(reward.checkpoint)
    presence_out = args.presence_out or presence_path(reward.checkpoint)
    calibration.save(out)
    classifier.save(presence_out)
    print(json.dumps({"calibration": str(out), "threshold": calibration.threshold,
                      "aperture_threshold": calibration.aperture_threshold, **calibration.provenance,
                      "presence_classifier": str(presence_out), "presence_threshold": classifier.threshold,
                      "presence_train_config": dataclasses.asdict(presence_config),
                      "presence": classifier.provenance}, indent=1))


if __name__ == "__main__":
    main()
