"""The main job on its tiniest preset: every stage runs, stops, resumes and records its provenance."""

from __future__ import annotations

import json

import pytest

from benchmark.tasks import checkpoint_folder
from pipeline import run as pipeline_run
from pipeline.presets import PRESETS
from runs import pipeline


def test_tiny_pipeline_end_to_end_with_resume(tmp_path, capsys):
    out = tmp_path / "run"
    first = pipeline.main(["--preset", "tiny", "--out", str(out), "--wandb-mode", "disabled",
                           "--stop-after", "embedding"])
    assert list(first["stages"]) == ["collect", "embedding"]
    assert (out / "data" / "card.json").is_file() and (out / "grasp2vec" / "train_state.json").is_file()
    assert not (out / "policy").exists()

    with pytest.raises(SystemExit, match="--resume"):
        pipeline.main(["--preset", "tiny", "--out", str(out), "--wandb-mode", "disabled"])

    capsys.readouterr()
    second = pipeline.main(["--preset", "tiny", "--out", str(out), "--wandb-mode", "disabled", "--resume"])
    printed = capsys.readouterr().out
    assert second["stages"]["collect"]["skipped"] and second["stages"]["embedding"]["skipped"]
    assert "skipped" not in second["stages"]["policy"]
    assert checkpoint_folder(out / "policy") is not None
    results = json.loads((out / "benchmark" / "results.json").read_text())
    cells = {(c["row"], c["objects"]): c for c in results["cells"]}
    trials = PRESETS["tiny"].benchmark.trials
    assert cells[(pipeline_run.PIPELINE_ROW, "seen")]["trials"] == trials
    assert cells[(pipeline_run.PIPELINE_ROW, "unseen")]["trials"] == trials
    assert cells[("random", "seen")]["trials"] == trials
    assert "| policy | seen | unseen |" in printed and (out / "benchmark" / "table.md").is_file()

    record = json.loads((out / "pipeline.json").read_text())
    assert record["preset"] == "tiny" and record["config"]["collect"]["seed"] == 0
    assert len(record["calls"]) == 2
    assert all(call["code_version"]["git_commit"] and call["machine"]["cpus"] for call in record["calls"])
    policy = record["stages"]["policy"]
    assert policy["call"] == "agents.train.train_policy"
    assert (policy["settings"]["algo"], policy["settings"]["reward"]) == ("qtopt-pose", "grasp2vec")

    third = pipeline.main(["--preset", "tiny", "--out", str(out), "--wandb-mode", "disabled", "--resume"])
    assert all(stage["skipped"] for stage in third["stages"].values())


def test_changed_settings_are_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "pipeline.json").write_text(json.dumps({"preset": "default", "config": {"other": 1}, "calls": []}))
    with pytest.raises(SystemExit, match="other settings"):
        pipeline.main(["--preset", "tiny", "--out", str(out), "--resume"])


def test_stage_finished_with_other_settings_is_refused(tmp_path):
    stage = pipeline_run.build_stages(PRESETS["tiny"], tmp_path, "disabled")[0]
    marker = pipeline_run.marker(tmp_path, stage)
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"settings": {**stage.settings(), "grasps": 1}, "wall_s": 1.0}))
    with pytest.raises(pipeline_run.PipelineError, match="other settings"):
        pipeline_run.run_stage(stage, tmp_path, resume=True)


def test_a_different_wandb_mode_does_not_invalidate_a_finished_stage(tmp_path):
    offline = pipeline_run.build_stages(PRESETS["tiny"], tmp_path, "offline")[1]
    disabled = pipeline_run.build_stages(PRESETS["tiny"], tmp_path, "disabled")[1]
    assert offline.config.wandb_mode != disabled.config.wandb_mode
    marker = pipeline_run.marker(tmp_path, offline)
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"settings": offline.settings(), "wall_s": 1.0}))
    assert pipeline_run.run_stage(disabled, tmp_path, resume=True)["skipped"]


@pytest.mark.parametrize("preset", ["default", "large"])
def test_presets_that_start_from_shipped_checkpoints_fit_them(tmp_path, monkeypatch, preset):
    """The warm-started embedding records the shipped architecture, and its images are the collected ones."""
    from pathlib import Path

    from agents.loading import load_policy
    from agents.presets import PRESETS as POLICY_PRESETS
    from embedding.checkpoint import read_config

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # presets name repo-relative checkpoints
    stages = {stage.name: stage for stage in pipeline_run.build_stages(PRESETS[preset], tmp_path, "disabled")}
    model = stages["embedding"].config.model
    assert model == read_config(PRESETS[preset].embedding.init_from)
    assert model.image_size == stages["collect"].config.image_size
    policy = stages["policy"].config
    assert policy.preset in POLICY_PRESETS
    prior = load_policy(policy.init_from)[0].q
    assert prior.config == POLICY_PRESETS[policy.preset].pose.patch  # copy_grasp_prior's condition
