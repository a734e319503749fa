"""Calibration of a similarity reward: its decision threshold.

A calibration is fitted by ``python -m runs.calibrate_reward`` and stored as JSON beside the
checkpoint it belongs to (see :func:`calibration_path`), with a fingerprint of the checkpoint's
weights so that a retrained checkpoint cannot silently reuse a stale calibration.

``threshold``: cosine similarity at or above which the outcome counts as showing the goal object,
chosen on labelled validation pairs to maximise Youden's J = TPR − FPR. The reward's other fitted
part, the "object in gripper" classifier, has files of its own (:mod:`rewards.presence`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.io import atomic_write_text
from common.protocols import RewardError

CALIBRATION_SUFFIX = "reward_calibration.json"


@dataclass(frozen=True)
class RewardCalibration:
    """Threshold of one similarity reward on one checkpoint.

    Attributes:
        reward: registry name of the reward (``grasp2vec``, ``autoencoder``).
        fingerprint: SHA-256 of the checkpoint's weights file (see :func:`file_fingerprint`).
        threshold: cosine similarity at or above which a goal/outcome pair counts as a match.
        provenance: how it was fitted (data, split, seed, counts, metrics on the fitting data).
        aperture_threshold: fingertip distance after the lift (m) at or above which the gripper
            holds something (the ``presence="gripper"`` gate), fitted on the collector's success
            bits; None when the calibration data recorded no apertures.
    """

    reward: str
    fingerprint: str
    threshold: float
    provenance: dict[str, Any] = field(default_factory=dict)
    aperture_threshold: float | None = None

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


def recall_threshold(positive: np.ndarray, recall: float) -> float:
    """The highest threshold t for the rule ``score >= t`` that keeps at least ``recall`` of the positives.

    Youden's J separates same-object from different-object pairs, whose scores lie far apart, so it
    lands far below the same-object scores and pays for outcomes that hold the goal *with another*
    object. A recall target puts the threshold just under the same-object scores instead. Placed
    midway between the kept positive and the next lower one, as :func:`youden_threshold` does.
    """
    positive = np.sort(np.asarray(positive, dtype=np.float64))
    if positive.size == 0:
        raise RewardError("calibration needs at least one positive pair")
    if not 0.0 < recall <= 1.0:
        raise RewardError(f"recall must be in (0, 1], got {recall}")
    dropped = int(np.floor((1.0 - recall) * positive.size + 1e-9))  # positives allowed below the threshold
    below = positive[dropped - 1] if dropped > 0 else positive[0] - 1e-3
    return float(0.5 * (positive[dropped] + below))
