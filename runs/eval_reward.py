"""How good is a reward? ROC-AUC, precision and recall on held-out grasps with ground truth.

    python -m runs.eval_reward --reward grasp2vec --objects seen unseen --json runs/out/rewards/grasp2vec.json

For each object set, the outcome image of every successful held-out grasp of an object grasped
at least twice is scored twice: against the outcome image of *another* grasp of the same object
(positive) and of a grasp of another object (negative), with the pairs drawn by ``--seed``
(:func:`rewards.quality.make_pairs`; balanced). The
reward sees the goal and outcome images (and, for ground-truth rewards, which object was lifted
and which was the target). Reported per set: ROC-AUC of the reward's scores, precision / recall /
false-positive rate of ``score >= threshold`` (the reward's calibrated threshold, 0.5 for 0/1
rewards, or ``--threshold``), and, when the folder records failed attempts
(``EpisodeDataset``), how often a grasp that lifted nothing is rewarded, and, when it holds grasps
that lifted several objects together, how often such an outcome is rewarded for a goal showing
one of them alone (the benchmark counts that trial as a failure: "the target, and no other").
Writes the JSON and a PNG of the score distributions beside it.

Data: ``runs/out/data/{seen,unseen}-heldout`` (``--data-root``; ``--data SET=FOLDER`` for one
set), or ``--collect N`` to grasp N times on the spot with the scripted indiscriminate policy
(seeds from ``--collect-seed``).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from common.io import atomic_write_text
from common.protocols import GraspContext, RewardFunction
from common.provenance import command_line, machine_description
from rewards.quality import (
    Pairs,
    failed_outcomes,
    load_labelled_outcomes,
    make_pairs,
    multi_object_outcomes,
    precision_recall,
    roc_auc,
    with_another_pairs,
)
from rewards.registry import make_reward, parse_reward_kwargs
from rewards.similarity import EmbeddingSimilarityReward

DEFAULT_THRESHOLD = 0.5  # for rewards without a threshold of their own (0/1 rewards)
SCORE_CHUNK = 512  # contexts scored per reward.batch call
COLLECT_SEED = {"seen": 7_000_000, "unseen": 8_000_000}  # disjoint from collection and training seeds


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
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temp, dpi=110)
    plt.close(figure)
    temp.replace(path)


def load_set(name: str, args: argparse.Namespace
             ) -> tuple[np.ndarray, list[str], np.ndarray, tuple[np.ndarray, np.ndarray] | None,
                        tuple[np.ndarray, list[tuple[str, ...]], np.ndarray] | None, str]:
    """(outcomes, objects, their apertures, failed (outcomes, apertures) or None, multi-object grasps
    (outcomes, lifted names, apertures) or None, description of the source) of one object set."""
    if args.collect:
        from embedding.heldout import collect_held_out

        seed = args.collect_seed + COLLECT_SEED[name]
        grasps = collect_held_out(name, args.collect, seed, image_size=args.image_size)
        return (grasps.outcome, grasps.objects, np.full(len(grasps.objects), np.nan), None, None,
                f"collected: {args.collect} attempts, seeds from {seed}")
    root = Path(dict(item.split("=", 1) for item in args.data).get(name, Path(args.data_root) / f"{name}-heldout"))
    outcomes, objects, apertures = load_labelled_outcomes(str(root), "all", args.seed, args.limit)
    multi = multi_object_outcomes(root, args.failures)
    return outcomes, objects, apertures, failed_outcomes(root, args.failures), multi, str(root)


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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--table":
        print(markdown_table([json.loads(Path(path).read_text()) for path in argv[1:]]))
        return {}
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="python -m runs.eval_reward --table A.json B.json ...: Markdown table")
    parser.add_argument("--reward", required=True, help="built-in name or package.module:ClassName")
    parser.add_argument("--reward-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="constructor argument of the reward (repeatable), e.g. checkpoint=checkpoints/grasp2vec")
    parser.add_argument("--objects", nargs="+", choices=["seen", "unseen"], default=["seen", "unseen"])
    parser.add_argument("--json", type=Path, required=True, help="output JSON; the PNG goes beside it")
    parser.add_argument("--data-root", default="runs/out/data", help="folder holding {seen,unseen}-heldout")
    parser.add_argument("--data", action="append", default=[], metavar="SET=FOLDER",
                        help="dataset folder of one object set, e.g. unseen=runs/out/other/unseen (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many successful grasps per set")
    parser.add_argument("--failures", type=int, default=500,
                        help="failed attempts, and multi-object grasps, scored per set (if recorded)")
    parser.add_argument("--collect", type=int, default=0, help="instead of --data-root, grasp N times on the spot")
    parser.add_argument("--collect-seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64, help="image size when collecting")
    parser.add_argument("--threshold", type=float, default=None, help="override the reward's threshold")
    parser.add_argument("--seed", type=int, default=0, help="seed of the goal/outcome pairing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy machine)")
    args = parser.parse_args(argv)
    unknown = [item for item in args.data if item.split("=", 1)[0] not in ("seen", "unseen") or "=" not in item]
    if unknown:
        parser.error(f"--data takes seen=FOLDER or unseen=FOLDER, got {unknown}")
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    kwargs = parse_reward_kwargs(args.reward_arg)
    reward = make_reward(args.reward, **kwargs)
    own = getattr(reward, "threshold", None)
    threshold = args.threshold if args.threshold is not None else (own if own is not None else DEFAULT_THRESHOLD)
    results, raw, sources = {}, {}, {}
    for name in args.objects:
        outcomes, objects, apertures, failed, multi, sources[name] = load_set(name, args)
        results[name], raw[name] = evaluate_set(reward, outcomes, objects, apertures, threshold, args.seed, failed,
                                                multi)
        results[name]["data"] = sources[name]
        print(f"{args.reward} {name}: AUC {results[name]['roc_auc']:.4f}  precision {results[name]['precision']:.3f}"
              f"  recall {results[name]['recall']:.3f} at {threshold:.4f}  ({results[name]['pairs']} pairs)")
    report = {
        "reward": args.reward, "reward_kwargs": kwargs, "threshold": threshold,
        "threshold_source": "argument" if args.threshold is not None else ("reward" if own is not None else "default"),
        "sets": results, "seed": args.seed, "machine": machine_description(),
        "wall_time_s": round(time.perf_counter() - began, 1), "command": command_line("runs.eval_reward", argv),
    }
    atomic_write_text(args.json, json.dumps(report, indent=1))
    plot_scores(raw, results, report["command"], args.json.with_suffix(".png"))
    return report


if __name__ == "__main__":
    main()
