"""Where a collector's CPU time goes: each attempt's time split into the world's phases.

:func:`profile_collection` runs a :class:`graspdata.worker.ShardCollector` in this process with timers around its
world's methods (no change to what it does) and returns CPU seconds per attempt for each phase: the physics of
settling the dropped objects, of the approach moves, of closing and lifting, and of the hold that decides
"lifted"; the scene, wrist and height-map renders; and the rest (policy, resets, bookkeeping, encoding). The
physics alone bounds the attempts per hour whatever else is made faster. The command is
``python -m runs.bench_collect --profile N``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graspdata.config import CollectConfig
from graspdata.policies import PolicyFactory, policy_factory
from graspdata.worker import ShardCollector, ShardTask, limit_threads

# world method -> phase; ``grasp`` wraps ``close_and_lift`` and the hold, so the hold is grasp minus close_and_lift
TIMED = {"settle": "settle physics", "move": "approach physics", "close_and_lift": "close and lift physics",
         "grasp": "grasp", "render_scene": "scene renders", "render_wrist": "wrist renders",
         "render_heightmap": "height-map scan"}
PHYSICS = ("settle physics", "approach physics", "close and lift physics", "hold physics")
WARM_UP = 5  # attempts run before timing (imports, first world build)


@dataclass(frozen=True)
class CollectionProfile:
    """CPU seconds per attempt, in all and by phase, over ``attempts`` timed attempts."""

    attempts: int
    cpu_s_per_attempt: float
    phases: dict[str, float]

    @property
    def physics_s_per_attempt(self) -> float:
        return sum(self.phases.get(name, 0.0) for name in PHYSICS)

    def attempts_per_hour(self, cores: int, physics_only: bool = False) -> float:
        """Attempts per hour on ``cores`` idle cores at this cost (or at the physics' cost alone: the bound)."""
        cost = self.physics_s_per_attempt if physics_only else self.cpu_s_per_attempt
        return 3600.0 * cores / cost

    def to_dict(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "cpu_s_per_attempt": round(self.cpu_s_per_attempt, 4),
                "phases_s_per_attempt": {k: round(v, 4) for k, v in self.phases.items()},
                "physics_s_per_attempt": round(self.physics_s_per_attempt, 4),
                "attempts_per_hour_2_cores": round(self.attempts_per_hour(2)),
                "physics_bound_attempts_per_hour_2_cores": round(self.attempts_per_hour(2, physics_only=True))}


def _timed(method: Callable[..., Any], phase: str, spent: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[phase] += time.process_time() - start

    return wrapper


def profile_collection(config: CollectConfig, attempts: int,
                       make_policy: PolicyFactory | None = None) -> CollectionProfile:
    """Collect ``attempts`` attempts of ``config`` (after :data:`WARM_UP` untimed ones) in this process, timing the
    world's phases (module docstring). Nothing is written. ``make_policy`` overrides the factory that
    ``config.policy`` names (a trained policy's folder is resolved by the agents layer and passed here).

    Raises:
        ValueError: ``attempts`` < 1.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    limit_threads()
    collector = ShardCollector(config, make_policy or policy_factory(config.policy))
    try:
        list(collector.collect(ShardTask(0, WARM_UP)))
        world = collector.env.unwrapped.world
        spent = dict.fromkeys(TIMED.values(), 0.0)
        for name, phase in TIMED.items():
            setattr(world, name, _timed(getattr(world, name), phase, spent))
        start = time.process_time()
        list(collector.collect(ShardTask(WARM_UP, WARM_UP + attempts)))
        total = time.process_time() - start
    finally:
        collector.close()
    phases = {phase: spent[phase] / attempts for phase in TIMED.values() if phase != "grasp"}
    phases["hold physics"] = (spent["grasp"] - spent["close and lift physics"]) / attempts
    phases["other"] = total / attempts - sum(phases.values())
    return CollectionProfile(attempts, total / attempts, phases)


def plot_profile(profile: CollectionProfile, path: str | Path) -> None:
    """CPU seconds per attempt by phase, physics in one colour, with the physics' bound on attempts per hour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(profile.phases)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.barh(names, [1000 * profile.phases[n] for n in names],
            color=["tab:blue" if n in PHYSICS else "tab:orange" for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("CPU ms per attempt (blue: physics)")
    ax.set_title(f"{1000 * profile.cpu_s_per_attempt:.0f} ms an attempt: {profile.attempts_per_hour(2):,.0f}/h on 2 "
                 f"cores; the physics alone: {profile.attempts_per_hour(2, physics_only=True):,.0f}/h", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
