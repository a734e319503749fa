"""Readers for training: random access across shards with bounded memory, no ground truth.

- :class:`TripletDataset`: grasps whose gripper sensed an object after the lift (the record's
  ``grasp_sensed`` bit, :func:`graspdata.layout.read_grasp_sensed`) as ``{"pre", "post", "outcome"}``
  images (Grasp2Vec).
- :class:`EpisodeDataset`: every simulated episode (failed ones too) with the policy's
  observations, actions and rewards (off-policy learning).

Both hold only a small index (two int32 per record) and read images on demand through a bounded
cache of open HDF5 files; they work as ``torch.utils.data.Dataset`` (items are numpy arrays) and
reopen their files in each ``DataLoader`` worker. The train/validation split is a hash of each
record's key and ``seed``: deterministic, and stable when a dataset grows. Neither reader
opens the shards' ``ground_truth`` group; evaluation code uses :mod:`graspdata.ground_truth`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from envs.heightmap_observation import HEIGHTMAP_KEY
from graspdata.card import DatasetCard, names_digest
from graspdata.errors import ConfigMismatchError, CorruptShardError
from graspdata.folder import scan_folder
from graspdata.layout import (
    AGAIN_IMAGE,
    AGAIN_SENSED,
    OBSERVATION_GROUP,
    PRE_HEIGHTMAP,
    RECORD_GROUP,
    STEP_GROUP,
    ShardInfo,
    open_h5,
    read_aperture,
    read_grasp_sensed,
)

Split = Literal["train", "val", "all"]
SPLITS = ("train", "val", "all")
PathLike = str | os.PathLike
MIX_A, MIX_B, GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def split_fraction(keys: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 hash of each key with the seed, mapped to [0, 1): the record's split coordinate."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) ^ (np.uint64(seed) * GOLDEN)
        z = z + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * MIX_A
        z = (z ^ (z >> np.uint64(27))) * MIX_B
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class RecordRef:
    """Where a record lives: a shard file and a row in it (hand to :mod:`graspdata.ground_truth`)."""

    path: Path
    row: int


class ShardFiles:
    """At most ``max_open`` read-only shard files open at once (least recently used closed first).

    Handles never cross a ``fork``: a new process (e.g. a ``DataLoader`` worker) opens its own.
    """

    def __init__(self, max_open: int = 8) -> None:
        if max_open < 1:
            raise ValueError(f"max_open must be at least 1, got {max_open}")
        self.max_open = max_open
        self._files: OrderedDict[Path, h5py.File] = OrderedDict()
        self._pid = os.getpid()

    def get(self, path: Path) -> h5py.File:
        if self._pid != os.getpid():
            self._files, self._pid = OrderedDict(), os.getpid()
        handle = self._files.get(path)
        if handle is None:
            handle = open_h5(path)
            self._files[path] = handle
            while len(self._files) > self.max_open:
                self._files.popitem(last=False)[1].close()
        self._files.move_to_end(path)
        return handle

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {"max_open": self.max_open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_open"])


def _object_set_matches(card: DatasetCard, wanted: str) -> bool:
    if card.object_set.get("spec") == wanted:
        return True
    if "names_sha256" not in card.object_set:
        return False
    from envs.objects import object_name, resolve_objects

    try:
        names = [object_name(p) for p in resolve_objects(wanted)]
    except (ValueError, FileNotFoundError):
        return False
    return names_digest(names) == card.object_set["names_sha256"]


class ShardedReader(ABC):
    """Shared machinery: scan folders, select records, split them, read rows through the file cache."""

    def __init__(self, roots: PathLike | Sequence[PathLike], split: Split = "all", val_fraction: float = 0.1,
                 seed: int = 0, object_set: str | None = None, skip_bad: bool = False,
                 max_open_files: int = 8, report: Callable[[str], None] = print) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not 0.0 <= val_fraction <= 1.0:
            raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
        roots = [roots] if isinstance(roots, str | os.PathLike) else list(roots)
        if not roots:
            raise ValueError("no dataset folder given")
        scans = [scan_folder(root, skip_bad=skip_bad, report=report) for root in roots]
        self.cards = [scan.card for scan in scans]
        self.image_size = self.cards[0].image_size
        self.triplet_fov = self.cards[0].triplet_fov  # degrees; None: the policy's scene camera
        self.triplet_backdrop = self.cards[0].triplet_backdrop  # outcome images against a plain backdrop
        for scan in scans:
            if scan.card.image_size != self.image_size:
                raise ConfigMismatchError(f"{scan.folder}: image size {scan.card.image_size}, but "
                                          f"{scans[0].folder} has {self.image_size}; read them separately")
            if scan.card.triplet_fov != self.triplet_fov:
                raise ConfigMismatchError(f"{scan.folder}: pre and post images through a {scan.card.triplet_fov} "
                                          f"degree field of view, but {scans[0].folder}'s through {self.triplet_fov} "
                                          "(None: the policy's scene camera); read them separately")
            if scan.card.triplet_backdrop != self.triplet_backdrop:
                raise ConfigMismatchError(f"{scan.folder}: outcome images with a plain backdrop: "
                                          f"{scan.card.triplet_backdrop}, but {scans[0].folder}'s: "
                                          f"{self.triplet_backdrop}; read them separately")
            if object_set is not None and not _object_set_matches(scan.card, object_set):
                raise ConfigMismatchError(f"{scan.folder}: collected on object set "
                                          f"{scan.card.object_set.get('spec')!r}, not {object_set!r}")
        self.shards: list[ShardInfo] = [info for scan in scans for info in scan.shards]
        self.split = split
        self._files = ShardFiles(max_open_files)
        shard_ids, rows = [], []
        for number, info in enumerate(self.shards):
            keep = self._select(info, split, val_fraction, seed)
            shard_ids.append(np.full(len(keep), number, np.int32))
            rows.append(keep.astype(np.int32))
        self._shard = np.concatenate(shard_ids) if shard_ids else np.zeros(0, np.int32)
        self._row = np.concatenate(rows) if rows else np.zeros(0, np.int32)

    @abstractmethod
    def _wanted(self, records: h5py.Group) -> np.ndarray:
        """Boolean mask (N,) of the shard's records this reader serves."""

    def _select(self, info: ShardInfo, split: Split, val_fraction: float, seed: int) -> np.ndarray:
        with open_h5(info.path) as f:
            try:
                records = f[RECORD_GROUP]
                wanted = self._wanted(records)
                keys = records["key"][:]
            except (OSError, KeyError) as error:
                raise CorruptShardError(f"{info.path}: unreadable record table: {error}") from None
        if split != "all":
            in_val = split_fraction(keys, seed) < val_fraction
            wanted &= in_val if split == "val" else ~in_val
        return np.flatnonzero(wanted)

    def __len__(self) -> int:
        return len(self._row)

    def _locate(self, index: int) -> tuple[ShardInfo, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} records")
        return self.shards[int(self._shard[index])], int(self._row[index])

    def ref(self, index: int) -> RecordRef:
        """Shard file and row of item ``index``."""
        info, row = self._locate(index)
        return RecordRef(info.path, row)

    def _read(self, path: Path, read: Callable[[h5py.File], Any]) -> Any:
        try:
            return read(self._files.get(path))
        except (OSError, KeyError) as error:
            raise CorruptShardError(f"{path}: read failed (corrupt shard?): {error}") from None

    def close(self) -> None:
        self._files.close()


class TripletDataset(ShardedReader):
    """Grasps the gripper sensed as holding something, as Grasp2Vec triplets, across shards and folders.

    Selected by the robot's own ``grasp_sensed`` bit, not the simulator's ``success``: a triplet whose
    outcome shows an empty gripper would teach the embedding that the scene lost an object the
    outcome does not show.

    ``dataset[i]`` is ``{"pre": (H, W, 3), "post": (H, W, 3), "outcome": (H, W, 3)}``, all uint8.

    Args:
        roots: one dataset folder or several (same image size).
        split: ``"train"``, ``"val"`` or ``"all"``.
        val_fraction: share of records in the validation split.
        seed: seed of the split hash; the same seed gives the same split.
        object_set: if given, every folder must have been collected on this set (``"seen"``, ...).
        skip_bad: report and skip bad shards instead of raising.
        max_open_files: bound on simultaneously open shard files.
    """

    IMAGES = {"pre": "pre_image", "post": "post_image", "outcome": "outcome_image"}

    def _wanted(self, records: h5py.Group) -> np.ndarray:
        return read_grasp_sensed(records).copy()

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        info, row = self._locate(index)
        return self._read(info.path, lambda f: {key: f[RECORD_GROUP][name][row] for key, name in self.IMAGES.items()})


class OutcomePairDataset(ShardedReader):
    """Two outcome images of one object, paired by the robot's own actions: a lift the gripper sensed, put back and
    made again with the same grasp, which sensed something too (``runs.collect --regrasp-same``). Session 28 measured
    the pairing's precision at 93.6 % one and the same object (``docs/results/val-s28/regrasp-same.txt``).

    ``dataset[i]`` is ``{"first": (H, W, 3), "second": (H, W, 3)}`` uint8: the record's outcome image and the
    second lift's. Arguments as :class:`TripletDataset`; the same ``seed`` and ``val_fraction`` split the pairs as
    it splits the triplets of the same records.

    Raises:
        ConfigMismatchError: a shard was collected without ``--regrasp-same`` (it holds no second lifts).
    """

    def _wanted(self, records: h5py.Group) -> np.ndarray:
        if AGAIN_SENSED not in records:
            raise ConfigMismatchError(f"{Path(records.file.filename)}: no second lifts to pair (collected without "
                                      "--regrasp-same)")
        return read_grasp_sensed(records) & np.asarray(records[AGAIN_SENSED][:], bool)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        info, row = self._locate(index)
        return self._read(info.path, lambda f: {"first": f[RECORD_GROUP]["outcome_image"][row],
                                                "second": f[RECORD_GROUP][AGAIN_IMAGE][row]})


class EpisodeDataset(ShardedReader):
    """Every simulated episode with what the policy saw and did (failed grasps included).

    ``dataset[i]`` is a dict: ``images`` (T+1, H, W, 3) uint8 and ``gripper`` (T+1, 5) float32 (the
    observations before each action and after the last), ``actions`` (T, 5) float32, ``rewards``
    (T,) float32, ``terminated``, ``grasp_attempted``, ``grasp_sensed`` (the training label: the
    gripper sensed an object after the lift), ``success`` (bool, ground truth, for evaluation) and ``outcome``
    (H, W, 3) uint8 (zeros when no grasp was attempted), ``aperture`` (float, the measured fingertip
    distance after the lift in metres; NaN when not recorded) and, for data collected with a height map,
    ``heightmap`` (Hm, Wm, 4) uint8, the scan before the grasp. Arguments as :class:`TripletDataset`;
    imported triplets, which have no episodes, are left out.
    """

    OBSERVATIONS = {"images": "image", "gripper": "gripper"}

    def _wanted(self, records: h5py.Group) -> np.ndarray:
        return records["num_steps"][:] > 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        info, row = self._locate(index)

        def read(f: h5py.File) -> dict[str, Any]:
            records = f[RECORD_GROUP]
            step, steps = int(records["step_start"][row]), int(records["num_steps"][row])
            obs, count = int(records["obs_start"][row]), int(records["num_obs"][row])
            item = {key: f[OBSERVATION_GROUP][name][obs:obs + count] for key, name in self.OBSERVATIONS.items()}
            if PRE_HEIGHTMAP in records:
                item[HEIGHTMAP_KEY] = records[PRE_HEIGHTMAP][row]
            return {**item,
                    "actions": f[STEP_GROUP]["action"][step:step + steps],
                    "rewards": f[STEP_GROUP]["reward"][step:step + steps],
                    "terminated": bool(records["terminated"][row]),
                    "grasp_attempted": bool(records["grasp_attempted"][row]),
                    "grasp_sensed": bool(read_grasp_sensed(records, row)),
                    "success": bool(records["success"][row]),
                    "outcome": records["outcome_image"][row],
                    "aperture": read_aperture(records, row)}

        return self._read(info.path, read)
