"""The shipped card's collection commands reproduce the data a policy was trained on."""

from __future__ import annotations

import json

from agents.shipping import collect_command
from graspdata.layout import shard_name


def _folder(tmp_path, shards: list[tuple[int, int]], grasps: int, heightmap: bool):
    folder = tmp_path / "data"
    folder.mkdir()
    config = {"objects": "seen", "grasps": grasps, "seed": 7, "num_objects": 5, "image_size": 64, "max_steps": 12,
              "policy": "random", "shard_size": 200, "heightmap": heightmap}
    entries = [{"name": shard_name(first, stop), "first_index": first, "stop_index": stop} for first, stop in shards]
    (folder / "card.json").write_text(json.dumps({"config": config, "shards": entries}))
    return folder


def test_a_stopped_collection_is_reproduced_by_the_attempts_it_holds(tmp_path) -> None:
    folder = _folder(tmp_path, [(0, 200), (200, 400), (600, 800)], grasps=1000, heightmap=True)
    command = collect_command(str(folder))
    assert "--grasps 400 " in command and "--heightmap" in command
    assert "stopped at 400 of the card's 1,000 attempts" in command


def test_a_complete_collection_keeps_its_command(tmp_path) -> None:
    folder = _folder(tmp_path, [(0, 200), (200, 400)], grasps=400, heightmap=False)
    command = collect_command(str(folder))
    assert command == (f"python -m runs.collect --out {folder} --objects seen --grasps 400 --seed 7 --num-objects 5 "
                       "--image-size 64 --max-steps 12 --policy random --shard-size 200")
