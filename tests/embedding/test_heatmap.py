from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from embedding.heatmap import (
    DENSE,
    PLAIN,
    UNCENTRED,
    HeatmapReadout,
    goal_embeddings,
    goal_heatmap,
    heatmap_from_embeddings,
    localize,
    scene_heatmaps,
)
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


def test_cells_sit_at_their_origin_plus_stride_multiples():
    goal = torch.ones(1, 1)
    maps = torch.zeros(1, 1, 4, 4)
    maps[0, 0, 2, 3] = 1.0
    heat = heatmap_from_embeddings(goal, maps, image_size=16, cell_origin=0.0)
    assert tuple(localize(heat)[0]) == (8, 12) and heat[0, 8, 12] == 1.0
    shifted = heatmap_from_embeddings(goal, maps, image_size=16, cell_origin=2.0)
    assert tuple(localize(shifted)[0]) == (10, 14) and shifted[0, 10, 14] == 1.0
    legacy = heatmap_from_embeddings(goal, maps, image_size=16, cell_origin=None)
    torch.testing.assert_close(legacy, F.interpolate(maps, size=(16, 16), mode="bilinear", align_corners=False)[:, 0])


def test_grasp2vec_cells_are_centred_where_the_model_says():
    # The receptive field of an interior cell k spans pixels symmetric about cell_origin + k * stride.
    # Positive weights on a positive image keep every ReLU open, so the gradient's support is that field.
    model = Grasp2Vec(Grasp2VecConfig(image_size=64, embedding_dim=4, stem_channels=4, stage_channels=(4, 4),
                                      stage_strides=(2, 1))).eval()
    for parameter in model.parameters():
        parameter.data.fill_(0.1)
    image = torch.ones(1, 3, 64, 64, requires_grad=True)
    stride, k = model.config.total_stride, 7
    model.scene_encoder(image)[0, :, k, k].sum().backward()
    rows = torch.nonzero(image.grad.abs().sum(dim=(0, 1, 3)))[:, 0]
    columns = torch.nonzero(image.grad.abs().sum(dim=(0, 1, 2)))[:, 0]
    centre = model.cell_origin + k * stride
    assert (rows.min() + rows.max()) / 2 == centre and (columns.min() + columns.max()) / 2 == centre


class PoolModel:
    """Feature map = 4x4 average pool of the red channel: a cell lights up in proportion to the red
    pixels it covers."""

    cell_origin = 1.5  # a 4x4 pool centres cell k between pixels 4k + 1 and 4k + 2

    def __init__(self) -> None:
        self.config = SimpleNamespace(image_size=16, total_stride=4)

    def scene_feature_map(self, images) -> torch.Tensor:
        return F.avg_pool2d(torch.as_tensor(images)[..., :1].permute(0, 3, 1, 2).float() / 255.0, 4)


def test_dense_readout_finds_a_small_object_anywhere_within_a_cell():
    scenes = np.zeros((16, 16, 16, 3), np.uint8)
    corners = [(5 + dy, 6 + dx) for dy in range(4) for dx in range(4)]  # every offset within a cell
    for scene, (row, col) in zip(scenes, corners, strict=True):
        scene[row:row + 2, col:col + 2, 0] = 255
    goal = torch.ones(16, 1)
    masks = np.zeros((16, 16, 16), bool)
    for mask, (row, col) in zip(masks, corners, strict=True):
        mask[row:row + 2, col:col + 2] = True

    def hits(readout: HeatmapReadout) -> np.ndarray:
        points = localize(scene_heatmaps(PoolModel(), goal, scenes, readout))
        return masks[np.arange(16), points[:, 0], points[:, 1]]

    assert hits(HeatmapReadout(shifts=4)).all()
    assert not hits(UNCENTRED).all()  # a single read cannot always peak on a 2x2 object
    torch.testing.assert_close(scene_heatmaps(PoolModel(), goal, scenes, PLAIN),
                               heatmap_from_embeddings(goal, PoolModel().scene_feature_map(scenes), 16, 1.5))


def test_readout_settings_are_checked():
    assert PLAIN.passes == 1 and DENSE.passes == DENSE.shifts ** 2
    with pytest.raises(ValueError, match="shifts must be >= 1"):
        HeatmapReadout(shifts=0)
    with pytest.raises(ValueError, match="must divide the encoder stride 4"):
        HeatmapReadout(shifts=3).offsets(4)
    assert HeatmapReadout(shifts=2).offsets(4) == [0, 2]
