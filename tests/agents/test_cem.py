"""The cross-entropy method QT-Opt chooses its grasp poses with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.core.cem import CEMConfig, SeededSearch, cem_maximize


def test_cem_finds_the_maximum_of_a_quadratic() -> None:
    peaks = torch.tensor([[0.3, -0.5, 0.8], [-0.7, 0.1, 0.0]])
    best, score = cem_maximize(lambda a: -((a - peaks[:, None]) ** 2).sum(-1), 2, 3,
                               CEMConfig(iterations=5, population=128, elites=8), torch.Generator().manual_seed(0))
    assert torch.allclose(best, peaks, atol=0.05)
    assert torch.all(score > -0.01)


def test_cem_starts_from_given_candidates() -> None:
    initial = torch.full((2, 8, 3), 0.25)
    best, score = cem_maximize(lambda a: -((a - 0.25) ** 2).sum(-1), 2, 3, CEMConfig(iterations=1, population=8,
                                                                                      elites=2), initial=initial)
    assert torch.allclose(best, torch.full((2, 3), 0.25)) and torch.allclose(score, torch.zeros(2))
    with pytest.raises(ValueError, match="initial candidates"):
        cem_maximize(lambda a: a.sum(-1), 2, 3, CEMConfig(population=8, elites=2), initial=torch.zeros(2, 4, 3))


def test_cem_rejects_a_score_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="score must return shape"):
        cem_maximize(lambda a: a.sum(), 2, 3)


def test_seeded_search_reseeds_both_streams_whatever_came_before() -> None:
    first, second = SeededSearch(), SeededSearch()
    first.init_streams(3)
    second.init_streams(9)
    torch.rand(5, generator=second.generator)  # a history the reseed must erase
    second.rng.random(7)
    second.seed(3)
    assert torch.equal(torch.rand(4, generator=first.generator), torch.rand(4, generator=second.generator))
    np.testing.assert_array_equal(first.rng.normal(size=4), second.rng.normal(size=4))
