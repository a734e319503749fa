"""benchmark.budget: a trial's outcome at every budget from one run at the largest; old trials refused."""

from __future__ import annotations

import pytest

from benchmark.budget import ENDINGS, budget_curve, ending_at_budget, lift_ending, markdown


def trial(final=(), released=(), target="7", attempted=True, fault=None) -> dict:
    """A trial that put back the lifts ``released`` (each a list of names) and ended holding ``final``."""
    return {"success": list(final) == [target], "grasp_attempted": attempted, "fault": fault, "target": target,
            "lifted_objects": list(final), "released_objects": [list(r) for r in released]}


def test_each_lift_is_told_apart() -> None:
    assert lift_ending(["7"], "7") == "success"
    assert lift_ending([], "7") == "nothing lifted"
    assert lift_ending(["3"], "7") == "wrong object"
    assert lift_ending(["7", "3"], "7") == "target + another"
    assert lift_ending(["3"], None) == "success"  # any object will do


def test_a_trial_ends_at_its_kth_lift_or_where_it_ended() -> None:
    third = trial(final=["7"], released=[["3"], []])  # wrong object put back, empty lift put back, then the target
    assert [ending_at_budget(third, k) for k in (1, 2, 3, 4)] == ["wrong object", "nothing lifted", "success",
                                                                  "success"]
    kept = trial(final=["7", "3"])  # the first lift was kept: the budget changes nothing
    assert {ending_at_budget(kept, k) for k in (1, 2, 3)} == {"target + another"}
    assert ending_at_budget(trial(released=[["3"]], attempted=False), 2) == "no grasp"  # out of steps after a put-back
    assert ending_at_budget(trial(released=[["3"]], attempted=False), 1) == "wrong object"
    assert ending_at_budget(trial(final=["7"], fault="object 2 left the workspace"), 1) == "no grasp"
    with pytest.raises(ValueError, match="at least 1"):
        ending_at_budget(kept, 0)
    old = trial()
    del old["released_objects"]
    with pytest.raises(ValueError, match="released_objects"):
        ending_at_budget(old, 1)


def test_the_curve_runs_to_the_most_grasps_made_and_counts_them() -> None:
    trials = [trial(final=["7"], released=[["3"], []]), trial(final=["7"]), trial(final=["7"], released=[[]]),
              trial(attempted=False)]
    points = budget_curve(trials)
    assert [p.budget for p in points] == [1, 2, 3]
    assert [p.counts["success"] for p in points] == [1, 2, 3]
    assert [p.grasps for p in points] == [3, 5, 6]  # the last trial never grasped
    assert all(sum(p.counts.values()) == 4 and set(p.counts) == set(ENDINGS) for p in points)
    text = markdown({"seen/single/instance": points}, "row")
    assert "| seen/single/instance | 3 | 4 | 75.0 | 0.0 | 0.0 | 0.0 | 25.0 | 1.50 |" in text
    assert [p.budget for p in budget_curve([trial(attempted=False)])] == [1]
