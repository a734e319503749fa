"""graspdata.pack / runs.pack_triplets: a compact, triplet-only copy that reads like its sources."""

import numpy as np
import pytest

from embedding.dataset import EpisodeDataset, TripletDataset
from graspdata.card import DatasetCard, names_digest
from graspdata.errors import ConfigMismatchError
from graspdata.pack import pack_triplets
from runs import pack_triplets as pack_command
from tests.graspdata.helpers import write_dataset


def _triplets(dataset: TripletDataset) -> list[tuple[int, int, int]]:
    return sorted((int(item["pre"][0, 0, 0]), int(item["post"][0, 0, 0]), int(item["outcome"][0, 0, 0]))
                  for item in (dataset[i] for i in range(len(dataset))))


def test_pack_holds_every_success_with_the_same_split(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_dataset(first, [(0, 12), (12, 20)])
    write_dataset(second, [(100, 109)])
    pack = tmp_path / "pack"
    card = pack_triplets([first, second], pack, shard_size=7, chunk_rows=4)
    assert card.source == "pack" and card.counts()["successes"] == card.counts()["attempts"] == 19
    assert [entry.stop_index - entry.first_index for entry in card.shards] == [7, 6, 6]  # shards per folder
    for split in ("train", "val", "all"):
        original = TripletDataset([first, second], split=split, val_fraction=0.3, seed=4)
        packed = TripletDataset(pack, split=split, val_fraction=0.3, seed=4)
        assert _triplets(packed) == _triplets(original)
    assert len(EpisodeDataset(pack)) == 0  # no episodes travel
    assert [entry["folder"] for entry in DatasetCard.load(pack).config["packed_from"]] == [str(first), str(second)]


def test_pack_refuses_an_existing_folder_and_mixed_object_sets(tmp_path):
    write_dataset(tmp_path / "a", [(0, 6)])
    card = write_dataset(tmp_path / "b", [(0, 6)])
    card.object_set = {"spec": "unseen", "names_sha256": names_digest(["other"])}
    card.save(tmp_path / "b")
    with pytest.raises(ConfigMismatchError, match="object set"):
        pack_triplets([tmp_path / "a", tmp_path / "b"], tmp_path / "pack")
    assert not (tmp_path / "pack").exists()
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken"):
        pack_triplets([tmp_path / "a"], tmp_path / "taken")


def test_uncompressed_pack_for_archive_transport(tmp_path, capsys):
    write_dataset(tmp_path / "a", [(0, 9)])
    pack_command.main(["--data", str(tmp_path / "a"), "--out", str(tmp_path / "pack"), "--compression-level", "0"])
    assert "packed 6 triplets" in capsys.readouterr().out
    item = TripletDataset(tmp_path / "pack")[0]
    assert item["pre"].dtype == np.uint8 and item["pre"].shape == (16, 16, 3)
    with pytest.raises(SystemExit, match="exists"):
        pack_command.main(["--data", str(tmp_path / "a"), "--out", str(tmp_path / "pack")])
