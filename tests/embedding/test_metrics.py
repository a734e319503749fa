import numpy as np
import pytest
import torch

from common.stats import wilson_interval
from embedding.metrics import localization_hits, retrieval_top1, similarity


def test_retrieval_counts_same_object_as_correct():
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    pool = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.1, 0.0]])
    accuracy, nearest = retrieval_top1(queries, pool, ["a", "b", "c"], ["a", "b", "c"], metric="dot")
    np.testing.assert_array_equal(nearest, [0, 1, 0])
    assert accuracy == pytest.approx(2 / 3)
    # two pool items of the same object: either counts
    accuracy, _ = retrieval_top1(queries, pool, ["a", "b", "a"], ["a", "b", "a"])
    assert accuracy == 1.0


def test_cosine_ignores_norm():
    scores = similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[10.0, 10.0], [0.5, 0.0]]), "cosine")
    assert scores.argmax().item() == 1
    with pytest.raises(ValueError, match="metric"):
        similarity(torch.zeros(1, 2), torch.zeros(1, 2), "l1")


def test_localization_hits_and_wilson():
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 1, 2] = True
    masks[1, 3, 3] = True
    np.testing.assert_array_equal(localization_hits(np.array([[1, 2], [0, 0]]), masks), [True, False])
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
