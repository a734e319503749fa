"""The on-disk layout of a grasp shard (HDF5), version :data:`LAYOUT_VERSION`.

A shard ``shard-FFFFFFFFF-SSSSSSSSS.h5`` holds the records with dataset indices ``F`` to ``S - 1``::

    attrs: format, layout_version, image_size, first_index, stop_index, num_records, source,
           observation_keys (JSON list), complete
    records/        N = num_records rows, one per grasp episode
        index, key, seed                      (N,) int64
        pre_image, post_image, outcome_image  (N, H, W, 3) uint8, one chunk per image
        grasp_attempted, success, terminated  (N,) bool (success: ground truth, for evaluation only)
        outcome_aperture                      (N,) float32: fingertip distance after the lift (m), NaN
                                              if not measured; absent from older shards (read as NaN)
        grasp_sensed                          (N,) bool: the gripper sensed an object after the lift
                                              and no fault occurred, the training label (version 2;
                                              absent when not sensed: see read_grasp_sensed)
        pre_heightmap                         (N, Hm, Wm, 4) uint8: top-down height map before the
                                              grasp (height mm, RGB), one chunk per map; only when
                                              collected with --heightmap
        again_outcome_image                   (N, H, W, 3) uint8 and again_sensed (N,) bool: the outcome of
                                              the same grasp made again after a put-back and its sensed
                                              bit; only when collected with --regrasp-same
        fault                                 (N,) UTF-8 string ("" when none)
        step_start, num_steps                 (N,) int64: the episode's rows in steps/
        obs_start, num_obs                    (N,) int64: its rows in observations/ (num_steps + 1)
    steps/          T rows: action (T, 5) float32, reward (T,) float32
    observations/   one dataset per observation key, e.g. image (T + N, H, W, 3) uint8, gripper (T + N, 5)
    ground_truth/   EVALUATION ONLY: training readers never open this group
        objects, urdfs     (N, K) UTF-8 strings ("" pads records with fewer objects)
        lifted             (N, K) bool
        object_poses       (N, K, 7) float32, pre-grasp xyz + quaternion xyzw
        has_mask           (N,) bool
        pre_mask, post_mask (N, H, W) int8: index into objects, -1 elsewhere
        touching           (N, K) bool: touched the gripper after the lift (version 2, when recorded)
        again_lifted       (N, K) bool: lifted by the second lift of the same grasp (with again_outcome_image)

Version 1 (still read) lacks ``grasp_sensed`` and ``touching``; version 2 marks shards whose
training label is the sensed bit, so code that only knows version 1 (and would train on ``success``)
refuses them.

Numeric datasets are gzip-compressed with Fletcher-32 checksums, so a flipped byte is an error, not
garbage. ``complete`` is written last; shards are written whole to a temporary name and renamed.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from envs.config import NOMINAL_CLOSED_APERTURE, ArmConfig
from graspdata.errors import CorruptShardError, LayoutVersionError, NotADatasetError, SensedBitFallbackWarning
from graspdata.records import ACTION_DIM, GraspRecord

FORMAT = "grasp2vec-sim/grasp-shard"
LAYOUT_VERSION = 2
READABLE_LAYOUT_VERSIONS = (1, 2)
SHARD_PATTERN = re.compile(r"^shard-(\d{9})-(\d{9})\.h5$")
SHARD_GLOB = "shard-*.h5"
COMPRESSION = "gzip"
COMPRESSION_LEVEL = 4
SMALL_CHUNK = 4096  # rows per chunk of 1-D and per-step arrays
RECORD_GROUP, STEP_GROUP, OBSERVATION_GROUP, TRUTH_GROUP = "records", "steps", "observations", "ground_truth"
RECORD_IMAGES = ("pre_image", "post_image", "outcome_image")
APERTURE = "outcome_aperture"
GRASP_SENSED = "grasp_sensed"
PRE_HEIGHTMAP = "pre_heightmap"
AGAIN_IMAGE, AGAIN_SENSED, AGAIN_LIFTED = "again_outcome_image", "again_sensed", "again_lifted"
# Aperture (m) above which a record without a sensed bit counts as holding something: the default
# gripper's closed-on-nothing aperture plus the default margin (see envs.config).
FALLBACK_SENSED_APERTURE = NOMINAL_CLOSED_APERTURE + ArmConfig().grasp_margin
_STRING = h5py.string_dtype("utf-8")


def shard_name(first: int, stop: int) -> str:
    """File name of the shard holding dataset indices ``first`` to ``stop - 1``."""
    return f"shard-{first:09d}-{stop:09d}.h5"


def parse_shard_name(path: Path) -> tuple[int, int]:
    """(first, stop) from a shard file name; raises :class:`NotADatasetError` for other names."""
    match = SHARD_PATTERN.match(path.name)
    if match is None or int(match.group(1)) >= int(match.group(2)):
        raise NotADatasetError(f"{path}: not a shard name (expected shard-FIRST-STOP.h5 with FIRST < STOP)")
    return int(match.group(1)), int(match.group(2))


# ---------------------------------------------------------------------------------------------- writing
def _put(group: h5py.Group, name: str, array: np.ndarray, row_chunk: int | None = None,
         level: int = COMPRESSION_LEVEL) -> None:
    """Store ``array`` compressed and checksummed, chunked ``row_chunk`` rows at a time."""
    array = np.ascontiguousarray(array)
    if array.size == 0:  # HDF5 cannot chunk an empty extent; nothing to compress either
        group.create_dataset(name, data=array)
        return
    rows = row_chunk or max(1, min(len(array), SMALL_CHUNK))
    group.create_dataset(name, data=array, chunks=(rows, *array.shape[1:]), maxshape=(None, *array.shape[1:]),
                         compression=COMPRESSION, compression_opts=level, fletcher32=True)


def _put_strings(group: h5py.Group, name: str, values: np.ndarray) -> None:
    group.create_dataset(name, data=values.astype(object), dtype=_STRING)


def _slot_mask(mask: np.ndarray | None, size: int) -> np.ndarray:
    return np.full((size, size), -1, np.int8) if mask is None else np.asarray(mask, np.int8)


def _write_truth(group: h5py.Group, records: Sequence[GraspRecord], size: int) -> None:
    count = max((len(r.truth.objects) for r in records if r.truth is not None), default=0)
    n = len(records)
    objects, urdfs = np.full((n, count), "", object), np.full((n, count), "", object)
    lifted, poses = np.zeros((n, count), bool), np.zeros((n, count, 7), np.float32)
    has_mask, touching, again = np.zeros(n, bool), np.zeros((n, count), bool), np.zeros((n, count), bool)
    with_truth = [r.truth for r in records if r.truth is not None]
    record_touching = bool(with_truth) and all(t.touching is not None for t in with_truth)
    record_again = bool(with_truth) and all(t.again_lifted is not None for t in with_truth)
    for row, record in enumerate(records):
        truth = record.truth
        if truth is None:
            continue
        k = len(truth.objects)
        objects[row, :k], urdfs[row, :k], lifted[row, :k] = truth.objects, truth.urdfs, truth.lifted
        poses[row, :k] = truth.object_poses
        has_mask[row] = truth.pre_mask is not None
        if record_touching:
            touching[row, :k] = truth.touching
        if record_again:
            again[row, :k] = truth.again_lifted
    _put_strings(group, "objects", objects)
    _put_strings(group, "urdfs", urdfs)
    _put(group, "lifted", lifted)
    _put(group, "object_poses", poses)
    _put(group, "has_mask", has_mask)
    if record_touching:
        _put(group, "touching", touching)
    if record_again:
        _put(group, AGAIN_LIFTED, again)
    for name in ("pre_mask", "post_mask"):
        masks = [_slot_mask(getattr(r.truth, name) if r.truth else None, size) for r in records]
        _put(group, name, np.stack(masks), row_chunk=1)


def encode_shard(records: Sequence[GraspRecord], source: str, image_chunk_rows: int = 1,
                 compression_level: int = COMPRESSION_LEVEL) -> bytes:
    """Serialize records with consecutive indices into shard bytes (write them with an atomic rename).

    Args:
        records: at least one record, ``records[i].index == records[0].index + i``, all with
            the same image size and observation keys, and either all or none with ``grasp_sensed``, with
            ``pre_heightmap`` and with a second lift (``again_outcome_image``).
        source: where the data comes from (``"sim"``, ``"import"`` or ``"pack"``), stored as an attribute.
        image_chunk_rows: records per compressed chunk of the pre/post/outcome images. 1 (random
            access, the default) or more: scenes share the bin's background, so compressing many
            together stores them several times smaller (:mod:`graspdata.pack`). Readers are the same.
        compression_level: gzip level (0-9) of those images.
    """
    if not records:
        raise ValueError("a shard needs at least one record")
    if image_chunk_rows < 1 or not 0 <= compression_level <= 9:
        raise ValueError(f"need image_chunk_rows >= 1 and compression_level in 0..9, got {image_chunk_rows} "
                         f"and {compression_level}")
    first = records[0].index
    if [r.index for r in records] != list(range(first, first + len(records))):
        raise ValueError("shard records must have consecutive indices")
    size = records[0].pre_image.shape[0]
    keys = sorted(records[0].observations)
    for record in records:
        if record.pre_image.shape[0] != size or sorted(record.observations) != keys:
            raise ValueError(f"record {record.index} differs from record {first} in image size or observation keys")
    sensed = [r.grasp_sensed for r in records]
    if None in sensed and any(bit is not None for bit in sensed):
        raise ValueError(f"records {first}..{first + len(records) - 1}: some carry grasp_sensed and some do not; "
                         "a shard stores the sensed bit for all its records or for none")
    maps = [r.pre_heightmap for r in records]
    if any(m is None for m in maps) and any(m is not None for m in maps):
        raise ValueError(f"records {first}..{first + len(records) - 1}: some carry a pre_heightmap and some do not; "
                         "a shard stores height maps for all its records or for none")
    agains = [r.again_outcome_image for r in records]
    if any(a is None for a in agains) and any(a is not None for a in agains):
        raise ValueError(f"records {first}..{first + len(records) - 1}: some carry a second lift and some do not; "
                         "a shard stores again_outcome_image for all its records or for none")
    num_steps = np.array([r.num_steps for r in records], np.int64)
    num_obs = np.array([len(r.observations[keys[0]]) if keys else 0 for r in records], np.int64)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver="latest") as f:
        f.attrs.update(format=FORMAT, layout_version=LAYOUT_VERSION, image_size=size, first_index=first,
                       stop_index=first + len(records), num_records=len(records), source=source,
                       observation_keys=json.dumps(keys), complete=False)
        rec = f.create_group(RECORD_GROUP)
        for name in ("index", "key", "seed"):
            _put(rec, name, np.array([getattr(r, name) for r in records], np.int64))
        for name in RECORD_IMAGES:
            _put(rec, name, np.stack([getattr(r, name) for r in records]),
                 row_chunk=min(image_chunk_rows, len(records)), level=compression_level)
        for name in ("grasp_attempted", "success", "terminated"):
            _put(rec, name, np.array([getattr(r, name) for r in records], bool))
        _put(rec, APERTURE, np.array([r.outcome_aperture for r in records], np.float32))
        if None not in sensed:
            _put(rec, GRASP_SENSED, np.array(sensed, bool))
        if maps[0] is not None:
            _put(rec, PRE_HEIGHTMAP, np.stack(maps), row_chunk=1, level=compression_level)
        if agains[0] is not None:
            _put(rec, AGAIN_IMAGE, np.stack(agains), row_chunk=min(image_chunk_rows, len(records)),
                 level=compression_level)
            _put(rec, AGAIN_SENSED, np.array([r.again_sensed for r in records], bool))
        _put_strings(rec, "fault", np.array([r.fault for r in records], object))
        _put(rec, "step_start", np.concatenate([[0], np.cumsum(num_steps)[:-1]]).astype(np.int64))
        _put(rec, "num_steps", num_steps)
        _put(rec, "obs_start", np.concatenate([[0], np.cumsum(num_obs)[:-1]]).astype(np.int64))
        _put(rec, "num_obs", num_obs)
        steps = f.create_group(STEP_GROUP)
        _put(steps, "action", np.concatenate([r.actions for r in records]).astype(np.float32).reshape(-1, ACTION_DIM))
        _put(steps, "reward", np.concatenate([r.rewards for r in records]).astype(np.float32))
        obs = f.create_group(OBSERVATION_GROUP)
        for key in keys:
            values = np.concatenate([r.observations[key] for r in records])
            _put(obs, key, values, row_chunk=1 if values.ndim >= 3 else None)
        _write_truth(f.create_group(TRUTH_GROUP), records, size)
        f.attrs["complete"] = True
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- reading
def read_aperture(records: h5py.Group, row: int) -> float:
    """The record's measured gripper aperture (m), NaN for shards written before it was recorded."""
    return float(records[APERTURE][row]) if APERTURE in records else float("nan")


def read_grasp_sensed(records: h5py.Group, rows: int | slice = slice(None)) -> np.ndarray:
    """The training label "the gripper sensed an object after the lift" of ``rows`` (bool array, or a
    0-d one for an int row).

    Shards without the field (version 1, or sources that did not sense) fall back, with a
    :class:`graspdata.errors.SensedBitFallbackWarning` naming the folder: an attempted, fault-free
    grasp whose recorded aperture exceeds :data:`FALLBACK_SENSED_APERTURE` counts as sensed; where
    no aperture was recorded either, the ground-truth-derived ``success`` bit is used.
    """
    if GRASP_SENSED in records:
        return np.asarray(records[GRASP_SENSED][rows], bool)
    success = np.asarray(records["success"][rows], bool)
    folder = Path(records.file.filename).parent
    if APERTURE not in records:
        warnings.warn(f"{folder}: shards record neither grasp_sensed nor outcome_aperture (written before the "
                      "sensed grasp bit); training falls back to the simulator's success bit (ground truth). "
                      "Re-collect to train on the robot's own sensing.", SensedBitFallbackWarning, stacklevel=2)
        return success
    aperture = np.asarray(records[APERTURE][rows], np.float64)
    measured = np.isfinite(aperture)
    warnings.warn(f"{folder}: shards without grasp_sensed (layout version 1): it falls back to "
                  f"outcome_aperture > {FALLBACK_SENSED_APERTURE:.4f} m (the default gripper's closed aperture "
                  "plus the default margin) where recorded"
                  + ("" if measured.all() else ", else to the simulator's success bit (ground truth)"),
                  SensedBitFallbackWarning, stacklevel=2)
    attempted = np.asarray(records["grasp_attempted"][rows], bool)
    fault_free = np.asarray(records["fault"].asstr()[rows], dtype=object) == ""
    by_aperture = attempted & fault_free & (np.nan_to_num(aperture, nan=0.0) > FALLBACK_SENSED_APERTURE)
    return np.where(measured, by_aperture, success)


@dataclass(frozen=True)
class ShardInfo:
    """What a validated shard holds."""

    path: Path
    first_index: int
    stop_index: int
    image_size: int
    source: str
    observation_keys: tuple[str, ...]

    @property
    def num_records(self) -> int:
        return self.stop_index - self.first_index


def open_h5(path: Path) -> h5py.File:
    """Open a shard read-only; a file HDF5 cannot read (truncated, overwritten) is a :class:`CorruptShardError`."""
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise CorruptShardError(f"{path}: cannot be read as an HDF5 shard (truncated or corrupt?): {error}") from None


def _check_lengths(path: Path, f: h5py.File, n: int) -> None:
    records = f[RECORD_GROUP]
    for name, dataset in records.items():
        if dataset.shape[0] != n:
            raise CorruptShardError(f"{path}: records/{name} has {dataset.shape[0]} rows, expected {n}")
    total_steps = int(records["num_steps"][:].sum())
    total_obs = int(records["num_obs"][:].sum())
    for name, dataset in f[STEP_GROUP].items():
        if dataset.shape[0] != total_steps:
            raise CorruptShardError(f"{path}: steps/{name} has {dataset.shape[0]} rows, expected {total_steps}")
    for name, dataset in f[OBSERVATION_GROUP].items():
        if dataset.shape[0] != total_obs:
            raise CorruptShardError(f"{path}: observations/{name} has {dataset.shape[0]} rows, expected {total_obs}")


def inspect_shard(path: str | Path) -> ShardInfo:
    """Validate a shard's name, attributes and array lengths without reading images.

    Raises:
        NotADatasetError: the name or the ``format`` attribute is not a grasp shard's.
        LayoutVersionError: written by an incompatible layout version.
        CorruptShardError: truncated, unreadable, incomplete or inconsistent.
    """
    path = Path(path)
    first, stop = parse_shard_name(path)
    with open_h5(path) as f:
        attrs = dict(f.attrs)
        if attrs.get("format") != FORMAT:
            raise NotADatasetError(f"{path}: not a grasp shard (format attribute {attrs.get('format')!r})")
        version = int(attrs.get("layout_version", -1))
        if version not in READABLE_LAYOUT_VERSIONS:
            raise LayoutVersionError(f"{path}: layout version {version}, but this code reads versions "
                                     f"{READABLE_LAYOUT_VERSIONS}; re-collect or convert the dataset")
        if not bool(attrs.get("complete", False)):
            raise CorruptShardError(f"{path}: incomplete shard (its writer did not finish)")
        if (int(attrs["first_index"]), int(attrs["stop_index"])) != (first, stop):
            raise CorruptShardError(f"{path}: holds indices {attrs['first_index']}..{attrs['stop_index']} "
                                    "but its name says otherwise")
        missing = {RECORD_GROUP, STEP_GROUP, OBSERVATION_GROUP} - set(f.keys())
        if missing:
            raise CorruptShardError(f"{path}: missing groups {sorted(missing)}")
        try:
            _check_lengths(path, f, stop - first)
        except (OSError, KeyError) as error:
            raise CorruptShardError(f"{path}: unreadable record table: {error}") from None
        return ShardInfo(path=path, first_index=first, stop_index=stop, image_size=int(attrs["image_size"]),
                         source=str(attrs["source"]), observation_keys=tuple(json.loads(attrs["observation_keys"])))


def verify_shard(path: str | Path) -> ShardInfo:
    """:func:`inspect_shard`, then read every chunk so that each Fletcher-32 checksum is tested."""
    info = inspect_shard(path)
    with open_h5(info.path) as f:
        def read(name: str, item: h5py.HLObject) -> None:
            if isinstance(item, h5py.Dataset):
                try:
                    for start in range(0, item.shape[0], 256):
                        item[start:start + 256]
                except OSError as error:
                    raise CorruptShardError(f"{info.path}: {name} fails its checksum: {error}") from None
        f.visititems(read)
    return info


def shard_counts(path: str | Path) -> dict[str, int]:
    """Attempts, grasps attempted, successes and faults in a shard (reads only the small arrays)."""
    path = Path(path)
    with open_h5(path) as f:
        try:
            records = f[RECORD_GROUP]
            faults = records["fault"].asstr()[:]
            return {"attempts": int(records["success"].shape[0]),
                    "grasps_attempted": int(records["grasp_attempted"][:].sum()),
                    "successes": int(records["success"][:].sum()),
                    "faults": int(sum(1 for fault in faults if fault))}
        except (OSError, KeyError) as error:
            raise CorruptShardError(f"{path}: unreadable record table: {error}") from None
