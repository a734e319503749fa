"""A Grasp2Vec training run from dataset folders: split, model, training, summary and curves.

:func:`train_embedding` is what ``python -m runs.train_embedding`` and the main job's embedding stage
call. The folders' successful grasps are pooled and split (by ``seed``) into train and a validation
slice (``val_fraction``) used only for the logged retrieval accuracy and heatmaps. The run folder
``out`` is itself a checkpoint; ``resume=True`` continues a killed run with the same settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from common.io import atomic_write_text
from common.provenance import machine_description
from embedding.checkpoint import read_config
from embedding.figures import plot_history
from embedding.model import GPU_CONFIG, Grasp2Vec, Grasp2VecConfig, multiply_adds_per_image, parameter_count
from embedding.train import CachedTriplets, TrainConfig, train

PRESETS = {"cpu": Grasp2VecConfig(), "gpu": GPU_CONFIG}


@dataclass(frozen=True)
class EmbeddingRunConfig:
    """One training run.

    Attributes:
        data: dataset folders (``runs.collect`` output) of one image size; their triplets are pooled.
        out: run folder (a checkpoint: ``model.safetensors`` + ``config.json``).
        model: the architecture (its ``image_size`` is taken from the data); with ``train.init_from``
            the starting checkpoint's architecture is used instead, and its image size must be the data's.
        init_stage_strides: with ``train.init_from``, fine-tune at these stage strides instead of the
            checkpoint's (the weights fit any strides; a smaller one gives a finer feature map).
        pairs: dataset folders collected with ``--regrasp-same`` whose outcome pairs feed the same-object term
            (``train.same_object_weight`` > 0), split like the triplets; usually the ``data`` folders themselves.
        train: optimisation, augmentation and schedule.
        val_fraction: share of the triplets held out for the logged validation retrieval.
        cache: hold the training triplets in memory.
        device: where the model trains (``cpu``, ``cuda``, ``cuda:N``); data stay on the CPU.
        resume: continue the run in ``out``; ``stop_at_step``: stop (checkpointed) at this step.
        wandb_mode: ``offline``, ``online`` or ``disabled``.
        command: the command line recorded in ``summary.json``.
    """

    data: tuple[Path, ...]
    out: Path = Path("runs/out/embedding/grasp2vec")
    model: Grasp2VecConfig = field(default_factory=Grasp2VecConfig)
    init_stage_strides: tuple[int, ...] | None = None
    pairs: tuple[Path, ...] = ()
    train: TrainConfig = field(default_factory=TrainConfig)
    val_fraction: float = 0.05
    cache: bool = False
    device: str = "cpu"
    resume: bool = False
    stop_at_step: int | None = None
    wandb_mode: str = "offline"
    progress: bool = True
    command: str = ""


def parameter_count_text(config: Grasp2VecConfig) -> str:
    """Parameters and multiply-adds per image of one encoder, as text."""
    return (f"{parameter_count(Grasp2Vec(config)):,} parameters, "
            f"{multiply_adds_per_image(config) / 1e6:.1f} M multiply-adds per image per encoder")


def train_embedding(config: EmbeddingRunConfig) -> dict[str, Any]:
    """Train (or continue) one Grasp2Vec run; writes ``summary.json`` and ``curves.png`` into ``config.out``.

    Raises:
        ValueError: ``config.device`` names CUDA but this torch sees none.
    """
    if config.init_stage_strides is not None and config.train.init_from is None:
        raise ValueError("init_stage_strides re-strides a starting checkpoint: it needs train.init_from")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {config.device}, but this torch ({torch.__version__}) sees no CUDA device; "
                         "use cpu")
    if bool(config.pairs) != (config.train.same_object_weight > 0):
        raise ValueError("pair folders (--pairs) and a same-object weight > 0 (--same-object-weight) go together")
    from embedding.dataset import OutcomePairDataset, TripletDataset

    seed, data, out = config.train.seed, list(config.data), Path(config.out)
    train_set = TripletDataset(data, split="train", val_fraction=config.val_fraction, seed=seed)
    val_set = TripletDataset(data, split="val", val_fraction=config.val_fraction, seed=seed)
    model_config = replace(config.model, image_size=train_set.image_size)
    if config.train.init_from is not None:
        model_config = read_config(config.train.init_from)
        if config.init_stage_strides is not None:
            model_config = replace(model_config, stage_strides=tuple(config.init_stage_strides))
        if model_config.image_size != train_set.image_size:
            raise ValueError(f"--init-from {config.train.init_from} was trained on {model_config.image_size} px "
                             f"images, but the data hold {train_set.image_size} px images")
    data_card = {"roots": [str(root) for root in data], "train_triplets": len(train_set),
                 "val_triplets": len(val_set), "val_fraction": config.val_fraction, "split_seed": seed,
                 "image_size": train_set.image_size, "triplet_fov": train_set.triplet_fov,
                 "triplet_backdrop": train_set.triplet_backdrop}
    pair_set = None
    if config.pairs:
        pair_set = OutcomePairDataset(list(config.pairs), split="train", val_fraction=config.val_fraction, seed=seed)
        if pair_set.image_size != train_set.image_size:
            raise ValueError(f"the pairs hold {pair_set.image_size} px images, the triplets {train_set.image_size} px")
        data_card.update(pair_roots=[str(root) for root in config.pairs], train_pairs=len(pair_set))
        pair_set = CachedTriplets(pair_set, progress=config.progress) if config.cache else pair_set
    print(f"model: {parameter_count_text(model_config)}; data: {len(train_set)} train / {len(val_set)} val triplets"
          + (f", {data_card['train_pairs']} same-object pairs" if pair_set is not None else ""))
    training_set = CachedTriplets(train_set, progress=config.progress) if config.cache else train_set
    summary = train(model_config, config.train, training_set, out, val_set=val_set if len(val_set) >= 2 else None,
                    resume=config.resume, wandb_mode=config.wandb_mode, data_card=data_card,
                    progress=config.progress, stop_at_step=config.stop_at_step, device=config.device,
                    pair_set=pair_set)
    summary = {**summary, "command": config.command, "machine": machine_description(), "data": data_card}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    plot_history(out / "history.jsonl", out / "curves.png")
    return summary
