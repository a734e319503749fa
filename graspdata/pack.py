"""Pack the sensed grasps of dataset folders into one compact, triplet-only dataset folder.

A simulated folder stores every attempt with its episode and ground truth, each image compressed
on its own (random access). Training Grasp2Vec needs only the triplets it selects — those whose
gripper sensed an object after the lift (``grasp_sensed``, as :class:`graspdata.reader.TripletDataset`)
— and scenes of one bin share most of their pixels, so compressing many images together stores them
several times smaller: 10,940 triplets fit in tens of MB instead of hundreds. That is what lets a training
set travel to another machine (a GPU lent for a training run) and back.

The pack keeps each record's ``key``, so ``TripletDataset(pack, split=..., seed=...)`` selects the
same train/validation split as on the original folders. It holds no episodes and no ground truth:
it is for training, never for evaluation. Second lifts (``--regrasp-same``) are not packed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from common.io import atomic_write_bytes
from common.provenance import code_version
from graspdata.card import DatasetCard, shard_entry
from graspdata.errors import ConfigMismatchError
from graspdata.folder import scan_folder
from graspdata.layout import RECORD_GROUP, RECORD_IMAGES, encode_shard, open_h5, read_grasp_sensed, shard_name
from graspdata.records import GraspRecord

SOURCE = "pack"
DEFAULT_CHUNK_ROWS = 64
DEFAULT_SHARD_SIZE = 2000


def _successes(folder: Path) -> Iterator[GraspRecord]:
    """The sensed records of one dataset folder, shard by shard, without episodes or ground truth."""
    for info in scan_folder(folder).shards:
        with open_h5(info.path) as f:
            table = f[RECORD_GROUP]
            rows = np.flatnonzero(read_grasp_sensed(table))
            if not len(rows):
                continue
            keys, seeds = table["key"][:][rows], table["seed"][:][rows]
            success = table["success"][:][rows].astype(bool)
            images = {name: table[name][rows[0]:rows[-1] + 1][rows - rows[0]] for name in RECORD_IMAGES}
        for i in range(len(rows)):
            yield GraspRecord(index=-1, key=int(keys[i]), seed=int(seeds[i]), pre_image=images["pre_image"][i],
                              post_image=images["post_image"][i], outcome_image=images["outcome_image"][i],
                              grasp_attempted=True, success=bool(success[i]), grasp_sensed=True)


def pack_triplets(roots: Sequence[str | Path], out: str | Path, shard_size: int = DEFAULT_SHARD_SIZE,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS, compression_level: int = 9,
                  progress: Callable[[int], None] | None = None) -> DatasetCard:
    """Write the successful grasps of ``roots`` to the new dataset folder ``out``; returns its card.

    ``chunk_rows`` images are compressed together at gzip ``compression_level``. For transport,
    level 0 and an archive compressed with a large window (``tar cJf``, xz -9: 64 MiB) is about
    half the size again, since it also matches each post-grasp scene against its pre-grasp scene.

    The folder is built in ``out`` + ``.partial`` and renamed when complete.

    Raises:
        FileExistsError: ``out`` exists.
        ConfigMismatchError: the folders differ in image size or object set.
        NotADatasetError, CorruptShardError: a folder or shard cannot be read.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder for the pack")
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    cards = [DatasetCard.load(root) for root in roots]
    if not cards:
        raise ValueError("no dataset folder given")
    for root, card in zip(roots, cards, strict=True):
        if card.image_size != cards[0].image_size:
            raise ConfigMismatchError(f"{root}: image size {card.image_size}, but {roots[0]} has "
                                      f"{cards[0].image_size}; pack them separately")
        if card.object_set.get("names_sha256") != cards[0].object_set.get("names_sha256"):
            raise ConfigMismatchError(f"{root}: object set {card.object_set.get('spec')!r} differs from "
                                      f"{roots[0]}'s {cards[0].object_set.get('spec')!r}; pack them separately")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    card = DatasetCard(source=SOURCE, image_size=cards[0].image_size, object_set=cards[0].object_set,
                       config={"packed_from": [{"folder": str(root), "counts": c.counts(), "created": c.created}
                                               for root, c in zip(roots, cards, strict=True)],
                               "shard_size": shard_size, "image_chunk_rows": chunk_rows,
                               "compression_level": compression_level},
                       seeds={"split_key": "the original records' keys"}, code_version=code_version())
    first = 0

    def flush(chunk: list[GraspRecord]) -> None:
        nonlocal first
        path = partial / shard_name(first, first + len(chunk))
        atomic_write_bytes(path, encode_shard(chunk, SOURCE, chunk_rows, compression_level))
        card.shards.append(shard_entry(path))
        first += len(chunk)
        if progress is not None:
            progress(len(chunk))

    for root in roots:  # at most one shard's records in memory; shards do not straddle folders
        chunk: list[GraspRecord] = []
        for record in _successes(Path(root)):
            chunk.append(replace(record, index=first + len(chunk)))
            if len(chunk) == shard_size:
                flush(chunk)
                chunk = []
        if chunk:
            flush(chunk)
    card.save(partial)
    partial.rename(out)
    return card
