"""Scoring a reward against ground truth: ROC-AUC, precision and recall on labelled grasp outcomes.

Positive pairs show the same object in goal and outcome, negatives another object; failed attempts
and outcomes holding the goal's object *with another* are scored too (the benchmark counts those as
failures). ``python -m runs.eval_reward`` is the command; :mod:`rewards.quality` draws the pairs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from common.io import atomic_path
from common.protocols import GraspContext, RewardFunction
from common.stats import roc_auc
from rewards.quality import (
    Pairs,
    make_pairs,
    precision_recall,
    with_another_pairs,
)
from rewards.similarity import EmbeddingSimilarityReward

DEFAULT_THRESHOLD = 0.5  # for rewards without a threshold of their own (0/1 rewards)
SCORE_CHUNK = 512  # contexts scored per reward.batch call


def score_pairs(reward: RewardFunction, outcomes: np.ndarray, objects: list[str], apertures: np.ndarray,
                pairs: Pairs) -> np.ndarray:
    """Reward of each pair (N,) float: goal = outcome image of grasp ``pairs.goal[i]``; the scored
    attempt is grasp ``pairs.outcome[i]`` (its image and measured aperture, NaN when not recorded)."""
    contexts = [GraspContext(goal_image=outcomes[g], outcome_image=outcomes[o], lifted=(objects[o],),
                             target=objects[g], gripper_aperture=float(apertures[o]))
                for g, o in zip(pairs.goal, pairs.outcome, strict=True)]
    return _score(reward, contexts)


def score_failures(reward: RewardFunction, failed: tuple[np.ndarray, np.ndarray], goals: np.ndarray,
                   goal_objects: list[str], seed: int) -> np.ndarray:
    """Reward of failed attempts (nothing lifted; images and apertures) (N,) float, each against a random goal."""
    images, apertures = failed
    rng = np.random.default_rng(seed)
    chosen = rng.integers(len(goals), size=len(images))
    contexts = [GraspContext(goal_image=goals[g], outcome_image=image, lifted=(), target=goal_objects[g],
                             gripper_aperture=float(aperture))
                for g, image, aperture in zip(chosen, images, apertures, strict=True)]
    return _score(reward, contexts)


def score_with_another(reward: RewardFunction, multi: tuple[np.ndarray, list[tuple[str, ...]], np.ndarray],
                       goals: np.ndarray, goal_objects: list[str], seed: int) -> np.ndarray:
    """Reward of multi-object outcomes (images, lifted names, apertures) (M,) float, each against a
    single-object goal of one of the objects it lifted (:func:`rewards.quality.with_another_pairs`)."""
    images, lifted, apertures = multi
    goal, outcome, target = with_another_pairs(goal_objects, lifted, seed)
    contexts = [GraspContext(goal_image=goals[g], outcome_image=images[o], lifted=lifted[o], target=name,
                             gripper_aperture=float(apertures[o]))
                for g, o, name in zip(goal, outcome, target, strict=True)]
    return _score(reward, contexts)


def _score(reward: RewardFunction, contexts: list[GraspContext]) -> np.ndarray:
    parts = [np.asarray(reward.batch(contexts[i:i + SCORE_CHUNK]), dtype=np.float64)
             for i in tqdm(range(0, len(contexts), SCORE_CHUNK), desc="scoring", leave=False)]
    return np.concatenate(parts) if parts else np.zeros(0)


def embedding_diagnostics(reward: EmbeddingSimilarityReward, outcomes: np.ndarray, apertures: np.ndarray,
                          pairs: Pairs) -> dict[str, Any]:
    """The similarity alone (no gate): its ROC-AUC; and the share of the successful grasps that each
    available gate keeps (image classifier, measured aperture) and that the reward's own gate keeps."""
    embeddings = reward.embed(outcomes)
    similarity = np.sum(embeddings[pairs.goal] * embeddings[pairs.outcome], axis=1)
    result: dict[str, Any] = {"similarity_roc_auc": roc_auc(similarity, pairs.label), "gate": reward.presence}
    if reward.presence_classifier is not None:
        result["presence_kept_fraction"] = float(np.mean(reward.holds_object(outcomes)))
    aperture_threshold = reward.calibration.aperture_threshold if reward.calibration is not None else None
    if aperture_threshold is not None and np.all(np.isfinite(apertures)):
        result["aperture_kept_fraction"] = float(np.mean(apertures >= aperture_threshold))
    kept = {"image": "presence_kept_fraction", "gripper": "aperture_kept_fraction"}.get(reward.presence)
    result["gate_kept_fraction"] = result.get(kept, float("nan")) if kept else 1.0
    return result


def evaluate_set(reward: RewardFunction, outcomes: np.ndarray, objects: list[str], apertures: np.ndarray,
                 threshold: float, seed: int, failed: tuple[np.ndarray, np.ndarray] | None = None,
                 multi: tuple[np.ndarray, list[tuple[str, ...]], np.ndarray] | None = None
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics of one object set, and the raw scores (``positive``, ``negative``, ``failed``,
    ``with another``) for figures. ``apertures`` (N,) are the successful grasps' measured apertures;
    ``failed`` (images, apertures); ``multi`` (images, lifted names, apertures) of multi-object grasps."""
    pairs = make_pairs(objects, seed)
    if pairs.label.all() or not pairs.label.any():
        raise ValueError(f"{len(objects)} grasps of {len(set(objects))} objects give no positive or no negative "
                         "pair: each needs some object grasped twice and more than one object; use more grasps")
    scores = score_pairs(reward, outcomes, objects, apertures, pairs)
    raw = {"positive": scores[pairs.label == 1], "negative": scores[pairs.label == 0]}
    result: dict[str, Any] = {
        "grasps": len(objects), "distinct_objects": len(set(objects)), "pairs": len(pairs),
        "positives": int(pairs.label.sum()), "negatives": int((pairs.label == 0).sum()),
        "roc_auc": roc_auc(scores, pairs.label), "threshold": threshold,
        **precision_recall(scores, pairs.label, threshold),
        "score_quantiles": {k: np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95]).round(4).tolist()
                            for k, v in raw.items() if len(v)},
    }
    if isinstance(reward, EmbeddingSimilarityReward):
        result.update(embedding_diagnostics(reward, outcomes, apertures, pairs))
    if failed is not None:
        raw["failed"] = score_failures(reward, failed, outcomes, objects, seed)
        result["failed_attempts"] = {"count": len(failed[0]),
                                     "rewarded_fraction": float(np.mean(raw["failed"] >= threshold)),
                                     "nonzero_fraction": float(np.mean(raw["failed"] != 0.0))}
    if multi is not None:
        with_another = score_with_another(reward, multi, outcomes, objects, seed)
        if len(with_another):
            raw["with another"] = with_another
            labels = np.r_[np.ones(len(raw["positive"])), np.zeros(len(with_another))]
            result["with_another"] = {
                "count": len(with_another), "rewarded_fraction": float(np.mean(with_another >= threshold)),
                "roc_auc_vs_positives": roc_auc(np.r_[raw["positive"], with_another], labels)}
    return result, raw


def plot_scores(raw: dict[str, dict[str, np.ndarray]], results: dict[str, dict[str, Any]], title: str,
                path: Path) -> None:
    """Histograms of positive / negative (/ failed / with another) scores per object set, with the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(raw), figsize=(5 * len(raw), 3.4), squeeze=False)
    colours = {"positive": "tab:green", "negative": "tab:red", "failed": "tab:gray", "with another": "tab:orange"}
    for axis, (name, scores) in zip(axes[0], raw.items(), strict=True):
        low = min(float(v.min()) for v in scores.values() if len(v))
        high = max(float(v.max()) for v in scores.values() if len(v))
        bins = np.linspace(low, high + 1e-6, 41)
        for kind, values in scores.items():
            axis.hist(values, bins=bins, alpha=0.55, color=colours[kind], label=f"{kind} ({len(values)})",
                      density=True)
        axis.axvline(results[name]["threshold"], color="black", linestyle="--", label="threshold")
        axis.set_title(f"{name}: AUC {results[name]['roc_auc']:.3f}")
        axis.set_xlabel("reward")
        axis.legend(fontsize=7)
    figure.suptitle("\n".join(textwrap.wrap(title, width=60 * len(raw))), fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=110)
    plt.close(figure)


def markdown_table(reports: list[dict[str, Any]]) -> str:
    """One row per (report, object set): AUC, precision / recall at the threshold, failed attempts rewarded."""
    lines = ["| reward | objects | ROC-AUC | similarity ROC-AUC (no gate) | successes kept by the gate | threshold "
             "| precision | recall | pairs (+/−) | failed grasps: reward ≠ 0 / ≥ threshold "
             "| with another: ≥ threshold (AUC vs +) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for report in (r for r in reports if "sets" in r):  # other JSON (e.g. benchmarks) is skipped
        label = report["reward"] + "".join(f" {k}={v}" for k, v in report["reward_kwargs"].items()
                                           if k != "checkpoint")
        for name, r in report["sets"].items():
            failed = r.get("failed_attempts")
            failed_text = (f"{failed['nonzero_fraction']:.3f} / {failed['rewarded_fraction']:.3f} of {failed['count']}"
                           if failed else "—")
            another = r.get("with_another")
            another_text = (f"{another['rewarded_fraction']:.3f} of {another['count']} "
                            f"({another['roc_auc_vs_positives']:.3f})" if another else "—")
            similarity = f"{r['similarity_roc_auc']:.3f}" if "similarity_roc_auc" in r else "—"
            kept = r.get("gate_kept_fraction", r.get("presence_kept_fraction"))
            kept = "—" if kept is None else f"{kept:.3f}"
            lines.append(f"| {label} | {name} | {r['roc_auc']:.3f} | {similarity} | {kept} | {r['threshold']:.3f} "
                         f"| {r['precision']:.3f} "
                         f"| {r['recall']:.3f} | {r['positives']}/{r['negatives']} | {failed_text} | {another_text} |")
    return "\n".join(lines)
