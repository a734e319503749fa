import math

import pytest
import torch

from embedding.losses import embedding_l2_penalty, grasp2vec_loss, npairs_loss, same_object_loss


def test_npairs_hand_computed_identity():
    # logits = I (2x2): each row's CE = -log(e / (e + 1)) = log(1 + e^-1)
    a = torch.eye(2)
    expected = math.log(1 + math.exp(-1))
    assert npairs_loss(a, a).item() == pytest.approx(expected, abs=1e-6)


def test_npairs_hand_computed_asymmetric():
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    # logits = a b^T = [[2, 0], [0, 0]]: row 0 CE = log(1 + e^-2), row 1 CE = log 2
    expected = 0.5 * (math.log(1 + math.exp(-2)) + math.log(2))
    assert npairs_loss(a, b).item() == pytest.approx(expected, abs=1e-6)
    # transposed direction: logits^T is the same symmetric matrix here
    assert npairs_loss(b, a).item() == pytest.approx(expected, abs=1e-6)


def test_l2_penalty_and_total_hand_computed():
    a = torch.tensor([[1.0, 2.0], [0.0, 1.0]])  # squared norms 5, 1 -> mean 3
    b = torch.tensor([[3.0, 0.0], [0.0, 0.0]])  # squared norms 9, 0 -> mean 4.5
    assert embedding_l2_penalty(a, b).item() == pytest.approx(7.5)
    terms = grasp2vec_loss(a, b, l2_weight=0.1)
    total = npairs_loss(a, b) + npairs_loss(b, a) + 0.1 * 7.5
    assert terms["loss"].item() == pytest.approx(total.item(), abs=1e-6)
    assert terms["l2"].item() == pytest.approx(7.5)


def test_perfect_arithmetic_low_and_shuffled_high():
    torch.manual_seed(0)
    outcomes = 8.0 * torch.nn.functional.normalize(torch.randn(16, 32), dim=1)
    perfect = grasp2vec_loss(outcomes.clone(), outcomes, l2_weight=0.0)["loss"].item()
    shuffled = grasp2vec_loss(outcomes.roll(1, dims=0), outcomes, l2_weight=0.0)["loss"].item()
    chance = 2 * math.log(16)
    assert perfect < 0.05
    assert shuffled > chance


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="must both be"):
        npairs_loss(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        npairs_loss(torch.zeros(1, 3), torch.zeros(1, 3))


def test_same_object_loss_is_n_pairs_both_ways():
    first = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    second = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    expected = npairs_loss(first, second) + npairs_loss(second, first)
    assert same_object_loss(first, second).item() == pytest.approx(expected.item())
    apart = 20 * torch.eye(3)
    assert same_object_loss(apart, apart).item() < 1e-6  # each view nearest its own pair
    assert same_object_loss(apart, apart.roll(1, 0)).item() > 20  # paired with the wrong objects
