"""Would a second look before closing tell a grasp that holds from one that fails? A probe on replayed attempts.

The grasp priors decide from a height-map patch scanned before the arm moves; their held-out ranking stopped at
ROC-AUC 0.81 (learned-policy attempts) whatever their data, width or patch resolution. What they cannot see is
what the descent did: where the fingers ended up, whether an object was pushed or the fingers rest on it. The
wrist camera sees exactly that just before the gripper closes. :func:`run_probe` measures how much it tells:

1. every attempt of the training and held-out datasets is replayed up to its closing action and the wrist view
   there rendered (:func:`graspdata.replay.pre_close_views`, cached as ``.npz``);
2. a small image classifier (the presence classifier's network and trainer, :func:`rewards.presence.fit_presence`)
   learns from the training views whether the gripper will sense an object after the lift: the robot's own
   label, never the simulator's;
3. on the held-out attempts it is scored against the grasp prior: ROC-AUC of each, and of both added as log-odds
   (independent evidence), against the sensed bit and the ground-truth lift, and the gain of both over the prior
   alone with a paired bootstrap interval.

A policy that looks again would use the view to abandon a grasp before closing and take its next candidate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.stats import log_odds, paired_auc_difference, roc_auc
from graspdata.card import DatasetCard
from graspdata.replay import PreCloseViews, pre_close_views
from rewards.presence import PresenceClassifier, PresenceConfig, TrainPresenceConfig, fit_presence

TOP_SHARE = 0.25  # "the grasps rated best": this share of the held-out attempts, by each score


@dataclass(frozen=True)
class SecondLookProbeConfig:
    """What :func:`run_probe` replays, trains and scores.

    Attributes:
        train: dataset folders whose replayed views train the classifier.
        heldout: dataset folders (seeds the classifier and the prior never trained on) it is scored on.
        prior: an indiscriminate pose QT-Opt checkpoint to compare with and add to, or None.
        size: side of the rendered wrist views, pixels.
        workers: processes replaying shards.
        cache: folder of the replayed views (:func:`cache_path`); an existing file is read, not replayed.
        steps: the classifier's training steps (batches of 64, half sensed, half not).
        channels: the classifier's convolution widths (each halves the resolution; default the presence
            classifier's).
        seed: the classifier's initialisation, split, batches and augmentation.
    """

    train: tuple[str, ...]
    heldout: tuple[str, ...]
    prior: str | None = None
    size: int = 64
    workers: int = 1
    cache: str = "runs/out/second-look"
    steps: int = 3000
    channels: tuple[int, ...] = PresenceConfig().channels
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.train or not self.heldout:
            raise ValueError("the probe needs training and held-out dataset folders")
        if set(map(str, self.train)) & set(map(str, self.heldout)):
            raise ValueError("a folder is both training and held-out data")
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.size % 2 ** len(self.channels) or self.size < 2 ** len(self.channels) or self.steps < 1 \
                or self.workers < 1:
            raise ValueError(f"size must be a multiple of 2**len(channels), steps and workers at least 1: {self}")


def cache_path(folder: str | Path, size: int, cache: str | Path) -> Path:
    """Where the dataset's views are cached: ``<dataset>-<digest>-<size>px.npz``, the digest (12 hex) taken over its
    shards' SHA-256, so two datasets of the same folder name, or a dataset that grew, never share a file."""
    shards = "\n".join(sorted(entry.sha256 for entry in DatasetCard.load(folder).shards))
    return Path(cache) / f"{Path(folder).name}-{hashlib.sha256(shards.encode()).hexdigest()[:12]}-{size}px.npz"


def cached_views(folder: str | Path, size: int, workers: int, cache: str | Path,
                 show_progress: bool = True) -> PreCloseViews:
    """The dataset's pre-close wrist views: read from ``cache`` (:func:`cache_path`) or replayed (and then saved
    there)."""
    path = cache_path(folder, size, cache)
    if path.is_file():
        return PreCloseViews.load(path)
    views = pre_close_views(folder, size=size, workers=workers, show_progress=show_progress)
    views.save(path)
    return views


def _ranking(score: np.ndarray, sensed: np.ndarray, lifted: np.ndarray) -> dict[str, float | None]:
    top = np.argsort(-score, kind="stable")[: max(1, round(TOP_SHARE * len(score)))]

    def auc(labels: np.ndarray) -> float | None:
        return roc_auc(score, labels) if 0 < labels.sum() < len(labels) else None

    return {"auc_sensed": auc(sensed), "auc_lifted": auc(lifted), "top_lifted_rate": float(lifted[top].mean()),
            "top_sensed_rate": float(sensed[top].mean())}


def train_classifier(config: SecondLookProbeConfig, show_progress: bool = True) -> tuple[PresenceClassifier, dict]:
    """Fit the view classifier on the training folders' replayed attempts (label: the sensed bit)."""
    parts = [cached_views(folder, config.size, config.workers, config.cache, show_progress) for folder in config.train]
    views = np.concatenate([p.views[p.replayed] for p in parts])
    sensed = np.concatenate([p.sensed[p.replayed] for p in parts])
    classifier = fit_presence(views[sensed], views[~sensed], TrainPresenceConfig(steps=config.steps, seed=config.seed),
                              channels=config.channels)
    counts = {"attempts": int(sum(p.attempted.sum() for p in parts)), "replayed": int(len(views)),
              "sensed": int(sensed.sum())}
    return classifier, counts


def score_heldout(classifier: PresenceClassifier, config: SecondLookProbeConfig, folder: str,
                  show_progress: bool = True) -> dict[str, Any]:
    """Rankings of the held-out folder's replayed attempts by the view, the prior and both."""
    views = cached_views(folder, config.size, config.workers, config.cache, show_progress)
    keep = views.replayed
    sensed, lifted = views.sensed[keep], views.lifted[keep]
    view_logits = log_odds(classifier.probability(views.views[keep]))
    result: dict[str, Any] = {"data": str(folder), "attempts": int(views.attempted.sum()), "replayed": int(keep.sum()),
                              "sensed_rate": float(sensed.mean()), "lifted_rate": float(lifted.mean()),
                              "view": _ranking(view_logits, sensed, lifted)}
    if config.prior is not None:
        prior_logits = prior_scores(config.prior, folder)
        if len(prior_logits) != int(views.attempted.sum()):
            raise ValueError(f"{folder}: the prior scored {len(prior_logits)} attempts, the replay found "
                             f"{int(views.attempted.sum())}")
        prior_logits = prior_logits[keep[views.attempted]]
        result["prior"] = _ranking(prior_logits, sensed, lifted)
        result["prior_plus_view"] = _ranking(prior_logits + view_logits, sensed, lifted)
        gain, low, high = paired_auc_difference(prior_logits, prior_logits + view_logits, lifted)
        result["gain_auc_lifted"] = {"difference": gain, "low": low, "high": high, "level": 0.95,
                                     "method": "paired percentile bootstrap over attempts, 1,000 resamples"}
    return result


def prior_scores(checkpoint: str, folder: str) -> np.ndarray:
    """The indiscriminate Q-function's logits (N,) of every attempt of ``folder`` that closed the gripper."""
    from agents.qtopt.learner import PoseQTOpt
    from agents.qtopt.quality import score_attempts
    from graspdata.reader import EpisodeDataset

    agent = PoseQTOpt.load(checkpoint)[0]
    return score_attempts(agent, EpisodeDataset(folder), agent.world.camera.image_size).logits


def run_probe(config: SecondLookProbeConfig, show_progress: bool = True) -> tuple[dict[str, Any], PresenceClassifier]:
    """Replay, train, score (module docstring). Returns the report (JSON-ready) and the classifier."""
    started = time.monotonic()
    classifier, counts = train_classifier(config, show_progress)
    heldout = [score_heldout(classifier, config, folder, show_progress) for folder in config.heldout]
    report = {"config": dataclasses.asdict(config), "train": counts, "classifier": classifier.provenance,
              "heldout": heldout, "top_share": TOP_SHARE, "wall_s": round(time.monotonic() - started, 1)}
    return report, classifier


def plot_examples(config: SecondLookProbeConfig, classifier: PresenceClassifier, folder: str, path: Path,
                  count: int = 24, seed: int = 0) -> None:
    """A grid of held-out pre-close views, each titled with the classifier's P(sensed) and what happened."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = cached_views(folder, config.size, config.workers, config.cache, show_progress=False)
    rows = np.flatnonzero(views.replayed)
    chosen = np.random.default_rng(seed).choice(rows, min(count, len(rows)), replace=False)
    probability = classifier.probability(views.views[chosen])
    columns = 8
    lines = -(-len(chosen) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(2 * columns, 2.2 * lines))
    for axis in np.ravel(axes):
        axis.axis("off")
    for axis, row, p in zip(np.ravel(axes), chosen, probability, strict=False):
        axis.imshow(views.views[row])
        axis.set_title(f"P={p:.2f} {'held' if views.lifted[row] else 'failed'}", fontsize=9,
                       color="green" if views.lifted[row] else "red")
    figure.suptitle(f"wrist view before closing, {Path(folder).name}: P(gripper senses an object), then what happened")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
