"""runs.sensing_report writes the sensed-vs-ground-truth report as JSON and Markdown."""

from __future__ import annotations

import json

from runs import sensing_report
from tests.graspdata.test_sensing import write_sensing_dataset


def test_command_writes_json_and_markdown(tmp_path):
    write_sensing_dataset(tmp_path / "d")
    sensing_report.main([str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--collect-command", "python -m x"])
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["agreement"]["attempted_fault_free"] == 6 and report["collection"]["seed"] == 7
    assert 0.039 < report["closed_aperture_m"] < 0.040
    markdown = (tmp_path / "r.md").read_text()
    assert "| **sensed** | 1 (16.67%) | 1 (16.67%) |" in markdown and "python -m x" in markdown


def test_count_signals_join_the_report(tmp_path):
    from tests.graspdata.test_sensing import write_count_dataset

    write_count_dataset(tmp_path / "d")
    report = sensing_report.main([str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--count-signals"])
    assert report["count_separation"]["signals"]["aperture (m)"]["roc_auc"] == 1.0
    markdown = (tmp_path / "r.md").read_text()
    assert "Does the robot sense how many objects it lifted?" in markdown
    assert "| scene pixels changed | 1.000 |" in markdown
