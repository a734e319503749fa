"""Calibration of a similarity reward: its decision threshold and its "object in gripper" probe.

A calibration is fitted by ``python -m runs.calibrate_reward`` and stored as JSON beside the
checkpoint it belongs to (see :func:`calibration_path`), with a fingerprint of the checkpoint's
weights so that a retrained checkpoint cannot silently reuse a stale calibration.

- ``threshold``: cosine similarity at or above which the outcome counts as showing the goal
  object. Chosen on labelled validation pairs to maximise Youden's J = TPR − FPR.
- presence probe: logistic regression on the L2-normalised outcome embedding that tells an
  outcome image holding an object from one of an empty gripper (see :mod:`rewards.presence`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graspdata.atomic import atomic_write_text
from rewards.base import RewardError

CALIBRATION_SUFFIX = "reward_calibration.json"
PROBE_STEPS = 2000  # full-batch gradient steps of the presence probe
PROBE_LEARNING_RATE = 4.0  # stable: unit-norm features bound the loss curvature by 1/4
PROBE_L2 = 1e-3


@dataclass(frozen=True)
class RewardCalibration:
    """Threshold and presence probe of one similarity reward on one checkpoint.

    Attributes:
        reward: registry name of the reward (``grasp2vec``, ``autoencoder``).
        fingerprint: SHA-256 of the checkpoint's weights file (see :func:`file_fingerprint`).
        threshold: cosine similarity at or above which a goal/outcome pair counts as a match.
        presence_weight: (D,) logistic-regression weights on the normalised outcome embedding.
        presence_bias: its bias; P(object held) = sigmoid(w · e + b).
        provenance: how it was fitted (data, split, seed, counts, metrics on the fitting data).
    """

    reward: str
    fingerprint: str
    threshold: float
    presence_weight: list[float]
    presence_bias: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def presence_probability(self, embeddings: np.ndarray) -> np.ndarray:
        """P(object held) for normalised embeddings (B, D) → (B,) float."""
        weight = np.asarray(self.presence_weight, dtype=np.float32)
        if embeddings.shape[-1] != weight.shape[0]:
            raise RewardError(f"presence probe expects {weight.shape[0]}-d embeddings, got {embeddings.shape[-1]}")
        return _sigmoid(embeddings @ weight + self.presence_bias)

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically."""
        atomic_write_text(Path(path), json.dumps(dataclasses.asdict(self), indent=1))

    @classmethod
    def load(cls, path: str | Path, fingerprint: str | None = None) -> RewardCalibration:
        """Read a calibration; with ``fingerprint``, refuse one fitted on other weights."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            calibration = cls(**data)
        except (OSError, json.JSONDecodeError, TypeError) as error:
            raise RewardError(f"cannot read reward calibration {path}: {error}") from error
        if fingerprint is not None and calibration.fingerprint != fingerprint:
            raise RewardError(f"reward calibration {path} was fitted on other checkpoint weights "
                              f"({calibration.fingerprint[:12]} != {fingerprint[:12]}); "
                              "re-run python -m runs.calibrate_reward")
        return calibration


def calibration_path(checkpoint: str | Path) -> Path:
    """Where a checkpoint's calibration lives: ``DIR/reward_calibration.json`` for a checkpoint
    folder, ``PATH.reward_calibration.json`` for a ``PATH.safetensors`` + ``PATH.json`` pair."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        return checkpoint / CALIBRATION_SUFFIX
    return checkpoint.with_name(f"{checkpoint.with_suffix('').name}.{CALIBRATION_SUFFIX}")


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 (hex) of a file: the weights a calibration belongs to."""
    path = Path(path)
    if not path.is_file():
        raise RewardError(f"checkpoint weights {path} do not exist")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def youden_threshold(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """Threshold t maximising TPR − FPR for the rule ``score >= t``; returns (t, J).

    The threshold is placed midway between the chosen score and the next lower one, so that
    scores equal to a calibration sample are classified as they were during fitting.
    """
    positive, negative = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    if positive.size == 0 or negative.size == 0:
        raise RewardError("calibration needs at least one positive and one negative pair")
    candidates = np.unique(np.concatenate([positive, negative]))
    tpr = 1.0 - np.searchsorted(np.sort(positive), candidates, side="left") / positive.size
    fpr = 1.0 - np.searchsorted(np.sort(negative), candidates, side="left") / negative.size
    best = int(np.argmax(tpr - fpr))
    below = candidates[best - 1] if best > 0 else candidates[best] - 1e-3
    return float(0.5 * (candidates[best] + below)), float(tpr[best] - fpr[best])


def fit_presence_probe(held: np.ndarray, empty: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression separating embeddings of held objects (B1, D) from empty grippers (B2, D).

    Classes are weighted equally; full-batch gradient descent with a small L2 penalty.
    Returns (weight (D,) float32, bias).
    """
    if len(held) == 0 or len(empty) == 0:
        raise RewardError("the presence probe needs outcome images both with and without a held object")
    x = np.concatenate([held, empty]).astype(np.float64)
    y = np.concatenate([np.ones(len(held)), np.zeros(len(empty))])
    sample_weight = np.where(y == 1, 0.5 / len(held), 0.5 / len(empty))
    weight, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(PROBE_STEPS):
        error = (_sigmoid(x @ weight + bias) - y) * sample_weight
        weight -= PROBE_LEARNING_RATE * (x.T @ error + PROBE_L2 * weight)
        bias -= PROBE_LEARNING_RATE * float(error.sum())
    return weight.astype(np.float32), float(bias)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
