"""runs.combine_policies: FOLDER[:WEIGHT] members, the product folder it writes, clear errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from agents.qtopt.product import PRODUCT_META
from runs.combine_policies import main, parse_member
from tests.agents.test_pose_product import checkpoint


def test_members_parse_with_and_without_a_weight() -> None:
    assert parse_member("checkpoints/policies/a/checkpoint") == (Path("checkpoints/policies/a/checkpoint"), 1.0)
    assert parse_member("runs/out/b:0.5") == (Path("runs/out/b"), 0.5)
    with pytest.raises(argparse.ArgumentTypeError, match="FOLDER:WEIGHT"):
        parse_member("runs/out/b:half")


def test_the_command_writes_a_product_and_records_itself(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    out = main(["--member", str(tmp_path / "goal"), "--member", f"{tmp_path / 'grasp'}:2", "--cem", "population=16",
                "--out", str(tmp_path / "product")])
    meta = json.loads((out / PRODUCT_META).read_text())
    assert [m["weight"] for m in meta["members"]] == [1.0, 2.0] and meta["cem"]["population"] == 16
    assert meta["command"].startswith("python -m runs.combine_policies")
    with pytest.raises(SystemExit, match="combine_policies: error: .* exists"):
        main(["--member", str(tmp_path / "goal"), "--member", str(tmp_path / "grasp"), "--out", str(out)])


def test_the_approach_is_recorded_loaded_and_checked(tmp_path) -> None:
    from agents.qtopt.product import PoseQProduct

    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    members = ["--member", str(tmp_path / "goal"), "--member", str(tmp_path / "grasp")]
    out = main([*members, "--approach", "hover=0.08", "--approach", "max_align_steps=5", "--out",
                str(tmp_path / "hover")])
    approach = json.loads((out / PRODUCT_META).read_text())["approach"]
    assert approach["hover"] == 0.08 and approach["max_align_steps"] == 5
    follower = PoseQProduct.load(out).policy.follower
    assert follower.approach.hover == 0.08 and follower.approach.max_align_steps == 5
    assert PoseQProduct.load(main([*members, "--out", str(tmp_path / "plain")])).policy.follower.approach.hover == 0
    with pytest.raises(SystemExit, match="unknown approach settings \\['height'\\]"):
        main([*members, "--approach", "height=0.1", "--out", str(tmp_path / "bad")])


def test_the_goal_heat_flag_is_recorded(tmp_path) -> None:
    checkpoint(tmp_path / "goal", True, 0)
    checkpoint(tmp_path / "grasp", False, 1)
    out = main(["--member", str(tmp_path / "goal"), "--member", str(tmp_path / "grasp"), "--goal-heat", "0.5",
                "--out", str(tmp_path / "heat")])
    assert json.loads((out / PRODUCT_META).read_text())["goal_heat"] == 0.5
    with pytest.raises(SystemExit, match="goal_heat must be"):
        main(["--member", str(tmp_path / "goal"), "--member", str(tmp_path / "grasp"), "--goal-heat", "-1",
              "--out", str(tmp_path / "bad")])
