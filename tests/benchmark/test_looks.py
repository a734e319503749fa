"""benchmark.looks: a never-giving-up look's rankings and threshold table, read from benchmark trials."""

from __future__ import annotations

import pytest

from benchmark.looks import look_rankings, markdown


def trial(score: float | None, success: bool, lifted: int, given_up: int = 0) -> dict:
    report = {"look_scores": [] if score is None else [score], "given_up": given_up}
    return {"seed": 0, "success": success, "lifted": lifted, "policy_report": report}


def test_the_table_counts_the_failures_and_successes_each_threshold_gives_up() -> None:
    trials = [trial(-3.0, False, 0), trial(-1.5, False, 1), trial(-0.5, True, 1), trial(2.0, True, 1),
              trial(3.0, True, 1), trial(None, False, 0)]  # the last one never closed by itself: no look
    cell = look_rankings("seen/single/instance", trials, thresholds=(-2.0, 0.0, 10.0))
    assert (cell.trials, cell.looked, cell.success_rate) == (6, 5, 0.6)
    assert cell.auc_success == 1.0 and cell.auc_lifted == 1.0
    assert [(r.given_up, r.failures, r.successes) for r in cell.thresholds] == [(1, 1, 0), (3, 2, 1), (5, 2, 3)]
    assert "| 0 | 3 | 2 | 1 |" in markdown([cell], "never")


def test_trials_that_gave_up_or_carry_no_report_are_refused() -> None:
    with pytest.raises(ValueError, match="not the base policy's"):
        look_rankings("seen", [trial(-3.0, False, 0, given_up=1)])
    with pytest.raises(ValueError, match="no trial carries a second look's report"):
        look_rankings("seen", [{"seed": 0, "success": True, "lifted": 1, "policy_report": None}])
