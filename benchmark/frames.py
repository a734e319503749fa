"""Frames of a benchmark trial for the demo GIF: scene, goal and heatmap panels with a caption."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SCALE = 4  # display pixels per image pixel
FRAME_MS = 250
LAST_FRAME_MS = 1200


def heatmap_rgb(heat: np.ndarray, scene: np.ndarray) -> np.ndarray:
    """uint8 heatmap (H, W) blended in red over the scene (H, W, 3) → (H, W, 3) uint8."""
    red = np.zeros_like(scene)
    red[..., 0] = heat
    return (0.45 * scene + 0.55 * red).astype(np.uint8)


def panel(images: list[np.ndarray], caption: str) -> Image.Image:
    """Images (H, W, 3) side by side, scaled by ``SCALE``, with a caption line below."""
    tiles = [Image.fromarray(image).resize((image.shape[1] * SCALE, image.shape[0] * SCALE), Image.NEAREST)
             for image in images]
    width, height = sum(t.width for t in tiles), max(t.height for t in tiles)
    frame = Image.new("RGB", (width, height + 16), "white")
    x = 0
    for tile in tiles:
        frame.paste(tile, (x, 0))
        x += tile.width
    ImageDraw.Draw(frame).text((4, height + 2), caption, fill="black")
    return frame
