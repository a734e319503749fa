"""Synthetic records and datasets for fast reader and layout tests (no simulation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.io import atomic_write_bytes
from graspdata.card import DatasetCard, names_digest, shard_entry
from graspdata.folder import scan_folder
from graspdata.layout import RECORD_GROUP, encode_shard, open_h5, shard_name
from graspdata.records import GraspRecord, GroundTruth

SIZE = 16
OBJECTS = ("a", "b", "c")


def make_record(index: int, success: bool, steps: int = 3, size: int = SIZE,
                sensed: bool | None = None) -> GraspRecord:
    """A record whose images encode its index (pixel value ``index % 256``) so reads can be checked.
    ``sensed`` is its ``grasp_sensed`` bit (default: the same as ``success``)."""
    value = index % 256
    image = np.full((size, size, 3), value, np.uint8)
    mask = np.full((size, size), -1, np.int8)
    mask[:4, :4] = 0
    mask[4:8, 4:8] = 1
    truth = GroundTruth(objects=OBJECTS[:2], urdfs=("a.urdf", "b.urdf"), lifted=np.array([success, False]),
                        object_poses=np.zeros((2, 7), np.float32), pre_mask=mask, post_mask=mask)
    return GraspRecord(index=index, key=1000 + index, seed=1000 + index, pre_image=image, post_image=image + 1,
                       outcome_image=image + 2, grasp_attempted=True, success=success,
                       grasp_sensed=success if sensed is None else sensed,
                       observations={"image": np.full((steps + 1, size, size, 3), value, np.uint8),
                                     "gripper": np.full((steps + 1, 5), index, np.float32)},
                       actions=np.full((steps, 5), 0.5, np.float32), rewards=np.arange(steps, dtype=np.float32),
                       terminated=True, truth=truth)


def write_records(folder: Path, records: list[GraspRecord], config: dict | None = None) -> DatasetCard:
    """A dataset folder holding ``records`` as one shard (seen objects; ``config`` goes to the card)."""
    folder.mkdir(parents=True, exist_ok=True)
    card = DatasetCard(source="sim", image_size=records[0].pre_image.shape[0],
                       object_set={"spec": "seen", "names_sha256": names_digest([])}, config=config or {}, seeds={},
                       code_version={})
    path = folder / shard_name(records[0].index, records[-1].index + 1)
    atomic_write_bytes(path, encode_shard(records, "sim"))
    card.shards.append(shard_entry(path))
    card.save(folder)
    return card


def write_dataset(folder: Path, shards: list[tuple[int, int]], size: int = SIZE, spec: str = "seen") -> DatasetCard:
    """A dataset folder with the given (first, stop) shards; every third record fails."""
    folder.mkdir(parents=True, exist_ok=True)
    card = DatasetCard(source="sim", image_size=size, object_set={"spec": spec, "names_sha256": names_digest([])},
                       config={}, seeds={}, code_version={})
    for first, stop in shards:
        records = [make_record(i, success=i % 3 != 0, size=size) for i in range(first, stop)]
        path = folder / shard_name(first, stop)
        atomic_write_bytes(path, encode_shard(records, "sim"))
        card.shards.append(shard_entry(path))
    card.save(folder)
    return card


def stored_indices_and_seeds(folder: Path) -> tuple[list[int], list[int]]:
    """Dataset indices and episode seeds of every record in the folder's shards, in shard order."""
    indices, seeds = [], []
    for info in scan_folder(folder).shards:
        with open_h5(info.path) as f:
            indices += f[RECORD_GROUP]["index"][:].tolist()
            seeds += f[RECORD_GROUP]["seed"][:].tolist()
    return indices, seeds
