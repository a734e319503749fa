import numpy as np
import pytest

from envs.config import NOMINAL_CLOSED_APERTURE, ArmConfig, CameraConfig, PhysicsConfig, WorldConfig
from envs.objects import builtin_split
from envs.world import GraspWorld, UnloadableObjectError


@pytest.fixture(scope="module")
def world():
    w = GraspWorld(WorldConfig(num_objects=2, camera=CameraConfig(image_size=48)))
    yield w
    w.close()


def test_reset_places_objects_in_the_tray(world):
    world.reset(builtin_split("seen")[:2], np.random.default_rng(0))
    poses = world.object_poses()
    assert poses.shape == (2, 7)
    layout = world.config.layout
    assert np.all(poses[:, 2] > layout.tray_floor_z - 0.02) and np.all(poses[:, 2] < 0.0)
    assert world.fault() is None


def test_reset_does_not_leak_bodies(world):
    urdfs = builtin_split("seen")[:2]
    world.reset(urdfs, np.random.default_rng(1))
    bodies = world.client.getNumBodies()
    ids = list(world.objects)
    for seed in range(5):
        world.reset(urdfs, np.random.default_rng(seed))
    assert world.client.getNumBodies() == bodies
    assert world.objects == ids


def test_images_and_masks(world):
    world.reset(builtin_split("seen")[:2], np.random.default_rng(2))
    rgb, mask = world.render_scene(hide_arm=True, with_mask=True)
    assert rgb.shape == (48, 48, 3) and rgb.dtype == np.uint8
    assert mask.shape == (48, 48)
    assert set(world.objects) <= set(np.unique(mask).tolist())
    assert world.arm.body not in np.unique(mask)
    with_arm, arm_mask = world.render_scene(with_mask=True)
    assert world.arm.body in np.unique(arm_mask)
    hidden, hidden_mask = world.render_scene(hide_arm=True, hide=[world.objects[0]], with_mask=True)
    assert world.objects[0] not in np.unique(hidden_mask)
    assert not np.array_equal(hidden, rgb)
    # Hiding for a render leaves the world exactly as it was.
    again, _ = world.render_scene(hide_arm=True, with_mask=True)
    assert np.array_equal(again, rgb)


def test_unloadable_urdf_names_the_file(world, tmp_path):
    broken = tmp_path / "broken.urdf"
    broken.write_text("<robot name='x'><link name='a'><visual><geometry><mesh filename='nope.obj'/>"
                      "</geometry></visual></link>")
    with pytest.raises(UnloadableObjectError, match="broken.urdf"):
        world.reset([broken], np.random.default_rng(0))


def test_object_out_of_workspace_is_a_fault(world):
    world.reset(builtin_split("seen")[:2], np.random.default_rng(3))
    world.client.resetBasePositionAndOrientation(world.objects[0], (3.0, 0.0, 0.0), (0, 0, 0, 1))
    assert "left the workspace" in world.fault()


def test_config_validates_ranges():
    with pytest.raises(ValueError, match="num_objects"):
        WorldConfig(num_objects=11)
    with pytest.raises(ValueError, match="image_size"):
        WorldConfig(camera=CameraConfig(image_size=8))


@pytest.mark.parametrize("hold_s", [0.0, 0.5])
def test_an_object_thrown_above_the_line_is_not_held(hold_s):
    """Lifted = above the line when the lift ends *and* after the hold: a thrown object counts only
    under the old definition (``hold_s=0``), and is reported as dropped under the default."""
    config = WorldConfig(num_objects=1, camera=CameraConfig(image_size=16), physics=PhysicsConfig(hold_s=hold_s))
    world = GraspWorld(config)
    try:
        world.reset(builtin_split("seen")[:1], np.random.default_rng(0))
        body = world.objects[0]
        floor = config.layout.tray_floor_z
        world.client.resetBasePositionAndOrientation(body, (0.48, 0.17, floor + 0.03), (0, 0, 0, 1))
        world.client.resetBaseVelocity(body, (0.0, 0.0, 3.0), (0.0, 0.0, 0.0))  # ~0.45 m up when the lift ends
        outcome = world.grasp()
        assert outcome.fault is None
        if hold_s == 0:
            assert outcome.lifted == (body,) and outcome.dropped == ()
        else:
            assert outcome.lifted == () and outcome.dropped == (body,)
    finally:
        world.close()


def test_hold_is_a_duration():
    physics = PhysicsConfig(hold_s=0.5)
    assert physics.hold_steps == 120 and physics.scaled(4).hold_steps == 120
    with pytest.raises(ValueError, match="hold_s"):
        PhysicsConfig(hold_s=-1.0)


def test_closed_aperture_is_measured_without_labels_and_sets_the_sensed_bit(world):
    """Each build closes the gripper on nothing; the measurement matches the documented constant."""
    assert abs(world.closed_aperture - NOMINAL_CLOSED_APERTURE) < 5e-4
    margin = world.config.arm.grasp_margin
    assert not world.grasp_sensed(world.closed_aperture)
    assert not world.grasp_sensed(world.closed_aperture + 0.9 * margin)
    assert world.grasp_sensed(world.closed_aperture + 1.1 * margin)
    assert not world.grasp_sensed(float("nan"))
    before = world.closed_aperture
    world.rebuild()
    assert world.closed_aperture == before  # deterministic: a rebuilt world measures the same


def test_grasp_margin_is_validated():
    with pytest.raises(ValueError, match="grasp_margin"):
        ArmConfig(grasp_margin=0.0)
