"""``python -m runs.train_policy`` end to end on the tiny preset (2 objects, 32 px, a few grasps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.loading import load_policy, wrap_for_policy
from agents.pose_qtopt import PoseQTOpt
from agents.qtopt import QTOpt
from embedding.checkpoint import save_checkpoint
from embedding.model import Grasp2Vec, Grasp2VecConfig
from envs.instance_env import KukaInstanceGraspEnv
from runs.policy_presets import PRESETS
from runs.train_policy import main
from tests.graspdata.helpers import write_dataset


@pytest.fixture(autouse=True)
def offline_wandb(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def save_tiny_grasp2vec(folder: Path) -> None:
    """A random-weight 32 px Grasp2Vec checkpoint (8-d), enough to compute goal features."""
    torch.manual_seed(0)
    model = Grasp2Vec(Grasp2VecConfig(image_size=32, embedding_dim=8, stem_channels=4, stage_channels=(8,),
                                      stage_strides=(1,)))
    save_checkpoint(model, folder, {})


def evals(out: Path) -> list[dict]:
    return json.loads((out / "eval.json").read_text())


def test_qtopt_run_then_resume_continues_counters(tmp_path) -> None:
    out = tmp_path / "q"
    main(["--algo", "qtopt", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(out), "--grasps", "6"])
    first = evals(out)
    assert [e["grasps"] for e in first] == [0, 6]
    assert (out / "curves.png").stat().st_size > 0 and (out / "checkpoint" / "qtopt.safetensors").is_file()
    updates = QTOpt.load(out / "checkpoint")[0].updates
    main(["--algo", "qtopt", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(out), "--grasps", "9",
          "--resume"])
    second = evals(out)
    assert [e["grasps"] for e in second] == [0, 6, 9]
    assert second[:2] == first
    assert QTOpt.load(out / "checkpoint")[0].updates > updates


def test_qtopt_goal_task_sees_heatmap_and_goal_embedding(tmp_path) -> None:
    save_tiny_grasp2vec(tmp_path / "g2v")
    out = tmp_path / "goal"
    main(["--algo", "qtopt", "--reward", "oracle", "--preset", "tiny", "--out", str(out), "--grasps", "3",
          "--grasp2vec", str(tmp_path / "g2v"), "--goal-features", "both", "--heatmap-shifts", "2"])
    space = json.loads((out / "checkpoint" / "qtopt.json").read_text())["observation_space"]
    assert space["heatmap"]["shape"] == [32, 32, 1] and space["goal_embedding"]["shape"] == [8]
    assert space["goal"]["shape"] == [32, 32, 3]
    policy, card = load_policy(out / "checkpoint")
    assert card["goal_features"] == "both" and card["env_id"] == "KukaInstanceGrasp-v0"
    assert card["goal_features_config"]["readout"] == {"shifts": 2, "centred": True}
    env = wrap_for_policy(KukaInstanceGraspEnv(num_objects=1, image_size=32, max_steps=3), card)
    assert env.features.config.readout.shifts == 2
    observation, _ = env.reset(seed=1)
    assert policy.act(observation).shape == (5,)
    env.close()


def test_qtopt_pretrains_offline_on_an_episode_dataset_with_posthoc_goals(tmp_path) -> None:
    write_dataset(tmp_path / "data", [(0, 6)], size=48)
    out = tmp_path / "offline"
    with pytest.raises(ValueError, match="relabeling, which is off"):
        main(["--algo", "qtopt", "--reward", "oracle", "--preset", "tiny", "--out", str(out), "--grasps", "1",
              "--offline-data", str(tmp_path / "data"), "--goal-features", "none", "--no-posthoc",
              "--auxiliary-goals", "0"])
    assert json.loads((out / "config.json").read_text())["settings"]["relabel"]["posthoc"] is False
    main(["--algo", "qtopt", "--reward", "oracle", "--preset", "tiny", "--out", str(tmp_path / "posthoc"),
          "--grasps", "1", "--offline-data", str(tmp_path / "data"), "--goal-features", "none",
          "--auxiliary-goals", "0"])
    progress = json.loads((tmp_path / "posthoc" / "checkpoint" / "qtopt.json").read_text())["extra"]["progress"]
    assert progress["offline_updates"] == PRESETS["tiny"].training.offline_updates
    replay = np.load(tmp_path / "posthoc" / "checkpoint" / "replay.npz")
    assert replay["goal"].shape[1:] == (32, 32, 3)
    # 4 of the 6 synthetic episodes succeed (3 steps each): their posthoc copies come first, reward 1 at the end.
    assert replay["reward"][:12].tolist() == [0, 0, 1] * 4


def test_sac_runs_a_few_hundred_steps_and_resumes(tmp_path) -> None:
    out = tmp_path / "sac"
    main(["--algo", "sac", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(out)])
    first = evals(out)
    assert first[-1]["timesteps"] == 200 and first[-1]["grasps"] > 0
    main(["--algo", "sac", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(out), "--resume",
          "--timesteps", "250"])
    second = evals(out)
    assert second[-1]["timesteps"] == 250 and second[-1]["grasps"] > first[-1]["grasps"]


def test_sac_minutes_cap_stops_early_and_still_evaluates(tmp_path) -> None:
    out = tmp_path / "sac-short"
    main(["--algo", "sac", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(out), "--minutes", "0.0001"])
    assert evals(out)[-1]["timesteps"] < 200 and (out / "checkpoint" / "sac.zip").is_file()


def test_random_baseline_is_evaluated_with_the_same_harness(tmp_path) -> None:
    out = tmp_path / "random"
    main(["--algo", "random", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(out),
          "--eval-episodes", "2"])
    (result,) = evals(out)
    assert result["episodes"] == 2 and 0 <= result["success_rate"] <= 1
    assert (out / "curves.png").is_file() and not (out / "checkpoint").exists()


def test_resume_without_checkpoint_and_missing_grasp2vec_are_clear_errors(tmp_path) -> None:
    with pytest.raises(SystemExit, match="no checkpoint folder"):
        main(["--algo", "qtopt", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(tmp_path / "x"),
              "--resume"])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--algo", "qtopt", "--reward", "oracle", "--preset", "tiny", "--out", str(tmp_path / "y"),
              "--grasp2vec", str(tmp_path / "missing")])


def test_pose_qtopt_pretrains_offline_runs_online_and_resumes(tmp_path) -> None:
    write_dataset(tmp_path / "data", [(0, 6)], size=48)
    out = tmp_path / "pose"
    main(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose-tiny", "--out", str(out),
          "--offline-data", str(tmp_path / "data"), "--grasps", "3"])
    first = evals(out)
    assert [e["grasps"] for e in first] == [0, 3]
    progress = json.loads((out / "checkpoint" / "pose_qtopt.json").read_text())["extra"]["progress"]
    assert progress["offline_updates"] == PRESETS["pose-tiny"].training.offline_updates
    samples = np.load(out / "checkpoint" / "pose_samples.npz")
    assert samples["images"].shape[1:] == (32, 32, 3) and len(samples["rewards"]) >= 6
    # the synthetic dataset: every third record fails, the others lift something
    assert samples["rewards"][:6].tolist() == [0, 1, 1, 0, 1, 1]
    main(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose-tiny", "--out", str(out),
          "--offline-data", str(tmp_path / "data"), "--grasps", "5", "--resume"])
    second = evals(out)
    assert [e["grasps"] for e in second] == [0, 3, 5] and second[:2] == first
    policy, card = load_policy(out / "checkpoint")
    assert card["algo"] == "qtopt-pose" and type(policy).__name__ == "PoseQTOpt"


def test_pose_qtopt_goal_task_needs_the_heatmap_and_a_pose_preset(tmp_path) -> None:
    save_tiny_grasp2vec(tmp_path / "g2v")
    with pytest.raises(SystemExit, match="pose preset|without auto_descend"):
        main(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "tiny", "--out", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="needs the heatmap"):
        main(["--algo", "qtopt-pose", "--reward", "oracle", "--preset", "pose-tiny", "--out", str(tmp_path / "b"),
              "--grasp2vec", str(tmp_path / "g2v"), "--goal-features", "embedding"])
    prior = tmp_path / "prior"
    PoseQTOpt(False, config=PRESETS["pose-tiny"].pose).save(prior)
    with pytest.raises(SystemExit, match="--init-from starts a goal-task"):
        main(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose-tiny",
              "--out", str(tmp_path / "c"), "--init-from", str(prior)])
    out = tmp_path / "goal"
    main(["--algo", "qtopt-pose", "--reward", "oracle", "--preset", "pose-tiny", "--out", str(out),
          "--grasp2vec", str(tmp_path / "g2v"), "--goal-features", "heatmap", "--grasps", "3",
          "--init-from", str(prior), "--auxiliary-sampling", "nearest"])
    policy, card = load_policy(out / "checkpoint")
    assert card["init_from"] == str(prior)
    assert json.loads((out / "config.json").read_text())["settings"]["relabel"]["auxiliary_sampling"] == "nearest"
    env = wrap_for_policy(KukaInstanceGraspEnv(num_objects=2, image_size=32, max_steps=12), card)
    observation, _ = env.reset(seed=1)
    policy.reset()
    assert "heatmap" in observation and policy.act(observation).shape == (5,)
    env.close()


def test_sac_over_grasp_poses_trains_with_relabeling_and_loads_as_a_motor_policy(tmp_path) -> None:
    save_tiny_grasp2vec(tmp_path / "g2v")
    out = tmp_path / "sac-pose"
    main(["--algo", "sac-pose", "--reward", "oracle", "--preset", "pose-tiny", "--out", str(out),
          "--grasp2vec", str(tmp_path / "g2v"), "--goal-features", "heatmap"])
    result = evals(out)[-1]
    assert result["timesteps"] == 12 and result["grasps"] == 12  # one env step is one grasp
    policy, card = load_policy(out / "checkpoint")
    assert card["algo"] == "sac-pose" and type(policy).__name__ == "PosePolicy"
    env = wrap_for_policy(KukaInstanceGraspEnv(num_objects=2, image_size=32, max_steps=12), card)
    observation, _ = env.reset(seed=2)
    policy.reset()
    action = policy.act(observation)
    assert action.shape == (5,) and policy.chosen.shape == (3,)
    env.close()


def test_offline_updates_override_applies_only_with_offline_data() -> None:
    from runs.train_policy import apply_overrides, parse_args

    base = ["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose", "--out", "x"]
    with_data = apply_overrides(PRESETS["pose"], parse_args([*base, "--offline-data", "d", "--offline-updates", "7"]))
    assert with_data.training.offline_updates == 7
    default = apply_overrides(PRESETS["pose"], parse_args([*base, "--offline-data", "d"]))
    assert default.training.offline_updates == PRESETS["pose"].training.offline_updates
    assert apply_overrides(PRESETS["pose"], parse_args([*base, "--offline-updates", "7"])).training.offline_updates == 0
    with pytest.raises(ValueError, match="--offline-updates"):
        apply_overrides(PRESETS["pose"], parse_args([*base, "--offline-data", "d", "--offline-updates", "0"]))


def test_relabeling_and_replay_overrides() -> None:
    from runs.train_policy import apply_overrides, parse_args

    base = ["--algo", "qtopt-pose", "--reward", "oracle", "--preset", "pose", "--out", "x"]
    preset = apply_overrides(PRESETS["pose"], parse_args([*base, "--auxiliary-goals", "2", "--auxiliary-sampling",
                                                          "nearest", "--goal-pool-size", "500",
                                                          "--replay-capacity", "900"]))
    assert (preset.relabel.auxiliary_goals, preset.relabel.auxiliary_sampling, preset.relabel.pool_size) == (
        2, "nearest", 500)
    assert preset.training.replay_capacity == 900 and preset.relabel.posthoc
    assert apply_overrides(PRESETS["pose"], parse_args(base)).relabel == PRESETS["pose"].relabel


def test_sac_over_grasp_poses_pretrains_on_offline_data_then_goes_online(tmp_path) -> None:
    save_tiny_grasp2vec(tmp_path / "g2v")
    write_dataset(tmp_path / "data", [(0, 6)], size=48)
    common = ["--reward", "oracle", "--preset", "pose-tiny", "--grasp2vec", str(tmp_path / "g2v"),
              "--goal-features", "heatmap", "--offline-data", str(tmp_path / "data")]
    with pytest.raises(SystemExit, match="needs --algo sac-pose"):
        main(["--algo", "sac", "--out", str(tmp_path / "motor"), *common])
    out = tmp_path / "sac-offline"
    main(["--algo", "sac-pose", "--out", str(out), "--timesteps", "4", *common])
    offline = PRESETS["pose-tiny"].training.offline_updates
    first, last = evals(out)[0], evals(out)[-1]
    assert (first["timesteps"], first["grasps"], first["updates"]) == (0, 0, offline)  # offline alone, evaluated
    assert last["timesteps"] == 4 and last["updates"] == offline + 4  # learning from the first online grasp
    progress = json.loads((out / "checkpoint" / "sac_progress.json").read_text())
    assert progress["offline_updates"] == offline
    policy, card = load_policy(out / "checkpoint")
    assert card["algo"] == "sac-pose" and type(policy).__name__ == "PosePolicy"


def test_only_a_reward_that_reads_ground_truth_gets_the_offline_attempts_names(tmp_path) -> None:
    from embedding.dataset import EpisodeDataset
    from rewards.ground_truth import IndiscriminateReward, OracleReward
    from runs.train_policy import offline_episodes
    from tests.graspdata.helpers import write_dataset

    write_dataset(tmp_path, [(0, 6)])  # every third attempt fails; the others lifted object "a"
    dataset = EpisodeDataset(tmp_path)
    oracle = list(offline_episodes(dataset, 16, OracleReward()))
    assert [e.grasped for e in oracle] == [False, True, True, False, True, True]
    assert [e.lifted for e in oracle] == [("a",) if e.grasped else () for e in oracle]
    assert all(e.lifted == () for e in offline_episodes(dataset, 16, IndiscriminateReward()))
