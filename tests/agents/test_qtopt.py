"""QT-Opt pieces: CEM, Q-learning on a synthetic bandit, replay memory, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents.cem import CEMConfig, cem_maximize
from agents.episode import Episode
from agents.networks import EncoderConfig
from agents.qtopt import QTOpt, QTOptConfig
from agents.replay import ReplayBuffer

SIZE = 16
SPACE = spaces.Dict({"image": spaces.Box(0, 255, (SIZE, SIZE, 3), dtype=np.uint8),
                     "gripper": spaces.Box(-10, 10, (5,), dtype=np.float32)})
TINY = QTOptConfig(learning_rate=3e-3, batch_size=64, hidden=32, tau=0.05,
                   encoder=EncoderConfig(channels=(8,), features=32), cem=CEMConfig(iterations=2, population=32))


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


def bandit_episode(rng: np.random.Generator) -> Episode:
    """One-step bandit: a white image wants action[0] > 0, a black one action[0] < 0."""
    white = bool(rng.integers(2))
    image = np.full((2, SIZE, SIZE, 3), 255 if white else 0, dtype=np.uint8)
    action = rng.uniform(-1, 1, (1, 5)).astype(np.float32)
    reward = float((action[0, 0] > 0) == white)
    return Episode({"image": image, "gripper": np.zeros((2, 5), np.float32)}, action,
                   np.array([reward], np.float32), terminated=True)


def test_q_learning_solves_a_synthetic_bandit() -> None:
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(SPACE, 5, capacity=512)
    replay.add_episodes(bandit_episode(rng) for _ in range(512))
    agent = QTOpt(SPACE, TINY, seed=0)
    for _ in range(60):
        agent.update(replay.sample(TINY.batch_size, rng))
    for white in (True, False):
        obs = {"image": np.full((SIZE, SIZE, 3), 255 if white else 0, np.uint8), "gripper": np.zeros(5, np.float32)}
        actions = np.stack([agent.act(obs) for _ in range(5)])
        assert np.all((actions[:, 0] > 0) == white)


def test_replay_counts_its_memory_and_refuses_an_oversized_request() -> None:
    per = ReplayBuffer.bytes_per_transition(SPACE, 5)
    assert per == 2 * (SIZE * SIZE * 3 + 5 * 4) + 5 * 4 + 8
    assert ReplayBuffer(SPACE, 5, capacity=10).nbytes == 10 * per
    with pytest.raises(ValueError, match="over the budget"):
        ReplayBuffer(SPACE, 5, capacity=1000, memory_budget=per * 999)


def test_replay_marks_only_the_last_step_of_a_terminated_episode_done(tmp_path) -> None:
    images = np.arange(4, dtype=np.uint8)[:, None, None, None] * np.ones((1, SIZE, SIZE, 3), np.uint8)
    episode = Episode({"image": images, "gripper": np.zeros((4, 5), np.float32)}, np.zeros((3, 5), np.float32),
                      np.array([0, 0, 1], np.float32), terminated=True)
    replay = ReplayBuffer(SPACE, 5, capacity=8)
    replay.add_episode(episode)
    assert replay.storage["done"][:3].tolist() == [0, 0, 1]
    assert replay.storage["next_image"][:3, 0, 0, 0].tolist() == [1, 2, 3]
    replay.save(tmp_path / "replay.npz")
    restored = ReplayBuffer(SPACE, 5, capacity=8)
    restored.load(tmp_path / "replay.npz")
    assert len(restored) == 3 and restored.position == 3
    assert np.array_equal(restored.storage["next_image"], replay.storage["next_image"])


def test_save_load_gives_the_same_actions(tmp_path) -> None:
    agent = QTOpt(SPACE, TINY, seed=3)
    replay = ReplayBuffer(SPACE, 5, capacity=64)
    rng = np.random.default_rng(0)
    replay.add_episodes(bandit_episode(rng) for _ in range(64))
    agent.update(replay.sample(16, rng))
    agent.save(tmp_path / "ckpt", extra={"grasps": 7})
    loaded, extra = QTOpt.load(tmp_path / "ckpt")
    assert extra == {"grasps": 7} and loaded.updates == 1
    obs = {"image": rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), "gripper": np.ones(5, np.float32)}
    assert np.array_equal(agent.act(obs), loaded.act(obs))
