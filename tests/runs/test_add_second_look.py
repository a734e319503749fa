"""runs.add_second_look: the folder it writes records the command and the look's settings; errors are clear."""

from __future__ import annotations

import json

import pytest

from agents.second_look import SECOND_LOOK_META
from runs.add_second_look import main
from tests.agents.test_pose_product import checkpoint
from tests.agents.test_second_look import FixedView


def test_the_command_writes_a_second_look_folder_and_records_itself(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    FixedView(0.5).save(tmp_path / "view")
    out = main(["--base", str(tmp_path / "goal"), "--view", str(tmp_path / "view"), "--prior", str(tmp_path / "grasp"),
                "--threshold", "-1", "--looks", "2", "--out", str(tmp_path / "look")])
    meta = json.loads((out / SECOND_LOOK_META).read_text())
    assert meta["config"]["threshold"] == -1.0 and meta["config"]["looks"] == 2
    assert meta["command"].startswith("python -m runs.add_second_look") and meta["prior_source"].endswith("grasp")
    with pytest.raises(SystemExit, match="add_second_look: error: no presence classifier"):
        main(["--base", str(tmp_path / "goal"), "--view", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="add_second_look: error: invalid second look"):
        main(["--base", str(tmp_path / "goal"), "--view", str(tmp_path / "view"), "--retreat", "0",
              "--out", str(tmp_path / "y")])
