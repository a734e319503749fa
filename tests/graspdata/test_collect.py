"""End-to-end collection on worker processes: counts, resume after kill -9, crashes, bad shards."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embedding.dataset import EpisodeDataset, EvaluationGrasps, OutcomePairDataset, TripletDataset
from graspdata.card import DatasetCard
from graspdata.collect import collect, plan_tasks
from graspdata.config import CollectConfig
from graspdata.episode import episode_seed, run_regrasp_same_episode
from graspdata.errors import ConfigMismatchError, CorruptShardError
from graspdata.folder import scan_folder
from graspdata.ground_truth import GroundTruthReader
from graspdata.policies import random_policy
from graspdata.pool import WorkerError
from graspdata.worker import ShardTask, collector_env
from tests.graspdata.helpers import stored_indices_and_seeds
from tests.graspdata.policies import CRASH_MARKER, privileged

REPO = Path(__file__).resolve().parents[2]
TINY = CollectConfig(grasps=6, shard_size=3, workers=2, image_size=32, num_objects=2, max_steps=8)


def quiet(_: str) -> None:
    pass


def test_plan_tasks_fills_the_gaps():
    assert plan_tasks([], 7, 3) == [ShardTask(0, 3), ShardTask(3, 6), ShardTask(6, 7)]
    assert plan_tasks([(3, 6)], 10, 4) == [ShardTask(0, 3), ShardTask(6, 10)]
    assert plan_tasks([(0, 8)], 5, 4) == []


def test_episode_seeds_are_fixed_and_distinct():
    seeds = [episode_seed(0, i) for i in range(1000)]
    assert len(set(seeds)) == 1000 and seeds[:3] == [episode_seed(0, i) for i in range(3)]
    assert episode_seed(1, 0) != seeds[0] and all(0 <= s < 2**63 for s in seeds)


def test_two_workers_end_to_end(tmp_path):
    result = collect(TINY, tmp_path, show_progress=False, report=quiet)
    card = DatasetCard.load(tmp_path)
    assert result.attempts == card.counts()["attempts"] == 6 and result.failures == 0
    assert card.counts()["shards"] == 2 and card.config["image_size"] == 32 and card.seeds["base_seed"] == 0
    assert card.code_version["git_commit"] and card.runs[0]["new_attempts"] == 6
    indices, seeds = stored_indices_and_seeds(tmp_path)
    assert indices == list(range(6)) and seeds == [episode_seed(0, i) for i in range(6)]
    episodes = EpisodeDataset(tmp_path)
    assert len(episodes) == 6
    item = episodes[0]
    assert item["images"].shape[1:] == (32, 32, 3) and len(item["images"]) == len(item["actions"]) + 1
    successes = sum(episodes[i]["success"] for i in range(6))
    attempted = [episodes[i] for i in range(6) if episodes[i]["grasp_attempted"]]
    assert all(0.0 < item["aperture"] < 0.2 for item in attempted)  # the gripper's measured opening (m)
    assert len(TripletDataset(tmp_path)) == successes == result.successes
    assert len(EvaluationGrasps(tmp_path)) <= successes
    with pytest.raises(FileExistsError, match="--resume"):
        collect(TINY, tmp_path, show_progress=False, report=quiet)
    with pytest.raises(ConfigMismatchError, match="image_size"):
        collect(CollectConfig(grasps=6, image_size=48, num_objects=2, max_steps=8), tmp_path, resume=True,
                show_progress=False, report=quiet)


def test_resume_after_kill_minus_nine(tmp_path):
    out = tmp_path / "data"
    command = [sys.executable, "-m", "runs.collect", "--out", str(out), "--grasps", "12", "--shard-size", "2",
               "--workers", "2", "--image-size", "32", "--num-objects", "2", "--max-steps", "8",
               "--wandb-mode", "disabled", "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.glob("shard-*.h5"))) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(0.5)  # orphaned workers notice the closed pipe and exit
    before = scan_folder(out).shards  # every shard left behind is complete and valid
    assert len(before) >= 2
    (out / ".shard-000000010-000000012.h5.99.tmp").write_bytes(b"partial")
    messages = []
    config = CollectConfig(grasps=12, shard_size=2, workers=2, image_size=32, num_objects=2, max_steps=8)
    result = collect(config, out, resume=True, show_progress=False, report=messages.append)
    assert any("temporary" in m for m in messages)
    assert not list(out.glob(".*.tmp"))
    indices, seeds = stored_indices_and_seeds(out)
    assert sorted(indices) == list(range(12)) and len(indices) == 12
    assert seeds == [episode_seed(0, i) for i in indices]
    assert result.new_attempts > 0 and result.attempts == 12 and DatasetCard.load(out).counts()["attempts"] == 12


def test_crashed_worker_is_reported_and_replaced(tmp_path):
    marker = Path(os.environ[CRASH_MARKER])
    marker.unlink(missing_ok=True)
    config = CollectConfig(grasps=4, shard_size=2, workers=2, image_size=32, num_objects=2, max_steps=8,
                           policy="tests.graspdata.policies:crash_once")
    messages = []
    result = collect(config, tmp_path / "data", show_progress=False, report=messages.append)
    assert result.failures == 1 and any("died with exit code 7" in m for m in messages) and marker.exists()
    indices, _ = stored_indices_and_seeds(tmp_path / "data")
    assert sorted(indices) == list(range(4))


def test_a_task_that_always_fails_stops_the_run(tmp_path):
    config = CollectConfig(grasps=2, shard_size=2, workers=1, image_size=32, num_objects=2, max_steps=8,
                           policy="tests.graspdata.policies:always_raise", max_task_failures=2)
    messages = []
    with pytest.raises(WorkerError, match="fails on purpose"):
        collect(config, tmp_path, show_progress=False, report=messages.append)
    assert len(messages) == 2


def test_resume_with_a_corrupt_shard(tmp_path):
    collect(TINY, tmp_path, show_progress=False, report=quiet)
    bad = tmp_path / "shard-000000003-000000006.h5"
    original = EpisodeDataset(tmp_path)[4]
    bad.write_bytes(bad.read_bytes()[:500])
    with pytest.raises(CorruptShardError, match=bad.name):
        collect(TINY, tmp_path, resume=True, show_progress=False, report=quiet)
    messages = []
    result = collect(TINY, tmp_path, resume=True, skip_bad=True, show_progress=False, report=messages.append)
    assert (tmp_path / (bad.name + ".bad")).exists() and bad.exists()
    assert result.new_attempts == 3 and result.attempts == 6
    assert any("moved bad shard" in m for m in messages)
    again = EpisodeDataset(tmp_path)[4]  # the same seed, collected by another worker: the same episode
    np.testing.assert_array_equal(again["images"], original["images"])
    np.testing.assert_array_equal(again["actions"], original["actions"])


def test_bad_inputs_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="grasps must be at least 1"):
        CollectConfig(grasps=0)
    with pytest.raises(ValueError, match="unknown policy"):
        collect(CollectConfig(policy="nonsense"), tmp_path, show_progress=False)
    with pytest.raises(FileNotFoundError, match="nope.urdf"):
        collect(CollectConfig(objects=(str(tmp_path / "nope.urdf"),)), tmp_path, show_progress=False)
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(Exception, match="not empty and holds no card.json"):
        collect(TINY, tmp_path, show_progress=False)
    assert np.all([p.name in ("stray.txt", ".lock") for p in tmp_path.iterdir()])


def test_height_maps_are_collected_once_per_attempt_and_part_of_the_identity(tmp_path):
    config = CollectConfig(grasps=2, shard_size=2, workers=1, image_size=32, num_objects=2, max_steps=4,
                           heightmap=True)
    collect(config, tmp_path / "d", show_progress=False)
    item = EpisodeDataset(tmp_path / "d")[0]
    assert item["heightmap"].dtype == np.uint8 and item["heightmap"].shape[-1] == 4
    assert item["heightmap"][..., 0].max() > 5  # the objects stand out of the floor
    assert DatasetCard.load(tmp_path / "d").config["heightmap"] is True
    with pytest.raises(ConfigMismatchError, match="heightmap"):
        collect(CollectConfig(**{**config.to_dict(), "heightmap": False}), tmp_path / "d", resume=True,
                show_progress=False)


def collect_with_and_without(tmp_path, field: str, value):
    """Two attempts collected with ``field=value`` (in ``tmp_path / field``) and the same without it (``plain``):
    the config and both datasets."""
    config = CollectConfig(grasps=2, shard_size=2, workers=1, image_size=32, num_objects=2, max_steps=4,
                           **{field: value})
    collect(config, tmp_path / field, show_progress=False, report=quiet)
    collect(CollectConfig(**{**config.to_dict(), field: None}), tmp_path / "plain", show_progress=False, report=quiet)
    return config, EpisodeDataset(tmp_path / field), EpisodeDataset(tmp_path / "plain")


def test_sharper_triplets_are_recorded_at_their_own_size_and_part_of_the_identity(tmp_path):
    config, sharp, plain = collect_with_and_without(tmp_path, "triplet_size", 48)
    card = DatasetCard.load(tmp_path / "triplet_size")
    assert card.image_size == 48 and card.config["image_size"] == 32 and card.config["triplet_size"] == 48
    for index in range(2):
        assert sharp[index]["images"].shape[1:] == (32, 32, 3)  # what the policy saw
        assert sharp[index]["outcome"].shape == (48, 48, 3)
        np.testing.assert_array_equal(sharp[index]["actions"], plain[index]["actions"])
        np.testing.assert_array_equal(sharp[index]["images"], plain[index]["images"])
    with pytest.raises(ConfigMismatchError, match="triplet_size"):
        collect(CollectConfig(**{**config.to_dict(), "triplet_size": 64}), tmp_path / "triplet_size", resume=True,
                show_progress=False, report=quiet)
    with pytest.raises(ValueError, match="triplet_size"):  # the world's own check, before any folder is written
        collect(CollectConfig(**{**config.to_dict(), "triplet_size": 8}), tmp_path / "tiny", show_progress=False,
                report=quiet)
    assert not (tmp_path / "tiny").exists() and not (tmp_path / "tiny.partial").exists()


def test_a_zoomed_triplet_view_keeps_the_grasps_and_is_part_of_the_identity(tmp_path):
    config, zoom, plain = collect_with_and_without(tmp_path, "triplet_fov", 27.0)
    card = DatasetCard.load(tmp_path / "triplet_fov")
    assert card.config["triplet_fov"] == 27.0 and card.config["world"]["camera"]["triplet_fov"] == 27.0
    for index in range(2):
        np.testing.assert_array_equal(zoom[index]["actions"], plain[index]["actions"])
        np.testing.assert_array_equal(zoom[index]["images"], plain[index]["images"])
        np.testing.assert_array_equal(zoom[index]["outcome"], plain[index]["outcome"])
    with pytest.raises(ConfigMismatchError, match="triplet_fov"):
        collect(CollectConfig(**{**config.to_dict(), "triplet_fov": 30.0}), tmp_path / "triplet_fov", resume=True,
                show_progress=False, report=quiet)
    with pytest.raises(ValueError, match="triplet_fov narrows"):
        CollectConfig(triplet_fov=2.0)
    assert TripletDataset(tmp_path / "triplet_fov").triplet_fov == 27.0
    with pytest.raises(ConfigMismatchError, match="field of view"):  # one reader, one camera
        TripletDataset([tmp_path / "triplet_fov", tmp_path / "plain"])


def test_the_scene_once_per_attempt_collects_the_same_grasps_and_is_part_of_the_identity(tmp_path):
    """The default renders an attempt's scene once; every step's image of the old default differs, the first image,
    the actions and the triplets do not. A card from before the setting reads as rendering every step."""
    config = CollectConfig(grasps=3, shard_size=3, workers=1, image_size=32, num_objects=2, max_steps=6)
    assert not config.scene_each_step
    collect(config, tmp_path / "once", show_progress=False, report=quiet)
    collect(CollectConfig(**{**config.to_dict(), "scene_each_step": True}), tmp_path / "every", show_progress=False,
            report=quiet)
    once, every = EpisodeDataset(tmp_path / "once"), EpisodeDataset(tmp_path / "every")
    for index in range(3):
        images = once[index]["images"]
        np.testing.assert_array_equal(images, np.broadcast_to(images[0], images.shape))
        np.testing.assert_array_equal(images[0], every[index]["images"][0])
        assert not np.array_equal(images, every[index]["images"])
        for key in ("actions", "gripper", "outcome", "success"):
            np.testing.assert_array_equal(once[index][key], every[index][key])
    assert DatasetCard.load(tmp_path / "once").config["scene_each_step"] is False
    with pytest.raises(ConfigMismatchError, match="scene_each_step"):
        collect(CollectConfig(**{**config.to_dict(), "scene_each_step": True}), tmp_path / "once", resume=True,
                show_progress=False, report=quiet)
    old_card = {k: v for k, v in config.to_dict().items() if k != "scene_each_step"}
    assert CollectConfig.from_dict(old_card).scene_each_step


def test_regrasp_same_pairs_two_lifts_of_one_grasp_and_is_part_of_the_identity(tmp_path):
    """A sensed lift is put back and the same grasp made again: the record keeps its attempt and adds the second
    outcome; the pair reader serves the records whose two lifts both sensed something."""
    config = CollectConfig(grasps=4, shard_size=4, workers=1, image_size=32, num_objects=2, max_steps=8,
                           policy="tests.graspdata.policies:privileged", regrasp_same=True)
    collect(config, tmp_path / "same", show_progress=False, report=quiet)
    collect(CollectConfig(**{**config.to_dict(), "regrasp_same": False}), tmp_path / "plain", show_progress=False,
            report=quiet)
    assert DatasetCard.load(tmp_path / "same").config["regrasp_same"] is True
    same, plain = EpisodeDataset(tmp_path / "same"), EpisodeDataset(tmp_path / "plain")
    for key in ("actions", "images", "gripper", "rewards", "outcome"):  # a fresh world: the same first attempt
        np.testing.assert_array_equal(same[0][key], plain[0][key])
    assert [same[i]["grasp_sensed"] for i in range(4)] == [plain[i]["grasp_sensed"] for i in range(4)]
    pairs, truth = OutcomePairDataset(tmp_path / "same"), GroundTruthReader()
    triplets = TripletDataset(tmp_path / "same")
    assert 0 < len(pairs) <= len(triplets)
    for index in range(len(pairs)):
        record = truth.read(pairs.ref(index))
        row = pairs.ref(index).row
        np.testing.assert_array_equal(pairs[index]["first"], same[row]["outcome"])
        assert pairs[index]["second"].any()
        np.testing.assert_array_equal(record.again_lifted, record.lifted)  # this seed: the same object both times
    with pytest.raises(ConfigMismatchError, match="regrasp-same"):
        OutcomePairDataset(tmp_path / "plain")
    with pytest.raises(ConfigMismatchError, match="regrasp_same"):
        collect(CollectConfig(**{**config.to_dict(), "regrasp_same": False}), tmp_path / "same", resume=True,
                show_progress=False, report=quiet)


def test_regrasp_same_needs_a_two_grasp_world_without_a_reward():
    env = collector_env(CollectConfig(image_size=32, num_objects=2, max_steps=4))
    try:
        with pytest.raises(ValueError, match="max_grasps=2"):
            run_regrasp_same_episode(env, random_policy(env, 0), 0, 0)
    finally:
        env.close()


def test_regrasp_same_records_a_lift_that_faulted_and_asks_nothing_more(monkeypatch):
    """A fault during the lift ends the episode with the fingers closed; nothing awaits keep or put-back (a
    collection of 10,000 attempts met one and stopped before this was handled)."""
    env = collector_env(CollectConfig(image_size=32, num_objects=2, max_steps=8), max_grasps=2)
    world = env.unwrapped.world
    grasp = world.grasp
    monkeypatch.setattr(world, "grasp", lambda: dataclasses.replace(grasp(), fault="an object left the workspace"))
    try:
        record = run_regrasp_same_episode(env, privileged(env, 0), 0, 0)
    finally:
        env.close()
    assert record.fault == "an object left the workspace" and record.terminated and record.grasp_attempted
    assert record.again_sensed is False and not record.again_outcome_image.any()


def test_a_backdrop_behind_the_outcome_keeps_the_grasps_and_is_part_of_the_identity(tmp_path):
    config = CollectConfig(grasps=3, shard_size=3, workers=1, image_size=32, num_objects=2, max_steps=8,
                           policy="tests.graspdata.policies:privileged", triplet_backdrop=True)
    collect(config, tmp_path / "backdrop", show_progress=False, report=quiet)
    collect(CollectConfig(**{**config.to_dict(), "triplet_backdrop": False}), tmp_path / "plain", show_progress=False,
            report=quiet)
    card = DatasetCard.load(tmp_path / "backdrop")
    assert card.triplet_backdrop and card.config["world"]["camera"]["triplet_backdrop"]
    assert not DatasetCard.load(tmp_path / "plain").triplet_backdrop
    backdrop, plain = EpisodeDataset(tmp_path / "backdrop"), EpisodeDataset(tmp_path / "plain")
    attempted = 0
    for index in range(3):
        for key in ("actions", "images", "gripper"):
            np.testing.assert_array_equal(backdrop[index][key], plain[index][key])
        if plain[index]["outcome"].any():  # the floor and the table went out of sight behind the fingers
            attempted += 1
            assert not np.array_equal(backdrop[index]["outcome"], plain[index]["outcome"])
    assert attempted > 0
    assert TripletDataset(tmp_path / "backdrop").triplet_backdrop
    with pytest.raises(ConfigMismatchError, match="backdrop"):  # one reader, one outcome camera
        TripletDataset([tmp_path / "backdrop", tmp_path / "plain"])
    with pytest.raises(ConfigMismatchError, match="triplet_backdrop"):
        collect(CollectConfig(**{**config.to_dict(), "triplet_backdrop": False}), tmp_path / "backdrop",
                resume=True, show_progress=False, report=quiet)
