"""Train Grasp2Vec on one or more grasp dataset folders.

    python -m runs.train_embedding --data runs/out/data/seen-train [MORE_FOLDERS ...] --out runs/out/embedding/g2v

The folders' successful grasps (pooled, e.g. a scripted collector's and a learned one's) are split
(by ``--seed``) into train and a validation slice
(``--val-fraction``) used only for the logged retrieval accuracy and heatmaps. The run folder
``--out`` is itself a checkpoint (``model.safetensors`` + ``config.json``); ``--resume`` continues
a killed run with the same settings. wandb logs offline by default (``--wandb-mode``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from common.io import atomic_write_text
from common.provenance import command_line, machine_description
from embedding.augment import AugmentConfig
from embedding.figures import plot_history
from embedding.model import GPU_CONFIG, Grasp2VecConfig, multiply_adds_per_image, parameter_count
from embedding.train import CachedTriplets, TrainConfig, train

PRESETS = {"cpu": Grasp2VecConfig(), "gpu": GPU_CONFIG}


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, nargs="+",
                        help="dataset folder(s) (runs.collect output), same image size; their triplets are pooled")
    parser.add_argument("--out", type=Path, default=Path("runs/out/embedding/grasp2vec"), help="run folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="architecture preset")
    parser.add_argument("--embedding-dim", type=int, help="override the preset's embedding size D")
    parser.add_argument("--stem-channels", type=int, help="override the preset's stem channels")
    parser.add_argument("--stage-channels", type=int, nargs="+", help="override the preset's stage channels")
    parser.add_argument("--stage-strides", type=int, nargs="+", help="override the preset's stage strides")
    parser.add_argument("--blocks-per-stage", type=int, help="override the preset's blocks per stage")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--l2-weight", type=float, default=defaults.l2_weight, help="λ of the embedding L2 penalty")
    parser.add_argument("--crop-pad", type=int, default=AugmentConfig().pad, help="max crop shift (px), 0 = off")
    parser.add_argument("--no-flip", action="store_true", help="disable random horizontal flips")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every)
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    parser.add_argument("--workers", type=int, default=defaults.workers, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    parser.add_argument("--cache", action="store_true", help="hold the training triplets in memory")
    parser.add_argument("--device", default="cpu",
                        help="where the model trains: cpu (default), cuda, cuda:N; data stay on the CPU")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--stop-at-step", type=int, help="stop (checkpointed) at this step; --resume continues")
    parser.add_argument("--wandb-mode", choices=["offline", "online", "disabled"], default="offline")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"train_embedding: --device {args.device}, but this torch ({torch.__version__}) sees no "
                         "CUDA device; use --device cpu")
    from embedding.dataset import TripletDataset

    overrides = {name: tuple(value) if isinstance(value, list) else value
                 for name in ("embedding_dim", "stem_channels", "stage_channels", "stage_strides", "blocks_per_stage")
                 if (value := getattr(args, name)) is not None}
    model_config = replace(PRESETS[args.preset], **overrides)
    train_set = TripletDataset(args.data, split="train", val_fraction=args.val_fraction, seed=args.seed)
    val_set = TripletDataset(args.data, split="val", val_fraction=args.val_fraction, seed=args.seed)
    model_config = replace(model_config, image_size=train_set.image_size)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
                         weight_decay=args.weight_decay,
                         l2_weight=args.l2_weight, augment=AugmentConfig(pad=args.crop_pad, flip=not args.no_flip),
                         seed=args.seed, eval_every=args.eval_every, checkpoint_every=args.checkpoint_every,
                         workers=args.workers, threads=args.threads)
    data_card = {"roots": [str(root) for root in args.data], "train_triplets": len(train_set),
                 "val_triplets": len(val_set),
                 "val_fraction": args.val_fraction, "split_seed": args.seed, "image_size": train_set.image_size}
    print(f"model: {parameter_count_text(model_config)}; data: {len(train_set)} train / {len(val_set)} val triplets")
    if args.cache:
        train_set = CachedTriplets(train_set, progress=not args.no_progress)
    summary = train(model_config, config, train_set, args.out, val_set=val_set if len(val_set) >= 2 else None,
                    resume=args.resume, wandb_mode=args.wandb_mode, data_card=data_card,
                    progress=not args.no_progress, stop_at_step=args.stop_at_step, device=args.device)
    summary = {**summary, "command": command_line("runs.train_embedding", argv), "machine": machine_description(),
               "data": data_card}
    atomic_write_text(args.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    plot_history(args.out / "history.jsonl", args.out / "curves.png")
    print(json.dumps(summary, indent=2))
    return summary


def parameter_count_text(config: Grasp2VecConfig) -> str:
    from embedding.model import Grasp2Vec

    return (f"{parameter_count(Grasp2Vec(config)):,} parameters, "
            f"{multiply_adds_per_image(config) / 1e6:.1f} M multiply-adds per image per encoder")


if __name__ == "__main__":
    main()
