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


def test_a_checkpoint_trained_through_another_field_of_view_is_refused_unless_asked(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(Grasp2Vec(TINY), tmp_path / "zoomed", extra={"data": {"triplet_fov": 27.0}})
    args = ["--checkpoint", str(tmp_path / "zoomed"), "--objects", "unseen", "--attempts", "16", "--num-objects", "2",
            "--seed", "5", "--json", str(tmp_path / "eval.json"), "--no-progress", "--threads", "1"]
    with pytest.raises(SystemExit, match="through a 27.0 degree field of view, the held-out grasps are through None"):
        eval_embedding.main(args)
    assert eval_embedding.main([*args, "--any-camera"])["held_out"]["triplet_fov"] is None


def test_a_checkpoint_trained_on_backdrop_outcomes_is_refused_on_others_unless_asked(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(Grasp2Vec(TINY), tmp_path / "backdrop", extra={"data": {"triplet_backdrop": True}})
    args = ["--checkpoint", str(tmp_path / "backdrop"), "--objects", "unseen", "--attempts", "16", "--num-objects",
            "2", "--seed", "5", "--json", str(tmp_path / "eval.json"), "--no-progress", "--threads", "1"]
    with pytest.raises(SystemExit, match="outcome images with a plain backdrop, the held-out grasps' are without"):
        eval_embedding.main(args)
    assert eval_embedding.main([*args, "--any-camera"])["held_out"]["triplet_backdrop"] is False


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Grasp2Vec checkpoint"):
        eval_embedding.main(["--checkpoint", str(tmp_path / "none"), "--json", str(tmp_path / "x.json")])


def test_too_small_a_pool_is_refused(tmp_path, tiny_checkpoint):
    with pytest.raises(SystemExit, match="--min-pool is 1000"):
        eval_embedding.main(["--checkpoint", str(tiny_checkpoint), "--objects", "unseen", "--attempts", "16",
                             "--seed", "5", "--num-objects", "2", "--min-pool", "1000",
                             "--json", str(tmp_path / "x.json"), "--no-progress", "--threads", "1"])


def test_sets_table_has_a_column_per_object_set():
    from embedding.evaluate import format_sets_table

    entry = {"rate": 0.5, "wilson95": [0.4, 0.6], "n": 1200}
    report = {"held_out": {"grasps": 1200, "distinct_objects": 300},
              "models": {"trained": {"retrieval_top1_dot": entry, "retrieval_top1_cosine": entry,
                                     "localization": entry}}}
    table = format_sets_table({"seen": report, "unseen": report, "primitives": report})
    assert table.splitlines()[0] == "| | seen | unseen | primitives |"
    assert "| pool (grasps / objects) | 1,200 / 300 |" in table and "50.0 % [40.0, 60.0] (n=1,200)" in table
