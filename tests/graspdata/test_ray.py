"""The same collection through Ray, on a local Ray instance started once for this module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embedding.dataset import TripletDataset
from graspdata.card import DatasetCard
from graspdata.collect import collect
from graspdata.config import CollectConfig
from graspdata.ray_pool import init_ray
from tests.graspdata.helpers import stored_indices_and_seeds
from tests.graspdata.policies import CRASH_MARKER

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    started = init_ray("local")
    yield
    if started:
        ray.shutdown()


def test_local_ray_end_to_end(tmp_path, local_ray):
    config = CollectConfig(grasps=6, shard_size=3, workers=2, image_size=32, num_objects=2, max_steps=8)
    result = collect(config, tmp_path, ray_address="local", show_progress=False, report=lambda _: None)
    assert result.attempts == 6 and result.failures == 0 and result.worker_cpu_s > 0
    indices, _ = stored_indices_and_seeds(tmp_path)
    assert indices == list(range(6))
    card = DatasetCard.load(tmp_path)
    assert card.runs[-1]["backend"] == "local" and len(TripletDataset(tmp_path)) == result.successes


def test_ray_actor_crash_is_reported_and_replaced(tmp_path, local_ray):
    marker = Path(os.environ[CRASH_MARKER])
    marker.unlink(missing_ok=True)
    config = CollectConfig(grasps=4, shard_size=2, workers=2, image_size=32, num_objects=2, max_steps=8,
                           policy="tests.graspdata.policies:crash_once")
    messages = []
    result = collect(config, tmp_path, ray_address="local", show_progress=False, report=messages.append)
    assert result.failures == 1 and any("Ray worker" in m for m in messages) and marker.exists()
    indices, _ = stored_indices_and_seeds(tmp_path)
    assert sorted(indices) == list(range(4))
