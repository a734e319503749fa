"""QT-Opt (Kalashnikov et al., 2018), small and readable: Q-learning with CEM action selection.

- Q(s, a, g) is a :class:`agents.networks.QNetwork`; sigmoid(Q) estimates grasp success, so the
  loss is binary cross-entropy against a target in [0, 1] (as in QT-Opt).
- Target: y = r + γ (1 − done) · min(σ Q'₁(s', a*), σ Q'₂(s', a*)), a* = CEM-argmax of Q'₁(s', ·):
  clipped double Q with Polyak-averaged target networks.
- Acting: CEM-argmax of Q₁; exploration replaces it by a random action with probability ε.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from gymnasium import spaces
from safetensors.torch import load_file, save_file

from agents.cem import CEMConfig, cem_maximize
from agents.networks import EncoderConfig, QNetwork
from agents.replay import Batch

ACTION_DIM = 5
CLOSE_INDEX = 4


@dataclass(frozen=True)
class QTOptConfig:
    """Learning settings."""

    gamma: float = 0.9
    learning_rate: float = 3e-4
    batch_size: int = 64
    tau: float = 0.01  # Polyak factor of the target networks per update
    hidden: int = 128
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    cem: CEMConfig = field(default_factory=CEMConfig)
    epsilon: float = 0.2  # probability of a random exploratory action
    close_probability: float = 0.05  # chance a random action closes the gripper (ends the episode)

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma}")
        for name in ("epsilon", "close_probability", "tau"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QTOptConfig:
        data = dict(data)
        data["encoder"] = EncoderConfig(**{**data.get("encoder", {}),
                                           "channels": tuple(data.get("encoder", {}).get("channels", (16, 32, 32)))})
        data["cem"] = CEMConfig(**data.get("cem", {}))
        return cls(**data)


def space_to_dict(space: spaces.Dict) -> dict[str, Any]:
    """JSON description of a Dict of Box spaces (shape, dtype, bounds' extremes)."""
    return {k: {"shape": list(s.shape), "dtype": str(s.dtype), "low": float(np.min(s.low)),
                "high": float(np.max(s.high))} for k, s in space.spaces.items()}


def space_from_dict(data: dict[str, Any]) -> spaces.Dict:
    return spaces.Dict({k: spaces.Box(v["low"], v["high"], tuple(v["shape"]), dtype=np.dtype(v["dtype"]))
                        for k, v in data.items()})


class QTOpt:
    """The agent: two Q-networks, their targets, an optimizer. Follows :class:`agents.base.Policy`.

    Args:
        observation_space: Dict space of the (possibly wrapped) env.
        config: learning settings.
        seed: seeds network init, CEM and exploration.
    """

    def __init__(self, observation_space: spaces.Dict, config: QTOptConfig = QTOptConfig(), seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.observation_space = observation_space
        self.config = config
        self.q1 = QNetwork(observation_space, ACTION_DIM, config.encoder, config.hidden)
        self.q2 = QNetwork(observation_space, ACTION_DIM, config.encoder, config.hidden)
        self.target1, self.target2 = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        for p in [*self.target1.parameters(), *self.target2.parameters()]:
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=config.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.updates = 0

    # ------------------------------------------------------------------ acting
    def reset(self) -> None:
        """QT-Opt keeps no per-episode state."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """Greedy action (5,) for one unbatched observation."""
        batch = {k: torch.as_tensor(np.asarray(observation[k]))[None] for k in self.observation_space.spaces}
        return self.greedy(batch)[0].numpy()

    def explore(self, observation: dict[str, np.ndarray], random_only: bool = False) -> np.ndarray:
        """ε-greedy action: with probability ε (always when ``random_only``) a random move that closes
        with ``close_probability``."""
        if not random_only and self.rng.random() >= self.config.epsilon:
            return self.act(observation)
        action = self.rng.uniform(-1.0, 1.0, ACTION_DIM).astype(np.float32)
        action[CLOSE_INDEX] = 1.0 if self.rng.random() < self.config.close_probability else -1.0
        return action

    @torch.no_grad()
    def greedy(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """CEM-argmax of Q₁ for a raw observation batch → actions (B, 5)."""
        features = self.q1.encode(observations)
        actions, _ = cem_maximize(lambda a: self.q1.head(features, a), len(features), ACTION_DIM,
                                  self.config.cem, self.generator)
        return actions

    # ------------------------------------------------------------------ learning
    @torch.no_grad()
    def targets(self, batch: Batch) -> torch.Tensor:
        """Clipped double-Q targets (B,) in [0, 1]."""
        next_obs = batch.next_observations
        f1, f2 = self.target1.encode(next_obs), self.target2.encode(next_obs)
        best, _ = cem_maximize(lambda a: self.target1.head(f1, a), len(f1), ACTION_DIM, self.config.cem, self.generator)
        next_q = torch.minimum(torch.sigmoid(self.target1.head(f1, best)), torch.sigmoid(self.target2.head(f2, best)))
        return (batch.rewards + self.config.gamma * (1.0 - batch.dones) * next_q).clamp(0.0, 1.0)

    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step on both Q-networks, then a Polyak step of the targets."""
        y = self.targets(batch)
        logits1, logits2 = self.q1(batch.observations, batch.actions), self.q2(batch.observations, batch.actions)
        loss = F.binary_cross_entropy_with_logits(logits1, y) + F.binary_cross_entropy_with_logits(logits2, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            for net, target in ((self.q1, self.target1), (self.q2, self.target2)):
                for p, tp in zip(net.parameters(), target.parameters(), strict=True):
                    tp.lerp_(p, self.config.tau)
        self.updates += 1
        q_mean = torch.sigmoid(logits1.detach()).mean().item()
        return {"loss": loss.item(), "q_mean": q_mean, "target_mean": y.mean().item()}

    # ------------------------------------------------------------------ checkpoints
    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Write ``qtopt.safetensors`` (networks), ``optimizer.pt`` and ``qtopt.json`` (config, space,
        counters, ``extra``) into ``directory``, each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"{name}.{k}": v.contiguous() for name, net in self._networks().items()
                   for k, v in net.state_dict().items()}
        _atomic(directory / "qtopt.safetensors", lambda p: save_file(tensors, str(p)))
        _atomic(directory / "optimizer.pt", lambda p: torch.save(self.optimizer.state_dict(), p))
        meta = {"config": dataclasses.asdict(self.config), "observation_space": space_to_dict(self.observation_space),
                "updates": self.updates, "generator_state": self.generator.get_state().tolist(),
                "rng_state": self.rng.bit_generator.state, "extra": extra or {}}
        _atomic(directory / "qtopt.json", lambda p: p.write_text(json.dumps(meta, indent=1)))

    @classmethod
    def load(cls, directory: str | Path) -> tuple[QTOpt, dict[str, Any]]:
        """Rebuild an agent saved by :meth:`save`; returns (agent, extra)."""
        directory = Path(directory)
        meta_path = directory / "qtopt.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} not found: not a QT-Opt checkpoint folder")
        meta = json.loads(meta_path.read_text())
        agent = cls(space_from_dict(meta["observation_space"]), QTOptConfig.from_dict(meta["config"]))
        tensors = load_file(str(directory / "qtopt.safetensors"))
        for name, net in agent._networks().items():
            prefix = name + "."
            net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        optimizer = directory / "optimizer.pt"
        if optimizer.is_file():
            agent.optimizer.load_state_dict(torch.load(optimizer, weights_only=True))
        agent.updates = int(meta["updates"])
        agent.generator.set_state(torch.tensor(meta["generator_state"], dtype=torch.uint8))
        agent.rng.bit_generator.state = meta["rng_state"]
        return agent, meta["extra"]

    def _networks(self) -> dict[str, QNetwork]:
        return {"q1": self.q1, "q2": self.q2, "target1": self.target1, "target2": self.target2}


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)
