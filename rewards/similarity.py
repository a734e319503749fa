"""Shared machinery of learned rewards that compare goal and outcome in an embedding space.

reward = cos(e(goal), e(outcome)) ∈ [-1, 1] (continuous), or 1[cos ≥ threshold] (thresholded),
and 0 whenever the presence classifier says the gripper came up empty. The threshold comes from the
checkpoint's calibration file (:mod:`rewards.calibration`), the presence classifier from its files
beside the checkpoint (:mod:`rewards.presence`); nothing here reads ground truth
(``lifted``/``target`` of the context are ignored).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from common.protocols import GraspContext, RewardError
from rewards.calibration import RewardCalibration, calibration_path, file_fingerprint
from rewards.presence import PresenceClassifier, load_presence, presence_path

DEFAULT_BATCH_SIZE = 256  # images per encoder forward pass
DEFAULT_GOAL_CACHE = 4096  # goal embeddings kept (least recently used are dropped)

Encoder = Callable[[np.ndarray], np.ndarray]  # uint8 (B, S, S, 3) -> float32 (B, D)


def normalize(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, (B, D) float32."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    return embeddings / np.maximum(np.linalg.norm(embeddings, axis=-1, keepdims=True), 1e-8)


def _image_key(image: np.ndarray) -> bytes:
    """Content hash of an image (shape, dtype and bytes)."""
    array = np.ascontiguousarray(image)
    return hashlib.blake2b(f"{array.shape}{array.dtype}".encode() + array.tobytes(), digest_size=16).digest()


def _distinct(images: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(slots (N,) int, distinct images) with ``images[i]`` equal to ``distinct[slots[i]]``: relabeling
    scores one outcome against many goals, and each distinct outcome is embedded and gated once."""
    first: dict[bytes, int] = {}
    slots = np.array([first.setdefault(_image_key(image), len(first)) for image in images])
    return slots, [images[i] for i in np.unique(slots, return_index=True)[1]]


PRESENCE_MODES = ("image", "gripper", "none")


def _presence_mode(presence: bool | str) -> str:
    """``presence`` as one of :data:`PRESENCE_MODES` (``True`` is ``"image"``, ``False`` is ``"none"``)."""
    if isinstance(presence, bool):
        return "image" if presence else "none"
    if presence not in PRESENCE_MODES:
        raise RewardError(f"presence must be one of {', '.join(PRESENCE_MODES)} (or true/false), got {presence!r}")
    return presence


class EmbeddingSimilarityReward:
    """Cosine similarity of goal and outcome embeddings, gated by an "object in gripper" classifier.

    Subclasses provide :meth:`load_encoder`. Keyword arguments (all optional but ``checkpoint``):

    Args:
        checkpoint: checkpoint folder or path.
        thresholded: return 1/0 (cos ≥ threshold) instead of the cosine.
        threshold: override the calibrated threshold.
        presence: how the reward decides that the gripper came up empty (then the reward is 0):
            ``"image"`` (or ``True``): the presence classifier on the outcome image;
            ``"gripper"``: the measured fingertip distance (``GraspContext.gripper_aperture``) below
            the calibrated ``aperture_threshold``, the gripper-closure signal the paper uses;
            ``"none"`` (or ``False``): every outcome is scored as if something was held.
        calibration: calibration JSON; default :func:`rewards.calibration.calibration_path`.
        presence_classifier: file prefix of the presence classifier (``PREFIX.safetensors`` +
            ``PREFIX.json``); default :func:`rewards.presence.presence_path`.
        image_size: expected image size (pixels); a checkpoint trained on another size is refused.
        batch_size: images per forward pass.
        goal_cache_size: goal embeddings cached, keyed by the goal image's bytes.
    """

    name = "similarity"

    def __init__(self, checkpoint: str | Path, thresholded: bool = False, threshold: float | None = None,
                 presence: bool | str = "image", calibration: str | Path | None = None,
                 image_size: int | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, goal_cache_size: int = DEFAULT_GOAL_CACHE,
                 presence_classifier: str | Path | None = None) -> None:
        self.checkpoint = Path(checkpoint)
        if not self.checkpoint.exists() and not self.checkpoint.with_suffix(".safetensors").exists():
            raise RewardError(f"{self.name} reward: checkpoint {self.checkpoint} does not exist")
        if batch_size < 1:
            raise RewardError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.encoder, self.image_size = self.load_encoder(self.checkpoint, image_size)
        self.embedding_dim = self.embed(np.zeros((1, self.image_size, self.image_size, 3), np.uint8)).shape[1]
        self.presence = _presence_mode(presence)
        self.calibration = self._load_calibration(
            calibration, required=self.presence != "none" or (thresholded and threshold is None))
        self.presence_classifier = self._load_presence(presence_classifier, required=self.presence == "image")
        if self.presence == "gripper" and (self.calibration is None or self.calibration.aperture_threshold is None):
            where = calibration or calibration_path(self.checkpoint)
            raise RewardError(f"{self.name} reward: presence='gripper' needs an aperture threshold in the "
                              f"calibration {where}; run python -m runs.calibrate_reward with --presence-data "
                              "folders that record gripper apertures")
        self.threshold = threshold if threshold is not None else (
            self.calibration.threshold if self.calibration else None)
        self.thresholded = thresholded
        self.goal_cache_size = goal_cache_size
        self._goal_cache: OrderedDict[bytes, np.ndarray] = OrderedDict()

    # ------------------------------------------------------------------ subclass hooks
    def load_encoder(self, checkpoint: Path, image_size: int | None) -> tuple[Encoder, int]:
        """Return (encoder, image size it expects); raise :class:`RewardError` if it does not fit."""
        raise NotImplementedError

    def weights_file(self) -> Path:
        """The checkpoint's weights file (its hash ties a calibration to these weights)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """SHA-256 of :meth:`weights_file`."""
        return file_fingerprint(self.weights_file())

    # ------------------------------------------------------------------ protocol
    def __call__(self, context: GraspContext) -> float:
        return float(self.batch([context])[0])

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        """Rewards (N,) float32 for N attempts; goals shared between contexts are embedded once."""
        if not contexts:
            return np.zeros(0, dtype=np.float32)
        slots, distinct = _distinct([c.outcome_image for c in contexts])
        goals = np.stack([self._goal_embedding(c) for c in contexts])
        return self._scores(self._check_images(distinct), slots, contexts, goals)[0]

    def readouts(self, outcomes: np.ndarray, slots: np.ndarray, goals: np.ndarray, every: bool = False
                 ) -> dict[str, np.ndarray]:
        """What the scores are read from, (N,) each, for context i's outcome ``outcomes[slots[i]]`` (uint8
        (S, S, 3), each distinct outcome once) against its unit goal embedding ``goals[i]`` (D,): ``similarity``
        (the cosine); subclasses add their own readouts (one pass of the encoder for all of them). ``every``: also
        the readouts the score does not use (what :meth:`explain` reports); without it only those it does."""
        return {"similarity": np.sum(goals * self.embed(outcomes)[slots], axis=1)}

    def vetoes(self, readouts: dict[str, np.ndarray]) -> np.ndarray | None:
        """(N,) bool: the contexts whose :meth:`readouts` score 0 whatever their similarity (an outcome that shows
        more than its goal, say); None when the reward has no such test (this base class)."""
        return None

    def explain(self, context: GraspContext) -> dict[str, float]:
        """The parts of one attempt's score: its :meth:`readouts` (``similarity``, the cosine, and a subclass's
        own), ``holds_object`` (1/0, the presence gate's verdict, 1 when the reward has none) and ``score`` (what
        :meth:`__call__` returns)."""
        image = self._check_images([context.outcome_image])
        score, readouts, held = self._scores(image, np.zeros(1, dtype=np.int64), [context],
                                             self._goal_embedding(context)[None], every=True)
        return {**{name: float(values[0]) for name, values in readouts.items()},
                "holds_object": 1.0 if held is None else float(held[0]), "score": float(score[0])}

    def _scores(self, outcomes: np.ndarray, slots: np.ndarray, contexts: Sequence[GraspContext], goals: np.ndarray,
                every: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """(scores (N,) float32, :meth:`readouts` (``every`` as there), presence verdicts (N,) bool or None) of
        ``contexts``."""
        readouts = self.readouts(outcomes, slots, goals, every)
        similarity = readouts["similarity"]
        score = (similarity >= self.threshold).astype(np.float32) if self.thresholded else similarity
        held = self._presence_verdicts(outcomes, slots, contexts)
        if held is not None:
            score = np.where(held, score, 0.0)
        vetoed = self.vetoes(readouts)
        if vetoed is not None:
            score = np.where(vetoed, 0.0, score)
        return score.astype(np.float32), readouts, held

    def _presence_verdicts(self, outcomes: np.ndarray, slots: np.ndarray, contexts: Sequence[GraspContext]
                           ) -> np.ndarray | None:
        """(N,) bool: the presence gate says context i's gripper holds something (its outcome image is
        ``outcomes[slots[i]]``); None when the reward has no gate (``presence="none"``)."""
        if self.presence == "image":
            return self.holds_object(outcomes)[slots]
        if self.presence == "gripper":
            return self.gripper_holds_object(contexts)
        return None

    # ------------------------------------------------------------------ helpers
    def embed(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Normalised embeddings (B, D) float32 of uint8 images (B, S, S, 3), in chunks of ``batch_size``."""
        array = self._check_images(images)
        parts = [self.encoder(array[i:i + self.batch_size]) for i in range(0, len(array), self.batch_size)]
        return normalize(np.concatenate(parts))

    def holds_object(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(B,) bool: the presence classifier sees an object in each outcome image (B, S, S, 3) uint8."""
        if self.presence_classifier is None:
            raise RewardError(f"{self.name} reward has no presence classifier at {presence_path(self.checkpoint)}")
        return self.presence_classifier.holds_object(self._check_images(images))

    def gripper_holds_object(self, contexts: Sequence[GraspContext]) -> np.ndarray:
        """(N,) bool: the measured aperture of each attempt is at least the calibrated ``aperture_threshold``."""
        if self.calibration is None or self.calibration.aperture_threshold is None:
            raise RewardError(f"{self.name} reward: no calibrated aperture threshold for {self.checkpoint}")
        apertures = np.array([np.nan if c.gripper_aperture is None else c.gripper_aperture for c in contexts],
                             dtype=np.float64)
        if not np.all(np.isfinite(apertures)):
            raise RewardError(f"{self.name} reward with presence='gripper' needs each context's gripper_aperture "
                              "(the measured fingertip distance after the lift); data collected before apertures "
                              "were recorded have none: re-collect, or use presence='image'")
        return apertures >= self.calibration.aperture_threshold

    def _goal_embedding(self, context: GraspContext) -> np.ndarray:
        if context.goal_embedding is not None:
            goal = np.asarray(context.goal_embedding, dtype=np.float32)
            if goal.shape != (self.embedding_dim,):
                raise RewardError(f"{self.name} reward: goal_embedding must have shape ({self.embedding_dim},), "
                                  f"got {goal.shape}")
            return normalize(goal[None])[0]
        if context.goal_image is None:
            raise RewardError(f"{self.name} reward needs a goal: the context has neither goal_image nor goal_embedding")
        image = self._check_images([context.goal_image])[0]
        key = _image_key(image)
        cached = self._goal_cache.get(key)
        if cached is None:
            cached = self.embed(image[None])[0]
            self._goal_cache[key] = cached
            if len(self._goal_cache) > self.goal_cache_size:
                self._goal_cache.popitem(last=False)
        else:
            self._goal_cache.move_to_end(key)
        return cached

    def _check_images(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        expected = (self.image_size, self.image_size, 3)
        bad = [(np.asarray(i).dtype, np.shape(i)) for i in images
               if np.shape(i) != expected or np.asarray(i).dtype != np.uint8]
        if bad:
            raise RewardError(f"{self.name} reward expects uint8 images of shape {expected} (checkpoint "
                              f"{self.checkpoint}), got {bad[0][0]} {bad[0][1]}")
        return np.asarray(images)

    def _load_calibration(self, path: str | Path | None, required: bool) -> RewardCalibration | None:
        path = Path(path) if path is not None else calibration_path(self.checkpoint)
        if not path.exists():
            if required:
                raise RewardError(f"{self.name} reward: no calibration at {path} (its threshold); "
                                  f"run python -m runs.calibrate_reward --reward {self.name}, or pass presence=False "
                                  "and an explicit threshold")
            return None
        try:
            calibration = RewardCalibration.load(path, self.fingerprint())
        except RewardError:
            if required:
                raise
            return None  # unreadable or stale, but not needed: recalibration must still load the reward
        if calibration.reward != self.name:
            raise RewardError(f"calibration {path} belongs to reward {calibration.reward!r}, not {self.name!r}")
        return calibration

    def _load_presence(self, path: str | Path | None, required: bool) -> PresenceClassifier | None:
        try:
            return load_presence(path if path is not None else presence_path(self.checkpoint), self.image_size)
        except RewardError:
            if required:
                raise
            return None  # presence=False: scored without a gate (evaluation still reports the gate if present)
