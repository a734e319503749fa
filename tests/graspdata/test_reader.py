"""Training readers: successful triplets only, deterministic split, bounded files, no ground truth."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

from embedding.dataset import EpisodeDataset, EvaluationGrasps, TripletDataset
from graspdata.card import DatasetCard, shard_entry
from graspdata.errors import ConfigMismatchError, CorruptShardError
from graspdata.ground_truth import GroundTruthReader
from graspdata.layout import TRUTH_GROUP
from graspdata.reader import ShardFiles, split_fraction
from tests.graspdata.helpers import write_dataset


def _indices(dataset) -> list[int]:
    return sorted(int(dataset[i]["pre"][0, 0, 0]) for i in range(len(dataset)))


def test_triplets_are_the_successes_across_shards(tmp_path):
    write_dataset(tmp_path, [(0, 5), (5, 12)])
    triplets = TripletDataset(tmp_path)
    assert _indices(triplets) == [i for i in range(12) if i % 3 != 0]
    item = triplets[0]
    assert set(item) == {"pre", "post", "outcome"}
    assert all(v.shape == (16, 16, 3) and v.dtype == np.uint8 for v in item.values())
    assert int(item["post"][0, 0, 0]) == int(item["pre"][0, 0, 0]) + 1
    assert triplets.image_size == 16
    with pytest.raises(IndexError):
        triplets[len(triplets)]


def test_split_is_deterministic_disjoint_and_stable_as_data_grows(tmp_path):
    write_dataset(tmp_path / "small", [(0, 60)])
    write_dataset(tmp_path / "grown", [(0, 60), (60, 120)])
    train = _indices(TripletDataset(tmp_path / "small", split="train", val_fraction=0.3, seed=7))
    val = _indices(TripletDataset(tmp_path / "small", split="val", val_fraction=0.3, seed=7))
    assert set(train).isdisjoint(val) and sorted(train + val) == _indices(TripletDataset(tmp_path / "small"))
    assert val == _indices(TripletDataset(tmp_path / "small", split="val", val_fraction=0.3, seed=7))
    assert 0 < len(val) < len(train)
    grown_val = _indices(TripletDataset(tmp_path / "grown", split="val", val_fraction=0.3, seed=7))
    assert [i for i in grown_val if i < 60] == val
    assert val != _indices(TripletDataset(tmp_path / "small", split="val", val_fraction=0.3, seed=8))


def test_split_fraction_is_uniform():
    fractions = split_fraction(np.arange(20_000), seed=3)
    assert fractions.min() >= 0.0 and fractions.max() < 1.0
    assert abs(np.mean(fractions < 0.1) - 0.1) < 0.01


def test_several_folders_and_their_checks(tmp_path):
    write_dataset(tmp_path / "a", [(0, 6)])
    write_dataset(tmp_path / "b", [(0, 6)])
    assert len(TripletDataset([tmp_path / "a", tmp_path / "b"])) == 8
    assert len(TripletDataset(tmp_path / "a", object_set="seen")) == 4
    with pytest.raises(ConfigMismatchError, match="not 'unseen'"):
        TripletDataset(tmp_path / "a", object_set="unseen")
    write_dataset(tmp_path / "c", [(0, 6)], size=24)
    with pytest.raises(ConfigMismatchError, match="image size 24"):
        TripletDataset([tmp_path / "a", tmp_path / "c"])
    with pytest.raises(ValueError, match="split must be"):
        TripletDataset(tmp_path / "a", split="test")


def test_episodes_hold_every_attempt_with_steps(tmp_path):
    write_dataset(tmp_path, [(0, 6)])
    episodes = EpisodeDataset(tmp_path)
    assert len(episodes) == 6
    item = episodes[4]
    assert item["images"].shape == (4, 16, 16, 3) and item["gripper"].shape == (4, 5)
    assert item["actions"].shape == (3, 5) and item["rewards"].tolist() == [0.0, 1.0, 2.0]
    assert float(item["gripper"][0, 0]) == 4.0
    assert item["success"] and item["terminated"] and item["outcome"].shape == (16, 16, 3)


def test_training_readers_never_touch_ground_truth(tmp_path):
    write_dataset(tmp_path, [(0, 6)])
    evaluation = EvaluationGrasps(tmp_path)
    assert len(evaluation) == 4 and evaluation[0]["object"] == "a"
    assert evaluation[0]["pre_object_mask"].sum() == 16
    evaluation.close()
    truths = GroundTruthReader()
    truth = truths.read(TripletDataset(tmp_path).ref(0))
    assert truth.lifted_objects == ("a",) and truth.pre_mask.shape == (16, 16)
    truths.close()
    card = DatasetCard.load(tmp_path)
    for path in tmp_path.glob("shard-*.h5"):  # remove the group: training readers must not notice
        with h5py.File(path, "a") as f:
            del f[TRUTH_GROUP]
    card.shards = [shard_entry(path) for path in sorted(tmp_path.glob("shard-*.h5"))]
    card.save(tmp_path)
    triplets, episodes = TripletDataset(tmp_path), EpisodeDataset(tmp_path)
    items = [triplets[i] for i in range(len(triplets))] + [episodes[i] for i in range(len(episodes))]
    assert len(items) == 10
    assert all("object" not in item and "mask" not in str(sorted(item)) for item in items)
    with pytest.raises(CorruptShardError):
        EvaluationGrasps(tmp_path)


def test_pickles_without_open_files_and_bounds_them(tmp_path):
    write_dataset(tmp_path, [(0, 3), (3, 6), (6, 9)])
    triplets = TripletDataset(tmp_path, max_open_files=2)
    before = triplets[0]["pre"].copy()
    [triplets[i] for i in range(len(triplets))]
    assert len(triplets._files._files) == 2
    clone = pickle.loads(pickle.dumps(triplets))
    assert len(clone._files._files) == 0
    np.testing.assert_array_equal(clone[0]["pre"], before)
    with pytest.raises(ValueError, match="max_open"):
        ShardFiles(0)


def test_multi_object_grasps_are_the_successes_that_lifted_several_objects(tmp_path):
    import dataclasses

    from common.io import atomic_write_bytes
    from embedding.dataset import MultiObjectGrasps
    from graspdata.layout import encode_shard, shard_name
    from tests.graspdata.helpers import make_record

    records = [make_record(i, success=i != 0) for i in range(4)]
    both = dataclasses.replace(records[2].truth, lifted=np.array([True, True]))
    records[2] = dataclasses.replace(records[2], truth=both)
    path = tmp_path / shard_name(0, 4)
    atomic_write_bytes(path, encode_shard(records, "sim"))
    card = DatasetCard(source="sim", image_size=16, object_set={"spec": "seen", "names_sha256": ""}, config={},
                       seeds={}, code_version={})
    card.shards.append(shard_entry(path))
    card.save(tmp_path)
    multi = MultiObjectGrasps(tmp_path)
    assert len(multi) == 1 and multi[0]["objects"] == ("a", "b") and multi[0]["outcome"][0, 0, 0] == 4
    assert len(EvaluationGrasps(tmp_path)) == 2  # the single-object successes
