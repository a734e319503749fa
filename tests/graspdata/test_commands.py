"""The collect and inspect_data commands, end to end on a tiny dataset."""

from __future__ import annotations

import json

import pytest

from runs import collect as collect_cli
from runs import inspect_data
from tests.graspdata.helpers import write_dataset

TINY_ARGS = ["--grasps", "4", "--shard-size", "2", "--workers", "2", "--image-size", "32", "--num-objects", "2",
             "--max-steps", "8", "--wandb-mode", "disabled", "--no-progress"]


def test_collect_then_inspect(tmp_path, capsys):
    summary = collect_cli.main(["--out", str(tmp_path / "data"), *TINY_ARGS])
    assert summary["attempts"] == 4 and summary["new_attempts"] == 4
    again = collect_cli.main(["--out", str(tmp_path / "data"), "--resume", *TINY_ARGS])
    assert again["new_attempts"] == 0 and again["attempts"] == 4
    capsys.readouterr()
    data = inspect_data.main([str(tmp_path / "data"), "--verify"])
    out = capsys.readouterr().out
    assert data["attempts"] == 4 and "attempts    4" in out
    assert sum(o["present"] for o in data["objects"].values()) == 8  # 2 objects in each of 4 bins
    for name in ("summary.json", "triplets.png", "objects.png"):
        assert (tmp_path / "data" / "inspect" / name).stat().st_size > 0
    assert json.loads((tmp_path / "data" / "inspect" / "summary.json").read_text())["shards"] == 2


def test_commands_fail_with_a_clear_message(tmp_path):
    with pytest.raises(SystemExit, match="no card.json"):
        inspect_data.main([str(tmp_path)])
    write_dataset(tmp_path / "data", [(0, 3)])
    with pytest.raises(SystemExit, match="--resume"):
        collect_cli.main(["--out", str(tmp_path / "data"), *TINY_ARGS])


def test_inspect_skips_bad_shards_when_asked(tmp_path, capsys):
    write_dataset(tmp_path, [(0, 3), (3, 6)])
    bad = tmp_path / "shard-000000003-000000006.h5"
    bad.write_bytes(bad.read_bytes()[:64])
    with pytest.raises(SystemExit, match=bad.name):
        inspect_data.main([str(tmp_path)])
    data = inspect_data.main([str(tmp_path), "--skip-bad"])
    assert data["attempts"] == 3 and data["bad_shards"] == [str(bad)]
    assert "1 bad, skipped" in capsys.readouterr().out
