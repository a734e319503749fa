import pytest

from envs.objects import object_name, resolve_objects
from envs.primitives import primitive_specs, write_primitive_objects


def test_primitive_folder_is_an_object_set_the_env_loads(tmp_path):
    from envs.grasp_env import KukaGraspEnv

    paths = write_primitive_objects(tmp_path / "prims", count=4, seed=1)
    assert resolve_objects(tmp_path / "prims") == sorted(paths)
    assert {object_name(p).split("_")[1] for p in paths} == {"box", "cylinder", "sphere"}
    env = KukaGraspEnv(objects=tmp_path / "prims", num_objects=3, image_size=32, record_triplet=True)
    try:
        observation, _ = env.reset(seed=0)
        assert observation is not None
    finally:
        env.close()


def test_specs_are_deterministic_and_sizes_in_range():
    first, again = primitive_specs(6, seed=2), primitive_specs(6, seed=2)
    assert first == again
    assert all(0.02 <= size <= 0.05 for spec in first for size in spec.size_m)
    with pytest.raises(ValueError, match="positive"):
        primitive_specs(0)
