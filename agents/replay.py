"""Replay memory for off-policy grasp learning: images stay uint8, memory is bounded up front.

Each transition stores the observation and next observation of every key, except *static* keys
(constant within an episode, such as the goal image or goal embedding) which are stored once.
Memory is allocated at construction, so :attr:`ReplayBuffer.nbytes` is what the buffer costs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

from agents.episode import Episode

STATIC_KEYS = ("goal", "goal_embedding")
DEFAULT_MEMORY_BUDGET = 4 * 2**30  # bytes


@dataclass
class Batch:
    """Sampled transitions as tensors: observations key → (B, ...), actions (B, A), rewards/dones (B,)."""

    observations: dict[str, torch.Tensor]
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: dict[str, torch.Tensor]
    dones: torch.Tensor


class ReplayBuffer:
    """A ring buffer of transitions.

    Args:
        observation_space: the agent's ``Dict`` observation space (shapes and dtypes per key).
        action_dim: size of the action vector.
        capacity: number of transitions kept (oldest dropped first).
        memory_budget: bytes the buffer may take; a larger request raises ``ValueError``.
    """

    def __init__(self, observation_space: spaces.Dict, action_dim: int, capacity: int,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.static_keys = [k for k in observation_space.spaces if k in STATIC_KEYS]
        self.step_keys = [k for k in observation_space.spaces if k not in STATIC_KEYS]
        self.shapes = {k: (s.shape, s.dtype) for k, s in observation_space.spaces.items()}
        per_transition = self.bytes_per_transition(observation_space, action_dim)
        if per_transition * capacity > memory_budget:
            raise ValueError(f"replay of {capacity} transitions needs {per_transition * capacity / 2**30:.2f} GiB "
                             f"({per_transition} B each), over the budget of {memory_budget / 2**30:.2f} GiB: "
                             "lower the capacity or the image size")
        self.storage: dict[str, np.ndarray] = {}
        for key, (shape, dtype) in self.shapes.items():
            self.storage[key] = np.zeros((capacity, *shape), dtype=dtype)
            if key in self.step_keys:
                self.storage["next_" + key] = np.zeros((capacity, *shape), dtype=dtype)
        self.storage["action"] = np.zeros((capacity, action_dim), dtype=np.float32)
        self.storage["reward"] = np.zeros(capacity, dtype=np.float32)
        self.storage["done"] = np.zeros(capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    @staticmethod
    def bytes_per_transition(observation_space: spaces.Dict, action_dim: int) -> int:
        """Bytes one transition takes: step keys twice (now and next), static keys once, action, reward, done."""
        total = 0
        for key, space in observation_space.spaces.items():
            item = int(np.prod(space.shape)) * np.dtype(space.dtype).itemsize
            total += item if key in STATIC_KEYS else 2 * item
        return total + 4 * action_dim + 4 + 4

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.storage.values())

    def __len__(self) -> int:
        return self.size

    def add(self, observation: Mapping[str, np.ndarray], action: np.ndarray, reward: float,
            next_observation: Mapping[str, np.ndarray], done: bool) -> None:
        """Store one transition (observations unbatched, as the env returns them)."""
        i = self.position
        for key in self.shapes:
            self.storage[key][i] = observation[key]
            if key in self.step_keys:
                self.storage["next_" + key][i] = next_observation[key]
        self.storage["action"][i] = action
        self.storage["reward"][i] = reward
        self.storage["done"][i] = float(done)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_episode(self, episode: Episode) -> None:
        """Store every step of an episode; only the last step of a terminated episode is ``done``."""
        missing = set(self.shapes) - set(episode.observations)
        if missing:
            raise ValueError(f"episode lacks observation keys {sorted(missing)} (has {sorted(episode.observations)})")
        obs = episode.observations
        for t in range(len(episode)):
            done = episode.terminated and t == len(episode) - 1
            self.add({k: obs[k][t] for k in self.shapes}, episode.actions[t], float(episode.rewards[t]),
                     {k: obs[k][t + 1] for k in self.step_keys}, done)

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        for episode in episodes:
            self.add_episode(episode)

    def sample(self, batch_size: int, rng: np.random.Generator, device: torch.device | str = "cpu") -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        index = rng.integers(self.size, size=batch_size)
        s = self.storage

        def take(name: str) -> torch.Tensor:
            return torch.as_tensor(s[name][index], device=device)

        observations = {k: take(k) for k in self.shapes}
        next_observations = {k: take("next_" + k) if k in self.step_keys else observations[k] for k in self.shapes}
        return Batch(observations, take("action"), take("reward"), next_observations, take("done"))

    def save(self, path: str | Path) -> None:
        """Write the filled part to ``path`` (``.npz``, atomically)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        filled = {k: v[: self.size] for k, v in self.storage.items()}
        np.savez(tmp, position=np.int64(self.position), **filled)
        tmp.replace(path)

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote; the shapes must match this buffer's."""
        with np.load(path, allow_pickle=False) as data:
            size = len(data["reward"])
            if size > self.capacity:
                raise ValueError(f"{path}: holds {size} transitions, more than this buffer's capacity {self.capacity}")
            for key, array in self.storage.items():
                if key not in data or data[key].shape[1:] != array.shape[1:]:
                    raise ValueError(f"{path}: replay key {key!r} missing or shaped differently from {array.shape[1:]}")
                array[:size] = data[key]
            self.size, self.position = size, int(data["position"]) % self.capacity
