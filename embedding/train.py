"""Training loop for Grasp2Vec: deterministic given the seed, resumable after a kill.

The run folder holds the model checkpoint (``model.safetensors`` + ``config.json``, loadable with
:func:`embedding.checkpoint.load_checkpoint`), the optimizer state (``optimizer.safetensors``) and
``train_state.json`` (step, elapsed time, wandb run id). Batch ``s`` is a pure function of
(seed, s): epoch permutations and augmentation draws are seeded from them, so a resumed run
follows the same trajectory as an uninterrupted one: the same weights bit for bit, optimizer state
and ``history.jsonl`` (steps logged after the checkpoint a session resumes from are dropped, and the
log does not depend on where a session stopped). Tested in ``tests/embedding/test_train.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from common.io import atomic_write_text
from embedding.augment import AugmentConfig, permute_colours, random_crop_flip
from embedding.checkpoint import (
    atomic_save_tensors,
    checkpoint_files,
    load_state_into,
    load_weights_into_config,
    read_card,
    save_checkpoint,
)
from embedding.heatmap import goal_heatmap
from embedding.losses import DEFAULT_L2_WEIGHT, grasp2vec_loss, same_object_loss
from embedding.metrics import retrieval_top1
from embedding.model import Grasp2Vec, Grasp2VecConfig

OPTIMIZER_NAME = "optimizer.safetensors"
STATE_NAME = "train_state.json"
HISTORY_NAME = "history.jsonl"
AUGMENT_SEED_STRIDE = 1_000_003  # separates the augmentation streams of different seeds
# Where and how fast the arithmetic runs, not what it computes: a run may resume with other values.
PLACEMENT_FIELDS = ("threads", "workers", "channels_last", "compile")
PAIR_STREAM = 2  # the same-object pairs' draws: a stream apart from the batch order and augmentation


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        steps: optimizer steps in total.
        batch_size: triplets per step (each item's negatives are the batch's other items).
        lr: peak Adam(W) learning rate; linear warm-up over ``warmup_steps``, cosine decay to 0.
        weight_decay: AdamW decoupled weight decay.
        l2_weight: λ of the embedding L2 penalty.
        augment: random crop/flip and colour-order settings.
        seed: seeds initialisation, batch order and augmentation.
        log_every / eval_every / checkpoint_every: in steps.
        eval_items: validation triplets used for the logged retrieval accuracy (0 = all).
        workers: DataLoader worker processes (0 = load in the main process).
        threads: torch intra-op threads in the training process.
        channels_last: hold the weights in channels-last memory format (same numbers up to float rounding).
        bf16: bfloat16 autocast for the encoders (changes numerics; opt-in; loss stays float32).
        compile: run the model through ``torch.compile`` (same numbers up to float rounding).
        init_from: a Grasp2Vec checkpoint to start from (fine-tuning) instead of random weights; its
            architecture and image size must be the model's, up to the stage strides. The optimizer starts fresh.
        same_object_weight: weight of the same-object term (:func:`embedding.losses.same_object_loss`) on pairs of
            outcome views of one object (``OutcomePairDataset``); 0: off. A run with it needs a pair set.
        same_object_batch: pairs per step for that term, drawn by (seed, step) apart from the triplet batches.
        ``docs/embedding/train-speed-b64.json`` and ``docs/embedding.md`` say what each buys on the CPU.
    """

    steps: int = 6000
    batch_size: int = 64
    lr: float = 5e-3
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    l2_weight: float = DEFAULT_L2_WEIGHT
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    log_every: int = 25
    eval_every: int = 500
    checkpoint_every: int = 250
    eval_items: int = 512
    workers: int = 0
    threads: int = 2
    channels_last: bool = False
    bf16: bool = False
    compile: bool = False
    init_from: str | None = None
    same_object_weight: float = 0.0
    same_object_batch: int = 64

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError(f"need steps >= 1 and batch_size >= 2, got steps={self.steps}, "
                             f"batch_size={self.batch_size}")
        if self.same_object_weight < 0 or self.same_object_batch < 2:
            raise ValueError(f"need same_object_weight >= 0 and same_object_batch >= 2, got "
                             f"{self.same_object_weight} and {self.same_object_batch}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _trajectory(train_config: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a run's numbers: ``train_config`` less its ``PLACEMENT_FIELDS``, with augmentation
    settings added since the run was saved at the values it ran with (the defaults)."""
    trajectory = {key: value for key, value in train_config.items() if key not in PLACEMENT_FIELDS}
    trajectory["augment"] = {**dataclasses.asdict(AugmentConfig()), **trajectory.get("augment", {})}
    trajectory.setdefault("same_object_weight", 0.0)
    trajectory.setdefault("same_object_batch", TrainConfig.same_object_batch)
    return trajectory


def learning_rate(config: TrainConfig, step: int) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up then cosine decay to 0 at ``config.steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class StepBatchSampler(Sampler[list[int]]):
    """Index batches for steps ``start..total-1``; epoch e is a permutation seeded by (seed, e).
    The last incomplete batch of each epoch is dropped."""

    def __init__(self, size: int, batch_size: int, seed: int, start: int, total: int) -> None:
        if size < batch_size:
            raise ValueError(f"the training set holds {size} triplets, fewer than one batch of {batch_size}")
        self.size, self.batch_size, self.seed, self.start, self.total = size, batch_size, seed, start, total
        self.per_epoch = size // batch_size

    def batch(self, step: int) -> list[int]:
        epoch, position = divmod(step, self.per_epoch)
        generator = torch.Generator().manual_seed(self.seed * AUGMENT_SEED_STRIDE + epoch)
        order = torch.randperm(self.size, generator=generator)
        return order[position * self.batch_size:(position + 1) * self.batch_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.total):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.total - self.start)


class CachedTriplets(Dataset):
    """All items of ``dataset`` (triplets, or outcome pairs) held in memory as uint8 arrays (N, H, W, 3), one per
    key: for data that fits in RAM (64 px: 36 KiB per triplet), it removes per-step file reads."""

    def __init__(self, dataset: Dataset, progress: bool = True) -> None:
        items = [dataset[i] for i in tqdm(range(len(dataset)), desc="caching", disable=not progress)]
        if not items:
            raise ValueError("cannot cache an empty dataset")
        self.arrays = {key: np.stack([item[key] for item in items]) for key in items[0]}
        self.image_size = int(next(iter(self.arrays.values())).shape[1])

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {key: array[index] for key, array in self.arrays.items()}


def collate_triplets(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """List of ``{"pre", "post", "outcome"}`` uint8 (H, W, 3) → dict of uint8 (B, H, W, 3) tensors."""
    return {key: torch.from_numpy(np.stack([item[key] for item in items])) for key in ("pre", "post", "outcome")}


def pair_batch(pair_set: Dataset, config: TrainConfig, step: int) -> dict[str, torch.Tensor]:
    """The same-object pairs of ``step`` (0-based): ``config.same_object_batch`` distinct items drawn by (seed, step)
    alone, so a resumed run draws the same ones. ``{"first", "second"}`` uint8 (P, H, W, 3)."""
    if len(pair_set) < config.same_object_batch:
        raise ValueError(f"the pair set holds {len(pair_set)} pairs, fewer than one batch of "
                         f"{config.same_object_batch}")
    rows = np.random.default_rng([config.seed, step, PAIR_STREAM]).choice(len(pair_set), config.same_object_batch,
                                                                          replace=False)
    items = [pair_set[int(row)] for row in rows]
    return {key: torch.from_numpy(np.stack([item[key] for item in items])) for key in ("first", "second")}


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    state = optimizer.state_dict()
    tensors = {f"state.{index}.{name}": torch.as_tensor(value)
               for index, entry in state["state"].items() for name, value in entry.items()}
    return tensors, state["param_groups"]


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                    groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def training_forward(model: Grasp2Vec, config: TrainConfig) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The callable a training step runs the model through: ``model`` itself, or compiled (``config.compile``);
    moves the weights to channels-last first when ``config.channels_last``. Checkpoints keep saving ``model``."""
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    return torch.compile(model) if config.compile else model


def train_step(forward: Callable[..., tuple[torch.Tensor, torch.Tensor]], optimizer: torch.optim.Optimizer,
               batch: dict[str, torch.Tensor], config: TrainConfig, step: int,
               pairs: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """One optimizer step (0-based ``step``) on a uint8 batch: augmentation drawn from (seed, step), the
    step's learning rate, forward (bf16 autocast if ``config.bf16``), loss, backward, AdamW. Returns the losses.

    ``pairs`` (:func:`pair_batch`, with ``config.same_object_weight`` > 0) adds the same-object term. Each view is
    cropped and flipped on its own draw and a pair's colours are reordered alike; the views go through φ_o in the
    same pass as the triplets' outcomes (one set of BatchNorm statistics), and the triplets' draws come first, so
    their augmentation is what a run without pairs draws."""
    if (pairs is not None) != (config.same_object_weight > 0):
        raise ValueError("the same-object term needs both pairs and same_object_weight > 0, got "
                         f"pairs={'given' if pairs is not None else None}, weight={config.same_object_weight}")
    generator = torch.Generator().manual_seed(config.seed * AUGMENT_SEED_STRIDE + step)
    pre, post = random_crop_flip([batch["pre"], batch["post"]], config.augment, generator)
    (outcome,) = random_crop_flip([batch["outcome"]], config.augment, generator)
    pre, post, outcome = permute_colours([pre, post, outcome], config.augment.colour_permute, generator)
    views: list[torch.Tensor] = []
    if pairs is not None:
        views = [random_crop_flip([pairs[key]], config.augment, generator)[0] for key in ("first", "second")]
        views = permute_colours(views, config.augment.colour_permute, generator)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(config, step)
    device_type = next(iter(optimizer.param_groups[0]["params"])).device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=config.bf16):
        differences, outcomes = forward(pre, post, torch.cat([outcome, *views]))
    outcomes = outcomes.float()
    losses = grasp2vec_loss(differences.float(), outcomes[: len(outcome)], config.l2_weight)
    if views:
        first, second = outcomes[len(outcome):].chunk(2)
        losses["same_object"] = same_object_loss(first, second)
        losses["loss"] = losses["loss"] + config.same_object_weight * losses["same_object"]
    optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    optimizer.step()
    return losses


@torch.no_grad()
def embed_pairs(model: Grasp2Vec, dataset: Dataset, indices: list[int], batch_size: int = 128
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(φ_s(pre) − φ_s(post), φ_o(outcome)) for ``dataset[indices]``, each (N, D), in eval mode."""
    was_training = model.training
    model.eval()
    differences, outcomes = [], []
    for start in range(0, len(indices), batch_size):
        batch = collate_triplets([dataset[i] for i in indices[start:start + batch_size]])
        difference, outcome = model(batch["pre"], batch["post"], batch["outcome"])
        differences.append(difference)
        outcomes.append(outcome)
    model.train(was_training)
    return torch.cat(differences).cpu(), torch.cat(outcomes).cpu()


def heatmap_panel(model: Grasp2Vec, dataset: Dataset, indices: list[int]) -> np.ndarray:
    """Rows of [pre scene | its own outcome | heatmap of that outcome on the scene], uint8 (n*H, 3*W, 3)."""
    from embedding.figures import colorize

    batch = collate_triplets([dataset[i] for i in indices])
    was_training = model.training
    model.eval()
    heat = goal_heatmap(model, batch["outcome"], batch["pre"]).cpu().numpy()
    model.train(was_training)
    rows = [np.concatenate([batch["pre"][i].numpy(), batch["outcome"][i].numpy(),
                            colorize(heat[i], batch["pre"][i].numpy())], axis=1) for i in range(len(indices))]
    return np.concatenate(rows, axis=0)


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


@dataclass
class RunFiles:
    """The files of a training run folder."""

    root: Path

    @property
    def optimizer(self) -> Path:
        return self.root / OPTIMIZER_NAME

    @property
    def state(self) -> Path:
        return self.root / STATE_NAME

    @property
    def history(self) -> Path:
        return self.root / HISTORY_NAME

    def exists(self) -> bool:
        return self.state.is_file() and all(f.is_file() for f in checkpoint_files(self.root))


class RunLog:
    """The run's wandb log; with ``mode="disabled"`` it logs nothing and wandb is never imported
    (so training runs where wandb is not installed, e.g. on a lent GPU machine)."""

    def __init__(self, root: Path, mode: str, run_id: str | None, config: dict[str, Any]) -> None:
        self._wandb: Any = None
        self._run: Any = None
        if mode != "disabled":
            import wandb

            self._wandb = wandb
            self._run = wandb.init(project="grasp2vec", dir=str(root), mode=mode, id=run_id, resume="allow",
                                   config=config)

    @property
    def enabled(self) -> bool:
        return self._run is not None

    @property
    def id(self) -> str | None:
        return self._run.id if self.enabled else None

    def image(self, pixels: np.ndarray, caption: str) -> Any:
        """A wandb image (only on an enabled log)."""
        return self._wandb.Image(pixels, caption=caption)

    def log(self, values: dict[str, Any], step: int) -> None:
        if self.enabled:
            self._run.log(values, step=step)

    def finish(self) -> None:
        if self.enabled:
            self._run.finish()


def _truncate_history(files: RunFiles, step: int) -> None:
    """Drop the ``history.jsonl`` lines logged after ``step`` (the checkpoint a session starts from), so a
    run killed between checkpoints and resumed logs each step once, as an uninterrupted run does. The file
    exists afterwards (empty for a fresh run)."""
    lines = files.history.read_text().splitlines() if files.history.is_file() else []
    kept = [line for line in lines if line and json.loads(line)["step"] <= step]
    atomic_write_text(files.history, "".join(line + "\n" for line in kept))


def _append_history(files: RunFiles, entry: dict[str, Any]) -> None:
    """One JSON line per logged step in ``history.jsonl``."""
    with open(files.history, "a") as file:
        file.write(json.dumps(entry) + "\n")


def _save_run(model: Grasp2Vec, optimizer: torch.optim.Optimizer, files: RunFiles, step: int,
              state: dict[str, Any], extra: dict[str, Any]) -> None:
    tensors, groups = _optimizer_tensors(optimizer)
    atomic_save_tensors(tensors, files.optimizer)
    save_checkpoint(model, files.root, extra={**extra, "step": step})
    # The state file is written last: a run is resumable from it only once everything else is on disk.
    atomic_write_text(files.state, json.dumps({**state, "step": step, "param_groups": groups}, indent=2) + "\n")


def train(model_config: Grasp2VecConfig, config: TrainConfig, train_set: Dataset, out_dir: str | Path,
          val_set: Dataset | None = None, resume: bool = False, wandb_mode: str = "offline",
          data_card: dict[str, Any] | None = None, progress: bool = True,
          stop_at_step: int | None = None, device: str = "cpu", pair_set: Dataset | None = None) -> dict[str, Any]:
    """Train Grasp2Vec on ``train_set`` (items ``{"pre", "post", "outcome"}`` uint8 (H, W, 3)), and with
    ``config.same_object_weight`` > 0 on ``pair_set`` too (items ``{"first", "second"}``, see :func:`train_step`).

    Writes the run folder ``out_dir`` (see the module docstring) and returns a summary dict
    (final step, last losses, validation retrieval, wall time). With ``resume=True`` an existing
    run continues from its last checkpoint; without it an existing run is an error.
    ``stop_at_step`` ends the session early at that step (checkpointed), as a kill would; a later
    ``resume=True`` call continues the same trajectory. ``device`` (``"cpu"``, ``"cuda"``) is where the
    model trains; data loading and augmentation stay on the CPU, so the batch order and augmentation
    draws are the same on every device (the arithmetic differs in rounding). A run may resume on
    another device, and with other ``PLACEMENT_FIELDS`` (threads, loader workers, channels-last, compile).
    """
    if (pair_set is not None) != (config.same_object_weight > 0):
        raise ValueError("a pair set and same_object_weight > 0 go together (the same-object term), got "
                         f"pair_set={'given' if pair_set is not None else None}, weight={config.same_object_weight}")
    files = RunFiles(Path(out_dir))
    if files.exists() and not resume:
        raise FileExistsError(f"{files.root} already holds a training run: pass resume=True (--resume) to "
                              "continue it, or choose another output folder")
    files.root.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = Grasp2Vec(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start, elapsed, run_id = 0, 0.0, None
    if config.init_from is not None and not (resume and files.exists()):
        model.load_state_dict(load_weights_into_config(config.init_from, model_config).state_dict())
    if resume and files.exists():
        saved = json.loads(files.state.read_text())
        card = read_card(files.root)
        if card["config"] != _as_json(model_config.to_dict()) or \
                _trajectory(saved["train_config"]) != _trajectory(_as_json(config.to_dict())):
            raise ValueError(f"{files.root} was started with a different model or training config; "
                             "resume with the same settings or start a new folder")
        load_state_into(model, checkpoint_files(files.root)[0])
        _load_optimizer(optimizer, load_file(str(files.optimizer), device=str(model.device)), saved["param_groups"])
        start, elapsed, run_id = saved["step"], saved["elapsed_s"], saved.get("wandb_id")
    image_size = getattr(train_set, "image_size", model_config.image_size)
    if image_size != model_config.image_size:
        raise ValueError(f"the data holds {image_size} px images but the model is configured for "
                         f"{model_config.image_size} px")
    _truncate_history(files, start)

    run = RunLog(files.root, wandb_mode, run_id,
                 {"model": model_config.to_dict(), "train": config.to_dict(), "data": data_card or {}})
    extra = {"train": config.to_dict(), "data": data_card or {}}
    state = {"train_config": config.to_dict(), "wandb_id": run.id}
    end = config.steps if stop_at_step is None else min(config.steps, stop_at_step)
    sampler = StepBatchSampler(len(train_set), config.batch_size, config.seed, start, end)
    loader = DataLoader(train_set, batch_sampler=sampler, collate_fn=collate_triplets, num_workers=config.workers)
    val_indices = list(range(len(val_set)))[: config.eval_items or None] if val_set is not None else []
    summary: dict[str, Any] = {"steps": config.steps, "start_step": start}
    model.train()
    began = time.perf_counter()
    bar = tqdm(total=config.steps, initial=start, disable=not progress, desc="grasp2vec", unit="step")
    step = start
    forward = training_forward(model, config)
    for batch in loader:
        pairs = pair_batch(pair_set, config, step) if pair_set is not None else None
        losses = train_step(forward, optimizer, batch, config, step, pairs)
        step += 1
        bar.update(1)
        # The log depends on the step only, not on where a session stops: a run in pieces logs as one run.
        logs_now = step % config.log_every == 0 or step == config.steps
        if logs_now or step == end:
            logged = {f"train/{k}": float(v.detach()) for k, v in losses.items()}
            logged["train/lr"] = optimizer.param_groups[0]["lr"]
            bar.set_postfix(loss=f"{logged['train/loss']:.3f}")
            summary.update(logged)
            if logs_now:
                run.log(logged, step=step)
                _append_history(files, {"step": step, **logged})
        if val_indices and len(val_indices) >= 2 and (step % config.eval_every == 0 or step == config.steps):
            differences, outcomes = embed_pairs(model, val_set, val_indices)
            accuracy, _ = retrieval_top1(differences, outcomes, val_indices, val_indices)
            summary["val/pair_retrieval_top1"] = accuracy
            _append_history(files, {"step": step, "val/pair_retrieval_top1": accuracy})
            if run.enabled:  # the heatmap panel is only drawn for wandb
                run.log({"val/pair_retrieval_top1": accuracy,
                         "val/heatmaps": run.image(heatmap_panel(model, val_set, val_indices[:6]),
                                                   "scene | outcome | heatmap")}, step=step)
        if step % config.checkpoint_every == 0 or step == end:
            state["elapsed_s"] = elapsed + time.perf_counter() - began
            _save_run(model, optimizer, files, step, state, extra)
    bar.close()
    run.finish()
    summary["final_step"] = step
    summary["wall_s"] = elapsed + time.perf_counter() - began
    summary["device"] = str(model.device)
    if model.device.type == "cuda":
        summary["device_name"] = torch.cuda.get_device_name(model.device)
    return summary
