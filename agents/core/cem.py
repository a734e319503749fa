"""Cross-entropy method (CEM): derivative-free maximisation over a box of actions, batched.

QT-Opt picks actions by maximising Q(s, ·) with CEM instead of training an actor. The first
round samples uniformly in the box; later rounds fit a diagonal Gaussian to the elites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class CEMConfig:
    """Search settings (QT-Opt's defaults: 2 rounds of 64 samples, 6 elites)."""

    iterations: int = 2
    population: int = 64
    elites: int = 6
    low: float = -1.0
    high: float = 1.0
    min_std: float = 0.05  # keeps later rounds from collapsing onto one sample

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.population < 2:
            raise ValueError(f"CEM needs iterations >= 1 and population >= 2, got {self.iterations}, {self.population}")
        if not 1 <= self.elites <= self.population:
            raise ValueError(f"elites must be in 1..population={self.population}, got {self.elites}")
        if self.low >= self.high:
            raise ValueError(f"low must be below high, got [{self.low}, {self.high}]")


def cem_maximize(score: Callable[[torch.Tensor], torch.Tensor], batch_size: int, action_dim: int,
                 config: CEMConfig = CEMConfig(), generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu", initial: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximise ``score`` independently for each of ``batch_size`` problems.

    Args:
        score: maps candidates (B, N, A) to scores (B, N) (higher is better).
        batch_size: B, the number of independent problems (e.g. states).
        action_dim: A.
        config: population, elites and rounds.
        generator: torch RNG for reproducible searches.
        initial: the first round's candidates (B, population, A) instead of uniform draws.

    Returns:
        (best actions (B, A), their scores (B,)): the best candidate seen over all rounds.
    """
    b, n, a = batch_size, config.population, action_dim
    span = config.high - config.low
    if initial is None:
        candidates = config.low + span * torch.rand(b, n, a, generator=generator, device=device)
    elif initial.shape != (b, n, a):
        raise ValueError(f"initial candidates must have shape {(b, n, a)}, got {tuple(initial.shape)}")
    else:
        candidates = initial.clamp(config.low, config.high)
    best_action = torch.zeros(b, a, device=device)
    best_score = torch.full((b,), -torch.inf, device=device)
    rows = torch.arange(b, device=device)
    for round_index in range(config.iterations):
        scores = score(candidates)
        if scores.shape != (b, n):
            raise ValueError(f"score must return shape {(b, n)}, got {tuple(scores.shape)}")
        top_scores, top_index = scores.topk(config.elites, dim=1)
        elites = candidates[rows.unsqueeze(1), top_index]
        improved = top_scores[:, 0] > best_score
        best_score = torch.where(improved, top_scores[:, 0], best_score)
        best_action = torch.where(improved.unsqueeze(1), elites[:, 0], best_action)
        if round_index + 1 < config.iterations:
            mean = elites.mean(dim=1, keepdim=True)
            std = elites.std(dim=1, unbiased=False, keepdim=True).clamp_min(config.min_std * span)
            noise = torch.randn(b, n, a, generator=generator, device=device)
            candidates = (mean + std * noise).clamp(config.low, config.high)
    return best_action, best_score


class SeededSearch:
    """CEM's two random streams, built and reseeded together.

    ``generator`` (torch) draws the search's candidates; ``rng`` (numpy) draws what a searcher adds around
    it (exploration noise, a focus point). A collector reseeds both per episode through :meth:`seed`, so an
    episode's pose depends neither on which worker ran it nor on the episodes before it.
    """

    generator: torch.Generator
    rng: np.random.Generator

    def init_streams(self, seed: int) -> None:
        """Create both streams from ``seed`` (call once, in ``__init__``)."""
        self.generator = torch.Generator()
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Reseed both streams: the same ``seed`` gives the same draws whatever came before."""
        self.generator.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
