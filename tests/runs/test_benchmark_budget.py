"""runs.benchmark_budget: one line per cell and budget of a benchmark file's row; clear errors."""

from __future__ import annotations

import pytest

from runs.benchmark_budget import main
from tests.benchmark.test_budget import trial
from tests.runs.test_second_look_thresholds import benchmark_file


def test_the_command_prints_and_writes_one_line_per_cell_and_budget(tmp_path) -> None:
    benchmark_file(tmp_path / "b.json", {"row/seen/single/instance": [trial(final=["7"], released=[["3"]]),
                                                                      trial(final=["7"])],
                                         "row/unseen/single/instance": [trial(final=["4"])]})
    text = main([f"{tmp_path / 'b.json'}:row", "--markdown", str(tmp_path / "b.md")])
    assert "| seen/single/instance | 1 | 2 | 50.0 | 0.0 | 50.0 |" in text
    assert "| seen/single/instance | 2 | 2 | 100.0 |" in text and "| unseen/single/instance | 1 | 1 | 0.0 |" in text
    assert (tmp_path / "b.md").read_text() == text
    with pytest.raises(SystemExit, match="benchmark_budget: error: row 'other' is not in this benchmark file"):
        main([f"{tmp_path / 'b.json'}:other"])
