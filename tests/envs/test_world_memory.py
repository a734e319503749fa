"""The world must not grow with episodes: PyBullet keeps the shapes of removed bodies until
``resetSimulation``, so the world rebuilds itself every ``rebuild_after_loads`` object loads, and
its file cache keeps every file read, so objects are loaded with the cache off."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from envs.config import CameraConfig, PhysicsConfig, WorldConfig
from envs.objects import builtin_split
from envs.soak import SoakConfig, rss_mib, soak
from envs.world import GraspWorld

# Short settling: these tests churn bodies, the drop physics is not what they check.
QUICK = WorldConfig(num_objects=3, camera=CameraConfig(image_size=32), physics=PhysicsConfig(max_settle_steps=5))


def churn(world: GraspWorld, resets: range, urdfs: list[Path] | None = None) -> None:
    """Reset ``world`` once per seed with 3 objects drawn from ``urdfs`` (default: the seen split)."""
    urdfs = urdfs or builtin_split("seen")
    for seed in resets:
        rng = np.random.default_rng(seed)
        world.reset([urdfs[i] for i in rng.choice(len(urdfs), 3, replace=False)], rng)


def test_resident_memory_stays_flat_over_many_resets():
    # Without rebuilds each reset here kept ~130 KiB (~30 MiB between resets 70 and 300), and the
    # file cache ~35 KiB per new object file. With them memory plateaus after the first rebuild.
    world = GraspWorld(QUICK)
    churn(world, range(70))
    before, bodies = rss_mib(), world.client.getNumBodies()
    churn(world, range(70, 300))
    assert rss_mib() - before < 5.0  # MiB
    assert world.client.getNumBodies() == bodies
    assert world.rebuilds == 8
    world.close()


def test_rebuild_gives_the_ids_and_scene_of_a_new_world():
    world = GraspWorld(dataclasses.replace(QUICK, rebuild_after_loads=3))
    churn(world, range(1))
    ids, bodies = list(world.objects), world.client.getNumBodies()
    churn(world, range(1, 6))
    assert world.rebuilds == 5
    assert world.objects == ids and world.client.getNumBodies() == bodies
    assert world.fault() is None
    world.close()


def episode(world: GraspWorld, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Reset with ``seed``, move once, grasp: (poses after the reset, scene image, lifted ids)."""
    churn(world, range(seed, seed + 1), builtin_split("seen")[:6])
    poses, image = world.object_poses(), world.render_scene()[0]
    world.move(np.array([0.01, -0.01, -0.05]), 0.1)
    return poses, image, world.grasp().lifted


def assert_same_episodes(first: list, second: list) -> None:
    for (poses_a, image_a, lifted_a), (poses_b, image_b, lifted_b) in zip(first, second, strict=True):
        assert np.array_equal(poses_a, poses_b) and np.array_equal(image_a, image_b) and lifted_a == lifted_b


def test_a_rebuilt_world_replays_a_new_worlds_episodes():
    config = dataclasses.replace(QUICK, physics=PhysicsConfig())
    fresh = []
    for seed in range(3):
        new = GraspWorld(config)
        fresh.append(episode(new, seed))
        new.close()
    rebuilt = GraspWorld(dataclasses.replace(config, rebuild_after_loads=1))
    churn(rebuilt, range(100, 104))
    assert_same_episodes(fresh, [episode(rebuilt, seed) for seed in range(3)])
    assert rebuilt.rebuilds == 6
    rebuilt.close()


def test_rebuilds_leave_these_episodes_as_they_were():
    config = dataclasses.replace(QUICK, physics=PhysicsConfig())
    worlds = [GraspWorld(dataclasses.replace(config, rebuild_after_loads=k)) for k in (10**9, 5)]
    runs = []
    for world in worlds:
        churn(world, range(100, 104))
        runs.append([episode(world, seed) for seed in range(3)])
    assert_same_episodes(*runs)
    assert worlds[0].rebuilds == 0 and worlds[1].rebuilds > 0
    for world in worlds:
        world.close()


def test_rebuild_interval_is_validated():
    with pytest.raises(ValueError, match="rebuild_after_loads"):
        WorldConfig(rebuild_after_loads=0)


def test_soak_samples_memory_and_bodies():
    config = SoakConfig(objects="seen", object_limit=3, num_objects=2, image_size=32, max_steps=2, episodes=12,
                        sample_every=4, warmup=4)
    result = soak(config)
    assert result.episodes == [4, 8, 12]
    assert len(set(result.bodies)) == 1 and all(r > 0 for r in result.rss_mib)
    assert result.max_growth >= result.end_growth
    with pytest.raises(ValueError, match="warmup"):
        SoakConfig(episodes=100, sample_every=50, warmup=30)
