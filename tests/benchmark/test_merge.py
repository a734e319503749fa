"""``python -m runs.benchmark_merge``: rows benchmarked separately, one table."""

from __future__ import annotations

import dataclasses
import json

import pytest

from benchmark.merge import merge
from benchmark.report import summarize, write_json
from benchmark.runner import BenchmarkConfig
from benchmark.tasks import ROWS, Cell, TrialResult
from envs.config import WorldSettings
from runs.benchmark_merge import main


def write_part(path, rows: tuple[str, ...], trials: int = 4, split: str = "test", named_split: bool = True,
               max_grasps: int | None = 1) -> None:
    """A runs.benchmark JSON part; ``named_split=False`` writes a file from before the splits had names,
    ``max_grasps=None`` one from before a trial could make more than one grasp."""
    config = BenchmarkConfig(rows=rows, objects=("seen",), trials=trials, split=split,
                             world=WorldSettings(max_grasps=max_grasps or 1))
    settings = {**dataclasses.asdict(config), "seed": config.seed}
    if not named_split:
        del settings["split"]
    if max_grasps is None:
        del settings["world"]["max_grasps"]
    summaries, results = [], {}
    for index, name in enumerate(rows):
        cell = Cell(ROWS[name], "seen")
        trial = [TrialResult(seed=i, success=i <= index, lifted=1, grasp_attempted=True, fault=None, steps=3,
                             seconds=0.5, target_lifted=i <= index) for i in range(trials)]
        summaries.append(summarize(cell, "ok", trial))
        results[cell.key] = trial
    meta = {"command": f"python -m runs.benchmark --rows {' '.join(rows)}", "config": settings,
            "rows": {name: dataclasses.asdict(ROWS[name]) for name in rows},
            "seeds": {"first_trial_seed": 20_000_000 + config.seed * 1_000_000},
            "code_version": {"git_commit": "abc123", "dirty": False},
            "machine": {"description": "test machine"}, "wall_s": 2.0, "grasps": trials * len(rows)}
    write_json(path, summaries, meta, results)


def test_parts_merge_into_one_table_with_their_provenance(tmp_path, capsys):
    write_part(tmp_path / "a.json", ("random", "privileged"))
    write_part(tmp_path / "b.json", ("heatmap",))
    merged = main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json", str(tmp_path / "all.json"),
                   "--markdown", str(tmp_path / "all.md")])
    assert merged["config"]["rows"] == ["random", "heatmap", "privileged"]  # the benchmark's order
    assert [c["row"] for c in merged["cells"]] == ["random", "heatmap", "privileged"]
    assert set(merged["trials"]) == {"random/seen/single/instance", "privileged/seen/single/instance",
                                     "heatmap/seen/single/instance"}
    assert [p["file"] for p in merged["parts"]] == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    assert merged["grasps"] == 12 and merged["wall_s"] == 4.0
    text = (tmp_path / "all.md").read_text()
    assert "50.0 % [15.0, 85.0] (n=4)" in text and "--rows heatmap" in text and "| target + another |" in text
    assert json.loads((tmp_path / "all.json").read_text())["table"] == merged["table"]
    assert (tmp_path / "all.png").stat().st_size > 1000


def test_incomparable_parts_are_refused(tmp_path):
    write_part(tmp_path / "a.json", ("random",))
    write_part(tmp_path / "other-seed.json", ("heatmap",), split="validation")
    write_part(tmp_path / "same-row.json", ("random",))
    parts = {name: json.loads((tmp_path / name).read_text()) for name in ("a.json", "other-seed.json", "same-row.json")}
    with pytest.raises(ValueError, match="split = 'validation' differs from a.json's 'test'"):
        merge([parts["a.json"], parts["other-seed.json"]], ["a.json", "other-seed.json"])
    with pytest.raises(ValueError, match="row 'random' is in both a.json and same-row.json"):
        merge([parts["a.json"], parts["same-row.json"]], ["a.json", "same-row.json"])
    (tmp_path / "bad.json").write_text('{"cells": []}')
    with pytest.raises(SystemExit, match="not a runs.benchmark --json file"):
        main([str(tmp_path / "a.json"), str(tmp_path / "bad.json"), "--json", str(tmp_path / "x.json")])


def test_replace_keeps_the_later_measurement_of_a_row(tmp_path):
    write_part(tmp_path / "a.json", ("random", "privileged"))
    write_part(tmp_path / "again.json", ("heatmap", "random"))  # random now succeeds on 2 of 4 trials, not 1
    parts = [json.loads((tmp_path / name).read_text()) for name in ("a.json", "again.json")]
    merged = merge(parts, ["a.json", "again.json"], replace=True)
    assert merged["config"]["rows"] == ["random", "heatmap", "privileged"]
    random = [c for c in merged["cells"] if c["row"] == "random"]
    assert len(random) == 1 and random[0]["successes"] == 2 and len(merged["cells"]) == 3
    assert merged["replaced"] == [{"row": "random", "dropped": "a.json", "kept": "again.json"}]
    assert sorted(merged["trials"]) == ["heatmap/seen/single/instance", "privileged/seen/single/instance",
                                        "random/seen/single/instance"]
    assert [t["success"] for t in merged["trials"]["random/seen/single/instance"]] == [True, True, False, False]


def test_parts_from_before_the_split_names_merge_by_their_seed(tmp_path):
    write_part(tmp_path / "old.json", ("random",), named_split=False)
    write_part(tmp_path / "new.json", ("heatmap",))
    write_part(tmp_path / "old-validation.json", ("privileged",), split="validation", named_split=False)
    names = ("old.json", "new.json", "old-validation.json")
    parts = {name: json.loads((tmp_path / name).read_text()) for name in names}
    merged = merge([parts["old.json"], parts["new.json"]], ["old.json", "new.json"])
    assert merged["config"]["split"] == "test"
    with pytest.raises(ValueError, match="split = 'validation' differs"):
        merge([parts["new.json"], parts["old-validation.json"]], ["new.json", "old-validation.json"])


def test_parts_from_before_a_second_grasp_merge_as_one_grasp_tables(tmp_path):
    write_part(tmp_path / "old.json", ("random",), max_grasps=None)
    write_part(tmp_path / "one.json", ("heatmap",))
    write_part(tmp_path / "two.json", ("privileged",), max_grasps=2)
    parts = {name: json.loads((tmp_path / name).read_text()) for name in ("old.json", "one.json", "two.json")}
    assert len(merge([parts["old.json"], parts["one.json"]], ["old.json", "one.json"])["cells"]) == 2
    with pytest.raises(ValueError, match="world"):
        merge([parts["one.json"], parts["two.json"]], ["one.json", "two.json"])


def test_merged_headline_goes_into_the_readme_between_its_markers(tmp_path):
    from benchmark.publish import README_END, README_START

    write_part(tmp_path / "a.json", ("random",))
    write_part(tmp_path / "b.json", ("privileged",))
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{README_START}\nold table\n{README_END}\n\nafter\n")
    main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json", str(tmp_path / "all.json"),
          "--readme", str(readme)])
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# title") and text.endswith("after\n")
    assert "| indiscriminate (random scripted) | 25.0 % [4.6, 69.9] |" in text and "| privileged scripted" in text
    assert "--rows privileged" in text and "(n=4)" not in text  # the README's short form
