import json

import numpy as np
import pytest
import torch

from embedding.checkpoint import CheckpointMismatchError, checkpoint_files, load_checkpoint, save_checkpoint
from embedding.model import Grasp2Vec, Grasp2VecConfig

TINY = Grasp2VecConfig(image_size=32, embedding_dim=8, stem_channels=4, stage_channels=(8,), stage_strides=(2,))


def _model() -> Grasp2Vec:
    torch.manual_seed(0)
    model = Grasp2Vec(TINY)
    model.train()
    model.embed_scenes(np.full((2, 32, 32, 3), 7, np.uint8))  # moves BatchNorm running statistics
    return model.eval()


@pytest.mark.parametrize("name", ["folder", "prefix.safetensors"])
def test_round_trip(tmp_path, name):
    model = _model()
    weights, card = save_checkpoint(model, tmp_path / name, extra={"data": {"triplets": 3}})
    assert weights.is_file() and card.is_file()
    loaded = load_checkpoint(tmp_path / name, expect_image_size=32, expect_config=TINY)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    torch.testing.assert_close(loaded.embed_scenes(images), model.embed_scenes(images))
    torch.testing.assert_close(loaded.embed_outcomes(images), model.embed_outcomes(images))
    assert json.loads(card.read_text())["extra"]["data"]["triplets"] == 3


def test_prefix_forms_name_the_same_files(tmp_path):
    assert checkpoint_files(tmp_path / "a.json") == checkpoint_files(tmp_path / "a.safetensors")
    assert checkpoint_files(tmp_path / "a")[0] == tmp_path / "a" / "model.safetensors"


def test_mismatches_fail_clearly(tmp_path):
    save_checkpoint(_model(), tmp_path / "ckpt")
    with pytest.raises(CheckpointMismatchError, match="32 px"):
        load_checkpoint(tmp_path / "ckpt", expect_image_size=64)
    with pytest.raises(CheckpointMismatchError, match="architecture"):
        load_checkpoint(tmp_path / "ckpt", expect_config=Grasp2VecConfig(image_size=32))
    # weights that do not fit the card's architecture
    card = tmp_path / "ckpt" / "config.json"
    info = json.loads(card.read_text())
    info["config"]["embedding_dim"] = 16
    card.write_text(json.dumps(info))
    with pytest.raises(CheckpointMismatchError, match="does not fit"):
        load_checkpoint(tmp_path / "ckpt")
    info["format"] = "something-else"
    card.write_text(json.dumps(info))
    with pytest.raises(CheckpointMismatchError, match="format"):
        load_checkpoint(tmp_path / "ckpt")
    card.write_text("{not json")
    with pytest.raises(CheckpointMismatchError, match="JSON"):
        load_checkpoint(tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_checkpoint(tmp_path / "nowhere")
