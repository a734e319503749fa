"""Image grids for heatmaps and retrieval examples (uint8 arrays, saved as PNG with Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image

from common.io import atomic_path

OVERLAY_ALPHA = 0.6  # heatmap weight over the scene
MARK_COLOR = np.array([255, 255, 255], dtype=np.uint8)
HIT_COLOR = np.array([40, 200, 40], dtype=np.uint8)
MISS_COLOR = np.array([220, 40, 40], dtype=np.uint8)


def colorize(heatmap: np.ndarray, scene: np.ndarray | None = None) -> np.ndarray:
    """Heatmap (H, W) float → (H, W, 3) uint8 'inferno' colours, min-max scaled, blended over ``scene``."""
    span = float(heatmap.max() - heatmap.min())
    scaled = (heatmap - heatmap.min()) / span if span > 0 else np.zeros_like(heatmap)
    colours = colormaps["inferno"](scaled)[..., :3] * 255.0
    if scene is not None:
        colours = OVERLAY_ALPHA * colours + (1 - OVERLAY_ALPHA) * scene.astype(np.float64)
    return colours.round().astype(np.uint8)


def mark(image: np.ndarray, point: tuple[int, int], colour: np.ndarray = MARK_COLOR) -> np.ndarray:
    """Copy of ``image`` (H, W, 3) with a small cross at (row, col)."""
    out = image.copy()
    row, col = int(point[0]), int(point[1])
    height, width = out.shape[:2]
    out[row, max(0, col - 2):min(width, col + 3)] = colour
    out[max(0, row - 2):min(height, row + 3), col] = colour
    return out


def frame(image: np.ndarray, colour: np.ndarray, width: int = 2) -> np.ndarray:
    """Copy of ``image`` with a coloured border ``width`` pixels wide."""
    out = image.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def grid(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile equally sized (H, W, 3) uint8 images row by row with a white gap."""
    height, width = rows[0][0].shape[:2]
    columns = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            canvas[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = image
    return canvas


def save_png(image: np.ndarray, path: str | Path, scale: int = 3) -> Path:
    """Write ``image`` (H, W, 3) uint8 upscaled ``scale``× (nearest) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(image)
    picture = picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST)
    with atomic_path(path) as temp:
        picture.save(temp, format="PNG")
    return path


def plot_history(history: str | Path, path: str | Path) -> Path:
    """Training curves from a run's ``history.jsonl``: total and n-pairs losses, and validation pair
    retrieval, against the step. Written atomically as a PNG."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    entries = [json.loads(line) for line in Path(history).read_text().splitlines() if line.strip()]
    losses = {e["step"]: e for e in entries if "train/loss" in e}  # a resumed run's later entries win
    retrieval = {e["step"]: e["val/pair_retrieval_top1"] for e in entries if "val/pair_retrieval_top1" in e}
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    steps = sorted(losses)
    for key in ("train/loss", "train/npairs_scene", "train/npairs_outcome"):
        left.plot(steps, [losses[s][key] for s in steps], label=key.removeprefix("train/"), linewidth=1)
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.legend()
    right.plot(sorted(retrieval), [retrieval[s] for s in sorted(retrieval)], marker="o")
    right.set_xlabel("step")
    right.set_ylabel("validation pair retrieval top-1")
    right.set_ylim(0, 1)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=100)
    plt.close(figure)
    return path
