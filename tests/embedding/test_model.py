import numpy as np
import pytest
import torch

from embedding.model import GPU_CONFIG, Grasp2Vec, Grasp2VecConfig, multiply_adds_per_image, parameter_count

TINY = Grasp2VecConfig(image_size=32, embedding_dim=8, stem_channels=4, stage_channels=(8,), stage_strides=(2,))


def test_shapes_and_relu_mean():
    torch.manual_seed(0)
    model = Grasp2Vec(TINY).eval()
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    maps = model.scene_feature_map(images)
    assert maps.shape == (3, 8, TINY.feature_size, TINY.feature_size) == (3, 8, 8, 8)
    assert (maps >= 0).all()
    torch.testing.assert_close(model.embed_scenes(images), maps.mean(dim=(2, 3)))
    assert model.embed_outcomes(torch.from_numpy(images)).shape == (3, 8)
    difference, outcome = model(torch.from_numpy(images), torch.from_numpy(images), torch.from_numpy(images))
    assert torch.allclose(difference, torch.zeros_like(difference))
    assert outcome.shape == (3, 8)


def test_encoders_have_separate_weights():
    model = Grasp2Vec(TINY)
    scene = {p.data_ptr() for p in model.scene_encoder.parameters()}
    assert not scene & {p.data_ptr() for p in model.outcome_encoder.parameters()}


def test_bad_inputs_name_the_problem():
    model = Grasp2Vec(TINY)
    with pytest.raises(ValueError, match="uint8"):
        model.embed_scenes(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="expects 32x32"):
        model.embed_scenes(np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\)"):
        model.embed_scenes(np.zeros((32, 32, 3), np.uint8))


def test_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="divisible"):
        Grasp2VecConfig(image_size=30)
    with pytest.raises(ValueError, match="equal length"):
        Grasp2VecConfig(stage_channels=(8, 16), stage_strides=(2,))
    assert Grasp2VecConfig.from_dict(GPU_CONFIG.to_dict()) == GPU_CONFIG
    with pytest.raises(ValueError, match="unknown"):
        Grasp2VecConfig.from_dict({"depth": 3})


def test_default_size_is_cpu_sized():
    model = Grasp2Vec()
    assert 50_000 < parameter_count(model) < 300_000
    assert multiply_adds_per_image(Grasp2VecConfig()) < 30e6
