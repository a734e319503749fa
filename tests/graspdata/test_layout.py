"""Shard encoding, validation and the errors for corrupt, truncated, foreign or outdated files."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from graspdata.card import DatasetCard
from graspdata.errors import CorruptShardError, LayoutVersionError, NotADatasetError
from graspdata.folder import scan_folder
from graspdata.ground_truth import GroundTruthReader
from graspdata.layout import (
    APERTURE,
    RECORD_GROUP,
    encode_shard,
    inspect_shard,
    read_aperture,
    shard_counts,
    verify_shard,
)
from graspdata.reader import EpisodeDataset, OutcomePairDataset, TripletDataset
from tests.graspdata.helpers import make_record, write_dataset, write_records


def test_round_trip_counts_and_info(tmp_path):
    write_dataset(tmp_path, [(0, 6)])
    path = tmp_path / "shard-000000000-000000006.h5"
    info = verify_shard(path)
    assert (info.first_index, info.stop_index, info.image_size) == (0, 6, 16)
    assert info.observation_keys == ("gripper", "image")
    assert shard_counts(path) == {"attempts": 6, "grasps_attempted": 6, "successes": 4, "faults": 0}
    with h5py.File(path) as f:
        assert f["records/pre_image"].dtype == np.uint8
        assert f["records/pre_image"].compression == "gzip" and f["records/pre_image"].fletcher32
        assert f["observations/image"].shape == (6 * 4, 16, 16, 3)


def test_outcome_aperture_round_trip_and_older_shards(tmp_path):
    records = [replace(make_record(i, True), outcome_aperture=0.05 + i) for i in range(3)]
    path = tmp_path / "shard.h5"
    path.write_bytes(encode_shard(records, "sim"))
    with h5py.File(path, "a") as f:
        assert [read_aperture(f[RECORD_GROUP], i) for i in range(3)] == pytest.approx([0.05, 1.05, 2.05])
        del f[RECORD_GROUP][APERTURE]  # as written before apertures were recorded
        assert np.isnan(read_aperture(f[RECORD_GROUP], 0))
    write_dataset(tmp_path / "data", [(0, 3)])
    assert np.isnan(EpisodeDataset(tmp_path / "data")[0]["aperture"])  # make_record measures none


def test_pre_heightmap_round_trip_and_all_or_none(tmp_path):
    scans = [np.full((5, 4, 4), i, np.uint8) for i in range(3)]
    records = [replace(make_record(i, True), pre_heightmap=scans[i]) for i in range(3)]
    folder = tmp_path / "data"
    write_dataset(folder, [])
    (folder / "shard-000000000-000000003.h5").write_bytes(encode_shard(records, "sim"))
    dataset = EpisodeDataset(folder)
    np.testing.assert_array_equal(dataset[2]["heightmap"], scans[2])
    assert "heightmap" not in EpisodeDataset(write_dataset_copy(tmp_path))[0]  # data collected without them
    with pytest.raises(ValueError, match="height maps for all its records or for none"):
        encode_shard([records[0], make_record(1, True)], "sim")
    with pytest.raises(ValueError, match="pre_heightmap must be"):
        replace(make_record(0, True), pre_heightmap=np.zeros((5, 4, 3), np.uint8))


def test_second_lift_round_trip_and_all_or_none(tmp_path):
    """``--regrasp-same`` records: the second outcome and its sensed bit in the records, its lift in the truth."""
    records = [replace(make_record(i, True), again_outcome_image=np.full((16, 16, 3), 50 + i, np.uint8),
                       again_sensed=i != 1, truth=replace(make_record(i, True).truth,
                                                          again_lifted=np.array([i != 1, False])))
               for i in range(3)]
    card = write_records(tmp_path / "data", records)
    pairs = OutcomePairDataset(tmp_path / "data")
    assert len(pairs) == 2 and card.image_size == 16
    np.testing.assert_array_equal(pairs[1]["first"], records[2].outcome_image)
    np.testing.assert_array_equal(pairs[1]["second"], records[2].again_outcome_image)
    truth = GroundTruthReader().read(pairs.ref(1))
    np.testing.assert_array_equal(truth.again_lifted, [True, False])
    assert GroundTruthReader().read(TripletDataset(write_dataset_copy(tmp_path)).ref(0)).again_lifted is None
    with pytest.raises(ValueError, match="again_outcome_image for all its records or for none"):
        encode_shard([records[0], make_record(1, True)], "sim")
    with pytest.raises(ValueError, match="recorded together"):
        replace(make_record(0, True), again_outcome_image=np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="again_outcome_image must be"):
        replace(make_record(0, True), again_outcome_image=np.zeros((8, 8, 3), np.uint8), again_sensed=True)


def write_dataset_copy(tmp_path):
    write_dataset(tmp_path / "plain", [(0, 2)])
    return tmp_path / "plain"


def test_encode_rejects_gaps_and_mixed_sizes():
    with pytest.raises(ValueError, match="consecutive"):
        encode_shard([make_record(0, True), make_record(2, True)], "sim")
    with pytest.raises(ValueError, match="image size"):
        encode_shard([make_record(0, True), make_record(1, True, size=8)], "sim")


def test_truncated_shard_is_named(tmp_path):
    write_dataset(tmp_path, [(0, 6)])
    path = tmp_path / "shard-000000000-000000006.h5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptShardError, match=path.name):
        inspect_shard(path)
    with pytest.raises(CorruptShardError, match=path.name):
        TripletDataset(tmp_path)


def test_flipped_bytes_fail_the_checksum_not_silently(tmp_path):
    write_dataset(tmp_path, [(0, 6)])
    path = tmp_path / "shard-000000000-000000006.h5"
    with h5py.File(path) as f:
        offset = f["records/outcome_image"].id.get_chunk_info(4).byte_offset
    data = bytearray(path.read_bytes())
    for i in range(offset + 8, offset + 24):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptShardError, match="checksum"):
        verify_shard(path)
    triplets = TripletDataset(tmp_path)  # the index is intact; reading the damaged image fails loudly
    damaged = [i for i in range(len(triplets)) if triplets.ref(i).row == 4]
    with pytest.raises(CorruptShardError, match=path.name):
        triplets[damaged[0]]


def test_other_layout_version_and_foreign_files(tmp_path):
    write_dataset(tmp_path, [(0, 3), (3, 6)])
    old = tmp_path / "shard-000000000-000000003.h5"
    with h5py.File(old, "a") as f:
        f.attrs["layout_version"] = 0
    with pytest.raises(LayoutVersionError, match=old.name):
        scan_folder(tmp_path)
    foreign = tmp_path / "shard-000000003-000000006.h5"
    foreign.write_bytes(b"not hdf5 at all")
    with pytest.raises(CorruptShardError, match=foreign.name):
        inspect_shard(foreign)
    with h5py.File(tmp_path / "shard-000000006-000000009.h5", "w") as f:
        f.attrs["format"] = "something else"
    with pytest.raises(NotADatasetError, match="not a grasp shard"):
        inspect_shard(tmp_path / "shard-000000006-000000009.h5")


def test_skip_bad_reports_and_skips(tmp_path):
    write_dataset(tmp_path, [(0, 3), (3, 6)])
    bad = tmp_path / "shard-000000003-000000006.h5"
    bad.write_bytes(bad.read_bytes()[:100])
    messages = []
    scan = scan_folder(tmp_path, skip_bad=True, report=messages.append)
    assert [s.first_index for s in scan.shards] == [0] and scan.bad[0][0] == bad
    assert bad.name in messages[0]
    assert len(TripletDataset(tmp_path, skip_bad=True, report=messages.append)) == 2


def test_size_differing_from_manifest_is_corrupt(tmp_path):
    write_dataset(tmp_path, [(0, 3)])
    path = tmp_path / "shard-000000000-000000003.h5"
    with open(path, "ab") as handle:
        handle.write(b"\0" * 10)
    with pytest.raises(CorruptShardError, match="card lists"):
        scan_folder(tmp_path)


def test_folder_that_is_not_a_dataset(tmp_path):
    with pytest.raises(NotADatasetError, match="no card.json"):
        TripletDataset(tmp_path)
    with pytest.raises(NotADatasetError, match="no such dataset folder"):
        TripletDataset(tmp_path / "missing")
    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(NotADatasetError, match="unreadable dataset card"):
        DatasetCard.load(tmp_path)
    (tmp_path / "card.json").write_text('{"format": "grasp2vec-sim/grasp-dataset", "layout_version": 99}')
    with pytest.raises(LayoutVersionError, match="layout version 99"):
        DatasetCard.load(tmp_path)


def test_overlapping_shards_are_an_error(tmp_path):
    write_dataset(tmp_path, [(0, 4), (2, 6)])
    with pytest.raises(CorruptShardError, match="overlaps"):
        scan_folder(tmp_path)
