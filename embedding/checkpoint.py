"""Grasp2Vec checkpoints: safetensors weights + a JSON card (config, training data, extras).

A checkpoint path is either a folder holding ``model.safetensors`` + ``config.json``, or a file
prefix ``PATH`` (given as ``PATH``, ``PATH.safetensors`` or ``PATH.json``) for the pair
``PATH.safetensors`` + ``PATH.json``: a path with a ``.safetensors``/``.json`` suffix names the
pair, anything else a folder. Nothing is ever unpickled. Files are written atomically.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from common.io import atomic_path, atomic_write_text
from embedding.model import Grasp2Vec, Grasp2VecConfig

FORMAT = "grasp2vec"
FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "config.json"


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit what was asked for (architecture, image size, format)."""


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """(weights file, JSON card) that ``path`` names."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        stem = path.with_suffix("")
        return stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    return path / WEIGHTS_NAME, path / CARD_NAME


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    with atomic_path(path) as temp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(temp), metadata=metadata)


def save_checkpoint(model: Grasp2Vec, path: str | Path, extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write the model's weights (incl. BatchNorm statistics) and card. ``extra`` must be JSON-serialisable
    (e.g. ``{"data": {...}, "train": {...}}``). Returns the two files written."""
    weights, card = checkpoint_files(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_tensors(model.state_dict(), weights, metadata={"format": FORMAT})
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": model.config.to_dict(),
            "extra": extra or {}}
    atomic_write_text(card, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return weights, card


def read_card(path: str | Path) -> dict[str, Any]:
    """The checkpoint's JSON card. Raises ``FileNotFoundError`` / ``CheckpointMismatchError``."""
    weights, card = checkpoint_files(path)
    for file in (weights, card):
        if not file.is_file():
            raise FileNotFoundError(f"not a Grasp2Vec checkpoint: {file} is missing (expected {weights.name} "
                                    f"+ {card.name})")
    try:
        info = json.loads(card.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointMismatchError(f"{card}: not valid JSON ({error})") from error
    if info.get("format") != FORMAT or info.get("format_version") != FORMAT_VERSION:
        raise CheckpointMismatchError(f"{card}: format {info.get('format')!r} v{info.get('format_version')}, "
                                      f"expected {FORMAT!r} v{FORMAT_VERSION}")
    return info


def read_config(path: str | Path) -> Grasp2VecConfig:
    """The architecture a checkpoint's card records. Raises ``FileNotFoundError`` / ``CheckpointMismatchError``."""
    info = read_card(path)
    try:
        return Grasp2VecConfig.from_dict(info["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointMismatchError(f"{checkpoint_files(path)[1]}: bad config ({error})") from error


def load_state_into(model: Grasp2Vec, weights: Path) -> None:
    """Load a weights file into ``model``, raising ``CheckpointMismatchError`` on any key or shape difference."""
    state = load_file(str(weights))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointMismatchError(f"{weights} does not fit this architecture: missing {missing[:5]}, "
                                      f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]}")
    model.load_state_dict(state)


def load_weights_into_config(path: str | Path, config: Grasp2VecConfig) -> Grasp2Vec:
    """A model of ``config`` holding the checkpoint's weights, in training mode. ``config`` may differ
    from the checkpoint's architecture in its stage strides only: a stride changes where a convolution
    samples, not its weights (a stage whose shortcut projection would appear or vanish does not fit).

    Raises ``CheckpointMismatchError`` on any other difference.
    """
    saved = read_config(path)
    if replace(saved, stage_strides=config.stage_strides) != config:
        raise CheckpointMismatchError(f"checkpoint {path} has architecture {saved}, expected {config} "
                                      "(only the stage strides may differ)")
    model = Grasp2Vec(config)
    load_state_into(model, checkpoint_files(path)[0])
    return model


def load_checkpoint(path: str | Path, expect_image_size: int | None = None,
                    expect_config: Grasp2VecConfig | None = None, device: str | torch.device = "cpu") -> Grasp2Vec:
    """Build the model the card describes and load its weights; returned in eval mode.

    Raises ``CheckpointMismatchError`` when the image size or architecture differs from what the
    caller expects, or when the weights do not fit the card.
    """
    config = read_config(path)
    if expect_image_size is not None and config.image_size != expect_image_size:
        raise CheckpointMismatchError(f"checkpoint {path} was trained on {config.image_size} px images, "
                                      f"but {expect_image_size} px are needed")
    if expect_config is not None and config != expect_config:
        raise CheckpointMismatchError(f"checkpoint {path} has architecture {config}, expected {expect_config}")
    model = Grasp2Vec(config)
    load_state_into(model, checkpoint_files(path)[0])
    return model.to(device).eval()
