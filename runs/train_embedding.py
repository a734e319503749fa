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

from common.provenance import command_line
from embedding.augment import AugmentConfig
from embedding.run import PRESETS, EmbeddingRunConfig, train_embedding
from embedding.train import TrainConfig


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
    parser.add_argument("--stage-strides", type=int, nargs="+", help="override the preset's stage strides (with "
                        "--init-from: fine-tune the checkpoint's weights at these strides)")
    parser.add_argument("--blocks-per-stage", type=int, help="override the preset's blocks per stage")
    parser.add_argument("--init-from", help="start from this Grasp2Vec checkpoint (fine-tuning; its architecture, "
                        "up to --stage-strides, "
                        "replaces --preset and the overrides)")
    parser.add_argument("--pairs", type=Path, nargs="+", default=[],
                        help="folders collected with --regrasp-same: their outcome pairs feed the same-object term")
    parser.add_argument("--same-object-weight", type=float, default=defaults.same_object_weight,
                        help="weight of the same-object n-pairs term on --pairs (0: off)")
    parser.add_argument("--same-object-batch", type=int, default=defaults.same_object_batch, help="pairs per step")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--l2-weight", type=float, default=defaults.l2_weight, help="λ of the embedding L2 penalty")
    parser.add_argument("--crop-pad", type=int, default=AugmentConfig().pad, help="max crop shift (px), 0 = off")
    parser.add_argument("--no-flip", action="store_true", help="disable random horizontal flips")
    parser.add_argument("--colour-permute", type=float, default=AugmentConfig().colour_permute, metavar="P",
                        help="probability that a triplet's colour channels are reordered, alike in its three images")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every)
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    parser.add_argument("--workers", type=int, default=defaults.workers, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    parser.add_argument("--channels-last", action="store_true", help="channels-last weights (float rounding only)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (changes numerics; slow without "
                        "AVX512-BF16, see docs/embedding/train-speed-b64.json)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (float rounding only)")
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
    overrides = {name: tuple(value) if isinstance(value, list) else value
                 for name in ("embedding_dim", "stem_channels", "stage_channels", "stage_strides", "blocks_per_stage")
                 if (value := getattr(args, name)) is not None}
    try:
        augment = AugmentConfig(pad=args.crop_pad, flip=not args.no_flip, colour_permute=args.colour_permute)
        train_config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                                   warmup_steps=args.warmup_steps, weight_decay=args.weight_decay,
                                   l2_weight=args.l2_weight, augment=augment,
                                   seed=args.seed, eval_every=args.eval_every, checkpoint_every=args.checkpoint_every,
                                   workers=args.workers, threads=args.threads, channels_last=args.channels_last,
                                   bf16=args.bf16, compile=args.compile, init_from=args.init_from,
                                   same_object_weight=args.same_object_weight,
                                   same_object_batch=args.same_object_batch)
        init_strides = tuple(args.stage_strides) if args.init_from and args.stage_strides else None
        model = replace(PRESETS[args.preset], **overrides)
        config = EmbeddingRunConfig(data=tuple(args.data), out=args.out, pairs=tuple(args.pairs), model=model,
                                    init_stage_strides=init_strides,
                                    train=train_config, val_fraction=args.val_fraction, cache=args.cache,
                                    device=args.device, resume=args.resume, stop_at_step=args.stop_at_step,
                                    wandb_mode=args.wandb_mode, progress=not args.no_progress,
                                    command=command_line("runs.train_embedding", argv))
        summary = train_embedding(config)
    except ValueError as error:  # a setting out of range, or data and model that do not fit
        raise SystemExit(f"train_embedding: error: {error}") from None
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
