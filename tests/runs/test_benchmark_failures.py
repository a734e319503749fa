"""runs.benchmark_failures: one line per cell of a benchmark file's row; clear errors."""

from __future__ import annotations

import pytest

from runs.benchmark_failures import main
from tests.benchmark.test_failures import trial
from tests.runs.test_second_look_thresholds import benchmark_file


def test_the_command_prints_and_writes_one_line_per_cell(tmp_path) -> None:
    benchmark_file(tmp_path / "b.json", {"row/seen/single/instance": [trial(), trial(dropped=("1",))],
                                         "row/unseen/single/instance": [trial(sensed=True)]})
    text = main([f"{tmp_path / 'b.json'}:row", "--markdown", str(tmp_path / "f.md")])
    assert "| seen/single/instance | 2 | 0.0 | 50.0 | 50.0 |" in text and "unseen/single/instance" in text
    assert (tmp_path / "f.md").read_text() == text
    with pytest.raises(SystemExit, match="benchmark_failures: error: row 'other' is not in this benchmark file"):
        main([f"{tmp_path / 'b.json'}:other"])
