"""``python -m runs.train_policy`` end to end on the pose-tiny preset (2 objects, 32 px, a few grasps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.loading import load_policy, wrap_for_policy
from agents.presets import PRESETS
from agents.qtopt.learner import PoseQTOpt
from agents.train import TrainPolicyConfig, resolve_preset
from embedding.checkpoint import save_checkpoint
from embedding.model import Grasp2Vec, Grasp2VecConfig
from envs.instance_env import KukaInstanceGraspEnv
from rewards.ground_truth import IndiscriminateReward
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


def test_sac_minutes_cap_stops_early_and_still_evaluates(tmp_path) -> None:
    out = tmp_path / "sac-short"
    main(["--algo", "sac-pose", "--reward", "indiscriminate", "--preset", "pose-tiny", "--out", str(out),
          "--timesteps", "200", "--minutes", "0.0001"])
    assert evals(out)[-1]["timesteps"] < 200 and (out / "checkpoint" / "sac.zip").is_file()


def test_random_baseline_is_evaluated_with_the_same_harness(tmp_path) -> None:
    out = tmp_path / "random"
    main(["--algo", "random", "--reward", "indiscriminate", "--preset", "pose-tiny", "--out", str(out),
          "--eval-episodes", "2"])
    (result,) = evals(out)
    assert result["episodes"] == 2 and 0 <= result["success_rate"] <= 1
    assert (out / "curves.png").is_file() and not (out / "checkpoint").exists()


def test_resume_without_checkpoint_and_missing_grasp2vec_are_clear_errors(tmp_path) -> None:
    with pytest.raises(SystemExit, match="no checkpoint folder"):
        main(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose-tiny",
              "--out", str(tmp_path / "x"), "--resume"])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--algo", "qtopt-pose", "--reward", "oracle", "--preset", "pose-tiny", "--out", str(tmp_path / "y"),
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
    assert card.algo == "qtopt-pose" and card.task == "indiscriminate" and type(policy).__name__ == "PoseQTOpt"


def test_pose_qtopt_instance_task_needs_the_heatmap(tmp_path) -> None:
    save_tiny_grasp2vec(tmp_path / "g2v")
    with pytest.raises(SystemExit, match="needs the heatmap"):
        main(["--algo", "qtopt-pose", "--reward", "oracle", "--preset", "pose-tiny", "--out", str(tmp_path / "b"),
              "--grasp2vec", str(tmp_path / "g2v"), "--goal-features", "embedding"])
    prior = tmp_path / "prior"
    PoseQTOpt(False, config=PRESETS["pose-tiny"].pose).save(prior)
    with pytest.raises(SystemExit, match="init_from starts an instance-task"):
        main(["--algo", "qtopt-pose", "--reward", "indiscriminate", "--preset", "pose-tiny",
              "--out", str(tmp_path / "c"), "--init-from", str(prior)])
    out = tmp_path / "goal"
    main(["--algo", "qtopt-pose", "--reward", "oracle", "--preset", "pose-tiny", "--out", str(out),
          "--grasp2vec", str(tmp_path / "g2v"), "--goal-features", "heatmap", "--grasps", "3",
          "--init-from", str(prior), "--auxiliary-sampling", "nearest"])
    policy, card = load_policy(out / "checkpoint")
    assert card.init_from == str(prior) and card.task == "instance"
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
    assert card.algo == "sac-pose" and type(policy).__name__ == "PosePolicy"
    env = wrap_for_policy(KukaInstanceGraspEnv(num_objects=2, image_size=32, max_steps=12), card)
    observation, _ = env.reset(seed=2)
    policy.reset()
    action = policy.act(observation)
    assert action.shape == (5,) and policy.chosen.shape == (3,)
    env.close()


def config(*, offline_data=None, **overrides) -> TrainPolicyConfig:
    return TrainPolicyConfig(algo="qtopt-pose", reward=overrides.pop("reward", "indiscriminate"), out=Path("x"),
                             offline_data=offline_data, **overrides)


def test_offline_updates_override_applies_only_with_offline_data() -> None:
    reward = IndiscriminateReward()
    with_data = resolve_preset(config(offline_data=(Path("d"),), offline_updates=7), reward)
    assert with_data.training.offline_updates == 7
    default = resolve_preset(config(offline_data=(Path("d"),)), reward)
    assert default.training.offline_updates == PRESETS["pose"].training.offline_updates
    assert resolve_preset(config(offline_updates=7), reward).training.offline_updates == 0
    with pytest.raises(ValueError, match="offline_updates"):
        config(offline_data=(Path("d"),), offline_updates=0)


def test_relabeling_and_replay_overrides() -> None:
    reward = IndiscriminateReward()
    preset = resolve_preset(config(reward="oracle", auxiliary_goals=2, auxiliary_sampling="nearest",
                                   goal_pool_size=500, replay_capacity=900), reward)
    assert (preset.relabel.auxiliary_goals, preset.relabel.auxiliary_sampling, preset.relabel.pool_size) == (
        2, "nearest", 500)
    assert preset.training.replay_capacity == 900 and preset.relabel.posthoc
    assert resolve_preset(config(reward="oracle"), reward).relabel == PRESETS["pose"].relabel


def test_the_task_is_chosen_apart_from_the_reward_and_presets_follow_the_reward() -> None:
    assert config().task == "indiscriminate" and config(reward="oracle").task == "instance"
    assert config(reward="indiscriminate", task="instance").task == "instance"
    with pytest.raises(ValueError, match="task must be one of"):
        config(task="anything")

    class SixtyFourPixels(IndiscriminateReward):
        image_size = 64

    assert resolve_preset(config(preset="pose-tiny"), SixtyFourPixels()).world.image_size == 64
    assert resolve_preset(config(preset="pose-tiny"), IndiscriminateReward()).world.image_size == 32


def test_sac_over_grasp_poses_pretrains_on_offline_data_then_goes_online(tmp_path) -> None:
    save_tiny_grasp2vec(tmp_path / "g2v")
    write_dataset(tmp_path / "data", [(0, 6)], size=48)
    common = ["--reward", "oracle", "--preset", "pose-tiny", "--grasp2vec", str(tmp_path / "g2v"),
              "--goal-features", "heatmap", "--offline-data", str(tmp_path / "data")]
    out = tmp_path / "sac-offline"
    main(["--algo", "sac-pose", "--out", str(out), "--timesteps", "4", *common])
    offline = PRESETS["pose-tiny"].training.offline_updates
    first, last = evals(out)[0], evals(out)[-1]
    assert (first["timesteps"], first["grasps"], first["updates"]) == (0, 0, offline)  # offline alone, evaluated
    assert last["timesteps"] == 4 and last["updates"] == offline + 4  # learning from the first online grasp
    progress = json.loads((out / "checkpoint" / "sac_progress.json").read_text())
    assert progress["offline_updates"] == offline
    policy, card = load_policy(out / "checkpoint")
    assert card.algo == "sac-pose" and type(policy).__name__ == "PosePolicy"


def test_only_a_reward_that_reads_ground_truth_gets_the_offline_attempts_names(tmp_path) -> None:
    from agents.train import offline_episodes
    from embedding.dataset import EpisodeDataset
    from rewards.ground_truth import IndiscriminateReward, OracleReward
    from tests.graspdata.helpers import write_dataset

    write_dataset(tmp_path, [(0, 6)])  # every third attempt fails; the others lifted object "a"
    dataset = EpisodeDataset(tmp_path)
    oracle = list(offline_episodes(dataset, 16, OracleReward()))
    assert [e.grasped for e in oracle] == [False, True, True, False, True, True]
    assert [e.lifted for e in oracle] == [("a",) if e.grasped else () for e in oracle]
    assert all(e.lifted == () for e in offline_episodes(dataset, 16, IndiscriminateReward()))


def test_a_ground_truth_reward_scores_offline_attempts_on_the_indiscriminate_task(tmp_path) -> None:
    """``single-object`` pays one-object lifts and not two-object ones; on the instance task the attempts keep
    their sensed bit (their goals are relabeled later), and a label-free reward never changes it."""
    import dataclasses

    from agents.train import offline_episodes
    from embedding.dataset import EpisodeDataset
    from rewards import IndiscriminateReward, SingleObjectReward, make_reward
    from tests.graspdata.helpers import make_record, write_records

    records = [make_record(i, success=i % 3 != 0) for i in range(6)]
    both = dataclasses.replace(records[4].truth, lifted=np.array([True, True]))
    records[4] = dataclasses.replace(records[4], truth=both)
    write_records(tmp_path, records)
    dataset = EpisodeDataset(tmp_path)

    assert isinstance(make_reward("single-object"), SingleObjectReward)
    single = list(offline_episodes(dataset, 16, SingleObjectReward(), instance=False))
    assert [e.rewards[-1] for e in single] == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]  # record 4 lifted two objects
    assert [e.grasped for e in single] == [False, True, True, False, True, True]  # the sensed bit is kept
    as_instance = list(offline_episodes(dataset, 16, SingleObjectReward(), instance=True))
    plain = list(offline_episodes(dataset, 16, IndiscriminateReward(), instance=False))
    for episodes in (as_instance, plain):
        assert [e.rewards[-1] for e in episodes] == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
