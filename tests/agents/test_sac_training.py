"""SAC's offline phase: collected attempts → relabeled one-step transitions in SB3's buffer → gradient steps."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.core.episode import Episode
from agents.core.relabel import PoseRelabeler, RelabelConfig
from agents.sac.training import SACConfig, fill_replay, make_sac, offline_pretrain, offline_transitions
from common.protocols import GraspContext
from envs.config import WorldConfig
from envs.grasp_pose import PoseSpace

S = 16
SETTINGS = SACConfig(buffer_size=100, batch_size=4, learning_starts=0, features=16, channels=(4,))
CLOSED_AT = (0.55, 0.1, 0.4)  # x, y (m), yaw (rad) of the gripper just before it closed


class HalfReward:
    """0.5 for every auxiliary goal (a stand-in for the Grasp2Vec cosine)."""

    def __call__(self, context: GraspContext) -> float:
        return 0.5

    def batch(self, contexts: list[GraspContext]) -> np.ndarray:
        return np.full(len(contexts), 0.5, np.float32)


class FakePoseEnv(gym.Env):
    """The spaces of envs.grasp_pose.PoseActionWrapper over the instance env with the heatmap."""

    def __init__(self) -> None:
        image = spaces.Box(0, 255, (S, S, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict({"image": image, "gripper": spaces.Box(-10, 10, (5,), np.float32),
                                              "goal": image, "heatmap": spaces.Box(0, 255, (S, S, 1), np.uint8)})
        self.action_space = spaces.Box(-1, 1, (3,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, True, False, {}


def heat_from_goal(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**batch, "heatmap": batch["goal"][..., :1].copy()}


def attempt(index: int) -> Episode:
    """A two-step collected attempt: scene value ``10 * index``, outcome ``100 + index``; every third fails."""
    gripper = np.array([[0.6, 0.0, 0.3, 0.0, 0.0], [*CLOSED_AT[:2], 0.1, CLOSED_AT[2], 0.0],
                        [*CLOSED_AT[:2], 0.06, CLOSED_AT[2], 0.0]], np.float32) + np.float32(index) * 1e-3
    images = np.full((3, S, S, 3), 10 * index, np.uint8)
    grasped = index % 3 != 0
    return Episode(observations={"image": images, "gripper": gripper}, actions=np.zeros((2, 5), np.float32),
                   rewards=np.array([0, float(grasped)], np.float32), terminated=True, grasped=grasped,
                   outcome=np.full((S, S, 3), 100 + index, np.uint8))


def test_offline_attempts_fill_the_buffer_with_relabeled_one_step_transitions_and_train() -> None:
    space = PoseSpace(WorldConfig())
    model = make_sac(FakePoseEnv(), SETTINGS, seed=0)
    relabel = PoseRelabeler(HalfReward(), RelabelConfig(posthoc=True, auxiliary_goals=1), heat_from_goal, seed=0)
    assert fill_replay(model, offline_transitions([attempt(i) for i in range(6)], space, relabel)) == 8
    buffer, n = model.replay_buffer, 8
    assert buffer.size() == n
    # 0 fails with an empty pool (nothing stored); 1: posthoc; 2, 4, 5: posthoc + auxiliary (0.5);
    # 3 fails: one auxiliary goal at 0
    assert buffer.rewards[:n, 0].tolist() == [1, 1, 0.5, 0, 1, 0.5, 1, 0.5]
    assert buffer.dones[:n, 0].tolist() == [1] * n
    assert buffer.observations["image"][:n, 0, :, 0, 0].tolist() == [[v] * 3 for v in (10, 20, 20, 30, 40, 40, 50, 50)]
    goals = buffer.observations["goal"][:n, 0, 0, 0, 0]
    assert goals[[0, 1, 4, 6]].tolist() == [101, 102, 104, 105]  # posthoc copies: their own outcome
    assert goals[3] in (101, 102)  # the failure's goal comes from the pool of earlier outcomes
    assert np.array_equal(buffer.observations["heatmap"][:n, 0, 0, 0, 0], goals)
    np.testing.assert_allclose(buffer.observations["gripper"][0, 0], attempt(1).observations["gripper"][0])
    expected = space.from_pose(np.array(CLOSED_AT) + 1e-3)
    np.testing.assert_allclose(buffer.actions[0, 0], expected, atol=1e-5)  # attempt 1 (attempt 0 stored nothing)
    logged: list[dict[str, float]] = []
    state = {"offline_updates": 0}
    offline_pretrain(model, 150, state, lambda metrics, step: logged.append(metrics))
    assert state["offline_updates"] == model._n_updates == 150
    assert len(logged) == 2 and np.isfinite(logged[-1]["offline/critic_loss"])
