"""Relabeling: posthoc labels and auxiliary goals give the rewards the paper defines."""

from __future__ import annotations

import numpy as np
import pytest

from agents.core.episode import Episode, EpisodeRecorder, episodes_from_dataset
from agents.core.relabel import GoalPool, RelabelConfig, relabel_episode
from common.protocols import GraspContext
from rewards.ground_truth import OracleReward

SIZE = 8


def image(value: int) -> np.ndarray:
    return np.full((SIZE, SIZE, 3), value, np.uint8)


def episode(goal_value: int, outcome_value: int, lifted: tuple[str, ...], steps: int = 3,
            sensed: bool | None = None) -> Episode:
    """An episode; ``grasped`` is the gripper's sensed bit (default: it agrees with ``lifted``)."""
    obs = {"image": np.zeros((steps + 1, SIZE, SIZE, 3), np.uint8), "gripper": np.zeros((steps + 1, 5), np.float32),
           "goal": np.broadcast_to(image(goal_value), (steps + 1, SIZE, SIZE, 3)).copy()}
    rewards = np.zeros(steps, np.float32)
    return Episode(obs, np.zeros((steps, 5), np.float32), rewards, terminated=True,
                   grasped=bool(lifted) if sensed is None else sensed, outcome=image(outcome_value),
                   goal=image(goal_value), goal_name="cup", lifted=lifted)


class SameImageReward:
    """1 when the goal and outcome images are identical (a stand-in for a learned reward)."""

    def __call__(self, context: GraspContext) -> float:
        return float(np.array_equal(context.goal_image, context.outcome_image))

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        return np.array([self(c) for c in contexts], np.float32)


def test_posthoc_label_makes_the_outcome_a_reached_goal() -> None:
    pool = GoalPool(10)
    result = relabel_episode(episode(10, 77, ("ball",)), SameImageReward(), pool, RelabelConfig(posthoc=True),
                             np.random.default_rng(0))
    original, posthoc = result
    assert original.rewards.tolist() == [0, 0, 0]
    assert posthoc.rewards.tolist() == [0, 0, 1]
    assert np.all(posthoc.observations["goal"] == 77) and posthoc.goal_name == "ball"
    assert np.all(original.observations["goal"] == 10)
    assert len(pool) == 1


def test_failed_grasp_gets_no_posthoc_copy_and_zero_auxiliary_reward() -> None:
    pool = GoalPool(10)
    pool.add(image(5), "ball")
    result = relabel_episode(episode(10, 5, ()), SameImageReward(), pool,
                             RelabelConfig(posthoc=True, auxiliary_goals=2), np.random.default_rng(0))
    assert len(result) == 3
    assert [e.rewards[-1] for e in result] == [0, 0, 0]
    assert len(pool) == 1


def test_auxiliary_goals_are_scored_by_the_reward_function() -> None:
    pool = GoalPool(10)
    pool.add(image(77), None)
    pool.add(image(99), None)
    rng = np.random.default_rng(1)
    result = relabel_episode(episode(10, 77, ("ball",)), SameImageReward(), pool,
                             RelabelConfig(posthoc=False, auxiliary_goals=8), rng)
    auxiliary = result[1:]
    assert len(auxiliary) == 8
    for e in auxiliary:
        assert e.rewards[-1] == float(e.goal[0, 0, 0] == 77)
    assert {int(e.goal[0, 0, 0]) for e in auxiliary} == {77, 99}


def test_oracle_reward_reads_the_pool_name_of_an_auxiliary_goal() -> None:
    pool = GoalPool(10)
    pool.add(image(1), "ball")
    result = relabel_episode(episode(10, 77, ("ball",)), OracleReward(), pool,
                             RelabelConfig(posthoc=False, auxiliary_goals=1), np.random.default_rng(0))
    assert result[1].rewards[-1] == 1.0


def test_observe_recomputes_goal_dependent_keys() -> None:
    def observe(obs):
        return {**obs, "heatmap": obs["goal"][..., :1] // 2}

    result = relabel_episode(episode(10, 80, ("ball",)), SameImageReward(), GoalPool(1), RelabelConfig(),
                             np.random.default_rng(0), observe)
    assert np.all(result[1].observations["heatmap"] == 40)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="auxiliary_goals"):
        RelabelConfig(auxiliary_goals=-1)


def test_auxiliary_goals_are_scored_with_the_measured_aperture() -> None:
    from dataclasses import replace

    seen: list[float | None] = []

    class ApertureReward(SameImageReward):
        def batch(self, contexts: list[GraspContext]) -> np.ndarray:
            seen.extend(c.gripper_aperture for c in contexts)
            return super().batch(contexts)

    pool = GoalPool(10)
    pool.add(image(5), "ball")
    relabel_episode(replace(episode(10, 5, ("ball",)), aperture=0.07), ApertureReward(), pool,
                    RelabelConfig(posthoc=False, auxiliary_goals=1), np.random.default_rng(0))
    assert seen == [0.07]


def brightness(images: np.ndarray) -> np.ndarray:
    """A stand-in embedding: each image's mean value and a constant (so every image has a direction)."""
    mean = np.asarray(images, np.float32).mean(axis=(1, 2, 3)) / 255.0
    return np.stack([mean, 1.0 - mean], axis=1)


def test_nearest_auxiliary_goals_are_the_most_similar_outcomes_after_the_ring_wraps() -> None:
    pool = GoalPool(4, embed=brightness)
    for value, name in [(0, "a"), (250, "b"), (200, "c"), (10, "d"), (120, "e"), (240, "f")]:
        pool.add(image(value), name)  # capacity 4: "a" and "b" are gone
    assert [name for _, name in pool.nearest(image(245), 2)] == ["f", "c"]
    assert [name for _, name in pool.nearest(image(0), 3)] == ["d", "e", "c"]
    assert pool.nearest(image(0), 0) == []


def test_nearest_relabeling_scores_the_similar_goals_and_draws_uniformly_after_a_failure() -> None:
    config = RelabelConfig(posthoc=False, auxiliary_goals=1, auxiliary_sampling="nearest")
    pool = GoalPool(10, embed=brightness)
    for value in (0, 77, 200):
        pool.add(image(value), None)
    result = relabel_episode(episode(10, 80, ("ball",)), SameImageReward(), pool, config, np.random.default_rng(0))
    assert int(result[1].goal[0, 0, 0]) == 77 and result[1].rewards[-1] == 0.0
    failed = relabel_episode(episode(10, 80, ()), SameImageReward(), pool, config, np.random.default_rng(0))
    assert len(failed) == 2 and failed[1].rewards[-1] == 0.0


def test_nearest_sampling_needs_an_embedding() -> None:
    from agents.core.relabel import Relabeler

    with pytest.raises(ValueError, match="needs an embedding"):
        Relabeler(SameImageReward(), RelabelConfig(auxiliary_goals=1, auxiliary_sampling="nearest"))
    with pytest.raises(ValueError, match="auxiliary_sampling"):
        RelabelConfig(auxiliary_sampling="closest")


def test_an_outcome_queried_then_added_is_embedded_once() -> None:
    calls = []

    def counting(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        return brightness(images)

    pool = GoalPool(10, embed=counting)
    pool.add(image(0), "a")
    outcome = image(80)
    pool.nearest(outcome, 1)
    pool.add(outcome, "b")
    assert calls == [1, 1]
    outcome[:] = 200  # changed in place: embedded afresh, not read from the cache
    assert [name for _, name in pool.nearest(outcome, 1)] == ["b"] and calls == [1, 1, 1]


def test_relabeling_reads_the_sensed_bit_not_the_ground_truth_lifted() -> None:
    """Thrown up but not held (lifted, gripper empty): no posthoc copy, zero reward; held but below
    the lift line (sensed, not lifted): a posthoc copy, as the robot's own sensing says."""
    config = RelabelConfig(posthoc=True, auxiliary_goals=1)
    pool = GoalPool(10)
    pool.add(image(77), "ball")
    thrown = relabel_episode(episode(10, 77, ("ball",), sensed=False), SameImageReward(), pool, config,
                             np.random.default_rng(0))
    assert [e.rewards[-1] for e in thrown] == [0, 0] and len(pool) == 1
    held = relabel_episode(episode(10, 77, (), sensed=True), SameImageReward(), pool, config, np.random.default_rng(0))
    assert [e.rewards[-1] for e in held] == [0, 1, 1] and len(pool) == 2


def _info(sensed: bool, lifted: list[str]) -> dict:
    return {"grasp_sensed": sensed, "fault": None, "outcome_image": image(3),
            "ground_truth": {"lifted": lifted}, "gripper_aperture": 0.05}


def test_recorder_sets_grasped_from_the_sensed_bit() -> None:
    """Online: ``Episode.grasped`` is ``info["grasp_sensed"]`` (was: ground-truth ``lifted`` non-empty)."""
    recorder = EpisodeRecorder()
    observation = {"image": image(0), "gripper": np.zeros(5, np.float32)}
    for sensed, lifted in [(False, ["ball"]), (True, [])]:
        recorder.start(observation)
        recorder.step(np.zeros(5, np.float32), observation, 0.0)
        finished = recorder.finish(True, _info(sensed, lifted))
        assert finished.grasped is sensed and finished.lifted == tuple(lifted)
    recorder.start(observation)
    recorder.step(np.zeros(5, np.float32), observation, 0.0)
    assert not recorder.finish(True, {**_info(True, ["ball"]), "fault": "object ball exploded"}).grasped


def test_offline_episodes_take_grasped_and_their_reward_from_the_sensed_bit() -> None:
    def item(sensed: bool, success: bool) -> dict:
        return {"images": np.zeros((3, SIZE, SIZE, 3), np.uint8), "gripper": np.zeros((3, 5), np.float32),
                "actions": np.zeros((2, 5), np.float32), "grasp_sensed": sensed, "success": success,
                "outcome": image(4), "aperture": 0.05}

    episodes = list(episodes_from_dataset([item(False, True), item(True, False)], lifted=lambda i: ("ball",)))
    assert [e.grasped for e in episodes] == [False, True]
    assert [float(e.rewards[-1]) for e in episodes] == [0.0, 1.0]
    assert [e.lifted for e in episodes] == [("ball",), ()]  # ground-truth names only where they were lifted
    with pytest.raises(KeyError, match="grasp_sensed"):
        list(episodes_from_dataset([{k: v for k, v in item(True, True).items() if k != "grasp_sensed"}]))
