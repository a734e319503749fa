"""Training curves as a PNG: success rate (Wilson 95 % band) vs training grasps and vs wall time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.io import atomic_path


def plot_curves(evals: list[dict[str, float]], path: Path, title: str) -> None:
    """Write ``path`` (PNG, atomically) from evaluations with ``success_rate``, bounds, ``grasps`` and ``wall_s``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    rate = np.array([e["success_rate"] for e in evals])
    low, high = np.array([e["success_low"] for e in evals]), np.array([e["success_high"] for e in evals])
    for ax, key, label in ((axes[0], "grasps", "training grasps"), (axes[1], "wall_s", "wall time (min)")):
        x = np.array([e[key] for e in evals]) / (60.0 if key == "wall_s" else 1.0)
        ax.plot(x, rate, marker="o")
        ax.fill_between(x, low, high, alpha=0.25)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("eval success rate")
    axes[0].set_ylim(0, 1)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as temp:
        fig.savefig(temp, dpi=110)
    plt.close(fig)
