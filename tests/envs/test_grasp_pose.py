"""Grasp poses: normalisation, where a pose lies in the scene image, and the follower that drives there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.config import WorldConfig
from envs.grasp_env import KukaGraspEnv
from envs.grasp_pose import (
    ApproachConfig,
    Avoid,
    PoseFollower,
    PoseSpace,
    avoiding,
    wrap_half_turn,
)


def test_pose_normalisation_round_trips_and_wraps_yaw() -> None:
    space = PoseSpace(WorldConfig())
    u = np.array([[-1.0, -1.0, -1.0], [0.25, -0.5, 0.5], [1.0, 1.0, 0.999]])
    np.testing.assert_allclose(space.from_pose(space.to_pose(u)), u, atol=1e-9)
    np.testing.assert_allclose(space.to_pose(np.zeros(3))[:2], [np.mean(WorldConfig().layout.drop_x),
                                                                np.mean(WorldConfig().layout.drop_y)])
    # a half turn is the same two-finger grasp
    np.testing.assert_allclose(space.from_pose(np.array([0.6, 0.0, 0.3 + np.pi]))[2],
                               space.from_pose(np.array([0.6, 0.0, 0.3]))[2], atol=1e-9)


def test_object_positions_project_onto_their_pixels_in_the_scene_image() -> None:
    env = KukaGraspEnv(num_objects=3, image_size=64, max_steps=4)
    space = PoseSpace(env.config)
    hits = total = 0
    for seed in range(3):
        env.reset(seed=seed)
        world = env.world
        _, mask = world.scene_camera.render(with_mask=True)
        for body in world.objects:
            x, y, _ = world.object_position(body)
            column, row = space.pixels(space.from_pose(np.array([x, y, 0.0])), 64)
            hits += bool((mask[max(row - 1, 0):row + 2, max(column - 1, 0):column + 2] == body).any())
            total += 1
    env.close()
    assert hits >= total - 1, f"only {hits} of {total} objects found at their projected pixel"


@pytest.mark.parametrize("yaw", [-0.8, 0.6])
@pytest.mark.parametrize("hover", [0.0, 0.1])
def test_follower_reaches_the_pose_and_closes(yaw: float, hover: float) -> None:
    env = KukaGraspEnv(num_objects=1, image_size=32, max_steps=14)
    follower = PoseFollower(env.config, ApproachConfig(hover=hover))
    observation, _ = env.reset(seed=4)
    target = np.array([0.55, 0.10])
    follower.start(*target, yaw)
    for _ in range(env.max_steps):
        action = follower.act(observation)
        if action[4] > 0:
            break
        observation, _, terminated, truncated, _ = env.step(action)
        assert not (terminated or truncated)
    gripper = observation["gripper"]
    assert action[4] > 0, "the follower never closed"
    assert np.linalg.norm(gripper[:2] - target) < 0.03 and abs(gripper[3] - yaw) < 0.1
    env.close()


@pytest.mark.parametrize("yaw", [-0.7, 0.0, 0.7])
def test_the_fingers_meet_beside_the_pose_where_finger_points_says(yaw: float) -> None:
    env = KukaGraspEnv(num_objects=1, image_size=32, max_steps=14)
    space = PoseSpace(env.config)
    follower = PoseFollower(env.config)
    observation, _ = env.reset(seed=4)
    follower.start(0.58, 0.0, yaw)
    for _ in range(env.max_steps):
        action = follower.act(observation)
        if action[4] > 0:
            break
        observation, *_ = env.step(action)
    arm = env.unwrapped.world.arm
    at_end_effector = space.from_pose(np.array([*arm.end_effector_position()[:2], yaw]))
    predicted = space.finger_points(torch.as_tensor(at_end_effector)).numpy()
    fingers = arm.grasp_point()[:2]
    assert np.linalg.norm(fingers - predicted) < 0.008, (fingers, predicted)
    assert np.linalg.norm(fingers - arm.end_effector_position()[:2]) > 0.015  # the offset is not negligible
    env.close()


def test_pose_at_fingers_inverts_finger_points_and_read_at_fingers_reads_there() -> None:
    space = PoseSpace(WorldConfig())
    fingers = np.array([[0.60, 0.02], [0.55, -0.05], [0.65, 0.10]])
    yaws = np.array([0.3, -1.0, 1.2])
    u = space.pose_at_fingers(fingers, yaws)
    assert np.allclose(space.to_pose(u)[:, 2], yaws)
    assert np.allclose(space.finger_points(torch.as_tensor(u)).numpy(), fingers, atol=1e-9)
    # the offset is 2.4 cm across the closing direction (-cos yaw, sin yaw)
    offsets = fingers - space.to_pose(u)[:, :2]
    closing = np.stack([-np.cos(yaws), np.sin(yaws)], axis=1)
    assert np.allclose(np.linalg.norm(offsets, axis=1), 0.024) and np.allclose((offsets * closing).sum(1), 0)
    maps = torch.zeros(1, 1, 64, 64)
    column, row = space.pixels(space.from_pose(np.array([0.60, 0.02, 0.0])), 64)
    maps[0, 0, row, column] = 1.0
    read = space.read_at_fingers(maps, torch.as_tensor(u[:1], dtype=torch.float32)[None])
    assert read.shape == (1, 1, 1) and float(read) > 0


def test_a_hovering_follower_turns_before_it_descends_and_still_closes_in_time() -> None:
    env = KukaGraspEnv(num_objects=1, image_size=32, max_steps=12)
    world = env.config
    bottom = world.layout.workspace_z[0]
    approach = ApproachConfig(hover=0.1, max_align_steps=6)
    follower = PoseFollower(world, approach)
    observation, _ = env.reset(seed=4)
    follower.start(0.55, 0.10, 1.4)  # a large turn from the home yaw
    heights, yaw_errors, closed = [], [], False
    for _ in range(env.max_steps):
        action = follower.act(observation)
        if action[4] > 0:
            closed = True
            break
        gripper = observation["gripper"]
        heights.append(gripper[2])
        yaw_errors.append(abs(wrap_half_turn(1.4 - gripper[3])))
        observation, *_ = env.step(action)
    assert closed, "the hovering follower never closed within the step limit"
    turning = [h for h, e in zip(heights, yaw_errors, strict=True) if e > 0.2]
    assert turning and min(turning) > bottom + 0.05, "it went low while the wrist was still turning"
    assert abs(wrap_half_turn(1.4 - observation["gripper"][3])) < approach.yaw_tolerance + 0.05
    env.close()


def test_approach_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="hover >= 0"):
        ApproachConfig(hover=-0.1)
    with pytest.raises(ValueError, match="three finite numbers"):
        ApproachConfig(offset=(0.0, 0.01))
    assert ApproachConfig(offset=[0, 0.01, 0]).offset == (0.0, 0.01, 0.0)


def test_an_offset_moves_the_pose_that_is_carried_out() -> None:
    world = WorldConfig()
    plain, moved = PoseFollower(world), PoseFollower(world, ApproachConfig(offset=(0.003, -0.002, 0.1)))
    plain.start(0.6, 0.0, 0.5)
    moved.start(0.6, 0.0, 0.5)
    np.testing.assert_allclose(moved.target - plain.target, [0.003, -0.002, 0.0])
    assert moved.yaw == pytest.approx(plain.yaw + 0.1)


def test_pose_action_wrapper_runs_a_whole_grasp_in_one_step_and_rejects_bad_actions() -> None:
    from envs.grasp_pose import PoseActionWrapper

    env = PoseActionWrapper(KukaGraspEnv(num_objects=2, image_size=32, max_steps=14))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(3))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="grasp-pose action"):
        env.step(np.zeros(5))
    observation, reward, terminated, truncated, info = env.step(np.array([0.0, 0.0, 0.5]))
    assert terminated and not truncated and "outcome_image" in info and reward in (0.0, 1.0)
    assert env.action_space.shape == (3,) and observation["image"].shape == (32, 32, 3)
    env.close()


def test_read_points_lie_reach_metres_along_and_across_the_wrist_axis() -> None:
    import torch

    space = PoseSpace(WorldConfig())
    u = torch.tensor([[0.2, -0.3, 0.0], [0.2, -0.3, 1.0]], dtype=torch.float64)  # yaw 0 and a quarter turn
    assert space.read_points(u, 0.0).shape == (2, 1, 2)
    torch.testing.assert_close(space.read_points(u, 0.0)[:, 0], space.image_coordinates(u))
    points = space.read_points(u, 0.05)
    assert points.shape == (2, 5, 2)
    torch.testing.assert_close(points[:, 0], space.image_coordinates(u))
    torch.testing.assert_close(points[1, 1:], points[0, [3, 4, 2, 1]])  # a quarter turn swaps the two axes
    low, high = space.low[:2], space.high[:2]
    step = 0.05 / (high[0] - low[0]) * 2  # 5 cm along x at yaw 0, in normalised units
    torch.testing.assert_close(points[0, 1], space.image_coordinates(u[:1] + torch.tensor([[step, 0.0, 0.0]],
                                                                                       dtype=torch.float64))[0])


def test_grasp_geometry_of_primitive_shapes_comes_from_their_collision_shapes(tmp_path):
    from envs.config import CameraConfig, WorldConfig
    from envs.scripted import grasp_pose, object_points
    from envs.world import GraspWorld
    from tests.primitives import write_primitive_objects

    folder = write_primitive_objects(tmp_path)
    world = GraspWorld(WorldConfig(num_objects=3, camera=CameraConfig(image_size=16)))
    try:
        world.reset(sorted(folder.glob("*.urdf")), np.random.default_rng(0))
        for body in world.objects:
            points = object_points(world, body)
            low, high = (np.asarray(corner) for corner in world.client.getAABB(body))
            assert points.shape[1] == 3 and np.all(points >= low - 0.002) and np.all(points <= high + 0.002)
            centre, yaw = grasp_pose(world, body)
            assert np.allclose(centre, (low[:2] + high[:2]) / 2, atol=0.01) and np.isfinite(yaw)
    finally:
        world.close()


def test_avoiding_leaves_out_every_yaw_near_a_given_up_grasp_point_and_nothing_else() -> None:
    space = PoseSpace(WorldConfig())
    given_up = np.array([[0.0, 0.0, 0.3]])
    centre = space.to_pose(given_up[0])
    near = space.from_pose(centre + np.array([0.015, 0.0, 1.2]))  # 1.5 cm off, another yaw
    far = space.from_pose(centre + np.array([0.0, 0.025, 0.0]))  # 2.5 cm off, the same yaw
    candidates = torch.tensor(np.stack([given_up[0], near, far]), dtype=torch.float32)[None]
    distances = space.grasp_point_distances(candidates, torch.tensor(given_up, dtype=torch.float32))[0, :, 0]
    assert torch.allclose(distances, torch.tensor([0.0, 0.015, 0.025]), atol=1e-4)

    def score(poses: torch.Tensor) -> torch.Tensor:
        return poses[..., 0]

    assert avoiding(score, None, space) is score and avoiding(score, Avoid(np.zeros((0, 3))), space) is score
    penalised = avoiding(score, Avoid(given_up, radius=0.02), space)(candidates)
    assert penalised[0, 0] < -1000 and penalised[0, 1] < -1000
    assert penalised[0, 2] == pytest.approx(float(candidates[0, 2, 0]))
    with pytest.raises(ValueError, match="radius > 0"):
        Avoid(given_up, radius=0.0)
