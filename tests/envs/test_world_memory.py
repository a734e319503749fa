"""The world must not grow with episodes: PyBullet keeps the shapes of removed bodies until
``resetSimulation``, so the world rebuilds itself every ``rebuild_after_loads`` object loads."""

import dataclasses

import numpy as np
import pytest

from envs.config import CameraConfig, PhysicsConfig, WorldConfig
from envs.objects import builtin_split
from envs.soak import SoakConfig, rss_mib, soak
from envs.world import GraspWorld

# Short settling: these tests churn bodies, the drop physics is not what they check.
QUICK = WorldConfig(num_objects=3, camera=CameraConfig(image_size=32), physics=PhysicsConfig(max_settle_steps=5))


def churn(world: GraspWorld, resets: range) -> None:
    urdfs = builtin_split("seen")[:6]
    for seed in resets:
        rng = np.random.default_rng(seed)
        world.reset([urdfs[i] for i in rng.choice(len(urdfs), 3, replace=False)], rng)


def test_resident_memory_stays_flat_over_many_resets():
    # Without rebuilds each reset here kept ~130 KiB: ~30 MiB between resets 70 and 300. With them
    # memory plateaus once the first rebuild has freed the first objects' shapes.
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


@pytest.mark.parametrize("rebuild_after_loads", [1, 5])
def test_episodes_do_not_depend_on_rebuilds(rebuild_after_loads):
    config = dataclasses.replace(QUICK, physics=PhysicsConfig())

    def episode(world: GraspWorld, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        churn(world, range(seed, seed + 1))
        world.move(np.array([0.01, -0.01, -0.05]), 0.1)
        return world.object_poses(), world.render_scene()[0], world.grasp().lifted

    never = GraspWorld(dataclasses.replace(config, rebuild_after_loads=10**9))
    often = GraspWorld(dataclasses.replace(config, rebuild_after_loads=rebuild_after_loads))
    churn(often, range(100, 104))
    for seed in range(3):
        expected, got = episode(never, seed), episode(often, seed)
        assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
        assert expected[2] == got[2]
    assert often.rebuilds > 0 and never.rebuilds == 0
    never.close()
    often.close()


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
