"""runs.second_look_thresholds: reads a benchmark file's second-look row and writes JSON, markdown and PNG."""

from __future__ import annotations

import json

import pytest

from runs.second_look_thresholds import main
from tests.benchmark.test_looks import trial


def benchmark_file(path, trials: dict) -> None:
    path.write_text(json.dumps({"config": {}, "cells": [], "seeds": {}, "rows": [],
                                "command": "python -m runs.benchmark", "trials": trials}))


def test_the_command_writes_the_tables_for_every_cell(tmp_path) -> None:
    trials = [trial(-3.0, False, 0), trial(1.0, True, 1), trial(2.0, False, 1)]
    benchmark_file(tmp_path / "b.json", {"never/seen/single/instance": trials, "never/unseen/single/instance": trials,
                                         "other/seen/single/instance": trials})
    cells = main([f"{tmp_path / 'b.json'}:never", "--out", str(tmp_path / "looks")])
    assert [c.cell for c in cells] == ["seen/single/instance", "unseen/single/instance"]
    written = json.loads((tmp_path / "looks" / "looks.json").read_text())
    assert written["command"].startswith("python -m runs.second_look_thresholds") and len(written["cells"]) == 2
    assert (tmp_path / "looks" / "looks.png").stat().st_size > 0 and (tmp_path / "looks" / "looks.md").is_file()
    with pytest.raises(SystemExit, match="row 'missing' is not in this benchmark file"):
        main([f"{tmp_path / 'b.json'}:missing", "--out", str(tmp_path / "x")])
