import json

import pytest
import torch

from embedding.checkpoint import save_checkpoint
from embedding.model import Grasp2Vec, Grasp2VecConfig
from runs import eval_embedding

TINY = Grasp2VecConfig(image_size=32, embedding_dim=8, stem_channels=4, stage_channels=(8,), stage_strides=(2,))


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(Grasp2Vec(TINY), tmp_path / "ckpt", extra={"data": {"note": "untrained, for tests"}})
    return tmp_path / "ckpt"


def test_collects_held_out_grasps_and_reports(tmp_path, tiny_checkpoint):
    out = tmp_path / "eval" / "unseen.json"
    report = eval_embedding.main(["--checkpoint", str(tiny_checkpoint), "--objects", "unseen", "--attempts", "16",
                                  "--num-objects", "2", "--seed", "5", "--json", str(out), "--no-progress",
                                  "--threads", "1"])
    saved = json.loads(out.read_text())
    assert saved["held_out"]["grasps"] == report["held_out"]["grasps"] >= 2
    assert saved["goals"]["heldout"] + saved["goals"]["bank"] + saved["goals"]["none"] == saved["held_out"]["grasps"]
    for name in ("trained", "random_init"):
        metrics = saved["models"][name]
        assert 0.0 <= metrics["retrieval_top1_dot"]["rate"] <= 1.0
        assert metrics["retrieval_top1_dot"]["n"] == saved["held_out"]["grasps"]
        assert metrics["heatmap_readout"] == {"shifts": 2, "centred": True}
        by_readout = metrics["localization_by_readout"]
        assert list(by_readout) == ["uncentred", "centred", "centred, 2x2 shifts"]
        assert by_readout["centred, 2x2 shifts"] == metrics["localization"]
    table = out.with_suffix(".md").read_text()
    assert table.count("| trained |") == 2 and "| model | uncentred | centred | centred, 2x2 shifts |" in table
    assert all((tmp_path / "eval" / f"unseen_{m}_{kind}.png").is_file()
               for m in ("trained", "random_init") for kind in ("heatmaps", "retrieval"))
    assert "cores" in saved["machine"]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Grasp2Vec checkpoint"):
        eval_embedding.main(["--checkpoint", str(tmp_path / "none"), "--json", str(tmp_path / "x.json")])
