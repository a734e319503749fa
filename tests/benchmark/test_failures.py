"""benchmark.failures: each way a trial ends, counted per cell; old trials refused."""

from __future__ import annotations

import pytest

from benchmark.failures import ENDINGS, ending, failures, markdown


def trial(success=False, attempted=True, lifted=0, sensed=False, dropped=(), target_lifted=None, fault=None) -> dict:
    return {"success": success, "grasp_attempted": attempted, "lifted": lifted, "grasp_sensed": sensed,
            "dropped_objects": list(dropped), "target_lifted": target_lifted, "fault": fault}


def test_every_way_a_trial_ends_is_told_apart() -> None:
    assert ending(trial(success=True, lifted=1, sensed=True, target_lifted=True)) == "success"
    assert ending(trial()) == "closed on nothing"
    assert ending(trial(dropped=("042",))) == "dropped in the hold"
    assert ending(trial(sensed=True)) == "held low"
    assert ending(trial(attempted=False)) == "no grasp"
    assert ending(trial(fault="object 3 left the workspace")) == "no grasp"
    assert ending(trial(lifted=1, sensed=True, target_lifted=False)) == "wrong object"
    assert ending(trial(lifted=2, sensed=True, target_lifted=True)) == "target + another"


def test_a_cell_is_counted_and_old_trials_are_refused() -> None:
    cell = failures("seen/single/instance", [trial(), trial(), trial(success=True, lifted=1, target_lifted=True)])
    assert cell.trials == 3 and cell.counts["closed on nothing"] == 2 and sum(cell.counts.values()) == 3
    assert set(cell.counts) == set(ENDINGS)
    assert "| seen/single/instance | 3 | 33.3 | 66.7 |" in markdown([cell], "row")
    old = trial()
    del old["grasp_sensed"]
    with pytest.raises(ValueError, match="recorded before grasp_sensed"):
        failures("seen", [old])


def test_fingers_that_closed_on_nothing_high_above_the_bottom_are_counted_apart() -> None:
    high, low = trial(), trial()
    high["close_height"], low["close_height"] = 0.045, 0.008  # resting on an object; at the bottom
    cell = failures("seen", [high, low, trial(success=True, lifted=1, target_lifted=True)])
    assert cell.closed_high == 1 and cell.counts["closed on nothing"] == 2
    assert markdown([cell], "row").splitlines()[-1].endswith("| 33.3 |")
    assert failures("seen", [trial()]).closed_high is None  # recorded without the height
