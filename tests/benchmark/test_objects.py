"""benchmark.objects: instance trials grouped by goal object, hardest first, with what was lifted instead."""

from __future__ import annotations

import pytest

from benchmark.objects import markdown, per_object


def trial(target: str, success: bool, lifted: list[str]) -> dict:
    return {"target": target, "success": success, "lifted": len(lifted), "target_lifted": target in lifted,
            "lifted_objects": lifted}


def test_trials_are_grouped_by_goal_object_and_split_by_how_they_ended() -> None:
    trials = [trial("mug", True, ["mug"]), trial("mug", False, []), trial("mug", False, ["cup"]),
              trial("mug", False, ["mug", "cup"]), trial("cup", True, ["cup"]), trial("cup", False, ["mug"])]
    rows = per_object(trials)
    assert [row.target for row in rows] == ["mug", "cup"]  # 25 % before 50 %
    mug = rows[0]
    assert (mug.trials, mug.success_rate, mug.nothing_rate, mug.wrong_rate, mug.target_and_other_rate) == \
        (4, 0.25, 0.25, 0.25, 0.25)
    assert mug.taken_instead == "cup" and rows[1].taken_instead == "mug"
    assert per_object([trial("box", True, ["box"])])[0].taken_instead is None
    assert "| mug | 4 | 25 % | 25 % | 25 % | 25 % | cup |" in markdown(rows, "row, seen")


def test_trials_without_a_goal_object_are_refused() -> None:
    with pytest.raises(ValueError, match="do not name their goal object"):
        per_object([{"success": True, "lifted": 1, "target_lifted": None}])
    with pytest.raises(ValueError, match="do not name their goal object"):
        per_object([])
