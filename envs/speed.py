"""World speed (episodes per second, serial and on worker processes) and fidelity (scripted grasp success
at a finer physics step). The command is ``python -m runs.bench_world``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import time

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import envs  # noqa: F401  (registers the environments)
from envs.config import WorldConfig
from envs.rollout import play_episode
from envs.scripted import PrivilegedGraspPolicy, RandomGraspPolicy

MOVES = 7
HIFI_FACTOR = 4


@dataclasses.dataclass
class SpeedSample:
    """Timings of one process, in seconds of CPU time (robust to other load on the machine)
    except ``wall_time``."""

    episodes: int = 0
    steps: int = 0
    renders: int = 0
    reset_time: float = 0.0
    step_time: float = 0.0
    render_time: float = 0.0
    wall_time: float = 0.0


def time_episodes(episodes: int, seed: int, image_size: int, num_objects: int) -> SpeedSample:
    """Run ``episodes`` of reset + 7 random moves + grasp in this process and time them."""
    env = gym.make("KukaGrasp-v0", num_objects=num_objects, image_size=image_size, max_steps=MOVES + 1)
    rng = np.random.default_rng(seed)
    sample = SpeedSample()
    start = time.perf_counter()
    for episode in range(episodes):
        t = time.process_time()
        env.reset(seed=seed * 1_000_000 + episode)
        sample.reset_time += time.process_time() - t
        for move in range(MOVES + 1):
            action = rng.uniform(-1, 1, 5).astype(np.float32)
            action[4] = 1.0 if move == MOVES else -1.0
            t = time.process_time()
            _, _, terminated, truncated, _ = env.step(action)
            sample.step_time += time.process_time() - t
            sample.steps += 1
            if terminated or truncated:
                break
        sample.episodes += 1
    world = env.unwrapped.world
    t = time.process_time()
    for _ in range(50):
        world.render_scene()
    sample.render_time, sample.renders = time.process_time() - t, 50
    sample.wall_time = time.perf_counter() - start
    env.close()
    return sample


def _time_episodes_star(args: tuple[int, int, int, int]) -> SpeedSample:
    return time_episodes(*args)


def speed(episodes: int, workers: int, image_size: int, num_objects: int) -> dict[str, float]:
    """Throughput with ``workers`` processes, each running ``episodes`` episodes."""
    jobs = [(episodes, w, image_size, num_objects) for w in range(workers)]
    start = time.perf_counter()
    if workers == 1:
        samples = [_time_episodes_star(jobs[0])]
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            samples = pool.map(_time_episodes_star, jobs)
    wall = time.perf_counter() - start
    total = sum(s.episodes for s in samples)
    return {
        "workers": workers,
        "episodes": total,
        "episodes_per_s": total / wall,
        "load_average_1min": os.getloadavg()[0],
        "cpu_episodes_per_s_per_process": float(np.mean([s.episodes / (s.reset_time + s.step_time) for s in samples])),
        "cpu_resets_per_s": float(np.mean([s.episodes / s.reset_time for s in samples])),
        "cpu_steps_per_s": float(np.mean([s.steps / s.step_time for s in samples])),
        "cpu_ms_per_render": float(np.mean([1000 * s.render_time / s.renders for s in samples])),
        "wall_s": wall,
    }


def run_policy(policy_name: str, config: WorldConfig, seeds: range) -> np.ndarray:
    """Success (bool per seed) of a scripted policy on the given physics."""
    env = gym.make("KukaGrasp-v0", world_config=config, max_steps=12)
    policy = PrivilegedGraspPolicy(env) if policy_name == "privileged" else RandomGraspPolicy(config, seed=0)
    results = []
    for seed in tqdm(seeds, desc=f"{policy_name} ({config.physics.substeps_per_action} sub-steps)", leave=False):
        if isinstance(policy, RandomGraspPolicy):
            policy.rng = np.random.default_rng(seed)
        _, info, _ = play_episode(env, policy, seed)
        results.append(bool(info["is_success"]))
    env.close()
    return np.array(results)


def fidelity(trials: int) -> dict[str, dict[str, float]]:
    """Success rates with default and ``scaled(4)`` physics on the same scenes and policy seeds."""
    fast = WorldConfig()
    slow = dataclasses.replace(fast, physics=fast.physics.scaled(HIFI_FACTOR))
    report = {}
    for name in ("random", "privileged"):
        a, b = run_policy(name, fast, range(trials)), run_policy(name, slow, range(trials))
        report[name] = {
            "trials": trials,
            "success_default": float(a.mean()),
            "success_scaled": float(b.mean()),
            "scaled_success_given_default_success": float(b[a].mean()) if a.any() else float("nan"),
            "agreement": float((a == b).mean()),
        }
    return report
