import numpy as np
import pytest
import torch

from embedding.heatmap import goal_embeddings, goal_heatmap, heatmap_from_embeddings, localize
from embedding.model import Grasp2Vec, Grasp2VecConfig

TINY = Grasp2VecConfig(image_size=32, embedding_dim=8, stem_channels=4, stage_channels=(8,), stage_strides=(2,))


def test_localize_returns_row_col():
    heat = torch.zeros(2, 5, 7)
    heat[0, 3, 1] = 1.0
    heat[1, 0, 6] = 2.0
    np.testing.assert_array_equal(localize(heat), [[3, 1], [0, 6]])
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        localize(torch.zeros(5, 7))


def test_argmax_on_synthetic_feature_map():
    # One goal direction; the scene's feature map carries it only in cell (row 2, col 1) of a 4x4 grid.
    goal = torch.tensor([[0.0, 1.0, 0.0]])
    maps = torch.zeros(1, 3, 4, 4)
    maps[0, 0] = 1.0  # a distractor channel everywhere
    maps[0, 1, 2, 1] = 5.0
    heat = heatmap_from_embeddings(goal, maps, image_size=32)
    assert heat.shape == (1, 32, 32)
    row, col = localize(heat)[0]
    assert 16 <= row < 24 and 8 <= col < 16  # the cell's 8x8 pixel block


def test_goal_heatmap_shapes_and_composite_mean():
    torch.manual_seed(0)
    model = Grasp2Vec(TINY).eval()
    rng = np.random.default_rng(0)
    goals = rng.integers(0, 256, (2, 3, 32, 32, 3), dtype=np.uint8)
    scenes = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    heat = goal_heatmap(model, goals, scenes)
    assert heat.shape == (2, 32, 32)
    mean = model.embed_outcomes(goals.reshape(6, 32, 32, 3)).reshape(2, 3, -1).mean(1)
    torch.testing.assert_close(goal_embeddings(model, goals), mean)
    single = goal_heatmap(model, goals[:, 0], scenes)
    assert single.shape == (2, 32, 32)
    with pytest.raises(ValueError, match="one goal per scene"):
        goal_heatmap(model, goals[:1, 0], scenes)
