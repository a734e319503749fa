"""Importing folders of real-robot style image triplets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from embedding.dataset import EpisodeDataset, EvaluationGrasps, TripletDataset
from graspdata.errors import DatasetError, NotADatasetError
from graspdata.ground_truth import GroundTruthReader
from graspdata.importer import import_triplets
from runs import import_triplets as import_cli


def write_triplet(folder, value: int, suffix: str = ".png", meta: dict | None = None, size=(80, 60)) -> None:
    folder.mkdir(parents=True)
    for offset, role in enumerate(("pre", "post", "outcome")):
        image = np.full((size[1], size[0], 3), value + offset, np.uint8)
        Image.fromarray(image).save(folder / f"{role}{suffix}")
    if meta is not None:
        (folder / "meta.json").write_text(json.dumps(meta))


def test_import_png_and_jpeg_with_meta(tmp_path):
    source = tmp_path / "robot"
    write_triplet(source / "g0", 10, meta={"success": True, "object": "mug"})
    write_triplet(source / "g1", 100, suffix=".jpg")
    write_triplet(source / "g2", 200, meta={"success": False, "object": "cup"})
    (source / "notes").mkdir()
    card = import_triplets(source, tmp_path / "data", image_size=32, shard_size=2)
    assert card.counts() == {"attempts": 3, "grasps_attempted": 3, "successes": 2, "faults": 0, "shards": 2}
    assert card.object_set["names"] == ["cup", "mug"] and card.source == "import"
    triplets = TripletDataset(tmp_path / "data")
    assert len(triplets) == 2
    first = triplets[0]
    assert first["pre"].shape == (32, 32, 3) and int(first["pre"][16, 16, 0]) == 10
    assert int(first["outcome"][16, 16, 0]) == 12
    assert abs(int(triplets[1]["pre"][16, 16, 0]) - 100) <= 2  # JPEG
    assert GroundTruthReader().read(triplets.ref(0)).lifted_objects == ("mug",)
    assert len(EpisodeDataset(tmp_path / "data")) == 0 and len(EvaluationGrasps(tmp_path / "data")) == 0
    assert not (tmp_path / "data.partial").exists()


def test_import_errors_name_the_problem(tmp_path):
    with pytest.raises(NotADatasetError, match="no such folder"):
        import_triplets(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotADatasetError, match="no triplet folders"):
        import_triplets(tmp_path / "empty", tmp_path / "out")
    source = tmp_path / "src"
    write_triplet(source / "g0", 10)
    (source / "g0" / "post.png").unlink()
    with pytest.raises(DatasetError, match="g0: triplet incomplete, no post image"):
        import_triplets(source, tmp_path / "out")
    (source / "g0" / "post.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="post.png: not a readable image"):
        import_triplets(source, tmp_path / "out")
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken"):
        import_triplets(source, tmp_path / "taken")


def test_import_command(tmp_path, capsys):
    write_triplet(tmp_path / "src" / "a", 50)
    import_cli.main([str(tmp_path / "src"), "--out", str(tmp_path / "data"), "--image-size", "16"])
    assert "imported 1 triplets" in capsys.readouterr().out
    assert TripletDataset(tmp_path / "data").image_size == 16
