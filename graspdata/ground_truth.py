"""EVALUATION ONLY: the ground truth stored beside each record (objects, lifted, segmentation masks).

Training code must not import this module: the self-supervised method learns without labels, and
the readers in :mod:`graspdata.reader` never open the ``ground_truth`` group. Evaluation and
inspection tools either pair a reader's :class:`~graspdata.reader.RecordRef` with
:class:`GroundTruthReader`, or read :class:`EvaluationGrasps` directly::

    truth = GroundTruthReader().read(triplets.ref(i))   # GroundTruth of triplets[i]
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from graspdata.errors import CorruptShardError
from graspdata.layout import AGAIN_LIFTED, RECORD_GROUP, TRUTH_GROUP, read_aperture
from graspdata.reader import RecordRef, ShardedReader, ShardFiles, TripletDataset
from graspdata.records import GroundTruth


class GroundTruthReader:
    """Reads :class:`GroundTruth` for records, keeping at most ``max_open_files`` shards open."""

    def __init__(self, max_open_files: int = 8) -> None:
        self._files = ShardFiles(max_open_files)

    def read(self, ref: RecordRef) -> GroundTruth:
        """Ground truth of the record at ``ref``; raises :class:`CorruptShardError` naming the file on failure."""
        try:
            group = self._files.get(ref.path)[TRUTH_GROUP]
            row = ref.row
            names = group["objects"].asstr()[row]
            count = int(np.sum(names != ""))
            has_mask = bool(group["has_mask"][row])
            again = group[AGAIN_LIFTED][row][:count].astype(bool) if AGAIN_LIFTED in group else None
            return GroundTruth(
                objects=tuple(names[:count]), urdfs=tuple(group["urdfs"].asstr()[row][:count]),
                lifted=group["lifted"][row][:count].astype(bool), object_poses=group["object_poses"][row][:count],
                pre_mask=group["pre_mask"][row] if has_mask else None,
                post_mask=group["post_mask"][row] if has_mask else None, again_lifted=again)
        except (OSError, KeyError) as error:
            raise CorruptShardError(f"{ref.path}: cannot read ground truth of row {ref.row}: {error}") from None

    def close(self) -> None:
        self._files.close()


class EvaluationGrasps(ShardedReader):
    """Successful grasps that lifted exactly one object, with that object's name and pre-grasp mask.

    ``dataset[i]`` is ``{"pre", "post", "outcome"}`` (H, W, 3) uint8 as in :class:`TripletDataset`, plus
    ``object`` (str, the lifted object's name), ``pre_object_mask`` ((H, W) bool, its pixels in
    ``pre``) and ``aperture`` (float, measured fingertip distance after the lift, m; NaN if not
    recorded). Arguments (split, val_fraction, seed, ...) as :class:`TripletDataset`, so
    ``split="val"`` selects the same held-out records as the training reader's validation split.
    """

    def _wanted(self, records: h5py.Group) -> np.ndarray:
        truth = records.file[TRUTH_GROUP]
        lifted = truth["lifted"][:]
        single = lifted.sum(axis=1) == 1 if lifted.shape[1] else np.zeros(len(lifted), bool)
        return records["success"][:].astype(bool) & single & truth["has_mask"][:].astype(bool)

    def __getitem__(self, index: int) -> dict[str, Any]:
        info, row = self._locate(index)

        def read(f: h5py.File) -> dict[str, Any]:
            records, truth = f[RECORD_GROUP], f[TRUTH_GROUP]
            slot = int(np.flatnonzero(truth["lifted"][row])[0])
            item = {key: records[name][row] for key, name in TripletDataset.IMAGES.items()}
            return {**item, "object": truth["objects"].asstr()[row][slot],
                    "pre_object_mask": truth["pre_mask"][row] == slot, "aperture": read_aperture(records, row)}

        return self._read(info.path, read)


class MultiObjectGrasps(ShardedReader):
    """Successful grasps that lifted two or more objects together, with the lifted objects' names.

    ``dataset[i]`` is ``{"outcome": (H, W, 3) uint8, "objects": tuple[str, ...], "aperture": float}``.
    Arguments as :class:`TripletDataset`.
    """

    def _wanted(self, records: h5py.Group) -> np.ndarray:
        lifted = records.file[TRUTH_GROUP]["lifted"][:]
        several = lifted.sum(axis=1) >= 2 if lifted.shape[1] else np.zeros(len(lifted), bool)
        return records["success"][:].astype(bool) & several

    def __getitem__(self, index: int) -> dict[str, Any]:
        info, row = self._locate(index)

        def read(f: h5py.File) -> dict[str, Any]:
            records, truth = f[RECORD_GROUP], f[TRUTH_GROUP]
            names = truth["objects"].asstr()[row]
            return {"outcome": records[TripletDataset.IMAGES["outcome"]][row],
                    "objects": tuple(str(n) for n in names[truth["lifted"][row].astype(bool)]),
                    "aperture": read_aperture(records, row)}

        return self._read(info.path, read)
