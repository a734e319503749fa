"""Train the autoencoder baseline reward on outcome images.

    python -m runs.train_autoencoder --data runs/out/data/seen-train --out checkpoints/autoencoder

Reads the ``outcome`` images of the successful grasps in ``--data`` (``TripletDataset``, train
split), minimises pixel MSE, logs to wandb (offline unless ``WANDB_MODE`` says otherwise), keeps a
resumable state in ``--run-dir`` every ``--checkpoint-every`` steps (``--resume`` continues it), and
writes the final model to ``--out`` (``model.safetensors`` + ``config.json``, see
:mod:`rewards.autoencoder`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import torch

from common.provenance import command_line, machine_description
from rewards.autoencoder import save_autoencoder
from rewards.autoencoder_training import TrainAutoencoderConfig, outcome_images, train_autoencoder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("runs/out/data/seen-train"))
    parser.add_argument("--out", type=Path, default=Path("checkpoints/autoencoder"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/out/autoencoder"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--val-fraction", type=float, default=0.05,
                        help="held back from training, as runs.train_embedding does (calibration uses it)")
    defaults = TrainAutoencoderConfig()
    for name in ("steps", "batch_size", "latent_dim", "seed", "checkpoint_every", "threads"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    args = parser.parse_args(argv)
    config = TrainAutoencoderConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                                    latent_dim=args.latent_dim, seed=args.seed,
                                    checkpoint_every=args.checkpoint_every, threads=args.threads)
    torch.set_num_threads(config.threads)
    from embedding.dataset import TripletDataset

    images = outcome_images(TripletDataset(args.data, split="train", val_fraction=args.val_fraction, seed=config.seed))
    import wandb

    run = wandb.init(project="grasp2vec-sim", job_type="train_autoencoder", dir=str(args.run_dir.parent),
                     mode=os.environ.get("WANDB_MODE", "offline"), config=dataclasses.asdict(config))
    model, summary = train_autoencoder(images, config, args.run_dir, resume=args.resume, log=run.log)
    run.finish()
    extra = {"train_config": dataclasses.asdict(config), "data": str(args.data), "split": "train",
             "val_fraction": args.val_fraction, **summary,
             "machine": machine_description(),
             "command": command_line("runs.train_autoencoder", argv)}
    save_autoencoder(model, args.out, extra)
    print(json.dumps(extra, indent=1))


if __name__ == "__main__":
    main()
