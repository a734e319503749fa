"""The training label is the record's sensed grasp bit; older shards without it read with a fallback."""

from __future__ import annotations

import warnings
from dataclasses import replace

import h5py
import numpy as np
import pytest

from common.io import atomic_write_bytes
from graspdata.card import DatasetCard, shard_entry
from graspdata.errors import SensedBitFallbackWarning
from graspdata.layout import (
    APERTURE,
    FALLBACK_SENSED_APERTURE,
    GRASP_SENSED,
    RECORD_GROUP,
    TRUTH_GROUP,
    encode_shard,
    read_grasp_sensed,
    shard_name,
)
from graspdata.pack import pack_triplets
from graspdata.reader import EpisodeDataset, TripletDataset
from tests.graspdata.helpers import SIZE, make_record

# (ground-truth success, sensed): lifted and held, thrown up (lifted, gripper empty), held below
# the lift line (sensed, not lifted), nothing.
CASES = [(True, True), (True, False), (False, True), (False, False)]


def _write(folder, records, version: int | None = None, drop: tuple[str, ...] = ()):
    folder.mkdir(parents=True, exist_ok=True)
    card = DatasetCard(source="sim", image_size=SIZE, object_set={"spec": "seen"}, config={}, seeds={},
                       code_version={})
    path = folder / shard_name(0, len(records))
    atomic_write_bytes(path, encode_shard(records, "sim"))
    with h5py.File(path, "a") as f:
        for name in drop:
            del f[RECORD_GROUP][name]
        if version is not None:
            f.attrs["layout_version"] = version
    card.shards.append(shard_entry(path))
    if version is not None:
        card.layout_version = version
    card.save(folder)


def test_triplets_and_episodes_read_the_sensed_bit_not_success(tmp_path):
    records = [make_record(i, success, sensed=sensed) for i, (success, sensed) in enumerate(CASES)]
    _write(tmp_path, records)
    triplets = TripletDataset(tmp_path)
    assert sorted(int(triplets[i]["pre"][0, 0, 0]) for i in range(len(triplets))) == [0, 2]
    episodes = EpisodeDataset(tmp_path)
    assert [episodes[i]["grasp_sensed"] for i in range(4)] == [s for _, s in CASES]
    assert [episodes[i]["success"] for i in range(4)] == [s for s, _ in CASES]  # ground truth stays


def test_old_shards_fall_back_to_the_aperture_with_a_warning_naming_the_folder(tmp_path):
    apertures = [0.06, 0.0396, 0.055, float("nan")]
    records = [replace(make_record(i, success, sensed=sensed), outcome_aperture=a)
               for i, ((success, sensed), a) in enumerate(zip(CASES, apertures, strict=True))]
    _write(tmp_path / "old", records, version=1, drop=(GRASP_SENSED,))
    with pytest.warns(SensedBitFallbackWarning, match=str(tmp_path / "old")):
        triplets = TripletDataset(tmp_path / "old")
    # Aperture above the nominal closed aperture + margin: 0 and 2; no aperture: success (3 failed).
    assert sorted(int(triplets[i]["pre"][0, 0, 0]) for i in range(len(triplets))) == [0, 2]
    assert 0.0396 < FALLBACK_SENSED_APERTURE < 0.055
    with pytest.warns(SensedBitFallbackWarning):
        episodes = EpisodeDataset(tmp_path / "old")
        assert [episodes[i]["grasp_sensed"] for i in range(4)] == [True, False, True, False]


def test_oldest_shards_without_aperture_fall_back_to_success(tmp_path):
    records = [make_record(i, success, sensed=sensed) for i, (success, sensed) in enumerate(CASES)]
    _write(tmp_path / "oldest", records, version=1, drop=(GRASP_SENSED, APERTURE))
    with pytest.warns(SensedBitFallbackWarning, match="success bit"):
        triplets = TripletDataset(tmp_path / "oldest")
    assert len(triplets) == 2 and sorted(int(triplets[i]["pre"][0, 0, 0]) for i in range(2)) == [0, 1]


def test_sensed_shards_read_without_warning_and_pack_keeps_the_sensed_triplets(tmp_path):
    records = [make_record(i, success, sensed=sensed) for i, (success, sensed) in enumerate(CASES)]
    _write(tmp_path / "data", records)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SensedBitFallbackWarning)
        pack_triplets([tmp_path / "data"], tmp_path / "pack")
        packed = TripletDataset(tmp_path / "pack")
        assert sorted(int(packed[i]["pre"][0, 0, 0]) for i in range(len(packed))) == [0, 2]


def test_a_shard_stores_the_sensed_bit_for_all_records_or_none():
    with pytest.raises(ValueError, match="grasp_sensed"):
        encode_shard([make_record(0, True), replace(make_record(1, True), grasp_sensed=None)], "sim")
    encoded = encode_shard([replace(make_record(i, True), grasp_sensed=None) for i in range(2)], "sim")
    assert encoded  # written without the field: readers fall back


def test_touching_round_trips_in_the_ground_truth(tmp_path):
    record = make_record(0, True)
    record = replace(record, truth=replace(record.truth, touching=np.array([False, True])))
    _write(tmp_path, [record])
    with h5py.File(next(tmp_path.glob("shard-*.h5"))) as f:
        assert f[TRUTH_GROUP]["touching"][0].tolist() == [False, True]
        assert read_grasp_sensed(f[RECORD_GROUP]).tolist() == [True]
