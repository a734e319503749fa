"""Paired comparison of benchmark rows: counts on shared seeds, the exact test, refusals, the command."""

from __future__ import annotations

import json
from math import comb

import pytest

from benchmark.paired import compare, cpu_models, cpu_note, mcnemar_exact
from runs.benchmark_compare import main

CONFIG = {"objects": ["seen"], "goals": ["single"], "task": "instance", "trials": 4, "split": "validation",
          "seed": 1, "goal_seed": 3, "world": {"num_objects": 5, "max_steps": 12}}


def part(row: str, outcomes: list[bool], seeds: list[int] | None = None, **config) -> dict:
    seeds = seeds or list(range(100, 100 + len(outcomes)))
    trials = [{"seed": s, "success": ok} for s, ok in zip(seeds, outcomes, strict=True)]
    return {"config": {**CONFIG, **config}, "cells": {}, "seeds": {}, "rows": {row: {}}, "command": "x",
            "trials": {f"{row}/seen/single/instance": trials}}


def test_exact_mcnemar_matches_the_binomial_tail():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(9, 3) == pytest.approx(2 * sum(comb(12, k) for k in range(4)) / 2 ** 12)
    assert mcnemar_exact(3, 9) == mcnemar_exact(9, 3)
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_exact(-1, 2)


def test_counts_wins_and_losses_on_the_shared_seeds_only():
    a = part("cand", [True, True, False, False, True], seeds=[1, 2, 3, 4, 9])
    b = part("base", [True, False, True, False], seeds=[1, 2, 3, 4])
    (cell,) = compare(a, "cand", b, "base")
    assert (cell.cell, cell.trials, cell.a_successes, cell.b_successes) == ("seen/single/instance", 4, 2, 2)
    assert (cell.wins, cell.losses) == (1, 1) and cell.p_value == 1.0


def test_refuses_other_trial_settings_and_missing_rows():
    a, b = part("cand", [True] * 4), part("base", [False] * 4, world={"num_objects": 5, "max_steps": 10})
    with pytest.raises(ValueError, match="differ in world"):
        compare(a, "cand", b, "base")
    with pytest.raises(ValueError, match="row 'other' is not in"):
        compare(a, "other", part("base", [False] * 4), "base")
    with pytest.raises(ValueError, match="share no trial seed"):
        compare(a, "cand", part("base", [False] * 4, seeds=[7, 8, 9, 10]), "base")
    two_cells = part("base", [False] * 4)
    two_cells["trials"]["base/unseen/single/instance"] = [{"seed": 7, "success": True}]
    unseen = part("cand", [True] * 4)
    unseen["trials"]["cand/unseen/single/instance"] = [{"seed": 8, "success": True}]
    assert [c.cell for c in compare(unseen, "cand", two_cells, "base")] == ["seen/single/instance"]  # no shared seed


def test_command_prints_and_writes_the_comparison(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(part("cand", [True, True, True, False])))
    (tmp_path / "b.json").write_text(json.dumps(part("base", [False, False, False, False])))
    cells = main([f"{tmp_path / 'a.json'}:cand", f"{tmp_path / 'b.json'}:base", "--json", str(tmp_path / "c.json")])
    assert cells[0]["wins"] == 3 and cells[0]["losses"] == 0
    assert "| seen/single/instance | 4 | 75.0 % | 0.0 % | 3 / 0 | 0.25 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["cells"][0]["p_value"] == pytest.approx(0.25)
    with pytest.raises(SystemExit, match="not in this benchmark file"):
        main([f"{tmp_path / 'a.json'}:nope", f"{tmp_path / 'b.json'}:base"])
    with pytest.raises(SystemExit):
        main(["no-row-given", f"{tmp_path / 'b.json'}:base"])


def test_notes_runs_from_different_cpu_models_and_names_them(tmp_path, capsys):
    intel = {"host": "vm", "description": "vm Intel(R) Xeon(R) Processor, 2 cores, load average 1.9"}
    amd = {"host": "vm", "cpu": "AMD EPYC", "description": "vm AMD EPYC, 2 cores, load average 2.2"}
    a, b = part("cand", [True, False, True, True]), part("base", [False, False, True, True])
    a["machine"], b["machine"] = intel, amd
    assert cpu_note(a, b) is not None and "Intel(R) Xeon(R) Processor / AMD EPYC" in cpu_note(a, b)
    assert cpu_note(a, {**b, "machine": intel}) is None
    assert cpu_note(a, part("base", [True] * 4)) is None  # a file that names no machine: nothing to say
    merged = {**b, "parts": [{"machine": amd}, {"machine": intel}]}
    assert cpu_models(merged) == {"AMD EPYC", "Intel(R) Xeon(R) Processor"}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    main([f"{tmp_path / 'a.json'}:cand", f"{tmp_path / 'b.json'}:base", "--json", str(tmp_path / "c.json")])
    assert "different CPU models" in capsys.readouterr().err
    assert "different CPU models" in json.loads((tmp_path / "c.json").read_text())["cpu_note"]
