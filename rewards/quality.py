"""Measuring how good a reward is: goal/outcome pairs with known answers, ROC-AUC, precision, recall.

Used by ``python -m runs.eval_reward`` and ``python -m runs.calibrate_reward``. Ground truth (the
object each outcome shows) is read here, for evaluation only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Pairs:
    """Goal/outcome index pairs into one list of grasps, with labels (1: same object, 0: another)."""

    goal: np.ndarray  # (N,) int, index of the grasp whose outcome image is the goal
    outcome: np.ndarray  # (N,) int, index of the grasp being scored
    label: np.ndarray  # (N,) int8

    def __len__(self) -> int:
        return len(self.label)


def make_pairs(objects: Sequence[str], seed: int = 0) -> Pairs:
    """Balanced pairs: each grasp i whose object was grasped at least twice gets one positive (goal =
    another grasp of the same object) and one negative (goal = a grasp of another object, when
    there is one), drawn with ``seed``. Grasps of objects seen once give no pair."""
    rng = np.random.default_rng(seed)
    names = np.asarray(objects)
    by_object: dict[str, np.ndarray] = {name: np.flatnonzero(names == name) for name in set(objects)}
    goal, outcome, label = [], [], []
    for i, name in enumerate(objects):
        same = by_object[name][by_object[name] != i]
        if len(same) == 0 or len(by_object[name]) == len(names):
            continue
        other = int(rng.integers(len(names)))
        while names[other] == name:
            other = int(rng.integers(len(names)))
        goal += [int(rng.choice(same)), other]
        outcome += [i, i]
        label += [1, 0]
    return Pairs(np.asarray(goal, dtype=np.int64), np.asarray(outcome, dtype=np.int64),
                 np.asarray(label, dtype=np.int8))


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, false-positive rate and accuracy of the rule ``score >= threshold``."""
    predicted = np.asarray(scores) >= threshold
    labels = np.asarray(labels).astype(bool)
    tp = int(np.sum(predicted & labels))
    fp = int(np.sum(predicted & ~labels))
    positives, negatives = int(labels.sum()), int((~labels).sum())
    return {
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(positives, 1),
        "false_positive_rate": fp / max(negatives, 1),
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else 0.0,
    }


def load_labelled_outcomes(root: str, split: str = "all", seed: int = 0, limit: int | None = None,
                           val_fraction: float = 0.1) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Outcome images (N, S, S, 3) uint8, the name of the object each shows and the measured gripper
    aperture of each attempt (N,) float (m, NaN where not recorded), from the successful grasps of
    a dataset folder (``embedding.dataset.EvaluationGrasps``); the first ``limit`` only."""
    from embedding.dataset import EvaluationGrasps

    grasps = EvaluationGrasps(root, split=split, val_fraction=val_fraction, seed=seed)
    count = len(grasps) if limit is None else min(limit, len(grasps))
    if count == 0:
        raise ValueError(f"{root} (split {split!r}) holds no successful grasps")
    items = [grasps[i] for i in range(count)]
    return (np.stack([item["outcome"] for item in items]), [str(item["object"]) for item in items],
            np.array([item["aperture"] for item in items], dtype=np.float64))


def failed_outcomes(root: str | Path, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Outcome images (N, S, S, 3) and measured apertures (N,) (m, NaN where not recorded) of up to
    ``limit`` grasp attempts that lifted nothing, from the folder's ``EpisodeDataset``; None when the
    folder does not record failures."""
    try:
        from embedding.dataset import EpisodeDataset

        episodes = EpisodeDataset(root)
    except (ImportError, ValueError, OSError):
        return None
    images, apertures = [], []
    for index in range(len(episodes)):
        if len(images) >= limit:
            break
        item = episodes[index]
        if item.get("grasp_attempted", True) and not item["success"]:
            images.append(item["outcome"])
            apertures.append(item.get("aperture", np.nan))
    return (np.stack(images), np.array(apertures, dtype=np.float64)) if images else None


def multi_object_outcomes(root: str | Path, limit: int) -> tuple[np.ndarray, list[tuple[str, ...]], np.ndarray] | None:
    """Outcome images (N, S, S, 3) uint8, the names of the objects each lifted and the measured
    apertures (N,) (m, NaN where not recorded) of up to ``limit`` grasps that lifted several objects
    together (``embedding.dataset.MultiObjectGrasps``); None when the folder has none."""
    from embedding.dataset import MultiObjectGrasps

    grasps = MultiObjectGrasps(root)
    items = [grasps[i] for i in range(min(limit, len(grasps)))]
    if not items:
        return None
    return (np.stack([item["outcome"] for item in items]), [item["objects"] for item in items],
            np.array([item["aperture"] for item in items], dtype=np.float64))


def with_another_pairs(objects: Sequence[str], lifted: Sequence[tuple[str, ...]], seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Goals for outcomes that show their object *with another*: for multi-object grasp j, one of the
    objects it lifted that a single-object grasp also shows, drawn with ``seed``, and a random such
    grasp as the goal. Returns (goal indices into ``objects`` (M,), multi-object indices (M,), the goal
    objects); multi-object grasps whose objects no single grasp shows give no pair."""
    rng = np.random.default_rng(seed)
    names = np.asarray(objects)
    goal, outcome, target = [], [], []
    for j, together in enumerate(lifted):
        candidates = [name for name in together if np.any(names == name)]
        if not candidates:
            continue
        name = candidates[int(rng.integers(len(candidates)))]
        goal.append(int(rng.choice(np.flatnonzero(names == name))))
        outcome.append(j)
        target.append(name)
    return np.asarray(goal, dtype=np.int64), np.asarray(outcome, dtype=np.int64), target
