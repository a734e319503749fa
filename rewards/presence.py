"""How a label-free reward knows that nothing was lifted: an "object in gripper" image classifier.

A learned reward sees only images, never the simulator's ``lifted`` list. Like the paper, it
decides from the outcome (wrist) image whether the gripper holds an object, with a tiny
convolutional classifier on the pixels (:class:`PresenceNet`, ~15k parameters). Its labels are
the ones a robot has without a human: each record's ``grasp_sensed`` bit (the gripper's fingertips
stayed apart after the lift: the paper's gripper-closure signal, never the simulator's ``lifted``)
— outcome images of sensed attempts hold an object, the others show an empty gripper — and grasps
closed in mid-air, empty by construction
(:func:`empty_gripper_images`). The ``ground_truth`` group of a dataset is never read
(:class:`AttemptOutcomes`). Fitted by ``python -m runs.calibrate_reward`` (:func:`fit_presence`)
and stored beside the reward's checkpoint as ``presence.safetensors`` + ``presence.json``
(:func:`presence_path`); the reward is 0 when P(object held) < the recorded threshold.

Where the robot measures its gripper (the simulated one does: ``info["gripper_aperture"]``, the
fingertip distance after the lift), the paper's own signal is available instead: the gripper did
not close all the way. :func:`label_free_aperture_threshold` sets that threshold without labels —
the gripper's closed-on-nothing aperture, measured by closing it in mid-air, plus
``ArmConfig.grasp_margin``: the same rule as the sensed bit — and ``presence="gripper"`` gates the
reward with it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from common.io import atomic_write_bytes, atomic_write_json
from common.protocols import RewardError
from embedding.model import to_input
from envs.config import WorldConfig
from graspdata.folder import scan_folder
from graspdata.layout import APERTURE, RECORD_GROUP, open_h5, read_grasp_sensed
from graspdata.reader import ShardedReader
from rewards.calibration import youden_threshold

MIDAIR_MOVES = 8  # at most this many moves towards the random spot before closing
PRESENCE_KIND = "presence_classifier"  # "kind" field of presence.json
PRESENCE_NAME = "presence"  # file stem beside the checkpoint
SCORE_BATCH = 512  # images per forward pass when scoring
DEFAULT_PRESENCE_THRESHOLD = 0.5  # P(object held) threshold when no validation slice chooses one


@dataclass(frozen=True)
class PresenceConfig:
    """Architecture: stride-2 3×3 convolutions with ReLU, then one linear logit on the flattened map.

    Attributes:
        image_size: side of the square outcome images (pixels); must be divisible by 2**len(channels).
        channels: output channels of each convolution (each halves the resolution).
    """

    image_size: int = 64
    channels: tuple[int, ...] = (8, 16, 32, 32)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))  # JSON gives lists
        if not self.channels or self.image_size % 2 ** len(self.channels):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2**{len(self.channels)}")


@dataclass(frozen=True)
class TrainPresenceConfig:
    """How :func:`fit_presence` trains and thresholds the classifier (defaults: the shipped one).

    Attributes:
        steps: Adam steps, each on ``batch_size`` images, half held and half empty.
        batch_size: images per step.
        learning_rate: Adam learning rate.
        weight_decay: Adam (L2) weight decay.
        max_shift: augmentation: random translation of up to this many pixels (edges replicated).
        flip: augmentation: random horizontal flips.
        val_fraction: share of the held and of the empty images kept out of training, for the threshold.
        seed: initialisation, validation split, batches and augmentation.
    """

    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    max_shift: int = 4
    flip: bool = True
    val_fraction: float = 0.2
    seed: int = 0


class PresenceNet(nn.Module):
    """Logit of "an object is held" (B,) from images (B, 3, S, S) float in [-0.5, 0.5] (:func:`to_input`)."""

    def __init__(self, config: PresenceConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels_in = 3
        for channels in config.channels:
            layers += [nn.Conv2d(channels_in, channels, 3, stride=2, padding=1), nn.ReLU()]
            channels_in = channels
        self.features = nn.Sequential(*layers)
        side = config.image_size // 2 ** len(config.channels)
        self.head = nn.Linear(channels_in * side * side, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1)).squeeze(1)


@dataclass
class PresenceClassifier:
    """A trained :class:`PresenceNet` with its decision threshold and how it was fitted.

    Attributes:
        model: the network (eval mode).
        threshold: P(object held) at or above which the gripper counts as holding something.
        train_config: how it was trained.
        provenance: data, counts, accuracies on the validation slice, machine, command.
    """

    model: PresenceNet
    threshold: float
    train_config: TrainPresenceConfig = field(default_factory=TrainPresenceConfig)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    def probability(self, images: np.ndarray) -> np.ndarray:
        """P(object held) (B,) float32 of uint8 outcome images (B, S, S, 3)."""
        images = np.asarray(images)
        if len(images) == 0:
            return np.zeros(0, dtype=np.float32)
        with torch.inference_mode():
            parts = [torch.sigmoid(self.model(to_input(images[i:i + SCORE_BATCH], self.image_size)))
                     for i in range(0, len(images), SCORE_BATCH)]
        return torch.cat(parts).numpy().astype(np.float32)

    def holds_object(self, images: np.ndarray) -> np.ndarray:
        """(B,) bool: the gripper holds an object (P ≥ threshold) in each outcome image (B, S, S, 3)."""
        return self.probability(images) >= self.threshold

    def save(self, prefix: str | Path) -> None:
        """Write ``PREFIX.safetensors`` (weights) and ``PREFIX.json`` (config, threshold, provenance), atomically."""
        prefix = Path(prefix)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        atomic_write_bytes(prefix.with_name(f"{prefix.name}.safetensors"), save_tensors(state))
        atomic_write_json(prefix.with_name(f"{prefix.name}.json"), {
            "kind": PRESENCE_KIND, "config": dataclasses.asdict(self.model.config), "threshold": self.threshold,
            "train_config": dataclasses.asdict(self.train_config), "provenance": self.provenance})


def presence_path(checkpoint: str | Path) -> Path:
    """File prefix of a checkpoint's presence classifier: ``DIR/presence`` for a checkpoint folder,
    ``PATH.presence`` for a ``PATH.safetensors`` + ``PATH.json`` pair (add ``.safetensors`` / ``.json``)."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        return checkpoint / PRESENCE_NAME
    return checkpoint.with_name(f"{checkpoint.with_suffix('').name}.{PRESENCE_NAME}")


def load_presence(prefix: str | Path, image_size: int | None = None) -> PresenceClassifier:
    """Read ``PREFIX.safetensors`` + ``PREFIX.json`` (no pickle); cached per file and modification time.

    Raises:
        RewardError: a file is missing or unreadable, is not a presence classifier, its weights do not
            fit its config, or it was trained on images of another size than ``image_size``.
    """
    prefix = Path(prefix)
    files = [prefix.with_name(f"{prefix.name}{suffix}") for suffix in (".safetensors", ".json")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise RewardError(f"no presence classifier at {prefix} (missing {', '.join(missing)}); run "
                          "python -m runs.calibrate_reward, or pass presence=False")
    classifier = _cached_presence(str(prefix.resolve()), *(f.stat().st_mtime_ns for f in files))
    if image_size is not None and classifier.image_size != image_size:
        raise RewardError(f"presence classifier {prefix} was trained on {classifier.image_size} px images, "
                          f"not {image_size} px")
    return classifier


@functools.lru_cache(maxsize=8)
def _cached_presence(prefix: str, weights_mtime_ns: int, config_mtime_ns: int) -> PresenceClassifier:
    path = Path(prefix)
    try:
        data = json.loads(path.with_name(f"{path.name}.json").read_text())
        if data.get("kind") != PRESENCE_KIND:
            raise RewardError(f"{path}.json is not a presence classifier (kind {data.get('kind')!r})")
        model = PresenceNet(PresenceConfig(**data["config"]))
        model.load_state_dict(load_tensors(path.with_name(f"{path.name}.safetensors").read_bytes()))
        return PresenceClassifier(model.eval(), float(data["threshold"]),
                                  TrainPresenceConfig(**data.get("train_config", {})), data.get("provenance", {}))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:  # RuntimeError: shapes do not fit
        raise RewardError(f"presence classifier {path} does not load: {error}") from error


# ---------------------------------------------------------------------------------------------- training
def augment(images: torch.Tensor, rng: np.random.Generator, max_shift: int, flip: bool) -> torch.Tensor:
    """Random translations of up to ``max_shift`` px (edges replicated) and horizontal flips of (B, 3, S, S)."""
    if max_shift > 0:
        size = images.shape[-1]
        padded = F.pad(images, (max_shift,) * 4, mode="replicate")
        offsets = rng.integers(0, 2 * max_shift + 1, (len(images), 2))
        images = torch.stack([padded[i, :, dy:dy + size, dx:dx + size] for i, (dy, dx) in enumerate(offsets)])
    if flip:
        flipped = torch.from_numpy(rng.random(len(images)) < 0.5)
        images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
    return images


def _split(count: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices of ``count`` items, ``fraction`` of them (at least one when count ≥ 2) in val."""
    order = rng.permutation(count)
    val = min(count - 1, max(1 if count >= 2 else 0, round(fraction * count)))
    return order[val:], order[:val]


def fit_presence(held: np.ndarray, empty: np.ndarray, config: TrainPresenceConfig | None = None,
                 channels: tuple[int, ...] | None = None) -> PresenceClassifier:
    """Train a :class:`PresenceNet` on outcome images with (``held``, (N1, S, S, 3) uint8) and without
    (``empty``, (N2, S, S, 3)) an object, and threshold it on a held-out validation slice.

    Both sets are split (``val_fraction``, seeded); the net trains on the rest with balanced batches
    and binary cross-entropy. The threshold on P(object held) maximises Youden's J = TPR − FPR on the
    validation slice (:func:`rewards.calibration.youden_threshold`, as the similarity threshold; 0.5
    without a slice); the provenance records the accuracies at that threshold. ``channels``: the
    convolutions' widths (default :class:`PresenceConfig`'s). Deterministic for a given seed and thread count.
    """
    config = config or TrainPresenceConfig()
    held, empty = np.asarray(held), np.asarray(empty)
    if len(held) == 0 or len(empty) == 0:
        raise RewardError("the presence classifier needs outcome images both with and without a held object")
    if held.shape[1:] != empty.shape[1:] or held.ndim != 4 or held.shape[1] != held.shape[2]:
        raise RewardError(f"held and empty images must be square and alike, got {held.shape} and {empty.shape}")
    rng = np.random.default_rng(config.seed)
    held_train, held_val = _split(len(held), config.val_fraction, rng)
    empty_train, empty_val = _split(len(empty), config.val_fraction, rng)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        network = PresenceConfig(image_size=held.shape[1])
        model = PresenceNet(network if channels is None else dataclasses.replace(network, channels=channels))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    half = config.batch_size // 2
    target = torch.cat([torch.ones(half), torch.zeros(config.batch_size - half)])
    model.train()
    for _ in range(config.steps):
        chosen = np.concatenate([held[rng.choice(held_train, half)],
                                 empty[rng.choice(empty_train, config.batch_size - half)]])
        batch = augment(to_input(chosen, model.config.image_size), rng, config.max_shift, config.flip)
        loss = F.binary_cross_entropy_with_logits(model(batch), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier = PresenceClassifier(model.eval(), DEFAULT_PRESENCE_THRESHOLD, config)
    if len(held_val) and len(empty_val):
        classifier.threshold, _ = youden_threshold(classifier.probability(held[held_val]),
                                                   classifier.probability(empty[empty_val]))
    metrics: dict[str, Any] = {
        "held_images": len(held), "empty_images": len(empty),
        "train_held": len(held_train), "train_empty": len(empty_train),
        "val_held": len(held_val), "val_empty": len(empty_val), "final_train_loss": float(loss.detach()),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    for name, images, wanted in (("train_held", held[held_train], True), ("train_empty", empty[empty_train], False),
                                 ("val_held", held[held_val], True), ("val_empty", empty[empty_val], False)):
        if len(images):
            metrics[f"accuracy_{name}"] = float(np.mean(classifier.holds_object(images) == wanted))
    classifier.provenance = metrics
    return classifier


# ---------------------------------------------------------------------------------------------- data
class AttemptOutcomes(ShardedReader):
    """Outcome image and sensed grasp bit of every grasp attempt of dataset folders (no ground truth read).

    ``dataset[i]`` is ``(outcome (H, W, 3) uint8, grasp_sensed bool)``; arguments as
    :class:`graspdata.reader.TripletDataset`. ``grasp_sensed`` is the gripper's own "something is in
    my hand" after the lift (:func:`graspdata.layout.read_grasp_sensed`), not the simulator's ``success``.
    """

    def _wanted(self, records: h5py.Group) -> np.ndarray:
        return records["grasp_attempted"][:].astype(bool) & (records["num_steps"][:] > 0)

    def __getitem__(self, index: int) -> tuple[np.ndarray, bool]:
        info, row = self._locate(index)
        return self._read(info.path, lambda f: (f[RECORD_GROUP]["outcome_image"][row],
                                                bool(read_grasp_sensed(f[RECORD_GROUP], row))))


def attempt_outcomes(roots: str | Path | Sequence[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """Outcome images (N, S, S, 3) uint8 and sensed grasp bits (N,) bool of every attempt in ``roots``."""
    attempts = AttemptOutcomes(roots, report=lambda message: None)
    try:
        items = [attempts[i] for i in range(len(attempts))]
    finally:
        attempts.close()
    if not items:
        raise RewardError(f"{roots} records no grasp attempts")
    return np.stack([image for image, _ in items]), np.array([sensed for _, sensed in items], dtype=bool)


def attempt_apertures(roots: str | Path | Sequence[str | Path]) -> np.ndarray:
    """Measured apertures (N,) float (m) of every attempt in ``roots`` that recorded one (grasp
    attempted, aperture finite); empty when none did. No label and no ground truth is read."""
    apertures = []
    for root in [roots] if isinstance(roots, str | Path) else roots:
        for info in scan_folder(root, report=lambda message: None).shards:
            with open_h5(info.path) as f:
                records = f[RECORD_GROUP]
                if APERTURE not in records:
                    continue
                keep = records["grasp_attempted"][:].astype(bool) & np.isfinite(records[APERTURE][:])
                apertures.append(records[APERTURE][:][keep])
    return np.concatenate(apertures).astype(np.float64) if apertures else np.zeros(0)


def label_free_aperture_threshold(apertures: np.ndarray | None = None, world_config: WorldConfig | None = None
                                  ) -> tuple[float, dict[str, Any]]:
    """Aperture (m) above which the gripper holds something, found without labels: the closed-on-nothing
    aperture a world of ``world_config`` (default: the default world) measures by closing in mid-air,
    plus its ``ArmConfig.grasp_margin`` — the rule of the sensed grasp bit. ``apertures`` (N,) m, when
    given, are only described (share above the threshold). Returns (threshold, provenance)."""
    from envs.world import GraspWorld

    world = GraspWorld(world_config)
    try:
        closed, margin = world.closed_aperture, world.config.arm.grasp_margin
    finally:
        world.close()
    threshold = closed + margin
    provenance: dict[str, Any] = {"closed_aperture": closed, "margin": margin,
                                  "labels": "none: closed-on-nothing aperture measured in mid-air + margin"}
    if apertures is not None and len(apertures):
        provenance.update(attempts=len(apertures), above_fraction=float(np.mean(apertures > threshold)))
    return threshold, provenance


def empty_gripper_images(count: int, objects: str = "seen", num_objects: int = 5, image_size: int = 64,
                         seed: int = 0) -> np.ndarray:
    """Outcome images (count, S, S, 3) uint8 of grasps closed in mid-air at the episode's start height.

    Each episode drops ``num_objects`` objects (so the bin below looks as in real attempts), picks
    a spot and wrist angle uniformly over the drop zone — as the indiscriminate collector does —
    and moves there horizontally, without descending, using only the observed gripper state; then
    it closes: the world lifts the empty gripper and renders the wrist camera. The wrist view
    depends on where the gripper is, so the spots must cover the bin like real grasps do.
    """
    from envs.grasp_env import KukaGraspEnv

    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    rng = np.random.default_rng(seed)
    env = KukaGraspEnv(objects=objects, num_objects=num_objects, image_size=image_size,
                       max_steps=MIDAIR_MOVES + 2)
    layout, arm = env.config.layout, env.config.arm
    images = []
    try:
        while len(images) < count:
            observation, _ = env.reset(seed=int(rng.integers(2**31)))
            target = np.array([rng.uniform(*layout.drop_x), rng.uniform(*layout.drop_y)])
            yaw = rng.uniform(-np.pi / 2, np.pi / 2)
            ended = False
            for _ in range(MIDAIR_MOVES):
                gripper = observation["gripper"]
                step = np.clip((target - gripper[:2]) / arm.max_translation, -1, 1)
                turn = np.clip((yaw - gripper[3]) / arm.max_yaw, -1, 1)
                observation, _, terminated, truncated, _ = env.step(np.array([step[0], step[1], 0.0, turn, -1.0]))
                ended = terminated or truncated  # a fault (e.g. an object thrown out) ends it early
                if ended:
                    break
            if not ended:
                _, _, _, _, info = env.step(np.array([0.0, 0.0, 0.0, 0.0, 1.0]))
                if "outcome_image" in info and info.get("fault") is None:
                    images.append(info["outcome_image"])
    finally:
        env.close()
    return np.stack(images)
