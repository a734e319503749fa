"""``python -m runs.ship_policy``: weights and provenance only, loadable like the run itself."""

from __future__ import annotations

import numpy as np
import pytest

from agents.loading import load_policy
from runs.ship_policy import main as ship
from runs.train_policy import main as train


@pytest.fixture(autouse=True)
def offline_wandb(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def test_ships_weights_and_provenance_without_replay_data(tmp_path) -> None:
    run = tmp_path / "run"
    train(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose-tiny", "--out", str(run),
           "--grasps", "2"])
    ship(["--run", str(run), "--name", "mine", "--root", str(tmp_path / "shipped")])
    target = tmp_path / "shipped" / "mine"
    assert sorted(p.name for p in (target / "checkpoint").iterdir()) == ["policy.json", "pose_qtopt.json",
                                                                        "pose_qtopt.safetensors"]
    text = (target / "README.md").read_text()
    assert "python -m runs.train_policy --algo qtopt-pose" in text and "python -m runs.ship_policy" in text
    assert (target / "eval.json").is_file() and (target / "config.json").is_file()
    policy, card = load_policy(target / "checkpoint")
    assert card.algo == "qtopt-pose" and type(policy).__name__ == "PoseQTOpt"


def test_ships_a_sac_run_as_its_actor_alone_also_from_a_run_with_only_the_sb3_zip(tmp_path) -> None:
    run = tmp_path / "run"
    train(["--algo", "sac-pose", "--reward", "indiscriminate", "--preset", "pose-tiny", "--out", str(run),
           "--timesteps", "6", "--minutes", "5"])
    assert (run / "checkpoint" / "sac.zip").is_file()
    ship(["--run", str(run), "--name", "sac", "--root", str(tmp_path / "shipped")])
    (run / "checkpoint" / "sac_actor.json").unlink()
    (run / "checkpoint" / "sac_actor.safetensors").unlink()
    ship(["--run", str(run), "--name", "from-zip", "--root", str(tmp_path / "shipped")])
    observation = {"image": np.full((32, 32, 3), 90, np.uint8), "gripper": np.zeros(5, np.float32)}
    chosen = []
    for name in ("sac", "from-zip"):
        target = tmp_path / "shipped" / name
        assert sorted(p.name for p in (target / "checkpoint").iterdir()) == ["policy.json", "sac_actor.json",
                                                                            "sac_actor.safetensors"]
        text = (target / "README.md").read_text()
        assert "python -m runs.train_policy --algo sac-pose" in text and "pass `--timesteps 6` instead" in text
        policy, card = load_policy(target / "checkpoint")
        assert card.algo == "sac-pose" and type(policy).__name__ == "PosePolicy"
        policy.reset()
        policy.act(observation)
        chosen.append(policy.chosen)
    assert np.array_equal(*chosen)


def test_refuses_a_folder_without_a_policy_or_its_provenance(tmp_path) -> None:
    with pytest.raises(SystemExit, match="not a runs.train_policy run folder"):
        ship(["--run", str(tmp_path), "--name", "x", "--root", str(tmp_path / "shipped")])
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "policy.json").write_text("{}")
    with pytest.raises(SystemExit, match="config.json is missing"):
        ship(["--run", str(tmp_path), "--name", "x", "--root", str(tmp_path / "shipped")])
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "eval.json").write_text("[]")
    with pytest.raises(SystemExit, match="no policy weights"):
        ship(["--run", str(tmp_path), "--name", "x", "--root", str(tmp_path / "shipped")])
    assert not (tmp_path / "shipped" / "x").exists()
