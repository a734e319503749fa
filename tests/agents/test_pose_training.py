"""Pose QT-Opt training pieces: decisions from episodes, relabeled rewards, the sample store."""

from __future__ import annotations

from dataclasses import replace as dataclasses_replace

import numpy as np
import pytest
import torch

from agents.core.episode import Episode
from agents.core.relabel import Decision, PoseRelabeler, RelabelConfig, decision_from_episode
from agents.qtopt.training import PoseSamples
from agents.qtopt.training import store as store_into
from common.protocols import GraspContext
from envs.config import WorldConfig
from envs.grasp_pose import PoseSpace

S = 16


class MatchesByColour:
    """Reward 1 when goal and outcome have the same red value (a stand-in for an embedding)."""

    def __call__(self, context: GraspContext) -> float:
        return float(context.goal_image[0, 0, 0] == context.outcome_image[0, 0, 0])

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        return np.array([self(c) for c in contexts], np.float32)


def image(value: int) -> np.ndarray:
    return np.full((S, S, 3), value, np.uint8)


def heat_from_goal(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**batch, "heatmap": batch["goal"][..., :1].copy()}


def decision(value: int, grasped: bool, goal: np.ndarray | None = None, reward: float = 0.0) -> Decision:
    return Decision(image=image(1), pose=np.array([0.1, 0.2, 0.3]), reward=reward, grasped=grasped,
                    outcome=image(value), goal=goal)


def test_decision_reads_the_pose_the_gripper_closed_at() -> None:
    space = PoseSpace(WorldConfig())
    gripper = np.array([[0.6, 0.0, 0.3, 0.0, 0], [0.55, 0.1, 0.1, 0.4, 0], [0.55, 0.1, 0.06, 0.4, 0]], np.float32)
    episode = Episode(observations={"image": np.zeros((3, S, S, 3), np.uint8), "gripper": gripper},
                      actions=np.zeros((2, 5), np.float32), rewards=np.array([0, 1], np.float32), terminated=True,
                      grasped=True, outcome=image(7))
    d = decision_from_episode(episode, space)
    np.testing.assert_allclose(space.to_pose(d.pose), [0.55, 0.1, 0.4], atol=1e-6)
    assert d.reward == 1.0 and d.grasped
    cut = Episode(observations=episode.observations, actions=episode.actions, rewards=episode.rewards,
                  terminated=False)
    assert decision_from_episode(cut, space) is None


def test_relabeling_posthoc_auxiliary_and_failures() -> None:
    relabel = PoseRelabeler(MatchesByColour(), RelabelConfig(posthoc=True, auxiliary_goals=2), heat_from_goal, seed=0)
    images, heat, poses, rewards = relabel(decision(50, grasped=True))
    assert rewards.tolist() == [1.0] and heat[0, 0, 0, 0] == 50  # posthoc only: the pool was empty
    _, heat, poses, rewards = relabel(decision(50, grasped=True, goal=image(9), reward=0.0))
    # own goal (0), posthoc (1), two auxiliary goals from the pool (both the colour-50 outcome: 1)
    assert rewards.tolist() == [0.0, 1.0, 1.0, 1.0] and heat[:, 0, 0, 0].tolist() == [9, 50, 50, 50]
    _, _, _, rewards = relabel(decision(60, grasped=False))
    assert rewards.tolist() == [0.0, 0.0]  # nothing lifted: every goal scores 0
    assert poses.shape == (4, 3) and images.shape[1:] == (S, S, 3)


def test_failure_without_goal_gets_one_pool_goal_at_zero_and_indiscriminate_is_stored_as_is() -> None:
    relabel = PoseRelabeler(MatchesByColour(), RelabelConfig(posthoc=True, auxiliary_goals=0), heat_from_goal)
    assert len(relabel(decision(60, grasped=False))[3]) == 0  # no goal known yet
    relabel(decision(50, grasped=True))
    _, heat, _, rewards = relabel(decision(60, grasped=False))
    assert rewards.tolist() == [0.0] and heat[0, 0, 0, 0] == 50
    plain = PoseRelabeler(MatchesByColour(), RelabelConfig(), observe=None)
    images, heat, _, rewards = plain(decision(50, grasped=True, reward=1.0))
    assert heat is None and rewards.tolist() == [1.0] and images.shape == (1, S, S, 3)


def test_sample_store_wraps_around_and_round_trips(tmp_path) -> None:
    store = PoseSamples(capacity=3, image_size=S, heatmaps=True)
    for value in range(5):
        store.add(image(value)[None], image(value)[None, ..., :1], np.full((1, 3), value / 10), np.array([value]))
    assert len(store) == 3 and sorted(store.rewards.tolist()) == [2, 3, 4]
    observations, poses, rewards = store.sample(8, np.random.default_rng(0))
    assert observations["image"].shape == (8, S, S, 3) and observations["heatmap"].shape == (8, S, S, 1)
    assert poses.shape == (8, 3) and rewards.shape == (8,)
    store.save(tmp_path / "s.npz")
    again = PoseSamples(capacity=3, image_size=S, heatmaps=True)
    again.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(again.images, store.images)
    assert again.cursor == store.cursor
    with pytest.raises(ValueError, match="heatmaps"):
        PoseSamples(capacity=3, image_size=S, heatmaps=False).load(tmp_path / "s.npz")
    with pytest.raises(ValueError, match="heatmaps must be given"):
        store.add(image(1)[None], None, np.zeros((1, 3)), np.zeros(1))


def test_sample_store_keeps_height_maps_for_the_patch_view(tmp_path) -> None:
    shape = (6, 5, 4)
    store = PoseSamples(capacity=4, image_size=S, heatmaps=False, heightmap_shape=shape)
    relabel = PoseRelabeler(MatchesByColour(), RelabelConfig(), observe=None)
    scan = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    store_decisions = [dataclasses_replace(decision(50, grasped=True, reward=1.0), heightmap=scan)]
    assert store_into(store, relabel, store_decisions) == 1
    observations, _, rewards = store.sample(3, np.random.default_rng(0))
    np.testing.assert_array_equal(observations["heightmap"][0], scan)
    store.save(tmp_path / "h.npz")
    again = PoseSamples(capacity=4, image_size=S, heatmaps=False, heightmap_shape=shape)
    again.load(tmp_path / "h.npz")
    np.testing.assert_array_equal(again.heightmaps[:1], store.heightmaps[:1])
    with pytest.raises(ValueError, match="heightmaps"):
        PoseSamples(capacity=4, image_size=S, heatmaps=False).load(tmp_path / "h.npz")
    with pytest.raises(ValueError, match="--heightmap"):
        store_into(store, relabel, [decision(50, grasped=True, reward=1.0)])  # data without height maps
    with pytest.raises(ValueError, match="the learner reads"):
        store_into(store, relabel, [dataclasses_replace(decision(50, grasped=True), heightmap=scan[:3])])


@pytest.mark.parametrize("augment", [False, True])
def test_offline_phase_stops_on_time_and_resumes_to_the_same_weights(tmp_path, monkeypatch, augment) -> None:
    """Offline updates are checkpointed in chunks: stopped by --minutes and resumed, a run ends with the
    weights of a run that never stopped (with symmetry augmentation too: its draws are part of the state)."""
    from safetensors.torch import load_file

    import agents.qtopt.training as training
    from agents.presets import PRESETS
    from agents.qtopt.learner import WEIGHTS
    from agents.train import TrainPolicyConfig, train_policy

    monkeypatch.setattr(training, "OFFLINE_CHECKPOINT_EVERY", 4)
    tiny = PRESETS["pose-patch-tiny"]
    monkeypatch.setitem(PRESETS, "pose-patch-tiny", dataclasses_replace(
        tiny, pose=dataclasses_replace(tiny.pose, augment_symmetries=augment)))
    data = tmp_path / "data"
    from graspdata.collect import collect
    from graspdata.config import CollectConfig

    collect(CollectConfig(grasps=6, shard_size=6, workers=1, image_size=32, num_objects=2, max_steps=12,
                          heightmap=True), data, show_progress=False)

    def run(out: str, **kwargs) -> TrainPolicyConfig:
        return TrainPolicyConfig(algo="qtopt-pose", reward="indiscriminate", preset="pose-patch-tiny",
                                 offline_data=(data,), offline_updates=12, grasps=1, out=tmp_path / out, **kwargs)

    train_policy(run("whole"))
    assert train_policy(run("parts", minutes=1e-9)) == []  # out of time after the first chunk
    learner, extra = training.PoseQTOpt.load(tmp_path / "parts" / "checkpoint")
    assert extra["progress"]["offline_updates"] == 4 and learner.config.augment_symmetries == augment
    train_policy(run("parts", resume=True, minutes=1e-9))  # one more chunk
    train_policy(run("parts", resume=True))
    whole = load_file(str(tmp_path / "whole" / "checkpoint" / WEIGHTS))
    parts = load_file(str(tmp_path / "parts" / "checkpoint" / WEIGHTS))
    for key, value in whole.items():
        torch.testing.assert_close(parts[key], value)


def test_offline_only_training_keeps_the_offline_weights_and_evaluates_them(tmp_path, monkeypatch):
    """``grasps=0``: the offline updates, one evaluation and a checkpoint, nothing online; the weights are the
    ones a longer run holds after the same offline updates (its checkpoint at that point)."""
    from safetensors.torch import load_file

    import agents.qtopt.training as training
    from agents.qtopt.learner import WEIGHTS
    from agents.train import TrainPolicyConfig, train_policy
    from graspdata.collect import collect
    from graspdata.config import CollectConfig

    monkeypatch.setattr(training, "OFFLINE_CHECKPOINT_EVERY", 4)
    data = tmp_path / "data"
    collect(CollectConfig(grasps=6, shard_size=6, workers=1, image_size=32, num_objects=2, max_steps=12,
                          heightmap=True), data, show_progress=False)

    def run(out: str, **kwargs) -> TrainPolicyConfig:
        return TrainPolicyConfig(algo="qtopt-pose", reward="indiscriminate", preset="pose-patch-tiny",
                                 offline_data=(data,), out=tmp_path / out, **kwargs)

    evaluations = train_policy(run("offline", offline_updates=4, grasps=0))
    learner, extra = training.PoseQTOpt.load(tmp_path / "offline" / "checkpoint")
    assert len(evaluations) == 1 and extra["progress"]["grasps"] == 0
    assert extra["progress"]["offline_updates"] == 4 and extra["progress"]["updates"] == 0
    train_policy(run("longer", offline_updates=8, grasps=1, minutes=1e-9))  # stops after its first 4 updates
    offline = load_file(str(tmp_path / "offline" / "checkpoint" / WEIGHTS))
    longer = load_file(str(tmp_path / "longer" / "checkpoint" / WEIGHTS))
    for key, value in offline.items():
        torch.testing.assert_close(longer[key], value, rtol=0, atol=0)
    with pytest.raises(ValueError, match="grasps must be >= 0"):
        train_policy(run("bad", grasps=-1))
