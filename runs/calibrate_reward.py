"""Fit a similarity reward's calibration: its decision threshold and its "object in gripper" classifier.

    python -m runs.calibrate_reward --reward grasp2vec --data runs/out/rewards-data/seen-calibration \\
        --presence-data runs/out/g2v-data/seen-train runs/out/rewards-data/seen-calibration

What is fitted, on which data, and where it is written: :mod:`rewards.calibrate`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.provenance import command_line
from rewards.calibrate import VAL_FRACTION, CalibrateConfig, calibrate_reward
from rewards.presence import TrainPresenceConfig


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
    parser.add_argument("--recall", type=float, default=None,
                        help="threshold keeping this share of same-object pairs (default: Youden's J)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy machine)")
    parser.add_argument("--out", type=Path, default=None, help="calibration JSON (default: beside the checkpoint)")
    parser.add_argument("--presence-out", type=Path, default=None,
                        help="file prefix of the presence classifier (default: beside the checkpoint)")
    args = parser.parse_args(argv)
    config = CalibrateConfig(
        reward=args.reward, reward_args=tuple(args.reward_arg), data=args.data, split=args.split,
        val_fraction=args.val_fraction, limit=args.limit, collect=args.collect,
        presence_data=tuple(args.presence_data) if args.presence_data else None, presence_steps=args.presence_steps,
        empty=args.empty, negatives=args.negatives, objects=args.objects, num_objects=args.num_objects,
        seed=args.seed, recall=args.recall, threads=args.threads, out=args.out, presence_out=args.presence_out,
        command=command_line("runs.calibrate_reward", argv))
    print(json.dumps(calibrate_reward(config), indent=1))


if __name__ == "__main__":
    main()
