import numpy as np
import pytest

from rewards.presence import empty_gripper_images


def test_empty_gripper_images_are_deterministic_wrist_images():
    first = empty_gripper_images(2, num_objects=1, image_size=32, seed=4)
    assert first.shape == (2, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, empty_gripper_images(2, num_objects=1, image_size=32, seed=4))
    with pytest.raises(ValueError, match="count must be positive"):
        empty_gripper_images(0)
