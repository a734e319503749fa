"""graspdata.replay: collected attempts replayed from their seeds and actions, and the wrist view before closing."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from graspdata.card import DatasetCard, shard_entry
from graspdata.errors import ConfigMismatchError
from graspdata.replay import POSE_TOLERANCE, PreCloseViews, pre_close_views, replay_env, reset_recorded_bin


@pytest.fixture(scope="module")
def attempts(tmp_path_factory):
    from graspdata.collect import collect
    from graspdata.config import CollectConfig

    folder = tmp_path_factory.mktemp("replay") / "seen"
    collect(CollectConfig(grasps=12, shard_size=6, workers=1, image_size=32, num_objects=2, max_steps=12, seed=5),
            folder, show_progress=False)
    return folder


def _records(folder):
    shard = sorted(folder.glob("shard-*.h5"))[0]
    with h5py.File(shard, "r") as f:
        r = f["records"]
        return {"seed": r["seed"][:], "start": r["step_start"][:], "count": r["num_steps"][:],
                "obs_start": r["obs_start"][:], "success": r["success"][:], "attempted": r["grasp_attempted"][:],
                "poses": f["ground_truth/object_poses"][:], "actions": f["steps/action"][:],
                "gripper": f["observations/gripper"][:]}


def test_a_record_replayed_from_its_seed_and_actions_ends_as_it_was_recorded(attempts) -> None:
    records, env = _records(attempts), replay_env(DatasetCard.load(attempts))
    try:
        for row in range(len(records["seed"])):
            assert reset_recorded_bin(env, records["seed"][row], records["poses"][row], "here") <= POSE_TOLERANCE
            start, count = records["start"][row], records["count"][row]
            for step, action in enumerate(records["actions"][start:start + count]):
                observation, _, _, _, info = env.step(action)
                recorded = records["gripper"][records["obs_start"][row] + step + 1]
                np.testing.assert_allclose(observation["gripper"], recorded, atol=1e-3)
            assert bool(info["is_success"]) == bool(records["success"][row])
    finally:
        env.close()


def test_pre_close_views_render_every_attempt_just_before_it_closed(attempts, tmp_path) -> None:
    views = pre_close_views(attempts, size=32, show_progress=False)
    records = sum(1 for _ in attempts.glob("shard-*.h5")) * 6
    assert views.views.shape == (records, 32, 32, 3) and views.views.dtype == np.uint8
    assert views.replayed.sum() >= views.attempted.sum() - 1 and not (views.replayed & ~views.attempted).any()
    assert (views.views[views.replayed].reshape(int(views.replayed.sum()), -1).max(axis=1) > 0).all()
    assert not views.views[~views.replayed].any()
    first = _records(attempts)
    np.testing.assert_array_equal(views.lifted[:6], first["success"].astype(bool))
    # the view is the wrist camera's after every action but the closing one
    row = int(np.flatnonzero(views.replayed)[0])
    env = replay_env(DatasetCard.load(attempts))
    try:
        env.reset(seed=int(first["seed"][row]))
        for action in first["actions"][first["start"][row]:first["start"][row] + first["count"][row] - 1]:
            env.step(action)
        np.testing.assert_array_equal(views.views[row], env.unwrapped.world.render_wrist(size=32)[0])
    finally:
        env.close()
    views.save(tmp_path / "views.npz")
    again = PreCloseViews.load(tmp_path / "views.npz")
    for name in PreCloseViews.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(again, name), getattr(views, name))


def test_bins_that_do_not_come_back_are_left_out_and_a_changed_dataset_is_refused(attempts, tmp_path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(attempts, moved)
    shard = sorted(moved.glob("shard-*.h5"))[0]
    with h5py.File(shard, "r+") as f:
        f["ground_truth/object_poses"][0, 0, 0] += 0.05  # the first record's first object, 5 cm away
    card = DatasetCard.load(moved)  # the edited shard may have changed size: list it again, as a collector would
    card.shards = [shard_entry(p) for p in sorted(moved.glob("shard-*.h5"))]
    card.save(moved)
    views = pre_close_views(moved, size=32, show_progress=False)
    assert not views.replayed[0] and views.deviation[0] == pytest.approx(0.05, abs=1e-3)
    with h5py.File(shard, "r+") as f:
        f["ground_truth/object_poses"][:, :, 0] += 0.05
    card.shards = [shard_entry(p) for p in sorted(moved.glob("shard-*.h5"))]
    card.save(moved)
    with pytest.raises(ConfigMismatchError, match="did not come back"):
        pre_close_views(moved, size=32, show_progress=False)


def test_collection_settings_round_trip_through_a_card_and_unknown_ones_are_refused() -> None:
    from graspdata.config import CARD_WORLD, CollectConfig

    config = CollectConfig(objects=("a.urdf", "b.urdf"), num_objects=2, image_size=32, max_steps=8, heightmap=True)
    assert CollectConfig.from_dict({**config.to_dict(), CARD_WORLD: {"num_objects": 2}}) == config
    with pytest.raises(ValueError, match="unknown collection settings \\['hover'\\]"):
        CollectConfig.from_dict({**config.to_dict(), "hover": 0.1})
