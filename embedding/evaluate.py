"""Held-out evaluation of a Grasp2Vec model: retrieval and localization, with figures.

- **Retrieval top-1**: for each held-out grasp, the outcome embedding nearest to
  φ_s(pre) − φ_s(post) among the outcomes of all held-out grasps (its own included) must show the
  same object. Scored by dot product (the training objective) and by cosine similarity.
- **Localization**: the argmax of the heatmap of a goal on the pre-grasp scene must fall on the
  lifted object's pixels (ground-truth mask). The goal is the outcome image of the same object from
  *another* held-out grasp when the set has one; otherwise, if a :class:`envs.goal_bank.GoalBank`
  is given, an outcome image from an episode of its own (the object grasped alone), as the
  instance task's goals are made. Both subsets are reported separately too.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.stats import wilson_interval
from embedding.figures import HIT_COLOR, MISS_COLOR, colorize, frame, grid, mark, save_png
from embedding.heatmap import DENSE, PLAIN, UNCENTRED, HeatmapReadout, goal_heatmap, localize
from embedding.metrics import localization_hits, retrieval_top1
from embedding.model import Grasp2Vec


@dataclass
class HeldOutGrasps:
    """Successful held-out grasps in memory: images uint8 (N, H, W, 3), ``masks`` (N, H, W) bool
    (the lifted object's pixels in ``pre``), ``objects`` (N,) lifted object names, and ``urdfs``
    (name → URDF path, for goal-bank goals; may be empty)."""

    pre: np.ndarray
    post: np.ndarray
    outcome: np.ndarray
    masks: np.ndarray
    objects: list[str]
    urdfs: dict[str, str]

    def __post_init__(self) -> None:
        n = len(self.pre)
        if not (len(self.post) == len(self.outcome) == len(self.masks) == len(self.objects) == n):
            raise ValueError("pre, post, outcome, masks and objects must have one entry per grasp")

    def __len__(self) -> int:
        return len(self.pre)

    @property
    def image_size(self) -> int:
        return int(self.pre.shape[1])

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], urdfs: dict[str, str] | None = None) -> HeldOutGrasps:
        """From items shaped like ``EvaluationGrasps[i]`` (pre, post, outcome, object, pre_object_mask)."""
        if not records:
            raise ValueError("no held-out grasps to evaluate")
        return cls(pre=np.stack([r["pre"] for r in records]), post=np.stack([r["post"] for r in records]),
                   outcome=np.stack([r["outcome"] for r in records]),
                   masks=np.stack([np.asarray(r["pre_object_mask"], dtype=bool) for r in records]),
                   objects=[str(r["object"]) for r in records], urdfs=dict(urdfs or {}))


GoalSource = Callable[[str], np.ndarray | None]  # object name -> goal image (H, W, 3) uint8, or None


@dataclass
class GoalChoice:
    """Goal image per grasp (N, H, W, 3) and where it came from: ``heldout``, ``bank`` or ``none``."""

    images: np.ndarray
    sources: list[str]
    partners: list[int]  # index of the other held-out grasp used, -1 otherwise


def choose_goals(grasps: HeldOutGrasps, seed: int, fallback: GoalSource | None = None) -> GoalChoice:
    """For each grasp, an outcome image of the same object from another grasp (uniform among the
    held-out set's others; else ``fallback(name)``; else none)."""
    rng = np.random.default_rng(seed)
    by_object: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(grasps.objects):
        by_object[name].append(index)
    images = np.zeros_like(grasps.outcome)
    sources, partners = [], []
    for index, name in enumerate(grasps.objects):
        others = [j for j in by_object[name] if j != index]
        goal = None
        if others:
            partner = int(others[rng.integers(len(others))])
            images[index], source = grasps.outcome[partner], "heldout"
        else:
            partner = -1
            goal = fallback(name) if fallback is not None else None
            source = "bank" if goal is not None else "none"
            if goal is not None:
                images[index] = goal
        sources.append(source)
        partners.append(partner)
    return GoalChoice(images=images, sources=sources, partners=partners)


@torch.no_grad()
def embed_held_out(model: Grasp2Vec, grasps: HeldOutGrasps, batch_size: int = 128, flip_average: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(φ_s(pre) − φ_s(post), φ_o(outcome)) for all grasps, each (N, D). With ``flip_average`` each is the
    mean over the images as they are and mirrored left to right (training's flip augmentation, at test time)."""
    model.eval()
    differences, outcomes = [], []
    for start in range(0, len(grasps), batch_size):
        part = slice(start, start + batch_size)
        images = [torch.from_numpy(grasps.pre[part]), torch.from_numpy(grasps.post[part]),
                  torch.from_numpy(grasps.outcome[part])]
        difference, outcome = model(*images)
        if flip_average:
            mirrored_difference, mirrored_outcome = model(*(image.flip(2) for image in images))  # (B, H, W, 3): W
            difference, outcome = (difference + mirrored_difference) / 2, (outcome + mirrored_outcome) / 2
        differences.append(difference)
        outcomes.append(outcome)
    return torch.cat(differences), torch.cat(outcomes)


@torch.no_grad()
def heatmaps(model: Grasp2Vec, goals: np.ndarray, scenes: np.ndarray, readout: HeatmapReadout = PLAIN,
             batch_size: int = 128) -> np.ndarray:
    """Goal heatmaps (N, H, W) float32 of ``goals`` on ``scenes`` (both uint8 (N, H, W, 3)), read as
    ``readout`` says."""
    model.eval()
    parts = [goal_heatmap(model, goals[s:s + batch_size], scenes[s:s + batch_size], readout).cpu().numpy()
             for s in range(0, len(scenes), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def readout_name(readout: HeatmapReadout) -> str:
    """Short label of a heatmap readout for tables: ``uncentred``, ``centred``, ``centred, 2x2 shifts``."""
    name = "centred" if readout.centred else "uncentred"
    return name if readout.shifts == 1 else f"{name}, {readout.shifts}x{readout.shifts} shifts"


def _rate(hits: np.ndarray) -> dict[str, Any]:
    count, total = int(np.sum(hits)), int(len(hits))
    low, high = wilson_interval(count, total)
    return {"rate": count / total if total else None, "hits": count, "n": total, "wilson95": [low, high]}


@dataclass
class EvaluationResult:
    """Figures (``metrics``, JSON-ready) and per-grasp details used for the PNG grids."""

    metrics: dict[str, Any]
    nearest: np.ndarray  # (N,) retrieved pool index (dot product)
    goals: GoalChoice
    heat: np.ndarray  # (N, H, W) heatmaps
    points: np.ndarray  # (N, 2) argmax (row, col)
    hits: np.ndarray  # (N,) localization hit (False where there was no goal)


def evaluate_model(model: Grasp2Vec, grasps: HeldOutGrasps, goals: GoalChoice,
                   readout: HeatmapReadout = DENSE, flip_average: bool = False) -> EvaluationResult:
    """Retrieval (pool = every held-out outcome) and localization for one model, its heatmaps read as
    ``readout`` says; ``localization_by_readout`` also scores the single-read and the uncentred maps.
    ``flip_average``: retrieval embeddings averaged with their mirror images (:func:`embed_held_out`)."""
    if grasps.image_size != model.config.image_size:
        raise ValueError(f"held-out images are {grasps.image_size} px, the model expects {model.config.image_size}")
    differences, outcomes = embed_held_out(model, grasps, flip_average=flip_average)
    metrics: dict[str, Any] = {"grasps": len(grasps), "pool": len(grasps), "objects": len(set(grasps.objects)),
                               "flip_average": flip_average}
    nearest = np.zeros(len(grasps), dtype=np.int64)
    for metric in ("dot", "cosine"):
        _, found = retrieval_top1(differences, outcomes, grasps.objects, grasps.objects, metric)
        correct = np.array([grasps.objects[i] == grasps.objects[j] for i, j in enumerate(found)])
        metrics[f"retrieval_top1_{metric}"] = _rate(correct)
        if metric == "dot":
            nearest = found
    has_goal = np.array([s != "none" for s in goals.sources])
    metrics["heatmap_readout"] = dataclasses.asdict(readout)
    metrics["localization_by_readout"] = {}
    for other in (UNCENTRED, PLAIN):
        if other != readout:
            found = localization_hits(localize(heatmaps(model, goals.images, grasps.pre, other)), grasps.masks)
            metrics["localization_by_readout"][readout_name(other)] = _rate(found[has_goal])
    heat = heatmaps(model, goals.images, grasps.pre, readout)
    points = localize(heat)
    hits = localization_hits(points, grasps.masks) & has_goal
    metrics["localization"] = _rate(hits[has_goal])
    metrics["localization_by_readout"][readout_name(readout)] = metrics["localization"]
    for source in ("heldout", "bank"):
        chosen = np.array([s == source for s in goals.sources])
        metrics[f"localization_{source}_goals"] = _rate(hits[chosen])
    metrics["grasps_without_goal"] = int((~has_goal).sum())
    return EvaluationResult(metrics=metrics, nearest=nearest, goals=goals, heat=heat, points=points, hits=hits)


def heatmap_grid(grasps: HeldOutGrasps, result: EvaluationResult, rows: int = 8, columns: int = 2) -> np.ndarray:
    """Each cell: [scene with the object's mask outline | goal | heatmap + argmax], framed green/red."""
    chosen = [i for i in range(len(grasps)) if result.goals.sources[i] != "none"][: rows * columns]
    cells = []
    for i in chosen:
        scene = grasps.pre[i].copy()
        mask = grasps.masks[i]
        edge = mask & ~np.roll(mask, 1, axis=0) | mask & ~np.roll(mask, 1, axis=1)
        scene[edge] = (255, 255, 255)
        overlay = mark(colorize(result.heat[i], grasps.pre[i]), tuple(result.points[i]))
        colour = HIT_COLOR if result.hits[i] else MISS_COLOR
        cells.append(np.concatenate([scene, result.goals.images[i], frame(overlay, colour)], axis=1))
    return grid([cells[r * columns:(r + 1) * columns] for r in range(int(np.ceil(len(cells) / columns)))])


def retrieval_grid(grasps: HeldOutGrasps, result: EvaluationResult, rows: int = 8, columns: int = 2) -> np.ndarray:
    """Each cell: [pre | post | retrieved outcome (green = same object, red = other) | true outcome]."""
    cells = []
    for i in range(min(len(grasps), rows * columns)):
        found = int(result.nearest[i])
        colour = HIT_COLOR if grasps.objects[found] == grasps.objects[i] else MISS_COLOR
        cells.append(np.concatenate([grasps.pre[i], grasps.post[i], frame(grasps.outcome[found], colour),
                                     grasps.outcome[i]], axis=1))
    return grid([cells[r * columns:(r + 1) * columns] for r in range(int(np.ceil(len(cells) / columns)))])


def save_figures(grasps: HeldOutGrasps, result: EvaluationResult, prefix: str | Path) -> list[Path]:
    """Write ``PREFIX_retrieval.png`` and (when any grasp has a goal) ``PREFIX_heatmaps.png``; returns the paths."""
    prefix = Path(prefix)
    written = [save_png(retrieval_grid(grasps, result), prefix.with_name(prefix.name + "_retrieval.png"))]
    if any(source != "none" for source in result.goals.sources):
        written.append(save_png(heatmap_grid(grasps, result), prefix.with_name(prefix.name + "_heatmaps.png")))
    return written


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table: one row per model, retrieval and localization with Wilson 95% intervals."""
    def cell(entry: dict[str, Any]) -> str:
        if entry["rate"] is None:
            return "—"
        low, high = entry["wilson95"]
        return f"{100 * entry['rate']:.1f}% [{100 * low:.1f}, {100 * high:.1f}] (n={entry['n']})"

    lines = ["| model | retrieval top-1 (dot) | retrieval top-1 (cosine) | localization |",
             "|---|---|---|---|"]
    for name, m in results.items():
        lines.append(f"| {name} | {cell(m['retrieval_top1_dot'])} | {cell(m['retrieval_top1_cosine'])} | "
                     f"{cell(m['localization'])} |")
    readouts = list(next(iter(results.values()), {}).get("localization_by_readout", {}))
    if readouts:
        lines += ["", "Localization by heatmap readout (embedding.heatmap.HeatmapReadout):", "",
                  "| model | " + " | ".join(readouts) + " |", "|---|" + "---|" * len(readouts)]
        lines += [f"| {name} | " + " | ".join(cell(m["localization_by_readout"][r]) for r in readouts) + " |"
                  for name, m in results.items()]
    return "\n".join(lines)


def format_sets_table(reports: dict[str, dict[str, Any]], model: str = "trained") -> str:
    """Markdown table with one column per object set: ``reports`` maps a set's label (``seen``, ``unseen``, a
    custom folder) to its ``runs.eval_embedding`` JSON; rows are retrieval (dot, cosine) and localization of
    ``model``, each a rate with its Wilson 95 % interval and n, plus the pool size and distinct objects."""
    def cell(entry: dict[str, Any]) -> str:
        if entry["rate"] is None:
            return "—"
        low, high = entry["wilson95"]
        return f"{100 * entry['rate']:.1f} % [{100 * low:.1f}, {100 * high:.1f}] (n={entry['n']:,})"

    labels = list(reports)
    rows = [("retrieval top-1 (dot)", "retrieval_top1_dot"), ("retrieval top-1 (cosine)", "retrieval_top1_cosine"),
            ("localization", "localization")]
    pools = [f"{r['held_out']['grasps']:,} / {r['held_out']['distinct_objects']:,}" for r in reports.values()]
    lines = ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels),
             "| pool (grasps / objects) | " + " | ".join(pools) + " |"]
    lines += [f"| {title} | " + " | ".join(cell(r["models"][model][key]) for r in reports.values()) + " |"
              for title, key in rows]
    return "\n".join(lines)
