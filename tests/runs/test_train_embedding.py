import json

import pytest
import torch
from safetensors.torch import load_file

from embedding.dataset import TripletDataset
from runs import collect, eval_embedding, train_embedding


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "seen-tiny"
    collect.main(["--out", str(folder), "--objects", "seen", "--grasps", "40", "--workers", "1", "--image-size", "32",
                  "--num-objects", "3", "--seed", "11", "--shard-size", "40", "--wandb-mode", "disabled",
                  "--no-progress"])
    return folder


def _train(data, out, *extra):
    folders = [str(folder) for folder in (data if isinstance(data, list) else [data])]
    return train_embedding.main(["--data", *folders, "--out", str(out), "--steps", "4", "--batch-size", "4",
                                 "--val-fraction", "0.2", "--threads", "1", "--wandb-mode", "disabled",
                                 "--no-progress", "--cache", *extra])


def test_train_kill_resume_then_evaluate_on_the_dataset(tmp_path, tiny_dataset):
    run = tmp_path / "run"
    first = _train(tiny_dataset, run, "--stop-at-step", "2", "--device", "cpu")
    assert first["final_step"] == 2 and first["device"] == "cpu"
    with pytest.raises(FileExistsError, match="--resume"):
        _train(tiny_dataset, run)
    resumed = _train(tiny_dataset, run, "--resume")
    assert resumed["start_step"] == 2 and resumed["final_step"] == 4
    assert json.loads((run / "summary.json").read_text())["final_step"] == 4
    _train(tiny_dataset, tmp_path / "straight", "--workers", "1")
    straight, pieces = (load_file(str(folder / "model.safetensors")) for folder in (tmp_path / "straight", run))
    assert all(torch.equal(straight[key], pieces[key]) for key in straight)
    assert (tmp_path / "straight" / "history.jsonl").read_text() == (run / "history.jsonl").read_text()
    assert (run / "curves.png").is_file()
    card = json.loads((run / "config.json").read_text())
    assert card["config"]["image_size"] == 32
    assert card["extra"]["data"]["train_triplets"] >= 4 and card["extra"]["step"] == 4
    report = eval_embedding.main(["--checkpoint", str(run), "--objects", "seen", "--data", str(tiny_dataset),
                                  "--no-goal-bank", "--json", str(tmp_path / "eval.json"), "--no-progress",
                                  "--threads", "1"])
    assert report["held_out"]["source"] == "dataset" and report["held_out"]["grasps"] >= 2
    assert report["held_out"]["roots"] == [str(tiny_dataset)]
    assert report["checkpoint_card"]["step"] == 4


def test_training_pools_several_dataset_folders(tmp_path, tiny_dataset):
    second = tmp_path / "seen-second"
    collect.main(["--out", str(second), "--objects", "seen", "--grasps", "12", "--workers", "1", "--image-size", "32",
                  "--num-objects", "3", "--seed", "12", "--shard-size", "12", "--wandb-mode", "disabled",
                  "--no-progress"])
    one = json.loads((_train_card(tmp_path / "one", [tiny_dataset])).read_text())["extra"]["data"]
    both = json.loads((_train_card(tmp_path / "both", [tiny_dataset, second])).read_text())["extra"]["data"]
    assert both["roots"] == [str(tiny_dataset), str(second)]
    added = both["train_triplets"] + both["val_triplets"] - one["train_triplets"] - one["val_triplets"]
    assert added == len(TripletDataset(second)) > 0


def _train_card(out, folders):
    _train(folders, out, "--steps", "1")
    return out / "config.json"


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, tiny_dataset, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="sees no CUDA device"):
        _train(tiny_dataset, tmp_path / "run", "--device", "cuda")


@pytest.mark.parametrize(("flags", "message"), [(("--colour-permute", "1.5"), "colour_permute is a probability"),
                                                 (("--steps", "0"), "need steps >= 1"),
                                                 (("--same-object-weight", "1"), "pair folders .* go together")])
def test_settings_out_of_range_are_clear_errors(tmp_path, tiny_dataset, flags, message):
    with pytest.raises(SystemExit, match=f"train_embedding: error: {message}"):
        _train(tiny_dataset, tmp_path / "run", *flags)
    assert not (tmp_path / "run").exists()


def test_init_from_fine_tunes_at_other_stage_strides(tmp_path, tiny_dataset):
    base = tmp_path / "base"
    _train(tiny_dataset, base, "--embedding-dim", "16", "--stem-channels", "8", "--stage-channels", "16", "16",
           "--stage-strides", "2", "1")
    _train(tiny_dataset, tmp_path / "finer", "--init-from", str(base), "--stage-strides", "1", "1")
    card = json.loads((tmp_path / "finer" / "config.json").read_text())["config"]
    assert card["stage_strides"] == [1, 1] and card["embedding_dim"] == 16
    _train(tiny_dataset, tmp_path / "same", "--init-from", str(base))
    assert json.loads((tmp_path / "same" / "config.json").read_text())["config"]["stage_strides"] == [2, 1]


def test_pairs_from_a_folder_collected_without_regrasp_same_are_refused(tmp_path, tiny_dataset):
    with pytest.raises(SystemExit, match="no second lifts to pair"):
        _train(tiny_dataset, tmp_path / "run", "--pairs", str(tiny_dataset), "--same-object-weight", "1")
